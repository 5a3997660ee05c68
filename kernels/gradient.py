"""One particle through one spin in a density gradient: scalar functions for the CPU and CUDA loops.

The medium's density, viscosity and osmolality are tables on a uniform grid in radius and time (``rho_tab[k, j]``,
``eta_tab[k, j]``, ``osm_tab[k, j]``: time k * P_TAB_DT from the start of the run, radius P_TAB_R0 + j * P_TAB_DR), computed on the
host by the Lamm solver as the gradient evolves, and read here by bilinear interpolation.

The radial motion is the Ito equation dr = f(r) dt + sqrt(2 D(r)) dW with
f(r) = s(r) omega^2 r + dD/dr, s(r) = d^2 (rho_p - rho_m(r)) / (18 eta(r)), D(r) = kB T / (3 pi eta(r) d)
(docs/reference/physics.md: the dD/dr term keeps the Boltzmann distribution right where the viscosity varies).
A vesicle's density rho_p(r, t) follows the local osmolality (``particle_density``), and s(r) and its slope
carry that change.
In a tube whose section A(r) varies along the radius (fixed angle; exosim.physics.column) f gains the geometric
drift D d ln A/dr, tabulated in row 0 of ``geo_tab`` on the medium tables' radial grid (zeros for a swinging
bucket's constant section), and a particle starts uniformly in volume: row 1 holds prm[P_START_N] radii at equal
volume steps across the loaded zone (with P_START_N <= 2 the start is uniform in r between P_START_LO and HI).
Each substep linearises the drift about the particle's position, f(r) ~ b + a (r - r0), and takes the exact
transition of that linear (Ornstein-Uhlenbeck) equation: mean r0 + b h phi1(a h), variance 2 D h phi1(2 a h),
phi1(x) = (e^x - 1) / x. Where the medium is homogeneous f is exactly A r and the step is exact (it equals the
differential-centrifugation transition); at a density band a < 0 and the step relaxes toward the band, stable for
any h (an exponential integrator). Substeps are chosen per particle: a particle's mean moves at most
``MAX_CELLS`` table cells and ``COLUMN_SHARE`` of the column per substep, a substep never spans two medium time
rows, never feels two walls, keeps a h <= AH_MAX where a > 0 and |a| h <= AH_BAND where a < 0 (|a| h <= AH_WALL where it
may reach a wall), and, where the section varies, diffuses at most GEO_SCALE of the section's length scale (docs/physics.md: each rule removed a measured
bias at default steps).

The meniscus reflects (Skorokhod push, ``reflection_push``); the tube bottom holds (pellets) a particle that is
denser than the medium there and reflects one that is not (a cushion stops the lighter ones).
"""
import math

from numba.extending import register_jitable

from .formulas import (ISO_OSMOLALITY, LUMEN_WATER_DENSITY, bridge_crossing_probability, bridge_may_cross,
                       diffusion_coefficient, may_touch, osmotic_density, reflection_push)
from .layout import (P_BROWNIAN, P_R_MAX, P_R_MENISCUS, P_START_HI, P_START_LO, P_START_N, P_TAB_DR, P_TAB_DT,
                     P_TAB_R0, P_TEMPERATURE, STREAM_SPIN, SUPERNATANT)
from .philox import box_muller, random_words, uniform_open
from .precision import wide
from .spin import AH_MAX, DRAW_START, DRAW_STEP0, WALL_SEPARATION, pellet_outcome

MAX_CELLS = 0.5  # a substep moves the particle's mean by at most this many table cells,
COLUMN_SHARE = 1.0 / 256.0  # and by at most this share of the liquid column (coarse tables)
AH_BAND = 1.0    # where the drift pulls toward a band (a < 0): |a| h <= AH_BAND, so that a particle samples the
                 # drift's curvature around the band (its skew, a viscosity gradient) instead of jumping to the
                 # linearised equilibrium
