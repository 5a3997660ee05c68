"""Particles lighter than the medium (negative sedimentation coefficient) float to the meniscus in both rotor kinds,
full and partly filled, with ramps, at the default (one step per speed phase) and at small steps.

Expected values come from this file's own formulas: Stokes' sedimentation coefficient, the flotation mirror of the
swinging-bucket pelleting formula, the Boltzmann profile of sedimentation equilibrium, and an independent numpy ray
computation for fixed-angle tubes. Tolerances: 5 binomial standard errors unless stated.
"""
import math

import numpy as np
import pytest

from exosim import CPU, load_protocol, load_sample, simulate
from exosim.config import load_rotors
from exosim.kernels import spin
from exosim.methods.centrifuge import SwingingTube, kernel_params, run_tube, tube_geometry
from exosim.physics import rotors as geom

from conftest import rounding

T4 = 277.15
RHO_M = 1000.0          # a synthetic medium: round numbers make the expected values easy to follow
ETA_M = 1.5e-3
KB = 1.380649e-23
ROTORS = load_rotors()


def stokes_s(d, rho_p):
    """Sedimentation coefficient [s] of a sphere: d^2 (rho_p - rho_m) / (18 eta) (Stokes drag)."""
    return d * d * (rho_p - RHO_M) / (18.0 * ETA_M)


def stokes_einstein(d, temperature=T4):
    return KB * temperature / (3.0 * math.pi * ETA_M * d)


def spin_particles(geometry, segments, d, rho_p, n, *, brownian=True, absorbing=True, seed=1):
    prm = kernel_params(geometry, RHO_M, ETA_M, T4, brownian=brownian, absorbing=absorbing, record=True)
    return run_tube(CPU(), geometry, prm, segments, np.full(n, d), np.full(n, rho_p), np.ones(n, bool),
                    seed=seed, step=0, record=True)


def omega2_integral(omega, duration, accel, decel):
    """Integral of omega^2 dt over a run with linear ramps: omega^2 (duration + accel / 3 + decel / 3)."""
    return omega ** 2 * (duration + accel / 3.0 + decel / 3.0)


def assert_binomial(got, expected, n, k=5.0):
    se = math.sqrt(max(expected * (1 - expected), 1.0 / n) / n)
    assert abs(got - expected) <= k * se, f"{got} vs {expected} (se {se:.2g})"


@pytest.mark.both_precisions
@pytest.mark.parametrize("fill", [1.0, 0.5])
@pytest.mark.parametrize("max_step", [None, 20.0])
def test_swinging_bucket_flotation_mirrors_the_pelleting_formula(fill, max_step):
    """No diffusion: a floater starting at r moves to r exp(lambda), lambda = s * integral(omega^2 dt) < 0, and
    stops at the meniscus. With a uniform start between r_men and b, the floated share is
    (r_men / (b - r_men)) (exp(-lambda) - 1), clipped to 1 -- the mirror of (b / (b - r_men))(1 - exp(-lambda)).
    Those that float end exactly on the meniscus; the others end at r0 exp(lambda): uniform on [r_men, b e^lambda].
    None is pelleted, at one step per speed phase (the bug: mirrored beyond the bottom) and at 20-s steps."""
    rotor = ROTORS["SW 41 Ti"]
    geometry = tube_geometry(rotor, fill * rotor.tube_volume, 0.0)
    r_men, b = geometry.r_meniscus, geometry.r_bottom
    d, rho_p = 150e-9, 930.0
    duration, accel, decel = 300.0, 60.0, 120.0
    lam_half = -math.log1p(0.5 * (b - r_men) / r_men)  # the speed that floats about half of the particles
    omega = math.sqrt(lam_half / (stokes_s(d, rho_p) * omega2_integral(1.0, duration, accel, decel)))
    lam = stokes_s(d, rho_p) * omega2_integral(omega, duration, accel, decel)
    expected = r_men / (b - r_men) * math.expm1(-lam)
    n = 20000
    outcome, pos = spin_particles(geometry, geom.speed_profile(omega, duration, accel, decel, max_step), d, rho_p,
                                  n, brownian=False)
    assert np.all(outcome == spin.SUPERNATANT)
    r = pos[:, 0]
    on_meniscus = r <= r_men + rounding(r_men, f64=r_men * 1e-12)
    assert_binomial(on_meniscus.mean(), expected, n)
    rest = r[~on_meniscus]
    assert rest.max() <= b * math.exp(lam) + rounding(b, f64=b * 1e-12)
    # uniform on [r_men, b e^lambda]: mean in the middle (5 standard errors of a uniform's mean)
    lo, hi = r_men, b * math.exp(lam)
    assert abs(rest.mean() - (lo + hi) / 2) <= 5 * (hi - lo) / math.sqrt(12 * rest.size)


