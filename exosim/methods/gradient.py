"""Density-gradient ultracentrifugation (rate-zonal and isopycnic) in swinging-bucket and fixed-angle tubes:
planning (layers, loading, tubes, the medium's own evolution by the Lamm equation) and the kernel call that leaves
every particle at a position in the tube or in the pellet.

The medium: layers are stacked from the tube bottom up, the material is loaded on top (rate-zonal), into the
bottom layer (flotation) or mixed into the whole column; the solute's mass concentration c = w rho [kg/m^3] then
evolves by the Lamm equation (reflecting bottom; exosim.physics.lamm) with the solute's own
concentration-dependent s and D (exosim.physics.gradient_media). Its density and viscosity, tabulated on the
solver's cells every ``TABLE_ROWS``-th of the run, are what the particles feel (kernels/gradient.py).

Geometry: everything is 1-D in the distance r from the rotation axis, along the liquid column of the tube
(exosim.physics.column): a constant section in a swinging bucket; in a fixed-angle tube the section A(r) of the
tilted cylinder. Layers and the loaded zone are placed by volume: a layer poured upright reorients, volume for
volume, to the surfaces r = const as the rotor accelerates (Sheeler 1981, Centrifugation in Biology and Medical
Science, ch. 8: reorienting gradients), and back to horizontal layers as it stops, so a fraction taken by volume
from the top after the run holds what lay between the corresponding volumes from the meniscus during it. The
fixed-angle tube's geometric cylinder may hold less or more than the nominal tube volume (physics.md); its volumes
are scaled to it. Particles meet no wall in this 1-D picture: in a fixed-angle tube a particle that reaches the
outer wall slides along it toward larger r, which the radial coordinate already describes (at the wall's slower
speed in reality; not modelled).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import units
from ..errors import ConfigError
from ..kernels import layout as K
from ..kernels.constants import ISO_OSMOLALITY
from ..physics import rotors as geom
from .centrifuge import RotorRun

LAMM_CELLS = 200     # cells of the medium's Lamm grid along the liquid column (0.4 mm in an SW 41 Ti tube;
                     # 400 cells change the fraction densities of the bundled iodixanol protocol by < 0.1 kg/m^3)
TABLE_ROWS = 97      # medium tables: rows (times) over the run, ends included
SELF_FORMING_MIN_SPAN = 10.0  # kg/m^3: a uniform medium that forms less than this is warned about
BAND_SLOPE_CHANGE = 0.25  # a band narrower than a table cell where the density gradient changes by more than this
                          # from one cell to the next is warned about (band_warnings)


@dataclass(frozen=True)
class Mixture:
    """Material that carries a gradient solute: a buffer (``base``, a dilute medium) with solute mass fraction
    ``w`` of ``solute`` (a GradientMedium). Its density and viscosity are the solute's tables' (the buffer's own
    small offset from water is neglected once solute is present)."""

    base: object
    solute: object
    w: float

    @property
    def name(self) -> str:
        return f"{self.solute.name} {100 * self.w:.3g} % w/w in {self.base.name}"

    def state(self, temperature: float) -> tuple[float, float]:
        """(density [kg/m^3], viscosity [Pa s]) at temperature [K]."""
        return (float(self.solute.density(self.w, temperature)), float(self.solute.viscosity(self.w, temperature)))

    def diluted(self, volume: float, added: float, diluent, temperature: float) -> "Mixture":
        """This material (``volume`` [m^3]) with ``added`` [m^3] of a solute-free ``diluent``: solute mass is
        conserved (GradientMedium.mix); the buffer becomes the diluent."""
        mixed = self.solute.mix([volume, added], [self.w, 0.0], temperature)
        return Mixture(diluent, self.solute, float(mixed.mass_fraction))


@dataclass(frozen=True)
class GradientPlan(RotorRun):
    """Everything about a gradient step that does not depend on the particles. SI units."""

    index: int
    label: str
    kind: str
    rotor: object
    omega: float               # [rad/s]
    duration: float            # at speed [s]
    accel: float
    decel: float
    wall_loss: float
    tubes: int
    runs: int
    liquid_per_tube: float     # [m^3]
    load_per_tube: float       # [m^3]
    volume_in: float
    volume_out: float          # the whole tube content, pooled over the tubes [m^3]
    medium: object             # the gradient medium (GradientMedium)
    medium_out: object         # what a fractionation of the whole tube would give (mean solute mass fraction)
    r_meniscus: float
    r_bottom: float
    start: tuple               # radii [m] between which the loaded particles start
    column: object             # the liquid column along the radius (physics.column.Column)
    volume_scale: float        # column volume per nominal tube volume [1]
    grid: np.ndarray           # Lamm cell centres [m]
    times: np.ndarray          # table rows [s from the start of the run]
    density_table: np.ndarray  # (rows, cells) [kg/m^3]
    viscosity_table: np.ndarray  # (rows, cells) [Pa s]
    osmolality_table: np.ndarray  # (rows, cells) [osmol/kg]: what an osmotically responsive vesicle feels
    w_initial: np.ndarray      # solute mass fraction per cell at the start
    w_final: np.ndarray        # at the end of the run
    segments: np.ndarray = field(repr=False, default=None)
    c_initial: np.ndarray = field(repr=False, default=None)  # solute mass concentration per cell [kg/m^3]
    c_final: np.ndarray = field(repr=False, default=None)    # (the Lamm solver's conserved variable)
    warnings: tuple = ()       # one-line warnings about the step (printed by the CLI)
    osmotic: tuple = ()        # per population: (dry density [kg/m^3], inactive lumen share) or None
    temperature: float = 277.15

    @property
    def density_final(self) -> np.ndarray:
        return self.density_table[-1]


def _fail(source, where, problem):
    raise ConfigError(source, where, problem)


def initial_profile(grid, column, layers_w, layers_v, load_end, sample_w):
    """Solute mass fraction [1] at each radius of ``grid`` [m]: layers (w as a number, or (top, bottom) for a
    linear layer, linear in volume) stacked from the bottom up with their volumes [m^3] in ``column`` (a
    physics.column.Column), and the material loaded on top down to the radius ``load_end`` [m]."""
    w = np.empty_like(grid)
    below = 0.0
    v_grid = column.volume_beyond(grid)
    for wl, vol in zip(layers_w, layers_v):
        inside = (v_grid >= below) & (v_grid <= below + vol)
        if isinstance(wl, tuple):
            w_top, w_bot = wl
            w[inside] = w_bot + (w_top - w_bot) * (v_grid[inside] - below) / max(vol, 1e-300)
        else:
            w[inside] = wl
        below += vol
    w[grid < load_end] = sample_w
    return w


def _mixed(gm, w, share, sample_w, temperature):
    """Mass fraction(s) [1] of a layer (``w``: a number, or (top, bottom) of a linear layer) after every part of it
    takes ``share`` [1] of its volume of loaded material of mass fraction ``sample_w``: the solute's mass
    concentration mixes by volume, c' = (c + share c_s) / (1 + share), so the solute put in is the solute in the
    tube (volumes taken as additive, as the plan places layers by volume). A linear layer mixes at its two ends
    and stays linear in w between them (initial_profile), within 0.1 % of the pointwise mixture."""
    c_s = float(gm.concentration(sample_w, "w/v", temperature))

    def one(x):
        c = float(gm.concentration(x, "w/v", temperature))
        return float(gm.mass_fraction_from((c + share * c_s) / (1.0 + share), "w/v", temperature))

    return tuple(one(x) for x in w) if isinstance(w, tuple) else one(w)


def liquid_column(rotor):
    """(Column, scale): the tube's liquid column along the radius (exosim.physics.column) and the factor from the
    nominal tube volume to the column's geometric volume (1 for a swinging bucket)."""
    from ..physics import column

    if rotor.kind == "swinging":
        return column.Column.constant(rotor.r_min, rotor.r_max, rotor.tube_volume), 1.0
    tube = geom.FixedAngleTube.from_rotor(rotor.r_min, rotor.r_max, rotor.angle, rotor.tube_diameter)
    col = column.fixed_angle(tube)
    return col, col.volume / rotor.tube_volume


