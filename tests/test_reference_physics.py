"""exosim's physics against published reference numbers and closed forms computed here, independently.

Nothing in this file builds an expected value with exosim's own physics (``exosim.kernels.formulas``,
``exosim.physics.media``, the rotor helpers): every expectation comes from the formulas written out below (Stokes
drag, Stokes-Einstein, the swinging-bucket closed form, the exact linear-drift transition, 1-D diffusion with an
absorbing wall) and from published numbers (CODATA constants, IAPWS water tables, a measured protein diffusion
coefficient). Rotor radii and media factors are read from the YAML catalogs by this file's own parser.

Tolerances: 5 Monte Carlo standard errors plus a stated systematic allowance taken from the reference's own
uncertainty (see ``ETA_REL_TOL``, ``RHO_ABS_TOL``).
"""
import math
import re

import numpy as np
import pytest
import yaml

import exosim
from exosim.config import CONFIG_ROOT, Protocol, Sample, load_media, load_rotors
from exosim.kernels import formulas
from exosim.kernels import spin as kspin
from exosim.methods.centrifuge import SwingingTube, kernel_params, medium_state, run_tube

# ---------------------------------------------------------------- published constants
KB = 1.380649e-23         # J/K, exact (CODATA 2018 / SI 2019)
NA = 6.02214076e23        # 1/mol, exact (CODATA 2018 / SI 2019)
R_GAS = KB * NA           # J/(mol K)
G0 = 9.80665              # m/s^2, standard gravity (exact, 3rd CGPM 1901): the "g" of an rcf
SVEDBERG = 1e-13          # s

# Water at 101.325 kPa. Viscosity [Pa s]: IAPWS Formulation 2008 for the viscosity of ordinary water (Huber et al.
# 2009, J Phys Chem Ref Data 38:101), evaluated on IAPWS-95 densities; the same values as the reference table of
# Kestin, Sokolov & Wakeham 1978 (J Phys Chem Ref Data 7:941) and the CRC Handbook (1.0016 mPa s at 20 degC is the
# ISO/TR 3666 standard value). Density [kg/m^3]: IAPWS-95 (Wagner & Pruss 2002, J Phys Chem Ref Data 31:387),
# agreeing with Tanaka et al. 2001 (Metrologia 38:301, SMOW, air-free) to 1 ppm.
ETA_WATER = {4: 1.5673e-3, 20: 1.0016e-3, 25: 0.8900e-3, 37: 0.6913e-3}
RHO_WATER = {4: 999.975, 20: 998.207, 25: 997.048, 37: 993.330}
# Allowance for exosim's water viscosity: 0.17 % uncertainty of the 20 degC standard value (ISO/TR 3666), 0.05 %
# for the ratio eta(T)/eta(20 degC) over 0-40 degC (Kestin et al. 1978), 0.5 % accuracy claimed for the Vogel
# correlation exosim uses (Viswanath & Natarajan 1989; tests/test_catalogs.py). Sum: 0.72 %.
ETA_REL_TOL = 0.0017 + 0.0005 + 0.005
# Allowance for density: the tables above are rounded to 1e-3 kg/m^3; Tanaka and IAPWS-95 differ by < 1e-3 here;
# the uncertainty of either is of order 1e-3 kg/m^3 (1 ppm). 5e-3 kg/m^3 covers all of them.
RHO_ABS_TOL = 5e-3

ROTORS, MEDIA = load_rotors(), load_media()

# ---------------------------------------------------------------- this file's own reading of the catalogs
_UNITS = {"mm": 1e-3, "m": 1.0, "mL": 1e-6, "uL": 1e-9, "L": 1e-3, "g/mL": 1e3, "rpm": 2 * math.pi / 60, "deg": 1.0}