def liquid_points(tube, r_meniscus, m, rng):
    """Uniform points (x, y, z) [m] in the liquid of a fixed-angle tube (numpy, independent of the kernels)."""
    a = tube.angle
    t = rng.uniform(0, tube.length, 3 * m)
    rho = tube.radius * np.sqrt(rng.uniform(0, 1, 3 * m))
    phi = rng.uniform(0, 2 * np.pi, 3 * m)
    x = tube.r_top + t * math.sin(a) + rho * np.cos(phi) * math.cos(a)
    y = rho * np.sin(phi)
    z = -t * math.cos(a) + rho * np.cos(phi) * math.sin(a)
    keep = np.hypot(x, y) >= r_meniscus
    return x[keep][:m], y[keep][:m], z[keep][:m]


def inside_liquid(x, y, z, tube, r_meniscus, tol):
    """True for points inside the tube cylinder (to ``tol`` [m]) and beyond the meniscus radius."""
    a = tube.angle
    t = (x - tube.r_top) * math.sin(a) - z * math.cos(a)
    off = np.sqrt((x - tube.r_top - t * math.sin(a)) ** 2 + y ** 2 + (z + t * math.cos(a)) ** 2)
    return (off <= tube.radius + tol) & (t >= -tol) & (t <= tube.length + tol) & (np.hypot(x, y) >= r_meniscus - tol)


@pytest.mark.parametrize("rotor_name,fill", [("Type 70 Ti", 1.0), ("Type 70 Ti", 0.4), ("TLA-110", 0.7)])
@pytest.mark.parametrize("max_step", [None, 10.0])
def test_fixed_angle_floaters_stay_in_the_liquid_and_reach_the_boundary_as_rays_say(rotor_name, fill, max_step):
    """No diffusion: a floater moves inward along the horizontal ray through the rotation axis, (x, y) times
    exp(lambda); one whose ray leaves the liquid (inner wall, top or meniscus) ends on that boundary, the others end
    exactly at their scaled position. The share that ends on the boundary equals the share of rays that leave the
    liquid (independent numpy computation against the cylinder and the meniscus); every particle ends inside the
    liquid and in the supernatant -- none pelleted (the bug: mirrored out of the tube, then pelleted)."""
    rotor = ROTORS[rotor_name]
    geometry = tube_geometry(rotor, fill * rotor.tube_volume, 0.0)
    tube, r_men = geometry.tube, geometry.r_meniscus
    d, rho_p = 200e-9, 930.0
    duration, accel, decel = 300.0, 30.0, 60.0
    omega = math.sqrt(-0.1 / (stokes_s(d, rho_p) * omega2_integral(1.0, duration, accel, decel)))
    lam = stokes_s(d, rho_p) * omega2_integral(omega, duration, accel, decel)
    n = 20000
    outcome, pos = spin_particles(geometry, geom.speed_profile(omega, duration, accel, decel, max_step), d, rho_p,
                                  n, brownian=False)
    assert np.all(outcome == spin.SUPERNATANT)
    x, y, z = pos.T
    assert np.all(inside_liquid(x, y, z, tube, r_men, tol=rounding(tube.r_top + tube.length)))
    g = math.exp(lam)
    xs, ys, zs = liquid_points(tube, r_men, 400000, np.random.default_rng(7))
    leaves = ~inside_liquid(xs * g, ys * g, zs, tube, r_men, tol=0.0)
    expected = float(leaves.mean())
    assert 0.1 < expected < 0.9
    # a particle that never met a boundary sits where its ray put it: on no boundary (to rounding)
    a = tube.angle
    t = (x - tube.r_top) * math.sin(a) - z * math.cos(a)
    off = np.sqrt((x - tube.r_top - t * math.sin(a)) ** 2 + y ** 2 + (z + t * math.cos(a)) ** 2)
    tol = rounding(tube.r_top + tube.length)
    on_boundary = (off >= tube.radius - tol) | (t <= tol) | (np.hypot(x, y) <= r_men + tol)
    got = float(on_boundary.mean())
    se = math.sqrt(expected * (1 - expected) * (1 / n + 1 / leaves.size))
    assert abs(got - expected) <= 5 * se, (got, expected, se)


