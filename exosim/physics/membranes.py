"""Membranes on the host: pore-size distributions, pore density, flow through pores and cake resistance. SI units:
radii and lengths [m], pressures [Pa], viscosities [Pa s], flows [m^3/s], fluxes [m/s], resistances [1/m].

- Pore sizes are lognormal (median radius, geometric standard deviation ``pore_gsd``): narrow for track-etched
  membranes (gsd about 1.1), broad for polymeric ones (Mochizuki & Zydney 1993, J Membr Sci 82:211; Zydney et
  al. 1994: lognormal UF pore distributions), truncated at ``TRUNCATE_SD`` = 3 geometric standard deviations: a
  membrane has no pores beyond (the untruncated lognormal's far tail, weighted by flow as r^4 and amplified by
  concentration polarisation, would let vesicles through pores that do not exist).
- Ultrafiltration membranes are rated by a nominal molecular-weight cut-off: the molar mass of a marker retained
  to 90 %. Sieving follows a molecule's hydrodynamic (Stokes) radius, so the rule uses it: for a globular protein
  R_S = (f / f_min) R_min, with R_min = 0.066 M^(1/3) nm the radius of a smooth sphere of the protein's mass and
  volume and f / f_min = 1.25, the middle of the 1.2-1.3 that Erickson found for most globular proteins
  (Erickson 2009, Biol Proced Online 11:32; albumin, 66.5 kDa: 3.34 nm against its measured 3.55 nm); for dextran
  R_S = 0.033 M^0.463 nm (Granath & Kvist 1967, J Chromatogr 28:69; dextrans are much larger than proteins of the
  same mass). The median pore radius is the one for which the flow-weighted asymptotic sieving of that marker
  over the lognormal pores, sum r^4 Phi K_c / sum r^4, equals 0.1. 100 kDa (protein marker, gsd 1.3) gives a
  median pore diameter of 7.6 nm; 500 kDa (protein marker, gsd 1.2) 22 nm, with a dextran marker 34 nm
  (docs/reference/physics.md: 100 kDa ~ 5-10 nm, 500 kDa ~ 20-50 nm pores).
- Pore density: given for track-etched membranes; for polymeric ones from the clean-water permeability L_p and
  Hagen-Poiseuille, N = 8 eta_w L L_p / (pi <r^4>), eta_w water at 20 degC, <r^4> of the truncated lognormal
  (``mean_r4``).
- Flow through a pore of radius r and length L under a pressure drop dP: pi r^4 dP / (8 eta L) (Hagen-Poiseuille).
- Cake of retained spheres: Kozeny-Carman (Carman 1937, Trans Inst Chem Eng 15:150) specific resistance
  180 (1 - eps) / (eps^3 d^2) per unit cake-solid thickness; a volume V of spheres of diameter d spread over an
  area A adds R = 180 (1 - eps) V / (eps^3 d^2 A) [1/m] at porosity eps (0.4: random packing of spheres).
"""
from __future__ import annotations

import math

import numpy as np

DALTON = 1.66053906660e-27      # kg (CODATA 2018)
ERICKSON_NM = 0.066              # globular protein minimal radius [nm] per Da^(1/3) (Erickson 2009)
FRICTION_RATIO = 1.25            # f / f_min = R_S / R_min of globular proteins: 1.2-1.3 (Erickson 2009)
MWCO_SIEVING = 0.1               # a nominal rating: 90 % retention of the marker
WATER_VISCOSITY_20C = 1.0016e-3  # Pa s (IAPWS 2008, 20 degC, 0.1 MPa): the permeability's reference
CAKE_POROSITY = 0.4
KOZENY = 180.0
TRUNCATE_SD = 3.0


DEXTRAN_NM, DEXTRAN_EXPONENT = 0.033, 0.463   # dextran Stokes radius [nm] = 0.033 M^0.463 (Granath & Kvist 1967)


def marker_radius(mwco: float, marker: str = "protein") -> float:
    """Stokes radius [m] of a marker molecule of mass ``mwco`` [kg]: a globular protein, 1.25 x 0.066 M^(1/3) nm,
    or dextran, 0.033 M^0.463 nm (M in Da; module docstring)."""
    m = mwco / DALTON
    if marker == "dextran":
        return DEXTRAN_NM * 1e-9 * m ** DEXTRAN_EXPONENT
    return FRICTION_RATIO * ERICKSON_NM * 1e-9 * m ** (1.0 / 3.0)


def standard_normal_nodes(n: int = 64):
    """Nodes z and weights (summing to 1) of a standard normal truncated to +-TRUNCATE_SD: Gauss-Legendre on the
    interval with the normal density as weight, for lognormal pore-size quadrature."""
    x, w = np.polynomial.legendre.leggauss(n)
    z = TRUNCATE_SD * x
    w = w * np.exp(-0.5 * z * z)
    return z, w / w.sum()