def quantity(text) -> float:
    """'67.4 mm' -> 0.0674 (SI). Plain numbers pass through."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*(\S+)?\s*", str(text))
    value, unit = float(m.group(1)), m.group(2)
    return value * (_UNITS[unit] if unit else 1.0)


def rotor_yaml(name: str) -> dict:
    data = yaml.safe_load((CONFIG_ROOT / "rotors.yaml").read_text())
    (entry,) = [r for r in data["rotors"] if r["name"] == name]
    return {k: (quantity(v) if k in ("r_min", "r_avg", "r_max", "tube_volume", "max_speed") else v)
            for k, v in entry.items()}


def medium_yaml(stem: str) -> tuple[float, float]:
    """(density offset [kg/m^3], viscosity factor) from configs/media/<stem>.yaml."""
    data = yaml.safe_load((CONFIG_ROOT / "media" / f"{stem}.yaml").read_text())
    return quantity(data.get("density_offset", 0.0)), float(data.get("viscosity_factor", 1.0))


MEDIUM_FILES = {"PBS": "pbs", "culture_medium": "culture_medium", "water": "water"}


# ---------------------------------------------------------------- this file's own physics
def stokes_s(d, rho_p, rho_m, eta):
    """Sedimentation coefficient of a sphere: buoyant mass (pi d^3 / 6)(rho_p - rho_m) over the Stokes friction
    3 pi eta d (Stokes 1851; Svedberg & Pedersen 1940)."""
    return (math.pi * d ** 3 / 6.0) * (rho_p - rho_m) / (3.0 * math.pi * eta * d)


def stokes_einstein(d, temperature, eta):
    """Diffusion coefficient of a sphere: kB T over the Stokes friction 3 pi eta d (Einstein 1905)."""
    return KB * temperature / (3.0 * math.pi * eta * d)


def reference_medium(name: str, t_c: int) -> tuple[float, float]:
    """(density, viscosity) of a catalog medium at t_c degC from the published water tables and the medium's YAML."""
    offset, factor = medium_yaml(MEDIUM_FILES[name])
    return RHO_WATER[t_c] + offset, ETA_WATER[t_c] * factor


def binomial_se(p, n):
    return math.sqrt(max(p * (1.0 - p), 1.0 / n) / n)


def spread(f, eta):
    """Largest change of f(eta) when eta moves by its reference allowance ETA_REL_TOL (systematic allowance)."""
    return max(abs(f(eta * (1 + ETA_REL_TOL)) - f(eta)), abs(f(eta * (1 - ETA_REL_TOL)) - f(eta)))


# ================================================================ A. scalar formulas and published numbers
@pytest.mark.parametrize("d,rho_p,rho_m,eta", [
    (100e-9, 1150.0, 1006.8, 1.5987e-3),
    (7.1e-9, 1360.0, 998.2, 1.0016e-3),
    (2.0e-6, 1250.0, 1008.3, 0.94e-3),
    (30e-9, 1050.0, 993.3, 0.6913e-3),
])
def test_sedimentation_coefficient_is_stokes(d, rho_p, rho_m, eta):
    """s = buoyant mass / Stokes friction = (pi d^3/6)(rho_p - rho_m) / (3 pi eta d), for a spread of inputs
    (Stokes 1851; Svedberg & Pedersen 1940). Pure arithmetic: tolerance 1e-12 relative (rounding only)."""
    assert formulas.sedimentation_coefficient(d, rho_p, rho_m, eta) == pytest.approx(
        stokes_s(d, rho_p, rho_m, eta), rel=1e-12)


@pytest.mark.parametrize("d,t_k,eta", [(100e-9, 277.15, 1.5987e-3), (7.1e-9, 293.15, 1.0016e-3),
                                       (5e-9, 310.15, 0.9402e-3), (1e-6, 298.15, 0.8900e-3)])
def test_diffusion_coefficient_is_stokes_einstein(d, t_k, eta):
    """D = kB T / (3 pi eta d) with the exact SI 2019 Boltzmann constant (Einstein 1905; CODATA 2018).
    Pure arithmetic: tolerance 1e-12 relative."""
    assert formulas.diffusion_coefficient(d, t_k, eta) == pytest.approx(stokes_einstein(d, t_k, eta), rel=1e-12)


