"""The finite-volume Lamm-equation solver (exosim.physics.lamm) against exact and closed-form solutions, and against
exosim's Monte Carlo.

Tolerances come from the known discretisation error of the scheme or of the reference (stated at each test), or
from the difference between two grids (for an order p >= 1 method the finer grid's error is at most the
difference between the two), never from values the solver printed. The Monte Carlo comparison uses 5 binomial
standard errors plus the PDE's two-grid error estimate.
"""
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import erfc, ndtr

from exosim.physics import lamm
from exosim.physics import rotors as geom

GEOMETRIES = ("tube", "sector")
POWER = {"tube": 0, "sector": 1}
SW41 = (0.0674, 0.1531)  # SW 41 Ti r_min, r_max [m]


def area(r, geometry):
    return r ** POWER[geometry]


def volume(r0, r1, geometry):
    return (r1 ** 2 - r0 ** 2) / 2 if geometry == "sector" else r1 - r0


def omega2_integral(segments):
    return float(np.sum(segments[:, 0] * segments[:, 1]))


# --- 1. conservation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("bottom", ["absorbing", "reflecting"])
def test_amount_is_conserved_to_rounding(geometry, bottom):
    """sum(c V) + pelleted stays the initial amount to rounding (every face flux leaves one cell and enters the
    next, and the pellet is tallied from the same flux): uneven cells, a rough start, ramps, a stiff case (cell
    Peclet numbers ~1e4), the same with steps so long that some are redone by backward Euler, a diffusive case with
    long steps, and concentration-dependent coefficients."""
    rng = np.random.default_rng(7)
    u = np.linspace(0.0, 1.0, 151)
    u[1:-1] += rng.uniform(-0.3, 0.3, 149) / 150  # cells of 0.4 to 1.6 times the mean
    edges = SW41[0] + (SW41[1] - SW41[0]) * u
    c0 = rng.uniform(0.0, 2.0, 150)
    seg = geom.speed_profile(geom.rpm_to_omega(30000), 1200.0, accel=120.0, decel=240.0)
    cases = [dict(s=5e-11, D=2.6e-12), dict(s=5e-11, D=2.6e-12, courant=20.0),
             dict(s=2e-13, D=6e-11, courant=200.0),
             dict(s=lambda c, r: 3e-12 * (1 - 0.3 * c), D=lambda c, r: 2e-11 * (1 + 0.2 * c) + 0 * r, iterations=1)]
    fallbacks = 0
    for case in cases:
        res = lamm.solve(edges, c0, seg, geometry=geometry, bottom=bottom, **case)
        total = lamm.amount(edges, c0, geometry)
        assert res.total == pytest.approx(total, rel=1e-15)
        assert abs(res.remaining + res.pelleted - total) <= 1e-12 * total
        assert np.min(res.c) >= -lamm.NEGATIVE_TOL * np.max(res.c)
        if bottom == "reflecting":
            assert res.pelleted == 0.0
        else:
            assert res.pelleted > 0.0
        fallbacks += res.n_fallback
    assert fallbacks > 0  # the backward-Euler path was exercised and conserves as well


# --- 2. sedimentation equilibrium -----------------------------------------------------------------------------

