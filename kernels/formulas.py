"""Scalar physics of sedimentation and diffusion, written once for every backend. SI units throughout.

Each function works on Python floats, on numpy arrays (host-side physics and tests use it that way), inside
``numba.njit`` and inside ``numba.cuda.jit`` kernels.
"""
import math

from numba.extending import register_jitable

from . import constants
from .osmosis import osmotic_density as _osmotic_density

# float(): the float32 rewrite (kernels/precision.py) turns these into float32 constants of its kernels
BOLTZMANN = float(constants.BOLTZMANN)            # J/K
GAS_CONSTANT = float(constants.GAS_CONSTANT)      # J/(mol K)
ISO_OSMOLALITY = float(constants.ISO_OSMOLALITY)  # osmol/kg
LUMEN_WATER_DENSITY = float(constants.LUMEN_WATER_DENSITY)  # kg/m^3

osmotic_density = register_jitable(_osmotic_density)  # kernels/osmosis.py: plain, importable without numba
BRIDGE_CUTOFF = 50.0  # bridge exponents beyond this give probabilities below 2e-22: counted as zero


@register_jitable
def sedimentation_coefficient(diameter, rho_particle, rho_medium, viscosity):
    """Svedberg sedimentation coefficient of a sphere, s = d^2 (rho_p - rho_m) / (18 eta).

    Stokes drag f = 3 pi eta d balanced against buoyant mass (Svedberg & Pedersen 1940; physics.md).
    Args: diameter [m], rho_particle [kg/m^3], rho_medium [kg/m^3], viscosity [Pa s].
    Returns: s [s] (1 svedberg = 1e-13 s); negative for particles lighter than the medium (they float).
    """
    return diameter * diameter * (rho_particle - rho_medium) / (18.0 * viscosity)


@register_jitable
def diffusion_coefficient(diameter, temperature, viscosity):
    """Stokes-Einstein translational diffusion coefficient D = kB T / (3 pi eta d) (Einstein 1905).

    Args: diameter [m], temperature [K], viscosity [Pa s]. Returns: D [m^2/s].
    """
    return BOLTZMANN * temperature / (3.0 * math.pi * viscosity * diameter)


@register_jitable
def osmotic_pressure(osmolality, temperature):
    """Osmotic pressure of a dilute aqueous solution, Pi = m rho_w R T (van 't Hoff 1887), rho_w = 1000 kg/m^3
    (its 0.3 % change from 4 to 37 degC is below the error of the dilute law at 0.3 osmol/kg).

    Args: osmolality [osmol/kg], temperature [K]. Returns: Pi [Pa] (7.05e5 Pa for 0.290 osmol/kg at 20 degC).
    """
    return osmolality * 1000.0 * GAS_CONSTANT * temperature


@register_jitable
def ou_clock_variance(rate, diffusion, h):
    """Variance of u = r exp(-A t) gained over a step h under dr = A r dt + sqrt(2 D) dW.

    V_u = D (1 - exp(-2 A h)) / A, with the limit 2 D h for A h -> 0 (Gillespie 1996, Phys Rev E 54:2084).
    The exact transition is r(h) = exp(A h) (r(0) + sqrt(V_u) Z), i.e. N(r e^{Ah}, D (e^{2Ah} - 1) / A).
    Args: rate A = s omega^2 [1/s], diffusion D [m^2/s], h [s]. Returns: V_u [m^2].
    """
    x = 2.0 * rate * h
    if abs(x) < 1e-9:
        return 2.0 * diffusion * h * (1.0 - 0.5 * x)
    return -diffusion * math.expm1(-x) / rate


@register_jitable
def bridge_crossing_probability(gap0, gap1, variance):
    """Probability that a Brownian bridge crosses a wall it does not touch at either end.

    P = exp(-2 g0 g1 / V) for gaps g0, g1 > 0 between the path and a wall that is linear in the variance clock,
    V the variance accumulated over the step (Gobet 2000, ESAIM PS 4:167; for V = 2 D h this is
    exp(-g0 g1 / (D h)) of physics.md). Args: gap0, gap1 [m], variance [m^2]. Returns: P in [0, 1].
    """
    if not bridge_may_cross(gap0, gap1, variance):
        return 0.0
    return math.exp(-2.0 * gap0 * gap1 / variance)


@register_jitable
def bridge_may_cross(gap0, gap1, variance):
    """False when the bridge crossing probability is below exp(-BRIDGE_CUTOFF) (no division: a cheap test for
    the common case of a particle far from the wall). Args as ``bridge_crossing_probability``."""
    return 2.0 * gap0 * gap1 < BRIDGE_CUTOFF * variance


@register_jitable
def bridge_minimum(gap0, gap1, variance, uniform):
    """Minimum of a Brownian bridge from gap0 to gap1 that accumulates ``variance`` over the step, drawn by inversion.

    P(min < m) = exp(-2 (gap0 - m)(gap1 - m) / V) for m <= min(gap0, gap1) (Borodin & Salminen 2002, Handbook of
    Brownian Motion, 1.1.8; the crossing probability above is the case m = 0), so
    m = (g0 + g1 - sqrt((g0 - g1)^2 - 2 V ln U)) / 2 with U uniform on (0, 1).
    Args: gap0, gap1 [m], variance [m^2] (> 0), uniform in (0, 1). Returns: the minimum [m].
    """
    diff = gap0 - gap1
    return 0.5 * (gap0 + gap1 - math.sqrt(diff * diff - 2.0 * variance * math.log(uniform)))


@register_jitable
def reflection_push(gap0, gap1, variance, uniform):
    """Push [m] that keeps a path inside a reflecting wall: the Skorokhod reflection of the free path.

    A path reflected at a wall is the free path plus L(t) = max(0, -min_{s<=t} gap(s)) (Skorokhod 1961), so its
    end lies ``max(0, -bridge_minimum)`` further inside than the free path's end. Drawing the bridge minimum
    exactly makes the reflected end point exact for a flat wall and constant drift over the step, however large
    the step (Asmussen, Glynn & Pitman 1995, Ann Appl Probab 5:875); a free end far beyond the wall comes back
    onto it (a particle pressed against the wall by its drift stays there).
    Args: gap0 >= 0 and gap1 (signed, negative beyond the wall) [m] of the free path, variance [m^2] accumulated
    over the step (0: deterministic, the push is max(0, -gap1)), uniform in (0, 1). Returns: push [m] >= 0.
    """
    if variance <= 0.0:
        return max(0.0, -gap1)
    return max(0.0, -bridge_minimum(gap0, gap1, variance, uniform))


@register_jitable
def may_touch(gap0, gap1, variance):
    """False when a path from gap0 to gap1 (gap1 >= 0, both inside the wall) touches the wall with probability
    below exp(-BRIDGE_CUTOFF): no uniform needs to be drawn. Args as ``reflection_push``."""
    return gap1 < 0.0 or bridge_may_cross(gap0, gap1, variance)