NEXT_STEP = "fractionate"  # the particles' positions must be read before the material is mixed again


def plan_step(index: int, step, volume: float, medium, previous, ctx) -> GradientPlan:
    """The method interface (exosim.methods): plan a gradient step."""
    return plan_gradient(index, step, volume, medium, ctx)


def plan_gradient(index: int, step, volume: float, medium, ctx) -> GradientPlan:
    """Plan gradient step ``index`` for ``volume`` [m^3] of material in ``medium``; ConfigError if it cannot work.

    ``ctx``: PlanContext (rotors, media, gradient media, temperature, source). Solves the medium's Lamm equation
    (a second or two for an 18-h run) so that the fractionation that follows knows every fraction's density.
    """
    from ..physics import lamm

    src = ctx.source
    where = f"steps[{index}]"
    rotor = step.spun_rotor(ctx.rotors)   # with the step's tube (geometry, volumes); omega from the catalog's
    gm = ctx.gradient_media.get(step.medium)
    if gm is None:
        _fail(src, f"{where}.medium", f"unknown gradient medium {step.medium!r}; known gradient media: "
                                      f"{', '.join(ctx.gradient_media)}")
    temperature = ctx.temperature
    layers_w = []
    for i, layer in enumerate(step.layers):
        try:
            if isinstance(layer.conc, tuple):
                layers_w.append(tuple(float(gm.mass_fraction_from_config(c, temperature)) for c in layer.conc))
            else:
                layers_w.append(float(gm.mass_fraction_from_config(layer.conc, temperature)))
        except ValueError as exc:
            _fail(src, f"{where}.layers[{i}].conc", str(exc))
    v_layers = sum(layer.volume for layer in step.layers)
    free = rotor.tube_volume - v_layers
    if free <= 0:
        _fail(src, f"{where}.layers", f"{units.fmt(v_layers, 'm**3', 'mL')} of layers overfill the "
                                      f"{units.fmt(rotor.tube_volume, 'm**3', 'mL')} tubes of {rotor.name}")
    load_cap = step.load_volume or free
    if step.load_volume is not None and step.load_volume > free * (1 + 1e-9):
        _fail(src, f"{where}.load_volume", f"{units.fmt(step.load_volume, 'm**3', 'mL')} does not fit over "
                                           f"{units.fmt(v_layers, 'm**3', 'mL')} of layers in a "
                                           f"{units.fmt(rotor.tube_volume, 'm**3', 'mL')} tube")
    tubes = max(1, math.ceil(volume / load_cap * (1 - 1e-9)))
    load = volume / tubes
    liquid = v_layers + load
    col, scale = liquid_column(rotor)

    def radius(v):  # radius [m] with v [m^3, nominal] of liquid beyond it
        return float(col.radius_at_volume(v * scale))

    r_men = radius(liquid)
    b = col.r_max
    sample_w = float(medium.w) if isinstance(medium, Mixture) and medium.solute is gm else 0.0
    volumes = [layer.volume * scale for layer in step.layers]
    load_end = r_men
    if step.load == "bottom":  # the material mixes into the bottom layer (solute mass conserved)
        layers_w[0] = _mixed(gm, layers_w[0], load / step.layers[0].volume, sample_w, temperature)
        volumes[0] += load * scale
        start = (radius(volumes[0] / scale), b)
    elif step.load == "mixed":  # mixed into the whole column, each layer taking its share (solute conserved)
        layers_w = [_mixed(gm, wl, load / v_layers, sample_w, temperature) for wl in layers_w]
        volumes = [v * liquid / v_layers for v in volumes]
        start = (r_men, b)
    else:
        load_end = radius(v_layers)
        start = (r_men, load_end)
    edges = lamm.uniform_edges(r_men, b, LAMM_CELLS)
    grid = 0.5 * (edges[1:] + edges[:-1])
    w0 = initial_profile(grid, col, layers_w, volumes, load_end, sample_w)
    omega = step.omega(ctx.rotors[step.rotor])
    segments = geom.speed_profile(omega, step.duration, step.accel, step.decel)
    total = float(np.sum(segments[:, 0]))
    times = np.linspace(0.0, total, TABLE_ROWS)
    w_grid = np.linspace(0.0, gm.w_max, 2001)
    c_grid = np.asarray(gm.concentration(w_grid, "w/v", temperature))  # kg/m^3, increasing

    def w_of(c):
        """Mass fraction at mass concentration c [kg/m^3]; where the solute piles up beyond the medium's table
        (against the bottom in long runs) the table's last row is used for density and viscosity -- the
        Lamm solver itself conserves c exactly."""
        return np.interp(c, c_grid, w_grid)

    s_grid = np.asarray(gm.sedimentation_coefficient(w_grid, temperature))  # tabulated once: the solver calls
    d_grid = np.asarray(gm.diffusion_coefficient(w_grid, temperature))      # these at every stage

    def s_of(c, r):
        return np.interp(c, c_grid, s_grid)

    def d_of(c, r):
        return np.interp(c, c_grid, d_grid)

    c0 = np.asarray(gm.concentration(w0, "w/v", temperature))
    res = lamm.solve(edges, c0, segments, s_of, d_of, geometry="tube" if col.uniform else col, bottom="reflecting",
                     save_times=times, iterations=1)
    w_t = w_of(np.asarray(res.profiles))
    rho_t = np.asarray(gm.density(w_t, temperature))
    eta_t = np.asarray(gm.viscosity(w_t, temperature))
    osm_t = osmolality_table(gm, w_t)
    w_mean = float(gm.mix(col.cell_volumes(edges), w_t[-1], temperature).mass_fraction)
    warnings = []
    if step.tube is not None and step.tube.fill_warning(liquid):
        warnings.append(f"{src}: {where}.tube: {step.tube.fill_warning(liquid)}")
    ends = [wl if isinstance(wl, tuple) else (wl, wl) for wl in layers_w]  # (top, bottom) of each layer
    for i in range(1, len(ends)):
        above, below = float(gm.density(ends[i][1], temperature)), float(gm.density(ends[i - 1][0], temperature))
        if above > below + 1e-6:
            warnings.append(f"{src}: {where}.layers[{i}]: denser at its bottom ({above / 1000:.4f} g/mL) than the "
                            f"layer under it ({below / 1000:.4f} g/mL); layers are listed from the tube bottom up")
            break
    span0 = float(np.ptp(rho_t[0]))
    span1 = float(np.ptp(rho_t[-1]))
    if span0 < SELF_FORMING_MIN_SPAN and span1 < SELF_FORMING_MIN_SPAN:
        warnings.append(f"{src}: {where}: the uniform {gm.name} forms a gradient of only "
                        f"{span1 / 1000:.4f} g/mL over the tube in this run (at {geom.rcf(omega, rotor.r_avg):,.0f} g "
                        f"for {units.fmt(step.duration, 's', 'h')}); particles will hardly separate by density")
    warnings.extend(band_warnings(f"{src}: {where}", ctx.sample, gm, grid, rho_t[-1], eta_t[-1], omega,
                                  temperature, start, float(np.sum(segments[:, 0] * segments[:, 1])) / omega ** 2))
    label = step.name or f"{gm.name} gradient {geom.rcf(omega, rotor.r_avg):,.0f} g"
    return GradientPlan(
        index=index, label=label, kind=step.kind, rotor=rotor, omega=omega, duration=step.duration,
        accel=step.accel, decel=step.decel, wall_loss=0.0, tubes=tubes,
        runs=math.ceil(tubes / rotor.places), liquid_per_tube=liquid, load_per_tube=load, volume_in=volume,
        volume_out=tubes * liquid, medium=gm, medium_out=Mixture(_base(medium, ctx), gm, w_mean),
        r_meniscus=r_men, r_bottom=b, start=start, column=col, volume_scale=scale, grid=grid, times=times, density_table=rho_t,
        viscosity_table=eta_t, osmolality_table=osm_t, w_initial=w0, w_final=w_t[-1], segments=segments, c_initial=c0,
        c_final=np.asarray(res.c),
        osmotic=tuple((p.osmotic.dry_density, p.osmotic.inactive_fraction) if p.osmotic else None
                      for p in (ctx.sample.populations if ctx.sample is not None else ())),
        temperature=temperature, warnings=tuple(warnings))


