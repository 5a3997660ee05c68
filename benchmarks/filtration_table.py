"""The filtration family against what labs measure, on the bundled MSC sample (docs/filtration.md, "Against the
bench"): differential UC and ultrafiltration recovery, the concentrator's product volume and time, the TFF step
of sequential filtration (exosomes kept, albumin removed, flux against the clean membrane's, time), sequential
filtration as a whole, microvesicles through 100 nm track-etched pores at 0.5 and 0.05 bar, exosomes through a
0.22 um filter alone.

    python -m benchmarks.filtration_table [-n 100000] [--seed 1] [--json benchmarks/out/filtration.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from exosim import CPU, load_protocol, load_sample, simulate
from exosim.config import Protocol, load_media, load_membranes, load_rotors

from . import machine


def passed(ds, population: str, step: int) -> float:
    """Share of the population's material in the product before ``step`` that the step passed on."""
    fc = ds.fate_count.sel(population=population, place="product")
    before = float(ds.input_count.sel(population=population)) if step == 0 else float(fc.sel(step=step - 1))
    return float(fc.sel(step=step)) / before


def single_filter(step: dict, sample, n: int, seed: int):
    """The bundled sample through one dead-end filter step."""
    prot = Protocol.model_validate({"name": "one filter", "temperature": "20 degC", "steps": [step]},
                                   context={"rotors": load_rotors(), "media": load_media(),
                                            "membranes": load_membranes()})
    return simulate(prot, sample, n_particles=n, seed=seed, device=CPU())


def rows(n: int, seed: int) -> list[tuple[str, str, str]]:
    sample = load_sample("msc_conditioned_medium")
    run = lambda name: simulate(load_protocol(name), sample, n_particles=n, seed=seed, device=CPU())  # noqa: E731
    duc, uf, sf = run("duc_standard"), run("ultrafiltration"), run("sequential_filtration")
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    rec = lambda ds, p: float(ds.recovery.sel(population=p))  # noqa: E731
    out = [("DUC (duc_standard), exosome recovery", pct(rec(duc, "exosome")), "below UF (the review, Table 1)"),
           ("UF (ultrafiltration), exosome recovery", pct(rec(uf, "exosome")), "above DUC, at lower purity"),
           ("particles per ug protein: DUC / UF", f"{float(duc.particles_per_ug_protein):.3g} / "
            f"{float(uf.particles_per_ug_protein):.3g}", "UF below DUC"),
           ("UF product volume", f"{float(uf.product_volume) * 1e9:.0f} uL", "the concentrator's dead stop, 250 uL"),
           ("UF concentrator time (9.3 mL, 4,000 g)", f"{float(uf.step_time[-1]) / 60:.1f} min",
            "maker: 10-30 min for 15 mL of protein feed")]
    # TFF: step 1 of sequential filtration
    flux = sf.filtration_flux.isel(step=1).values
    flux = flux[np.isfinite(flux)]
    from exosim.methods import plan_protocol
    plans = plan_protocol(load_protocol("sequential_filtration"), sample)
    clean = plans[1].flux
    out += [("TFF 500 kDa (x10, 5 DV): exosomes kept", pct(passed(sf, "exosome", 1)), "94-99 %"),
            ("TFF: albumin removed", pct(1 - passed(sf, "albumin", 1)), ">= 95 % (soluble protein ~99 %)"),
            ("TFF: mean flux / clean-membrane flux", f"{flux.mean() / clean:.3f}", "below 0.5 for a protein-laden feed"),
            ("TFF: process time", f"{float(sf.step_time[1]) / 60:.1f} min", "minutes to an hour on 20 cm2"),
            ("sequential filtration: exosomes kept", pct(rec(sf, "exosome")), ">= 30 %"),
            ("sequential filtration: protein left", pct(float(sf.protein_ug) / input_protein(sf)), "< 5 %"),
            ("sequential filtration: microvesicles / exosomes kept", f"{rec(sf, 'microvesicle') / rec(sf, 'exosome'):.3f}",
             "below 0.5")]
    for bar in ("0.5 bar", "0.05 bar"):
        ds = single_filter({"kind": "filter", "membrane": "PCTE 100 nm", "area": "40 cm**2", "pressure": bar,
                            "keep": "filtrate", "hold_up": "0.2 mL"}, sample, n, seed)
        out.append((f"100 nm track-etch at {bar}: microvesicles passed", pct(rec(ds, "microvesicle")),
                    "soft MVs squeeze through at 0.5 bar, far fewer at 0.05 bar"))
    ds = single_filter({"kind": "filter", "membrane": "PES 220 nm", "area": "4.8 cm**2", "pressure": "1 bar",
                        "keep": "filtrate", "hold_up": "0.1 mL"}, sample, n, seed)
    out.append(("0.22 um PES alone: exosomes passed", pct(rec(ds, "exosome") / (9.9 / 10.0)),
                ">= 85 % (of the filtered share)"))
    return out


def input_protein(ds) -> float:
    """Protein of the whole sample [ug], in the units of ``protein_ug``: input counts x protein per particle."""
    return float((ds.input_count * ds.protein_per_particle).sum()) * float(ds.protein_ug) / float(
        (ds.product_count * ds.protein_per_particle).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/filtration.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    table = rows(args.n, args.seed)
    wall = time.perf_counter() - t0
    print("| what | exosim | labs and the review |\n|---|---|---|")
    for r in table:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    print(f"\n{args.n:,} particles, seed {args.seed}, CPU; {wall:.0f} s on {machine()}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"n": args.n, "seed": args.seed, "rows": table, "wall_s": wall,
                                     "machine": machine()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
