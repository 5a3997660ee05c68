"""Fractionation of a gradient tube: equal-volume fractions from the top (pipette, piston fractionator) or from the
bottom (needle), read from the particles' positions after the gradient spin; some fractions are kept.

Geometry: the liquid fills r_meniscus..r_bottom of the gradient spin's column (exosim.physics.column); a
fraction is an equal volume of it, so its boundaries are the radii at equal volume steps (equal lengths in a
swinging bucket's constant section; a fixed-angle tube's layers reorient volume for volume as the rotor stops,
methods/gradient.py). Fraction 0 is the first one collected. The pellet is not a fraction: it stays in
the tube and is discarded with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fates
from ..errors import ConfigError
from . import RunsNoRotor


@dataclass(frozen=True)
class FractionPlan(RunsNoRotor):
    """What a fractionation does that does not depend on the particles. SI units."""

    index: int
    label: str
    kind: str
    edges: np.ndarray          # radii [m] of the fraction boundaries, in collection order (n + 1 values)
    kept: np.ndarray           # bool per fraction
    fraction_volume: float     # per tube [m^3]
    fraction_density: np.ndarray  # medium density [kg/m^3] of each fraction at the end of the spin
    fraction_mass_fraction: np.ndarray  # solute mass fraction [1] of each fraction
    volume_in: float           # [m^3]
    volume_out: float          # [m^3]: kept fractions of every tube
    medium_out: object         # the medium of the kept material (a mixture of the kept fractions)
    medium: object = None      # the gradient medium
    tubes: int = 1             # the gradient's tubes, each fractionated
    liquid_per_tube: float = 0.0  # [m^3]
    process_time: float = 0.0  # collection time is not modelled [s]
    warnings: tuple = ()


def fraction_edges(r_meniscus: float, r_bottom: float, n: int, from_top: bool = True,
                   column=None) -> np.ndarray:
    """Radii [m] of the boundaries of n equal-volume fractions of the liquid between r_meniscus and r_bottom [m],
    in collection order: from the meniscus down when ``from_top``, else from the bottom up. ``column``: a
    physics.column.Column (default: a constant section)."""
    if column is None or column.uniform:
        edges = np.linspace(r_meniscus, r_bottom, n + 1)
    else:
        v_men, v_bot = column.volume_beyond(r_meniscus), column.volume_beyond(r_bottom)
        edges = np.asarray(column.radius_at_volume(np.linspace(v_men, v_bot, n + 1)), dtype=np.float64)
        edges[0], edges[-1] = r_meniscus, r_bottom
    return edges if from_top else edges[::-1].copy()


def fraction_of(position, edges: np.ndarray, xp=np):
    """Fraction index of each radius [m] (device array) for ``edges`` in collection order; -1 for a particle in the
    pellet (position beyond the bottom, stored as +inf) or not positioned (nan). A finite position is in the liquid
    column: the kernel keeps it between the meniscus and the bottom, which float32 may round to either side of
    the float64 edges, so the outer edges are not compared."""
    n = edges.shape[0] - 1
    asc = np.sort(np.asarray(edges, dtype=np.float64))
    idx = xp.searchsorted(xp.asarray(asc[1:-1]), xp.nan_to_num(position, nan=-np.inf, posinf=-np.inf),
                          side="right").astype(np.int64)
    if edges[0] > edges[-1]:  # collected from the bottom
        idx = xp.where(idx >= 0, n - 1 - idx, idx)
    return xp.where(xp.isfinite(position), idx, -1)


def column_average(values: np.ndarray, grid: np.ndarray, edges: np.ndarray, column=None,
                   weight: np.ndarray | None = None) -> np.ndarray:
    """Volume-weighted mean of ``values`` (on the radial ``grid`` [m]) over each fraction (edges in collection
    order): what a refractometer reads from a mixed fraction. Weights: the column's section A(r) (constant when
    ``column`` is None or uniform; in a fixed-angle tube equal-volume fractions span unequal radii and sections),
    times ``weight`` on the grid if given (the density, for a mass-weighted mean); trapezoid rule on a fine
    resampling."""
    out = np.empty(edges.shape[0] - 1)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        lo, hi = min(a, b), max(a, b)
        x = np.linspace(lo, hi, 65)
        wgt = np.ones_like(x) if column is None or column.uniform else column.area_at(x)
        if weight is not None:
            wgt = wgt * np.interp(x, grid, weight)
        out[i] = np.trapezoid(np.interp(x, grid, values) * wgt, x) / np.trapezoid(wgt, x)
    return out


SIZE_BINS = np.geomspace(1e-9, 1e-5, 41)  # diameter bins [m] of the per-fraction size histograms (1 nm-10 um)


def plan_step(index: int, step, volume: float, medium, previous, ctx) -> FractionPlan:
    """The method interface (exosim.methods): plan a fractionation of the gradient spun just before."""
    from .gradient import GradientPlan, Mixture

    where = f"steps[{index}]"
    if not isinstance(previous, GradientPlan):
        raise ConfigError(ctx.source, f"{where}.kind", "fractionate needs a gradient step right before it "
                                                        "(particles have positions only after a gradient spin)")
    col = previous.column
    edges = fraction_edges(previous.r_meniscus, previous.r_bottom, step.fractions, step.collect == "top", col)
    rho = column_average(previous.density_final, previous.grid, edges, col)
    # solute mass over solution mass: the mass fraction of a mixed fraction is its density-weighted mean
    w = column_average(previous.w_final, previous.grid, edges, col, weight=previous.density_final)
    if step.keep.fractions is not None:
        kept = np.zeros(step.fractions, bool)
        kept[np.asarray(step.keep.fractions) - 1] = True
    else:
        lo, hi = step.keep.density
        kept = (rho >= lo) & (rho <= hi)
        if not kept.any():
            raise ConfigError(ctx.source, f"{where}.keep.density",
                              f"no fraction has a density in {lo / 1000:.4f}-{hi / 1000:.4f} g/mL: the "
                              f"{step.fractions} fractions run from {rho.min() / 1000:.4f} to "
                              f"{rho.max() / 1000:.4f} g/mL")
    fraction_volume = previous.liquid_per_tube / step.fractions
    volume_out = float(kept.sum()) * fraction_volume * previous.tubes
    base = previous.medium_out.base
    kept_w = previous.medium.mix(np.full(int(kept.sum()), fraction_volume), w[kept], ctx.temperature).mass_fraction
    medium_out = Mixture(base, previous.medium, float(kept_w))
    label = step.name or (f"fractionate {step.fractions} from the {step.collect}, keep "
                          + (", ".join(str(i + 1) for i in np.nonzero(kept)[0])))
    warnings = []
    cell = float(previous.grid[1] - previous.grid[0])
    thinnest = float(np.min(np.abs(np.diff(edges))))
    if thinnest < 2 * cell:  # a sanity guard: the medium is resolved on its table's cells
        warnings.append(f"{ctx.source}: {where}.fractions: the thinnest of {step.fractions} fractions spans "
                        f"{thinnest * 1e3:.2g} mm of the tube, less than two cells ({2 * cell * 1e3:.2g} mm) of the "
                        f"gradient's medium table: fraction densities and band edges are smeared at that scale")
    return FractionPlan(index=index, label=label, kind=step.kind, edges=edges, kept=kept,
                        fraction_volume=fraction_volume, fraction_density=rho, fraction_mass_fraction=w,
                        tubes=previous.tubes, volume_in=volume, volume_out=volume_out, medium_out=medium_out,
                        medium=previous.medium, liquid_per_tube=previous.liquid_per_tube, warnings=tuple(warnings))


def run_step(plan: FractionPlan, particles, device, **_) -> dict:
    """Book every particle still in the product: kept fractions stay in the product; other fractions are
    ``fraction_discarded``, the pellet ``pellet_discarded``. Positions are consumed (the kept material is mixed)."""
    xp = device.xp
    active = particles.fate == fates.PRODUCT
    idx = fraction_of(particles.position, plan.edges, xp)
    particles.fraction = xp.where(active, idx, particles.fraction)
    kept = xp.asarray(plan.kept)
    in_kept = (idx >= 0) & kept[xp.clip(idx, 0, None)]
    fates.move(particles, active & (idx < 0), fates.PELLET_DISCARDED, plan.index, xp)
    fates.move(particles, active & (idx >= 0) & ~in_kept, fates.FRACTION_DISCARDED, plan.index, xp)
    n_frac, n_pop = len(plan.kept), len(particles.n_sim)
    sel = active & (idx >= 0)
    key = idx.astype(np.int64) * n_pop + particles.population
    counts = xp.bincount(key[sel], minlength=n_frac * n_pop)
    bins = xp.asarray(SIZE_BINS)
    size_bin = xp.clip(xp.searchsorted(bins, particles.diameter) - 1, 0, len(SIZE_BINS) - 2)
    size_counts = xp.bincount((key * (len(SIZE_BINS) - 1) + size_bin)[sel],
                              minlength=n_frac * n_pop * (len(SIZE_BINS) - 1))
    pellet = xp.bincount(particles.population[active & (idx < 0)], minlength=n_pop)
    particles.position = None  # consumed: the kept material is mixed
    return {"fraction_counts": device.to_host(counts).reshape(n_frac, n_pop),
            "fraction_size_counts": device.to_host(size_counts).reshape(n_frac, n_pop, len(SIZE_BINS) - 1),
            "pellet_counts": device.to_host(pellet)}
