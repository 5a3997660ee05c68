"""Side-by-side comparison of protocols on one sample: the table method reviews use, as one Dataset with a
``protocol`` dimension (docs/results.md). SI units; every number with its Monte Carlo standard error.
"""
from __future__ import annotations

import math

import numpy as np

from . import engine, results

LITRE = 1e-3  # m^3


def capacity(plans) -> float:
    """Sample volume [m^3] one run of the protocol's first step can take: every place of its rotor filled (a
    centrifuge or gradient step), or unlimited (inf) for a first step without a rotor (a filtration scales with
    its membrane area)."""
    first = plans[0]
    if first.rotor is None:
        return math.inf
    per_tube = getattr(first, "load_per_tube", None) or first.liquid_per_tube
    return first.rotor.places * per_tube


def equipment(plans) -> str:
    """Rotors and membranes the protocol uses, in order of first use."""
    names = []
    for p in plans:
        for item in (p.rotor, getattr(p, "membrane", None)):
            if item is not None and item.name not in names:
                names.append(item.name)
    return "; ".join(names)


def compare(protocols, sample, *, n_particles: int, seed: int, device, progress=None, plans=None):
    """Run every protocol on ``sample`` and gather the comparison Dataset (dims protocol, population).
    ``progress(k)``: called with the number of particles each step has processed; ``plans``: the protocols' plans
    when the caller has them (a gradient's plan solves its medium)."""
    import xarray as xr

    rows = []
    for i, prot in enumerate(protocols):
        plans_i = plans[i] if plans is not None else engine.plan_protocol(prot, sample)
        run = engine.run_protocol(prot, sample, n_particles=n_particles, seed=seed, device=device, plans=plans_i,
                                  progress=(lambda step, k: progress(k)) if progress else None)
        s = results.summarize(run)
        cap = capacity(plans_i)
        rows.append(dict(
            recovery=s["recovery"], recovery_stderr=s["recovery_stderr"], damaged=s["damaged_fraction"],
            purity=float(s["purity"]), purity_stderr=float(s["purity_stderr"]),
            ppug=float(s["particles_per_ug_protein"]), ppug_stderr=float(s["particles_per_ug_protein_stderr"]),
            time=float(s["process_time"]), product_volume=float(s["product_volume"]), capacity=cap,
            runs_per_litre=math.ceil(LITRE / cap * (1 - 1e-12)) if math.isfinite(cap) else 1,
            equipment=equipment(plans_i), name=prot.name, steps=len(plans_i)))
    pops = [p.name for p in sample.populations]
    dims = ("protocol", "population")

    def var(dims_, data, units, long_name):
        return (dims_, np.asarray(data), {"units": units, "long_name": long_name})

    ds = xr.Dataset(
        {
            "recovery": var(dims, [r["recovery"] for r in rows], "1", "fraction of each population's input in the "
                                                                        "product (for contaminants: what comes along)"),
            "recovery_stderr": var(dims, [r["recovery_stderr"] for r in rows], "1", "Monte Carlo standard error"),
            "damaged_fraction": var(dims, [r["damaged"] for r in rows], "1", "fraction of the input damaged"),
            "purity": var("protocol", [r["purity"] for r in rows], "1", "target share of countable particles"),
            "purity_stderr": var("protocol", [r["purity_stderr"] for r in rows], "1", "Monte Carlo standard error"),
            "particles_per_ug_protein": var("protocol", [r["ppug"] for r in rows], "1/ug",
                                            "countable particles per microgram protein (Webber & Clayton 2013)"),
            "particles_per_ug_protein_stderr": var("protocol", [r["ppug_stderr"] for r in rows], "1/ug",
                                                   "Monte Carlo standard error"),
            "process_time": var("protocol", [r["time"] for r in rows], "s", "process time of one run"),
            "product_volume": var("protocol", [r["product_volume"] for r in rows], "m3", "volume of the product"),
            "sample_per_run": var("protocol", [r["capacity"] for r in rows], "m3",
                                  "sample volume one run of the first step takes (inf: no rotor limit)"),
            "runs_per_litre": var("protocol", [r["runs_per_litre"] for r in rows], "1",
                                  "runs needed for 1 L of sample"),
            "equipment": var("protocol", [r["equipment"] for r in rows], "", "rotors and membranes used"),
            "is_target": var("population", [int(p.target) for p in sample.populations], "1",
                             "1 for target populations"),
        },
        coords={"protocol": [r["name"] for r in rows], "population": pops},
        attrs={"sample": sample.name, "n_particles": int(n_particles), "seed": int(seed),
               "backend": device.backend, "title": f"exosim compare on {sample.name}"},
    )
    return ds


