"""Tangential-flow filtration (TFF): concentration and constant-volume diafiltration of the material on a membrane
swept by a crossflow; the retentate goes on. SI units (docs/filtration.md).

Model: the crossflow keeps the retentate well mixed and sweeps retained particles off the membrane (no cake, no
pore plugging: the flux is the clean membrane's at the transmembrane pressure, a stated simplification). Each
filtrate volume dV carries its share dV / V of the retentate's particles to the membrane, so a particle meets the
membrane at the rate E = int dV / V: ln(CF) while concentrating by the factor CF, plus N for N diavolumes at
constant volume. Per meeting it passes with its sieving coefficient over the flow-weighted pore sizes (hindered
transport, or a vesicle squeezing through, kernels/filtration.py), raised by concentration polarisation with the
Leveque mass-transfer coefficient k = 0.807 (gamma D^2 / L)^(1/3) (wall shear rate gamma, channel length L;
Leveque 1928: Sh = 1.62 (Re Sc d / L)^(1/3) in a tube, whose wall shear rate is 8 u / d); a vesicle may rupture at a pore or under the peak shear stress, or stick to the membrane
(``adsorption``). So a species with sieving coefficient S keeps exp(-S N) after N diavolumes
(tests/test_tff.py), and CF^(-S) after concentrating by CF.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import fates, units
from ..errors import ConfigError
from ..kernels import layout as K
from . import RunsNoRotor

PORE_NODES = 32    # quadrature nodes over the truncated lognormal pore sizes
LEVEQUE = 0.807   # k = 0.807 (gamma_w D^2 / L)^(1/3): Leveque's Sh = 1.62 (Re Sc d / L)^(1/3) with gamma_w = 8 u / d


USES_MECHANICS = True  # reads Particles.mechanics (vesicles squeezing through pores, shear rupture)


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
    shear_rate: float
    peak_shear_rate: float
    channel_length: float
    adsorption: float
    volume_in: float
    volume_out: float
    filtrate_volume: float     # concentration plus diafiltration [m^3]
    medium: object
    medium_out: object
    viscosity: float
    pore_median: float
    flux: float                # clean-membrane flux at the pressure [m/s]
    process_time: float
    temperature: float = 277.15
    warnings: tuple = ()

    @property
    def exposure(self) -> float:
        """Membrane meetings per particle: ln(concentration factor) + diavolumes."""
        return math.log(self.concentrate) + self.diavolumes


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
    _, eta = medium_state(medium, ctx.temperature)
    r_med = mem.median_pore_radius(membrane)
    r_m = 8.0 * membrane.thickness / (math.pi * mem.pore_density(membrane) * mem.mean_r4(r_med, membrane.pore_gsd))
    flux = step.pressure / (eta * r_m)
    filtrate = (volume - out) + step.diavolumes * out
    medium_out = ctx.media[step.diafilter_medium] if step.diavolumes > 0 else medium
    label = step.name or f"TFF {membrane.name}"
    return TffPlan(
        index=index, label=label, kind=step.kind, membrane=membrane, area=step.area, pressure=step.pressure,
        concentrate=step.concentrate, diavolumes=step.diavolumes, shear_rate=step.shear_rate,
        peak_shear_rate=step.peak_shear_rate or step.shear_rate, channel_length=step.channel_length,
        adsorption=step.adsorption, volume_in=volume, volume_out=out, filtrate_volume=filtrate, medium=medium,
        medium_out=medium_out, viscosity=eta, pore_median=r_med, flux=flux,
        process_time=filtrate / (flux * step.area), temperature=ctx.temperature)


def pore_nodes(membrane, n: int = PORE_NODES):
    """(radii [m], flow weights) of quadrature nodes over the membrane's truncated lognormal pores."""
    from ..physics import membranes as mem

    return mem.pore_quadrature(membrane, n)


def kernel_params(plan: TffPlan, temperature: float):
    """The parameter vector of kernels.filtration.tff_fate (SI)."""
    import numpy as np

    prm = np.zeros(K.NT_PARAMS)
    prm[K.PT_TEMPERATURE], prm[K.PT_VISCOSITY] = temperature, plan.viscosity
    prm[K.PT_LENGTH] = plan.membrane.thickness
    prm[K.PT_VELOCITY] = plan.pressure / (8.0 * plan.viscosity * plan.membrane.thickness)
    prm[K.PT_PRESSURE] = plan.pressure
    prm[K.PT_EXPOSURE] = plan.exposure
    prm[K.PT_FLUX] = plan.flux
    prm[K.PT_LEVEQUE] = LEVEQUE * (plan.shear_rate / plan.channel_length) ** (1.0 / 3.0)
    prm[K.PT_ADSORPTION] = plan.adsorption
    prm[K.PT_SHEAR_STRESS] = plan.viscosity * plan.peak_shear_rate
    return prm


def run_step(plan: TffPlan, particles, device, *, seed: int, temperature: float, brownian: bool = True,
             max_step: float | None = None, chunk: int = 1 << 20, progress=None) -> dict:
    """Take every particle still in the product through the TFF step and book its fate."""
    import numpy as np

    xp = device.xp
    n = particles.n
    active = particles.fate == fates.PRODUCT
    node_r, node_w = pore_nodes(plan.membrane)
    prm = xp.asarray(kernel_params(plan, temperature))
    outcome = xp.zeros(n, dtype=np.uint8)
    kernel = device.kernels().tff_particles
    nr, nw = xp.asarray(node_r), xp.asarray(node_w)
    diameter = xp.asarray(particles.diameter, dtype=np.float64)  # the TFF kernel is float64 in every precision
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        device.launch(kernel, i1 - i0, particles.pid0 + i0, plan.index, seed, diameter[i0:i1],
                      particles.mechanics[i0:i1], active[i0:i1], nr, nw, prm, outcome[i0:i1])
        if progress is not None:
            progress(i1 - i0)
    for code, place in ((K.T_PASSED, fates.FILTRATE_DISCARDED), (K.T_DAMAGED, fates.DAMAGED),
                        (K.T_ADSORBED, fates.MEMBRANE_BOUND)):
        fates.move(particles, active & (outcome == code), place, plan.index, xp)
    t = plan.process_time
    return {"flux_time": np.array([0.0, t]), "flux": np.array([plan.flux, plan.flux]),
            "pressure": np.array([plan.pressure, plan.pressure]), "filtered_volume": plan.filtrate_volume,
            "process_time": t}
