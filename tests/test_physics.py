"""Centrifugation physics against closed forms and independent references (docs/physics.md, "Validation").

Tolerances: 5 Monte Carlo standard errors (binomial sqrt(p(1-p)/n) for fractions, sample-moment errors for
moments) plus, where stated, the known systematic error of the reference formula.
"""
import math

import numpy as np
import pytest

from exosim import CPU
from exosim.config import load_rotors
from exosim.kernels import formulas, spin
from exosim.methods.centrifuge import FixedTube, SwingingTube, kernel_params, run_tube, tube_geometry
from exosim.physics import media, rotors as geom

T20 = 293.15
RHO_W, ETA_W = media.water_density(T20), media.water_viscosity(T20)


def fraction_pelleted(device, geometry, segments, d, rho_p, n, *, seed=1, brownian=True, step=0):
    prm = kernel_params(geometry, RHO_W, ETA_W, T20, brownian=brownian)
    xp = device.xp
    outcome, _ = run_tube(device, geometry, prm, segments, xp.full(n, d), xp.full(n, rho_p),
                          xp.ones(n, dtype=bool), seed=seed, step=step)
    return float(np.mean(device.to_host(outcome) == spin.PELLET))


def within(value, expected, p, n, k=5.0, extra=0.0):
    """|value - expected| <= k binomial standard errors (+ a stated systematic allowance)."""
    se = math.sqrt(max(p * (1 - p), 1.0 / n) / n)
    assert abs(value - expected) <= k * se + extra, f"{value} vs {expected} (se {se:.2g})"


SW41 = load_rotors()["SW 41 Ti"]


@pytest.mark.both_precisions
def test_swinging_bucket_fraction_pelleted_matches_livshits():
    """No diffusion, uniform start over the full tube: P = (r_max / L)(1 - exp(-s w^2 t)) (Livshits 2015)."""
    d, rho_p = 120e-9, 1150.0
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    omega = geom.rpm_to_omega(30000)
    geometry = tube_geometry(SW41, SW41.tube_volume, 0.0)
    for t in (600.0, 1800.0, 3600.0):
        lam_t = s * omega ** 2 * t
        expected = min(1.0, SW41.r_max / (SW41.r_max - SW41.r_min) * (1 - math.exp(-lam_t)))
        got = fraction_pelleted(CPU(), geometry, geom.speed_profile(omega, t), d, rho_p, 20000, brownian=False)
        within(got, expected, expected, 20000)


def test_pelleting_time_is_k_over_s():
    """At maximum speed a particle crosses the full tube in t = k / s (k-factor in h S): everything is pelleted
    just after it, and just before it the pelleted fraction is the closed form, below 1."""
    d, rho_p = 100e-9, 1150.0
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    t_k = SW41.k_factor() / (s / 1e-13) * 3600.0
    assert t_k == pytest.approx(geom.pelleting_time(SW41.r_min, SW41.r_max, SW41.max_speed, s), rel=2e-3)
    geometry = tube_geometry(SW41, SW41.tube_volume, 0.0)
    t_exact = geom.pelleting_time(SW41.r_min, SW41.r_max, SW41.max_speed, s)
    after = fraction_pelleted(CPU(), geometry, geom.speed_profile(SW41.max_speed, t_exact * 1.0001), d, rho_p,
                              5000, brownian=False)
    assert after == 1.0
    before_t = 0.9 * t_exact
    expected = SW41.r_max / (SW41.r_max - SW41.r_min) * (1 - math.exp(-s * SW41.max_speed ** 2 * before_t))
    before = fraction_pelleted(CPU(), geometry, geom.speed_profile(SW41.max_speed, before_t), d, rho_p, 20000,
                               brownian=False)
    assert before < 1.0
    within(before, expected, expected, 20000)


def test_ramps_add_a_third_of_their_duration():
    """A linear ramp contributes omega^2 T / 3 to the integral of omega^2 dt, and the segments carry it exactly."""
    omega = 3000.0
    seg = geom.speed_profile(omega, 600.0, accel=120.0, decel=300.0)
    assert np.sum(seg[:, 0]) == pytest.approx(1020.0)
    assert np.sum(seg[:, 0] * seg[:, 1]) == pytest.approx(omega ** 2 * (600.0 + 40.0 + 100.0), rel=1e-12)
    fine = geom.speed_profile(omega, 600.0, accel=120.0, decel=300.0, max_step=1.0)
    assert np.sum(fine[:, 0] * fine[:, 1]) == pytest.approx(omega ** 2 * 740.0, rel=1e-12)