def test_a_100nm_vesicle_in_pbs_at_4c():
    """Hand-worked number: a 100 nm vesicle of 1.15 g/mL in PBS at 4 degC. Water 999.975 kg/m^3 and 1.5673 mPa s
    (IAPWS), PBS +6.8 kg/m^3 and x1.02 (configs/media/pbs.yaml): s = (1e-7)^2 * 143.225 / (18 * 1.59865e-3)
    = 497.7 S and D = kB * 277.15 / (3 pi * 1.59865e-3 * 1e-7) = 2.540e-12 m^2/s, computed by hand here and given
    as literals. The formulas evaluated in exosim's own medium must agree within the viscosity allowance."""
    rho, eta = medium_state(MEDIA["PBS"], 277.15)
    s = formulas.sedimentation_coefficient(100e-9, 1150.0, rho, eta)
    D = formulas.diffusion_coefficient(100e-9, 277.15, eta)
    assert s / SVEDBERG == pytest.approx(497.7, rel=ETA_REL_TOL + 1e-3)
    assert D == pytest.approx(2.540e-12, rel=ETA_REL_TOL + 1e-3)


def test_svedberg_equation_with_measured_albumin_data():
    """A measured diffusion coefficient turned into exosim's sphere, against the Svedberg equation and a measured
    sedimentation coefficient.

    Bovine serum albumin: D20,w = (5.92 +- 0.04)e-7 cm^2/s measured by photon correlation spectroscopy ("The wave
    vector dependence of diffusion coefficients in photon correlation spectroscopy of protein solutions", BSA at
    pH 4.7, I = 0.12 M, extrapolated to zero concentration); molar mass 66,433 g/mol from the sequence confirmed by
    mass spectrometry (Hirayama et al. 1990, Biochem Biophys Res Commun 173:639); partial specific volume
    0.735 +- 0.002 mL/g (compilations, e.g. Durchschlag 1986).

    The hydrodynamically equivalent sphere has d = kB T / (3 pi eta D) and the buoyant mass M (1 - v rho) / NA.
    exosim's s for that sphere must equal the Svedberg equation s = M (1 - v rho) D / (R T) (Svedberg & Pedersen
    1940; exact algebra, tolerance 1e-9) and the measured s20,w of the BSA monomer, 4.3-4.4 S in sedimentation-
    velocity studies: 4.35 +- 0.05 S for the spread of reports, plus the propagated uncertainty of D (0.7 %) and
    of (1 - v rho) (0.75 %). A Stokes factor of 20 instead of 18 gives 3.9 S and is excluded."""
    t, rho_w, eta_w = 293.15, RHO_WATER[20], ETA_WATER[20]
    D, M, vbar = 5.92e-11, 66.433, 0.735e-3  # m^2/s, kg/mol, m^3/kg
    d = KB * t / (3 * math.pi * eta_w * D)
    assert 7.0e-9 < d < 7.5e-9  # Stokes radius 3.6 nm, as reported for BSA
    buoyant = M * (1 - vbar * rho_w) / NA
    rho_p = rho_w + buoyant / (math.pi * d ** 3 / 6)
    s_svedberg = M * (1 - vbar * rho_w) * D / (R_GAS * t)
    s = formulas.sedimentation_coefficient(d, rho_p, rho_w, eta_w)
    assert s == pytest.approx(s_svedberg, rel=1e-9)
    assert formulas.diffusion_coefficient(d, t, eta_w) == pytest.approx(D, rel=1e-9)
    rel_unc = 0.04 / 5.92 + 0.002e-3 * rho_w / (1 - vbar * rho_w)
    assert abs(s / SVEDBERG - 4.35) <= 0.05 + 4.35 * rel_unc
    assert abs(s * 18 / 20 / SVEDBERG - 4.35) > 0.05 + 4.35 * rel_unc + 0.2  # the check can tell


