"""The density-gradient particle kernel (kernels/gradient.py, driven through exosim.methods.gradient.run_tables)
against physics computed here, independently.

No expected value in this file comes from exosim's own physics: Stokes friction, Stokes-Einstein diffusion, the
Boltzmann (sedimentation-equilibrium) distribution in a density gradient and its Gaussian width (Meselson, Stahl &
Vinograd 1957, PNAS 43:581), the deterministic sedimentation ODE integrated with scipy, and the closed-form
pelleted fraction of a swinging-bucket tube (Livshits et al. 2015, Sci Rep 5:17319) are all written out below.
The kernel is driven only through its documented interface: medium tables (density, viscosity) on a uniform radial
grid, the run's (duration, mean omega^2) segments from ``rotors.speed_profile``, and the particles.

Tolerances: 5 Monte Carlo standard errors of the statistic checked, plus a stated systematic allowance derived in
each test's docstring (quadrature of the reference, integrator accuracy, table resolution). Seeds are fixed, so
every run is deterministic; the 5-SE rule makes the tests independent of the seed chosen.

Default steps are checked beside small ones everywhere: coarse tables, a viscosity gradient (the Ito term), the
band's Boltzmann skew and viscous cushions all once failed at default steps by 8-430 standard errors, which the
kernel's substep rules (at most half a table cell and 1/256 of the column per substep, |a| h <= 1 toward a
band) removed; docs/physics.md.
"""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from exosim import CPU
from exosim.kernels import layout
from exosim.methods.gradient import gradient_params, run_tables
from exosim.physics import rotors as geom

from conftest import rounding

# ---------------------------------------------------------------- constants and the test's own physics
KB = 1.380649e-23      # J/K, exact (SI 2019)
G0 = 9.80665           # m/s^2, standard gravity: the "g" of an rcf
TEMP = 277.15          # K (4 degC)
R_MEN, R_BOT = 0.0674, 0.1531   # SW 41 Ti-like liquid column [m] (r_min, r_max of the Beckman manual)
R_RCF = 0.11                    # radius at which the rcf is quoted [m]
GRID = np.linspace(R_MEN, R_BOT, 401)   # 400 table cells over the column, as exosim's own plans use
DR = GRID[1] - GRID[0]
MAX_CELLS = 2.0  # the kernel's stated step control (kernels/gradient.py docstring): a substep moves at most this many
#                  table cells; used only to bound the integrator's error, never for an expected value



def omega2_for(rcf, r=R_RCF):
    """omega^2 [rad^2/s^2] giving ``rcf`` x g at radius r."""
    return rcf * G0 / r


def volume(d):
    return math.pi * d ** 3 / 6.0


def friction(d, eta):
    """Stokes friction coefficient of a sphere, 3 pi eta d (Stokes 1851)."""
    return 3.0 * math.pi * eta * d


def s_stokes(d, rho_p, rho_m, eta):
    """Sedimentation coefficient: buoyant mass over Stokes friction, d^2 (rho_p - rho_m) / (18 eta)."""
    return d * d * (rho_p - rho_m) / (18.0 * eta)


def diffusion(d, eta):
    """Stokes-Einstein diffusion coefficient kB T / (3 pi eta d) (Einstein 1905)."""
    return KB * TEMP / friction(d, eta)


def linear(v_top, v_bottom):
    """A quantity linear in r from v_top at the meniscus to v_bottom at the tube bottom."""
    slope = (v_bottom - v_top) / (R_BOT - R_MEN)
    return lambda r: v_top + slope * (np.asarray(r, dtype=float) - R_MEN)


def constant(v):
    return lambda r: np.full_like(np.asarray(r, dtype=float), v)


def tables(rho_fn, eta_fn, t_total, grid=GRID):
    """(times, density table, viscosity table): a medium constant in time (two identical rows)."""
    rho = np.vstack([rho_fn(grid)] * 2).astype(float)
    eta = np.vstack([eta_fn(grid)] * 2).astype(float)
    return np.array([0.0, t_total]), rho, eta


def run(segments, rho_fn, eta_fn, diameter, density, *, start=(R_MEN, R_BOT), brownian=True, seed=1, grid=GRID,
        rho_table=None, eta_table=None):
    """Run the kernel over ``segments`` in a medium given by functions of r (tabulated on ``grid``) or by explicit
    one-row tables; returns (outcome, final radius) as numpy arrays."""
    t_total = float(np.sum(segments[:, 0]))
    times, rho, eta = tables(rho_fn, eta_fn, t_total, grid)
    if rho_table is not None:
        rho = np.vstack([rho_table] * 2).astype(float)
    if eta_table is not None:
        eta = np.vstack([eta_table] * 2).astype(float)
    prm = gradient_params(R_MEN, R_BOT, grid, times, start, TEMP, brownian=brownian)
    diameter = np.ascontiguousarray(diameter, dtype=np.float64)
    density = np.ascontiguousarray(density, dtype=np.float64)
    active = np.ones(diameter.shape[0], dtype=bool)
    outcome, radius = run_tables(CPU(), prm, segments, rho, eta, diameter, density, active, seed=seed, step=0)
    return np.asarray(outcome), np.asarray(radius)


def boltzmann_moments(rho_fn, d, rho_p, w2, lo, hi, weight=None, points=40001):
    """Mean and standard deviation of the equilibrium distribution on [lo, hi] of a particle (diameter d, density
    rho_p) in a medium rho_fn(r) spun at omega^2 = w2 in a constant-cross-section column: p(r) ~ exp(-U(r)/kT),
    U(r) = -integral V (rho_p - rho_m(r')) w2 r' dr' (the Boltzmann distribution; no friction in it).
    ``weight(r)`` multiplies p (used for the distribution a kernel without the Ito dD/dr term would reach).
    Trapezoid quadrature on ``points`` nodes: relative error far below 1e-6 for the windows used here."""
    r = np.linspace(lo, hi, points)
    force = volume(d) * (rho_p - rho_fn(r)) * w2 * r
    u = -integrate.cumulative_trapezoid(force, r, initial=0.0) / (KB * TEMP)
    p = np.exp(-(u - u.min()))
    if weight is not None:
        p = p * weight(r)
    z = integrate.trapezoid(p, r)
    mean = integrate.trapezoid(p * r, r) / z
    sd = math.sqrt(integrate.trapezoid(p * (r - mean) ** 2, r) / z)
    return mean, sd


