"""Memory of long runs: peak resident memory (RSS) of the standard DUC protocol at growing particle counts (the
particles stream through in batches: memory should not grow with the count), and of a 100-point sweep (process
and dask workers together, sampled while it runs).

``python -m benchmarks.memory [--counts 1e6 1e7 1e8] [--precision 64] [--sweep-points 100]``

Each run is a fresh process; its RSS and that of its children are sampled every 0.2 s (psutil). Writes JSON
(``--json``, default benchmarks/out/memory.json).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from . import machine

RUN = """
import sys, time
import exosim
n, bits = int(float(sys.argv[1])), int(sys.argv[2])
prot, smp = exosim.load_protocol("duc_standard"), exosim.load_sample("msc_conditioned_medium")
exosim.simulate(prot, smp, n_particles=1000, seed=1, device=exosim.CPU(precision=bits))  # compile / load
t0 = time.perf_counter()
ds = exosim.simulate(prot, smp, n_particles=n, seed=1, device=exosim.CPU(precision=bits))
print(time.perf_counter() - t0, float(ds.recovery.sel(population="exosome")), int(ds.attrs["batches"]))
"""


def _watch(proc: subprocess.Popen, every: float = 0.2) -> dict:
    """Peak RSS [bytes] of ``proc`` and its descendants (summed), sampled until it exits, and the samples."""
    root = psutil.Process(proc.pid)
    peak, samples, t0 = 0, [], time.perf_counter()
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            break
        peak = max(peak, total)
        samples.append((round(time.perf_counter() - t0, 2), total))
        time.sleep(every)
    return {"peak_rss": peak, "samples": samples}


def run_memory(n: float, bits: int) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(n), str(bits)], stdout=subprocess.PIPE, text=True)
    watch = {}
    t = threading.Thread(target=lambda: watch.update(_watch(proc)))
    t.start()
    out, _ = proc.communicate()
    t.join()
    sec, rec, batches = out.split()
    rss = [s[1] for s in watch["samples"]]
    return {"particles": int(n), "precision": bits, "seconds": float(sec), "exosome_recovery": float(rec),
            "batches": int(batches), "peak_rss_MiB": watch["peak_rss"] / 2 ** 20,
            "rss_quartiles_MiB": [rss[int(q * (len(rss) - 1))] / 2 ** 20 for q in (0.25, 0.5, 0.75, 1.0)] if rss else []}


def sweep_memory(points: int, particles: int) -> dict:
    side = int(round(points ** 0.5))
    spec = {"name": "memory", "protocol": "duc_standard", "sample": "msc_conditioned_medium", "seed": 1,
            "particles": particles,
            "vary": {"steps[3].duration": {"from": "30 min", "to": "4 h", "num": side},
                     "steps[3].rcf": {"from": "50000 g", "to": "150000 g", "num": points // side}}}
    with tempfile.TemporaryDirectory(prefix="exosim-mem-") as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(spec))
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "exosim", "sweep", str(path), "-o", str(Path(tmp) / "o.h5"),
                                 "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watch = _watch(proc)
        proc.wait()
        sec = time.perf_counter() - t0
    rss = [s[1] for s in watch["samples"]]
    quarter = [rss[int(q * (len(rss) - 1))] / 2 ** 20 for q in (0.25, 0.5, 0.75, 1.0)] if rss else []
    return {"points": side * (points // side), "particles_per_point": particles, "seconds": sec,
            "returncode": proc.returncode, "peak_rss_MiB": watch["peak_rss"] / 2 ** 20, "rss_quartiles_MiB": quarter}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    ap.add_argument("--counts", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    ap.add_argument("--precision", type=int, default=64)
    ap.add_argument("--sweep-points", type=int, default=100)
    ap.add_argument("--sweep-particles", type=int, default=20_000)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/memory.json"))
    args = ap.parse_args(argv)
    res = {"machine": machine(), "runs": [], "sweep": None}
    for n in args.counts:
        r = run_memory(n, args.precision)
        res["runs"].append(r)
        print(f"DUC {int(n):>12,} particles float{args.precision}: {r['seconds']:7.1f} s, {r['batches']} batches, "
              f"peak RSS {r['peak_rss_MiB']:.0f} MiB, exosome recovery {r['exosome_recovery']:.4f}", flush=True)
    if args.sweep_points:
        res["sweep"] = s = sweep_memory(args.sweep_points, args.sweep_particles)
        print(f"sweep {s['points']} points x {s['particles_per_point']:,} particles, 2 workers: {s['seconds']:.0f} s, "
              f"peak RSS (all processes) {s['peak_rss_MiB']:.0f} MiB, at 25/50/75/100 %: "
              f"{', '.join(f'{x:.0f}' for x in s['rss_quartiles_MiB'])} MiB", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
