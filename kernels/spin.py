"""One particle through one centrifuge run: scalar functions shared by the CPU and CUDA loops.

A run is a list of segments (h [s], mean omega^2 over the segment [rad^2/s^2]); acceleration and deceleration
ramps are several segments, a constant-speed plateau is one (or more when a maximum step is asked for).
Within a segment the medium is homogeneous and the rotor speed constant, so the radial motion
dr = s omega^2 r dt + sqrt(2 D) dW is linear and its transition exact (``ou_clock_variance``); wall contacts
inside a segment are caught by the Brownian-bridge test (``bridge_crossing_probability``) in the clock of
u = r exp(-A t), where the pellet wall b exp(-A t) is close to linear over the step.

Positions are drawn afresh from the well-mixed tube at the start of every run (draws ``DRAW_START``...), so no
position survives between protocol steps.

Parameter vector ``prm`` (float64, SI): see the ``P_*`` indices. Segment table ``seg``: shape (n, 2).
Outcome codes: ``SUPERNATANT`` (in the liquid above the residual layer), ``PELLET``, ``RESIDUAL`` (in suspension
but inside the residual volume left over the pellet), ``PELLET_LOST`` (pelleted, then lost on the tube wall at
resuspension).
"""
import math

from numba.extending import register_jitable

from .formulas import (bridge_crossing_probability, bridge_may_cross, diffusion_coefficient, ou_clock_variance,
                       sedimentation_coefficient)
from .philox import STREAM_BRIDGE, STREAM_SPIN, TWO_PI, box_muller, random_words, uniform_open

SUPERNATANT = 0
PELLET = 1
RESIDUAL = 2
PELLET_LOST = 3

# parameter vector layout
P_RHO_MEDIUM = 0   # medium density [kg/m^3]
P_VISCOSITY = 1    # medium viscosity [Pa s]
P_TEMPERATURE = 2  # [K]
P_BROWNIAN = 3     # 1.0: Brownian motion on; 0.0: deterministic sedimentation
P_LOSS = 4         # probability that a pelleted particle is lost on the wall at resuspension
P_ABSORB = 5       # 1.0: pellet wall absorbs; 0.0: it reflects (sedimentation equilibrium)
P_R_MENISCUS = 6   # meniscus radius [m]
P_R_MAX = 7        # swinging bucket: tube bottom radius [m]
P_RESIDUAL = 8     # swinging: radius beyond which liquid is residual [m]; fixed: axial position [m]
P_R_TOP = 9        # fixed angle: radius of the tube axis at the tube top [m]
P_SIN = 10         # fixed angle: sin and cos of the tube angle to the rotation axis
P_COS = 11
P_LENGTH = 12      # fixed angle: tube axis length [m]
P_RADIUS = 13      # fixed angle: tube inner radius [m]
P_RECORD = 14      # 1.0: write the final position
N_PARAMS = 16

DRAW_START = 0          # draws 0 .. MAX_TRIES-1 place the particle
MAX_TRIES = 256
DRAW_LOSS = MAX_TRIES   # one draw for the wall loss
DRAW_SEG0 = MAX_TRIES + 1  # swinging: segments j..j+3 (j % 4 == 0) share DRAW_SEG0 + j; fixed: DRAW_SEG0 + j


@register_jitable
def particle_rates(diameter, rho_particle, prm):
    """(s [s], D [m^2/s]) of a particle in the run's medium; D = 0 when Brownian motion is off."""
    s = sedimentation_coefficient(diameter, rho_particle, prm[P_RHO_MEDIUM], prm[P_VISCOSITY])
    d = prm[P_BROWNIAN] * diffusion_coefficient(diameter, prm[P_TEMPERATURE], prm[P_VISCOSITY])
    return s, d


@register_jitable
def pellet_outcome(pid, step, seed, prm):
    """PELLET or, with probability prm[P_LOSS], PELLET_LOST."""
    w = random_words(pid, step, DRAW_LOSS, seed, STREAM_SPIN)
    if uniform_open(w[0]) < prm[P_LOSS]:
        return PELLET_LOST
    return PELLET


