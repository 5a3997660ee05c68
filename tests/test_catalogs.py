"""Rotor, medium and unit data against their published values."""
import math

import pytest

from exosim import units
from exosim.config import load_media, load_rotors
from exosim.physics import media, rotors as geom

ROTORS = load_rotors()


@pytest.mark.parametrize("name", [n for n, r in ROTORS.items() if r.published_k])
def test_k_factor_reproduces_the_manufacturer(name):
    """Published k-factors are whole numbers: the computed one rounds to it."""
    rotor = ROTORS[name]
    assert abs(rotor.k_factor() - rotor.published_k) <= 0.5


def test_required_rotors_present():
    for name in ("SW 41 Ti", "SW 32 Ti", "SW 28 Ti", "MLS-50", "Type 70 Ti", "Type 45 Ti", "TLA-100.3", "TLA-110"):
        assert name in ROTORS


def test_rcf_and_speed_round_trip():
    rotor = ROTORS["SW 41 Ti"]
    omega = geom.omega_for_rcf(100000, rotor.r_avg)
    assert geom.rcf(omega, rotor.r_avg) == pytest.approx(100000)
    # 41,000 rpm in an SW 41 Ti is 207,000 g at r_avg and 288,000 g at r_max (Beckman Coulter rotor table)
    assert geom.rcf(rotor.max_speed, rotor.r_avg) == pytest.approx(207_000, rel=3e-3)
    assert geom.rcf(rotor.max_speed, rotor.r_max) == pytest.approx(288_000, rel=3e-3)


def test_fixed_angle_tube_volume_close_to_nominal():
    """The cylinder built from r_min, r_max, angle and diameter holds about the nominal volume (Type 45 Ti)."""
    r = ROTORS["Type 45 Ti"]
    tube = geom.FixedAngleTube.from_rotor(r.r_min, r.r_max, r.angle, r.tube_diameter)
    assert tube.volume == pytest.approx(r.tube_volume, rel=0.05)


@pytest.mark.parametrize("t_c,eta_mpas", [(4, 1.567), (20, 1.002), (25, 0.890), (37, 0.692)])
def test_water_viscosity_against_tables(t_c, eta_mpas):
    """Vogel equation vs reference tables (media.md): within its stated accuracy of 0.5 %."""
    assert media.water_viscosity(273.15 + t_c) * 1e3 == pytest.approx(eta_mpas, rel=5e-3)


@pytest.mark.parametrize("t_c,rho", [(4, 999.97), (20, 998.21), (37, 993.33)])
def test_water_density_against_tables(t_c, rho):
    assert media.water_density(273.15 + t_c) == pytest.approx(rho, abs=0.02)


def test_pbs_density_at_20c():
    pbs = load_media()["PBS"]
    assert media.medium_density(pbs.density_offset, 293.15) == pytest.approx(1005.0, abs=0.5)


@pytest.mark.parametrize("text,kind,value", [
    ("70 min", "time", 4200.0), ("100 uL", "volume", 1e-7), ("1.15 g/mL", "density", 1150.0),
    ("4 degC", "temperature", 277.15), ("41000 rpm", "angular_speed", 41000 * 2 * math.pi / 60),
    ("5 %", "fraction", 0.05), ("66.5 kDa", "mass", 66.5e3 * 1.66053906660e-27),
])
def test_units_parse_to_si(text, kind, value):
    assert units.parse(text, kind) == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("text", ["100000 g", "100,000 g", "100000 x g", "1e5 xg", "980665 m/s^2"])
def test_rcf_forms(text):
    assert units.parse_rcf(text) == pytest.approx(1e5)


@pytest.mark.parametrize("text,kind", [("70", "time"), ("70 kg", "time"), ("abc", "volume"), ("10 mL", "mass")])
def test_units_reject(text, kind):
    with pytest.raises(ValueError):
        units.parse(text, kind)
