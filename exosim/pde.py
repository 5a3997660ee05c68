"""Recovery by the Lamm equation: a second solver of differential centrifugation, independent of the Monte Carlo.

The Monte Carlo follows particles; this module follows concentrations. For every swinging-bucket centrifuge or
wash step it solves the Lamm equation (``exosim.physics.lamm``, tube geometry, the Fokker-Planck equation of the
Monte Carlo's ``dr = s omega^2 r dt + sqrt(2 D) dW``) from a uniform start (the material is well mixed before
every spin), through the step's speed profile with its ramps, with an absorbing bottom for particles denser than
the medium and a reflecting one for the others, exactly as the kernels treat them. SI units throughout.

What a step passes on, for one particle class (diameter d [m], density rho_p [kg/m^3]):

- keep supernatant: the share in the liquid between the meniscus and the residual layer at the end;
- keep pellet: the pelleted share times (1 - wall_loss), plus the share in the residual layer (resuspended with the
  pellet); the kernels book the same places (``kernels/spin.py``).

Material is mixed between steps, so a class's recovery is the product of its step shares; a population's is the
mean over equal-probability classes: the midpoint quantiles of the truncated size distribution (``classes``) and of
the density distribution (``density_classes``), one class for a constant. That quadrature is the solver's
approximation besides the grid (both shrink as they grow; a monodisperse population has no quadrature error);
the grid's error is that of ``physics.lamm`` (second order where diffusion resolves a boundary, the upwind
smearing of a sharp boundary otherwise, see its docstring).

Shortcut: a class whose sharp boundary (no diffusion) passes the bottom before the run ends, with ten diffusion
lengths sqrt(2 D t) to spare, is pelleted whole: the Lamm equation's own limit, taken without thousands of steps.

Fixed-angle tubes are not covered: particles there meet the outer wall and slide along it, which no 1-D radial
equation describes; gradients and fractionations neither (``NotCovered``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .kernels import formulas as F
from .config import CONSTANT, LOGNORMAL, NORMAL, UNIFORM
from .methods.centrifuge import SpinPlan, SwingingTube, medium_state
from .physics import lamm
from .physics import rotors as geom

SPARE_DIFFUSION_LENGTHS = 10.0


class NotCovered(ValueError):
    """A step the PDE solver does not model (message names the step)."""


@dataclass
class PdeResult:
    """Recovery per population (``recovery``), share passed on per (step, population) (``step_recovery``)."""

    recovery: np.ndarray
    step_recovery: np.ndarray
    classes: np.ndarray   # particle classes per population


def _truncated_quantiles(cdf, ppf, lo: float, hi: float, m: int) -> np.ndarray:
    """Midpoint quantiles (j + 1/2) / m, j = 0..m-1, of a distribution truncated to [lo, hi]."""
    a, b = cdf(lo), cdf(hi)
    u = a + (np.arange(m) + 0.5) / m * (b - a)
    return ppf(u)


def class_values(dist, m: int) -> np.ndarray:
    """``m`` equal-probability class values (midpoint quantiles) of a ``config.Distribution``; one for a constant.

    Normal: N(p1, p2) truncated to [lo, hi]; lognormal: median p1, geometric sd p2; uniform: p1 to p2 (the
    definitions of ``kernels.sampling``)."""
    from scipy.special import ndtr, ndtri

    if dist.kind == CONSTANT:
        return np.array([dist.p1])
    if dist.kind == UNIFORM:
        lo, hi = max(dist.lo, dist.p1), min(dist.hi, dist.p2)
        return lo + (np.arange(m) + 0.5) / m * (hi - lo)
    if dist.kind == NORMAL:
        z = _truncated_quantiles(lambda x: ndtr((x - dist.p1) / dist.p2), ndtri, dist.lo, dist.hi, m)
        return dist.p1 + dist.p2 * z
    if dist.kind == LOGNORMAL:
        mu, sig = math.log(dist.p1), math.log(dist.p2)
        z = _truncated_quantiles(lambda x: ndtr((math.log(x) - mu) / sig) if x > 0 else 0.0, ndtri,
                                 dist.lo, dist.hi, m)
        return np.exp(mu + sig * z)
    raise ValueError(f"unknown distribution code {dist.kind}")


def _edges(tube: SwingingTube, n_cells: int) -> tuple[np.ndarray, int]:
    """Cell edges [m] from the meniscus to the bottom with one at the residual layer's top; (edges, cells above
    the residual layer)."""
    r_m, r_b, r_res = tube.r_meniscus, tube.r_bottom, min(tube.r_residual, tube.r_bottom)
    if r_res >= r_b * (1 - 1e-12):
        return lamm.uniform_edges(r_m, r_b, n_cells), n_cells
    n1 = max(2, round(n_cells * (r_res - r_m) / (r_b - r_m)))
    n2 = max(2, n_cells - n1)
    return np.concatenate([np.linspace(r_m, r_res, n1 + 1), np.linspace(r_res, r_b, n2 + 1)[1:]]), n1


def step_share(plan: SpinPlan, diameter: float, density: float, temperature: float, n_cells: int = 400) -> float:
    """Share [1] of a particle class (diameter [m], density [kg/m^3]) that a swinging-bucket centrifuge or wash
    step passes on, by the Lamm equation (module docstring). temperature [K]."""
    rho, eta = medium_state(plan.medium, temperature)
    s = F.sedimentation_coefficient(diameter, density, rho, eta)
    D = F.diffusion_coefficient(diameter, temperature, eta)
    segments = geom.speed_profile(plan.omega, plan.duration, plan.accel, plan.decel, None)
    tube = plan.geometry
    t_run = float(np.sum(segments[:, 0]))
    lam = s * float(np.sum(segments[:, 0] * segments[:, 1]))
    spare = SPARE_DIFFUSION_LENGTHS * math.sqrt(2.0 * D * t_run)
    if s > 0 and tube.r_meniscus * math.exp(min(lam, 700.0)) - tube.r_bottom > spare:
        supernatant, residual, pelleted = 0.0, 0.0, 1.0
    else:
        edges, n_top = _edges(tube, n_cells)
        res = lamm.solve(edges, 1.0, segments, s, D, geometry="tube",
                         bottom="absorbing" if s > 0 else "reflecting")
        amounts = res.c * res.volumes / res.total
        supernatant, residual = float(amounts[:n_top].sum()), float(amounts[n_top:].sum())
        pelleted = res.pelleted_fraction
    if plan.keep == "supernatant":
        return supernatant
    return pelleted * (1.0 - plan.wall_loss) + residual


def check_covered(plans) -> None:
    """NotCovered unless every step is a swinging-bucket centrifuge or wash step."""
    for p in plans:
        if not isinstance(p, SpinPlan):
            raise NotCovered(f"steps[{p.index}]: the PDE solver covers centrifuge and wash steps only, not "
                             f"{p.kind}")
        if not isinstance(p.geometry, SwingingTube):
            raise NotCovered(f"steps[{p.index}]: the PDE solver covers swinging-bucket rotors only; in the "
                             f"fixed-angle {p.rotor.name} particles slide along the outer wall, which a 1-D radial "
                             f"equation does not describe")


def recovery(plans, sample, temperature: float, *, classes: int = 16, density_classes: int = 4,
             n_cells: int = 400, progress=None) -> PdeResult:
    """Recovery of every population of ``sample`` through ``plans`` (``methods.plan_protocol``) by the Lamm
    equation; temperature [K]. ``progress(k)``: called after each class. NotCovered for steps it does not model."""
    check_covered(plans)
    n_pop = len(sample.populations)
    rec = np.zeros(n_pop)
    step_rec = np.zeros((len(plans), n_pop))
    n_classes = np.zeros(n_pop, dtype=int)
    for j, pop in enumerate(sample.populations):
        d = class_values(pop.diameter, classes)
        rho = class_values(pop.density, density_classes)
        passed = np.ones((len(d), len(rho)))
        before = [passed.mean()]
        for plan in plans:
            for a, dv in enumerate(d):
                for b, rv in enumerate(rho):
                    if passed[a, b] > 0:
                        passed[a, b] *= step_share(plan, float(dv), float(rv), temperature, n_cells)
                    if progress is not None:
                        progress(1)
            before.append(passed.mean())
        rec[j] = before[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            step_rec[:, j] = np.where(np.array(before[:-1]) > 0, np.array(before[1:]) / np.array(before[:-1]),
                                      np.nan)
        n_classes[j] = len(d) * len(rho)
    return PdeResult(rec, step_rec, n_classes)