def band_sigma(d, w2, r_star, slope):
    """Meselson-Stahl-Vinograd band width: sigma^2 = kB T / (V omega^2 r* d rho/dr)."""
    return math.sqrt(KB * TEMP / (volume(d) * w2 * r_star * slope))


def approach_time(d, rho_p, rho_fn, eta_fn, w2, r0, r_star, tol):
    """Time [s] the deterministic motion dr/dt = s(r) omega^2 r takes from r0 to within ``tol`` of r_star
    (solve_ivp, rtol 1e-8)."""
    def f(t, y):
        r = y[0]
        return [s_stokes(d, rho_p, float(rho_fn(r)), float(eta_fn(r))) * w2 * r]

    side = math.copysign(1.0, r0 - r_star)

    def close(t, y):   # signed, so that a step cannot jump over the window of width 2 tol
        return side * (y[0] - r_star) - tol
    close.terminal = True
    sol = integrate.solve_ivp(f, (0.0, 1e8), [r0], events=close, rtol=1e-8, atol=1e-12)
    assert sol.t_events[0].size == 1, "never reaches its band"
    return float(sol.t_events[0][0])


# ---------------------------------------------------------------- 1. the isopycnic band in a linear gradient
BAND_D, BAND_RHO = 100e-9, 1150.0                       # a vesicle-like particle
LIN_RHO = linear(1050.0, 1250.0)                        # 1.05 -> 1.25 g/mL
LIN_SLOPE = 200.0 / (R_BOT - R_MEN)                     # kg/m^4
ETA_15 = constant(1.5e-3)
W2_100K = omega2_for(1e5)                               # 100,000 g at r = 0.11 m
BAND_HOURS = 8.0


def band_run_check():
    """r*, sigma, relaxation time and the run length, with the run checked to be long enough."""
    r_star = R_MEN + (BAND_RHO - 1050.0) / LIN_SLOPE
    sigma = band_sigma(BAND_D, W2_100K, r_star, LIN_SLOPE)
    # relaxation rate of the linearised drift about r*: a = V omega^2 r* (d rho/dr) / f (slowest where r is smallest)
    a_min = volume(BAND_D) * W2_100K * R_MEN * LIN_SLOPE / friction(BAND_D, 1.5e-3)
    t_det = max(approach_time(BAND_D, BAND_RHO, LIN_RHO, ETA_15, W2_100K, r0, r_star, 0.01 * sigma)
                for r0 in (R_MEN, R_BOT))
    duration = BAND_HOURS * 3600.0
    # every start reaches the band to 1 % of sigma, then >= 3 relaxation times for the fluctuations (variance
    # relaxes at 2a: e^-6 of the initial excess left)
    assert duration > t_det + 3.0 / a_min, (duration, t_det, 1 / a_min)
    return r_star, sigma, duration


@pytest.mark.both_precisions
@pytest.mark.parametrize("max_step", [None, 60.0], ids=["default-steps", "60s-steps"])
def test_isopycnic_band_position_and_width(max_step):
    """A monodisperse population (100 nm, 1.15 g/mL) started over the whole column of a 1.05 -> 1.25 g/mL linear
    gradient (SW 41 Ti column, 1.5 mPa s, 100,000 g at r = 0.11 m, 8 h) bands at r* where rho_m(r*) = rho_p with
    the Meselson-Stahl-Vinograd width sigma^2 = kB T / (V omega^2 r* d rho/dr) (PNAS 43:581, 1957): 56 um here.

    Expected mean and sd: the exact Boltzmann distribution exp(-U/kT) on the column by quadrature (it differs
    from r*, sigma by the skew of the r-dependent force: 3e-8 m in the mean, below 0.1 SE). The run is checked to
    exceed the deterministic approach time from either end to 0.01 sigma plus 3 relaxation times 1/a,
    a = V omega^2 r (d rho/dr) / (3 pi eta d) taken at the meniscus (the slowest): 3.8 h + 1.6 h (1/a at r* is
    20 min).
    Tolerances: 5 SE, SE(mean) = sigma/sqrt(n), SE(sd) = sigma/sqrt(2n) (Gaussian). Default segmentation (one
    8-h segment, the kernel's own substeps) and 60-s segments must both pass: convergence.
    """
    r_star, sigma, duration = band_run_check()
    n = 20000
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0, max_step=max_step)
    outcome, r = run(segments, LIN_RHO, ETA_15, np.full(n, BAND_D), np.full(n, BAND_RHO))
    assert np.all(outcome == layout.SUPERNATANT)
    mean, sd = boltzmann_moments(LIN_RHO, BAND_D, BAND_RHO, W2_100K, r_star - 20 * sigma, r_star + 20 * sigma)
    assert sd == pytest.approx(sigma, rel=1e-3)
    assert abs(r.mean() - mean) <= 5 * sd / math.sqrt(n)
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n)
    assert np.max(np.abs(r - mean)) < 6 * sd   # P(any of 20000 Gaussian draws beyond 6 sd) = 4e-5


@pytest.mark.parametrize("points", [
    41,
    3,
    2,
])
def test_band_does_not_depend_on_table_resolution(points):
    """A linear gradient is represented exactly by a table of any resolution (the kernel interpolates linearly),
    so the band of test_isopycnic_band_position_and_width must come out the same with a 41-, 3- or 2-point table
    at default steps. Same expectation and tolerances (5 SE of mean and sd, 6 sd for the extremes)."""
    r_star, sigma, duration = band_run_check()
    n = 20000
    grid = np.linspace(R_MEN, R_BOT, points)
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0)
    outcome, r = run(segments, LIN_RHO, ETA_15, np.full(n, BAND_D), np.full(n, BAND_RHO), grid=grid)
    assert np.all(outcome == layout.SUPERNATANT)
    mean, sd = boltzmann_moments(LIN_RHO, BAND_D, BAND_RHO, W2_100K, r_star - 20 * sigma, r_star + 20 * sigma)
    assert abs(r.mean() - mean) <= 5 * sd / math.sqrt(n)
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n)
    assert np.max(np.abs(r - mean)) < 6 * sd