def _base(medium, ctx):
    """The buffer of the material (a dilute medium): PBS for material that carries no buffer of its own."""
    if isinstance(medium, Mixture):
        return medium.base
    return medium if hasattr(medium, "density_offset") else ctx.media["PBS"]


BUFFER_OSMOLALITY = ISO_OSMOLALITY  # osmol/kg: gradients made up in buffer (PBS-like), added to the solute's own osmolality


def osmolality_table(gm, w) -> np.ndarray:
    """Osmolality [osmol/kg] of the gradient medium ``gm`` at mass fractions ``w`` [1] (any shape), made up in
    buffer (BUFFER_OSMOLALITY added; iodixanol: iso-osmotic). Beyond the range of the medium's osmolality fit
    (CsCl: 5 mol/kg, 1.5 g/mL, where no vesicle bands) the value at the end of that range is used."""
    w = np.asarray(w, dtype=float)
    top = gm.osmotic_params.get("max_molality") if gm.osmotic_rule != "constant" else None
    if top is not None:
        w = np.minimum(w, top * gm.molar_mass / (1.0 + top * gm.molar_mass))
    return np.asarray(gm.osmolality(w, background=BUFFER_OSMOLALITY), dtype=float) * np.ones_like(w)


def _central(dist) -> float:
    """The central value of a config.Distribution: its value, mean, median or the middle of its range."""
    from ..config import UNIFORM
    return 0.5 * (dist.p1 + dist.p2) if dist.kind == UNIFORM else dist.p1