@pytest.mark.parametrize("t_c", [4, 20, 25, 37])
def test_water_viscosity_and_density_against_iapws(t_c):
    """Water (configs/media/water.yaml: offset 0, factor 1) through ``medium_state`` against IAPWS 2008 viscosity
    and IAPWS-95 density at 101.325 kPa (Huber et al. 2009; Wagner & Pruss 2002; Kestin, Sokolov & Wakeham 1978;
    Tanaka et al. 2001). Tolerances: ETA_REL_TOL (0.72 %: table uncertainty plus the accuracy claimed for the
    Vogel correlation) and RHO_ABS_TOL (5e-3 kg/m^3). Water's viscosity changes by 2-3 %/K here and its density at
    37 degC by 0.36 kg/m^3/K, so a temperature off by a kelvin, Celsius for kelvin or a fixed 20 degC all fail."""
    rho, eta = medium_state(MEDIA["water"], 273.15 + t_c)
    assert eta == pytest.approx(ETA_WATER[t_c], rel=ETA_REL_TOL)
    assert rho == pytest.approx(RHO_WATER[t_c], abs=RHO_ABS_TOL)


@pytest.mark.parametrize("name", ["PBS", "culture_medium"])
@pytest.mark.parametrize("t_c", [4, 37])
def test_media_are_water_times_their_factor(name, t_c):
    """A dilute medium is water at the same temperature plus its density offset and times its viscosity factor
    (docs/physics.md "Media"); offset and factor read from configs/media/*.yaml by this file, water from the IAPWS
    tables. Tolerances as for water. PBS's factor 1.02 is 2.7 allowances away; culture medium's 1.36 is 50."""
    rho_ref, eta_ref = reference_medium(name, t_c)
    rho, eta = medium_state(MEDIA[name], 273.15 + t_c)
    assert eta == pytest.approx(eta_ref, rel=ETA_REL_TOL)
    assert rho == pytest.approx(rho_ref, abs=RHO_ABS_TOL)
    _, factor = medium_yaml(MEDIUM_FILES[name])
    assert abs(1.0 / factor - 1.0) > 2.5 * ETA_REL_TOL  # a factor left out would fail


# ================================================================ B. deterministic sedimentation, end to end
SW41 = "SW 41 Ti"


def protocol(temperature, *steps):
    return Protocol.model_validate({"name": "ref", "temperature": temperature, "steps": list(steps)},
                                   context={"rotors": ROTORS, "media": MEDIA})


def sample(volume, medium, *populations):
    return Sample.model_validate({"name": "ref", "volume": volume, "medium": medium, "populations": list(populations)},
                                 context={"media": MEDIA})


def place_share(ds, place, population, step=-1):
    return float(ds.fate_count.isel(step=step).sel(place=place, population=population)
                 / ds.input_count.sel(population=population))


def livshits_pelleted(s, integral_w2, r_min, r_max):
    """Swinging bucket, full tube, uniform start, no diffusion: r0 exp(s I) >= r_max pellets, so
    P = (r_max - r_max e^{-s I}) / (r_max - r_min), at most 1 (Livshits et al. 2015, Sci Rep 5:17319)."""
    return min(1.0, r_max / (r_max - r_min) * (1.0 - math.exp(-s * integral_w2)))