# A wide band, so that the Ito term matters at Monte Carlo precision: a 10-nm particle (lipoprotein-sized) of
# 1.08 g/mL in the same gradient at 100,000 g bands 2.1 mm wide. Without the dD/dr term the kernel would reach
# p ~ eta(r) exp(-U/kT) (the stationary law of dr = f dt + sqrt(2D) dW has a 1/D factor), a mean shifted by
# about sigma^2 d ln(eta)/dr.
WIDE_D, WIDE_RHO = 10e-9, 1080.0
ETA_GRADIENT = linear(1.0e-3, 10.0e-3)     # 1 -> 10 mPa s, within the range of sucrose / iodixanol gradients
ETA_3 = constant(3.0e-3)


def wide_band_duration(eta_fn, r_star, sigma):
    """Run length: deterministic approach from either end to 0.1 sigma, plus 6 diffusive relaxation times
    sigma^2 / D(r*) (= 1/a at r*), rounded up to whole hours."""
    t_det = max(approach_time(WIDE_D, WIDE_RHO, LIN_RHO, eta_fn, W2_100K, r0, r_star, 0.1 * sigma)
                for r0 in (R_MEN, R_BOT))
    tau = sigma ** 2 / diffusion(WIDE_D, float(eta_fn(r_star)))
    return 3600.0 * math.ceil((t_det + 6 * tau) / 3600.0)


@pytest.mark.parametrize("eta_name,max_step", [
    ("constant", None),
    ("gradient", 2e4),
    ("gradient", None),
])
def test_viscosity_gradient_leaves_the_band_unchanged(eta_name, max_step):
    """The equilibrium (Boltzmann) distribution does not depend on friction: a 10-nm, 1.08 g/mL particle in the
    1.05 -> 1.25 g/mL gradient at 100,000 g must reach the same band with the viscosity constant (3 mPa s) or
    rising 1 -> 10 mPa s along the column. This checks the Ito dD/dr drift: without it the band would sit at the
    mean of eta(r) exp(-U/kT), 19 SE away (the test asserts it can tell the two apart).

    Expected mean and sd: exact Boltzmann by quadrature over the column (sigma 2.1 mm, 6.1 sigma below the
    meniscus, so the reflecting meniscus is included in the quadrature, not neglected). Run: the deterministic
    approach time from either end to 0.1 sigma plus 6 relaxation times sigma^2/D(r*) (about 950 h for the
    gradient: an overlong run in the lab, but only equilibrium is checked). Tolerances 5 SE (sigma/sqrt(n),
    sigma/sqrt(2n)) plus 0.05 SE for what is left of the approach: e^-6 of at most 0.1 sigma = 0.05 SE.
    """
    n = 40000
    eta_fn = ETA_GRADIENT if eta_name == "gradient" else ETA_3
    r_star = R_MEN + (WIDE_RHO - 1050.0) / LIN_SLOPE
    mean, sd = boltzmann_moments(LIN_RHO, WIDE_D, WIDE_RHO, W2_100K, R_MEN, R_BOT)
    assert (r_star - R_MEN) > 6 * sd
    se = sd / math.sqrt(n)
    # the check's power: a kernel without the Ito term would be 10+ SE off
    mean_no_ito, _ = boltzmann_moments(LIN_RHO, WIDE_D, WIDE_RHO, W2_100K, R_MEN, R_BOT, weight=ETA_GRADIENT)
    assert abs(mean_no_ito - mean) > 10 * 1.05 * se
    duration = wide_band_duration(eta_fn, r_star, sd)
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0, max_step=max_step)
    outcome, r = run(segments, LIN_RHO, eta_fn, np.full(n, WIDE_D), np.full(n, WIDE_RHO), seed=1)
    assert np.all(outcome == layout.SUPERNATANT)
    assert abs(r.mean() - mean) <= 5.05 * se, ((r.mean() - mean) / se, (mean_no_ito - mean) / se)
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n)


@pytest.mark.parametrize("max_step", [None])  # 2e4-s segments agree too (+0.6 SE); left out for time
def test_wide_band_is_skewed_like_boltzmann(max_step):
    """The band of test_viscosity_gradient_leaves_the_band_unchanged (10 nm, 1.08 g/mL, 3 mPa s) is not quite
    Gaussian: the force V (rho_p - rho_m(r)) omega^2 r grows with r, so the Boltzmann distribution exp(-U/kT),
    U = V omega^2 (d rho/dr) [(r^3 - r*^3)/3 - r* (r^2 - r*^2)/2], is skewed toward the axis and its mean lies
    sigma^2/r* (to first order) = 5.5e-5 m closer to the axis than r*. With n = 200,000 that offset is 11.7 SE
    (the test asserts that it can tell a symmetric band from the true one). Expected mean and sd by quadrature;
    tolerance 5 SE (sigma/sqrt(n), sigma/sqrt(2n)); run length as there."""
    n = 200000
    r_star = R_MEN + (WIDE_RHO - 1050.0) / LIN_SLOPE
    mean, sd = boltzmann_moments(LIN_RHO, WIDE_D, WIDE_RHO, W2_100K, R_MEN, R_BOT)
    se = sd / math.sqrt(n)
    assert abs(mean - r_star) > 10 * se
    assert mean - r_star == pytest.approx(-sd ** 2 / r_star, rel=0.05)
    duration = wide_band_duration(ETA_3, r_star, sd)
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0, max_step=max_step)
    outcome, r = run(segments, LIN_RHO, ETA_3, np.full(n, WIDE_D), np.full(n, WIDE_RHO), seed=1)
    assert np.all(outcome == layout.SUPERNATANT)
    assert abs(r.mean() - mean) <= 5 * se, (r.mean() - mean) / se
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n)


