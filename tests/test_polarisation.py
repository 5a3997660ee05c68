"""Concentration polarisation and the flux of a feed (kernels/polarisation.py) against results known without exosim:
the osmotic pressure of albumin (Landis & Pappenheimer's published fit), the gel-polarisation limit
J = k ln(phi_max / phi_b) of one fully retained species (Michaels 1968), the osmotic-pressure model's flux solved
here by scipy's root finder, the film model's limits, and the Churchill-Chu correlation."""
import math

import numpy as np
import pytest
from scipy import optimize

from exosim.kernels import polarisation as P

KB = 1.380649e-23
AVOGADRO = 6.02214076e23
MMHG = 133.322


def landis_pappenheimer(c_g_dl):
    """Oncotic pressure of albumin solutions [mmHg] at body temperature, c in g/dL: 2.8 c + 0.18 c^2 + 0.012 c^3
    (Landis & Pappenheimer 1963, Handbook of Physiology sec. 2 vol. 2, p. 961)."""
    return 2.8 * c_g_dl + 0.18 * c_g_dl ** 2 + 0.012 * c_g_dl ** 3


@pytest.mark.parametrize("c_g_dl", [2.0, 4.0, 8.0])
def test_hard_sphere_albumin_matches_its_measured_oncotic_pressure(c_g_dl):
    """Albumin as hard spheres of its Stokes diameter 7.1 nm (66.5 kDa): Carnahan-Starling within 10 % of the
    published fit over 2-8 g/dL (ideal van 't Hoff alone is 10-25 % low there: the test checks the
    non-ideality too)."""
    n = c_g_dl * 10.0 / 66.5e3 * AVOGADRO * 1e3       # g/dL -> kg/m^3 -> 1/m^3 (10 g/L per g/dL)
    vol = math.pi / 6 * (7.1e-9) ** 3
    temp = 310.15
    got = P.osmotic_pressure(n, n * vol, temp) / MMHG
    assert got == pytest.approx(landis_pappenheimer(c_g_dl), rel=0.10)
    ideal = n * KB * temp / MMHG
    assert abs(ideal / landis_pappenheimer(c_g_dl) - 1) > 0.09 or c_g_dl < 3   # non-ideality matters at 4-8 g/dL


def test_carnahan_starling_virial_coefficients():
    """Z = 1 + 4 phi + 10 phi^2 + ... : the exact second and third virial coefficients of hard spheres
    (Carnahan & Starling 1969)."""
    phi = 1e-3
    assert P.carnahan_starling(phi) == pytest.approx(1 + 4 * phi + 10 * phi ** 2, rel=3e-8)   # next: 18 phi^3


def test_film_model_limits():
    assert P.observed_sieving(0.3, 0.0) == pytest.approx(0.3)
    assert P.observed_sieving(0.3, 800.0) == pytest.approx(1.0)
    assert P.polarisation_factor(0.0, 2.0) == pytest.approx(math.e ** 2)
    s, x = 0.2, 1.5
    assert P.observed_sieving(s, x) == pytest.approx(s * math.exp(x) / (1 - s + s * math.exp(x)))


def test_gel_limited_flux_of_one_retained_species():
    """A fully retained (S = 0) species of 100-nm spheres at volume fraction 1e-4, k = 1e-6 m/s, pushed hard
    (10 bar through a membrane of clean flux 1e-2 m/s): the wall layer reaches random close packing and the flux
    is k ln(0.64 / phi_b), whatever the pressure (their osmotic pressure, ~200 Pa at packing, is negligible)."""
    vol = math.pi / 6 * (100e-9) ** 3
    phi_b = 1e-4
    n_b = np.array([phi_b / vol])
    k = 1e-6
    args = (np.array([vol]), np.array([0.0]), np.array([k]), 293.15)
    expected = k * math.log(0.64 / phi_b)
    for dp in (1e6, 3e6):
        j = P.solve_flux(dp, dp / 1e-2, n_b, *args)
        assert j == pytest.approx(expected, rel=1e-6)


