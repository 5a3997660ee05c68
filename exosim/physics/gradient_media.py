"""Density-gradient media (sucrose, iodixanol, caesium chloride): data tables and their physics. SI units.

Everything here is in SI units: mass fraction w (kg solute per kg solution, 0..1), density kg/m^3, viscosity Pa s,
temperature K, molality and osmolality mol/kg, mass concentration kg/m^3, molar concentration mol/m^3,
volumes m^3, diffusion coefficients m^2/s, sedimentation coefficients s. numpy and scipy only (scipy is imported
when a medium is built, not when this module is imported).

Data: one YAML file per solute in ``configs/gradient_media/`` (``load_gradient_media``). Each holds a table of
mass fraction against density and viscosity at 20 degC (CRC Handbook for sucrose and CsCl; derived from the
OptiPrep and Visipaque data for iodixanol) and the rules below, every number with its source. See
docs/gradient_media.md.

Rules (each method's docstring gives the formula and its source):

- Interpolation: monotone cubic (``scipy.interpolate.PchipInterpolator``) of density, and of ln(viscosity), in w.
  A mass fraction outside the table raises ValueError naming the medium, the value and the valid range: nothing
  is ever extrapolated.
- Temperature: the table holds at 20 degC. Viscosity is the table's times water's change (Vogel equation) times
  a medium rule for the relative viscosity (sucrose: Genotelle equation; iodixanol: Andrade fit to Visipaque at
  20 and 37 degC; CsCl: none, relative viscosity assumed temperature-independent). Density: the water in the
  solution expands as pure water (Tanaka et al. 2001), the solute's apparent volume with a solute expansivity
  (sucrose: calibrated to -0.0003 g/mL per degC; iodixanol and CsCl: 0). Valid 0-40 degC.
- Osmolality: sucrose from its water activity (Norrish equation), CsCl from the Pitzer equation (two ions),
  iodixanol iso-osmotic (0.290 mol/kg, made up with buffer).
- The solute's own sedimentation and diffusion, for letting the medium evolve during a spin (a Lamm equation for
  w): ``diffusion_coefficient``, ``sedimentation_coefficient``, ``beta0`` (the self-forming-gradient constant,
  d rho/dr = omega^2 r / beta0 at equilibrium).

How concentrations in configs map to mass fractions (``GradientMedium.mass_fraction_from_config``):

- ``"40 %"`` means the medium's conventional basis (``percent_means`` in its YAML): **w/w for sucrose and CsCl**
  (their gradients are made by weight, and the CRC tables are by mass), **w/v for iodixanol** (OptiPrep is
  "60 % (w/v)"; iodixanol gradients are quoted as % w/v, g per 100 mL of solution).
- A suffix overrides: ``"40 % w/w"``, ``"40 % (w/v)"``, ``"400 mg/mL w/v"`` (a mass concentration).
- A density without suffix (``"1.15 g/mL"``, ``"1150 kg/m^3"``) is the solution's density.
- A molar concentration (``"1.5 M"``, ``"1500 mmol/L"``) is mol per litre of solution.
- A bare number is refused (ambiguous).

``vesicle_density`` maps a vesicle's density in an iso-osmotic medium to its density in a medium of another
osmolality (Boyle-van 't Hoff); ``lumen_water_fraction`` gives each vesicle's aqueous share from its density (a
two-phase split), so a population needs two parameters: the density of its dry matter and the osmotically
inactive share of its lumen (docs/gradient_media.md gives exosome values).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..kernels.constants import BOLTZMANN, GAS_CONSTANT, ISO_OSMOLALITY, LUMEN_WATER_DENSITY  # noqa: F401  (SI)
from ..kernels.osmosis import osmotic_density

# ---------------------------------------------------------------- constants
WATER_MOLAR_MASS = 0.018015268  # kg/mol (IAPWS)
T20 = 293.15  # K, the temperature of the tables
T_MIN, T_MAX = 273.15, 313.15  # K: 0-40 degC, the range of Tanaka's water density and of centrifuge runs
CGS_BETA = 1e-7  # 1 cm^5 g^-1 s^-2 in m^5 kg^-1 s^-2


# ---------------------------------------------------------------- water (numpy versions of exosim.physics.media)
def water_density(temperature):
    """Density of air-free water at 101.325 kPa (Tanaka et al. 2001, Metrologia 38:301, eq. 1), vectorised.

    The same formula as ``exosim.physics.media.water_density``. Args: temperature [K], valid 0-40 degC.
    Returns: density [kg/m^3] (999.97 at 4 degC, 998.21 at 20 degC).
    """
    t = np.asarray(temperature, dtype=float) - 273.15
    a1, a2, a3, a4, a5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950
    return a5 * (1.0 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4)))


def water_viscosity(temperature):
    """Viscosity of water, Vogel equation eta = 0.02939 exp(507.88 / (T - 149.3)) mPa s (Viswanath & Natarajan
    1989; docs/reference/media.md), vectorised; the same formula as ``exosim.physics.media.water_viscosity``.

    Args: temperature [K]. Returns: viscosity [Pa s] (1.561e-3 at 4 degC, 1.0035e-3 at 20 degC).
    """
    return 0.02939e-3 * np.exp(507.88 / (np.asarray(temperature, dtype=float) - 149.3))


# ---------------------------------------------------------------- closed-form rules
def sucrose_mole_fraction(w, molar_mass=0.34230):
    """Mole fraction of sucrose N from its mass fraction w [1] and molar mass [kg/mol] (water 18.015 g/mol)."""
    w = np.asarray(w, dtype=float)
    ns = w / molar_mass
    return ns / (ns + (1.0 - w) / WATER_MOLAR_MASS)


def _genotelle_phi(temperature):
    t = np.asarray(temperature, dtype=float) - 273.15
    return (30.0 - t) / (91.0 + t)


def genotelle_viscosity(w, temperature, molar_mass=0.34230):
    """Viscosity of aqueous sucrose, Genotelle equation (docs/reference/media.md):
    log10(eta / mPa s) = 22.46 N - 0.114 + phi (1.1 + 43.1 N^1.25), phi = (30 - t)/(91 + t), t in degC,
    N the sucrose mole fraction. Within 4 % of the CRC table at 20 degC; at 4 degC it gives 2.17, 3.39, 6.06,
    13.2, 38.8 and 190 mPa s at 10-60 % w/w.

    Args: w mass fraction [1], temperature [K]. Returns: viscosity [Pa s].
    """
    n = sucrose_mole_fraction(w, molar_mass)
    phi = _genotelle_phi(temperature)
    return 1e-3 * 10.0 ** (22.46 * n - 0.114 + phi * (1.1 + 43.1 * n ** 1.25))


def norrish_osmolality(molality, k):
    """Osmolality of a non-electrolyte solution from the Norrish equation for water activity,
    a_w = x_w exp(-K x_s^2) (Norrish 1966; as written in Baeza et al. 2010, Food Bioprocess Technol 3:87), and
    osmolality = -ln(a_w) / M_water (the definition of the osmotic coefficient, IUPAC Gold Book).

    Args: molality [mol/kg], K [1] (sucrose 6.47, Chirife et al. 1980). Returns: osmolality [mol/kg].
    """
    m = np.asarray(molality, dtype=float)
    x_s = m * WATER_MOLAR_MASS / (1.0 + m * WATER_MOLAR_MASS)
    return (np.log1p(m * WATER_MOLAR_MASS) + k * x_s ** 2) / WATER_MOLAR_MASS


def _norrish_dosm_dm(molality, k):
    """d(osmolality)/d(molality) of ``norrish_osmolality`` [1], analytic."""
    m = np.asarray(molality, dtype=float)
    u = 1.0 + m * WATER_MOLAR_MASS
    x_s = m * WATER_MOLAR_MASS / u
    return 1.0 / u + 2.0 * k * x_s / u ** 2


def pitzer_osmotic_coefficient(molality, beta0, beta1, c_phi, a_phi=0.3915, alpha=2.0, b=1.2):
    """Osmotic coefficient of a 1:1 electrolyte, Pitzer equation (Pitzer & Mayorga 1973, J Phys Chem 77:2300):
    phi = 1 - A_phi sqrt(m) / (1 + b sqrt(m)) + m (beta0 + beta1 exp(-alpha sqrt(m))) + m^2 C_phi.

    Args: molality [mol/kg]; beta0, beta1 [kg/mol]; c_phi [kg^2/mol^2]; a_phi [kg^0.5 mol^-0.5] (0.3915 at
    25 degC). Returns: osmotic coefficient [1].
    """
    m = np.asarray(molality, dtype=float)
    sq = np.sqrt(m)
    return 1.0 - a_phi * sq / (1.0 + b * sq) + m * (beta0 + beta1 * np.exp(-alpha * sq)) + m * m * c_phi


def _pitzer_dmphi_dm(molality, beta0, beta1, c_phi, a_phi=0.3915, alpha=2.0, b=1.2):
    """d(m phi)/dm [1] of ``pitzer_osmotic_coefficient``, analytic: the thermodynamic factor
    1 + d ln(gamma+-)/d ln(m) of a 1:1 electrolyte (Gibbs-Duhem: d(2 m phi) = 2 m d ln(gamma+- m))."""
    m = np.asarray(molality, dtype=float)
    sq = np.sqrt(m)
    # m phi = m - A m^1.5 / (1 + b sqrt m) + m^2 (beta0 + beta1 e^(-alpha sqrt m)) + m^3 C
    d_dh = -a_phi * (1.5 * sq * (1.0 + b * sq) - 0.5 * b * m) / (1.0 + b * sq) ** 2
    e = np.exp(-alpha * sq)
    d_b = 2.0 * m * (beta0 + beta1 * e) - 0.5 * alpha * beta1 * m * sq * e
    return 1.0 + d_dh + d_b + 3.0 * m * m * c_phi


def vesicle_density(rho_iso, osmolality, water_fraction, inactive_fraction, iso_osmolality=ISO_OSMOLALITY,
                    water_density=LUMEN_WATER_DENSITY):
    """Buoyant density of a vesicle in a medium of a given osmolality (Boyle-van 't Hoff).

    The vesicle is impermeable to the gradient solute. Its aqueous lumen makes up ``water_fraction`` of its volume
    in an iso-osmotic medium; of the lumen, the share ``inactive_fraction`` is osmotically inactive (bound water,
    protein, RNA); the active rest behaves as an ideal osmometer: its volume scales as Pi_iso / Pi (Boyle-van
    't Hoff law, e.g. Lucke & McCutcheon 1932). Water (density ``water_density``) leaves or enters, the rest of the
    vesicle's mass stays. With a = water_fraction (1 - inactive_fraction) (1 - Pi_iso / Pi), the volume becomes
    V (1 - a) and the density

        rho = (rho_iso - a rho_water) / (1 - a).

    Iso-osmotic (Pi = Pi_iso): unchanged. Hyperosmotic (sucrose): water leaves, the vesicle gets denser, up to
    (rho_iso - A rho_w) / (1 - A), A = water_fraction (1 - inactive_fraction), as Pi -> infinity. Hypo-osmotic: the
    vesicle swells and gets lighter; real vesicles lyse once the membrane area grows by about 3-5 % (docs/
    reference/vesicles.md), which this function does not model.

    Args (numpy arrays broadcast): rho_iso [kg/m^3], the density measured in an iso-osmotic medium (iodixanol);
    osmolality [mol/kg] of the medium (> 0); water_fraction [1]; inactive_fraction [1]; iso_osmolality [mol/kg]
    (0.290); water_density [kg/m^3]. Returns: density [kg/m^3].
    """
    rho_iso, pi = np.asarray(rho_iso, dtype=float), np.asarray(osmolality, dtype=float)
    f, b = np.asarray(water_fraction, dtype=float), np.asarray(inactive_fraction, dtype=float)
    if np.any(~(pi > 0)):
        raise ValueError(f"vesicle_density: osmolality must be > 0 mol/kg, got {np.min(pi):g}")
    if np.any((f < 0) | (f >= 1)) or np.any((b < 0) | (b > 1)):
        raise ValueError("vesicle_density: water_fraction must be in [0, 1) and inactive_fraction in [0, 1]")
    out, _ = osmotic_density(rho_iso, f * (1.0 - b), pi, iso_osmolality, water_density)  # kernels/osmosis.py
    return float(out) if out.ndim == 0 else out


def lumen_water_fraction(rho_iso, rho_dry, rho_lumen=1005.0):
    """Volume fraction of a vesicle that is aqueous lumen, from its iso-osmotic density by a two-phase split
    [A: exosim's per-population rule]: the vesicle is water of density ``rho_lumen`` (iso-osmotic saline, about
    1005 kg/m^3) plus "dry" matter (lipid, protein, RNA) of density ``rho_dry``, so
    water_fraction = (rho_dry - rho_iso) / (rho_dry - rho_lumen). Denser vesicles hold less water.

    Args: rho_iso, rho_dry, rho_lumen [kg/m^3], with rho_lumen <= rho_iso <= rho_dry. Returns: fraction [1].
    Particles without an aqueous lumen (lipoproteins) are outside this rule: give them water_fraction 0.
    """
    rho_iso = np.asarray(rho_iso, dtype=float)
    f = (rho_dry - rho_iso) / (rho_dry - rho_lumen)
    if np.any((f < 0) | (f > 1)):
        raise ValueError(f"lumen_water_fraction: rho_iso must lie between rho_lumen ({rho_lumen:g}) and "
                         f"rho_dry ({rho_dry:g}) kg/m^3")
    return float(f) if f.ndim == 0 else f


# ---------------------------------------------------------------- the medium
class Mixture(NamedTuple):
    """Result of ``GradientMedium.mix``: mass fraction [1], density [kg/m^3], viscosity [Pa s], volume [m^3]."""
    mass_fraction: Any
    density: Any
    viscosity: Any
    volume: Any


KINDS = ("w/w", "w/v", "density", "molar")
_KIND_UNITS = {"w/w": "", "w/v": "kg/m^3", "density": "kg/m^3", "molar": "mol/m^3"}


def _has_unit(q) -> bool:
    """Whether a pint quantity was written with a unit ("40 %" has one, "40" has none; pint calls both unitless)."""
    return str(q.units) not in ("", "dimensionless")


def _out(x):
    """A float for 0-d results, else the array."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


@dataclass(frozen=True, eq=False)
class GradientMedium:
    """One gradient medium: its 20 degC table and its rules (see the module docstring). SI units throughout.

    Build it with ``load_gradient_media``; the fields mirror the YAML file. Methods take the mass fraction w
    [1] (and a temperature T [K], default 293.15) as floats or numpy arrays, which broadcast.
    """
    name: str
    molar_mass: float  # kg/mol
    ions: int  # osmotically active particles per formula unit (1 or 2)
    percent_means: str  # "w/w" or "w/v": what a bare "40 %" in a config means
    w_table: np.ndarray  # mass fractions [1], increasing, starting at 0 (water)
    density_table: np.ndarray  # kg/m^3 at table_temperature
    viscosity_table: np.ndarray  # Pa s at table_temperature
    viscosity_rule: str  # "genotelle", "andrade" or "relative"
    andrade_q: float = 0.0  # K, for viscosity_rule "andrade"
    solute_expansivity: float = 0.0  # 1/K, of the solute's apparent volume
    osmotic_rule: str = "constant"  # "norrish", "pitzer" or "constant"
    osmotic_params: dict = field(default_factory=dict)  # K; beta0, beta1, C_phi, A_phi, max_molality; value
    gamma_rule: str = "ideal"  # thermodynamic factor: "ideal" or "from_osmolality"
    diffusion_20: float = 0.0  # m^2/s, mutual diffusion coefficient at infinite dilution at table_temperature
    partial_specific_volume_ref: float = float("nan")  # m^3/kg, literature value at infinite dilution (reference)
    beta0_published: float | None = None  # m^5 kg^-1 s^-2
    beta0_density: float | None = None  # kg/m^3, the density at which beta0_published holds
    beta0_temperature: float | None = None  # K
    table_temperature: float = T20
    sources: dict = field(default_factory=dict)

    def __post_init__(self):
        from scipy.interpolate import PchipInterpolator

        w = np.asarray(self.w_table, dtype=float)
        rho = np.asarray(self.density_table, dtype=float)
        eta = np.asarray(self.viscosity_table, dtype=float)
        if w.ndim != 1 or len(w) < 2 or not (len(w) == len(rho) == len(eta)):
            raise ValueError(f"{self.name}: the table needs at least two rows of equal length")
        if w[0] != 0.0 or np.any(np.diff(w) <= 0) or w[-1] >= 1:
            raise ValueError(f"{self.name}: mass fractions must start at 0 (water) and increase below 1")
        if np.any(np.diff(rho) <= 0):
            raise ValueError(f"{self.name}: the density must increase with the mass fraction")
        if np.any(eta <= 0):
            raise ValueError(f"{self.name}: viscosities must be positive")
        if self.viscosity_rule not in ("genotelle", "andrade", "relative"):
            raise ValueError(f"{self.name}: unknown viscosity rule {self.viscosity_rule!r}")
        if self.osmotic_rule not in ("norrish", "pitzer", "constant"):
            raise ValueError(f"{self.name}: unknown osmolality rule {self.osmotic_rule!r}")
        if self.gamma_rule not in ("ideal", "from_osmolality"):
            raise ValueError(f"{self.name}: unknown thermodynamic-factor rule {self.gamma_rule!r}")
        for name, value in (("w_table", w), ("density_table", rho), ("viscosity_table", eta)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        rho_w20 = float(water_density(self.table_temperature))
        object.__setattr__(self, "_rho", PchipInterpolator(w, rho))
        object.__setattr__(self, "_drho", self._rho.derivative())
        object.__setattr__(self, "_logeta", PchipInterpolator(w, np.log(eta)))
        object.__setattr__(self, "_rho_w20", rho_w20)
        object.__setattr__(self, "_eta_w20", float(water_viscosity(self.table_temperature)))

    # ------------------------------------------------------------ ranges
    @property
    def w_max(self) -> float:
        """The largest mass fraction of the table [1]."""
        return float(self.w_table[-1])

    def _w(self, w) -> np.ndarray:
        """w as an array, checked against the table's range (never extrapolated)."""
        w = np.asarray(w, dtype=float)
        tol = 1e-12
        bad = ~((w >= -tol) & (w <= self.w_max + tol))
        if np.any(bad):
            value = w[bad].flat[0]
            raise ValueError(f"{self.name}: mass fraction {value:.6g} ({100 * value:.4g} % w/w) is outside the "
                             f"table's range 0-{self.w_max:.6g} (0-{100 * self.w_max:.4g} % w/w)")
        return np.clip(w, 0.0, self.w_max)

    def _t(self, temperature) -> np.ndarray:
        t = np.asarray(temperature, dtype=float)
        bad = ~((t >= T_MIN - 1e-9) & (t <= T_MAX + 1e-9))
        if np.any(bad):
            value = t[bad].flat[0]
            raise ValueError(f"{self.name}: temperature {value:.6g} K ({value - 273.15:.4g} degC) is outside "
                             f"the valid range {T_MIN:g}-{T_MAX:g} K (0-40 degC)")
        return t

    # ------------------------------------------------------------ density
    def _excess_volume(self, w):
        """e(w) = 1/rho_table(w) - (1 - w)/rho_water(T20) [m^3/kg] and its derivative de/dw."""
        rho = self._rho(w)
        e = 1.0 / rho - (1.0 - w) / self._rho_w20
        de = -self._drho(w) / rho ** 2 + 1.0 / self._rho_w20
        return e, de

    def density(self, w, temperature=T20):
        """Density of the solution [kg/m^3] at mass fraction w [1] and temperature T [K].

        At the table's temperature (20 degC) the table, interpolated by a monotone cubic (PCHIP; CRC Handbook for
        sucrose and CsCl, OptiPrep-derived for iodixanol). At other temperatures the specific volume is split
        into water's part and the solute's apparent volume: 1/rho = (1 - w)/rho_water(T) + e(w) (1 + alpha
        (T - T20)), e(w) = 1/rho_table(w) - (1 - w)/rho_water(T20), rho_water from Tanaka et al. 2001, alpha the
        solute expansivity of the YAML (sucrose 4.9e-4 /K, calibrated to media.md's -0.0003 g/mL per degC).
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        e, _ = self._excess_volume(w)
        v = (1.0 - w) / water_density(t) + e * (1.0 + self.solute_expansivity * (t - self.table_temperature))
        return _out(1.0 / v)

    def _ddensity_dw(self, w, t):
        """d rho / d w [kg/m^3] at (w, T), from the same volume split as ``density``."""
        e, de = self._excess_volume(w)
        k = 1.0 + self.solute_expansivity * (t - self.table_temperature)
        v = (1.0 - w) / water_density(t) + e * k
        dv = -1.0 / water_density(t) + de * k
        return -dv / v ** 2

    def partial_specific_volume(self, w, temperature=T20):
        """Partial specific volume of the solute [m^3/kg] at (w, T): vbar = v + (1 - w) dv/dw with v = 1/rho,
        i.e. (1 + alpha (T - T20)) (e(w) + (1 - w) e'(w)) in the notation of ``density`` (standard thermodynamics
        of binary solutions). At w -> 0 it is the infinite-dilution value (sucrose about 0.617 mL/g, CsCl
        0.233 mL/g, iodixanol 0.4645 mL/g by construction).
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        e, de = self._excess_volume(w)
        k = 1.0 + self.solute_expansivity * (t - self.table_temperature)
        return _out(k * (e + (1.0 - w) * de))

    # ------------------------------------------------------------ viscosity
    def _relative_factor(self, w, t):
        """F(w, T): the change of the relative viscosity eta/eta_water between T20 and T (1 at T20)."""
        if self.viscosity_rule == "genotelle":
            n = sucrose_mole_fraction(w, self.molar_mass)
            return 10.0 ** (43.1 * n ** 1.25 * (_genotelle_phi(t) - _genotelle_phi(self.table_temperature)))
        if self.viscosity_rule == "andrade":
            l20 = self._logeta(w) - math.log(self.viscosity_table[0])
            return np.exp(l20 * self.andrade_q * (1.0 / t - 1.0 / self.table_temperature))
        return np.ones_like(w)

    def viscosity(self, w, temperature=T20):
        """Viscosity of the solution [Pa s] at mass fraction w [1] and temperature T [K].

        eta(w, T) = eta_table(w) * [eta_water(T) / eta_water(T20)] * F(w, T): the table (PCHIP of ln eta; CRC for
        sucrose and CsCl, Visipaque-derived for iodixanol) times water's own change (Vogel equation) times the
        change of the relative viscosity, F:
        sucrose, Genotelle equation: log10 F = 43.1 N^1.25 (phi(t) - phi(20 degC)), phi = (30 - t)/(91 + t);
        iodixanol, Andrade form fitted to Visipaque at 20 and 37 degC: ln F = ln(eta_rel,20(w)) q (1/T - 1/T20),
        q = 687 K; CsCl: F = 1 (relative viscosity assumed independent of temperature).
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        eta = np.exp(self._logeta(w)) * (water_viscosity(t) / self._eta_w20) * self._relative_factor(w, t)
        return _out(eta)

    # ------------------------------------------------------------ composition
    def molality(self, w):
        """Molality of the solute [mol/kg water] at mass fraction w [1]: m = w / ((1 - w) M)."""
        w = self._w(w)
        return _out(w / ((1.0 - w) * self.molar_mass))

    def osmolality(self, w, background=0.0):
        """Osmolality of the solution [mol/kg, i.e. osmol/kg] at mass fraction w [1].

        sucrose: -ln(a_w)/M_water with the Norrish water activity a_w = x_w exp(-K x_s^2), K = 6.47 (Norrish 1966;
        Chirife et al. 1980) -- the sucrose's own contribution, to which ``background`` [mol/kg] (a buffer's
        osmolality, e.g. 0.02-0.04 for 20 mM HEPES, 0.29 for PBS) is added (additivity assumed).
        CsCl: 2 m phi with Pitzer's osmotic coefficient (Pitzer & Mayorga 1973), plus ``background``; raises
        beyond the fit's range (5 mol/kg).
        iodixanol: 0.290 mol/kg at every concentration (made iso-osmotic with buffer, OptiPrep sheet M01);
        ``background`` is ignored (the buffer is part of that value).
        """
        w = self._w(w)
        p = self.osmotic_params
        if self.osmotic_rule == "constant":
            return _out(np.full_like(w, p["value"]))
        m = w / ((1.0 - w) * self.molar_mass)
        if self.osmotic_rule == "norrish":
            osm = self.ions * norrish_osmolality(m, p["K"])
        else:
            self._check_molality(m)
            osm = self.ions * m * pitzer_osmotic_coefficient(m, p["beta0"], p["beta1"], p["C_phi"], p["A_phi"])
        return _out(osm + background)

    def _check_molality(self, m):
        top = self.osmotic_params.get("max_molality")
        if top is not None and np.any(m > top * (1 + 1e-12)):
            w_top = top * self.molar_mass / (1.0 + top * self.molar_mass)
            raise ValueError(f"{self.name}: molality {np.max(m):.4g} mol/kg is beyond the osmotic-coefficient "
                             f"fit's range 0-{top:g} mol/kg (mass fraction 0-{w_top:.4g})")

    def thermodynamic_factor(self, w):
        """Thermodynamic factor Gamma = 1 + d ln(gamma)/d ln(m) [1] of the solute at mass fraction w [1] (molal
        scale: a = (gamma m)^ions).

        From the Gibbs-Duhem relation, Gamma = (1/ions) d(osmolality)/dm (rule "from_osmolality"): sucrose from
        the Norrish osmolality; CsCl from the Pitzer osmotic coefficient, Gamma = d(m phi)/dm, evaluated over the
        whole table (beyond the fit's stated range it is extrapolated: the YAML file says how far it holds).
        Iodixanol: 1 (rule "ideal"; its YAML file says why).
        """
        w = self._w(w)
        if self.gamma_rule == "ideal":
            return _out(np.ones_like(w))
        m = w / ((1.0 - w) * self.molar_mass)
        p = self.osmotic_params
        if self.osmotic_rule == "norrish":
            return _out(_norrish_dosm_dm(m, p["K"]))
        if self.osmotic_rule == "pitzer":
            return _out(_pitzer_dmphi_dm(m, p["beta0"], p["beta1"], p["C_phi"], p["A_phi"]))
        raise ValueError(f"{self.name}: no thermodynamic factor from a {self.osmotic_rule!r} osmolality rule")

    def concentration_per_molality(self, w, temperature=T20):
        """d ln(c) / d ln(m) [1] at (w, T), c = w rho the mass concentration [kg/m^3], m the molality [mol/kg]:
        (1 - w) (1 + (w / rho) d rho/dw), from m = w / ((1 - w) M) and c = w rho(w). It converts a gradient in
        the molal scale, in which the thermodynamics is written, into one in the concentration that the Lamm
        equation transports."""
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        rho = np.asarray(self.density(w, t))
        return _out((1.0 - w) * (1.0 + w * self._ddensity_dw(w, t) / rho))

    # ------------------------------------------------------------ the solute's own transport
    def diffusion_coefficient(self, w, temperature=T20):
        """Mutual diffusion coefficient of the solute [m^2/s] at (w, T).

        D(w, T) = D0 (T / T20) (eta(0, T20) / eta(w, T)) Gamma(w): the value at infinite dilution (sucrose
        Gosting & Morris 1949; CsCl Nernst-Hartley from the ionic limiting coefficients; iodixanol a Stokes-
        Einstein estimate), carried to the solution by Stokes-Einstein with the solution's viscosity (Price,
        Mattsson & Murray 2016 for sucrose) and multiplied by the thermodynamic factor (Hartley form).
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        eta = self.viscosity(w, t)
        gamma = self.thermodynamic_factor(w)
        return _out(self.diffusion_20 * (t / self.table_temperature) * (self.viscosity_table[0] / eta) * gamma)

    def sedimentation_coefficient(self, w, temperature=T20):
        """Sedimentation coefficient of the solute [s] at (w, T), the one the Lamm equation for the mass
        concentration c needs: s = (s/D) D with the equilibrium ratio of sedimentation and diffusion written from
        the solute's chemical potential (two-component sedimentation equilibrium, e.g. Fujita 1962, Mathematical
        Theory of Sedimentation Analysis, ch. 1; Ifft, Voet & Vinograd 1961, J Phys Chem 65:1138):

            ions R T Gamma d ln(m)/dr = M (1 - vbar rho) omega^2 r,   Gamma = 1 + d ln(gamma)/d ln(m),

        with vbar the partial specific volume and rho the solution density at (w, T). The Lamm equation
        dc/dt = -(1/A) d/dr [A (s omega^2 r c - D dc/dr)] rests where d ln(c)/dr = (s/D) omega^2 r, so

            s/D = M (1 - vbar rho) / (ions R T Gamma) * d ln(c)/d ln(m)      (``concentration_per_molality``):

        one thermodynamic description drives both the solver's equilibrium and ``beta0``. (For CsCl ideal and
        dilute this is the Nernst-Hartley salt: s/D = M (1 - vbar rho) / (2 R T).)
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        d = np.asarray(self.diffusion_coefficient(w, t))
        return _out(self._s_over_d(w, t) * d)

    def _s_over_d_molal(self, w, t):
        """M (1 - vbar rho) / (ions R T Gamma) [s^2/m^2]: d ln(m)/dr per omega^2 r at equilibrium."""
        vbar = np.asarray(self.partial_specific_volume(w, t))
        rho = np.asarray(self.density(w, t))
        gamma = np.asarray(self.thermodynamic_factor(w))
        return self.molar_mass * (1.0 - vbar * rho) / (self.ions * GAS_CONSTANT * t * gamma)

    def _s_over_d(self, w, t):
        """The Lamm equation's s/D [s^2/m^2] (``sedimentation_coefficient``)."""
        return self._s_over_d_molal(w, t) * np.asarray(self.concentration_per_molality(w, t))

    def beta0(self, w, temperature=T20):
        """Self-forming-gradient constant [m^5 kg^-1 s^-2] at (w, T): at sedimentation equilibrium
        d ln(m)/dr = M (1 - vbar rho) omega^2 r / (ions R T Gamma) (``sedimentation_coefficient``), so
        d rho/dr = omega^2 r / beta0 with beta0 = ions R T Gamma / (M (1 - vbar rho) m d rho/dm),
        m d rho/dm = w (1 - w) d rho/dw (Ifft, Voet & Vinograd 1961). Divide by 1e-7 for cgs units
        (cm^5 g^-1 s^-2; CsCl about 1.19e9 at 1.7 g/mL and 25 degC, ibid.). Infinite at w = 0.
        """
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        slope = w * (1.0 - w) * self._ddensity_dw(w, t)
        with np.errstate(divide="ignore"):
            return _out(1.0 / (self._s_over_d_molal(w, t) * slope))

    # ------------------------------------------------------------ concentrations
    def concentration(self, w, kind, temperature=T20):
        """The concentration of ``kind`` at mass fraction w [1] and temperature T [K], in SI units:
        "w/w": w [1]; "w/v": mass concentration w rho [kg/m^3] (60 % w/v = 600 kg/m^3); "density": rho [kg/m^3];
        "molar": w rho / M [mol/m^3] (1 M = 1000 mol/m^3).
        """
        if kind not in KINDS:
            raise ValueError(f"{self.name}: unknown concentration kind {kind!r}; known: {', '.join(KINDS)}")
        w, t = np.broadcast_arrays(self._w(w), self._t(temperature))
        if kind == "w/w":
            return _out(w.copy())
        rho = np.asarray(self.density(w, t))
        return _out({"w/v": w * rho, "density": rho, "molar": w * rho / self.molar_mass}[kind])

    def mass_fraction_from(self, value, kind, temperature=T20):
        """Mass fraction w [1] from a concentration of ``kind`` at temperature T [K].

        kind "w/w": a fraction (0.4) or a string with a unit ("40 %"); "w/v": mass concentration [kg/m^3]
        (600 for OptiPrep) or a string ("60 %" = 60 g per 100 mL, "600 mg/mL"); "density": solution density
        [kg/m^3] or a string ("1.32 g/mL"); "molar": [mol/m^3] or a string ("1.5 M", "1.5 mol/L").
        Bare numbers are SI. "w/v", "density" and "molar" need the density, so w is found by bisection on the
        monotone table (to machine precision): the exact inverse of ``concentration``. A value outside the
        table's range raises ValueError naming the medium, the value and the valid range.
        """
        if kind not in KINDS:
            raise ValueError(f"{self.name}: unknown concentration kind {kind!r}; known: {', '.join(KINDS)}")
        target = self._parse_value(value, kind) if isinstance(value, str) else np.asarray(value, dtype=float)
        t = self._t(temperature)
        if kind == "w/w":
            return _out(self._w(target))
        target, t = np.broadcast_arrays(target, t)
        lo_v = np.asarray(self.concentration(0.0, kind, t))
        hi_v = np.asarray(self.concentration(self.w_max, kind, t))
        tol = 1e-12 * np.maximum(np.abs(hi_v), 1.0)
        bad = ~((target >= lo_v - tol) & (target <= hi_v + tol))
        if np.any(bad):
            i = np.flatnonzero(bad.ravel())[0]
            unit = _KIND_UNITS[kind]
            raise ValueError(f"{self.name}: {kind} {target.ravel()[i]:.6g} {unit} is outside the table's range "
                             f"{lo_v.ravel()[i]:.6g}-{hi_v.ravel()[i]:.6g} {unit} (mass fraction "
                             f"0-{self.w_max:.4g}) at {t.ravel()[i] - 273.15:.4g} degC")
        lo = np.zeros(target.shape)
        hi = np.full(target.shape, self.w_max)
        for _ in range(64):  # bisection: concentration(w) increases with w
            mid = 0.5 * (lo + hi)
            above = np.asarray(self.concentration(mid, kind, t)) > target
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        return _out(0.5 * (lo + hi))

    def _parse_value(self, text: str, kind: str):
        from exosim import units

        q = units.to_quantity(text)
        try:
            if kind == "w/w":
                return float(units.parse(text, "fraction"))
            if kind == "w/v":
                if q.dimensionless and _has_unit(q):  # "60 %": g per 100 mL
                    return float(q.to("").magnitude) * 1000.0
                return units.parse(text, "mass_concentration")
            if kind == "density":
                return units.parse(text, "density")
            if q.check("mol/m**3"):
                return float(q.to("mol/m**3").magnitude)
            raise ValueError(f"expected a molar concentration such as '1.5 M', got {text!r}")
        except ValueError as exc:
            raise ValueError(f"{self.name}: {kind}: {exc}") from None

    _SUFFIX = re.compile(r"^(?P<value>.*?)\s*\(?\s*(?P<basis>w/w|w/v)\s*\)?\s*$", re.IGNORECASE)

    def mass_fraction_from_config(self, text: str, temperature=T20):
        """Mass fraction w [1] from a config string (the rule of the module docstring):
        "40 %" -> the medium's ``percent_means`` (w/w for sucrose and CsCl, w/v for iodixanol);
        "40 % w/w", "40 % (w/v)", "400 mg/mL w/v" -> that basis; "1.15 g/mL" -> solution density;
        "1.5 M" -> molar. A bare number raises ValueError.
        """
        from exosim import units

        if not isinstance(text, str):
            raise ValueError(f"{self.name}: expected a concentration with a unit such as '40 %' or "
                             f"'1.15 g/mL', got {text!r}")
        m = self._SUFFIX.match(text)
        basis = m.group("basis").lower() if m else None
        body = m.group("value") if m else text
        q = units.to_quantity(body)
        if not _has_unit(q):
            raise ValueError(f"{self.name}: {text!r} has no unit; write '40 %' ({self.percent_means}), "
                             f"'40 % w/w', '40 % w/v', '1.15 g/mL' (density) or '1.5 M'")
        if q.dimensionless:
            return self.mass_fraction_from(body, basis or self.percent_means, temperature)
        if q.check("kg/m**3"):
            if basis == "w/w":
                raise ValueError(f"{self.name}: {text!r}: a mass per volume cannot be w/w")
            return self.mass_fraction_from(body, "w/v" if basis == "w/v" else "density", temperature)
        if q.check("mol/m**3") and basis is None:
            return self.mass_fraction_from(body, "molar", temperature)
        raise ValueError(f"{self.name}: cannot read {text!r} as a concentration ('40 %', '40 % w/v', "
                         f"'1.15 g/mL' or '1.5 M')")

    # ------------------------------------------------------------ mixing
    def mix(self, volumes, mass_fractions, temperature=T20):
        """Mix solutions of this medium: volumes [m^3] and mass fractions [1] along axis 0, at temperature T [K].

        Solute and total mass are conserved exactly: m_i = V_i rho(w_i, T), w = sum(m_i w_i) / sum(m_i). The
        mixture's volume is sum(m_i) / rho(w, T): the volume change on mixing is whatever the density table
        implies (not neglected; equal volumes of 10 % and 50 % sucrose shrink by 0.12 %). Returns a ``Mixture``
        (mass fraction [1], density [kg/m^3], viscosity [Pa s], volume [m^3]).
        """
        v = np.asarray(volumes, dtype=float)
        w = self._w(mass_fractions)
        v, w = np.broadcast_arrays(v, w)
        if np.any(v < 0) or np.any(np.sum(v, axis=0) <= 0):
            raise ValueError(f"{self.name}: mix needs non-negative volumes with a positive sum")
        mass = v * np.asarray(self.density(w, temperature))
        total = np.sum(mass, axis=0)
        w_mix = np.clip(np.sum(mass * w, axis=0) / total, 0.0, self.w_max)
        rho = np.asarray(self.density(w_mix, temperature))
        return Mixture(_out(w_mix), _out(rho), self.viscosity(w_mix, temperature), _out(total / rho))


# ---------------------------------------------------------------- loading
def _default_folder():
    from importlib import resources

    return resources.files("exosim.configs") / "gradient_media"


def _si(value, unit: str, path, where: str) -> float:
    """SI magnitude of a quantity string in ``unit``'s dimension (exosim.units), or a ConfigError."""
    from exosim import units
    from exosim.errors import ConfigError

    kinds = {"kg/m**3": "density", "K": "temperature"}
    try:
        if unit in kinds:
            return units.parse(value, kinds[unit])
        q = units.to_quantity(value)
        if not (q.check(unit) if unit else q.dimensionless) or (unit and not _has_unit(q)):
            raise ValueError(f"expected a quantity in {unit}, got {value!r}")
        return float(q.to(unit).magnitude)
    except ValueError as exc:
        raise ConfigError(str(path), where, str(exc)) from None


def _unit_factor(unit: str, si: str, path, where: str) -> float:
    return _si(f"1 {unit}", si, path, where) if unit != "%" else 0.01


def load_gradient_medium(path) -> GradientMedium:
    """One gradient medium from its YAML file (schema: docs/gradient_media.md). Quantities with units are read by
    exosim.units; problems raise ConfigError naming the file and the field."""
    import yaml

    from exosim.errors import ConfigError

    path_s = str(path)
    try:
        data = yaml.safe_load(Path(str(path)).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(path_s, "", f"cannot read the file: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path_s, "(top level)", "expected a mapping of fields")

    def need(mapping, key, where):
        if not isinstance(mapping, dict) or key not in mapping:
            raise ConfigError(path_s, where, "required field is missing")
        return mapping[key]

    table = need(data, "table", "table")
    cols = need(table, "columns", "table.columns")
    tunits = need(table, "units", "table.units")
    rows = np.asarray(need(table, "rows", "table.rows"), dtype=float)
    if rows.ndim != 2 or rows.shape[1] != 3 or list(cols[1:]) != ["density", "viscosity"] \
            or cols[0] not in ("mass_fraction", "mass_concentration"):
        raise ConfigError(path_s, "table", "expected columns [mass_fraction or mass_concentration, density, "
                                           "viscosity] and rows of three numbers")
    rho = rows[:, 1] * _unit_factor(need(tunits, "density", "table.units.density"), "kg/m**3", path_s,
                                    "table.units.density")
    eta = rows[:, 2] * _unit_factor(need(tunits, "viscosity", "table.units.viscosity"), "Pa*s", path_s,
                                    "table.units.viscosity")
    if cols[0] == "mass_fraction":
        w = rows[:, 0] * _unit_factor(need(tunits, "mass_fraction", "table.units.mass_fraction"), "", path_s,
                                      "table.units.mass_fraction")
    else:  # mass concentration of solute: w = c / rho
        c = rows[:, 0] * _unit_factor(need(tunits, "mass_concentration", "table.units.mass_concentration"),
                                      "kg/m**3", path_s, "table.units.mass_concentration")
        w = c / rho
    t_table = _si(need(table, "temperature", "table.temperature"), "K", path_s, "table.temperature")

    visc = need(data, "viscosity_temperature", "viscosity_temperature")
    dens = need(data, "density_temperature", "density_temperature")
    osm = need(data, "osmolality", "osmolality")
    gam = need(data, "thermodynamic_factor", "thermodynamic_factor")
    diff = need(data, "diffusion", "diffusion")
    if need(dens, "rule", "density_temperature.rule") != "apparent_volume":
        raise ConfigError(path_s, "density_temperature.rule", "known rules: apparent_volume")

    osm_rule = need(osm, "rule", "osmolality.rule")
    if osm_rule == "norrish":
        osm_params = {"K": float(need(osm, "K", "osmolality.K"))}
    elif osm_rule == "pitzer":
        osm_params = {k: float(need(osm, k, f"osmolality.{k}")) for k in ("beta0", "beta1", "C_phi", "A_phi")}
        osm_params["max_molality"] = _si(need(osm, "max_molality", "osmolality.max_molality"), "mol/kg",
                                         path_s, "osmolality.max_molality")
    elif osm_rule == "constant":
        osm_params = {"value": _si(need(osm, "value", "osmolality.value"), "mol/kg", path_s, "osmolality.value")}
    else:
        raise ConfigError(path_s, "osmolality.rule", f"unknown rule {osm_rule!r}; known: norrish, pitzer, constant")

    # diffusion coefficient at infinite dilution, carried to the table's temperature by Stokes-Einstein (T/eta_w)
    d_value = _si(need(diff, "value", "diffusion.value"), "m**2/s", path_s, "diffusion.value")
    d_temp = _si(need(diff, "temperature", "diffusion.temperature"), "K", path_s, "diffusion.temperature")
    d20 = d_value * (t_table / d_temp) * float(water_viscosity(d_temp) / water_viscosity(t_table))

    beta0 = beta0_rho = beta0_t = None
    sf = data.get("self_forming")
    if isinstance(sf, dict) and sf.get("beta0") is not None:
        beta0 = _si(sf["beta0"], "m**5/(kg*s**2)", path_s, "self_forming.beta0")
        beta0_rho = _si(need(sf, "density", "self_forming.density"), "kg/m**3", path_s, "self_forming.density")
        beta0_t = _si(need(sf, "temperature", "self_forming.temperature"), "K", path_s, "self_forming.temperature")

    vbar = data.get("partial_specific_volume")
    sources = {key: (val.get("source") if isinstance(val, dict) else None)
               for key, val in data.items() if isinstance(val, dict)}
    percent_means = need(data, "percent_means", "percent_means")
    if percent_means not in ("w/w", "w/v"):
        raise ConfigError(path_s, "percent_means", "expected 'w/w' or 'w/v'")
    try:
        return GradientMedium(
            name=str(need(data, "name", "name")),
            molar_mass=_si(need(data, "molar_mass", "molar_mass"), "kg/mol", path_s, "molar_mass"),
            ions=int(need(data, "ions", "ions")),
            percent_means=percent_means,
            w_table=w, density_table=rho, viscosity_table=eta,
            viscosity_rule=need(visc, "rule", "viscosity_temperature.rule"),
            andrade_q=_si(visc["q"], "K", path_s, "viscosity_temperature.q") if "q" in visc else 0.0,
            solute_expansivity=_si(dens.get("solute_expansivity", "0 / K"), "1/K", path_s,
                                   "density_temperature.solute_expansivity"),
            osmotic_rule=osm_rule, osmotic_params=osm_params,
            gamma_rule=need(gam, "rule", "thermodynamic_factor.rule"),
            diffusion_20=d20,
            partial_specific_volume_ref=(_si(vbar, "m**3/kg", path_s, "partial_specific_volume")
                                         if vbar is not None else float("nan")),
            beta0_published=beta0, beta0_density=beta0_rho, beta0_temperature=beta0_t,
            table_temperature=t_table, sources=sources,
        )
    except ValueError as exc:
        raise ConfigError(path_s, "", str(exc)) from None


def load_gradient_media(folder=None) -> dict[str, GradientMedium]:
    """The gradient media (default: the bundled configs/gradient_media/), by name, one YAML file per solute.

    Args: folder, a path (or importlib.resources Traversable) holding ``*.yaml`` files. Returns: dict name ->
    GradientMedium (names as in the files: "sucrose", "iodixanol", "CsCl").
    """
    folder = _default_folder() if folder is None else folder
    if isinstance(folder, (str, Path)):
        folder = Path(folder)
    out = {}
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".yaml"):
            medium = load_gradient_medium(f)
            out[medium.name] = medium
    return out
