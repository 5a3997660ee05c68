"""``exosim.simulate``: one call from validated configs to a results Dataset."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Protocol, Sample
from .device import auto_select
from .engine import run_protocol
from .results import particles_dataset, to_dataset

if TYPE_CHECKING:
    import xarray as xr


def simulate(protocol: Protocol, sample: Sample, n_particles: int = 100_000, seed: int = 0, device=None,
             max_step: float | None = None, brownian: bool = True, chunk: int = 1 << 20, progress=None,
             keep_particles: bool = False, batch: int | None = None) -> xr.Dataset:
    """Simulate ``protocol`` on ``sample`` and return the results Dataset.

    Args:
        protocol, sample: from ``load_protocol`` / ``load_sample``.
        n_particles: simulation particles in all (split equally over the populations).
        seed: 0 .. 2**32 - 1; the same seed gives the same fates on every device and any ``chunk``.
        device: ``exosim.CPU()``, ``exosim.GPU(id)``, or ``exosim.Group(GPU(0), GPU(1))`` (devices that take
            batches of particles at once); default ``auto_select()``.
        max_step: longest integration step [s]; default: one step per constant-speed phase (exact integrator).
        brownian: False switches Brownian motion off (deterministic sedimentation).
        chunk: particles per kernel launch.
        batch: most particles held on a device at once (default ``engine.DEFAULT_BATCH``); more go through in
            batches, with the same fates (not for protocols with dead-end filtration, which couple particles).
        progress: callable(step_index, particles_done) called after every chunk.
        keep_particles: also return per-particle arrays (all particles are then held at once: ValueError for a
            device group, and after the run for an explicit ``batch`` below ``n_particles``) (dimension ``particle``: ``particle_diameter``,
            ``particle_density``, ``particle_population``, ``particle_fate``, ``particle_fate_step``); a results
            file stores them in its group ``particles``.
    """
    device = device or auto_select()
    if keep_particles:
        if hasattr(device, "members") and len(device.members) > 1:
            raise ValueError("keep_particles needs one device: a group's devices each keep only their batches' "
                             "counts")
        batch = n_particles if batch is None else batch  # all at once, unless asked otherwise
    run = run_protocol(protocol, sample, n_particles=n_particles, seed=seed, device=device, max_step=max_step,
                       brownian=brownian, chunk=chunk, progress=progress, batch=batch)
    ds = to_dataset(run)
    if keep_particles:
        ds = ds.merge(particles_dataset(run))
    return ds