@register_jitable
def swinging_start(pid, step, seed, prm):
    """Starting radius [m], uniform between the meniscus and the bottom of a swinging-bucket tube (well mixed,
    constant cross-section)."""
    r_men = prm[P_R_MENISCUS]
    w = random_words(pid, step, DRAW_START, seed, STREAM_SPIN)
    return r_men + (prm[P_R_MAX] - r_men) * uniform_open(w[0])


@register_jitable
def swinging_bucket_run(pid, step, seed, diameter, rho_particle, prm, seg):
    """Radial motion of one particle in a swinging-bucket tube, meniscus (reflecting) to bottom (pellet).

    One Philox call gives the normals of four segments (draw DRAW_SEG0 + j, j a multiple of 4); a bridge test
    that can matter (particle near the wall) draws its uniform from STREAM_BRIDGE, draw j. The transition
    coefficients are recomputed only when a segment differs from the one before (a split plateau reuses them).
    Returns (outcome, r [m]): r is the radius where the particle ends (the wall radius when pelleted).
    """
    s, d = particle_rates(diameter, rho_particle, prm)
    r_men = prm[P_R_MENISCUS]
    b = prm[P_R_MAX]
    absorbing = prm[P_ABSORB] > 0.5
    r = swinging_start(pid, step, seed, prm)
    h_prev = -1.0
    w2_prev = -1.0
    growth = 1.0
    shrink = 1.0
    var_u = 0.0
    sd_u = 0.0
    z0 = z1 = z2 = z3 = 0.0
    for j in range(seg.shape[0]):
        h = seg[j, 0]
        w2 = seg[j, 1]
        if h != h_prev or w2 != w2_prev:
            rate = s * w2
            growth = math.exp(rate * h)
            shrink = 1.0 / growth
            var_u = ou_clock_variance(rate, d, h)
            sd_u = math.sqrt(var_u)
            h_prev = h
            w2_prev = w2
        k = j & 3
        if k == 0:
            w = random_words(pid, step, DRAW_SEG0 + j, seed, STREAM_SPIN)
            z0, z1 = box_muller(w[0], w[1])
            z2, z3 = box_muller(w[2], w[3])
            z = z0
        elif k == 1:
            z = z1
        elif k == 2:
            z = z2
        else:
            z = z3
        y = growth * (r + sd_u * z)
        if y >= b:
            if absorbing:
                return pellet_outcome(pid, step, seed, prm), b
            y = 2.0 * b - y
        elif absorbing and bridge_may_cross(b - r, (b - y) * shrink, var_u):
            u = uniform_open(random_words(pid, step, j, seed, STREAM_BRIDGE)[0])
            if u < bridge_crossing_probability(b - r, (b - y) * shrink, var_u):
                return pellet_outcome(pid, step, seed, prm), b
        if y < r_men:
            y = 2.0 * r_men - y
        r = min(max(y, r_men), b)
    if r > prm[P_RESIDUAL]:
        return RESIDUAL, r
    return SUPERNATANT, r


@register_jitable
def tube_frame(x, y, z, prm):
    """Axial position t [m] (0 at the tube top, growing toward the bottom) and the perpendicular offset
    (wx, wy, wz) [m] of the point (x, y, z) from the axis of a fixed-angle tube.

    Rotation axis along z; the tube axis lies in the x-z plane, starts at (R_TOP, 0, 0) and points along
    (sin a, 0, -cos a), a the tube angle to the rotation axis.
    """
    sa = prm[P_SIN]
    ca = prm[P_COS]
    vx = x - prm[P_R_TOP]
    t = vx * sa - z * ca
    return t, vx - t * sa, y, z + t * ca


@register_jitable
def fixed_angle_start(pid, step, seed, prm):
    """A point drawn uniformly from the liquid of a fixed-angle tube: the part of the tube cylinder at a
    horizontal radius >= the meniscus radius (the free surface is a cylinder about the rotation axis).

    Rejection sampling over the part of the axis that can hold liquid; after MAX_TRIES the last point is
    pushed out to the meniscus (only for fills far below any a protocol would use).
    """
    sa = prm[P_SIN]
    ca = prm[P_COS]
    length = prm[P_LENGTH]
    radius = prm[P_RADIUS]
    r_men = prm[P_R_MENISCUS]
    t_lo = max(0.0, (r_men - prm[P_R_TOP] - radius * ca) / sa)
    x = 0.0
    y = 0.0
    z = 0.0
    for k in range(MAX_TRIES):
        w = random_words(pid, step, DRAW_START + k, seed, STREAM_SPIN)
        t = t_lo + (length - t_lo) * uniform_open(w[0])
        rho = radius * math.sqrt(uniform_open(w[1]))
        phi = TWO_PI * uniform_open(w[2])
        e1 = rho * math.cos(phi)
        x = prm[P_R_TOP] + t * sa + e1 * ca
        y = rho * math.sin(phi)
        z = -t * ca + e1 * sa
        rh = math.sqrt(x * x + y * y)
        if rh >= r_men:
            return x, y, z
    rh = math.sqrt(x * x + y * y)
    return x * r_men / rh, y * r_men / rh, z


