"""Membrane physics on the host (exosim/physics/membranes.py) against the test's own integrals: the MWCO rule
(markers of Erickson 2009 and Granath & Kvist 1967; 90 % flow-weighted retention over truncated lognormal pores),
the truncated lognormal <r^4>, the quadrature nodes, the pore density from the permeability (Hagen-Poiseuille),
and the truncation of sampled pores."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from exosim.config import load_membranes
from exosim.physics import membranes as mem

DA = 1.66053906660e-27


def phi_kc(lam):
    kc = (1 + 3.867 * lam - 1.907 * lam ** 2 - 0.834 * lam ** 3) / (1 + 1.867 * lam - 0.741 * lam ** 2)
    return (1 - lam) ** 2 * kc if lam < 1 else 0.0


def truncated_mean(f, r_med, gsd):
    """E[f(r)] over lognormal radii truncated at +-3 geometric sd (number weights), by adaptive quadrature."""
    s = math.log(gsd)
    pdf = lambda z: math.exp(-0.5 * z * z)  # noqa: E731
    num = integrate.quad(lambda z: pdf(z) * f(r_med * math.exp(s * z)), -3, 3, limit=200)[0]
    return num / integrate.quad(pdf, -3, 3)[0]


def stokes_radius_protein(m_da):
    """Stokes radius of a globular protein [m]: R_min = 0.066 M^(1/3) nm times f / f_min = 1.25, the middle of the
    1.2-1.3 of most globular proteins (Erickson 2009, Biol Proced Online 11:32)."""
    return 1.25 * 0.066e-9 * m_da ** (1 / 3)


def test_marker_radii():
    assert mem.marker_radius(66.5e3 * DA) == pytest.approx(stokes_radius_protein(66.5e3), rel=1e-9)
    # albumin's measured Stokes radius is 3.55 nm (docs/reference/populations.csv): the rule is within 7 %
    assert mem.marker_radius(66.5e3 * DA) == pytest.approx(3.55e-9, rel=0.07)
    assert mem.marker_radius(500e3 * DA, "dextran") == pytest.approx(0.033e-9 * 500e3 ** 0.463, rel=1e-9)


@pytest.mark.parametrize("mwco_kda, gsd, marker", [(100, 1.3, "protein"), (500, 1.2, "dextran"), (30, 1.5, "protein")])
def test_mwco_rule_retains_ninety_percent_of_the_marker(mwco_kda, gsd, marker):
    r_med = mem.median_radius_for_mwco(mwco_kda * 1e3 * DA, gsd, marker)
    a = (stokes_radius_protein(mwco_kda * 1e3) if marker == "protein"
         else 0.033e-9 * (mwco_kda * 1e3) ** 0.463)
    sieving = truncated_mean(lambda r: r ** 4 * phi_kc(a / r), r_med, gsd) / truncated_mean(lambda r: r ** 4, r_med, gsd)
    assert sieving == pytest.approx(0.1, abs=2e-3)


@pytest.mark.parametrize("gsd", [1.0001, 1.2, 1.5, 2.0])
def test_truncated_mean_r4(gsd):
    assert mem.mean_r4(7e-9, gsd) == pytest.approx(truncated_mean(lambda r: r ** 4, 7e-9, gsd), rel=1e-6)


def test_quadrature_nodes_are_a_truncated_normal():
    z, w = mem.standard_normal_nodes()
    assert w.sum() == pytest.approx(1.0) and np.all(np.abs(z) <= 3)
    var = stats.truncnorm(-3, 3).var()
    assert np.sum(w * z * z) == pytest.approx(var, rel=1e-8) and abs(np.sum(w * z)) < 1e-12
    r, q = mem.pore_quadrature(load_membranes()["RC 100 kDa"])
    assert q.sum() == pytest.approx(1.0)
    # flow weights: number weight x r^4 tilts the standard normal z by exp(4 s z) (s = ln gsd): z is then N(4 s, 1)
    # truncated to [-3, 3], and the flow-weighted mean of ln r sits s E[z] above the median's
    s = math.log(1.3)
    tilted = stats.truncnorm(-3 - 4 * s, 3 - 4 * s, loc=4 * s)
    shift = np.sum(q * np.log(r)) - math.log(mem.median_pore_radius(load_membranes()["RC 100 kDa"]))
    assert shift == pytest.approx(s * tilted.mean(), rel=1e-6)


def test_pore_density_reproduces_the_permeability():
    """Hagen-Poiseuille over the pores: N pi <r^4> dP / (8 eta_w L) must equal L_p dP (water at 20 degC)."""
    m = load_membranes()["RC 100 kDa"]
    n = mem.pore_density(m)
    r_med = mem.median_pore_radius(m)
    flux = n * math.pi * truncated_mean(lambda r: r ** 4, r_med, m.pore_gsd) * 1e5 / (8 * 1.0016e-3 * m.thickness)
    assert flux == pytest.approx(m.permeability * 1e5, rel=1e-6)
    assert mem.pore_density(load_membranes()["PCTE 100 nm"]) == pytest.approx(3e12)   # given for track-etch


def test_sampled_pores_are_truncated_lognormal():
    m = load_membranes()["PES 220 nm"]
    r = mem.sample_pore_radii(m, 200_000, np.random.default_rng(1))
    z = np.log(r / 110e-9) / math.log(m.pore_gsd)
    assert np.all(np.abs(z) <= 3 + 1e-12)
    assert stats.kstest(z, stats.truncnorm(-3, 3).cdf).pvalue > 1e-3