def equilibrium_cell_averages(edges, a, geometry, total):
    """Cell averages of c ~ exp(a r^2) normalised to ``total``: exact for the sector (int e^{a r^2} r dr =
    e^{a r^2} / (2a)), 20-point Gauss-Legendre per cell for the tube (error far below 1e-15 here)."""
    r0, r1 = edges[:-1], edges[1:]
    if geometry == "sector":
        amounts = (np.exp(a * r1 ** 2) - np.exp(a * r0 ** 2)) / (2 * a)
    else:
        x, w = np.polynomial.legendre.leggauss(20)
        mid, half = (r0 + r1) / 2, (r1 - r0) / 2
        amounts = np.sum(w[None, :] * np.exp(a * (mid[:, None] + half[:, None] * x[None, :]) ** 2), axis=1) * half
    return amounts / volume(r0, r1, geometry) * total / amounts.sum()


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_sedimentation_equilibrium_reflecting_bottom(geometry):
    """Long run against a reflecting bottom: c(r) ~ exp(s w^2 r^2 / (2 D)) (constant s, D). With uniform cells the
    exponentially fitted fluxes make the discrete steady state exact at the cell midpoints, so what remains is the
    midpoint-versus-cell-average difference, O(h^2): the error falls about 4x from 40 to 80 cells. The run is
    25 slowest relaxation times (at most L^2 / (pi^2 D)) long, so the approach to equilibrium is below 1e-10;
    the end state does not depend on the step."""
    r_m, r_b, D = 0.070, 0.072, 1e-10
    a = 3.0 / (r_b ** 2 - r_m ** 2)          # c(r_b) / c(r_m) = e^3
    w2 = 1.0e7
    s = 2 * D * a / w2
    t_relax = (r_b - r_m) ** 2 / (math.pi ** 2 * D)
    seg = geom.speed_profile(math.sqrt(w2), 25 * t_relax, accel=300.0)
    errors = []
    for n in (40, 80):
        edges = lamm.uniform_edges(r_m, r_b, n)
        exact = equilibrium_cell_averages(edges, a, geometry, lamm.amount(edges, 1.0, geometry))
        runs = [lamm.solve(edges, 1.0, seg, s, D, geometry=geometry, bottom="reflecting", courant=1e4,
                           max_dt=max_dt) for max_dt in (t_relax / 4, t_relax / 8)]
        assert np.max(np.abs(runs[0].c - runs[1].c)) <= 1e-9 * np.max(exact)
        errors.append(np.max(np.abs(runs[1].c / exact - 1)))
    # O(h^2): the relative difference between a cell's midpoint value and its average is (h^2 / 24) (c'' / c)
    h = (r_b - r_m) / 40
    curvature = max(2 * a + (2 * a * r_b) ** 2, 0)
    assert errors[0] <= h ** 2 / 24 * curvature * 1.5
    assert 3.0 <= errors[0] / errors[1] <= 5.0


# --- 3. no diffusion: the swinging-bucket closed form ---------------------------------------------------------

def closed_form_pelleted(r_m, r_b, lam, geometry):
    """Uniform start, no diffusion: a particle at r0 is pelleted when r0 e^lambda >= r_b. Tube (constant
    cross-section): (r_b / (r_b - r_m)) (1 - e^-lambda) (Livshits et al. 2015, Sci Rep 5:17319); sector (volume
    r dr): (r_b^2 / (r_b^2 - r_m^2)) (1 - e^-2 lambda). Capped at 1."""
    k = POWER[geometry]
    return min(1.0, r_b ** (k + 1) / (r_b ** (k + 1) - r_m ** (k + 1)) * -math.expm1(-(k + 1) * lam))


def profile_reaching(frac, s, omega, accel, decel):
    """A speed profile whose lambda = s int w^2 dt carries the meniscus to r_m + frac (r_b - r_m)."""
    r_m, r_b = SW41
    lam = math.log((r_m + frac * (r_b - r_m)) / r_m)
    ramps = s * omega ** 2 * (accel + decel) / 3.0  # a linear ramp contributes omega^2 T / 3
    return geom.speed_profile(omega, (lam - ramps) / (s * omega ** 2), accel, decel)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_no_diffusion_matches_closed_form_before_the_boundary_arrives(geometry):
    """D = 0, ramps: while the trailing boundary is still far from the bottom the pellet receives only the
    plateau, which is exact in space (uniform c gives J = v c), so the pelleted fraction equals the closed form to
    the time error of TR-BDF2: local error constant 0.04 (Hosea & Shampine 1996), steps (k+1) A dt <=
    (k+1) h / r_b at courant 1, over lambda: relative error ~ 0.04 (k+1)^3 (h / r_b)^2 lambda."""
    r_m, r_b = SW41
    s, omega = 5e-11, geom.rpm_to_omega(30000)
    seg = profile_reaching(0.5, s, omega, 120.0, 180.0)
    lam = s * omega2_integral(seg)
    expected = closed_form_pelleted(r_m, r_b, lam, geometry)
    k = POWER[geometry]
    for n in (200, 800):
        got = lamm.pelleted_fraction(r_m, r_b, seg, s, 0.0, geometry=geometry, n_cells=n)
        h = (r_b - r_m) / n
        assert abs(got - expected) <= 0.1 * (k + 1) ** 3 * (h / r_b) ** 2 * lam * expected


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_no_diffusion_smearing_when_the_boundary_reaches_the_bottom(geometry):
    """D = 0, ramps, the meniscus carried exactly to the bottom (closed form: everything pelleted). The upwind
    limit of the fluxes smears the boundary with a numerical diffusion v h / 2; in the frame stretched by the
    field its variance obeys d(sigma^2)/d(lambda) = 2 sigma^2 + R h, R = r_m e^lambda, so sigma^2 = h R (R - r_m)
    / r_m when it arrives at R = r_b. The part of the smeared plateau c_p = (r_m / r_b)^(k+1) still short of the
    wall is c_p A_b sigma / sqrt(2 pi) per unit of the total V: the deficit falls as sqrt(h) (first-order
    smearing of a width). Checked to 2 % (the model neglects the time error and the variation of v over the
    width, both O(h)) on two grids 4x apart."""
    r_m, r_b = SW41
    s, omega = 5e-11, geom.rpm_to_omega(30000)
    seg = profile_reaching(1.0, s, omega, 120.0, 180.0)
    assert closed_form_pelleted(r_m, r_b, s * omega2_integral(seg), geometry) == pytest.approx(1.0, abs=1e-12)
    k = POWER[geometry]
    deficits = []
    for n in (100, 400):
        h = (r_b - r_m) / n
        sigma = math.sqrt(h * r_b * (r_b - r_m) / r_m)
        predicted = (r_m / r_b) ** (k + 1) * area(r_b, geometry) * sigma / math.sqrt(2 * math.pi) / volume(
            r_m, r_b, geometry)
        deficit = 1.0 - lamm.pelleted_fraction(r_m, r_b, seg, s, 0.0, geometry=geometry, n_cells=n)
        assert deficit == pytest.approx(predicted, rel=0.02)
        deficits.append(deficit)
    assert deficits[0] / deficits[1] == pytest.approx(2.0, rel=0.1)