def far_rotor_tube(length=2e-3, radius=10.0):
    """A synthetic swinging tube far from the axis: the field is uniform over it to length/radius (2e-4)."""
    return SwingingTube(radius, radius + length, radius + length)


def wald_pelleted_fraction(v, D, L, t, n_grid=20001):
    """Fraction of particles, uniform over a column of length L, that reach the bottom by time t under constant
    drift v and diffusion D (inverse-Gaussian first passage; reflecting top neglected: it is far upstream)."""
    ell = np.linspace(0.0, L, n_grid)[1:]
    sd = math.sqrt(4 * D * t)  # Phi(y / sqrt(2 D t)) = erfc(-y / sqrt(4 D t)) / 2
    from math import erfc
    cdf = np.array([0.5 * erfc(-(v * t - x) / sd) + math.exp(min(v * x / D, 700.0)) * 0.5 * erfc((v * t + x) / sd)
                    for x in ell])
    return float(np.trapezoid(np.concatenate([[1.0], cdf]), np.linspace(0.0, L, n_grid)) / L)


@pytest.mark.both_precisions
@pytest.mark.parametrize("n_steps", [1, 200])
def test_brownian_pelleting_matches_first_passage_at_any_step(n_steps):
    """With diffusion, the pelleted fraction matches the inverse-Gaussian (Wald) first-passage result whether the
    run is one exact step (Brownian-bridge check at the wall) or 200 small ones: the integrator does not depend
    on the step size. Without the bridge, one step would miss every particle that touched the wall and came back."""
    tube = far_rotor_tube()
    d, rho_p = 10e-9, 1100.0
    D = formulas.diffusion_coefficient(d, T20, ETA_W)
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    t = (0.2e-3) ** 2 / (2 * D)  # diffusion length sqrt(2 D t) = 0.2 mm, a tenth of the column
    omega = math.sqrt(0.1e-3 / t / (s * tube.r_meniscus))  # drift 0.1 mm over the run
    v = s * omega ** 2 * (tube.r_meniscus + 1e-3)
    expected = wald_pelleted_fraction(v, D, tube.r_bottom - tube.r_meniscus, t)
    n = 20000
    got = fraction_pelleted(CPU(), tube, geom.speed_profile(omega, t, max_step=t / n_steps), d, rho_p, n)
    # systematic: the field varies by 2e-4 over the tube (mean taken mid-tube), P changes by less than that
    within(got, expected, expected, n, extra=2e-4)
    # diffusion matters here: drift alone, or a one-step check of the end point only, would give 0.1/2 = 0.05
    assert expected > 0.05 + 10 * math.sqrt(0.05 * 0.95 / n)


def test_mean_squared_displacement_is_2dt():
    """No field: the radial displacement has mean 0 and mean square 2 D t (Einstein 1905)."""
    d, rho_p = 100e-9, 1150.0
    D = formulas.diffusion_coefficient(d, T20, ETA_W)
    t = 1000.0
    geometry = tube_geometry(SW41, SW41.tube_volume, 0.0)
    prm = kernel_params(geometry, RHO_W, ETA_W, T20, record=True)
    n = 20000
    for max_step in (None, t / 50):
        seg = geom.speed_profile(0.0, t, max_step=max_step)
        outcome, pos = run_tube(CPU(), geometry, prm, seg, np.full(n, d), np.full(n, rho_p), np.ones(n, bool),
                                seed=5, step=3, record=True)
        r0 = np.array([spin.swinging_start(i, 3, 5, prm) for i in range(n)])
        dr = pos[:, 0] - r0
        msd = np.mean(dr ** 2)
        assert abs(msd - 2 * D * t) < 5 * 2 * D * t * math.sqrt(2.0 / n)
        assert abs(np.mean(dr)) < 5 * math.sqrt(2 * D * t / n)