@pytest.mark.both_precisions
@pytest.mark.parametrize("max_step", [None, 600.0], ids=["default-steps", "600s-steps"])
def test_band_against_the_reflecting_bottom_is_a_cut_boltzmann(max_step):
    """A band whose isopycnic point lies half a band width above the tube bottom (1.05 -> 1.15 g/mL linear, the
    particle 0.04 kg/m^3 lighter than the bottom, so the bottom returns it: a cushion): at equilibrium the
    distribution is the Boltzmann one cut at the bottom, exp(-U/kT) on [meniscus, bottom] by quadrature, and
    most particles meet the wall, so its reflection shapes the answer (a bottom that only clamps piles an excess
    at the wall; one that absorbs pellets them). Same column, particle and field as the isopycnic band test;
    the run is checked to exceed the deterministic approach from the meniscus to 0.01 sigma plus 3 relaxation
    times at the band (5.9 h + 1.4 h). Before the kernel's wall rule (AH_WALL) the mean was off by 11 SE at default
    steps and 5 SE at 600-s segments. Tolerances: 5 SE of the Boltzmann law's own mean and sd (SE(sd) taken as for a Gaussian, the cut
    law's kurtosis is lower)."""
    rho_fn = linear(1050.0, 1150.0)
    slope = 100.0 / (R_BOT - R_MEN)
    sigma = band_sigma(BAND_D, W2_100K, R_BOT, slope)
    rho_p = 1150.0 - 0.5 * sigma * slope
    r_star = R_BOT - 0.5 * sigma
    a_band = volume(BAND_D) * W2_100K * r_star * slope / friction(BAND_D, 1.5e-3)  # relaxation rate at the band
    t_det = approach_time(BAND_D, rho_p, rho_fn, ETA_15, W2_100K, R_MEN, r_star, 0.01 * sigma)
    duration = BAND_HOURS * 3600.0
    assert duration > t_det + 3.0 / a_band, (duration, t_det, 1 / a_band)
    n = 20000
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0, max_step=max_step)
    outcome, r = run(segments, rho_fn, ETA_15, np.full(n, BAND_D), np.full(n, rho_p))
    assert np.all(outcome == layout.SUPERNATANT)
    mean, sd = boltzmann_moments(rho_fn, BAND_D, rho_p, W2_100K, r_star - 20 * sigma, R_BOT)
    assert abs(r.mean() - mean) <= 5 * sd / math.sqrt(n), ((r.mean() - mean) / sd, 5 / math.sqrt(n))
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n), (r.std() / sd, 5 / math.sqrt(2 * n))
    # the wall matters: the uncut band's mean lies far from the cut one
    assert abs(r_star - mean) > 20 * sd / math.sqrt(n)


# ---------------------------------------------------------------- 2. a density-distributed population
def test_density_distribution_is_reproduced_by_band_positions():
    """Particles of one size (100 nm) with densities uniform on 1.10-1.20 g/mL, started over the whole column of
    the 1.05 -> 1.25 g/mL gradient at 100,000 g for 8 h, each band where the medium's density equals its own.

    The test maps each final radius to the medium density with its own linear formula and checks, per particle,
    z = (rho_m(r) - rho_p) / (sigma_r(r*) d rho/dr), sigma_r the particle's own band width (Meselson et al.
    1957; 0.12-0.15 kg/m^3 in density here):
    - z ~ N(0, 1): mean within 5/sqrt(n) plus the Boltzmann skew sigma/r* (<= 6e-4, the systematic allowance),
      sd within 5/sqrt(2n), every |z| < 6 (P of one beyond = 4e-5 for 20000), one-sample KS against N(0, 1)
      at level 1e-3;
    - the distribution of rho_m(r_final) reproduces the particles' densities: two-sample KS, level 1e-3
      (conservative here: the two samples are paired, nearly equal), and the 1, 10, 50, 90, 99 % quantiles
      agree to 5 band widths.
    The run is checked against the slowest approach (1.10 g/mL from the bottom, 1.20 from the meniscus) to
    0.01 sigma plus 3 relaxation times at the meniscus.
    """
    n = 20000
    rng = np.random.default_rng(7)
    rho_p = rng.uniform(1100.0, 1200.0, n)
    r_star = R_MEN + (rho_p - 1050.0) / LIN_SLOPE
    sigma_r = np.array([band_sigma(BAND_D, W2_100K, rs, LIN_SLOPE) for rs in r_star])
    duration = BAND_HOURS * 3600.0
    a_min = volume(BAND_D) * W2_100K * R_MEN * LIN_SLOPE / friction(BAND_D, 1.5e-3)
    t_det = max(approach_time(BAND_D, rp, LIN_RHO, ETA_15, W2_100K, r0, R_MEN + (rp - 1050.0) / LIN_SLOPE,
                              0.01 * band_sigma(BAND_D, W2_100K, R_MEN, LIN_SLOPE))
                for rp, r0 in ((1100.0, R_BOT), (1200.0, R_MEN)))
    assert duration > t_det + 3.0 / a_min
    segments = geom.speed_profile(math.sqrt(W2_100K), duration, 0.0, 0.0)
    outcome, r = run(segments, LIN_RHO, ETA_15, np.full(n, BAND_D), rho_p)
    assert np.all(outcome == layout.SUPERNATANT)
    rho_final = 1050.0 + LIN_SLOPE * (r - R_MEN)
    z = (rho_final - rho_p) / (sigma_r * LIN_SLOPE)
    skew = float(np.max(sigma_r / r_star))
    assert abs(z.mean()) <= 5 / math.sqrt(n) + skew
    assert abs(z.std() - 1.0) <= 5 / math.sqrt(2 * n)
    assert np.max(np.abs(z)) < 6.0
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert stats.ks_2samp(rho_final, rho_p).pvalue > 1e-3
    q = [0.01, 0.1, 0.5, 0.9, 0.99]
    width = float(np.max(sigma_r)) * LIN_SLOPE
    np.testing.assert_allclose(np.quantile(rho_final, q), np.quantile(rho_p, q), atol=5 * width)


# ---------------------------------------------------------------- 3. rate-zonal: deterministic sedimentation
RZ_RHO = linear(1020.0, 1080.0)          # 5-20 % sucrose-like
RZ_ETA = linear(1.2e-3, 2.5e-3)
RZ_RHO_P = 1150.0
RZ_OMEGA = math.sqrt(W2_100K)
RZ_PROFILE = (600.0, 180.0, 300.0)       # hold, accel, decel [s]


def rz_drift(d, w2):
    """The drift f(r) = s(r) omega^2 r of a particle of diameter d in the rate-zonal gradient at omega^2 = w2."""
    def f(r):
        return s_stokes(d, RZ_RHO_P, RZ_RHO(r), RZ_ETA(r)) * w2 * r
    return f