CASES = {
    # medium, diameter, spin (speed or rcf), plateau, accel, decel [s]
    "PBS, rpm": ("PBS", 100e-9, {"speed": "25000 rpm"}, 1200.0, 360.0, 360.0),
    "PBS, rcf at r_avg": ("PBS", 100e-9, {"rcf": "80000 g"}, 1200.0, 360.0, 360.0),
    "culture medium, rcf at r_max": ("culture_medium", 115e-9, {"rcf": "120000 g", "rcf_at": "max"},
                                     1200.0, 360.0, 360.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_deterministic_pelleting_end_to_end_matches_closed_form(case):
    """``exosim.simulate(brownian=False)``: one population of constant size and density (1.15 g/mL), SW 41 Ti filled
    to its nominal 13.2 mL, 4 degC, accel and decel ramps, keep supernatant. Expected pelleted fraction:
    P = (r_max / (r_max - r_min)) (1 - exp(-s I)) (Livshits et al. 2015), I = omega^2 (T + T_acc/3 + T_dec/3)
    (a linear ramp contributes omega^2 T/3), s by Stokes with water from the IAPWS tables at 4 degC and the medium's
    offset and factor from its YAML; radii and volume from configs/rotors.yaml; omega from rpm, or from rcf at
    r_avg (the default of docs/configs.md) or r_max: rcf g0 = omega^2 r. Checked: pellet_discarded = P,
    recovery = product = 1 - P, supernatant_discarded = wall_loss = 0, and the step's reported speed.

    Tolerance: 5 binomial standard errors (n = 1e6) plus the viscosity allowance carried through P. Also shown:
    each of the one-line errors (Stokes 20 for 18, the medium's viscosity factor left out, ramps dropped, water
    at 20 degC) moves P beyond that tolerance by at least 3 more standard errors."""
    medium, d, spin, plateau, accel, decel = CASES[case]
    rho_p = 1150.0
    rot = rotor_yaml(SW41)
    r_min, r_max = rot["r_min"], rot["r_max"]
    if "speed" in spin:
        omega = quantity(spin["speed"])
    else:
        radius = {"avg": rot["r_avg"], "max": r_max}[spin.get("rcf_at", "avg")]
        omega = math.sqrt(float(spin["rcf"].split()[0]) * G0 / radius)
    rho_m, eta_m = reference_medium(medium, 4)

    def pelleted(eta=eta_m, rho=rho_m, stokes=18.0, ramps=True):
        s = stokes_s(d, rho_p, rho, eta) * 18.0 / stokes
        integral = omega ** 2 * (plateau + ((accel + decel) / 3.0 if ramps else 0.0))
        return livshits_pelleted(s, integral, r_min, r_max)

    p = pelleted()
    assert 0.2 < p < 0.8
    n = 1_000_000
    se = binomial_se(p, n)
    tol = 5 * se + spread(lambda e: pelleted(eta=e), eta_m)
    _, factor = medium_yaml(MEDIUM_FILES[medium])
    mutants = {"stokes 20": pelleted(stokes=20.0), "no viscosity factor": pelleted(eta=eta_m / factor),
               "no ramps": pelleted(ramps=False),
               "water at 20 degC": pelleted(eta=ETA_WATER[20] * factor, rho=RHO_WATER[20] + rho_m - RHO_WATER[4])}
    for name, value in mutants.items():
        assert abs(value - p) > tol + 3 * se, (name, value, p, tol)

    step = {"kind": "centrifuge", "rotor": SW41, "duration": f"{plateau} s", "accel": f"{accel} s",
            "decel": f"{decel} s", "keep": "supernatant", **spin}
    pop = {"name": "vesicle", "target": True, "concentration": "1e9 /mL", "diameter": f"{d * 1e9} nm",
           "density": f"{rho_p / 1000} g/mL"}
    volume = f"{rot['tube_volume'] * 1e6} mL"
    ds = exosim.simulate(protocol("4 degC", step), sample(volume, medium, pop), n_particles=n, seed=7,
                         brownian=False, device=exosim.CPU())
    assert int(ds.step_tubes[0]) == 1 and float(ds.step_liquid_per_tube[0]) == pytest.approx(rot["tube_volume"])
    assert float(ds.step_speed[0]) == pytest.approx(omega * 60 / (2 * math.pi), rel=1e-9)
    assert float(ds.process_time) == pytest.approx(plateau + accel + decel)
    got = place_share(ds, "pellet_discarded", "vesicle")
    assert abs(got - p) <= tol, (got, p, tol)
    recovery = float(ds.recovery.sel(population="vesicle"))
    assert recovery == pytest.approx(1.0 - got, abs=1e-12)
    assert place_share(ds, "product", "vesicle") == pytest.approx(recovery, abs=1e-12)
    assert place_share(ds, "supernatant_discarded", "vesicle") == 0.0
    assert place_share(ds, "wall_loss", "vesicle") == 0.0


def test_beckman_rcf_rule():
    """The rcf of a step is converted at r_avg by default: RCF = 1.118e-5 r[cm] N^2 (Beckman Coulter's rule, N in
    rpm; 1.118e-5 = (2 pi / 60)^2 / 980.665 rounded to 4 digits: tolerance half a unit of its last digit, 4.5e-4
    relative). For SW 41 Ti
    (r_avg 110.2 mm) at 100,000 g this is 28,490 rpm."""
    rot = rotor_yaml(SW41)
    step = {"kind": "centrifuge", "rotor": SW41, "rcf": "100000 g", "duration": "10 s", "keep": "supernatant"}
    pop = {"name": "v", "target": True, "concentration": "1e9 /mL", "diameter": "100 nm", "density": "1.15 g/mL"}
    ds = exosim.simulate(protocol("4 degC", step), sample("1 mL", "PBS", pop), n_particles=10, brownian=False,
                         device=exosim.CPU())
    rpm = float(ds.step_speed[0])
    assert 1.118e-5 * rot["r_avg"] * 100 * rpm ** 2 == pytest.approx(1e5, rel=4.5e-4)


# ================================================================ C. Brownian motion at the protocol's temperature
def paired_runs(geometry, rho_m, eta, temperature, segments, d, rho_p, n, seed=3, step=1):
    """Final radii with Brownian motion on and off: same seed, so the same start positions (drawn from their own
    random stream); with the field off, the run without Brownian motion ends where it started."""
    out = {}
    dev = exosim.CPU()
    for brownian in (True, False):
        prm = kernel_params(geometry, rho_m, eta, temperature, brownian=brownian, record=True)
        outcome, pos = run_tube(dev, geometry, prm, segments, np.full(n, d), np.full(n, rho_p), np.ones(n, bool),
                                seed=seed, step=step, record=True)
        out[brownian] = (dev.to_host(outcome), dev.to_host(pos)[:, 0])
    return out


@pytest.mark.parametrize("t_c", [4, 37])
def test_mean_squared_displacement_at_the_temperature(t_c):
    """No field: radial displacement has mean 0 and mean square 2 D t, D = kB T / (3 pi eta d) at the run's
    temperature in culture medium (viscosity factor 1.36 from its YAML, water from IAPWS 2008). The kernel gets the
    medium's state from ``medium_state``. Displacement = final radius with Brownian motion minus final radius
    without (same seed: same start), in the SW 41 Ti tube, sqrt(2 D t) = 10 um = 1.2e-4 of the column.

    Tolerance on the mean square: 5 standard errors (sqrt(2/n) relative, Gaussian) + the viscosity allowance
    (0.72 %) + 0.5 % for walls (particles within 5 sqrt(2Dt) of a wall, 1.2e-3 of them, can have their displacement
    changed by at most 4x its mean square). D at 20 degC or with 6 pi, or the medium factor dropped, fail."""
    name, d, rho_p, n = "culture_medium", 50e-9, 1050.0, 200_000
    t_k = 273.15 + t_c
    rho_ref, eta_ref = reference_medium(name, t_c)
    D = stokes_einstein(d, t_k, eta_ref)
    t = (10e-6) ** 2 / (2 * D)
    rot = rotor_yaml(SW41)
    tube = SwingingTube(rot["r_min"], rot["r_max"], rot["r_max"])
    rho_m, eta = medium_state(MEDIA[name], t_k)
    runs = paired_runs(tube, rho_m, eta, t_k, np.array([[t, 0.0]]), d, rho_p, n)
    dr = runs[True][1] - runs[False][1]
    msd = float(np.mean(dr ** 2))
    tol = 5 * math.sqrt(2.0 / n) + ETA_REL_TOL + 0.005
    assert abs(msd / (2 * D * t) - 1) <= tol, (msd / (2 * D * t), tol)
    assert abs(float(np.mean(dr))) <= 5 * math.sqrt(2 * D * t / n)
    # the check can tell: D at 20 degC (T and eta), T alone at 20 degC, 6 pi, the medium factor left out
    _, factor = medium_yaml(MEDIUM_FILES[name])
    for wrong in (stokes_einstein(d, 293.15, ETA_WATER[20] * factor), stokes_einstein(d, 293.15, eta_ref),
                  D / 2, D * factor):
        assert abs(wrong / D - 1) > tol + 3 * math.sqrt(2.0 / n)


def test_strong_field_transition_is_the_exact_linear_drift_one():
    """dr = A r dt + sqrt(2 D) dW, A = s omega^2, over a run with A t = 1.5: r(t) is Gaussian with mean r0 e^{A t}
    and variance D (e^{2 A t} - 1) / A (linear SDE, Ornstein-Uhlenbeck with negative damping; Gillespie 1996,
    Phys Rev E 54:2084). That is 6.4 times the 2 D t of free diffusion: the strong-field branch is exercised.

    Culture medium at 37 degC (state from ``medium_state``; expectation from IAPWS and the YAML factor), 30 nm,
    1.36 g/mL, a synthetic tube 20-200 mm from the axis. Only particles whose start (known from the run without
    Brownian motion) keeps them 8 standard deviations from both walls are used, so walls do not matter.
    Checked: deterministic pelleted fraction (Livshits closed form, 5 binomial SE), mean of r_det e^{-At} over the
    supernatant (uniform start: (r_men + r_b e^{-At}) / 2, 5 SE), displacement mean 0 and variance (5 SE, Gaussian
    sqrt(2/n) relative), all plus the viscosity allowance carried through."""
    name, t_c, d, rho_p, n = "culture_medium", 37, 30e-9, 1360.0, 200_000
    t_k = 273.15 + t_c
    rho_ref, eta_ref = reference_medium(name, t_c)
    s = stokes_s(d, rho_p, rho_ref, eta_ref)
    D = stokes_einstein(d, t_k, eta_ref)
    t, at = 600.0, 1.5
    w2 = at / (s * t)
    r_men, r_b = 0.02, 0.2
    tube = SwingingTube(r_men, r_b, r_b)
    rho_m, eta = medium_state(MEDIA[name], t_k)
    runs = paired_runs(tube, rho_m, eta, t_k, np.array([[t, w2]]), d, rho_p, n, seed=11, step=2)
    out_det, r_det = runs[False]
    out_bm, r_bm = runs[True]

    def variance(e):
        a = stokes_s(d, rho_p, rho_ref, e) * w2
        return stokes_einstein(d, t_k, e) * math.expm1(2 * a * t) / a

    def det_pelleted(e):
        return livshits_pelleted(stokes_s(d, rho_p, rho_ref, e), w2 * t, r_men, r_b)

    def mean_start(e):
        return 0.5 * (r_men + r_b * math.exp(-stokes_s(d, rho_p, rho_ref, e) * w2 * t))

    var = variance(eta_ref)
    assert var / (2 * D * t) > 5
    # deterministic part: pelleted fraction and the growth factor e^{At}
    p = det_pelleted(eta_ref)
    got = float(np.mean(out_det != kspin.SUPERNATANT))
    assert abs(got - p) <= 5 * binomial_se(p, n) + spread(det_pelleted, eta_ref)
    sup = out_det == kspin.SUPERNATANT
    r0 = r_det[sup] * math.exp(-at)
    width = r_b * math.exp(-at) - r_men
    se_mean = width / math.sqrt(12 * sup.sum())
    assert abs(float(np.mean(r0)) - mean_start(eta_ref)) <= 5 * se_mean + spread(mean_start, eta_ref) + \
        r0.mean() * abs(math.exp(at * ETA_REL_TOL) - 1)
    # Brownian part, away from both walls
    sd_end, sd_u = math.sqrt(var), math.sqrt(var) * math.exp(-at)
    keep = sup & (r_det <= r_b - 8 * sd_end) & (r_det * math.exp(-at) >= r_men + 8 * sd_u)
    m = int(keep.sum())
    assert m > 10_000
    assert np.all(out_bm[keep] == kspin.SUPERNATANT)
    dr = r_bm[keep] - r_det[keep]
    assert abs(float(np.mean(dr))) <= 5 * math.sqrt(var / m)
    got_var = float(np.var(dr))
    tol = 5 * math.sqrt(2.0 / m) * var + spread(variance, eta_ref)
    assert abs(got_var - var) <= tol, (got_var / var, tol / var)
    # the check can tell: free-diffusion variance, Stokes 20, 6 pi
    a = s * w2
    for wrong in (2 * D * t, D * math.expm1(2 * 0.9 * a * t) / (0.9 * a), var / 2):
        assert abs(wrong - var) > tol + 3 * math.sqrt(2.0 / m) * var


def absorbed_fraction(D, t, length, terms=400):
    """1-D diffusion on a column of ``length``, reflecting top, absorbing bottom, uniform start: the absorbed
    fraction 1 - sum_k 8 / ((2k+1)^2 pi^2) exp(-(2k+1)^2 pi^2 D t / (4 L^2)) (Carslaw & Jaeger 1959, section 3.3;
    Crank 1975, eq. 4.18)."""
    k = np.arange(terms)
    m2 = (2 * k + 1) ** 2 * math.pi ** 2
    return float(1.0 - np.sum(8.0 / m2 * np.exp(-m2 * D * t / (4 * length ** 2))))


@pytest.mark.parametrize("t_c", [4, 37])
def test_diffusion_to_the_pellet_at_the_protocol_temperature(t_c):
    """End to end (``exosim.simulate`` with Brownian motion): 5 nm particles of 1.36 g/mL in culture medium, SW 41 Ti
    tube filled with 1 mL (``fill``), rotor at 10 rpm (drift < 1e-4 of the column), keep supernatant. The share
    booked as discarded pellet is the share that diffused onto the tube bottom: the absorbed fraction of 1-D
    diffusion from a uniform start (series above), with D = kB T / (3 pi eta d) at the protocol's temperature,
    eta from IAPWS 2008 times the medium's factor, and the column L = (r_max - r_min) fill / tube_volume
    (constant cross-section, docs/physics.md). Duration chosen for about 30 % absorbed.

    Tolerance: 5 binomial SE (n = 1e6) plus the viscosity allowance carried through; D taken at 20 degC (T alone or
    T and eta), with 6 pi, or without the medium's factor moves the share beyond it by 3 SE more (asserted)."""
    name, d, rho_p, n = "culture_medium", 5e-9, 1360.0, 1_000_000
    t_k = 273.15 + t_c
    rot = rotor_yaml(SW41)
    fill = 1e-6
    length = (rot["r_max"] - rot["r_min"]) * fill / rot["tube_volume"]
    _, eta_ref = reference_medium(name, t_c)
    _, factor = medium_yaml(MEDIUM_FILES[name])
    D = stokes_einstein(d, t_k, eta_ref)
    duration = round((0.3 * length / 2) ** 2 * math.pi / D)
    p = absorbed_fraction(D, duration, length)
    assert 0.25 < p < 0.35
    se = binomial_se(p, n)
    tol = 5 * se + spread(lambda e: absorbed_fraction(stokes_einstein(d, t_k, e), duration, length), eta_ref)
    for wrong in (stokes_einstein(d, 293.15, ETA_WATER[20] * factor), stokes_einstein(d, 293.15, eta_ref), D / 2,
                  D * factor):
        assert abs(absorbed_fraction(wrong, duration, length) - p) > tol + 3 * se
    step = {"kind": "centrifuge", "rotor": SW41, "speed": "10 rpm", "duration": f"{duration} s", "fill": "1 mL",
            "keep": "supernatant"}
    pop = {"name": "protein", "target": True, "concentration": "1e9 /mL", "diameter": f"{d * 1e9} nm",
           "density": f"{rho_p / 1000} g/mL"}
    ds = exosim.simulate(protocol(f"{t_c} degC", step), sample("1 mL", name, pop), n_particles=n, seed=5,
                         device=exosim.CPU())
    assert float(ds.attrs["temperature_K"]) == pytest.approx(t_k)
    got = place_share(ds, "pellet_discarded", "protein")
    assert abs(got - p) <= tol, (got, p, tol)
    assert float(ds.recovery.sel(population="protein")) == pytest.approx(1 - got, abs=1e-12)