def band_width(diameter: float, gradient: float, omega: float, radius: float, temperature: float) -> float:
    """Standard deviation [m] of the isopycnic band of spheres of ``diameter`` [m] where the medium's density rises
    by ``gradient`` [kg/m^4] at ``radius`` [m], ``omega`` [rad/s], ``temperature`` [K]: the Boltzmann distribution
    in the linearised buoyancy V G omega^2 r (r - r_iso), sigma^2 = kB T / (V G omega^2 r), V = pi d^3 / 6
    (Meselson, Stahl & Vinograd 1957, PNAS 43:581, eq. 6 with the molar mass written as a particle's volume times
    its buoyant density gradient)."""
    from ..physics.gradient_media import BOLTZMANN
    volume = math.pi * diameter ** 3 / 6.0
    return math.sqrt(BOLTZMANN * temperature / (volume * gradient * omega ** 2 * radius))


def band_warnings(where: str, sample, gm, grid, rho, eta, omega, temperature, start, duration) -> list[str]:
    """A sanity guard: for each target population that reaches its isopycnic band in the run (the final medium:
    ``rho`` [kg/m^3], ``eta`` [Pa s] on ``grid`` [m]; Stokes drift from the loaded zone ``start`` (lo, hi) [m] at
    ``omega`` [rad/s] for ``duration`` [s at full speed]), a warning when its band (``band_width`` at its central
    size and banding density) is narrower than a cell of the medium table and sits where the density gradient
    changes by more than BAND_SLOPE_CHANGE from one cell to the next (an interface, a cushion): there the table's
    linear interpolation, not the medium, sets the band's position and width. A smooth gradient under a narrow
    band is resolved (the kernel interpolates a locally linear profile; tests/test_gradient_physics.py,
    test_band_does_not_depend_on_table_resolution)."""
    from ..physics.gradient_media import lumen_water_fraction

    if sample is None:
        return []
    out = []
    cell = float(grid[1] - grid[0])
    slope = np.diff(rho) / cell  # the gradient [kg/m^4] in each interval of the table
    for i, pop in enumerate(sample.populations):
        if not pop.target:
            continue
        rho_p = _central(pop.density)
        if pop.osmotic is not None and gm.osmotic_rule != "constant":
            water = lumen_water_fraction(rho_p, pop.osmotic.dry_density)
            rho_p = float(banding_density(gm, rho_p, water, pop.osmotic.inactive_fraction, temperature))
        inside = np.nonzero(rho >= rho_p)[0]
        if inside.size == 0 or inside[0] == 0:
            continue  # denser than all of the medium (pellets) or lighter than all of it (floats)
        j = int(inside[0])  # the band lies in the interval (j - 1, j)
        g = slope[j - 1]
        if g <= 0:
            continue
        r_iso = float(np.interp(rho_p, rho[j - 1:j + 1], grid[j - 1:j + 1]))
        d = _central(pop.diameter)
        # time to drift from the far end of the loaded zone to the band's cell (Stokes, the final medium)
        far = start[0] if abs(start[0] - r_iso) > abs(start[1] - r_iso) else start[1]
        way = (grid > min(far, r_iso)) & (grid < max(far, r_iso)) & (np.abs(grid - r_iso) > cell)
        speed = d * d * np.abs(rho_p - rho[way]) / (18.0 * eta[way]) * omega ** 2 * grid[way]
        with np.errstate(divide="ignore"):  # a cell of the particle's own density: it stops there (inf)
            reach = float(np.sum(cell / speed))
        if reach > duration:
            continue  # it does not reach the band in this run (a rate-zonal separation)
        sigma = band_width(d, g, omega, r_iso, temperature)
        near = [slope[k] for k in (j - 2, j) if 0 <= k < slope.size]
        change = max(abs(s - g) for s in near) / max(abs(g), *(abs(s) for s in near)) if near else 0.0
        if sigma < cell and change > BAND_SLOPE_CHANGE:
            out.append(f"{where}: populations[{i}] ({pop.name}) bands at {r_iso * 1e3:.1f} mm in a band "
                       f"{sigma * 1e6:.2g} um wide (SD), narrower than a cell of the medium table "
                       f"({cell * 1e6:.0f} um), where the density gradient changes by {100 * change:.0f} % from one "
                       f"cell to the next: the band's position and width follow the table's resolution there")
    return out


