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


def gradient_figure(ds):
    """The gradient tube after the spin. Left: medium density against depth below the meniscus, as layered and at
    the end of the spin, with the fraction boundaries and the kept fractions shaded. Right: where every population
    ended, as the share of its input in each fraction (and the pellet)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True, sharey=False)
    r = ds.radius.values
    dr = r[1] - r[0]
    depth = (r - (r[0] - dr / 2)) * 1e3  # cell centres below the meniscus [mm]
    a.plot(ds.medium_density_initial.values / 1000, depth, ls="--", color="gray", label="as layered")
    a.plot(ds.medium_density.values / 1000, depth, color="k", label="after the spin")
    n = ds.sizes["fraction"]
    edges = np.linspace(0.0, len(r) * dr * 1e3, n + 1)
    top_first = str(ds.fraction.attrs.get("long_name", "")).endswith("top")
    for i in range(n):
        lo, hi = (edges[i], edges[i + 1]) if top_first else (edges[n - 1 - i], edges[n - i])
        if int(ds.fraction_kept.values[i]):
            a.axhspan(lo, hi, color="tab:green", alpha=0.15)
        a.axhline(edges[i], color="0.85", lw=0.5)
    a.invert_yaxis()
    a.set_xlabel("medium density [g/mL]")
    a.set_ylabel("depth below the meniscus [mm]")
    a.legend(loc="lower left", fontsize=8)
    a.set_title("medium (kept fractions shaded)")
    share = ds.fraction_count / ds.input_count
    x = np.arange(1, n + 1)
    for i, p in enumerate(ds.population.values):
        b.plot(x, share.sel(population=p).values, marker="o", label=str(p),
               lw=2.5 if int(ds.is_target.values[i]) else 1.2)
    b.set_xticks(x, [f"{k}\n{rho / 1000:.3f}" for k, rho in zip(x, ds.fraction_density.values)], fontsize=7)
    b.set_xlabel("fraction (collection order) and its density [g/mL]")
    b.set_ylabel("share of the population's input")
    b.legend(fontsize=8, loc="best")
    b.set_title("where each population ended")
    return fig


def hermia_exponent(time, flux) -> float:
    """Hermia's blocking exponent n of a constant-pressure flux curve: d^2t/dV^2 = k (dt/dV)^n (Hermia 1982,
    Trans IChemE 60:183): n = 2 complete blocking, 1.5 standard, 1 intermediate, 0 cake. ``time`` [s] and ``flux``
    [m/s] at the same points; the filtrate volume per area V = int J dt (trapezoid rule); n is the least-squares
    slope of ln(d(1/J)/dV) against ln(1/J) over the points where 1/J grows. NaN when fewer than 3 such points."""
    t = np.asarray(time, dtype=float)
    j = np.asarray(flux, dtype=float)
    ok = np.isfinite(t) & np.isfinite(j) & (j > 0)
    t, j = t[ok], j[ok]
    if t.size < 4:
        return float("nan")
    v = np.concatenate([[0.0], np.cumsum(0.5 * (j[1:] + j[:-1]) * np.diff(t))])
    x = 1.0 / j
    dxdv = np.diff(x) / np.diff(v)
    xm = 0.5 * (x[1:] + x[:-1])
    good = (dxdv > 0) & np.isfinite(dxdv)
    if good.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log(xm[good]), np.log(dxdv[good]), 1)[0])


def filtration_figure(ds):
    """Flux (left) and transmembrane pressure (right) against time for every filtration step, with the fitted Hermia
    exponent in the legend of each dead-end curve at constant pressure whose exponent lies in Hermia's range
    (-0.5 to 2.5); tangential flow and a falling centrifugal head follow no blocking law."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for i in ds.step.values:
        t = ds.filtration_time.sel(step=i).values
        if not np.isfinite(t).any():
            continue
        j = ds.filtration_flux.sel(step=i).values
        p = ds.filtration_pressure.sel(step=i).values
        label = str(ds.step_label.sel(step=i).values)
        kind = str(ds.step_kind.sel(step=i).values)
        finite = p[np.isfinite(p)]
        constant = kind == "filter" and finite.size > 0 and np.ptp(finite) <= 1e-9 * finite.max()
        n = hermia_exponent(t, j) if constant else float("nan")
        if not -0.5 <= n <= 2.5:   # outside Hermia's range (0 cake .. 2 complete blocking): no blocking law to name
            n = float("nan")
        a.plot(t / 60, j * 3.6e6, marker=".", label=f"{label} (Hermia n = {n:.2f})" if np.isfinite(n) else label)
        b.plot(t / 60, p / 1e5, marker=".", label=label)
    a.set_xlabel("time [min]")
    a.set_ylabel("flux [L/(m2 h)]")
    a.set_yscale("log")
    a.legend(fontsize=8)
    a.set_title("filtrate flux (n: 2 complete blocking, 1.5 standard, 1 intermediate, 0 cake)")
    b.set_xlabel("time [min]")
    b.set_ylabel("transmembrane pressure [bar]")
    b.legend(fontsize=8)
    return fig


