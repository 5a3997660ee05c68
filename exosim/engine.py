"""The particle state (structure of arrays), sampling of a sample's populations, and the step loop.

Each population gets its own number of simulation particles; each simulation particle carries the statistical
weight of the real particles it stands for (populations differ by ten orders of magnitude in number). After every
step the fate of every particle is booked in one of ``PLACES``; the weights of all places add up to the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import Protocol, Sample, source_of
from .errors import ConfigError
from .fates import PLACES
from .kernels import layout
from . import methods
from .methods import plan_protocol  # noqa: F401  (part of the engine's interface)

SEED_MAX = 2 ** 32 - 1


@dataclass
class Particles:
    """Structure of arrays on the device, plus per-population bookkeeping on the host."""

    diameter: object          # [m]
    density: object           # [kg/m^3]
    population: object        # int32 index into the sample's populations
    fate: object              # int8, one of PLACES
    fate_step: object         # int16, step that decided the fate (-1: still in the product)
    n_sim: np.ndarray         # simulation particles per population
    weight: np.ndarray        # real particles per simulation particle, per population
    position: object = None   # radius [m] after a gradient spin (+inf: pellet; nan: mixed material, no position)
    fraction: object = None   # int16, gradient fraction of the last fractionation (-1: pellet or none)
    mechanics: object = None  # (n, layout.N_MECH) a vesicle's reduced volume, bending modulus [J], lysis tension
                              # and area modulus [N/m]; NaN rows for rigid particles
    pellet_tolerance: np.ndarray = None  # per population: pellet tolerance [s] of its vesicles (inf: rigid)

    @property
    def n(self) -> int:
        return int(self.n_sim.sum())


def particles_per_population(n_particles: int, n_populations: int) -> np.ndarray:
    """Simulation particles per population: an equal share each, the remainder to the first ones."""
    if n_particles < n_populations:
        raise ValueError(f"need at least one simulation particle per population ({n_populations})")
    base = np.full(n_populations, n_particles // n_populations, dtype=np.int64)
    base[: n_particles % n_populations] += 1
    return base


def sample_particles(sample: Sample, n_particles: int, seed: int, device) -> Particles:
    """Draw every particle's diameter and density from its population's distribution, on ``device``."""
    xp = device.xp
    n_sim = particles_per_population(n_particles, len(sample.populations))
    offsets = np.concatenate([[0], np.cumsum(n_sim)])
    n = int(offsets[-1])
    diameter = xp.empty(n, dtype=np.float64)
    density = xp.empty(n, dtype=np.float64)
    sample_kernel = device.kernels().sample
    for p, pop in enumerate(sample.populations):
        i0, i1 = int(offsets[p]), int(offsets[p + 1])
        for out, dist, stream in ((diameter, pop.diameter, layout.STREAM_DIAMETER),
                                  (density, pop.density, layout.STREAM_DENSITY)):
            device.launch(sample_kernel, i1 - i0, i0, seed, stream, dist.kind, dist.p1, dist.p2, dist.lo,
                          dist.hi, out[i0:i1])
    bad = device.to_host(xp.isnan(diameter) | xp.isnan(density))
    if bad.any():
        p = int(np.searchsorted(offsets, np.argmax(bad), side="right") - 1)
        raise ConfigError(source_of(sample), f"populations[{p}]",
                          "the min/max bounds keep almost none of the distribution")
    mechanics = xp.full((n, layout.N_MECH), np.nan)
    scratch = xp.empty(n, dtype=np.float64)
    for p, pop in enumerate(sample.populations):
        mech = pop.mechanics
        if mech is None:
            continue
        i0, i1 = int(offsets[p]), int(offsets[p + 1])
        for col, dist in ((layout.M_REDUCED_VOLUME, mech.reduced_volume), (layout.M_BENDING, mech.bending_modulus),
                          (layout.M_LYSIS, mech.lysis_tension)):
            device.launch(sample_kernel, i1 - i0, i0, seed, layout.STREAM_MECHANICS + col, dist.kind, dist.p1,
                          dist.p2, dist.lo, dist.hi, scratch[i0:i1])
            mechanics[i0:i1, col] = scratch[i0:i1]
        mechanics[i0:i1, layout.M_AREA_MODULUS] = mech.area_modulus
    population = xp.asarray(np.repeat(np.arange(len(n_sim), dtype=np.int32), n_sim))
    volume = sample.volume
    weight = np.array([pop.number_concentration * volume for pop in sample.populations]) / n_sim
    tolerance = np.array([pop.mechanics.pellet_tolerance if pop.mechanics else np.inf for pop in sample.populations])
    return Particles(diameter, density, population, xp.zeros(n, dtype=np.int8),
                     xp.full(n, -1, dtype=np.int16), n_sim, weight, xp.full(n, np.nan),
                     xp.full(n, -1, dtype=np.int16), mechanics, tolerance)


def fate_counts(particles: Particles, device) -> np.ndarray:
    """Simulation particles per (place, population), shape (len(PLACES), n_populations), on the host."""
    xp = device.xp
    n_pop = len(particles.n_sim)
    key = particles.fate.astype(np.int64) * n_pop + particles.population
    counts = xp.bincount(key, minlength=len(PLACES) * n_pop)
    return device.to_host(counts).reshape(len(PLACES), n_pop)


@dataclass
class StepRecord:
    plan: object
    counts: np.ndarray  # simulation particles per (place, population) after the step
    extra: dict = field(default_factory=dict)  # a method's aggregates (e.g. fraction counts), on the host


@dataclass
class Run:
    """What a simulation produced, before it becomes an xarray Dataset (see results.py)."""

    protocol: Protocol
    sample: Sample
    particles: Particles
    steps: list[StepRecord] = field(default_factory=list)
    seed: int = 0
    device: object = None
    settings: dict = field(default_factory=dict)


def run_protocol(protocol: Protocol, sample: Sample, *, n_particles: int, seed: int, device, max_step=None,
                 brownian: bool = True, chunk: int = 1 << 20, progress=None, plans: list | None = None,
                 pellet_damage: bool = True) -> Run:
    """Sample the particles and take them through every step of the protocol on ``device``; ``plans``: from
    ``plan_protocol(protocol, sample)`` when the caller has them already (a gradient's plan solves the medium).
    ``pellet_damage=False`` switches the compaction damage of pelleted vesicles off (transport only, as the Lamm
    equation of ``exosim crosscheck`` sees it)."""
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer from 0 to {SEED_MAX}")
    plans = plans if plans is not None else plan_protocol(protocol, sample)
    with device.activate():
        particles = sample_particles(sample, n_particles, seed, device)
        if not pellet_damage:
            particles.pellet_tolerance = np.full_like(particles.pellet_tolerance, np.inf)
        run = Run(protocol, sample, particles, seed=seed, device=device,
                  settings=dict(n_particles=particles.n, max_step=max_step, brownian=brownian))
        for plan in plans:
            extra = methods.method(plan.kind).run_step(
                plan, particles, device, seed=seed, temperature=protocol.temperature, brownian=brownian,
                max_step=max_step, chunk=chunk, progress=(lambda k, i=plan.index: progress(i, k)) if progress else None)
            run.steps.append(StepRecord(plan, fate_counts(particles, device), extra or {}))
    return run


def recovery_stderr(fraction: np.ndarray, n_sim: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of a recovered fraction estimated from n_sim equally weighted particles:
    sqrt(p (1 - p) / n) (binomial)."""
    return np.sqrt(np.clip(fraction * (1.0 - fraction), 0.0, None) / n_sim)