def banding_density(gm, rho_iso, water_fraction, inactive_fraction, temperature, iterations=48):
    """The density [kg/m^3] a vesicle has where it bands in a medium whose osmolality changes with concentration
    (sucrose, CsCl): the root w* of vesicle_density(rho_iso, osmolality(w)) = rho_medium(w), by bisection over the
    medium's range; vesicles denser (lighter) than the whole range take their density at its top (bottom).
    The vesicle's density follows the osmolality where it is (the kernel: kernels/gradient.py,
    ``particle_density``); this is where it ends, which is what an isopycnic band measures (the plan's band
    warnings use it). Arrays broadcast; SI units."""
    from ..physics.gradient_media import vesicle_density

    rho_iso = np.asarray(rho_iso, dtype=float)

    def excess(w):
        osm = np.asarray(gm.osmolality(w, background=BUFFER_OSMOLALITY))
        return vesicle_density(rho_iso, osm, water_fraction, inactive_fraction) - np.asarray(gm.density(w, temperature))

    lo = np.zeros_like(rho_iso)
    hi = np.full_like(rho_iso, gm.w_max)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        denser = excess(mid) > 0
        lo = np.where(denser, mid, lo)
        hi = np.where(denser, hi, mid)
    w = 0.5 * (lo + hi)
    return vesicle_density(rho_iso, np.asarray(gm.osmolality(w, background=BUFFER_OSMOLALITY)), water_fraction,
                           inactive_fraction)


