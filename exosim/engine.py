"""The particle state (structure of arrays), sampling of a sample's populations, and the step loop.

Each population gets its own number of simulation particles; each simulation particle carries the statistical
weight of the real particles it stands for (populations differ by ten orders of magnitude in number). After every
step the fate of every particle is booked in one of ``PLACES``; the weights of all places add up to the input.

Streaming: particle ``i`` (global id, populations one after the other) draws every random number from Philox keyed
by its id, so the particles can go through the protocol in batches of consecutive ids -- one after the other, or
on several devices at once -- with fate counts identical to a run that holds them all (tests/test_streaming.py).
Only the step aggregates (integer counts) come back from a batch; device memory is set by the batch size, not by
the number of particles. A step that couples particles (dead-end filtration: pores plug at the load of all of
them) needs every particle at once: a protocol with one runs as a single batch.
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
    position: object = None   # radius [m] after a gradient spin (+inf: pellet; nan: no position), None outside a
                              # gradient spin and the fractionation after it
    fraction: object = None   # int16, gradient fraction of the last fractionation (-1: pellet or none)
    mechanics: object = None  # (n, layout.N_MECH) a vesicle's reduced volume, bending modulus [J], lysis tension
                              # and area modulus [N/m]; NaN rows for rigid particles; None when no step of the
                              # protocol reads them (32 bytes a particle saved)
    pellet_tolerance: np.ndarray = None  # per population: pellet tolerance [s] of its vesicles (inf: rigid)
    pid0: int = 0             # global id of the first particle held here (ids pid0, pid0 + 1, ...)

    @property
    def n(self) -> int:
        """Simulation particles held here (a batch of the run's ``n_sim.sum()``)."""
        return int(self.fate.shape[0])


def particles_per_population(n_particles: int, n_populations: int) -> np.ndarray:
    """Simulation particles per population: an equal share each, the remainder to the first ones."""
    if n_particles < n_populations:
        raise ValueError(f"need at least one simulation particle per population ({n_populations})")
    base = np.full(n_populations, n_particles // n_populations, dtype=np.int64)
    base[: n_particles % n_populations] += 1
    return base


def _spans(n_sim: np.ndarray, lo: int, hi: int):
    """(population, first global id, end global id) of each population's share of the ids [lo, hi)."""
    offsets = np.concatenate([[0], np.cumsum(n_sim)])
    for p in range(len(n_sim)):
        i0, i1 = max(lo, int(offsets[p])), min(hi, int(offsets[p + 1]))
        if i1 > i0:
            yield p, i0, i1


def sample_particles(sample: Sample, n_particles: int, seed: int, device, lo: int = 0,
                     hi: int | None = None, mechanics: bool = True) -> Particles:
    """Draw the diameter, density and (with ``mechanics``; else ``Particles.mechanics`` is None) the mechanics of
    the particles with global ids [lo, hi) (default: all ``n_particles``) from their populations' distributions,
    on ``device``. A particle's draws depend only on (seed, its id), so any split of the ids into batches draws
    the same particles."""
    xp = device.xp
    n_sim = particles_per_population(n_particles, len(sample.populations))
    hi = int(n_sim.sum()) if hi is None else hi
    n = hi - lo
    spans = list(_spans(n_sim, lo, hi))
    real = device.real  # the run's float type (kernels/precision.py)
    diameter = xp.empty(n, dtype=real)
    density = xp.empty(n, dtype=real)
    sample_kernel = device.kernels().sample
    for p, i0, i1 in spans:
        pop = sample.populations[p]
        for out, dist, stream in ((diameter, pop.diameter, layout.STREAM_DIAMETER),
                                  (density, pop.density, layout.STREAM_DENSITY)):
            device.launch(sample_kernel, i1 - i0, i0, seed, stream, dist.kind, dist.p1, dist.p2, dist.lo,
                          dist.hi, out[i0 - lo:i1 - lo])
    bad = device.to_host(xp.isnan(diameter) | xp.isnan(density))
    if bad.any():
        p = next(p for p, i0, i1 in spans if bad[i0 - lo:i1 - lo].any())
        raise ConfigError(source_of(sample), f"populations[{p}]",
                          "the min/max bounds keep almost none of the distribution")
    mech_table = xp.full((n, layout.N_MECH), np.nan) if mechanics else None
    scratch = xp.empty(n, dtype=np.float64) if mechanics else None
    for p, i0, i1 in spans:
        mech = sample.populations[p].mechanics
        if mech is None or not mechanics:
            continue
        a, b = i0 - lo, i1 - lo
        for col, dist in ((layout.M_REDUCED_VOLUME, mech.reduced_volume), (layout.M_BENDING, mech.bending_modulus),
                          (layout.M_LYSIS, mech.lysis_tension)):
            device.launch(sample_kernel, i1 - i0, i0, seed, layout.STREAM_MECHANICS + col, dist.kind, dist.p1,
                          dist.p2, dist.lo, dist.hi, scratch[a:b])
            mech_table[a:b, col] = scratch[a:b]
        mech_table[a:b, layout.M_AREA_MODULUS] = mech.area_modulus
        mech_table[a:b, layout.M_OSMOTIC] = mech.osmotic_share
    population = np.empty(n, dtype=np.int32)
    for p, i0, i1 in spans:
        population[i0 - lo:i1 - lo] = p
    volume = sample.volume
    weight = np.array([pop.number_concentration * volume for pop in sample.populations]) / n_sim
    tolerance = np.array([pop.mechanics.pellet_tolerance if pop.mechanics else np.inf for pop in sample.populations])
    return Particles(diameter, density, xp.asarray(population), xp.zeros(n, dtype=np.int8),
                     xp.full(n, -1, dtype=np.int16), n_sim, weight, None,
                     xp.full(n, -1, dtype=np.int16), mech_table, tolerance, pid0=lo)


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
    """What a simulation produced, before it becomes an xarray Dataset (see results.py). ``particles``: the
    per-particle state after the last step, or None for a run in several batches (only aggregates are kept)."""

    protocol: Protocol
    sample: Sample
    particles: Particles | None
    steps: list[StepRecord] = field(default_factory=list)
    seed: int = 0
    device: object = None
    settings: dict = field(default_factory=dict)
    n_sim: np.ndarray = None   # simulation particles per population (all batches)
    weight: np.ndarray = None  # real particles per simulation particle, per population


# what one simulation particle occupies during a run, measured (benchmarks/memory.py: peak RSS of the DUC protocol
# at 1e6 and 1e7 particles, CPU: 90 bytes in float64, 72 in float32): the state (diameter, density 8 + 8,
# population 4, fate 1, fate step 2, position 8, fraction 2; mechanics 4 x 8 more for protocols that filter) and a
# step's temporaries (outcome, masks, dose, uniforms, the copies that where() makes): what --max-memory divides by
BYTES_PER_PARTICLE = 100
DEFAULT_BATCH = 1 << 22  # particles per batch when no memory limit is given (about 0.4 GB at the rate above)


def coupled(plans) -> list:
    """The plans of steps that couple particles (their fates depend on each other: all must be held at once)."""
    return [p for p in plans if getattr(methods.method(p.kind), "COUPLES_PARTICLES", False)]


def batching(plans, n: int, device, batch: int | None = None) -> tuple[int, list]:
    """(particles per batch, devices that take batches) for ``n`` particles: ``batch`` (default DEFAULT_BATCH),
    at most an equal share per device of a ``device.Group``; all particles on the first device when a step couples
    them (ValueError when an explicit ``batch`` is smaller than ``n`` then)."""
    members = list(getattr(device, "members", (device,)))
    joined = coupled(plans)
    if joined:
        if batch is not None and batch < n:
            raise ValueError(f"steps[{joined[0].index}] ({joined[0].kind}) couples the particles: all {n:,} must "
                             f"be held at once")
        return n, members[:1]
    size = DEFAULT_BATCH if batch is None else int(batch)
    return min(size, -(-n // len(members))), members  # at least one batch per device


def batch_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """Consecutive global-id ranges [lo, hi) of at most ``size`` particles covering 0 .. n."""
    size = max(1, int(size))
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def merge_extra(total: dict, extra: dict) -> dict:
    """Aggregates of two batches of one step: integer arrays (counts of simulation particles) add up; everything
    else is a property of the step, the same in every batch."""
    out = dict(total)
    for key, value in extra.items():
        if key in out and isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            out[key] = out[key] + value
        else:
            out.setdefault(key, value)
    return out


def _run_batch(protocol, sample, plans, n_particles, lo, hi, *, seed, device, max_step, brownian, chunk, progress,
               pellet_damage):
    """Particles [lo, hi) through every step on ``device``: (particles, [(counts, extra) per step])."""
    mechanics = any(getattr(methods.method(p.kind), "USES_MECHANICS", False) for p in plans)
    with device.activate():
        particles = sample_particles(sample, n_particles, seed, device, lo, hi, mechanics=mechanics)
        if not pellet_damage:
            particles.pellet_tolerance = np.full_like(particles.pellet_tolerance, np.inf)
        out = []
        for plan in plans:
            extra = methods.method(plan.kind).run_step(
                plan, particles, device, seed=seed, temperature=protocol.temperature, brownian=brownian,
                max_step=max_step, chunk=chunk, progress=(lambda k, i=plan.index: progress(i, k)) if progress else None)
            out.append((fate_counts(particles, device), extra or {}))
    return particles, out


def run_protocol(protocol: Protocol, sample: Sample, *, n_particles: int, seed: int, device, max_step=None,
                 brownian: bool = True, chunk: int = 1 << 20, progress=None, plans: list | None = None,
                 pellet_damage: bool = True, batch: int | None = None) -> Run:
    """Sample the particles and take them through every step of the protocol on ``device``; ``plans``: from
    ``plan_protocol(protocol, sample)`` when the caller has them already (a gradient's plan solves the medium).
    ``pellet_damage=False`` switches the compaction damage of pelleted vesicles off (transport only, as the Lamm
    equation of ``exosim crosscheck`` sees it).

    ``batch``: most particles on a device at once (default ``DEFAULT_BATCH``); more go through in batches of
    consecutive ids, with the same fate counts. ``device`` may be a ``device.Group``: its devices take batches
    (real GPUs in parallel, each in its own thread: ``progress`` is then called from those threads). A protocol with a step that couples particles (filtration) runs as one batch on one device; an
    explicit ``batch`` below the particle count is then a ValueError.
    """
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer from 0 to {SEED_MAX}")
    plans = plans if plans is not None else plan_protocol(protocol, sample)
    n_sim = particles_per_population(n_particles, len(sample.populations))
    n = int(n_sim.sum())
    size, members = batching(plans, n, device, batch)
    bounds = batch_bounds(n, size)
    settings = dict(n_particles=n, max_step=max_step, brownian=brownian, batches=len(bounds),
                    devices=len(members))
    common = dict(seed=seed, max_step=max_step, brownian=brownian, chunk=chunk, progress=progress,
                  pellet_damage=pellet_damage)
    if len(bounds) == 1:
        particles, out = _run_batch(protocol, sample, plans, n_particles, 0, n, device=members[0], **common)
    else:
        concurrent = len(members) > 1 and getattr(device, "concurrent", False)
        particles, out = None, _run_batches(protocol, sample, plans, n_particles, bounds, members, common,
                                            concurrent)
    weight = np.array([pop.number_concentration * sample.volume for pop in sample.populations]) / n_sim
    run = Run(protocol, sample, particles, seed=seed, device=members[0] if len(bounds) == 1 else device,
              settings=settings, n_sim=n_sim, weight=weight)
    run.steps = [StepRecord(plan, counts, extra) for plan, (counts, extra) in zip(plans, out)]
    return run


def _run_batches(protocol, sample, plans, n_particles, bounds, members, common, concurrent=False) -> list:
    """Every batch through the protocol, on the devices in ``members``: with ``concurrent``, at once (one thread
    each, taking the next batch when done; kernels loaded beforehand in this thread), else one after the other;
    per step, the summed counts and merged aggregates."""
    import queue
    import threading

    todo = queue.SimpleQueue()
    for b in bounds:
        todo.put(b)
    results, errors = {}, []

    def work(dev):
        while not errors:
            try:
                lo, hi = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[lo] = _run_batch(protocol, sample, plans, n_particles, lo, hi, device=dev, **common)[1]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

    if not concurrent:
        for dev in members:
            work(dev)
    else:
        for dev in members:
            dev.kernels()  # load (and specialise) the kernel modules once, before the threads
        threads = [threading.Thread(target=work, args=(dev,), daemon=True) for dev in members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    total = None
    for lo, _ in bounds:  # in id order: the merged aggregates do not depend on which device finished first
        batch = results[lo]
        total = [(c, dict(e)) for c, e in batch] if total is None else \
            [(c0 + c, merge_extra(e0, e)) for (c0, e0), (c, e) in zip(total, batch)]
    return total


def recovery_stderr(fraction: np.ndarray, n_sim: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of a recovered fraction estimated from n_sim equally weighted particles:
    sqrt(p (1 - p) / n) (binomial)."""
    return np.sqrt(np.clip(fraction * (1.0 - fraction), 0.0, None) / n_sim)