# --- 4. the moving boundary: exact free solution, plateau, second moment, Faxen -----------------------------

# an analytical-ultracentrifuge-like run: boundary moves ~3 mm, spreads sigma ~0.35 mm, cell Peclet ~1
R_M, R_B = 0.060, 0.067
W2, A_T, T_RUN, D_B = 5000.0 ** 2, 0.05, 3000.0, 2e-11
A_RATE = A_T / T_RUN
S_B = A_RATE / W2
R_BOUNDARY = R_M * math.exp(A_T)
SIGMA = math.sqrt(D_B * math.expm1(2 * A_T) / A_RATE)


def free_profile(r, geometry):
    """Exact solution without walls for c0 = 1 on r >= r_m (0 inside). The Lamm equation is the Fokker-Planck
    equation of dx = A x dt + sqrt(2 D) dW in 1-D (tube) or 2-D (sector; by symmetry the radial walls of a sector
    carry no flux), whose transition is exact: x(t) ~ N(x0 e^{At}, sigma^2 I), sigma^2 = D (e^{2At} - 1) / A
    (Gillespie 1996). Hence c = e^{-(k+1)At} P(|x + sigma Z| >= R), R = r_m e^{At}: the erfc for the tube, a
    Marcum Q function for the sector, here integrated over the tangential normal (Gauss-Hermite, 80 points)."""
    r = np.asarray(r, dtype=np.float64)
    if geometry == "tube":
        return math.exp(-A_T) * 0.5 * erfc((R_BOUNDARY - r) / (SIGMA * math.sqrt(2)))
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / math.sqrt(2 * math.pi)
    u = np.sqrt(R_BOUNDARY ** 2 - (SIGMA * z) ** 2)[None, :]
    inside = (ndtr((u - r[:, None]) / SIGMA) - ndtr((-u - r[:, None]) / SIGMA)) @ w
    return math.exp(-2 * A_T) * (1.0 - inside)


def faxen_profile(r, geometry):
    """Faxen's approximate solution (Faxen 1929, Ark. Mat. Astr. Fys. 21B:1) in the form of jscatter's
    formel.sedimentationProfileFaxen: c = (c_p / 2) erfc(r_m (s w^2 t - ln(r / r_m)) / (2 sqrt(D t))), c_p the
    plateau; it neglects the meniscus and the stretching of the boundary (its width is off by O(s w^2 t / 2))."""
    c_p = math.exp(-(POWER[geometry] + 1) * A_T)
    return c_p / 2 * erfc(R_M * (A_T - np.log(r / R_M)) / (2 * math.sqrt(D_B * T_RUN)))


def midpoint(x, c, level):
    i = int(np.nonzero(c > level)[0][0])
    return x[i - 1] + (level - c[i - 1]) / (c[i] - c[i - 1]) * (x[i] - x[i - 1])


