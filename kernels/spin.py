"""One particle through one centrifuge run: scalar functions shared by the CPU and CUDA loops.

A run is a list of segments (h [s], mean omega^2 over the segment [rad^2/s^2]); acceleration and deceleration
ramps are several segments, a constant-speed plateau is one (or more when a maximum step is asked for).
Within a segment the medium is homogeneous and the rotor speed constant, so the radial motion
dr = s omega^2 r dt + sqrt(2 D) dW is linear and its transition exact (``ou_clock_variance``). Each particle
splits a segment into substeps (``substep_count``) short enough that the walls are close to straight lines in
the clock of u = r exp(-A t): there the pellet wall is absorbing (Brownian-bridge crossing test) and the
meniscus, like every other reflecting wall, reflects by the exact Skorokhod push (``reflection_push``), so that
a particle lighter than the medium ends pressed against the meniscus, never mirrored beyond it.

Positions are drawn afresh from the well-mixed tube at the start of every run (draws ``DRAW_START``...), so no
position survives between protocol steps.

Parameter vector ``prm`` (float64, SI): see the ``P_*`` indices. Segment table ``seg``: shape (n, 2).
Outcome codes: ``SUPERNATANT`` (in the liquid above the residual layer), ``PELLET``, ``RESIDUAL`` (in suspension
but inside the residual volume left over the pellet), ``PELLET_LOST`` (pelleted, then lost on the tube wall at
resuspension).
"""
import math

from numba.extending import register_jitable

from .formulas import (bridge_crossing_probability, bridge_may_cross, diffusion_coefficient, may_touch,
                       ou_clock_variance, reflection_push, sedimentation_coefficient)
from .layout import STREAM_BRIDGE, STREAM_SPIN
from .layout import (N_PARAMS, P_ABSORB, P_BROWNIAN, P_COS, P_DOSE, P_LENGTH, P_LOSS, P_R_MAX,  # noqa: F401
                     P_R_MENISCUS, P_R_RESIDUAL, P_R_TOP, P_RADIUS, P_RECORD, P_RHO_MEDIUM, P_SIN, P_T_RESIDUAL, P_TEMPERATURE,
                     P_VISCOSITY, PELLET, PELLET_LOST, RESIDUAL, SUPERNATANT)
from .philox import box_muller, random_words, sincos_turns, uniform_open
from .precision import wide

START_TRIES = 256          # rejection-sampling attempts for a fixed-angle start position
DRAW_START = 0             # draws 0 .. START_TRIES-1 place the particle
DRAW_LOSS = START_TRIES    # one draw for the wall loss
DRAW_STEP0 = START_TRIES + 1  # substep k draws DRAW_STEP0 + k (swinging: substeps k..k+3, k % 4 == 0, share one)

# substeps: |A| h <= AH_MAX keeps walls close to straight in the u clock (docs/physics.md, "Large steps");
# sqrt(2 D h) <= width / WALL_SEPARATION keeps a step from feeling two opposite walls at once
AH_MAX = 0.25
WALL_SEPARATION = 6.0
MAX_SUBSTEPS = 1 << 24


@register_jitable
def particle_rates(diameter, rho_particle, prm):
    """(s [s], D [m^2/s]) of a particle in the run's medium; D = 0 when Brownian motion is off."""
    s = sedimentation_coefficient(diameter, rho_particle, prm[P_RHO_MEDIUM], prm[P_VISCOSITY])
    d = prm[P_BROWNIAN] * diffusion_coefficient(diameter, prm[P_TEMPERATURE], prm[P_VISCOSITY])
    return s, d


@register_jitable
def substep_count(rate, diffusion, h, width):
    """Substeps for a segment of h [s] at rate A = s omega^2 [1/s] and diffusion D [m^2/s] between walls ``width``
    [m] apart: the fewest with |A| h_sub <= AH_MAX and 2 D h_sub <= (width / WALL_SEPARATION)^2."""
    walls = WALL_SEPARATION / width
    n = max(abs(rate) * h / AH_MAX, 2.0 * diffusion * h * walls * walls)
    return int(math.ceil(min(n, float(MAX_SUBSTEPS)))) if n > 1.0 else 1


