"""A well-mixed retentate filtered through a membrane: tangential flow (``tff``), a stirred cell and a centrifugal
concentrator (``filter`` with ``device: stirred`` or ``centrifugal``). The physics both methods share; SI units
(docs/filtration.md).

Model
-----
- Mixing: the retentate is well mixed (crossflow, a stirrer, or natural convection in the centrifugal field), so
  every filtrate volume dV carries its share dV / V of the retentate's particles to the membrane: a particle
  meets the membrane at the rate dE = dV / V, E = ln(CF) while concentrating by the factor CF, plus N for N
  diavolumes at constant volume. Retained particles get new tries; what is retained stays in the retentate,
  which the device gives back (a reverse spin, the retentate line).
- Process in segments: concentration in ``CONC_SEGMENTS`` equal steps of ln V, diafiltration in up to
  ``DIA_SEGMENTS`` equal steps; in each the flux, the wall layer and the pressure are taken constant.
- Flux of the actual feed (kernels/polarisation.py): the osmotic-pressure model with the wall concentrations of
  the film model and the packing limit of the wall layer, from the retentate's particles in that segment
  (representatives: up to ``REPRESENTATIVES`` simulation particles per population, each carrying its share of the
  population's real particles, surviving by its own passage so far). Intrinsic sieving per particle at the
  pressure across the membrane itself, eta R_m J (kernels/filtration.py membrane_passage): two passes per segment.
- Mass transfer: Leveque's k = 0.807 (gamma_w D^2 / L)^(1/3) in a crossflow channel (Leveque 1928: Sh =
  1.62 (Re Sc d / L)^(1/3) in a tube, whose wall shear rate is 8 u / d); a stirred cell, k = 0.23
  (omega r^2 / nu)^0.567 (nu / D)^0.33 D / r (Smith, Colton, Merrill & Evans 1968); a centrifugal concentrator,
  natural convection of the dense wall layer along the membrane of height h in the field a = rcf g0
  (Churchill & Chu 1975, with Ra = a d_rho h^3 / (eta D), d_rho the wall layer's excess density; iterated with the
  flux).
- Drive: a constant transmembrane pressure; a centrifugal concentrator's is the feed column's rho a h, falling in
  proportion to the retentate volume (a prismatic reservoir) to its dead stop (the hold-up).
- Per particle (kernels/filtration.py retentate_fate): competing risks of passage (observed sieving at the
  segment's flux), rupture in pores or by shear, adsorption of retained vesicles (per meeting), with the segment
  rates; so a species of constant sieving S keeps CF^(-S) after concentrating and e^(-S N) after N diavolumes.
- Time: each segment's filtrate volume over J A. Stops: ``stop_time`` (the process ends there; the volume reached
  is passed on), the flux falling below ``stop_flux`` of the clean membrane's at that pressure, or a stalled flux
  (the bulk itself at the packing limit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import fates, units
from ..kernels import layout as K

CONC_SEGMENTS = 16
DIA_SEGMENTS = 16
REPRESENTATIVES = 256     # per population, for the flux of the feed
PORE_NODES = 24           # quadrature nodes over the truncated lognormal pore sizes
LEVEQUE = 0.807           # k = 0.807 (gamma_w D^2 / L)^(1/3) (Leveque 1928)
STIRRED = (0.23, 0.567, 0.33)   # Sh = 0.23 Re^0.567 Sc^0.33, laminar stirred cells (Smith et al. 1968)
FLUX_PASSES = 2           # flux, then the intrinsic sieving at the membrane pressure it gives, then the flux again
CONVECTION_PASSES = 6     # natural convection: flux and wall density iterated


@dataclass(frozen=True)
class Retentate:
    """What the shared model needs of a TFF step or a mixed dead-end filter, fixed at planning. SI units."""

    membrane: object
    area: float                # [m^2]
    resistance: float          # clean membrane [1/m]
    viscosity: float           # of the feed [Pa s]
    density: float             # of the feed [kg/m^3]
    temperature: float         # [K]
    volume_in: float           # [m^3]
    volume_end: float          # after concentration [m^3]
    diavolumes: float
    pressure: float            # transmembrane pressure [Pa]; a centrifugal concentrator's at the full column
    falling_head: bool         # a centrifugal concentrator: the pressure falls with the retentate volume
    mt_model: int              # kernels/polarisation.py MT_POWER or MT_NATURAL
    mt_coeff: float = 0.0      # MT_POWER: k = mt_coeff D^mt_power
    mt_power: float = 0.0
    mt_length: float = 0.0     # MT_NATURAL: membrane height [m]
    accel: float = 0.0         # MT_NATURAL: centrifugal acceleration [m/s^2]
    adsorption: float = 0.0    # per meeting, retained vesicles
    shear_stress: float = 0.0  # peak shear stress [Pa]
    stop_time: float | None = None
    stop_flux: float = 0.0

    @property
    def clean_flux(self) -> float:
        """Flux of the clean membrane at the full pressure [m/s]."""
        return self.pressure / (self.viscosity * self.resistance)

    def clean_time(self) -> float:
        """Process time on the clean membrane [s] (a planning estimate; the run reports the real one)."""
        return clean_time(self.volume_in, self.volume_end, self.clean_flux, self.area, self.falling_head,
                          self.diavolumes)


def clean_time(volume_in: float, volume_end: float, flux: float, area: float, falling: bool,
               diavolumes: float = 0.0) -> float:
    """Time [s] to filter from volume_in down to volume_end [m^3] and then ``diavolumes`` retentate volumes at the
    clean membrane's flux [m/s] over ``area`` [m^2]: constant, or (a falling centrifugal head) J = J0 V / V_in,
    whose concentration takes V_in / (J0 A) ln(V_in / V_end)."""
    conc = volume_in * math.log(volume_in / volume_end) if falling else volume_in - volume_end
    return (conc + diavolumes * volume_end) / (flux * area)


def leveque(shear_rate: float, channel_length: float) -> tuple[float, float]:
    """(coefficient, power) of Leveque's k = 0.807 (gamma_w / L)^(1/3) D^(2/3): wall shear rate [1/s], channel
    length [m]."""
    return LEVEQUE * (shear_rate / channel_length) ** (1.0 / 3.0), 2.0 / 3.0


def stirred_cell(speed: float, radius: float, nu: float) -> tuple[float, float]:
    """(coefficient, power) of the stirred cell's k = 0.23 (omega r^2 / nu)^0.567 nu^0.33 r^-1 D^0.67 (Smith et al.
    1968): stirrer speed omega [rad/s], cell radius r [m], kinematic viscosity nu [m^2/s]."""
    a, b, c = STIRRED
    return a * (speed * radius * radius / nu) ** b * nu ** c / radius, 1.0 - c


def segments(ret: Retentate):
    """[(exposure dE, volume at start, volume at end)] of the process: concentration in equal steps of ln V,
    then diafiltration at constant volume."""
    out = []
    if ret.volume_in > ret.volume_end * (1 + 1e-12):
        v = np.geomspace(ret.volume_in, ret.volume_end, CONC_SEGMENTS + 1)
        out += [(math.log(v[i] / v[i + 1]), v[i], v[i + 1]) for i in range(CONC_SEGMENTS)]
    if ret.diavolumes > 0:
        nd = int(min(DIA_SEGMENTS, max(1, math.ceil(4 * ret.diavolumes))))
        out += [(ret.diavolumes / nd, ret.volume_end, ret.volume_end)] * nd
    return out


def _representatives(particles, active):
    """Indices of up to REPRESENTATIVES active particles per population (evenly spaced: deterministic) and the
    real particles each stands for."""
    pop = np.asarray(particles.population)
    idx, carried = [], []
    for p in range(len(particles.n_sim)):
        members = np.flatnonzero(active & (pop == p))
        if members.size == 0:
            continue
        take = members[np.linspace(0, members.size - 1, min(REPRESENTATIVES, members.size)).round().astype(int)]
        take = np.unique(take)
        idx.append(take)
        carried.append(np.full(take.size, particles.weight[p] * members.size / take.size))
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(idx), np.concatenate(carried)


def base_params(ret: Retentate) -> np.ndarray:
    """The fixed part of the retentate kernels' parameter vector (layout PT_*)."""
    prm = np.zeros(K.NT_PARAMS)
    prm[K.PT_TEMPERATURE], prm[K.PT_VISCOSITY] = ret.temperature, ret.viscosity
    prm[K.PT_LENGTH] = ret.membrane.thickness
    prm[K.PT_ADSORPTION] = ret.adsorption
    prm[K.PT_SHEAR_STRESS] = ret.shear_stress
    prm[K.PT_MT_MODEL] = ret.mt_model
    prm[K.PT_MT_COEFF], prm[K.PT_MT_POWER] = ret.mt_coeff, ret.mt_power
    prm[K.PT_MT_LENGTH] = ret.mt_length
    prm[K.PT_NU] = ret.viscosity / ret.density
    return prm