def rz_reference(d, r0, segments):
    """Final radius of dr/dt = s(r) omega^2 r, s(r) = d^2 (rho_p - rho_m(r)) / (18 eta(r)), from r0 through the
    piecewise-constant omega^2 of ``segments`` (solve_ivp DOP853, rtol 1e-10, atol 1e-14 m); and the error bound
    of the kernel's integrator along the way (see test_rate_zonal_positions_match_the_ode)."""
    r = r0
    bound = 0.0
    growth = 0.0
    for h, w2 in segments:
        f = rz_drift(d, w2)
        sol = integrate.solve_ivp(lambda t, y: [f(y[0])], (0.0, h), [r], method="DOP853", rtol=1e-10, atol=1e-14,
                                  dense_output=True)
        ts = np.linspace(0.0, h, 65)
        rs = sol.sol(ts)[0]
        e = 1e-5
        fr = np.array([f(x) for x in rs])
        f1 = np.array([(f(x + e) - f(x - e)) / (2 * e) for x in rs])
        f2 = np.array([(f(x + e) - 2 * f(x) + f(x - e)) / e ** 2 for x in rs])
        step = np.minimum(MAX_CELLS * DR, np.abs(fr) * h)   # largest move of one substep
        bound += integrate.trapezoid(np.abs(f2) * step ** 2 / 6.0, ts)
        growth += integrate.trapezoid(np.maximum(f1, 0.0), ts)
        r = float(sol.y[0, -1])
    return r, bound * math.exp(growth)


@pytest.mark.both_precisions
@pytest.mark.parametrize("max_step", [None, 10.0], ids=["default-steps", "10s-steps"])
def test_rate_zonal_positions_match_the_ode(max_step):
    """Rate-zonal separation without Brownian motion: particles of 40, 70, 100 and 130 nm (1.15 g/mL) loaded in
    a zone of zero width 0.5 mm below the meniscus of a 1.02 -> 1.08 g/mL, 1.2 -> 2.5 mPa s linear gradient,
    100,000 g for 10 min with a 3-min acceleration and a 5-min deceleration. Each final radius must equal the
    solution of dr/dt = s(r) omega^2(t) r, s(r) = d^2 (rho_p - rho_m(r)) / (18 eta(r)), integrated by
    solve_ivp (rtol 1e-10) through the same piecewise-constant omega^2 segments the kernel is given (ramps
    included).

    Tolerance: the tables are linear, so the kernel's interpolation is exact and its only error is the
    integrator's. The kernel takes exponential-Euler steps with the drift linearised about the particle
    (kernels/gradient.py); that scheme's local error is f'' f^2 h^3 / 6 = f'' (dr)^2 h / 6 (Taylor expansion of
    the exact flow against r0 + f h phi1(f' h)), with dr the substep's move, at most MAX_CELLS table cells and at
    most |f| times the segment. Summed along the reference path and grown by exp(integral of max(f', 0) dt):
    bound = exp(int f'+) int |f''| min(2 cells, |f| h_seg)^2 / 6 dt; the test allows twice that (higher-order
    terms) plus 1e-9 m (reference tolerance, rounding): 0.02-0.12 um at default steps, where the kernel's error
    is 0.87-0.99 of the leading-order estimate (it takes the full 2-cell substeps), less at 10-s steps.
    """
    sizes = np.array([40e-9, 70e-9, 100e-9, 130e-9])
    r0 = R_MEN + 0.5e-3
    hold, accel, decel = RZ_PROFILE
    segments = geom.speed_profile(RZ_OMEGA, hold, accel, decel, max_step=max_step)
    copies = 4   # several copies of each: deterministic, so all must be equal
    d = np.repeat(sizes, copies)
    outcome, r = run(segments, RZ_RHO, RZ_ETA, d, np.full(d.size, RZ_RHO_P), start=(r0, r0), brownian=False)
    assert np.all(outcome == layout.SUPERNATANT)
    for i, size in enumerate(sizes):
        ref, bound = rz_reference(size, r0, segments)
        assert ref < R_BOT - 5e-3
        got = r[i * copies:(i + 1) * copies]
        assert np.all(got == got[0])
        # float32: a deterministic path rounds at every substep (hundreds): 16 ulps
        assert abs(got[0] - ref) <= 2 * bound + rounding(ref, ulps=16), (size, got[0] - ref, bound)
    # the check can tell: the 100-nm particles moved 2.6 cm, 3e5 times the tolerance
    assert rz_reference(100e-9, r0, segments)[0] - r0 > 0.02


def test_rate_zonal_zone_of_finite_width():
    """The same run (default steps) with 100-nm particles loaded uniformly in the top 1 mm of the column. The
    deterministic map F: r0 -> r_final is monotonic, so every final radius lies in [F(lo), F(hi)] (to the
    integrator tolerance of test_rate_zonal_positions_match_the_ode) and the mean of the final radii is the
    average of F over the zone, computed by 8-point Gauss-Legendre quadrature of the solve_ivp solutions (exact
    to < 1e-12 m for this smooth, nearly linear F). Tolerance of the mean: 5 SE, SE = sd(F(r0)) / sqrt(n)."""
    n = 2000
    lo, hi = R_MEN, R_MEN + 1e-3
    hold, accel, decel = RZ_PROFILE
    segments = geom.speed_profile(RZ_OMEGA, hold, accel, decel)
    outcome, r = run(segments, RZ_RHO, RZ_ETA, np.full(n, 100e-9), np.full(n, RZ_RHO_P), start=(lo, hi),
                     brownian=False)
    assert np.all(outcome == layout.SUPERNATANT)
    f_lo, b_lo = rz_reference(100e-9, lo, segments)
    f_hi, b_hi = rz_reference(100e-9, hi, segments)
    tol = 2 * max(b_lo, b_hi) + rounding(f_hi, ulps=16)
    assert r.min() >= f_lo - tol and r.max() <= f_hi + tol
    assert r.max() - r.min() > 0.9 * (f_hi - f_lo)   # the zone is spread, not collapsed
    x, w = np.polynomial.legendre.leggauss(8)
    nodes = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    vals = np.array([rz_reference(100e-9, x0, segments)[0] for x0 in nodes])
    mean = 0.5 * np.sum(w * vals)
    sd = math.sqrt(max(0.5 * np.sum(w * vals ** 2) - mean ** 2, 0.0))
    assert abs(r.mean() - mean) <= 5 * sd / math.sqrt(n) + tol


# ---------------------------------------------------------------- 4. a dense cushion
CUSHION_TOP = R_BOT - 0.01                       # bottom 1 cm
J_LAST = int(np.nonzero(GRID < CUSHION_TOP)[0][-1])   # last table point above the cushion
CUSHION_RHO = np.where(GRID < CUSHION_TOP, 1050.0, 1300.0)