def boundary_runs(geometry, extend):
    """Two grids (25 um and 12.5 um cells) through the run, reflecting bottom. ``extend``: the column reaches
    3 mm (8.5 sigma) inside the meniscus, empty there, so that no wall is felt (the free problem)."""
    out = []
    for h in (25e-6, 12.5e-6):
        inner = R_M - (3e-3 if extend else 0.0)
        edges = np.linspace(inner, R_B, int(round((R_B - inner) / h)) + 1)
        x = 0.5 * (edges[1:] + edges[:-1])
        c0 = (x > R_M).astype(float)
        res = lamm.solve(edges, c0, np.array([[T_RUN, W2]]), S_B, D_B, geometry=geometry, bottom="reflecting")
        out.append((x, res))
    return out


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_moving_boundary_matches_the_exact_free_solution(geometry):
    """Profile, plateau, second-moment boundary and midpoint against exact results.

    - Plateau c_p = c0 e^{-(k+1) s w^2 t} (radial dilution): uniform c is exact in space, so only TR-BDF2's
      O(dt^2) error remains (relative 0.04 ((k+1) A dt)^2 (k+1) A t < 1e-9 here): checked to 1e-8.
    - Second-moment boundary r_w (r_w^2 = r_p^2 - 2 Q / c_p in the sector, r_w = r_p - Q / c_p in the tube, Q
      the amount inside a plateau radius r_p) moves exactly as r_m e^{s w^2 t} (Goldberg 1953), also in the
      semi-discrete scheme (the flux through a plateau face is exact): checked to 1e-8.
    - Profile: the free solution (column extended inside the meniscus); the finer grid's error is at most the
      difference between the grids (order >= 1) and it falls ~4x (second order at cell Peclet numbers ~1).
    - Midpoint (c = c_p / 2) of the free solution found by root finding, within the grid difference.
    """
    k = POWER[geometry]
    c_p = math.exp(-(k + 1) * A_T)
    (x1, r1), (x2, r2) = boundary_runs(geometry, extend=True)
    errs = []
    for x, res in ((x1, r1), (x2, r2)):
        sel = x < R_BOUNDARY + 8 * SIGMA  # the pile-up against the bottom is not part of the free problem
        errs.append(np.max(np.abs(res.c[sel] - free_profile(x[sel], geometry))))
        i_p = int(np.searchsorted(res.edges, R_BOUNDARY + 8 * SIGMA))  # boundary's tail there < 1e-13
        assert res.c[i_p] == pytest.approx(c_p, rel=1e-8)
        q = np.dot(res.c[:i_p], res.volumes[:i_p])
        r_p = res.edges[i_p]
        r_w = math.sqrt(r_p ** 2 - 2 * q / res.c[i_p]) if k == 1 else r_p - q / res.c[i_p]
        assert r_w == pytest.approx(R_BOUNDARY, rel=1e-8)
    grid_difference = np.max(np.abs(np.interp(x1, x2, r2.c) - r1.c)[x1 < R_BOUNDARY + 8 * SIGMA])
    assert errs[1] <= grid_difference
    assert errs[0] / errs[1] >= 3.0
    exact_mid = brentq(lambda r: free_profile([r], geometry)[0] - c_p / 2, R_BOUNDARY - SIGMA, R_BOUNDARY + SIGMA)
    mids = [midpoint(x, res.c, c_p / 2) for x, res in ((x1, r1), (x2, r2))]
    assert abs(mids[1] - exact_mid) <= abs(mids[0] - mids[1])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_moving_boundary_from_a_meniscus_matches_faxen(geometry):
    """With the real (reflecting) meniscus: midpoint at r_m e^{s w^2 t} and the profile within Faxen's known
    approximation error. Allowances, added: the grid difference (two grids); Faxen's own error, max |Faxen - exact
    free solution| over the compared range (about 0.7 % of c_p here); the meniscus's effect on the boundary, a
    shift delta sinh(s w^2 t), delta = D / (s w^2 r_m) (the leading term of Behlke & Ristau 2002, Biophys Chem
    95:59, eq. 28), which moves c by at most c_p shift / (sigma sqrt(2 pi)).
    Near the meniscus (10 delta) the depleted layer is left out: Faxen's form does not describe it."""
    k = POWER[geometry]
    c_p = math.exp(-(k + 1) * A_T)
    (x1, r1), (x2, r2) = boundary_runs(geometry, extend=False)
    delta = D_B / (S_B * W2 * R_M)
    shift = delta * math.sinh(A_T)
    meniscus = c_p * shift / (SIGMA * math.sqrt(2 * math.pi))
    sel1 = (x1 > R_M + 10 * delta) & (x1 < R_BOUNDARY + 8 * SIGMA)
    sel2 = (x2 > R_M + 10 * delta) & (x2 < R_BOUNDARY + 8 * SIGMA)
    grid_difference = np.max(np.abs(np.interp(x1[sel1], x2, r2.c) - r1.c[sel1]))
    faxen_error = np.max(np.abs(faxen_profile(x2[sel2], geometry) - free_profile(x2[sel2], geometry)))
    # Faxen's width is 2 sqrt(D t) e^{At} (r / r_m) against the exact sigma sqrt(2): relative error
    # |1 - g e^{-At}|, g = sqrt((e^{2At} - 1) / (2At)), moving c by at most 0.242 c_p times it; ln(r) and the
    # sector's curvature add O(sigma / R)
    g = math.sqrt(math.expm1(2 * A_T) / (2 * A_T))
    assert faxen_error <= c_p * (0.25 * abs(1 - g * math.exp(-A_T)) + SIGMA / R_BOUNDARY)
    got = np.max(np.abs(r2.c[sel2] - faxen_profile(x2[sel2], geometry)))
    assert got <= faxen_error + grid_difference + meniscus
    mids = [midpoint(x, res.c, c_p / 2) for x, res in ((x1, r1), (x2, r2))]
    exact_free_mid = brentq(lambda r: free_profile([r], geometry)[0] - c_p / 2, R_BOUNDARY - SIGMA,
                            R_BOUNDARY + SIGMA)
    assert abs(exact_free_mid - R_BOUNDARY) <= SIGMA ** 2 / R_BOUNDARY  # the 2-D spread's curvature shift
    assert abs(mids[1] - R_BOUNDARY) <= abs(mids[0] - mids[1]) + shift + SIGMA ** 2 / R_BOUNDARY