def pore_quadrature(membrane, n: int = 64):
    """(radii [m], flow weights summing to 1) of quadrature nodes over the membrane's truncated lognormal pores;
    flow weights are number weights times r^4 (Hagen-Poiseuille)."""
    z, w = standard_normal_nodes(n)
    r = median_pore_radius(membrane) * np.exp(math.log(membrane.pore_gsd) * z)
    q = w * r ** 4
    return np.ascontiguousarray(r), np.ascontiguousarray(q / q.sum())


def flow_weighted_sieving(r_median: float, gsd: float, a: float) -> float:
    """Asymptotic sieving [1] of spheres of radius a [m] through lognormal pores (median radius [m], gsd):
    sum r^4 Phi K_c / sum r^4 over the pore distribution (kernels/filtration.py for Phi K_c)."""
    from ..kernels.filtration import sieving_coefficient

    z, w = standard_normal_nodes()
    r = r_median * np.exp(math.log(gsd) * z)
    s = np.array([sieving_coefficient(a / ri, 1e9) for ri in r])   # convection only
    q = w * r ** 4
    return float(np.sum(q * s) / np.sum(q))


def median_radius_for_mwco(mwco: float, gsd: float, marker: str = "protein") -> float:
    """Median pore radius [m] of lognormal pores (gsd) that retain 90 % of a marker of mass ``mwco`` [kg]."""
    a = marker_radius(mwco, marker)
    lo, hi = a * 0.2, a * 20.0
    for _ in range(100):  # sieving rises with the pore radius: bisection in log
        mid = math.sqrt(lo * hi)
        if flow_weighted_sieving(mid, gsd, a) < MWCO_SIEVING:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def median_pore_radius(membrane) -> float:
    """Median pore radius [m] of a config.Membrane (from pore_diameter, or from mwco by the rule above)."""
    if membrane.pore_diameter is not None:
        return 0.5 * membrane.pore_diameter
    return median_radius_for_mwco(membrane.mwco, membrane.pore_gsd, membrane.mwco_marker)


def mean_r4(r_median: float, gsd: float) -> float:
    """<r^4> [m^4] of lognormal radii truncated at +-TRUNCATE_SD: r_med^4 exp(8 s^2) (Phi(3 - 4 s) - Phi(-3 - 4 s))
    / (Phi(3) - Phi(-3)), s = ln gsd."""
    from scipy.special import ndtr

    s = math.log(gsd)
    t = TRUNCATE_SD
    return r_median ** 4 * math.exp(8.0 * s * s) * (ndtr(t - 4 * s) - ndtr(-t - 4 * s)) / (ndtr(t) - ndtr(-t))


def pore_pitch(membrane) -> float:
    """Mean distance between neighbouring pores [m], 1 / sqrt(pore density): a particle smaller than it and larger
    than a pore can seal that pore alone (Hermia complete blocking); a larger one rests on several pores and
    belongs to the deposit (cake)."""
    return 1.0 / math.sqrt(pore_density(membrane))


def membrane_resistance(membrane) -> float:
    """Hydraulic resistance [1/m] of the clean membrane, 8 L / (pi N <r^4>) (Hagen-Poiseuille pores in parallel,
    N pores per m^2, L their length): the flux is dP / (eta R)."""
    r_med = median_pore_radius(membrane)
    return 8.0 * membrane.thickness / (math.pi * pore_density(membrane) * mean_r4(r_med, membrane.pore_gsd))


def pore_density(membrane) -> float:
    """Pores per area [1/m^2]: given (track-etched) or from the permeability (polymeric; module docstring)."""
    if membrane.pore_density is not None:
        return membrane.pore_density
    r = median_pore_radius(membrane)
    return 8.0 * WATER_VISCOSITY_20C * membrane.thickness * membrane.permeability / (math.pi * mean_r4(r, membrane.pore_gsd))


def sample_pore_radii(membrane, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` pore radii [m] drawn from the membrane's lognormal distribution truncated at +-TRUNCATE_SD."""
    z = rng.standard_normal(n)
    bad = np.abs(z) > TRUNCATE_SD
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > TRUNCATE_SD
    return median_pore_radius(membrane) * np.exp(math.log(membrane.pore_gsd) * z)


def cake_resistance(volume, diameter, area: float, porosity: float = CAKE_POROSITY):
    """Kozeny-Carman resistance [1/m] added by a volume [m^3] of spheres of ``diameter`` [m] over ``area`` [m^2]."""
    return KOZENY * (1.0 - porosity) * np.asarray(volume) / (porosity ** 3 * np.asarray(diameter) ** 2 * area)