@pytest.mark.parametrize("rotor_name,fill", [("SW 41 Ti", 0.5), ("SW 41 Ti", 1.0), ("Type 70 Ti", 1.0),
                                             ("Type 70 Ti", 0.5)])
def test_floaters_with_diffusion_do_not_depend_on_the_step(rotor_name, fill):
    """With diffusion and ramps, at 100,000 g for 70 min (the case of the report: 200 nm, 0.93 g/mL, in PBS-like
    medium, with a residual layer): no floater is pelleted or left in the residual layer, at one step per speed
    phase and at 1-s steps, and every one ends within a few micrometres of the meniscus. Where exactly depends on
    free diffusion while the rotor stops (the last deceleration segment, where the field vanishes): the mean
    distances agree within 5 combined standard errors plus the diffusion length over one default ramp segment
    (decel / 8), the resolution of the default ramp."""
    rotor = ROTORS[rotor_name]
    residual = 0.05 * rotor.tube_volume
    geometry = tube_geometry(rotor, fill * rotor.tube_volume, residual)
    d, rho_p = 200e-9, 930.0
    omega = geom.omega_for_rcf(100000, rotor.r_avg)
    n = 2000
    decel = 180.0
    out = {}
    for max_step in (None, 1.0):
        segments = geom.speed_profile(omega, 4200.0, 60.0, decel, max_step)
        outcome, pos = spin_particles(geometry, segments, d, rho_p, n, seed=3)
        assert np.all(outcome == spin.SUPERNATANT), np.bincount(outcome)
        out[max_step] = np.hypot(pos[:, 0], pos[:, 1]) - geometry.r_meniscus
    a, b = out[None], out[1.0]
    tol = rounding(geometry.r_meniscus, f64=1e-12)
    assert np.all(a >= -tol) and np.all(b >= -tol)
    ramp_segment = math.sqrt(2 * stokes_einstein(d) * decel / 8)
    assert a.max() < 5 * ramp_segment and b.max() < 5 * ramp_segment
    se = math.sqrt(a.var() / n + b.var() / n)
    assert abs(a.mean() - b.mean()) <= 5 * se + ramp_segment


@pytest.mark.both_precisions
@pytest.mark.parametrize("ah", [0.2, 0.01])
def test_floater_boundary_layer_at_the_meniscus(ah):
    """A floater pressed against the meniscus by a steady field spreads over a boundary layer: an exponential
    distribution of r - r_men with mean delta = D / |s w^2 r_men| (constant drift v against a reflecting wall,
    Smoluchowski; the field is constant across a layer of nanometres). The integrator reflects in the clock
    u = r e^{-A t}, where the meniscus r_men e^{-A t} moves, and draws the reflection against the straight line
    between its end points; at the end of a substep that line is steeper than the wall by 2 / (1 + g),
    g = e^{A h} (the tangent slope of r_men sqrt(1 - A tau / D) in the variance clock tau): the layer comes out
    thinner by (1 + g) / 2 -- 0.91 at the |A| h = 0.2 chosen here, 0.995 at 0.01. Both predicted means are checked
    to 5 standard errors of an exponential's mean (delta / sqrt(n))."""
    rotor = ROTORS["SW 41 Ti"]
    geometry = tube_geometry(rotor, 0.5 * rotor.tube_volume, 0.0)
    d, rho_p = 200e-9, 930.0
    omega = geom.omega_for_rcf(50000, rotor.r_avg)
    rate = abs(stokes_s(d, rho_p)) * omega ** 2
    h = ah / rate
    duration = 40 * h if ah > 0.1 else 2000 * h   # long enough for every particle to reach the meniscus
    n = 4000
    outcome, pos = spin_particles(geometry, geom.speed_profile(omega, duration, max_step=h), d, rho_p, n, seed=5)
    assert np.all(outcome == spin.SUPERNATANT)
    gap = pos[:, 0] - geometry.r_meniscus
    delta = stokes_einstein(d) / (rate * geometry.r_meniscus)
    expected = delta * (1 + math.exp(-ah)) / 2
    assert abs(gap.mean() - expected) <= 5 * expected / math.sqrt(n), (gap.mean() / delta, expected / delta)
    # an exponential: the standard deviation equals the mean
    assert abs(gap.std() / gap.mean() - 1) < 5 / math.sqrt(n) * 1.5