# --- concentration-dependent coefficients: a layered gradient medium ------------------------------------------

def sucrose_like(n, courant, iterations, save_times=None):
    """Five layers (c = 0.1 ... 0.5, mass-fraction-like) in an SW 41 Ti tube, 18 h at 100,000 g with ramps,
    reflecting bottom; s and D fall with c (a viscosity rising with concentration)."""
    r_m, r_b = SW41
    edges = lamm.uniform_edges(r_m, r_b, n)
    x = 0.5 * (edges[1:] + edges[:-1])
    c0 = 0.1 * (1 + np.minimum(4, ((x - r_m) / (r_b - r_m) * 5).astype(int)))
    seg = geom.speed_profile(geom.omega_for_rcf(100000, 0.1102), 18 * 3600.0, 300.0, 600.0)
    return lamm.solve(edges, c0, seg, lambda c, r: 2e-14 * (1 - 0.8 * c), lambda c, r: 5e-10 * (1 - 0.6 * c),
                      geometry="tube", bottom="reflecting", courant=courant, iterations=iterations,
                      save_times=save_times)


def test_concentration_dependent_coefficients_converge_in_time_and_space():
    """Lagged coefficients are first order in dt, one Picard update per stage second order: errors against a
    small-step reference fall ~2x and ~4x when the step halves. The grid error is estimated from three grids: it
    falls when the grid is refined. Saved profiles keep the amount and come at the asked times."""
    ref = sucrose_like(100, 0.25, 2).c
    for iterations, low, high in ((0, 1.7, 2.5), (1, 3.0, 5.0)):
        e = [np.max(np.abs(sucrose_like(100, cour, iterations).c - ref)) for cour in (4.0, 8.0)]
        assert low <= e[1] / e[0] <= high
    coarse, mid, fine = (sucrose_like(n, 1.0, 1).c for n in (50, 100, 200))
    d1 = np.max(np.abs(np.repeat(coarse, 2) - mid))
    d2 = np.max(np.abs(np.repeat(mid, 2) - fine))
    assert d2 < d1
    times = [0.0, 3600.0, 6 * 3600.0]
    res = sucrose_like(50, 1.0, 0, save_times=times)
    assert np.array_equal(res.times, times) and res.profiles.shape == (3, 50)
    totals = res.profiles @ res.volumes
    assert np.allclose(totals, res.total, rtol=1e-13, atol=0)
    assert res.profiles[2][0] < res.profiles[1][0] < res.profiles[0][0]  # the top thins as the solute sediments


# --- 5. the Monte Carlo ---------------------------------------------------------------------------------------