@register_jitable
def bridge_uniforms(pid, step, k, seed):
    """Four uniforms in (0, 1) for the wall tests of substep k (stream STREAM_BRIDGE, drawn only when needed)."""
    w = random_words(pid, step, k, seed, STREAM_BRIDGE)
    return uniform_open(w[0]), uniform_open(w[1]), uniform_open(w[2]), uniform_open(w[3])


@register_jitable
def run_omega2_integral(seg):
    """Integral of omega^2 dt over the run's segments [rad^2/s] (each segment: duration, mean omega^2), in double
    precision (it is counted down substep by substep: the pellet dose)."""
    total = wide(0.0)
    for j in range(seg.shape[0]):
        total += seg[j, 0] * seg[j, 1]
    return total


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

    The bottom absorbs (pellets) only particles denser than the medium; for the others, which the field drives
    away from it, it reflects like the meniscus.

    Every substep is the exact transition of the free motion in the clock u = r exp(-A t), in which both walls move
    (b e^{-A t}, r_men e^{-A t}) and are treated as straight between their end points: the pellet wall absorbs
    a path that crosses it (end point beyond it, or the Brownian-bridge test), the meniscus (and the bottom when it
    does not absorb) pushes the path back by its Skorokhod reflection. One Philox call gives the normals of four
    substeps; the uniforms of the wall tests are drawn only for a particle near a wall. The transition
    coefficients are recomputed only when a segment differs from the one before (a split plateau reuses them).
    Positions are carried as x = r - r_men and the clock factors as e^{+-A h} - 1 (expm1): the drift of a substep,
    (x + r_men)(e^{A h} - 1), keeps every digit however small it is, where r e^{A h} would round it away once A h
    falls below the float's resolution (float32 at small steps: kernels/precision.py).
    Returns (outcome, r [m], dose [rad^2/s]): r is the radius where the particle ends (the wall radius when
    pelleted); dose is the integral of omega^2 dt from the moment it pelleted (taken mid-substep) to the end of the
    run, what it endures in the pellet (0 when not pelleted).
    """
    s, d = particle_rates(diameter, rho_particle, prm)
    r_men = prm[P_R_MENISCUS]
    b = prm[P_R_MAX]
    w_left = run_omega2_integral(seg)
    absorbing = prm[P_ABSORB] > 0.5 and s > 0.0  # the pellet holds only what the field drives into it
    length = b - r_men
    x = swinging_start(pid, step, seed, prm) - r_men
    h_prev = -1.0
    w2_prev = -1.0
    n_sub = 1
    grow1 = 0.0    # e^{A h} - 1
    shrink1 = 0.0  # e^{-A h} - 1
    var_u = 0.0
    sd_u = 0.0
    z0 = z1 = z2 = z3 = 0.0
    k = 0
    for j in range(seg.shape[0]):
        h = seg[j, 0]
        w2 = seg[j, 1]
        if h != h_prev or w2 != w2_prev:
            rate = s * w2
            n_sub = substep_count(rate, d, h, b - r_men)
            hs = h / float(n_sub)
            grow1 = math.expm1(rate * hs)
            shrink1 = math.expm1(-rate * hs)
            var_u = ou_clock_variance(rate, d, hs)
            sd_u = math.sqrt(var_u)
            h_prev = h
            w2_prev = w2
        for _ in range(n_sub):
            q = k & 3
            if q == 0:
                w = random_words(pid, step, DRAW_STEP0 + k, seed, STREAM_SPIN)
                z0, z1 = box_muller(w[0], w[1])
                z2, z3 = box_muller(w[2], w[3])
                z = z0
            elif q == 1:
                z = z1
            elif q == 2:
                z = z2
            else:
                z = z3
            v = x + sd_u * z          # free end point in the u clock, less r_men
            bottom = length + b * shrink1 - v   # its gaps to the walls, which move in that clock
            top = v - r_men * shrink1
            drawn = False
            ub = um = ur = 0.5
            w_left -= hs * w2
            if absorbing:
                if bottom <= 0.0:
                    return pellet_outcome(pid, step, seed, prm), b, w_left + 0.5 * hs * w2
                if bridge_may_cross(length - x, bottom, var_u):
                    ub, um, ur, _ = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                    if ub < bridge_crossing_probability(length - x, bottom, var_u):
                        return pellet_outcome(pid, step, seed, prm), b, w_left + 0.5 * hs * w2
            if may_touch(x, top, var_u):
                if not drawn:
                    ub, um, ur, _ = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                push = reflection_push(x, top, var_u, um)
                v += push
                bottom -= push
            if not absorbing and may_touch(length - x, bottom, var_u):
                if not drawn:
                    ub, um, ur, _ = bridge_uniforms(pid, step, k, seed)
                v -= reflection_push(length - x, bottom, var_u, ur)
            x = min(max(v + (v + r_men) * grow1, 0.0), length)
            k += 1
    r = r_men + x
    if r > prm[P_R_RESIDUAL]:
        return RESIDUAL, r, 0.0
    return SUPERNATANT, r, 0.0


@register_jitable
def tube_frame(x, y, z, prm):
    """Axial position t [m] (0 at the tube top, growing toward the bottom) and the perpendicular offset
    (wx, wy, wz) [m] of the point (x, y, z) from the axis of a fixed-angle tube.

    Rotation axis along z; the tube axis lies in the x-z plane, starts at (R_TOP, 0, 0) and points along
    (sin a, 0, -cos a), a the tube angle to the rotation axis.
    """
    return axis_frame(x - prm[P_R_TOP], y, z, prm)


@register_jitable
def axis_frame(vx, y, z, prm):
    """``tube_frame`` of the point (prm[P_R_TOP] + vx, y, z) [m]."""
    sa = prm[P_SIN]
    ca = prm[P_COS]
    t = vx * sa - z * ca
    return t, vx - t * sa, y, z + t * ca


@register_jitable
def fixed_angle_start(pid, step, seed, prm):
    """A point drawn uniformly from the liquid of a fixed-angle tube: the part of the tube cylinder at a
    horizontal radius >= the meniscus radius (the free surface is a cylinder about the rotation axis).

    Rejection sampling over the part of the axis that can hold liquid; after START_TRIES the last point is
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
    for k in range(START_TRIES):
        w = random_words(pid, step, DRAW_START + k, seed, STREAM_SPIN)
        t = t_lo + (length - t_lo) * uniform_open(w[0])
        rho = radius * math.sqrt(uniform_open(w[1]))
        sin_phi, cos_phi = sincos_turns(uniform_open(w[2]))  # phi uniform on [0, 2 pi)
        e1 = rho * cos_phi
        x = prm[P_R_TOP] + t * sa + e1 * ca
        y = rho * sin_phi
        z = -t * ca + e1 * sa
        rh = math.sqrt(x * x + y * y)
        if rh >= r_men:
            return x, y, z
    rh = math.sqrt(x * x + y * y)
    return x * r_men / rh, y * r_men / rh, z


