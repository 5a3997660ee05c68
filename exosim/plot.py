"""Figures of results (matplotlib, no screen needed)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def recovery_figure(ds):
    """Left: recovery of every population with 2-sigma Monte Carlo error bars (log scale).
    Right: what each step passes on, per population (step_recovery)."""
    pops = [str(p) for p in ds.population.values]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    rec = ds.recovery.values
    err = 2 * ds.recovery_stderr.values
    colors = ["tab:green" if int(t) else "tab:gray" for t in ds.is_target.values]
    floor = 0.5 / ds.n_sim.values
    a.barh(pops, np.maximum(rec, floor), xerr=err, color=colors)
    a.set_xscale("log")
    a.set_xlim(left=min(floor.min(), 1e-3), right=1.5)
    a.invert_yaxis()
    a.set_xlabel("recovery (fraction of input in product), ±2 s.e.")
    a.set_title(f"{ds.attrs.get('protocol', '')}: purity {float(ds.purity) * 100:.1f} %, "
                f"{float(ds.particles_per_ug_protein):.2g} particles/ug")
    steps = [str(s) for s in ds.step_label.values]
    for i, p in enumerate(pops):
        b.plot(range(len(steps)), ds.step_recovery.sel(population=p).values, marker="o", label=p,
               lw=2.5 if int(ds.is_target.values[i]) else 1.2)
    b.set_xticks(range(len(steps)), steps, rotation=30, ha="right")
    b.set_ylabel("share of step input passed on")
    b.set_ylim(-0.02, 1.02)
    b.legend(fontsize=8, loc="best")
    return fig
