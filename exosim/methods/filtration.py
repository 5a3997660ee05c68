"""Dead-end filtration through a membrane at constant pressure, constant flux or by a centrifuge's field: planning,
and the unstirred cell's batched pore model that decides, per particle, filtrate, retentate or membrane
(docs/filtration.md). A stirred cell and a centrifugal concentrator (``device``) keep the retentate well mixed:
they run the shared model of exosim/methods/retentate.py. SI units.

Unstirred cell
--------------
- Arrival: the feed (volume V_in) is filtered down to the hold-up volume; a particle at a uniformly random depth
  of the feed reaches the membrane when that share of the feed has been filtered (plug flow toward the membrane)
  and gets one try. Particles that would arrive after the filtration ends stay in the retentate.
- Pores: a patch of M pores (at most ``MAX_PORES``) drawn from the membrane's pore-size distribution stands for
  the N = pore density x area pores of the real membrane. A particle meets pore j with probability q_j / Q,
  q_j ~ r_j^4 (Hagen-Poiseuille) over open pores; what happens there is kernels/filtration.py (hindered passage,
  squeezing vesicles, deposition in the pore).
- A particle that does not pass stays in the retentate (deposit or polarisation layer). It seals the pore it sits
  on only when it is smaller than the pore pitch 1 / sqrt(N) (it covers that pore alone: Hermia's complete
  blocking; booked membrane-bound); a larger one rests on several pores and joins a cake (Kozeny-Carman,
  physics/membranes.py) when its deposition Peclet number J d / D reaches ``CAKE_PECLET`` (smaller ones diffuse
  back into the feed). ``adsorption``: the share of retained vesicles lost on the membrane.
- Scaling: a simulation particle of population p stands for w_p real particles on the whole membrane, of which
  k = w_p M / N reach the patch. Pore-state changes use k, so pores block at the real load whatever the number
  of simulation particles: in a batch, pore j receives sealing arrivals at the Poisson rate E_j = (q_j / Q) sum_i
  k_i [i seals r_j] and closes with probability 1 - exp(-E_j) (``_plug``); deposits narrow a pore by k_i times the
  particle's volume (pi r^2 L of pore volume filled: r^2 -> r^2 - V / (pi L)).
- Batches: arrivals are processed in equal shares of the filtrate volume; the pore state and the flux are updated
  between batches (``batches`` per step, default 256), so every particle of a batch is independent (no atomics;
  identical fates on the CPU and the GPU). Results converge as batches shrink (tests/test_filtration.py: 64 and
  512 batches agree).
- Flux: membrane resistance R_m = 8 L A_patch / (pi sum_open r^4) and cake resistance R_c in series; constant
  pressure: J = dP / (eta (R_m + R_c)), stopping when J falls below ``stop_flux`` of its start; constant flux:
  dP = eta J (R_m + R_c), stopping when dP exceeds the membrane's rating; an unstirred centrifugal column:
  dP = rho a h, h falling in proportion to the feed volume (a prismatic reservoir), stopping when the flux falls
  below ``stop_flux`` of the clean membrane's at that pressure. A batch of volume dV takes dV (1/J_start +
  1/J_end) / (2 A) (trapezoid rule in the volume: exact for a growing cake, second order for blocking). The flux
  (or pressure) against time is an output; filtration time counts as process time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import fates, units
from ..errors import ConfigError
from ..kernels import layout as K
from ..physics.rotors import STANDARD_GRAVITY
from . import RunsNoRotor

MAX_PORES = 1 << 16
COUPLES_PARTICLES = True  # pores plug at the load of all particles: a run holds them all at once (engine)
USES_MECHANICS = True     # reads Particles.mechanics (vesicles squeezing through pores)
MIN_PORES = 64
CAKE_PECLET = 1.0
DEFAULT_STOP_FLUX = 0.01  # unstirred, constant pressure: stop when the flux falls below 1 % of its start


@dataclass(frozen=True)
class FilterPlan(RunsNoRotor):
    """Everything about a filtration step that does not depend on the particles. SI units."""

    index: int
    label: str
    kind: str
    membrane: object            # config.Membrane
    area: float                 # [m^2]
    pressure: float | None      # constant transmembrane pressure [Pa]
    flux: float | None          # constant flux [m/s]
    head_pressure: float | None  # centrifugal concentrator: pressure of the full feed column [Pa], falling with
                                # the feed volume
    keep: str
    stop_flux: float
    pore_deposition: float
    batches: int
    volume_in: float            # [m^3]
    filtrate_volume: float      # intended filtrate [m^3]
    hold_up: float              # [m^3]
    volume_out: float
    medium: object
    medium_out: object
    pore_median: float          # [m]
    pore_density: float         # [1/m^2]
    viscosity: float            # of the feed [Pa s]
    clean_flux: float           # flux through the clean membrane at the step's pressure (or the set flux) [m/s]
    process_time: float         # estimate on the clean membrane [s]; the run reports the real one
    temperature: float
    warnings: tuple = ()
    adsorption: float = 0.0     # share of retained vesicles lost on the membrane (per meeting when mixed)
    stop_time: float | None = None   # unstirred: checked between batches; mixed: in the retentate model
    retentate: object = None    # stirred or centrifugal: the well-mixed model (methods/retentate.py)


def plan_step(index: int, step, volume: float, medium, previous, ctx) -> FilterPlan:
    """The method interface (exosim.methods): plan a filtration step."""
    from ..config import membrane_named
    from ..physics import membranes as mem
    from .centrifuge import medium_state

    where = f"steps[{index}]"
    membrane = membrane_named(step.membrane, ctx.membranes)
    if step.hold_up >= volume:
        raise ConfigError(ctx.source, f"{where}.hold_up",
                          f"{units.fmt_volume(step.hold_up)} is not less than the {units.fmt_volume(volume)} of "
                          f"material: nothing to filter")
    rho, eta = medium_state(medium, ctx.temperature)
    r_med = mem.median_pore_radius(membrane)
    density = mem.pore_density(membrane)
    r_m = mem.membrane_resistance(membrane)  # [1/m]
    head = None
    if step.rcf is not None:  # hydrostatic pressure of the column in the centrifugal field, rho a h
        head = rho * step.rcf * STANDARD_GRAVITY * step.head
        if head > membrane.max_pressure:
            raise ConfigError(ctx.source, f"{where}.rcf",
                              f"{step.rcf:,.0f} g over a {units.fmt(step.head, 'm', 'cm')} column pushes with "
                              f"{units.fmt(head, 'Pa', 'bar')}, above the {units.fmt(membrane.max_pressure, 'Pa', 'bar')}"
                              f" rating of {membrane.name}")
    clean = step.flux if step.flux is not None else (step.pressure or head) / (eta * r_m)
    warnings = []
    if step.flux is not None and eta * step.flux * r_m > membrane.max_pressure:
        raise ConfigError(ctx.source, f"{where}.flux",
                          f"{units.fmt(step.flux, 'm/s', 'L/m**2/h')} needs "
                          f"{units.fmt(eta * step.flux * r_m, 'Pa', 'bar')} across the clean {membrane.name}, above "
                          f"its {units.fmt(membrane.max_pressure, 'Pa', 'bar')} rating")
    if step.flux is not None and step.stop_flux is not None:
        raise ConfigError(ctx.source, f"{where}.stop_flux",
                          "a constant-flux filtration never sees its flux fall: it stops when the pressure reaches "
                          "the membrane's rating; remove stop_flux or drive it by pressure")
    mixed = step.mixing != "unstirred"
    if mixed and step.hold_up <= 0:
        raise ConfigError(ctx.source, f"{where}.hold_up",
                          f"a {step.mixing} device concentrates the feed down to its hold-up (a concentrator's dead "
                          f"stop, the liquid a stirred cell keeps): give hold_up, e.g. 250 uL")
    stop_flux = step.stop_flux if step.stop_flux is not None else (0.0 if mixed else DEFAULT_STOP_FLUX)
    filtrate = volume - step.hold_up
    if step.keep == "filtrate":
        volume_out, medium_out = filtrate, medium
    elif step.resuspend is not None:
        volume_out = step.hold_up + step.resuspend.volume
        medium_out = ctx.media[step.resuspend.medium] if step.resuspend.medium else medium
    else:
        volume_out, medium_out = step.hold_up, medium
    retentate = None
    if mixed:
        from . import retentate as R
        from ..kernels import polarisation as P
        kw = {}
        if step.mixing == "stirred":
            kw["mt_coeff"], kw["mt_power"] = R.stirred_cell(step.stir_speed, step.cell_radius, eta / rho)
        else:
            kw.update(mt_model=P.MT_NATURAL, mt_length=step.head, accel=step.rcf * STANDARD_GRAVITY)
        retentate = R.Retentate(
            membrane=membrane, area=step.area, resistance=r_m, viscosity=eta, density=rho,
            temperature=ctx.temperature, volume_in=volume, volume_end=step.hold_up, diavolumes=0.0,
            pressure=step.pressure or head, falling_head=head is not None, mt_model=kw.pop("mt_model", P.MT_POWER),
            adsorption=step.adsorption, stop_time=step.stop_time, stop_flux=stop_flux, **kw)
    label = step.name or f"filter {membrane.name}"
    return FilterPlan(
        index=index, label=label, kind=step.kind, membrane=membrane, area=step.area, pressure=step.pressure,
        flux=step.flux, head_pressure=head, keep=step.keep, stop_flux=stop_flux,
        pore_deposition=step.pore_deposition, batches=step.batches,
        volume_in=volume, filtrate_volume=filtrate, hold_up=step.hold_up, volume_out=volume_out, medium=medium,
        medium_out=medium_out, pore_median=r_med, pore_density=density, viscosity=eta, clean_flux=clean,
        process_time=retentate.clean_time() if mixed else
        _clean_time(volume, step.hold_up, clean, step.area, head is not None),
        temperature=ctx.temperature, warnings=tuple(warnings), adsorption=step.adsorption,
        stop_time=step.stop_time, retentate=retentate)


def _clean_time(volume: float, hold_up: float, clean_flux: float, area: float, falling: bool) -> float:
    """Filtration time [s] through the clean membrane (retentate.clean_time), a zero hold-up under a falling head
    taken as a thousandth of the feed (the column's pressure would vanish)."""
    from .retentate import clean_time

    return clean_time(volume, max(hold_up, 1e-3 * volume) if falling else hold_up, clean_flux, area, falling)


@dataclass
class PoreState:
    """The simulated patch: pore radii [m] and which are open."""

    radius: object
    open: object
    length: float

    def flows(self, np):
        """Relative flows r^4 of the open pores (0 for closed ones)."""
        return np.where(self.open, self.radius ** 4, 0.0)


def run_step(plan: FilterPlan, particles, device, *, seed: int, temperature: float, brownian: bool = True,
             max_step: float | None = None, chunk: int = 1 << 20, progress=None) -> dict:
    """Filter every particle still in the product and book its fate (module docstring). Returns the flux curve
    and the real process time."""
    import numpy as np

    from ..kernels.formulas import diffusion_coefficient
    from ..physics import membranes as mem

    if plan.retentate is not None:
        return _run_mixed(plan, particles, device, seed=seed, chunk=chunk, progress=progress)
    xp = device.xp
    ks = device.kernels()
    mb = plan.membrane
    n = particles.n
    active = device.to_host(particles.fate == fates.PRODUCT)
    # when each particle reaches the membrane: its depth in the feed, as a share of the feed volume; and the
    # uniform that decides whether a retained vesicle adsorbs
    share = _uniforms(device, ks, particles, seed, K.STREAM_ARRIVAL + (plan.index << 8))
    adsorb_u = _uniforms(device, ks, particles, seed, K.STREAM_ADSORB + (plan.index << 8)) \
        if plan.adsorption > 0 else None
    pitch = mem.pore_pitch(mb)
    order = np.argsort(np.where(active, share, np.inf), kind="stable")
    order = order[: int(active.sum())]
    diameter_h = device.to_host(particles.diameter).astype(np.float64)
    population_h = device.to_host(particles.population)
    mech_h = np.ascontiguousarray(device.to_host(particles.mechanics))

    n_real = plan.pore_density * plan.area
    m = int(min(MAX_PORES, max(MIN_PORES, round(n_real))))
    patch_area = m / plan.pore_density
    rng = np.random.default_rng([seed, plan.index, 0xF117])
    pores = PoreState(mem.sample_pore_radii(mb, m, rng), np.ones(m, dtype=bool), mb.thickness)
    k_real = particles.weight * (m / n_real)               # real arrivals at the patch per simulation particle
    eta, temp = plan.viscosity, temperature
    prm = np.zeros(K.NF_PARAMS)
    prm[K.PF_TEMPERATURE], prm[K.PF_VISCOSITY], prm[K.PF_LENGTH] = temp, eta, mb.thickness
    prm[K.PF_DEPOSIT] = plan.pore_deposition
    where = np.full(n, -1, dtype=np.int8)      # arrived ones: 0 filtrate, 1 retentate, 2 membrane, 3 damaged
    n_batch = plan.batches
    dv = plan.filtrate_volume / n_batch
    bounds = np.searchsorted(share[order], np.arange(n_batch + 1) * dv / plan.volume_in)
    r_cake = 0.0

    def state(filtered):
        """(flux [m/s], pressure [Pa], membrane resistance [1/m]) of the current pores and cake, after
        ``filtered`` [m^3]."""
        r_m = _membrane_resistance(pores, patch_area, np)
        if plan.flux is not None:
            return plan.flux, eta * plan.flux * (r_m + r_cake), r_m
        dp = plan.pressure if plan.head_pressure is None else \
            plan.head_pressure * (plan.volume_in - filtered) / plan.volume_in   # the column falls with the feed
        return dp / (eta * (r_m + r_cake)), dp, r_m

    flux, dp, r_m = state(0.0)
    j0 = flux
    t, filtered, stopped = 0.0, 0.0, False
    times, fluxes, pressures = [t], [flux], [dp]
    timed_out = False
    for b in range(n_batch):
        if plan.stop_time is not None and t >= plan.stop_time:   # checked between batches of arrivals
            stopped = timed_out = True
            break
        if flux <= 0 or not math.isfinite(r_m) \
                or flux < plan.stop_flux * j0 * (dp / pressures[0] if plan.head_pressure else 1.0) \
                or not dp <= mb.max_pressure:
            stopped = True
            break
        members = order[bounds[b]:bounds[b + 1]]
        if members.size:
            q = pores.flows(np)
            q_sum = float(q.sum())
            prm[K.PF_VELOCITY] = flux * r_m / (8.0 * pores.length)   # dP across the membrane / (8 eta L)
            prm[K.PF_PRESSURE] = eta * flux * r_m                      # dP across the membrane
            cdf = np.cumsum(q) / q_sum
            cdf[-1] = 1.0
            pid = np.ascontiguousarray(members.astype(np.int64) + particles.pid0)
            outcome = xp.zeros(members.size, dtype=np.uint8)
            pore = xp.zeros(members.size, dtype=np.int32)
            d_dev = xp.asarray(diameter_h[members])
            mech_dev = xp.asarray(np.ascontiguousarray(mech_h[members]))
            device.launch(ks.filter_arrivals, members.size, xp.asarray(pid), plan.index, seed, d_dev, mech_dev,
                          xp.asarray(cdf), xp.asarray(pores.radius), xp.asarray(prm), outcome, pore)
            outcome = device.to_host(outcome)
            d = diameter_h[members]
            k = k_real[population_h[members]]
            # a particle on a pore mouth seals it when it is smaller than the pore pitch (it sits on that pore
            # alone, Hermia's complete blocking); a larger one rests on several pores: the deposit, which adds a
            # cake when its deposition Peclet number J d / D reaches CAKE_PECLET (smaller ones diffuse back into
            # the feed)
            deposits = flux * d / diffusion_coefficient(d, temp, eta) >= CAKE_PECLET
            seals = d < pitch
            stays = (outcome == K.F_RETAINED) | ((outcome == K.F_PLUGGED) & ~seals)
            where[members] = np.select([outcome == K.F_PASSED, stays, outcome == K.F_DAMAGED], [0, 1, 3], 2)
            if adsorb_u is not None:
                vesicle = np.isfinite(mech_h[members][:, K.M_REDUCED_VOLUME])
                lost = stays & vesicle & (adsorb_u[members] < plan.adsorption)
                where[members[lost]] = 2
            r_cake += _cake(d[stays & deposits], particles.weight[population_h[members]][stays & deposits], plan.area)
            plugging = _plugging_arrivals(device, ks, d_dev, mech_dev, k * seals, pores, prm[K.PF_PRESSURE],
                                           prm[K.PF_TEMPERATURE], np)
            _plug(pores, plugging, np.random.default_rng([seed, plan.index, b, 0xB10C]), np)
            dep = outcome == K.F_DEPOSITED
            if dep.any():
                v_red = np.nan_to_num(mech_h[members][dep, K.M_REDUCED_VOLUME], nan=1.0)  # rigid: a full sphere
                vol = _deposits(pores, 0.5 * d[dep] * v_red ** (1.0 / 3.0), k[dep] * v_red * math.pi * d[dep] ** 3 / 6.0,
                                np)
                r2 = pores.radius ** 2 - vol / (math.pi * pores.length)
                pores.open &= r2 > 0
                pores.radius = np.sqrt(np.clip(r2, 0.0, None))
        end_flux, dp, r_m = state(filtered + dv)
        # time for the batch's volume: trapezoid rule on 1/J over the volume (exact where 1/J is linear in V, as
        # for a growing cake; second order otherwise)
        # (a batch that closes the last pore is timed at its starting flux)
        t += dv / plan.area * 0.5 * (1.0 / flux + (1.0 / end_flux if end_flux > 0 else 1.0 / flux))
        flux = end_flux
        filtered += dv
        times.append(t)
        fluxes.append(flux)
        pressures.append(dp)
        if progress is not None:
            progress(int(members.size))
    if progress is not None:
        progress(n - int(np.count_nonzero(where >= 0)))
    # never arrived (or after the filtration stopped): retentate
    where[active & (where < 0)] = 1
    keep_code = 0 if plan.keep == "filtrate" else 1
    discard = fates.RETENTATE_DISCARDED if plan.keep == "filtrate" else fates.FILTRATE_DISCARDED
    moves = ((active & (where == 1 - keep_code), discard), (active & (where == 2), fates.MEMBRANE_BOUND),
             (active & (where == 3), fates.DAMAGED))
    for mask, place in moves:
        fates.move(particles, xp.asarray(mask), place, plan.index, xp)
    volume_out = filtered if plan.keep == "filtrate" else plan.volume_out + (plan.filtrate_volume - filtered)
    extra = {"flux_time": np.array(times), "flux": np.array(fluxes),
             "pressure": np.where(np.isfinite(pressures), pressures, np.nan), "filtered_volume": filtered,
             "process_time": t, "stopped": stopped, "volume_out": volume_out}
    if stopped:
        why = f"stop_time {units.fmt(plan.stop_time, 's', 'min')} reached" if timed_out else \
            "the pressure reached the membrane's rating" if plan.flux is not None else \
            f"the flux fell below {100 * plan.stop_flux:g} % of its start"
        extra["warnings"] = (f"steps[{plan.index}]: filtration stopped after {units.fmt_volume(filtered)} of "
                             f"{units.fmt_volume(plan.filtrate_volume)} ({why}); what was not filtered stays in the "
                             f"retentate, and the following steps were planned with the full volume",)
    return extra


def _deposits(pores, radius, volume, np):
    """Volume [m^3] deposited in each pore by a batch's depositing particles (volume-equivalent radii ``radius``
    [m], real volume each stands for at the patch ``volume`` [m^3]). A simulation particle stands for k real ones,
    which spread over the open pores they can enter (radius above theirs) in proportion to the pores' flows q_j
    (the mean field of Hermia's standard blocking), instead of filling the one pore the simulation particle met:
    pore j gets q_j sum_{i: a_i < r_j} V_i / Q(> a_i), Q(> a) the open flow through pores wider than a. So the
    narrowing does not depend on the number of simulation particles."""
    q = pores.flows(np)
    by_r = np.argsort(pores.radius)
    r_sorted = pores.radius[by_r]
    q_above = np.concatenate([np.cumsum(q[by_r][::-1])[::-1], [0.0]])   # open flow through pores from each on
    q_wider = q_above[np.searchsorted(r_sorted, radius, side="right")]
    fits = q_wider > 0
    if not fits.any():
        return np.zeros(q.shape[0])
    by_a = np.argsort(radius[fits])
    a_sorted = radius[fits][by_a]
    carried = np.concatenate([[0.0], np.cumsum((volume[fits] / q_wider[fits])[by_a])])
    return q * carried[np.searchsorted(a_sorted, pores.radius, side="left")]


def _uniforms(device, ks, particles, seed, stream):
    """One Philox uniform in (0, 1) per particle held here, for ``stream`` (on the host)."""
    import numpy as np

    out = device.xp.empty(particles.n, dtype=np.float64)
    device.launch(ks.sample, particles.n, particles.pid0, seed, stream, 3, 0.0, 1.0, 0.0, 1.0, out)
    return device.to_host(out)


def _run_mixed(plan, particles, device, *, seed, chunk, progress):
    """A stirred cell or a centrifugal concentrator: the well-mixed retentate model (methods/retentate.py)."""
    from . import retentate as R

    extra = R.run(plan.retentate, particles, device, seed=seed, index=plan.index, keep=plan.keep, chunk=chunk,
                  progress=progress)
    if plan.keep == "retentate":
        left = extra["volume_out"] - plan.hold_up        # feed not filtered when the run stopped early
        extra["volume_out"] = plan.volume_out + left
    return extra


def _membrane_resistance(pores, patch_area, np):
    s = float(pores.flows(np).sum())
    return math.inf if s <= 0 else 8.0 * pores.length * patch_area / (math.pi * s)


def _cake(d, weight, area):
    """Cake resistance [1/m] added by retained particles of diameters ``d`` [m] that deposit on the membrane (each
    simulation particle stands for ``weight`` real ones on the whole membrane of ``area`` [m^2])."""
    from ..physics.membranes import cake_resistance

    if d.size == 0:
        return 0.0
    return float(cake_resistance(weight * math.pi * d ** 3 / 6.0, d, area).sum())


PLUG_BINS = 48   # pore-radius classes at which each batch's plugging arrivals are counted


def _plugging_arrivals(device, ks, diameter, mech, k, pores, pressure, temperature, np):
    """Real plugging arrivals K(r_j) = sum_i k_i [particle i plugs a pore of radius r_j] for every pore j, the
    pores grouped in PLUG_BINS classes of radius (geometric bins between the smallest and largest open pore; a
    single class when they are all the same): the kernel's ``plugs`` for every (particle, class) pair."""
    radius = pores.radius
    live = radius[pores.open & (radius > 0)]
    if live.size == 0:
        return np.zeros(radius.shape[0])
    lo, hi = float(live.min()), float(live.max())
    if hi <= lo * (1 + 1e-12):
        centres, cls = np.array([lo]), np.zeros(radius.shape[0], dtype=np.int64)
    else:
        edges = np.geomspace(lo, hi, PLUG_BINS + 1)
        centres = np.sqrt(edges[1:] * edges[:-1])
        cls = np.clip(np.searchsorted(edges, radius, side="right") - 1, 0, PLUG_BINS - 1)  # closed ones: any
    xp = device.xp
    table = xp.zeros((diameter.shape[0], centres.shape[0]), dtype=np.uint8)
    device.launch(ks.plug_table, diameter.shape[0], diameter, mech, xp.asarray(centres), float(pressure),
                  float(temperature), table)
    per_class = np.asarray(device.to_host(table), dtype=np.float64).T @ k
    return per_class[cls]


MAX_FLOW_LOSS = 0.1   # a plugging sub-step closes at most about this share of the open flow
MAX_SUBSTEPS = 256


def _plug(pores, plugging, rng, np):
    """Close pores hit by particles that plug them (``plugging``: K_j real plugging arrivals per pore class, from
    ``_plugging_arrivals``). With the flows frozen, pore j would receive such arrivals at the Poisson mean
    E_j = (q_j / Q) K_j. Arrivals within a batch come one after another and avoid pores already closed, so the
    batch is split into sub-steps whose expected flow loss L = sum_j q_j E_j is at most about MAX_FLOW_LOSS of the
    open flow, with the flows updated between them; within a sub-step the open flow is taken
    to fall linearly, which gives pore j the hazard H_j = E_j (Q / L) ln(Q / (Q - L)) (exact for equal pores that
    every arrival plugs: n arrivals close n pores); it closes with probability 1 - exp(-H_j)."""
    q = pores.flows(np)
    q_sum = float(q.sum())
    if q_sum <= 0:
        return
    loss = float(np.sum(q * q / q_sum * plugging))
    parts = int(min(MAX_SUBSTEPS, max(1, math.ceil(loss / (MAX_FLOW_LOSS * q_sum)))))
    for _ in range(parts):
        q = pores.flows(np)
        q_sum = float(q.sum())
        if q_sum <= 0:
            return
        expected = q / q_sum * plugging / parts
        lost = float(np.sum(q * expected))
        if lost <= 0:
            continue
        if lost >= q_sum:
            hazard = expected * 50.0
        else:
            hazard = expected * (q_sum / lost) * math.log(q_sum / (q_sum - lost))
        closes = rng.random(pores.radius.shape[0]) < -np.expm1(-hazard)
        pores.open &= ~closes