MC_CASES = {
    # name: diameter [m], liquid [m^3] in one SW 41 Ti tube, RCF at r_avg, time at speed [s]
    "20 nm, short column, 10,000 g": (20e-9, 0.3e-6, 10000.0, 1800.0),
    "50 nm, short column, 2,000 g": (50e-9, 0.3e-6, 2000.0, 1800.0),
    "100 nm vesicle, 0.1 mL, 300 g": (100e-9, 0.1e-6, 300.0, 1800.0),
    "100 nm vesicle, full tube, 30,000 g (drift only)": (100e-9, None, 30000.0, 1200.0),
}


@pytest.mark.parametrize("case", list(MC_CASES))
def test_monte_carlo_agrees_with_the_lamm_equation(case):
    """Single DUC spins in SW 41 Ti (4 degC water, vesicle density 1.15 g/mL, ramps of 60 s and 90 s), Brownian
    motion on: exosim's Monte Carlo pelleted fraction (PELLET or PELLET_LOST) against the Lamm equation in the
    tube geometry (the Monte Carlo's constant cross-section; meniscus reflecting, bottom absorbing), within
    5 binomial standard errors plus the PDE's grid difference (100 and 200 cells). In the first three cases
    diffusion changes the answer by many standard errors (checked against the drift-only closed form); in the
    last it does not."""
    from exosim import CPU
    from exosim.config import load_rotors
    from exosim.kernels import formulas
    from exosim.kernels import layout as K
    from exosim.methods.centrifuge import kernel_params, run_tube, tube_geometry
    from exosim.physics import media

    d, liquid, rcf, duration = MC_CASES[case]
    temperature, rho_p = 277.15, 1150.0
    rho, eta = media.water_density(temperature), media.water_viscosity(temperature)
    rotor = load_rotors()["SW 41 Ti"]
    tube = tube_geometry(rotor, liquid or rotor.tube_volume, 0.0)
    omega = geom.omega_for_rcf(rcf, rotor.r_avg)
    seg = geom.speed_profile(omega, duration, accel=60.0, decel=90.0)
    s = formulas.sedimentation_coefficient(d, rho_p, rho, eta)
    D = formulas.diffusion_coefficient(d, temperature, eta)

    n = 200_000
    prm = kernel_params(tube, rho, eta, temperature, brownian=True)
    outcome, _ = run_tube(CPU(), tube, prm, seg, np.full(n, d), np.full(n, rho_p), np.ones(n, dtype=bool),
                          seed=11, step=0)
    mc = float(np.mean((outcome == K.PELLET) | (outcome == K.PELLET_LOST)))
    se = math.sqrt(max(mc * (1 - mc), 1.0 / n) / n)

    coarse, fine = (lamm.pelleted_fraction(tube.r_meniscus, tube.r_bottom, seg, s, D, geometry="tube", n_cells=m)
                    for m in (100, 200))
    assert abs(mc - fine) <= 5 * se + abs(fine - coarse), f"MC {mc:.5f} +- {se:.5f}, Lamm {fine:.6f} ({coarse:.6f})"

    drift_only = closed_form_pelleted(tube.r_meniscus, tube.r_bottom, s * omega2_integral(seg), "tube")
    if liquid is None:
        assert abs(fine - drift_only) < se
    else:
        assert abs(fine - drift_only) > 10 * se


# --- arguments ------------------------------------------------------------------------------------------------

def test_arguments_are_checked():
    edges = lamm.uniform_edges(0.07, 0.08, 10)
    seg = np.array([[10.0, 1e6]])
    with pytest.raises(TypeError):
        lamm.solve(edges, 1.0, seg, 1e-12, 1e-11)  # geometry has no default: sector and tube differ at O(1)
    with pytest.raises(ValueError, match="geometry"):
        lamm.solve(edges, 1.0, seg, 1e-12, 1e-11, geometry="cylinder")
    with pytest.raises(ValueError, match="bottom"):
        lamm.solve(edges, 1.0, seg, 1e-12, 1e-11, geometry="tube", bottom="open")
    with pytest.raises(ValueError, match="save_times"):
        lamm.solve(edges, 1.0, seg, 1e-12, 1e-11, geometry="tube", save_times=[20.0])
    with pytest.raises(ValueError):
        lamm.uniform_edges(0.08, 0.07, 10)
    # floaters are never pelleted (as in the Monte Carlo, the bottom reflects them)
    assert lamm.pelleted_fraction(0.07, 0.08, seg, -1e-12, 1e-11, geometry="tube") == 0.0
