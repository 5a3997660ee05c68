"""Scalar helpers checked against values computed here, to the last bits where the formula is exact: gaps found by
the mutation run (docs/mutation.md) that statistical tests cannot resolve."""
import math

import numpy as np
import pytest

from exosim.kernels import formulas
from exosim.physics import rotors as geom


@pytest.mark.parametrize("ah", [1e-12, 3e-10, 1e-6, 0.05, 0.4, 0.45, 2.0, -1e-10, -0.4, -3.0])
def test_ou_clock_variance_against_its_closed_form(ah):
    """V_u = D (1 - exp(-2 A h)) / A (Gillespie 1996), computed here with expm1 (accurate for tiny A h), to 1e-13
    relative on both branches of the implementation and across the switch between them; A h in (-3, 2)."""
    D, h = 2.5e-12, 600.0
    rate = ah / h
    expected = -D * math.expm1(-2.0 * rate * h) / rate
    assert formulas.ou_clock_variance(rate, D, h) == pytest.approx(expected, rel=1e-13, abs=0.0)


def test_ou_clock_variance_without_a_field_is_2dh():
    assert formulas.ou_clock_variance(0.0, 2.5e-12, 600.0) == 2 * 2.5e-12 * 600.0


def test_rpm_and_omega():
    """1 revolution per minute is 2 pi / 60 rad/s; the two conversions invert each other."""
    assert geom.rpm_to_omega(60.0) == pytest.approx(2 * math.pi, rel=1e-15)
    assert geom.omega_to_rpm(2 * math.pi) == pytest.approx(60.0, rel=1e-15)
    assert geom.rcf(geom.omega_for_rcf(100000.0, 0.11), 0.11) == pytest.approx(100000.0, rel=1e-12)


def test_ramps_run_up_and_down_in_order():
    """The acceleration ramp's segments carry increasing omega^2 and the deceleration's decreasing, each the mean
    of (omega t / T)^2 over its interval (for a linear ramp over [t0, t1]: omega^2 (t1^3 - t0^3) / (3 T^2 (t1 - t0)))."""
    omega, T = 3000.0, 80.0
    seg = geom.speed_profile(omega, 100.0, accel=T, decel=T)
    up, plateau, down = seg[:8], seg[8], seg[9:]
    edges = np.linspace(0, T, 9)
    mean_w2 = omega ** 2 * (edges[1:] ** 3 - edges[:-1] ** 3) / (3 * T ** 2 * np.diff(edges))
    np.testing.assert_allclose(up[:, 1], mean_w2, rtol=1e-13)
    np.testing.assert_allclose(down[:, 1], mean_w2[::-1], rtol=1e-13)
    assert plateau[1] == omega ** 2 and plateau[0] == 100.0


def test_bridge_minimum_distribution():
    """The minimum of a Brownian bridge from g0 to g1 with variance V has P(min < m) = exp(-2 (g0 - m)(g1 - m)/V)
    (Borodin & Salminen 2002): inverting it at U gives back U, and the minimum never exceeds either end."""
    g0, g1, V = 0.3, 0.7, 0.2
    for u in (1e-6, 0.1, 0.5, 0.9, 1 - 1e-9):
        m = formulas.bridge_minimum(g0, g1, V, u)
        assert m <= min(g0, g1) + 1e-15
        assert math.exp(-2 * (g0 - m) * (g1 - m) / V) == pytest.approx(u, rel=1e-9)


def test_full_fixed_angle_tube_meniscus_is_r_min():
    """A full fixed-angle tube's liquid reaches its innermost point, the inner rim of the top: the rotor's r_min
    (the tube frame is built so), for every fixed-angle rotor of the catalog."""
    from exosim.config import load_rotors
    for rotor in load_rotors().values():
        if rotor.kind == "fixed":
            tube = geom.FixedAngleTube.from_rotor(rotor.r_min, rotor.r_max, rotor.angle, rotor.tube_diameter)
            assert tube.meniscus_radius(1.0) == pytest.approx(rotor.r_min, rel=1e-12)