def table(ds):
    """Rich table: one column per protocol, rows as method reviews give them."""
    from rich.table import Table

    t = Table(title=f"{ds.attrs['sample']}: {ds.attrs['n_particles']:,} simulation particles per protocol, seed "
                    f"{ds.attrs['seed']}", title_justify="left")
    t.add_column("")
    for name in ds.protocol.values:
        t.add_column(str(name), justify="right")

    def pct(v, e):
        return f"{100 * v:.2f} ± {100 * e:.2f} %" if v > 0 else "0"

    target = [p for p, tg in zip(ds.population.values, ds.is_target.values) if int(tg)]
    others = [p for p in ds.population.values if p not in target]
    for p in target:
        t.add_row(f"{p} recovery", *[pct(float(ds.recovery.sel(protocol=k, population=p)),
                                        float(ds.recovery_stderr.sel(protocol=k, population=p)))
                                    for k in ds.protocol.values])
    t.add_row("particles per ug protein", *[f"{float(ds.particles_per_ug_protein.sel(protocol=k)):.3g} ± "
                                            f"{float(ds.particles_per_ug_protein_stderr.sel(protocol=k)):.2g}"
                                            for k in ds.protocol.values])
    t.add_row("target share of countable", *[pct(float(ds.purity.sel(protocol=k)),
                                                 float(ds.purity_stderr.sel(protocol=k))) for k in ds.protocol.values])
    for p in others:
        t.add_row(f"{p} carried along", *[pct(float(ds.recovery.sel(protocol=k, population=p)),
                                             float(ds.recovery_stderr.sel(protocol=k, population=p)))
                                         for k in ds.protocol.values])
    for p in target:
        t.add_row(f"{p} damaged", *[f"{100 * float(ds.damaged_fraction.sel(protocol=k, population=p)):.2f} %"
                                   for k in ds.protocol.values])
    from . import units
    t.add_row("process time", *[units.fmt_time(float(ds.process_time.sel(protocol=k))) for k in ds.protocol.values])
    t.add_row("sample per run", *[units.fmt_volume(float(v)) if np.isfinite(v) else "no rotor limit"
                                  for v in ds.sample_per_run.values])
    t.add_row("runs for 1 L", *[str(int(v)) for v in ds.runs_per_litre.values])
    t.add_row("equipment", *[str(v) for v in ds.equipment.values])
    return t


def figure(ds):
    """Recovery of the target against particles per microgram protein, one point per protocol, 2-sigma bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = [p for p, tg in zip(ds.population.values, ds.is_target.values) if int(tg)][0]
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    for k in ds.protocol.values:
        x = float(ds.particles_per_ug_protein.sel(protocol=k))
        xe = 2 * float(ds.particles_per_ug_protein_stderr.sel(protocol=k))
        y = float(ds.recovery.sel(protocol=k, population=target))
        ye = 2 * float(ds.recovery_stderr.sel(protocol=k, population=target))
        ax.errorbar(max(x, 1.0), y, xerr=xe, yerr=ye, marker="o", capsize=3, label=str(k))
    ax.set_xscale("log")
    ax.axvline(3e10, color="tab:green", ls=":", lw=1)
    ax.axvline(1.5e9, color="tab:red", ls=":", lw=1)
    ax.set_xlabel("particles per ug protein (Webber & Clayton 2013: > 3e10 high purity, < 1.5e9 impure)")
    ax.set_ylabel(f"{target} recovery, ±2 s.e.")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(f"protocols on {ds.attrs['sample']}")
    return fig