@pytest.mark.parametrize("max_step", [None, 2.0])
def test_floater_sedimentation_equilibrium_at_any_step(max_step):
    """Both ends reflecting, long run: a floater's radial distribution is c(r) ~ exp(s w^2 r^2 / (2 D)), s < 0
    (Boltzmann; the Lamm equation's steady state), piled against the meniscus. Checked in 10 bins at one step per
    speed phase (exact Skorokhod reflection in every substep) and at small steps."""
    d, rho_p = 20e-9, 800.0
    D = stokes_einstein(d)
    s = stokes_s(d, rho_p)
    r0, r1 = 0.1, 0.1005
    a_target = -2.5 / (r1 ** 2 - r0 ** 2)  # exp(a r^2) falls by e^2.5 from the meniscus to the bottom
    omega = math.sqrt(a_target * 2 * D / s)
    tube = SwingingTube(r0, r1, r1)
    t_end = 6 * (r1 - r0) ** 2 / D
    n = 20000 if max_step is None else 8000  # small steps cost 50x more substeps
    _, pos = spin_particles(tube, geom.speed_profile(omega, t_end, max_step=max_step), d, rho_p, n, absorbing=False,
                            seed=11)
    edges = np.linspace(r0, r1, 11)
    grid = np.linspace(r0, r1, 100001)
    dens = np.exp(a_target * (grid ** 2 - r0 ** 2))
    cum = np.concatenate([[0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    expected = np.diff(np.interp(edges, grid, cum)) / cum[-1]
    got = np.histogram(pos[:, 0], bins=edges)[0] / n
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(got - expected) <= 5 * se), (got, expected)
    assert expected[0] / expected[-1] > 8  # far from flat: the test can tell


CHYLOMICRON_SAMPLE = """
name: plasma-like sample with chylomicrons
volume: 10 mL
medium: culture_medium
populations:
  - name: exosome
    target: true
    concentration: 5e9 /mL
    diameter: {lognormal: {median: 100 nm, gsd: 1.5}, min: 30 nm, max: 200 nm}
    density: {normal: {mean: 1.15 g/mL, sd: 0.02 g/mL}, min: 1.10 g/mL, max: 1.21 g/mL}
  - name: chylomicron
    concentration: 1e8 /mL
    diameter: {lognormal: {median: 200 nm, gsd: 1.5}, min: 100 nm, max: 500 nm}
    density: 0.93 g/mL
"""


def test_chylomicrons_stay_out_of_the_duc_pellet(tmp_path):
    """Chylomicron-like particles (0.93 g/mL, 100-500 nm) through the bundled DUC protocol: they float in every
    spin, so none reaches the final pellet (the report: 93 % did), while exosomes are still recovered."""
    path = tmp_path / "chylo.yaml"
    path.write_text(CHYLOMICRON_SAMPLE)
    ds = simulate(load_protocol("duc_standard"), load_sample(path), n_particles=4000, seed=2, device=CPU())
    assert float(ds.recovery.sel(population="chylomicron")) == 0.0
    assert float(ds.recovery.sel(population="exosome")) > 0.3