def osmotic_share(plan: GradientPlan, particles, device):
    """Per particle, the osmotically active share of its volume [1] (kernels/gradient.py, ``particle_density``):
    water_fraction (1 - inactive_fraction) for a population with an osmotic response (config ``osmotic``; the
    lumen's water fraction from each vesicle's own density, ``lumen_water_fraction``), 0 for the others and in an
    iso-osmotic medium. On the device, in its float type."""
    from ..physics.gradient_media import lumen_water_fraction

    n = device.to_host(particles.density).shape[0]
    share = np.zeros(n)
    if plan.medium.osmotic_rule != "constant" and any(plan.osmotic):
        density = device.to_host(particles.density).astype(np.float64)
        population = device.to_host(particles.population)
        for p, params in enumerate(plan.osmotic):
            sel = population == p
            if params is not None and sel.any():
                dry, inactive = params
                share[sel] = lumen_water_fraction(density[sel], dry) * (1.0 - inactive)
    return device.xp.asarray(share, dtype=device.real)


def gradient_params(r_meniscus: float, r_bottom: float, grid: np.ndarray, times: np.ndarray, start: tuple,
                    temperature: float, *, brownian: bool = True, wall_loss: float = 0.0,
                    start_points: int = 2) -> np.ndarray:
    """The parameter vector of kernels.gradient (SI): a liquid column from r_meniscus to r_bottom [m]; medium
    tables on the uniform radial ``grid`` [m] at the uniformly spaced ``times`` [s from the start of the run];
    particles start between the radii ``start`` = (lo, hi) [m], uniformly in r (``start_points`` <= 2) or at
    equal volume steps from row 1 of the geometry table (``geometry_table``); temperature [K]."""
    prm = np.zeros(K.N_PARAMS)
    prm[K.P_TEMPERATURE] = temperature
    prm[K.P_BROWNIAN] = 1.0 if brownian else 0.0
    prm[K.P_LOSS] = wall_loss
    prm[K.P_R_MENISCUS] = r_meniscus
    prm[K.P_R_MAX] = r_bottom
    prm[K.P_TAB_R0] = grid[0]
    prm[K.P_TAB_DR] = grid[1] - grid[0]
    prm[K.P_TAB_DT] = times[1] - times[0] if len(times) > 1 else 1e30
    prm[K.P_START_LO], prm[K.P_START_HI] = start
    prm[K.P_START_N] = start_points
    return prm