def test_sedimentation_equilibrium_profile():
    """Reflecting bottom, long run: the radial distribution is c(r) ~ exp(s w^2 r^2 / (2 D)) (physics.md).
    Compared in 10 bins, each within 5 binomial standard errors, at two step sizes (the O(h) boundary error of
    mirror reflection is below the Monte Carlo error at these steps: sqrt(2 D h) is 1/11 and 1/16 of the column)."""
    d, rho_p = 20e-9, 1360.0
    D = formulas.diffusion_coefficient(d, T20, ETA_W)
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    r0, r1 = 0.1, 0.1005
    a_target = 2.0 / (r1 ** 2 - r0 ** 2)  # exp(a r^2) changes by e^2 over the column
    omega = math.sqrt(a_target * 2 * D / s)
    tube = SwingingTube(r0, r1, r1)
    prm = kernel_params(tube, RHO_W, ETA_W, T20, absorbing=False, record=True)
    t_end = 8 * (r1 - r0) ** 2 / D
    n = 20000
    edges = np.linspace(r0, r1, 11)
    grid = np.linspace(r0, r1, 100001)
    dens = np.exp(a_target * (grid ** 2 - r1 ** 2))
    cum = np.concatenate([[0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    expected = np.diff(np.interp(edges, grid, cum)) / cum[-1]
    hist = {}
    for h in (t_end / 4000, t_end / 8000):
        _, pos = run_tube(CPU(), tube, prm, geom.speed_profile(omega, t_end, max_step=h), np.full(n, d),
                          np.full(n, rho_p), np.ones(n, bool), seed=11, step=0, record=True)
        hist[h] = np.histogram(pos[:, 0], bins=edges)[0] / n
    coarse, fine = hist.values()
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(fine - expected) <= 5 * se)
    assert np.all(np.abs(coarse - expected) <= 5 * se)
    assert np.all(np.abs(coarse - fine) <= 5 * math.sqrt(2) * se)  # converged in the step size
    assert expected[-1] / expected[0] > 5  # the profile is far from flat: the test can tell


def test_fixed_angle_matches_livshits_in_the_uniform_field_limit():
    """Fixed-angle tube far from the axis (uniform field), no diffusion: the pelleted fraction is the chord formula
    P = (2/pi)(asin x + x sqrt(1 - x^2)), x = v t / L with L = tube diameter / cos(angle) (Livshits 2015).
    Systematic allowance, from the geometry: only particles within the horizontal travel (times sin(angle)) of either
    end of the tube can meet an end instead of the wall, a share 2 x chord sin(angle) / length of the liquid; the
    field varies by length sin(angle) / r_axis (4e-4) across the tube."""
    angle = math.radians(25.0)
    radius, length, r_axis = 0.5e-3, 100e-3, 100.0
    tube = geom.FixedAngleTube(angle, radius, r_axis, length)
    fixed = FixedTube(tube, tube.meniscus_radius(1.0), length)
    d, rho_p = 200e-9, 1150.0
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    r_mid = r_axis + 0.5 * length * math.sin(angle)
    chord = 2 * radius / math.cos(angle)
    n = 20000
    for x in (0.2, 0.5, 0.8):
        t = 600.0
        omega = math.sqrt(x * chord / t / (s * r_mid))
        expected = 2 / math.pi * (math.asin(x) + x * math.sqrt(1 - x * x))
        got = fraction_pelleted(CPU(), fixed, geom.speed_profile(omega, t), d, rho_p, n, brownian=False)
        ends = 2 * x * chord * math.sin(angle) / length
        field = length * math.sin(angle) / r_axis
        within(got, expected, expected, n, extra=ends + field)


def test_fixed_angle_full_rotor_pellets_faster_than_swinging():
    """Same particle, same speed and time: a fixed-angle rotor's short path across the tube pellets more than a
    swinging bucket whose path is the whole tube (the reason fixed-angle k-factors are small)."""
    rotors = load_rotors()
    t70 = rotors["Type 70 Ti"]
    d, rho_p = 80e-9, 1150.0
    omega = geom.rpm_to_omega(30000)
    seg = geom.speed_profile(omega, 1200.0)
    fixed = fraction_pelleted(CPU(), tube_geometry(t70, t70.tube_volume, 0.0), seg, d, rho_p, 4000)
    swing = fraction_pelleted(CPU(), tube_geometry(SW41, SW41.tube_volume, 0.0), seg, d, rho_p, 4000)
    assert fixed > swing + 5 * math.sqrt(0.25 / 4000) * 2


def test_fixed_angle_meniscus_volume():
    """The meniscus radius splits the tube volume in the asked-for fraction (independent Monte Carlo check)."""
    t70 = load_rotors()["Type 70 Ti"]
    tube = geom.FixedAngleTube.from_rotor(t70.r_min, t70.r_max, t70.angle, t70.tube_diameter)
    rng = np.random.default_rng(0)
    n = 400000
    t = rng.uniform(0, tube.length, n)
    rho = tube.radius * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    x = tube.r_top + t * math.sin(tube.angle) + rho * np.cos(phi) * math.cos(tube.angle)
    rh = np.hypot(x, rho * np.sin(phi))
    for f in (0.3, 0.7, 1.0):
        share = np.mean(rh >= tube.meniscus_radius(f))
        assert abs(share - f) < 5 * math.sqrt(f * (1 - f) / n) + 2e-3  # 2e-3: grid quantile resolution


@pytest.mark.parametrize("rotor_name,fill,rcf", [("Type 70 Ti", 1.0, 50000), ("Type 70 Ti", 0.3, 10000),
                                                 ("TLA-110", 0.7, 10000)])
@pytest.mark.both_precisions
def test_fixed_angle_real_rotor_matches_independent_geometry(rotor_name, fill, rcf):
    """Real fixed-angle rotors, no diffusion: the kernel's pelleted fraction equals an independent computation
    (numpy, positions scaled by exp(s * integral(omega^2 dt)) in x and y, then tested against the tube cylinder;
    exact for deterministic motion because the tube is convex and the motion is along horizontal rays).
    The liquid is the part of the tube beyond the meniscus radius; 5 combined standard errors."""
    rotor = load_rotors()[rotor_name]
    geometry = tube_geometry(rotor, fill * rotor.tube_volume, 0.0)
    tube = geometry.tube
    omega = geom.omega_for_rcf(rcf, rotor.r_avg)
    d, rho_p, t = 40e-9, 1150.0, 1800.0
    n = 20000
    got = fraction_pelleted(CPU(), geometry, geom.speed_profile(omega, t), d, rho_p, n, brownian=False)
    g = math.exp(formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W) * omega ** 2 * t)
    rng = np.random.default_rng(1)
    m = 400000
    a = tube.angle
    tt = rng.uniform(0, tube.length, m)
    rho = tube.radius * np.sqrt(rng.uniform(0, 1, m))
    phi = rng.uniform(0, 2 * np.pi, m)
    x = tube.r_top + tt * math.sin(a) + rho * np.cos(phi) * math.cos(a)
    y = rho * np.sin(phi)
    z = -tt * math.cos(a) + rho * np.cos(phi) * math.sin(a)
    liquid = np.hypot(x, y) >= geometry.r_meniscus
    x, y, z = x[liquid] * g, y[liquid] * g, z[liquid]
    t2 = (x - tube.r_top) * math.sin(a) - z * math.cos(a)
    off = np.sqrt((x - tube.r_top - t2 * math.sin(a)) ** 2 + y ** 2 + (z + t2 * math.cos(a)) ** 2)
    expected = float(np.mean((off >= tube.radius) | (t2 >= tube.length)))
    se = math.sqrt(expected * (1 - expected) * (1 / n + 1 / liquid.sum()))
    assert abs(got - expected) <= 5 * se, (got, expected, se)
    assert 0.05 < expected < 0.95


def test_fixed_angle_with_diffusion_does_not_depend_on_the_step():
    """A diffusion-dominated case in a fixed-angle tube (drift alone pellets a quarter of what diffusion does): one
    exact step with the bridge test at the wall and the bottom agrees with 200 small steps within 5 combined
    standard errors."""
    rotor = load_rotors()["TLA-110"]
    geometry = tube_geometry(rotor, 0.5 * rotor.tube_volume, 0.0)
    seg_args = (geom.omega_for_rcf(20000, rotor.r_avg), 600.0)
    n = 20000
    one = fraction_pelleted(CPU(), geometry, geom.speed_profile(*seg_args), 10e-9, 1100.0, n)
    many = fraction_pelleted(CPU(), geometry, geom.speed_profile(*seg_args, max_step=3.0), 10e-9, 1100.0, n, seed=2)
    drift = fraction_pelleted(CPU(), geometry, geom.speed_profile(*seg_args), 10e-9, 1100.0, n, brownian=False)
    se = math.sqrt(one * (1 - one) / n + many * (1 - many) / n)
    assert abs(one - many) <= 5 * se
    assert one > 2 * drift + 5 * se  # the case is one where diffusion matters


@pytest.mark.parametrize("a_t,column", [(0.05, 10e-3), (1.5, 90e-3)])
def test_strong_diffusion_in_one_step_matches_small_steps(a_t, column):
    """Strong diffusion: a diffusion length of 6 mm over a 10-mm column (a step that, undivided, feels the meniscus
    and the pellet at once: it pelleted 0.668 against 0.698, 9 standard errors off), or a large A t (= s omega^2 t
    = 1.5) with 3 mm over a 9-cm column starting 1 cm from the axis (the field changes tenfold along it). One step
    per speed phase (the integrator's own substeps) agrees with 2000 small steps within 5 combined binomial
    standard errors (docs/physics.md, "Wall contacts inside a step")."""
    tube = SwingingTube(0.1 - column if column < 0.05 else 0.01, 0.1, 0.1)
    d, rho_p = 10e-9, 1360.0
    D = formulas.diffusion_coefficient(d, T20, ETA_W)
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    length = 6e-3 if column < 0.05 else 3e-3
    t = length ** 2 / (2 * D)
    omega = math.sqrt(a_t / t / s)
    n = 40000
    one = fraction_pelleted(CPU(), tube, geom.speed_profile(omega, t), d, rho_p, n, seed=3)
    many = fraction_pelleted(CPU(), tube, geom.speed_profile(omega, t, max_step=t / 2000), d, rho_p, n, seed=4)
    se = math.sqrt(one * (1 - one) / n + many * (1 - many) / n)
    assert abs(one - many) <= 5 * se
    assert 0.3 < many < 0.99  # neither nothing nor everything pelleted: the test can tell


@pytest.mark.both_precisions
@pytest.mark.parametrize("n_steps", [1, 200])
def test_fixed_angle_bottom_matches_first_passage(n_steps):
    """A fixed-angle tube lying along the radius (angle 90 degrees), far from the axis, 2 mm long and 100 mm in
    radius: the bottom is the pellet and the field is uniform along the axis, so the pelleted fraction is the 1-D
    inverse-Gaussian first-passage result (as in the swinging-bucket test), at one step (the bridge test at the
    bottom) and at 200. Systematic allowance: particles within a few diffusion lengths (0.2 mm) of the side wall,
    which also absorbs, at most 2 x 0.2 / 100 of them, plus the field's variation along the tube (2e-4)."""
    length, radius, r_axis = 2e-3, 0.1, 10.0
    tube = geom.FixedAngleTube(math.pi / 2, radius, r_axis, length)
    fixed = FixedTube(tube, r_axis, length)
    d, rho_p = 10e-9, 1100.0
    D = formulas.diffusion_coefficient(d, T20, ETA_W)
    s = formulas.sedimentation_coefficient(d, rho_p, RHO_W, ETA_W)
    t = (0.2e-3) ** 2 / (2 * D)
    omega = math.sqrt(0.1e-3 / t / (s * r_axis))
    v = s * omega ** 2 * (r_axis + length / 2)
    expected = wald_pelleted_fraction(v, D, length, t)
    n = 20000
    got = fraction_pelleted(CPU(), fixed, geom.speed_profile(omega, t, max_step=t / n_steps), d, rho_p, n)
    within(got, expected, expected, n, extra=2 * 0.2e-3 / radius + 2e-4)
    assert expected > 0.05 + 10 * math.sqrt(0.05 * 0.95 / n)  # diffusion matters: drift alone gives 0.05


def euler_maruyama_fixed_angle(tube, r_meniscus, s, D, omega, duration, n, h, rng):
    """Independent reference: Euler-Maruyama in numpy for the fixed-angle model of docs/physics.md (drift
    s omega^2 (x, y), diffusion D; the outer half of the wall and the bottom absorb, the inner half, the top and the
    meniscus mirror). Absorption is checked at step ends with the walls moved in by 0.5826 sqrt(2 D h), the
    correction for continuous monitoring of Broadie, Glasserman & Kou 1997 (Math Finance 7:325). Returns the
    fraction absorbed."""
    a = tube.angle
    sa, ca = math.sin(a), math.cos(a)
    x, y, z = [], [], []
    while sum(map(len, x)) < n:
        t = rng.uniform(0, tube.length, 4 * n)
        rho = tube.radius * np.sqrt(rng.uniform(0, 1, 4 * n))
        phi = rng.uniform(0, 2 * np.pi, 4 * n)
        xs = tube.r_top + t * sa + rho * np.cos(phi) * ca
        ys = rho * np.sin(phi)
        keep = np.hypot(xs, ys) >= r_meniscus
        x.append(xs[keep])
        y.append(ys[keep])
        z.append((-t * ca + rho * np.cos(phi) * sa)[keep])
    x, y, z = (np.concatenate(v)[:n] for v in (x, y, z))
    alive = np.ones(n, bool)
    shift = 0.5826 * math.sqrt(2 * D * h)
    rate, sd = s * omega ** 2, math.sqrt(2 * D * h)
    for _ in range(int(round(duration / h))):
        i = np.nonzero(alive)[0]
        xi = x[i] * (1 + rate * h) + sd * rng.standard_normal(i.size)
        yi = y[i] * (1 + rate * h) + sd * rng.standard_normal(i.size)
        zi = z[i] + sd * rng.standard_normal(i.size)
        t = (xi - tube.r_top) * sa - zi * ca
        wx, wy, wz = xi - tube.r_top - t * sa, yi, zi + t * ca
        rho = np.sqrt(wx * wx + wy * wy + wz * wz)
        dead = (t >= tube.length - shift) | ((rho >= tube.radius - shift) & (wx * xi + wy * yi > 0))
        alive[i[dead]] = False
        live = ~dead
        i, xi, yi, zi, t, wx, wy, wz, rho = (v[live] for v in (i, xi, yi, zi, t, wx, wy, wz, rho))
        f = np.where(rho > tube.radius, (2 * tube.radius - rho) / np.maximum(rho, 1e-300) - 1, 0.0)
        xi, yi, zi = xi + f * wx, yi + f * wy, zi + f * wz
        t = (xi - tube.r_top) * sa - zi * ca
        xi, zi = np.where(t < 0, xi - 2 * t * sa, xi), np.where(t < 0, zi + 2 * t * ca, zi)
        rh = np.hypot(xi, yi)
        g = np.where(rh < r_meniscus, (2 * r_meniscus - rh) / rh, 1.0)
        x[i], y[i], z[i] = xi * g, yi * g, zi
    return 1.0 - alive.mean()


def test_fixed_angle_with_diffusion_matches_an_independent_euler_maruyama():
    """The diffusion-dominated fixed-angle case above (TLA-110 half full, 20,000 g, 10 nm, 10 min): the kernel at
    one step per speed phase against an independent numpy Euler-Maruyama with 1-s steps and the Broadie-Glasserman-
    Kou boundary shift (its remaining error is of higher order in sqrt(D h) = 0.2 % of the diffusion length of the
    run). 5 combined binomial standard errors."""
    rotor = load_rotors()["TLA-110"]
    geometry = tube_geometry(rotor, 0.5 * rotor.tube_volume, 0.0)
    omega, duration = geom.omega_for_rcf(20000, rotor.r_avg), 600.0
    d, rho_p = 10e-9, 1100.0
    n = 20000
    got = fraction_pelleted(CPU(), geometry, geom.speed_profile(omega, duration), d, rho_p, n)
    s = d * d * (rho_p - RHO_W) / (18 * ETA_W)
    D = 1.380649e-23 * T20 / (3 * math.pi * ETA_W * d)
    ref = euler_maruyama_fixed_angle(geometry.tube, geometry.r_meniscus, s, D, omega, duration, n, 1.0,
                                     np.random.default_rng(0))
    se = math.sqrt(got * (1 - got) / n + ref * (1 - ref) / n)
    assert abs(got - ref) <= 5 * se, (got, ref, se)
