"""Centrifugation steps (differential ultracentrifugation, washes): planning of tubes, volumes and time, and the
kernel calls that decide, per particle, pellet or supernatant.

A spin is planned before anything runs (``plan_spin``), so that a protocol whose volumes do not work is refused
with a message before any simulation time is spent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import fates, units
from ..errors import ConfigError
from ..kernels import layout as K
from ..physics import media as media_phys
from ..physics import rotors as geom

if TYPE_CHECKING:  # the validated configuration, read here, never imported at run time (docs/architecture.md)
    import numpy as np

    from ..config import Centrifuge, Medium, Rotor, Wash

# numpy is imported by the functions that run kernels: planning (``exosim plan``) does without it.


@dataclass(frozen=True)
class SwingingTube:
    """Liquid in a swinging-bucket tube during the spin: radii [m]."""

    r_meniscus: float
    r_bottom: float
    r_residual: float  # liquid beyond this radius is the residual volume left over the pellet

    def fill_params(self, prm: np.ndarray) -> None:
        prm[K.P_R_MENISCUS] = self.r_meniscus
        prm[K.P_R_MAX] = self.r_bottom
        prm[K.P_R_RESIDUAL] = self.r_residual


@dataclass(frozen=True)
class FixedTube:
    """Liquid in a fixed-angle tube during the spin."""

    tube: geom.FixedAngleTube
    r_meniscus: float   # radius of the free surface [m]
    t_residual: float   # axial position beyond which liquid is residual once the tube stands upright [m]

    def fill_params(self, prm: np.ndarray) -> None:
        prm[K.P_R_MENISCUS] = self.r_meniscus
        prm[K.P_T_RESIDUAL] = self.t_residual
        prm[K.P_R_TOP] = self.tube.r_top
        prm[K.P_SIN] = math.sin(self.tube.angle)
        prm[K.P_COS] = math.cos(self.tube.angle)
        prm[K.P_LENGTH] = self.tube.length
        prm[K.P_RADIUS] = self.tube.radius


def tube_geometry(rotor: Rotor, liquid: float, residual: float):
    """Geometry of ``liquid`` [m^3] in one tube of ``rotor``, ``residual`` [m^3] of it left over the pellet."""
    if rotor.kind == "swinging":
        return SwingingTube(
            geom.swinging_radius_at_volume(rotor.r_min, rotor.r_max, rotor.tube_volume, liquid), rotor.r_max,
            geom.swinging_radius_at_volume(rotor.r_min, rotor.r_max, rotor.tube_volume, residual))
    tube = geom.FixedAngleTube.from_rotor(rotor.r_min, rotor.r_max, rotor.angle, rotor.tube_diameter)
    return FixedTube(tube, tube.meniscus_radius(liquid / rotor.tube_volume),
                     tube.length * (1.0 - residual / rotor.tube_volume))


class RotorRun:
    """Speed and time of a plan that runs a rotor (fields omega [rad/s], rotor, runs, accel, duration, decel [s])."""

    @property
    def rpm(self) -> float:
        return geom.omega_to_rpm(self.omega)

    @property
    def rcf_avg(self) -> float:
        return geom.rcf(self.omega, self.rotor.r_avg)

    @property
    def process_time(self) -> float:
        """Time in the centrifuge [s]: every run with its ramps (making a gradient is not counted)."""
        return self.runs * (self.accel + self.duration + self.decel)


@dataclass(frozen=True)
class SpinPlan(RotorRun):
    """Everything about one centrifugation step that does not depend on the particles. SI units."""

    index: int
    label: str
    kind: str
    rotor: Rotor
    omega: float             # [rad/s]
    duration: float          # at speed [s]
    accel: float             # [s]
    decel: float             # [s]
    keep: str                # 'supernatant' or 'pellet'
    wall_loss: float         # [1]
    tubes: int
    liquid_per_tube: float   # [m^3]
    runs: int                # rotor runs needed for all tubes
    volume_in: float         # material before the step [m^3]
    volume_out: float        # material passed on [m^3]
    medium: Medium           # medium during the spin
    medium_out: Medium       # medium of the material passed on
    residual_volume: float   # per tube [m^3]
    geometry: object         # SwingingTube | FixedTube
    warnings: tuple = ()     # one-line warnings about the step (printed by the CLI)


def plan_step(index: int, step, volume: float, medium, previous, ctx) -> SpinPlan:
    """The method interface (exosim.methods): plan a centrifuge or wash step."""
    return plan_spin(index, step, volume, medium, ctx.rotors, ctx.media, ctx.source, ctx.temperature)


def _add_liquid(medium, volume: float, added: float, diluent, temperature: float):
    """The medium after ``added`` [m^3] of ``diluent`` joins ``volume`` [m^3] of material in ``medium``: material
    that carries a gradient solute is diluted (solute mass conserved); otherwise the diluent's medium is taken
    (dilute buffers differ from each other by less than 1 % in density and a few % in viscosity)."""
    if hasattr(medium, "diluted"):
        return medium.diluted(volume, added, diluent, temperature)
    return diluent


def plan_spin(index: int, step: Centrifuge | Wash, volume: float, medium: Medium, rotors: dict, media: dict,
              source: str, temperature: float = 277.15) -> SpinPlan:
    """Plan step ``index`` for ``volume`` [m^3] of material in ``medium``; ConfigError if the volumes do not work."""
    where = f"steps[{index}]"

    def fail(field, problem):
        raise ConfigError(source, f"{where}.{field}", problem)

    omega = step.omega(rotors[step.rotor])   # an rcf is quoted at the catalog rotor's radii
    rotor = step.spun_rotor(rotors)          # the rotor with the step's tube (geometry, volumes)
    volume_in = volume
    if step.dilute is not None:
        if step.dilute.medium:  # more of the same when no medium is named
            medium = _add_liquid(medium, volume, step.dilute.volume, media[step.dilute.medium], temperature)
        volume += step.dilute.volume
    fill = step.fill or rotor.tube_volume
    tubes = max(1, math.ceil(volume / fill * (1 - 1e-9)))
    volume_spun = volume
    if step.kind == "wash":  # the material spread over the tubes, each topped up with buffer to the fill
        volume_spun = tubes * fill
        medium = _add_liquid(medium, volume, volume_spun - volume, media[step.medium], temperature)
    per_tube = volume_spun / tubes
    if per_tube <= step.residual_volume:
        fail("residual_volume", f"{units.fmt(step.residual_volume, 'm**3', 'uL')} is not less than the "
                                f"{units.fmt(per_tube, 'm**3', 'uL')} of material in each tube")
    if step.keep == "supernatant":
        volume_out = volume_spun - tubes * step.residual_volume
        medium_out = medium
    else:
        volume_out = step.resuspend.volume + tubes * step.residual_volume
        medium_out = media[step.resuspend.medium] if step.resuspend.medium else medium
    label = step.name or f"{step.kind} {step.rcf or geom.rcf(omega, rotor.r_avg):,.0f} g"
    tube_warning = step.tube.fill_warning(per_tube) if step.tube is not None else ""
    warnings = (f"{source}: {where}.tube: {tube_warning}",) if tube_warning else ()
    return SpinPlan(
        index=index, label=label, kind=step.kind, rotor=rotor,
        omega=omega, duration=step.duration, accel=step.accel, decel=step.decel, keep=step.keep,
        wall_loss=step.wall_loss if step.keep == "pellet" else 0.0, tubes=tubes, liquid_per_tube=per_tube,
        runs=math.ceil(tubes / rotor.places), volume_in=volume_in, volume_out=volume_out, medium=medium,
        medium_out=medium_out, residual_volume=step.residual_volume,
        geometry=tube_geometry(rotor, per_tube, step.residual_volume), warnings=warnings)


def kernel_params(geometry, rho_medium: float, viscosity: float, temperature: float, *, brownian: bool = True,
                  wall_loss: float = 0.0, absorbing: bool = True, record: bool = False,
                  dose: bool = False) -> np.ndarray:
    """The parameter vector of kernels.spin for a tube geometry and a medium (SI)."""
    import numpy as np
    prm = np.zeros(K.N_PARAMS)
    prm[K.P_DOSE] = 1.0 if dose else 0.0
    prm[K.P_RHO_MEDIUM] = rho_medium
    prm[K.P_VISCOSITY] = viscosity
    prm[K.P_TEMPERATURE] = temperature
    prm[K.P_BROWNIAN] = 1.0 if brownian else 0.0
    prm[K.P_LOSS] = wall_loss
    prm[K.P_ABSORB] = 1.0 if absorbing else 0.0
    prm[K.P_RECORD] = 1.0 if record else 0.0
    geometry.fill_params(prm)
    return prm


def run_tube(device, geometry, prm: np.ndarray, segments: np.ndarray, diameter, density, active, *, seed: int,
             step: int, pid0: int = 0, chunk: int = 1 << 20, progress=None, record: bool = False,
             dose: bool = False):
    """Integrate every active particle through one run in ``geometry``.

    Args: device (exosim.device.CPU or GPU); prm from ``kernel_params``; segments from
    ``physics.rotors.speed_profile``; diameter [m], density [kg/m^3], active (bool) arrays on the device;
    particle i has global id pid0 + i. Returns (outcome uint8 array, positions (n, 3) [m] or None), on the device;
    with ``dose`` (prm[P_DOSE] set by ``kernel_params``), a third array: each pelleted particle's integral of
    omega^2 dt from pelleting to the end of the run [rad^2/s] (0 for the others).
    Results do not depend on ``chunk``: random numbers are keyed by global particle id.
    """
    import numpy as np
    xp = device.xp
    n = diameter.shape[0]
    ks = device.kernels()
    kernel = ks.spin_swinging if isinstance(geometry, SwingingTube) else ks.spin_fixed
    real = device.real
    prm_d = xp.asarray(prm, dtype=real)
    seg_d = xp.asarray(np.ascontiguousarray(segments, dtype=real))
    diameter, density = xp.asarray(diameter, dtype=real), xp.asarray(density, dtype=real)
    outcome = xp.zeros(n, dtype=np.uint8)
    pos = xp.zeros((n if record else 1, 3), dtype=real)
    doses = xp.zeros(n if dose else 1, dtype=real)
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        device.launch(kernel, i1 - i0, pid0 + i0, step, seed, diameter[i0:i1], density[i0:i1], active[i0:i1],
                      prm_d, seg_d, outcome[i0:i1], pos[i0:i1] if record else pos, doses[i0:i1] if dose else doses)
        if progress is not None:
            progress(i1 - i0)
    if dose:
        return outcome, (pos if record else None), doses
    return outcome, (pos if record else None)


def medium_state(medium: Medium, temperature: float) -> tuple[float, float]:
    """(density [kg/m^3], viscosity [Pa s]) of a medium at temperature [K]: a dilute medium (water's, offset and
    scaled), or material that carries a gradient solute (its ``state``)."""
    if hasattr(medium, "state"):
        return medium.state(temperature)
    return (media_phys.medium_density(medium.density_offset, temperature),
            media_phys.medium_viscosity(medium.viscosity_factor, temperature))


def run_step(plan: SpinPlan, particles, device, *, seed: int, temperature: float, brownian: bool = True,
             max_step: float | None = None, chunk: int = 1 << 20, progress=None) -> None:
    """Spin every particle still in the product and book its fate (``exosim.fates``).

    keep supernatant: pelleted particles and those in the residual layer go with the discarded pellet.
    keep pellet: the supernatant above the residual layer is discarded; pelleted particles lost on the tube wall
    are booked as wall loss; vesicles (populations with ``mechanics``) that spent long in the pellet under force
    may be damaged (``pellet_damage``); the rest, with the residual layer, is resuspended.
    """
    rho, eta = medium_state(plan.medium, temperature)
    tolerance = _pellet_tolerance(particles)
    dose = plan.keep == "pellet" and tolerance is not None
    prm = kernel_params(plan.geometry, rho, eta, temperature, brownian=brownian, wall_loss=plan.wall_loss,
                        dose=dose)
    segments = geom.speed_profile(plan.omega, plan.duration, plan.accel, plan.decel, max_step)
    active = particles.fate == fates.PRODUCT
    out = run_tube(device, plan.geometry, prm, segments, particles.diameter, particles.density, active,
                   seed=seed, step=plan.index, pid0=particles.pid0, chunk=chunk, progress=progress, dose=dose)
    outcome = out[0]
    if plan.keep == "supernatant":
        moves = ((outcome != K.SUPERNATANT, fates.PELLET_DISCARDED),)
    else:
        moves = ((outcome == K.SUPERNATANT, fates.SUPERNATANT_DISCARDED),
                 (outcome == K.PELLET_LOST, fates.WALL_LOSS))
        if dose:
            damaged = pellet_damage(out[2], outcome, particles, tolerance, plan.rotor.r_max, seed, plan.index,
                                    device)
            moves = moves + ((damaged, fates.DAMAGED),)
    for mask, place in moves:
        fates.move(particles, active & mask, place, plan.index, device.xp)


PELLET_REFERENCE_RCF = 1e5   # pellet_tolerance is the time at this relative centrifugal force


def _pellet_tolerance(particles):
    """Per population, the pellet tolerance [s] of its vesicles (inf for particles without mechanics), or None
    when no population has mechanics."""
    import numpy as np

    tol = getattr(particles, "pellet_tolerance", None)
    if tol is None or not np.isfinite(tol).any():
        return None
    return tol


def pellet_damage(dose, outcome, particles, tolerance, r_pellet: float, seed: int, step: int, device):
    """Which kept pelleted vesicles are damaged by compaction: probability 1 - exp(-G / T), G the time in the pellet
    weighted by the force there relative to 100,000 x g, int omega^2 r_pellet / (g0 1e5) dt [s] (the kernel's dose
    times r_pellet / (g0 1e5)), T the population's pellet tolerance [s] (docs/physics.md: an assumed rate).
    Computed on the device (no host round trip); uniforms from the sampling kernel, Philox keyed by (seed, the
    step's damage stream, particle id): the same on every device and in any batch. Returns a device bool array."""
    import numpy as np

    from ..config import UNIFORM

    xp = device.xp
    n = outcome.shape[0]
    u = xp.empty(n, dtype=np.float64)
    device.launch(device.kernels().sample, n, particles.pid0, seed, K.STREAM_DAMAGE + (step << 8), UNIFORM, 0.0, 1.0,
                  0.0, 1.0, u)
    g = dose.astype(np.float64) * (r_pellet / (geom.STANDARD_GRAVITY * PELLET_REFERENCE_RCF))
    t = xp.asarray(tolerance)[particles.population]  # inf for rigid particles: g / inf = 0, no damage
    p = -xp.expm1(-g / t)
    return (outcome == K.PELLET) & (u < p)