def geometry_table(column, grid: np.ndarray, start: tuple) -> np.ndarray:
    """The kernel's geometry table (2, len(grid)) for a physics.column.Column: row 0, d ln A/dr [1/m] at the
    medium grid's radii [m]; row 1, radii [m] at equal volume steps across ``start`` = (lo, hi) [m] (zeros and
    unused for a constant section)."""
    tab = np.zeros((2, len(grid)))
    if not column.uniform:
        tab[0] = column.log_area_slope(grid)
        tab[1] = column.start_quantiles(start[0], start[1], len(grid))
    return tab


def kernel_params(plan: GradientPlan, temperature: float, *, brownian: bool = True) -> np.ndarray:
    """The parameter vector of kernels.gradient for a plan (SI)."""
    return gradient_params(plan.r_meniscus, plan.r_bottom, plan.grid, plan.times, plan.start, temperature,
                           brownian=brownian, wall_loss=plan.wall_loss,
                           start_points=2 if plan.column.uniform else len(plan.grid))


def run_tables(device, prm, segments, density_table, viscosity_table, diameter, density, active, *, seed: int,
               step: int, pid0: int = 0, chunk: int = 1 << 20, progress=None, geo_table=None,
               osmolality_table=None, share=None):
    """Integrate every active particle through one gradient run. Arrays on the device; ``geo_table`` from
    ``geometry_table`` (default: a constant section); ``osmolality_table`` [osmol/kg] (default: iso-osmotic) and
    per particle the osmotically active ``share`` of its volume [1] (``osmotic_share``; default 0: densities
    constant). Returns (outcome uint8, final radius [m]) on the device. Results do not depend on ``chunk``
    (random numbers keyed by particle id)."""
    xp = device.xp
    n = diameter.shape[0]
    kernel = device.kernels().spin_gradient
    real = device.real
    prm_d = xp.asarray(prm, dtype=real)
    seg_d = xp.asarray(np.ascontiguousarray(segments, dtype=real))
    rho_d = xp.asarray(np.ascontiguousarray(density_table, dtype=real))
    eta_d = xp.asarray(np.ascontiguousarray(viscosity_table, dtype=real))
    if geo_table is None:
        geo_table = np.zeros((2, np.shape(density_table)[1]))
    geo_d = xp.asarray(np.ascontiguousarray(geo_table, dtype=real))
    if osmolality_table is None:
        osmolality_table = np.full(np.shape(density_table), ISO_OSMOLALITY)
    osm_d = xp.asarray(np.ascontiguousarray(osmolality_table, dtype=real))
    diameter, density = xp.asarray(diameter, dtype=real), xp.asarray(density, dtype=real)
    share = xp.zeros(n, dtype=real) if share is None else xp.asarray(share, dtype=real)
    outcome = xp.zeros(n, dtype=np.uint8)
    pos = xp.zeros(n, dtype=real)
    for i0 in range(0, n, chunk):
        i1 = min(n, i0 + chunk)
        device.launch(kernel, i1 - i0, pid0 + i0, step, seed, diameter[i0:i1], density[i0:i1], share[i0:i1],
                      active[i0:i1], prm_d, seg_d, rho_d, eta_d, osm_d, geo_d, outcome[i0:i1], pos[i0:i1])
        if progress is not None:
            progress(i1 - i0)
    return outcome, pos