GEO_SCALE = 0.2  # where the section varies (fixed angle), a substep's diffusion length sqrt(2 D h) is at most this
                 # share of the section's local length scale 1 / sqrt((d ln A/dr)^2 + |d^2 ln A/dr^2|) (the
                 # geometric drift is singular at the tips of a tilted tube, A ~ distance^1.5),
GEO_COLUMN = 1.0 / 32.0  # and at most this share of the column: the section is flat in the middle (d ln A/dr ~ 0
                         # over a third of it) and curves toward both tips, so a local scale alone lets a step jump
                         # from the flat part into a curved one. Measured (tests/test_column.py, 1-nm particles
                         # mixed by diffusion in a Type 70 Ti tube, 10 equal-volume bins, 10,000 particles): 4-9
                         # standard errors of excess in the end bins with steps up to width/6 and the local rule
                         # alone, all bins within 2.4 standard errors with both.
AH_WALL = 0.05   # where a substep may reach a wall (within its drift plus WALL_REACH diffusion lengths),
WALL_REACH = 5.0  # |a| h <= AH_WALL: the wall's reflection (Skorokhod push) and crossing probability take the
                  # drift as constant over the substep, exact for a Brownian path with drift but not for the
                  # linearised (Ornstein-Uhlenbeck) one. Measured (tests/test_gradient_physics.py, a band cut by
                  # the reflecting bottom, 20,000 particles): mean off by 11.4 standard errors with |a| h up to 1,
                  # 4.9 at 0.35, 0.8 at 0.035
MIN_STEP = 1e-6  # [s] floor of an adaptive substep (a particle pinned where its drift changes sign)
MAX_SUBSTEPS = 1 << 30  # a particle that reaches this many substeps takes the rest of each segment in one (the
                        # counter DRAW_STEP0 + k must stay below 2^32); unreachable by the bundled protocols


@register_jitable
def phi1(x):
    """(e^x - 1) / x, with its limit 1 at x = 0 (accurate for every x)."""
    if abs(x) < 1e-8:
        return 1.0 + 0.5 * x
    return math.expm1(x) / x


@register_jitable
def time_row(t, prm, n_t):
    """(k, k1, fy): the rows of a medium table on either side of run time t [s] and the weight of the later one
    (clamped to the table; one row: 0, 0, 0). Computed once per substep for every table (one double-precision
    division of the run clock)."""
    if n_t <= 1:
        return 0, 0, 0.0
    y = float(t / prm[P_TAB_DT])
    k = min(max(int(math.floor(y)), 0), n_t - 2)
    return k, k + 1, min(max(y - float(k), 0.0), 1.0)


@register_jitable
def table_at(r, k, k1, fy, prm, tab):
    """(value, d value/dr) of a medium table at radius r [m] between rows k and k1 (weight fy of k1,
    ``time_row``): bilinear interpolation, clamped to the table's edges (beyond the first or last cell centre the
    medium is held constant, slope 0)."""
    n_r = tab.shape[1]
    dr = prm[P_TAB_DR]
    x = (r - prm[P_TAB_R0]) / dr
    j = min(max(int(math.floor(x)), 0), n_r - 2)
    fx = min(max(x - float(j), 0.0), 1.0)
    inside = 0.0 <= x <= float(n_r - 1)
    # a + f (b - a): exact where the table is constant (a medium of the particle's own density stays neutral)
    v0 = tab[k, j] + fy * (tab[k1, j] - tab[k, j])
    v1 = tab[k, j + 1] + fy * (tab[k1, j + 1] - tab[k, j + 1])
    return v0 + fx * (v1 - v0), (v1 - v0) / dr if inside else 0.0


@register_jitable
def particle_density(rho_iso, share, r, k, k1, fy, prm, osm_tab):
    """(density [kg/m^3], d density/dr [kg/m^4]) of a particle at radius r [m] between table rows k and k1
    (``time_row``): a vesicle with an osmotically active share ``share`` [1] of its volume takes the density its
    iso-osmotic density rho_iso [kg/m^3] becomes at the medium's local osmolality (``osm_tab`` [osmol/kg], the
    medium tables' grid; formulas.osmotic_density): water crosses its membrane in seconds, a spin takes hours.
    share = 0: rho_iso."""
    if share <= 0.0:
        return rho_iso, 0.0
    osm, dosm = table_at(r, k, k1, fy, prm, osm_tab)
    rho, drho_dosm = osmotic_density(rho_iso, share, osm, ISO_OSMOLALITY, LUMEN_WATER_DENSITY)
    return rho, drho_dosm * dosm