def sweep_figure(ds):
    """A sweep: heat maps of the target's recovery and of particles per microgram protein over the first two swept
    dimensions (a 1-D sweep: lines), and every point in the recovery-purity plane with its Pareto front (points no
    other point beats in both)."""
    import numpy as np

    targets = [p for p, t in zip(ds.population.values, ds.is_target.values) if int(t)] if "is_target" in ds else []
    target = str(targets[0] if targets else ds.population.values[0])
    rec = ds.recovery.sel(population=target)
    ppug = ds.particles_per_ug_protein
    grid_dims = [d for d in rec.dims if d != "point"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    for ax, var, label in ((axes[0], rec, f"{target} recovery"), (axes[1], ppug, "particles per ug protein")):
        if len(grid_dims) >= 2:
            d0, d1 = grid_dims[:2]
            v = var.transpose(d0, d1, ...).values.reshape(var.sizes[d0], var.sizes[d1], -1)[..., 0]
            im = ax.imshow(v, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(var.sizes[d1]), [str(x) for x in var[d1].values], rotation=30, ha="right")
            ax.set_yticks(range(var.sizes[d0]), [str(x) for x in var[d0].values])
            ax.set_xlabel(var[d1].attrs.get("path", d1))
            ax.set_ylabel(var[d0].attrs.get("path", d0))
            fig.colorbar(im, ax=ax, label=label)
        elif len(grid_dims) == 1:
            d0 = grid_dims[0]
            ax.plot(range(var.sizes[d0]), var.values, marker="o")
            ax.set_xticks(range(var.sizes[d0]), [str(x) for x in var[d0].values], rotation=30, ha="right")
            ax.set_xlabel(var[d0].attrs.get("path", d0))
            ax.set_ylabel(label)
        else:
            ax.plot(var.values, marker="o", ls="")
            ax.set_xlabel("point")
            ax.set_ylabel(label)
        ax.set_title(label)
    x = ppug.values.ravel()
    y = rec.values.ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    ax = axes[2]
    ax.scatter(x[ok], y[ok], color="0.6", label="points")
    front = pareto_front(x[ok], y[ok])
    ax.plot(x[ok][front], y[ok][front], color="tab:red", marker="o", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("particles per ug protein")
    ax.set_ylabel(f"{target} recovery")
    ax.legend(fontsize=8)
    ax.set_title("recovery against purity")
    return fig


def pareto_front(x, y):
    """Indices of the points that no other point beats in both x and y (larger is better), ordered by x."""
    import numpy as np

    order = np.argsort(-np.asarray(x), kind="stable")
    best_y = -np.inf
    keep = []
    for i in order:
        if y[i] > best_y:
            keep.append(i)
            best_y = y[i]
    return np.array(sorted(keep, key=lambda i: x[i]), dtype=int)