def run_step(plan: GradientPlan, particles, device, *, seed: int, temperature: float, brownian: bool = True,
             max_step: float | None = None, chunk: int = 1 << 20, progress=None) -> None:
    """Spin every particle still in the product through the gradient: each gets a position (radius [m]), a
    pelleted one +inf (the pellet; wall loss does not apply, the pellet is not resuspended). Nothing is
    discarded until the fractionation that follows."""
    from .. import fates

    xp = device.xp
    prm = kernel_params(plan, temperature, brownian=brownian)
    segments = plan.segments if max_step is None else geom.speed_profile(plan.omega, plan.duration, plan.accel,
                                                                         plan.decel, max_step)
    active = particles.fate == fates.PRODUCT
    outcome, pos = run_tables(device, prm, segments, plan.density_table, plan.viscosity_table, particles.diameter,
                              particles.density, active, seed=seed, step=plan.index, pid0=particles.pid0, chunk=chunk,
                              progress=progress, geo_table=geometry_table(plan.column, plan.grid, plan.start),
                              osmolality_table=plan.osmolality_table, share=osmotic_share(plan, particles, device))
    pelleted = (outcome == K.PELLET) | (outcome == K.PELLET_LOST)
    before = particles.position if particles.position is not None else xp.full(pos.shape[0], np.nan, dtype=pos.dtype)
    particles.position = xp.where(active, xp.where(pelleted, np.inf, pos), before)