@register_jitable
def log_area_slope(r, prm, geo_tab):
    """(g, dg/dr): g = d ln A/dr [1/m] of the tube's section at radius r [m], linearly interpolated in row 0 of
    ``geo_tab`` (the medium tables' radial grid; held constant beyond its first and last points)."""
    n_r = geo_tab.shape[1]
    dr = prm[P_TAB_DR]
    x = (r - prm[P_TAB_R0]) / dr
    j = min(max(int(math.floor(x)), 0), n_r - 2)
    fx = min(max(x - float(j), 0.0), 1.0)
    g0 = geo_tab[0, j]
    g1 = geo_tab[0, j + 1]
    slope = (g1 - g0) / dr if 0.0 <= x <= float(n_r - 1) else 0.0
    return g0 + fx * (g1 - g0), slope


@register_jitable
def local_drift(r, t, w2, diameter, rho_iso, share, prm, rho_tab, eta_tab, osm_tab, geo_tab):
    """(b, a, D, s, k2): drift f(r) [m/s], its slope df/dr [1/s], the diffusion coefficient [m^2/s], the
    sedimentation coefficient [s] and the section's inverse length scale squared k2 = (d ln A/dr)^2 +
    |d^2 ln A/dr^2| [1/m^2] at radius r [m], run time t [s], omega^2 w2 [rad^2/s^2] (module docstring); the
    particle's density from ``particle_density``."""
    k, k1, fy = time_row(t, prm, rho_tab.shape[0])
    rho_m, drho = table_at(r, k, k1, fy, prm, rho_tab)
    eta, deta = table_at(r, k, k1, fy, prm, eta_tab)
    rho_p, drho_p = particle_density(rho_iso, share, r, k, k1, fy, prm, osm_tab)
    k = diameter * diameter / 18.0
    s = k * (rho_p - rho_m) / eta
    ds = k * (drho_p - drho - (rho_p - rho_m) * deta / eta) / eta
    d = prm[P_BROWNIAN] * diffusion_coefficient(diameter, prm[P_TEMPERATURE], eta)
    dd = -d * deta / eta  # dD/dr, the Ito term
    g, dg = log_area_slope(r, prm, geo_tab)  # geometric drift D d ln A/dr (0 for a constant section)
    # the section's inverse length scale squared: (d ln A/dr)^2 + |d^2 ln A/dr^2|
    return s * w2 * r + dd + d * g, (ds * r + s) * w2 + d * dg + dd * g, d, s, g * g + abs(dg)


@register_jitable
def gradient_start(pid, step, seed, prm, geo_tab):
    """Starting radius [m], uniform in volume across the loaded zone: uniform in r between prm[P_START_LO] and
    prm[P_START_HI] for a constant section, else interpolated in the equal-volume radii of geo_tab row 1."""
    w = random_words(pid, step, DRAW_START, seed, STREAM_SPIN)
    u = uniform_open(w[0])
    n_q = int(prm[P_START_N])
    if n_q <= 2:
        lo = prm[P_START_LO]
        return lo + (prm[P_START_HI] - lo) * u
    x = u * float(n_q - 1)
    j = min(int(math.floor(x)), n_q - 2)
    return geo_tab[1, j] + (x - float(j)) * (geo_tab[1, j + 1] - geo_tab[1, j])


