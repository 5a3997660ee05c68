"""Density and viscosity of water and of dilute aqueous media versus temperature. SI units."""
import math


def water_density(temperature: float) -> float:
    """Density of air-free water at 101.325 kPa (Tanaka et al. 2001, Metrologia 38:301, eq. 1).

    Args: temperature [K], valid 0-40 degC. Returns: density [kg/m^3] (999.97 at 4 degC, 998.21 at 20 degC).
    """
    t = temperature - 273.15
    a1, a2, a3, a4, a5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950
    return a5 * (1.0 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4)))


def water_viscosity(temperature: float) -> float:
    """Dynamic viscosity of water, Vogel equation eta = 0.02939 exp(507.88 / (T - 149.3)) mPa s
    (Viswanath & Natarajan 1989, Data Book on the Viscosity of Liquids; docs/reference/media.md).

    Args: temperature [K]. Returns: viscosity [Pa s] (1.561e-3 at 4 degC, 1.0035e-3 at 20 degC).
    """
    return 0.02939e-3 * math.exp(507.88 / (temperature - 149.3))


def medium_density(density_offset: float, temperature: float) -> float:
    """Density of a dilute aqueous medium: water's at the same temperature plus a constant offset.

    Args: density_offset [kg/m^3] (PBS about 6.7), temperature [K]. Returns: [kg/m^3].
    """
    return water_density(temperature) + density_offset


def medium_viscosity(viscosity_factor: float, temperature: float) -> float:
    """Viscosity of a dilute aqueous medium: water's at the same temperature times a constant factor
    (the relative viscosity of dilute solutions changes little with temperature).

    Args: viscosity_factor [1], temperature [K]. Returns: [Pa s].
    """
    return water_viscosity(temperature) * viscosity_factor