def run(ret: Retentate, particles, device, *, seed: int, index: int, keep: str = "retentate",
        chunk: int = 1 << 20, progress=None) -> dict:
    """Take every particle still in the product through the retentate process and book its fate; returns the
    flux curve, the process time, the filtered and the final volume (module docstring)."""
    from ..kernels import cpu
    from ..kernels.formulas import diffusion_coefficient
    from ..physics import membranes as mem

    xp = device.xp
    n = particles.n
    active_h = np.asarray(device.to_host(particles.fate == fates.PRODUCT))
    node_r, node_w = mem.pore_quadrature(ret.membrane, PORE_NODES)
    prm0 = base_params(ret)

    rep, carried = _representatives(particles, active_h)
    d_rep = np.ascontiguousarray(device.to_host(particles.diameter)[rep].astype(np.float64))
    rho_rep = np.asarray(device.to_host(particles.density))[rep].astype(np.float64)
    mech_all = np.asarray(device.to_host(particles.mechanics)) if particles.mechanics is not None else None
    mech_rep = np.ascontiguousarray(mech_all[rep] if mech_all is not None else np.full((rep.size, K.N_MECH), np.nan))
    vol_rep = math.pi / 6.0 * d_rep ** 3
    dcoef = diffusion_coefficient(d_rep, ret.temperature, ret.viscosity)
    excess = rho_rep - ret.density
    survive = np.ones(rep.size)
    k, s_obs = np.empty(rep.size), np.empty(rep.size)     # filled by cpu.retentate_flux
    eta_r = ret.viscosity * ret.resistance

    def passage(pressure):
        s = np.zeros((rep.size, 1))
        r = np.zeros((rep.size, 1))
        if rep.size:
            cpu.passage_table(d_rep, mech_rep, node_r, node_w, np.array([pressure]), prm0, s, r)
        return s[:, 0], r[:, 0]

    seg_rows, times, fluxes, pressures = [], [0.0], [], []
    t, filtered, volume, stopped, why = 0.0, 0.0, ret.volume_in, False, ""
    for de, v0, v1 in segments(ret):
        v_mid = math.sqrt(v0 * v1)
        dp = ret.pressure * (v_mid / ret.volume_in if ret.falling_head else 1.0)
        n_b = carried * survive / v_mid
        s, rupture = passage(dp)
        group = 0.0
        for _ in range(FLUX_PASSES):
            for _ in range(CONVECTION_PASSES if ret.mt_model == 1 else 1):
                flux, _, d_rho = cpu.retentate_flux(dp, eta_r, n_b, vol_rep, s, dcoef, excess, prm0, group, k,
                                                    s_obs)
                group = ret.accel * abs(d_rho) * ret.mt_length ** 3 / ret.viscosity
            s, rupture = passage(eta_r * flux)
        flux, _, _ = cpu.retentate_flux(dp, eta_r, n_b, vol_rep, s, dcoef, excess, prm0, group, k, s_obs)
        dv = (v0 - v1) if v0 > v1 else de * v1
        if flux <= 0.0 or flux < ret.stop_flux * dp / eta_r:
            stopped, why = True, ("the flux stalled: the retentate itself is at the packing limit" if flux <= 0 else
                                  f"the flux fell below {100 * ret.stop_flux:g} % of the clean membrane's")
            break
        dt = dv / (flux * ret.area)
        share = 1.0
        if ret.stop_time is not None and t + dt > ret.stop_time:
            share = max(0.0, (ret.stop_time - t) / dt)
            stopped, why = True, f"stop_time {units.fmt(ret.stop_time, 's', 'min')} reached"
        de_used = de if v0 == v1 else math.log(v0 / (v0 - share * (v0 - v1)))
        fluxes.append(flux)
        pressures.append(ret.pressure * (v0 / ret.volume_in if ret.falling_head else 1.0))
        seg_rows.append((de_used, flux, eta_r * flux, group))
        adsorbs = ret.adsorption * np.isfinite(mech_rep[:, 0])    # vesicles only
        survive *= np.exp(-(s_obs + rupture + adsorbs) * de_used)
        t += share * dt
        filtered += share * dv
        volume = v0 - share * (v0 - v1) if v0 > v1 else v1
        times.append(t)
        if stopped:
            break
    prm = np.concatenate([prm0, np.zeros(K.SEG_WIDTH * len(seg_rows))])
    prm[K.PT_NSEG] = len(seg_rows)
    for j, row in enumerate(seg_rows):
        base = K.NT_PARAMS + K.SEG_WIDTH * j
        prm[base + K.SEG_EXPOSURE], prm[base + K.SEG_FLUX], prm[base + K.SEG_PRESSURE], prm[base + K.SEG_GROUP] = row
    outcome = xp.zeros(n, dtype=np.uint8)
    diameter = xp.asarray(particles.diameter, dtype=np.float64)  # the retentate kernel is float64 in every precision
    mech = particles.mechanics if particles.mechanics is not None else xp.full((n, K.N_MECH), np.nan)
    active = particles.fate == fates.PRODUCT
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        device.launch(device.kernels().retentate_particles, i1 - i0, particles.pid0 + i0, index, seed,
                      diameter[i0:i1], mech[i0:i1], active[i0:i1], xp.asarray(node_r), xp.asarray(node_w),
                      xp.asarray(prm), outcome[i0:i1])
        if progress is not None:
            progress(i1 - i0)
    if keep == "retentate":
        moves = ((K.T_PASSED, fates.FILTRATE_DISCARDED),)
    else:
        moves = ((K.T_RETAINED, fates.RETENTATE_DISCARDED),)
    for code, place in moves + ((K.T_DAMAGED, fates.DAMAGED), (K.T_ADSORBED, fates.MEMBRANE_BOUND)):
        fates.move(particles, active & (outcome == code), place, index, xp)
    # the curve: each segment's flux and driving pressure at its start, and the end of the last one
    end_pressure = ret.pressure * (volume / ret.volume_in if ret.falling_head else 1.0)
    extra = {"flux_time": np.array(times), "flux": np.array(fluxes + fluxes[-1:] if fluxes else [0.0]),
             "pressure": np.array(pressures + [end_pressure] if fluxes else [ret.pressure]),
             "filtered_volume": filtered, "process_time": t, "stopped": stopped,
             "volume_out": volume if keep == "retentate" else filtered, "clean_flux": ret.clean_flux}
    if stopped:
        extra["warnings"] = (f"steps[{index}]: filtration stopped after {units.fmt_volume(filtered)} of filtrate "
                             f"({why}); the retentate is {units.fmt_volume(volume)}, and the following steps were "
                             f"planned with the full volume",)
    return extra