@register_jitable
def gradient_run(pid, step, seed, diameter, rho_particle, share, prm, seg, rho_tab, eta_tab, osm_tab, geo_tab):
    """Radial motion of one particle through one spin in an evolving medium (module docstring).

    Args: global particle id, protocol step, seed; diameter [m], density in an iso-osmotic medium [kg/m^3],
    osmotically active share of the volume [1] (``particle_density``; 0 for a particle without an osmotic
    response); prm (kernels.layout); seg (n, 2) segments (duration [s], mean omega^2 [rad^2/s^2]); medium tables
    [kg/m^3], [Pa s], [osmol/kg]; geo_tab (2, n) geometry table (module docstring).
    Returns (outcome, r [m]): PELLET or PELLET_LOST at the bottom radius, else SUPERNATANT ("in the liquid") and
    the final radius, which the fractionation that follows reads.
    """
    r_men = prm[P_R_MENISCUS]
    b_wall = prm[P_R_MAX]
    width = b_wall - r_men
    cell = min(MAX_CELLS * prm[P_TAB_DR], COLUMN_SHARE * width)
    dt_tab = prm[P_TAB_DT]
    r = gradient_start(pid, step, seed, prm, geo_tab)
    t = wide(0.0)  # run time and time left in the segment: double precision in both (kernels/precision.py)
    k = 0
    for j in range(seg.shape[0]):
        left = wide(seg[j, 0])
        w2 = seg[j, 1]
        while left > 0.0:
            b, a, d, s, k2 = local_drift(r, t, w2, diameter, rho_particle, share, prm, rho_tab, eta_tab, osm_tab,
                                         geo_tab)
            h = float(left)
            row_end = float((math.floor(t / dt_tab) + 1.0) * dt_tab - t)
            if row_end <= MIN_STEP:  # at a row boundary (to rounding): the next row's end
                row_end += dt_tab
            h = min(h, row_end)
            if abs(b) * h > cell:
                h = cell / abs(b)
            if d > 0.0:
                walls = width / WALL_SEPARATION
                h = min(h, walls * walls / (2.0 * d))
                if k2 > 0.0:  # a section that varies: resolve it locally and across the column
                    column = GEO_COLUMN * width
                    h = min(h, GEO_SCALE * GEO_SCALE / (2.0 * d * k2), column * column / (2.0 * d))
            if a > 0.0 and a * h > AH_MAX:
                h = AH_MAX / a
            elif a < 0.0 and -a * h > AH_BAND:
                h = AH_BAND / -a
            if abs(a) * h > AH_WALL:
                reach = abs(b) * h + WALL_REACH * math.sqrt(2.0 * d * h)
                if r - r_men < reach or b_wall - r < reach:
                    h = AH_WALL / abs(a)
            h = min(max(h, MIN_STEP), float(left))
            if k >= MAX_SUBSTEPS:
                h = float(left)
            w = random_words(pid, step, DRAW_STEP0 + k, seed, STREAM_SPIN)
            z, _ = box_muller(w[0], w[1])
            mean = r + b * h * phi1(a * h)
            var = 2.0 * d * h * phi1(2.0 * a * h)
            y = mean + math.sqrt(var) * z
            if y >= b_wall or bridge_may_cross(b_wall - r, b_wall - y, var):
                # the bottom holds what is denser than the medium there; it returns the rest (a cushion)
                kb, kb1, fb = time_row(t, prm, rho_tab.shape[0])
                rho_b, _ = table_at(b_wall, kb, kb1, fb, prm, rho_tab)
                rho_pb, _ = particle_density(rho_particle, share, b_wall, kb, kb1, fb, prm, osm_tab)
                if rho_pb > rho_b:
                    if y >= b_wall or uniform_open(w[2]) < bridge_crossing_probability(b_wall - r, b_wall - y, var):
                        return pellet_outcome(pid, step, seed, prm), b_wall
                else:
                    y -= reflection_push(b_wall - r, b_wall - y, var, uniform_open(w[2]))
            if may_touch(r - r_men, y - r_men, var):
                y += reflection_push(r - r_men, y - r_men, var, uniform_open(w[3]))
            r = min(max(y, r_men), b_wall)
            t += h
            left -= h
            k += 1
    return SUPERNATANT, r
