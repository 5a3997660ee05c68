"""Sweep throughput: a 64-point DUC sweep (the 100,000 g step's duration x force, 8 x 8) at 1e5 particles per point,
with 1 and with 2 dask worker processes; points per second and the speed-up. Each run starts from an empty points
folder (nothing resumed) and a warm kernel cache (compiled once before timing).

``python -m benchmarks.sweep [--particles N] [--workers 1 2]``
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

from . import machine

SWEEP = {"name": "benchmark", "protocol": "duc_standard", "sample": "msc_conditioned_medium", "seed": 1,
         "vary": {"steps[3].duration": {"from": "30 min", "to": "4 h", "num": 8},
                  "steps[3].rcf": {"from": "50000 g", "to": "150000 g", "num": 8}}}


def measure(particles: int, workers_list) -> dict:
    from exosim import sweep as sw

    res = {}
    with tempfile.TemporaryDirectory(prefix="exosim-sweep-") as tmp:
        tmp = Path(tmp)
        path = tmp / "s.yaml"
        warm = dict(SWEEP, particles=1000, vary={"steps[3].duration": ["30 min"]})
        path.write_text(yaml.safe_dump(warm))
        sw.run(path, tmp / "warm.h5", workers=1)           # fills the kernel cache
        path.write_text(yaml.safe_dump(dict(SWEEP, particles=particles)))
        for w in workers_list:
            t0 = time.perf_counter()
            ds, failures, computed = sw.run(path, tmp / f"w{w}.h5", workers=w)
            sec = time.perf_counter() - t0
            res[f"workers_{w}"] = {"seconds": sec, "points": computed, "points_per_s": computed / sec,
                                   "failures": len(failures)}
    if len(workers_list) > 1:
        a, b = res[f"workers_{workers_list[0]}"], res[f"workers_{workers_list[-1]}"]
        res["speedup"] = a["seconds"] / b["seconds"]
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("--particles", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/sweep.json"))
    args = ap.parse_args(argv)
    res = {"machine": machine(), "particles_per_point": args.particles, "sweep": measure(args.particles, args.workers)}
    print(json.dumps(res, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