def cushion_band():
    """Where a 1.15 g/mL particle stops: the step is smeared linearly over the one cell [GRID[J], GRID[J+1]]
    (linear interpolation between table points), so rho_m = 1150 at GRID[J] + DR (1150 - 1050) / 250; the
    gradient there is 250 / DR kg/m^4, the band sigma^2 = kB T / (V omega^2 r d rho/dr) ~ 2 um."""
    def rho_fn(r):
        return np.interp(r, GRID, CUSHION_RHO)
    r_iso = GRID[J_LAST] + DR * 100.0 / 250.0
    sigma = band_sigma(BAND_D, W2_100K, r_iso, 250.0 / DR)
    return rho_fn, r_iso, sigma


def test_cushion_pellets_only_particles_denser_than_it():
    """A 1.30 g/mL cushion in the bottom 1 cm under 1.05 g/mL (1.5 mPa s throughout), 100,000 g for 3 h with a
    3-min acceleration and a 5-min deceleration, particles of 100 nm over the whole column: those of 1.35 g/mL
    (denser than the cushion) all pellet; those of 1.15 g/mL are stopped by it: none pelleted, every one inside
    the table cell over which the step is smeared, [GRID[J], GRID[J+1]] (0.21 mm; allowance = one grid spacing,
    from the linear interpolation; the band itself, ~2 um at speed, widens during the deceleration by at most
    the diffusion length sqrt(2 D t_decel) = 40 um, still inside the cell: r_iso sits 86 um from its upper
    edge and 128 um from the lower).

    Run length: the light particles need 38 min from the meniscus to the cushion, the heavy ones 7 min through
    it (deterministic times, computed here; the run is checked to be more than twice their sum)."""
    n = 10000
    rho_fn, r_iso, sigma = cushion_band()
    hold = 3 * 3600.0
    t_light = approach_time(BAND_D, 1150.0, rho_fn, ETA_15, W2_100K, R_MEN, r_iso, 0.01 * DR)
    s_heavy = s_stokes(BAND_D, 1350.0, 1300.0, 1.5e-3)
    t_heavy = math.log(R_BOT / CUSHION_TOP) / (s_heavy * W2_100K)
    assert hold > 2 * max(t_light, t_heavy + t_light)
    segments = geom.speed_profile(math.sqrt(W2_100K), hold, 180.0, 300.0)
    rho_p = np.where(np.arange(n) % 2 == 0, 1150.0, 1350.0)
    outcome, r = run(segments, rho_fn, ETA_15, np.full(n, BAND_D), rho_p, rho_table=CUSHION_RHO)
    light = rho_p == 1150.0
    assert np.all(outcome[~light] == layout.PELLET)
    assert np.all(outcome[light] == layout.SUPERNATANT)
    assert np.all((r[light] >= GRID[J_LAST]) & (r[light] <= GRID[J_LAST + 1])), (
        (r[light].min() - GRID[J_LAST]) / DR, (r[light].max() - GRID[J_LAST]) / DR)


def cushion_setup(eta_cushion, hold):
    """(rho_fn, r_iso, sigma, viscosity table) of the cushion with its own viscosity, and a check that ``hold``
    exceeds twice the deterministic approach of a 1.15 g/mL particle from the meniscus or the tube bottom to
    0.01 cell of r_iso (39 min from the meniscus)."""
    rho_fn, r_iso, sigma = cushion_band()
    eta_table = np.where(GRID < CUSHION_TOP, 1.5e-3, eta_cushion)

    def eta_fn(r):
        return np.interp(r, GRID, eta_table)
    t_approach = max(approach_time(BAND_D, 1150.0, rho_fn, eta_fn, W2_100K, r0, r_iso, 0.01 * DR)
                     for r0 in (R_MEN, R_BOT))
    assert hold > 2 * t_approach
    return rho_fn, r_iso, sigma, eta_table


@pytest.mark.parametrize("eta_cushion,max_step", [
    (1.5e-3, None),
    (10e-3, 30.0),
    (10e-3, None),
])
@pytest.mark.both_precisions
def test_cushion_stops_particles_exactly_without_diffusion(eta_cushion, max_step):
    """Without Brownian motion a 1.15 g/mL particle stops where the drift s(r) omega^2 r vanishes: at the point
    of the smeared step where rho_m = 1150, r_iso = GRID[J] + DR (1150 - 1050) / 250, and it gets there
    exponentially fast once inside the step cell (rate V omega^2 r (250/DR) / (3 pi eta d) > 0.1 /s). After 2 h
    at 100,000 g (3-min acceleration, no deceleration; the run is checked to exceed twice the deterministic
    approach time) every particle, started anywhere in the column, must be at r_iso to 1e-9 m (a deterministic
    check: 1e-9 m is far above rounding and far below a table cell, 2.1e-4 m). The cushion's viscosity (10 mPa s,
    a viscous dense cushion) changes how fast they get there, not where they stop."""
    n = 10000
    hold = 2 * 3600.0
    rho_fn, r_iso, _, eta_table = cushion_setup(eta_cushion, hold)
    segments = geom.speed_profile(math.sqrt(W2_100K), hold, 180.0, 0.0, max_step=max_step)
    outcome, r = run(segments, rho_fn, ETA_15, np.full(n, BAND_D), np.full(n, 1150.0), rho_table=CUSHION_RHO,
                     eta_table=eta_table, brownian=False)
    assert np.all(outcome == layout.SUPERNATANT)
    dev = np.abs(r - r_iso)
    assert dev.max() < rounding(r_iso), (dev.max(), np.mean(dev > 1e-6))


