"""Tangential-flow filtration (TFF): concentration and constant-volume diafiltration of the material on a membrane
swept by a crossflow; the retentate goes on. SI units (docs/filtration.md).

The crossflow keeps the retentate well mixed and sweeps retained particles off the membrane (no cake, no pore
plugging); the flux is that of the actual feed: the osmotic-pressure model with the film model's wall
concentrations and the packing limit of the wall layer, at Leveque's mass-transfer coefficient
k = 0.807 (gamma_w D^2 / L)^(1/3) (wall shear rate gamma_w, channel length L). The shared model of a well-mixed
retentate is exosim/methods/retentate.py: a particle meets the membrane E = ln(CF) + N times and passes with its
polarised sieving at the flux of the moment, so a species of constant sieving S keeps CF^(-S) after
concentrating by CF and e^(-S N) after N diavolumes (tests/test_tff.py); a vesicle may rupture at a pore or under
the peak shear stress, or stick to the membrane (``adsorption`` per meeting).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import units
from ..errors import ConfigError
from ..kernels import polarisation as P
from . import RunsNoRotor
from . import retentate as R

COUPLES_PARTICLES = True  # the flux depends on the whole retentate: a run holds all particles at once (engine)
USES_MECHANICS = True     # reads Particles.mechanics (vesicles squeezing through pores, shear rupture)


@dataclass(frozen=True)
class TffPlan(RunsNoRotor):
    """Everything about a TFF step that does not depend on the particles. SI units."""

    index: int
    label: str
    kind: str
    membrane: object
    area: float
    pressure: float
    concentrate: float
    diavolumes: float
    volume_in: float
    volume_out: float
    filtrate_volume: float     # concentration plus diafiltration [m^3]
    medium: object
    medium_out: object
    viscosity: float
    pore_median: float
    flux: float                # clean-membrane flux at the pressure [m/s]
    process_time: float        # estimate on the clean membrane [s]; the run reports the real one
    retentate: R.Retentate
    temperature: float
    warnings: tuple = ()


def plan_step(index: int, step, volume: float, medium, previous, ctx) -> TffPlan:
    """The method interface (exosim.methods): plan a TFF step."""
    from ..config import membrane_named
    from ..physics import membranes as mem
    from .centrifuge import medium_state

    where = f"steps[{index}]"
    membrane = membrane_named(step.membrane, ctx.membranes)
    out = volume / step.concentrate
    if out < step.hold_up:
        raise ConfigError(ctx.source, f"{where}.concentrate",
                          f"concentrating {units.fmt_volume(volume)} by {step.concentrate:g} leaves "
                          f"{units.fmt_volume(out)}, less than the {units.fmt_volume(step.hold_up)} hold-up")
    rho, eta = medium_state(medium, ctx.temperature)
    coeff, power = R.leveque(step.shear_rate, step.channel_length)
    ret = R.Retentate(
        membrane=membrane, area=step.area, resistance=mem.membrane_resistance(membrane), viscosity=eta, density=rho,
        temperature=ctx.temperature, volume_in=volume, volume_end=out, diavolumes=step.diavolumes,
        pressure=step.pressure, falling_head=False, mt_model=P.MT_POWER, mt_coeff=coeff, mt_power=power,
        adsorption=step.adsorption, shear_stress=eta * (step.peak_shear_rate or step.shear_rate))
    filtrate = (volume - out) + step.diavolumes * out
    medium_out = ctx.media[step.diafilter_medium] if step.diavolumes > 0 else medium
    label = step.name or f"TFF {membrane.name}"
    return TffPlan(
        index=index, label=label, kind=step.kind, membrane=membrane, area=step.area, pressure=step.pressure,
        concentrate=step.concentrate, diavolumes=step.diavolumes, volume_in=volume, volume_out=out,
        filtrate_volume=filtrate, medium=medium, medium_out=medium_out, viscosity=eta,
        pore_median=mem.median_pore_radius(membrane), flux=ret.clean_flux, process_time=ret.clean_time(),
        retentate=ret, temperature=ctx.temperature)


def run_step(plan: TffPlan, particles, device, *, seed: int, temperature: float, brownian: bool = True,
             max_step: float | None = None, chunk: int = 1 << 20, progress=None) -> dict:
    """Take every particle still in the product through the TFF step and book its fate."""
    return R.run(plan.retentate, particles, device, seed=seed, index=plan.index, chunk=chunk, progress=progress)