@register_jitable
def fixed_angle_run(pid, step, seed, diameter, rho_particle, prm, seg):
    """3-D motion of one particle in a fixed-angle tube. The centrifugal drift omega^2 (x, y) is linear in x and y,
    so each segment uses the exact transition in x and y and free diffusion in z (physics.md). A particle that
    reaches the outer half of the tube wall or the bottom is pelleted (it slides down the wall to the pellet);
    the inner wall, the tube top and the meniscus reflect.

    Returns (outcome, x, y, z) [m].
    """
    s, d = particle_rates(diameter, rho_particle, prm)
    length = prm[P_LENGTH]
    radius = prm[P_RADIUS]
    r_men = prm[P_R_MENISCUS]
    sa = prm[P_SIN]
    ca = prm[P_COS]
    absorbing = prm[P_ABSORB] > 0.5
    x, y, z = fixed_angle_start(pid, step, seed, prm)
    t, wx, wy, wz = tube_frame(x, y, z, prm)
    rho = math.sqrt(wx * wx + wy * wy + wz * wz)
    for j in range(seg.shape[0]):
        h = seg[j, 0]
        rate = s * seg[j, 1]
        wa = random_words(pid, step, DRAW_SEG0 + j, seed, STREAM_SPIN)
        n1, n2 = box_muller(wa[0], wa[1])
        n3, _ = box_muller(wa[2], wa[3])
        growth = math.exp(rate * h)
        var_u = ou_clock_variance(rate, d, h)
        sd_u = math.sqrt(var_u)
        x = growth * (x + sd_u * n1)
        y = growth * (y + sd_u * n2)
        z = z + math.sqrt(2.0 * d * h) * n3
        t_new, wx, wy, wz = tube_frame(x, y, z, prm)
        rho_new = math.sqrt(wx * wx + wy * wy + wz * wz)
        outer = wx * x + wy * y > 0.0
        if absorbing and (t_new >= length or (rho_new >= radius and outer)):
            return pellet_outcome(pid, step, seed, prm), x, y, z
        if absorbing:
            p_wall = 0.0
            if outer:
                p_wall = bridge_crossing_probability(radius - rho, (radius - rho_new) / growth, var_u)
            p_bottom = bridge_crossing_probability(length - t, (length - t_new) / growth, var_u)
            if p_wall > 0.0 or p_bottom > 0.0:
                u = uniform_open(random_words(pid, step, j, seed, STREAM_BRIDGE)[0])
                if u < 1.0 - (1.0 - p_wall) * (1.0 - p_bottom):
                    return pellet_outcome(pid, step, seed, prm), x, y, z
        # reflections: bottom (when not absorbing), wall, top, meniscus
        if t_new > length:
            shift = 2.0 * (t_new - length)
            x -= shift * sa
            z += shift * ca
        if rho_new > radius:
            f = (2.0 * radius - rho_new) / rho_new - 1.0
            x += f * wx
            y += f * wy
            z += f * wz
        if t_new < 0.0:
            x -= 2.0 * t_new * sa
            z += 2.0 * t_new * ca
        rh = math.sqrt(x * x + y * y)
        if rh < r_men:
            f = (2.0 * r_men - rh) / rh
            x *= f
            y *= f
        t, wx, wy, wz = tube_frame(x, y, z, prm)
        rho = math.sqrt(wx * wx + wy * wy + wz * wz)
    if t > prm[P_RESIDUAL]:
        return RESIDUAL, x, y, z
    return SUPERNATANT, x, y, z