def test_osmotic_limited_flux_matches_a_root_found_here():
    """Albumin-like hard spheres (7.1 nm), fully retained, 4 g/L in the bulk, k = 3e-6 m/s, 0.2 bar through a
    membrane of clean flux 1e-4 m/s: J solves eta R J + pi(c_b e^(J/k)) - pi(0) = dP (Wijmans et al. 1984), found
    here with brentq and the test's own Carnahan-Starling expression; the wall layer stays below packing."""
    d, temp, k, dp, clean = 7.1e-9, 293.15, 3e-6, 0.2e5, 1e-4
    vol = math.pi / 6 * d ** 3
    n_b = 4.0 / 66.5 * AVOGADRO             # 4 kg/m^3 of a 66.5 kg/mol protein [1/m^3]
    eta_r = dp / clean

    def pi(n):
        phi = n * vol
        return n * KB * temp * (1 + phi + phi ** 2 - phi ** 3) / (1 - phi) ** 3

    j_pack = k * math.log(0.64 / (n_b * vol))             # where the wall would reach packing
    root = optimize.brentq(lambda j: eta_r * j + pi(n_b * math.exp(j / k)) - dp, 0.0, j_pack, xtol=1e-16)
    assert root < j_pack and n_b * vol * math.exp(root / k) < 0.64
    got = P.solve_flux(dp, eta_r, np.array([n_b]), np.array([vol]), np.array([0.0]), np.array([k]), temp)
    assert got == pytest.approx(root, rel=1e-6)
    assert got < 0.5 * clean


def test_a_passing_species_does_not_slow_the_flux():
    """S = 1: nothing polarises and the permeate carries the same osmotic pressure: the clean-membrane flux."""
    vol = math.pi / 6 * (7.1e-9) ** 3
    j = P.solve_flux(1e5, 1e9, np.array([1e23]), np.array([vol]), np.array([1.0]), np.array([1e-6]), 293.15)
    assert j == pytest.approx(1e5 / 1e9)


@pytest.mark.parametrize("ra, sc", [(1e4, 7.0), (1e9, 1e3), (1e14, 4e4)])
def test_churchill_chu(ra, sc):
    """Churchill & Chu 1975, eq. 6 (any Ra): Sh = (0.825 + 0.387 Ra^(1/6) / (1 + (0.492/Sc)^(9/16))^(8/27))^2."""
    expected = (0.825 + 0.387 * ra ** (1 / 6) / (1 + (0.492 / sc) ** (9 / 16)) ** (8 / 27)) ** 2
    assert P.churchill_chu_sherwood(ra, sc) == pytest.approx(expected, rel=1e-12)
    # the mass-transfer coefficient it gives: k = Sh D / L with Ra = group / D
    dcoef, length, nu = 6e-11, 0.03, 1.5e-6
    k = P.mass_transfer(dcoef, P.MT_NATURAL, 0.0, 0.0, ra * dcoef, length, nu)
    assert k == pytest.approx(P.churchill_chu_sherwood(ra, nu / dcoef) * dcoef / length)


def test_power_law_mass_transfer():
    """Leveque in a tube (Sh = 1.62 (Re Sc d / L)^(1/3), wall shear rate 8 u / d) equals 0.807 (gamma D^2/L)^(1/3)."""
    dcoef, gamma, length, d_tube = 4e-12, 4000.0, 0.2, 1e-3
    u = gamma * d_tube / 8
    k_tube = 1.62 * dcoef / d_tube * (u * d_tube ** 2 / (dcoef * length)) ** (1 / 3)
    coeff = 0.807 * (gamma / length) ** (1 / 3)
    # 1.62 / 8^(1/3) = 0.810; Leveque's own constant 1.615 / 2 = 0.8075 is the one used
    assert P.mass_transfer(dcoef, P.MT_POWER, coeff, 2 / 3, 0.0, 0.0, 1e-6) == pytest.approx(k_tube, rel=5e-3)