@register_jitable
def fixed_angle_run(pid, step, seed, diameter, rho_particle, prm, seg):
    """3-D motion of one particle in a fixed-angle tube. The centrifugal drift omega^2 (x, y) is linear in x and y,
    so each substep uses the exact transition in x and y and free diffusion in z (physics.md). A particle that
    reaches the outer half of the tube wall or the bottom is pelleted (it slides down the wall to the pellet;
    Brownian-bridge test in between) -- if it is denser than the medium; for the others the whole wall and the
    bottom reflect. The inner half of the wall, the tube top and the meniscus reflect by their
    Skorokhod push along their normals, one after the other (``reflection_push``): a particle lighter than the
    medium is pressed onto the inner wall, slides up it with the axial part of its drift and collects at the top
    of the liquid, and never leaves the tube.

    Returns (outcome, x, y, z [m], dose [rad^2/s]): dose as for ``swinging_bucket_run``.
    """
    s, d = particle_rates(diameter, rho_particle, prm)
    w_left = run_omega2_integral(seg)
    length = prm[P_LENGTH]
    radius = prm[P_RADIUS]
    r_men = prm[P_R_MENISCUS]
    sa = prm[P_SIN]
    ca = prm[P_COS]
    absorbing = prm[P_ABSORB] > 0.5 and s > 0.0  # the pellet holds only what the field drives into it
    r_top = prm[P_R_TOP]
    x, y, z = fixed_angle_start(pid, step, seed, prm)
    vx = x - r_top  # x is carried from the tube top's radius (digits for small drifts, as in swinging_bucket_run)
    t, wx, wy, wz = axis_frame(vx, y, z, prm)
    rho = math.sqrt(wx * wx + wy * wy + wz * wz)
    rh = math.sqrt(x * x + y * y)
    k = 0
    for j in range(seg.shape[0]):
        rate = s * seg[j, 1]
        n_sub = substep_count(rate, d, seg[j, 0], 2.0 * radius)
        hs = seg[j, 0] / float(n_sub)
        grow1 = math.expm1(rate * hs)   # e^{A h} - 1
        growth = 1.0 + grow1
        var_u = ou_clock_variance(rate, d, hs)
        sd_u = math.sqrt(var_u)
        var_xy = growth * growth * var_u   # variance of x and of y over the substep [m^2]
        var_z = 2.0 * d * hs               # variance of z [m^2]
        var_axis = var_xy * sa * sa + var_z * ca * ca  # along the tube axis
        for _ in range(n_sub):
            w_left -= hs * seg[j, 1]
            wa = random_words(pid, step, DRAW_STEP0 + k, seed, STREAM_SPIN)
            n1, n2 = box_muller(wa[0], wa[1])
            n3, _ = box_muller(wa[2], wa[3])
            ex = vx + sd_u * n1
            ey = y + sd_u * n2
            vx = ex + (ex + r_top) * grow1
            y = ey + ey * grow1
            z = z + math.sqrt(var_z) * n3
            x = vx + r_top
            t_new, wx, wy, wz = axis_frame(vx, y, z, prm)
            rho_new = math.sqrt(wx * wx + wy * wy + wz * wz)
            outer = wx * x + wy * y > 0.0
            drawn = False
            u0 = u1 = u2 = u3 = 0.5
            if absorbing:
                if t_new >= length or (rho_new >= radius and outer):
                    return pellet_outcome(pid, step, seed, prm), x, y, z, w_left + 0.5 * hs * seg[j, 1]
                p_wall = 0.0
                if outer:
                    p_wall = bridge_crossing_probability(radius - rho, (radius - rho_new) / growth, var_u)
                p_bottom = bridge_crossing_probability(length - t, (length - t_new) / growth, var_u)
                if p_wall > 0.0 or p_bottom > 0.0:
                    u0, u1, u2, u3 = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                    if u0 < 1.0 - (1.0 - p_wall) * (1.0 - p_bottom):
                        return pellet_outcome(pid, step, seed, prm), x, y, z, w_left + 0.5 * hs * seg[j, 1]
            # reflecting walls, each by its push along its inward normal
            if (not (absorbing and outer)) and may_touch(radius - rho, radius - rho_new, var_xy):
                if not drawn:
                    u0, u1, u2, u3 = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                # variance of the offset's length: x-y and z parts of the unit normal w / rho
                var_n = (var_xy * (wx * wx + wy * wy) + var_z * wz * wz) / max(rho_new * rho_new, 1e-30)
                push = reflection_push(radius - rho, radius - rho_new, var_n, u1)
                if push > 0.0:
                    f = (rho_new - push) / rho_new - 1.0
                    vx += f * wx
                    y += f * wy
                    z += f * wz
                    t_new, wx, wy, wz = axis_frame(vx, y, z, prm)
            if may_touch(t, t_new, var_axis):
                if not drawn:
                    u0, u1, u2, u3 = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                push = reflection_push(t, t_new, var_axis, u2)
                vx += push * sa
                z -= push * ca
                t_new += push
            if not absorbing and may_touch(length - t, length - t_new, var_axis):
                if not drawn:
                    u0, u1, u2, u3 = bridge_uniforms(pid, step, k, seed)
                    drawn = True
                push = reflection_push(length - t, length - t_new, var_axis, u0)
                vx -= push * sa
                z += push * ca
            x = vx + r_top
            rh_new = math.sqrt(x * x + y * y)
            if may_touch(rh - r_men, rh_new - r_men, var_xy):
                if not drawn:
                    u0, u1, u2, u3 = bridge_uniforms(pid, step, k, seed)
                push = reflection_push(rh - r_men, rh_new - r_men, var_xy, u3)
                f = push / rh_new
                vx += x * f
                y += y * f
            x = vx + r_top
            t, wx, wy, wz = axis_frame(vx, y, z, prm)
            rho = math.sqrt(wx * wx + wy * wy + wz * wz)
            rh = math.sqrt(x * x + y * y)
            k += 1
    if t > prm[P_T_RESIDUAL]:
        return RESIDUAL, x, y, z, 0.0
    return SUPERNATANT, x, y, z, 0.0