@pytest.mark.parametrize("eta_cushion,max_step", [
    (1.5e-3, 30.0),
    (10e-3, 5.0),
    (1.5e-3, None),
    (10e-3, None),
])
def test_cushion_band_at_equilibrium(eta_cushion, max_step):
    """With Brownian motion, at speed (no deceleration) the 1.15 g/mL particles of
    test_cushion_pellets_only_particles_denser_than_it form a Boltzmann band on the smeared step: mean at r_iso,
    sd sigma = sqrt(kB T / (V omega^2 r (250/DR))) = 2.2 um, all within 6 sigma (P of one beyond, n = 10000:
    2e-5). The cushion's own viscosity must not matter: the equilibrium distribution is independent of friction.
    Expected moments by quadrature of exp(-U/kT) over r_iso +/- 20 sigma (inside the cell, whose edges are 39
    and 58 sigma away, so the step's kinks do not enter). Tolerances 5 SE (sigma/sqrt(n), sigma/sqrt(2n)).
    Run: 2 h at speed, more than twice the deterministic approach time; then the relaxation time in the steep
    cell is < 10 s."""
    n = 10000
    hold = 2 * 3600.0
    rho_fn, r_iso, sigma, eta_table = cushion_setup(eta_cushion, hold)
    segments = geom.speed_profile(math.sqrt(W2_100K), hold, 180.0, 0.0, max_step=max_step)
    outcome, r = run(segments, rho_fn, ETA_15, np.full(n, BAND_D), np.full(n, 1150.0), rho_table=CUSHION_RHO,
                     eta_table=eta_table)
    assert np.all(outcome == layout.SUPERNATANT)
    mean, sd = boltzmann_moments(rho_fn, BAND_D, 1150.0, W2_100K, r_iso - 20 * sigma, r_iso + 20 * sigma)
    assert sd == pytest.approx(sigma, rel=2e-3)
    assert abs(r.mean() - mean) <= 5 * sd / math.sqrt(n), (r.mean() - mean) / (sd / math.sqrt(n))
    assert abs(r.std() - sd) <= 5 * sd / math.sqrt(2 * n), r.std() / sd
    assert np.max(np.abs(r - mean)) < 6 * sd, np.max(np.abs(r - mean)) / sd


# ---------------------------------------------------------------- 5. homogeneous medium: the closed form
@pytest.mark.parametrize("brownian", [False, True], ids=["deterministic", "brownian"])
@pytest.mark.parametrize("points", [2, 401])
def test_homogeneous_medium_pellets_the_closed_form_fraction(brownian, points):
    """With constant tables the gradient kernel is plain differential centrifugation in a swinging bucket:
    particles started uniformly over the whole column pellet with probability
    P = (r_max / (r_max - r_min)) (1 - exp(-s integral omega^2 dt)) (Livshits et al. 2015, Sci Rep 5:17319),
    s = d^2 (rho_p - rho_m) / (18 eta), with integral omega^2 dt = omega^2 (t_hold + t_accel/3 + t_decel/3)
    (linear ramps), computed here. Medium 1.005 g/mL, 1.6 mPa s; particles 1.10 g/mL of 40, 60 and 80 nm;
    100,000 g for 1 h with 5-min ramps (P = 0.29, 0.59, 0.91).

    Tolerance: 5 binomial SE per size. With Brownian motion, the allowance for diffusion is 10 l/(r_max - r_min),
    l = D/(s omega^2 r_max) the boundary-layer thickness at the bottom (<= 0.9 um: <= 1e-4 in P), far below the
    SE (5e-3).
    Tables of 2 and of 401 points must agree (both exact for a constant medium)."""
    n = 10000
    rho_m, eta = 1005.0, 1.6e-3
    hold, accel, decel = 3600.0, 300.0, 300.0
    w2 = W2_100K
    segments = geom.speed_profile(math.sqrt(w2), hold, accel, decel)
    integral = w2 * (hold + accel / 3.0 + decel / 3.0)
    sizes = [40e-9, 60e-9, 80e-9]
    d = np.repeat(sizes, n)
    grid = np.linspace(R_MEN, R_BOT, points)
    outcome, _ = run(segments, constant(rho_m), constant(eta), d, np.full(d.size, 1100.0), brownian=brownian,
                     grid=grid)
    for i, size in enumerate(sizes):
        s = s_stokes(size, 1100.0, rho_m, eta)
        p = min(1.0, R_BOT / (R_BOT - R_MEN) * (1.0 - math.exp(-s * integral)))
        se = math.sqrt(max(p * (1 - p), 1.0 / n) / n)
        ell = diffusion(size, eta) / (s * w2 * R_BOT)
        allowance = 10 * ell / (R_BOT - R_MEN) if brownian else 0.0
        got = np.mean(outcome[i * n:(i + 1) * n] == layout.PELLET)
        assert abs(got - p) <= 5 * se + allowance, (size, got, p, se)


# ---------------------------------------------------------------- 6. floaters
def test_floaters_collect_at_the_meniscus():
    """Particles lighter than the whole medium (100 nm, 1.03 g/mL in the 1.05 -> 1.25 g/mL gradient, 100,000 g,
    default steps) end at the meniscus, none pelleted.

    At speed (3-h run, 3-min acceleration, no deceleration) the reflecting meniscus holds them in an exponential
    layer, p(x) ~ exp(-x/l), x = r - r_meniscus, l = kB T / (V omega^2 r_men (rho_m(r_men) - rho_p)) = 0.61 um
    (the medium's density and r change by < 1e-4 relative over the layer): mean x = l within 5 SE (SE = l/sqrt(n)
    for an exponential), sd = l within 5 SE (SE = l sqrt(2/n), kurtosis 9), every x < 25 l (P(any) = 3e-7).
    With a 5-min deceleration added they stay within 25 l + 6 sqrt(2 D t_decel) (the diffusion length over the
    deceleration; the centrifugal push only shortens it). Run length: deterministic float-up from the tube bottom
    to the meniscus, checked to be less than half the run."""
    n = 20000
    rho_p = 1030.0
    hold = 3 * 3600.0
    t_up = approach_time(BAND_D, rho_p, LIN_RHO, ETA_15, W2_100K, R_BOT, R_MEN, 1e-7)
    assert t_up < hold / 2
    ell = KB * TEMP / (volume(BAND_D) * W2_100K * R_MEN * (1050.0 - rho_p))
    segments = geom.speed_profile(math.sqrt(W2_100K), hold, 180.0, 0.0)
    outcome, r = run(segments, LIN_RHO, ETA_15, np.full(n, BAND_D), np.full(n, rho_p))
    assert np.all(outcome == layout.SUPERNATANT)
    x = r - R_MEN
    assert np.all(x >= 0.0)
    assert abs(x.mean() - ell) <= 5 * ell / math.sqrt(n)
    assert abs(x.std() - ell) <= 5 * ell * math.sqrt(2.0 / n)
    assert x.max() < 25 * ell
    decel = 300.0
    segments = geom.speed_profile(math.sqrt(W2_100K), hold, 180.0, decel)
    outcome, r = run(segments, LIN_RHO, ETA_15, np.full(n, BAND_D), np.full(n, rho_p), seed=2)
    assert np.all(outcome == layout.SUPERNATANT)
    assert np.all(r - R_MEN < 25 * ell + 6 * math.sqrt(2 * diffusion(BAND_D, 1.5e-3) * decel))


