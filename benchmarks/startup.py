"""Start-up benchmark: wall time of exosim commands, each in a fresh process, repeated, median reported.

- ``--help``, ``plan``, ``rotors`` (target: under 0.5 s);
- ``run duc_standard --sample msc_conditioned_medium -n 1000 --backend cpu`` (tables printed, no file), cold
  (empty cache folder: pint's definitions parsed, kernels compiled) and warm (the same cache folder again; target:
  under 1.5 s); and warm with ``-o OUT`` (xarray, pandas and h5netcdf on top).

Wall time is the figure; CPU time (user + system) is reported too, as it moves less with other load on a shared
machine. An edit of a kernel file during the measurement gives a new kernel key, so "warm" runs would compile:
measure a tree nobody is editing.

Every measurement uses its own EXOSIM_CACHE_DIR in a temporary folder: the user's cache is neither used nor
touched. ``python -m benchmarks.startup`` runs it alone; ``python -m benchmarks`` includes it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import machine

TARGETS = {"help": 0.5, "plan": 0.5, "rotors": 0.5, "run_warm": 1.5}
PLAN = ["plan", "duc_standard", "--sample", "msc_conditioned_medium"]
RUN = ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "1000", "--backend", "cpu"]


def exosim_command() -> list[str]:
    """The ``exosim`` script next to this interpreter (what a user runs), else ``python -m exosim``."""
    script = Path(sys.executable).with_name("exosim")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "exosim"]


def timed(args: list[str], cache_dir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``exosim ARGS`` in a fresh process with EXOSIM_CACHE_DIR=cache_dir.

    CPU time (user + system of the process) is less sensitive than wall time to other load on a shared machine.
    """
    env = {**os.environ, "EXOSIM_CACHE_DIR": str(cache_dir)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([*exosim_command(), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"exosim {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(runs: list[tuple[float, float]]) -> dict:
    """Median, min and max wall time and median CPU time of repeated runs."""
    wall = [w for w, _ in runs]
    return {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
            "cpu_median_s": statistics.median(c for _, c in runs), "runs": len(runs)}


def measure(repeats: int = 5, cold_repeats: int = 3) -> dict:
    """Median wall times (with min, max) of the start-up cases; see the module's docstring."""
    res = {}
    with tempfile.TemporaryDirectory(prefix="exosim-startup-") as tmp:
        tmp = Path(tmp)
        warm_cache = tmp / "cache"
        out = str(tmp / "out.h5")
        timed(["rotors"], warm_cache)  # pint's cache filled once, as after any first use
        for name, args in (("help", ["--help"]), ("plan", PLAN), ("rotors", ["rotors"])):
            res[name] = summary([timed(args, warm_cache) for _ in range(repeats)])
        res["run_cold"] = summary([timed(RUN, tmp / f"cold{i}") for i in range(cold_repeats)])
        timed(RUN, warm_cache)  # compiles into the warm cache
        res["run_warm"] = summary([timed(RUN, warm_cache) for _ in range(repeats)])
        res["run_warm_file"] = summary([timed([*RUN, "-o", out], warm_cache) for _ in range(repeats)])
    for name, target in TARGETS.items():
        res[name]["target_s"] = target
    return res


def print_table(res: dict) -> None:
    print(f"{'start-up (fresh process)':26s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'CPU s':>7s} "
          f"{'target s':>9s}")
    for name, r in res.items():
        target = f"{r['target_s']:.1f}" if "target_s" in r else ""
        print(f"{name:26s} {r['median_s']:9.2f} {r['min_s']:7.2f} {r['max_s']:7.2f} {r['cpu_median_s']:7.2f} "
              f"{target:>9s}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of every warm case")
    ap.add_argument("--cold-repeats", type=int, default=3, help="runs of the cold case (each compiles)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/startup.json"))
    args = ap.parse_args(argv)
    res = {"machine": machine(), "startup": measure(args.repeats, args.cold_repeats)}
    print(f"machine: {res['machine']}")
    print_table(res["startup"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
