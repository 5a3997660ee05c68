"""Where each population of the bundled MSC sample ends in the bundled density-gradient protocols: the mean and
standard deviation of its position in fraction numbers (as the protocol numbers its fractions, from the fraction
counts), and the share in the kept fractions (docs/gradient_media.md, "Vesicles on their way").

    python -m benchmarks.gradient_bands [-n 60000] [--seed 1] [--protocol rate_zonal_sucrose ...]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from exosim import CPU, load_protocol, load_sample, simulate

from . import machine

PROTOCOLS = ("rate_zonal_sucrose", "sucrose_cushion", "dguc_iodixanol")


def bands(name: str, n: int, seed: int):
    """(rows, seconds): per population (name, mean fraction number, SD, share in the kept fractions [1])."""
    t0 = time.perf_counter()
    ds = simulate(load_protocol(name), load_sample("msc_conditioned_medium"), n_particles=n, seed=seed,
                  device=CPU())
    seconds = time.perf_counter() - t0
    if "fraction_count" not in ds:
        return [], seconds
    depth = ds.fraction.values.astype(float)  # fraction numbers, as the protocol numbers them
    out = []
    for pop in ds.population.values:
        c = ds.fraction_count.sel(population=pop).values.astype(float)
        if c.sum() <= 0:
            continue
        w = c / c.sum()
        mean = float(np.sum(w * depth))
        sd = float(np.sqrt(np.sum(w * (depth - mean) ** 2)))
        kept = float(np.sum(c * ds.fraction_kept.values) / c.sum())
        out.append((str(pop), mean, sd, kept))
    return out, seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=60_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--protocol", nargs="*", default=list(PROTOCOLS))
    args = ap.parse_args(argv)
    print(f"# {machine()}, CPU, {args.n:,} particles, seed {args.seed}")
    for name in args.protocol:
        rows, seconds = bands(name, args.n, args.seed)
        print(f"\n## {name} ({seconds:.0f} s): mean fraction number and SD")
        print("| population | mean | SD | in kept fractions |\n|---|---|---|---|")
        for pop, mean, sd, kept in rows:
            print(f"| {pop} | {mean:.2f} | {sd:.2f} | {100 * kept:.1f} % |")


if __name__ == "__main__":
    main()