# ---------------------------------------------------------------- 7. reproducibility
def test_reproducible_and_independent_of_batch():
    """Random numbers are keyed by (seed, particle id): the same seed gives identical outcome and radius arrays,
    another seed different radii, and the first 100 particles run alone give exactly what they give inside a
    batch of 1000 (no dependence on the particles run alongside). Exact equality: no tolerance."""
    n = 1000
    rng = np.random.default_rng(3)
    d = rng.uniform(50e-9, 400e-9, n)
    rho_p = rng.uniform(1030.0, 1350.0, n)
    segments = geom.speed_profile(math.sqrt(W2_100K), 1800.0, 120.0, 120.0)
    o1, r1 = run(segments, LIN_RHO, ETA_15, d, rho_p, seed=11)
    o2, r2 = run(segments, LIN_RHO, ETA_15, d, rho_p, seed=11)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert 0 < np.sum(o1 == layout.PELLET) < n   # a mix of outcomes
    o3, r3 = run(segments, LIN_RHO, ETA_15, d, rho_p, seed=12)
    kept = (o1 == layout.SUPERNATANT) & (o3 == layout.SUPERNATANT)
    assert np.mean(r1[kept] != r3[kept]) > 0.99
    o4, r4 = run(segments, LIN_RHO, ETA_15, d[:100], rho_p[:100], seed=11)
    np.testing.assert_array_equal(o4, o1[:100])
    np.testing.assert_array_equal(r4, r1[:100])


# ---------------------------------------------------------------- a vesicle's density follows the local osmolality
OSM_SHARE = 0.4                 # osmotically active share of the vesicle's volume (water fraction 0.5, 20 % inactive)
OSM_ISO, OSM_WATER = 0.290, 998.2   # osmol/kg of the lumen; kg/m^3 of the water that leaves it
OSM_RHO = linear(1060.0, 1200.0)    # a 15-45 % sucrose-like gradient made up in buffer
OSM_PI = linear(0.75, 2.6)          # its osmolality [osmol/kg]: sucrose's plus the buffer's
OSM_ETA = linear(1.7e-3, 6.0e-3)


def boyle_van_t_hoff(rho_iso, pi):
    """The vesicle's density where the medium's osmolality is pi [osmol/kg]: its active volume share scales as
    Pi_iso / Pi (Boyle-van 't Hoff) and the water that leaves takes its mass with it (docs/gradient_media.md)."""
    a = OSM_SHARE * (1.0 - OSM_ISO / pi)
    return (rho_iso - a * OSM_WATER) / (1.0 - a)


def osmotic_reference(d, rho_iso, r0, segments, follow=True):
    """Final radius of dr/dt = d^2 (rho_p(r) - rho_m(r)) / (18 eta(r)) omega^2 r through ``segments``
    (solve_ivp DOP853, rtol 1e-10), rho_p from ``boyle_van_t_hoff`` at the local osmolality (``follow``) or fixed
    at its value where it bands (where rho_p = rho_m: the shortcut of the old code)."""
    from scipy.integrate import solve_ivp
    from scipy.optimize import brentq

    if follow:
        rho_p = lambda r: boyle_van_t_hoff(rho_iso, OSM_PI(r))  # noqa: E731
    else:
        r_band = brentq(lambda r: boyle_van_t_hoff(rho_iso, OSM_PI(r)) - OSM_RHO(r), R_MEN, R_BOT)
        fixed = float(OSM_RHO(r_band))
        rho_p = lambda r: fixed  # noqa: E731
    r = r0
    for h, w2 in segments:
        sol = solve_ivp(lambda t, y: [d * d * (rho_p(y[0]) - OSM_RHO(y[0])) / (18 * OSM_ETA(y[0])) * w2 * y[0]],
                        (0.0, h), [r], method="DOP853", rtol=1e-10, atol=1e-14)
        r = float(sol.y[0, -1])
    return r


def test_a_vesicle_takes_the_density_of_the_local_osmolality_on_its_way():
    """Rate-zonal, no Brownian motion: vesicles of 100 and 150 nm (1.10 g/mL in an iso-osmotic medium, 40 % of
    their volume osmotically active water) loaded 0.5 mm below the meniscus of a sucrose-like gradient whose
    osmolality rises from 0.75 to 2.6 osmol/kg, 100,000 g for 40 min. Water crosses a vesicle's membrane in
    seconds, so its density at every radius is the Boyle-van 't Hoff density of the local osmolality, which is
    lighter than its banding density above the band: each final radius must be the ODE's with that density.
    Tolerance 10 um: a hundred times the integrator's error in the constant-density test above, a hundredth of
    how far the old shortcut (the banding density for the whole spin) puts them (checked here too)."""
    from exosim.methods.gradient import gradient_params, run_tables

    r0 = R_MEN + 0.5e-3
    segments = geom.speed_profile(RZ_OMEGA, 2400.0, 180.0, 300.0)
    t_total = float(np.sum(segments[:, 0]))
    times, rho, eta = tables(OSM_RHO, OSM_ETA, t_total)
    osm = np.vstack([OSM_PI(GRID)] * 2)
    prm = gradient_params(R_MEN, R_BOT, GRID, times, (r0, r0), TEMP, brownian=False)
    sizes = np.array([100e-9, 150e-9])
    d = np.repeat(sizes, 2)
    outcome, r = run_tables(CPU(), prm, segments, rho, eta, d, np.full(d.size, 1100.0), np.ones(d.size, bool),
                            seed=1, step=0, osmolality_table=osm, share=np.full(d.size, OSM_SHARE))
    r = np.asarray(r)
    assert np.all(np.asarray(outcome) == layout.SUPERNATANT)
    for i, size in enumerate(sizes):
        ref = osmotic_reference(size, 1100.0, r0, segments)
        shortcut = osmotic_reference(size, 1100.0, r0, segments, follow=False)
        assert abs(r[2 * i] - ref) <= 10e-6, (size, r[2 * i] - ref)
        assert shortcut - ref > 1e-3, (size, shortcut - ref)   # the test can tell the two apart
