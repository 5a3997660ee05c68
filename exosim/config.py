"""Configuration models (pydantic v2): rotors, media, samples, protocols. Units are strings in the YAML files and
SI floats after validation; bad input stops here with one line naming the file, the field and the problem.
"""
from __future__ import annotations

import math
import os

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError,
                      ValidationInfo, field_validator, model_validator)

from . import units
from .errors import ConfigError
from .physics import rotors as rotor_geom


def _si(kind: str, positive: bool = False, nonnegative: bool = False):
    def check(value):
        out = units.parse(value, kind)
        if positive and out <= 0:
            raise ValueError(f"must be greater than zero, got {value!r}")
        if nonnegative and out < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        return out
    return BeforeValidator(check)


Duration = Annotated[float, _si("time", positive=True)]
Interval = Annotated[float, _si("time", nonnegative=True)]
Length = Annotated[float, _si("length", positive=True)]
Volume = Annotated[float, _si("volume", positive=True)]
VolumeOrZero = Annotated[float, _si("volume", nonnegative=True)]
Density = Annotated[float, _si("density", positive=True)]
DensityOffset = Annotated[float, _si("density")]
Mass = Annotated[float, _si("mass", nonnegative=True)]
PositiveMass = Annotated[float, _si("mass", positive=True)]
Temperature = Annotated[float, _si("temperature", positive=True)]
Speed = Annotated[float, _si("angular_speed", positive=True)]
Angle = Annotated[float, _si("angle", positive=True)]
Fraction = Annotated[float, _si("fraction", nonnegative=True)]
Pressure = Annotated[float, _si("pressure", positive=True)]
Area = Annotated[float, _si("area", positive=True)]
ArealDensity = Annotated[float, _si("areal_density", positive=True)]
Flux = Annotated[float, _si("velocity", positive=True)]
Permeability = Annotated[float, _si("permeability", positive=True)]


def _rcf(value):
    out = units.parse_rcf(value)
    if out <= 0:
        raise ValueError(f"must be greater than zero, got {value!r}")
    return out


RCF = Annotated[float, BeforeValidator(_rcf)]


def _unknown(what: str, value: str, known) -> str:
    return f"unknown {what} {value!r}; known {what}s: {', '.join(known)}"


def _in_catalog(catalog: str, what: str):
    """Validator: the value names an entry of the catalog passed in the validation context (if one is)."""

    def check(value, info: ValidationInfo):
        known = (info.context or {}).get(catalog)
        if known is not None and value not in known:
            raise ValueError(_unknown(what, value, known))
        return value

    return AfterValidator(check)


MediumName = Annotated[str, _in_catalog("media", "medium")]


def _context_rotor(info: ValidationInfo, name: str):
    """The rotor ``name`` of the validation context: one the protocol defined (inline or from a rotor file) or
    one of the catalog; None if the context has no catalog or no such rotor."""
    ctx = info.context or {}
    return (ctx.get("new_rotors") or {}).get(name) or (ctx.get("rotors") or {}).get(name)


def _rotor_ref(value, info: ValidationInfo):
    """A step's ``rotor``: a catalog name, the path of a rotor file (one rotor mapping, the catalog's fields;
    relative paths from the protocol's folder or the working directory), or an inline mapping of those fields.
    A rotor defined by the protocol is added to the context's ``new_rotors`` (it wins over a catalog rotor of the
    same name) and the field holds its name."""
    ctx = info.context if info.context is not None else {}
    known = ctx.get("rotors")
    if isinstance(value, str) and (known is None or value in known or value in (ctx.get("new_rotors") or {})):
        return value
    where = ""
    if isinstance(value, str) and value.endswith((".yaml", ".yml")):
        path = Path(value)
        if not path.is_file() and ctx.get("base") is not None and (Path(ctx["base"]) / value).is_file():
            path = Path(ctx["base"]) / value
        if not path.is_file():
            raise ValueError(f"no rotor file {value!r}")
        try:
            value = yaml.load(path.read_text(), Loader=_StrictLoader)
        except yaml.YAMLError as exc:
            raise ValueError(f"rotor file {value!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(value, dict):
            raise ValueError(f"rotor file {path} must hold one rotor (a mapping of the catalog's fields)")
        where = f"rotor file {path}: "
    if isinstance(value, dict):
        try:
            rotor = Rotor.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "(top level)"
            raise ValueError(f"{where}{field}: {err['msg'].removeprefix('Value error, ')}") from None
        if known is not None and rotor.name in known:
            import warnings
            warnings.warn(f"rotor {rotor.name!r} defined by the protocol replaces the catalog's", stacklevel=2)
        ctx.setdefault("new_rotors", {})[rotor.name] = rotor
        return rotor.name
    if not isinstance(value, str):
        raise ValueError(f"expected a rotor name, a rotor .yaml file or a mapping of rotor fields, got {value!r}")
    raise ValueError(_unknown("rotor", value, known) + " (or give a rotor .yaml file or an inline mapping)")


RotorName = Annotated[str, BeforeValidator(_rotor_ref)]
def _membrane_ref(value, info: ValidationInfo):
    """A membrane of the catalog in the validation context, or the path of a membrane YAML file."""
    if not isinstance(value, str):
        raise ValueError(f"expected a membrane name or a .yaml file, got {value!r}")
    known = (info.context or {}).get("membranes")
    if known is None or value in known:
        return value
    if value.endswith((".yaml", ".yml")):
        if not Path(value).is_file():
            raise ValueError(f"no membrane file {value!r}")
        return value
    raise ValueError(_unknown("membrane", value, known) + " (or give the path of a membrane .yaml file)")


MembraneName = Annotated[str, AfterValidator(_membrane_ref)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    _source: str = PrivateAttr("<memory>")  # the file it was read from


# ---------------------------------------------------------------- catalogs: rotors and media
class Rotor(Strict):
    """An ultracentrifuge rotor (radii from the rotation axis; angle of the tube to the rotation axis)."""

    name: str
    kind: Literal["swinging", "fixed"]
    angle: Angle
    max_speed: Speed
    r_min: Length
    r_avg: Length
    r_max: Length
    tube_volume: Volume
    tube_diameter: Optional[Length] = None
    places: int = Field(gt=0)
    published_k: Optional[float] = None
    source: str = ""
    _catalog: str = PrivateAttr("")  # the catalog file it was read from ("" for an inline rotor)

    @model_validator(mode="after")
    def _geometry(self):
        if not self.r_min < self.r_avg < self.r_max:
            raise ValueError("radii must satisfy r_min < r_avg < r_max")
        if self.kind == "fixed":
            if self.tube_diameter is None:
                raise ValueError("a fixed-angle rotor needs tube_diameter")
            rotor_geom.FixedAngleTube.from_rotor(self.r_min, self.r_max, self.angle, self.tube_diameter)
        return self

    @property
    def max_rpm(self) -> float:
        return rotor_geom.omega_to_rpm(self.max_speed)

    def k_factor(self, rpm: float | None = None) -> float:
        """Clearing factor [h S] at ``rpm`` (default: the rotor's maximum speed)."""
        return rotor_geom.k_factor(self.r_min, self.r_max, rpm or self.max_rpm)

    def radius(self, where: str) -> float:
        return {"avg": self.r_avg, "max": self.r_max, "min": self.r_min}[where]

    def with_tube(self, tube: "Tube | None") -> "Rotor":
        """This rotor holding ``tube`` instead of its catalog tube: the tube fills the same cavity (same axis and
        length) with a section scaled by its volume over the catalog tube's (a thick-wall tube: the same outer
        size, less liquid, a narrower column). Swinging bucket: the liquid column still spans r_min..r_max.
        Fixed angle: the inner diameter scales as sqrt(volume ratio) about the same axis, so r_min and r_max
        move in by the change of the tube radius times cos(angle). The rotor's speeds and the radii at which
        an rcf is quoted stay the catalog's (steps compute omega from the catalog rotor). None: this rotor."""
        if tube is None:
            return self
        update = {"tube_volume": tube.volume}
        if self.kind == "fixed":
            ratio = math.sqrt(tube.volume / self.tube_volume)
            shift = 0.5 * self.tube_diameter * (1.0 - ratio) * math.cos(self.angle)
            update.update(tube_diameter=self.tube_diameter * ratio, r_min=self.r_min + shift,
                          r_max=self.r_max - shift)
        return self.model_copy(update=update)


class Tube(Strict):
    """The tube a step spins, when it is not the rotor catalog's standard one: its kind, material and nominal
    volume (its capacity when full). A thin-wall tube (polypropylene, Ultra-Clear) collapses unless filled to
    near its top (makers' tube instructions): a partly filled one is warned about. A thick-wall tube
    (polycarbonate, polypropylene) holds less in the same cavity and may be run partly filled."""

    kind: Literal["thin-wall", "thick-wall", "sealed"]
    material: str = ""
    volume: Volume

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.kind, self.material, f"{self.volume * 1e6:.3g} mL") if x)

    def fill_warning(self, liquid: float) -> str:
        """A warning about ``liquid`` [m^3] in this tube ("" if none): a thin-wall tube below 95 % full."""
        if self.kind != "thin-wall" or liquid >= THIN_WALL_FILL * self.volume:
            return ""
        return (f"{units.fmt(liquid, 'm**3', 'mL')} in a {units.fmt(self.volume, 'm**3', 'mL')} thin-wall tube: "
                f"makers ask for thin-wall tubes filled to near the top (a partly filled one may collapse)")


THIN_WALL_FILL = 0.95  # share of a thin-wall tube's volume below which a step is warned about


class Medium(Strict):
    """A dilute aqueous medium described relative to water at the same temperature."""

    name: str
    density_offset: DensityOffset = 0.0
    viscosity_factor: float = Field(1.0, gt=0)
    source: str = ""


class Membrane(Strict):
    """A filtration membrane (configs/membranes/): its pores, thickness and pressure rating. Track-etched
    membranes give their pore diameter and pore density; polymeric ones their nominal molecular-weight cut-off and
    clean-water permeability, from which exosim derives a pore-size distribution (docs/filtration.md)."""

    name: str
    kind: Literal["track_etch", "polymeric"]
    material: str = ""
    pore_diameter: Optional[Length] = None     # track-etch: median pore diameter
    pore_gsd: float = Field(1.1, ge=1.0, le=3.0)  # geometric standard deviation of the pore diameters
    pore_density: Optional[ArealDensity] = None  # track-etch: pores per area
    mwco: Optional[PositiveMass] = None        # polymeric: nominal cut-off, e.g. '100 kDa'
    mwco_marker: Literal["protein", "dextran"] = "protein"  # what the cut-off was rated with
    permeability: Optional[Permeability] = None  # polymeric: clean-water hydraulic permeability at 20 degC
    thickness: Length                          # pore length (track-etch) or selective skin (polymeric)
    max_pressure: Pressure
    source: str = ""

    @model_validator(mode="after")
    def _kind_fields(self):
        need = {"track_etch": ("pore_diameter", "pore_density"), "polymeric": ("permeability",)}[self.kind]
        for field in need:
            if getattr(self, field) is None:
                raise _FieldError(field, f"a {self.kind.replace('_', '-')} membrane needs {field}")
        if self.kind == "polymeric" and (self.mwco is None) == (self.pore_diameter is None):
            raise _FieldError("mwco", "a polymeric membrane needs exactly one of mwco (ultrafiltration) and "
                                      "pore_diameter (microfiltration)")
        if self.kind == "track_etch" and self.mwco is not None:
            raise _FieldError("mwco", "a track-etched membrane is rated by pore_diameter, not mwco")
        porosity = self.porosity()
        if porosity is not None and porosity >= 1.0:
            field = "pore_density" if self.pore_density is not None else "permeability"
            raise _FieldError(field, f"pores of {units.fmt(self.pore_diameter, 'm', 'nm')} (gsd {self.pore_gsd:g}) "
                                     f"would cover {100 * porosity:,.0f} % of the membrane; the open area N pi <r^2> "
                                     f"must be below 100 % (pores larger than the membrane allows)")
        return self

    def porosity(self) -> float | None:
        """Open area share N pi <r^2> of a membrane rated by pore_diameter (lognormal moments: <r^2> = r_med^2
        e^(2 s^2), <r^4> = r_med^4 e^(8 s^2), s = ln gsd; a polymeric membrane's N = 8 eta_w L L_p / (pi <r^4>)
        from its permeability, eta_w water at 20 degC); None for one rated by mwco."""
        if self.pore_diameter is None:
            return None
        s2 = math.log(self.pore_gsd) ** 2
        r2 = (0.5 * self.pore_diameter) ** 2 * math.exp(2 * s2)
        if self.pore_density is not None:
            return self.pore_density * math.pi * r2
        r4 = (0.5 * self.pore_diameter) ** 4 * math.exp(8 * s2)
        return 8.0 * 1.0016e-3 * self.thickness * self.permeability / r4 * r2


# ---------------------------------------------------------------- samples
# kernels/sampling.py's distribution codes, as plain ints so that reading configs needs no numba
# (tests/test_startup.py checks that they agree)
CONSTANT, NORMAL, LOGNORMAL, UNIFORM = 0, 1, 2, 3


@dataclass(frozen=True)
class Distribution:
    """A truncated distribution in SI units; ``kind`` is one of the codes above (those of kernels.sampling)."""

    kind: int
    p1: float
    p2: float
    lo: float
    hi: float


def _distribution(kind: str):
    """Validator for a scalar quantity or {lognormal|normal|uniform: {...}, min, max} in unit ``kind``."""

    def parse(value):
        if isinstance(value, Distribution):
            return value
        if not isinstance(value, dict):
            v = units.parse(value, kind)
            if v <= 0:
                raise ValueError(f"must be greater than zero, got {value!r}")
            return Distribution(CONSTANT, v, 0.0, v, v)
        laws = [k for k in ("lognormal", "normal", "uniform") if k in value]
        extra = set(value) - {"lognormal", "normal", "uniform", "min", "max"}
        if extra:
            raise ValueError(f"unknown key {sorted(extra)[0]!r} (allowed: lognormal, normal, uniform, min, max)")
        if len(laws) != 1:
            raise ValueError("give exactly one of lognormal, normal, uniform")
        law, spec = laws[0], value[laws[0]]
        need = {"lognormal": ("median", "gsd"), "normal": ("mean", "sd"), "uniform": ("min", "max")}[law]
        if not isinstance(spec, dict) or set(spec) != set(need):
            raise ValueError(f"{law} needs exactly {need[0]} and {need[1]}")
        if law == "lognormal":
            p1 = units.parse(spec["median"], kind)
            p2 = units.parse(spec["gsd"], "fraction")
            if p1 <= 0 or p2 <= 1:
                raise ValueError("lognormal needs median > 0 and gsd > 1")
            lo, hi = p1 / p2 ** 4, p1 * p2 ** 4
            code = LOGNORMAL
        elif law == "normal":
            p1 = units.parse(spec["mean"], kind)
            p2 = units.parse(spec["sd"], kind)
            if p1 <= 0 or p2 <= 0:
                raise ValueError("normal needs mean > 0 and sd > 0")
            lo, hi = max(1e-3 * p1, p1 - 4 * p2), p1 + 4 * p2  # positive even for wide laws
            code = NORMAL
        else:
            p1 = units.parse(spec["min"], kind)
            p2 = units.parse(spec["max"], kind)
            if not 0 < p1 < p2:
                raise ValueError("uniform needs 0 < min < max")
            lo, hi = p1, p2
            code = UNIFORM
        if "min" in value:
            lo = units.parse(value["min"], kind)
        if "max" in value:
            hi = units.parse(value["max"], kind)
        if not 0 < lo < hi:
            raise ValueError("bounds need 0 < min < max")
        return Distribution(code, p1, p2, lo, hi)

    return BeforeValidator(parse)


SizeDistribution = Annotated[Distribution, _distribution("length")]
DensityDistribution = Annotated[Distribution, _distribution("density")]
FractionDistribution = Annotated[Distribution, _distribution("fraction")]
TensionDistribution = Annotated[Distribution, _distribution("tension")]
EnergyDistribution = Annotated[Distribution, _distribution("energy")]
Tension = Annotated[float, _si("tension", positive=True)]

AVOGADRO = 6.02214076e23


LUMEN_DENSITY = 1005.0  # kg/m^3: a vesicle's aqueous lumen (iso-osmotic saline; gradient_media.lumen_water_fraction)


class Osmotic(Strict):
    """How a vesicle's buoyant density follows the medium's osmolality (docs/gradient_media.md): the density of its
    dry matter (lipid, protein, RNA) and the osmotically inactive share of its lumen water. The population's
    ``density`` is then its density in an iso-osmotic medium (what iodixanol measures)."""

    dry_density: Density
    inactive_fraction: Fraction = 0.2

    @field_validator("inactive_fraction")
    @classmethod
    def _share(cls, value):
        if value > 1.0:
            raise ValueError("must be at most 100 %")
        return value


class Mechanics(Strict):
    """A vesicle's mechanics at a filter pore (docs/filtration.md): its reduced volume v = 6 sqrt(pi) V / A^(3/2)
    (1 for a taut sphere, less for a deflated one), bending modulus, lysis tension, area-stretch modulus and the
    osmotically active share of its volume. The first three may be distributions, drawn per vesicle. Without
    ``mechanics`` a particle is rigid."""

    reduced_volume: FractionDistribution
    # about 15 kT (Vorselen et al. 2018, Nat Commun 9:4960)
    bending_modulus: EnergyDistribution = Field("60 zJ", validate_default=True)
    # 3-10 mN/m for lipid bilayers (docs/reference/vesicles.md)
    lysis_tension: TensionDistribution = Field("5 mN/m", validate_default=True)
    # PC bilayers (Rawicz et al. 2000, Biophys J 79:328)
    area_modulus: Tension = Field("240 mN/m", validate_default=True)
    # osmotically active share of the volume: water it loses when held in a pore under pressure. 0.5 is an
    # assumption between the two-phase estimates for exosomes (0.41) and microvesicles (0.59): lumen share
    # (rho_dry - rho) / (rho_dry - rho_lumen) with rho_dry 1.20 g/mL, less 20 % inactive (docs/gradient_media.md)
    osmotic_share: Fraction = 0.5
    # pellet compaction: time at 100,000 x g in a pellet after which a vesicle is damaged with probability 1 - 1/e
    # (no published rate: an assumption, docs/physics.md)
    pellet_tolerance: Duration = Field("20 h", validate_default=True)

    @model_validator(mode="after")
    def _ranges(self):
        if not (0.0 < self.reduced_volume.lo and self.reduced_volume.hi <= 1.0):
            raise _FieldError("reduced_volume", "must lie in (0, 1]: 1 is a sphere (set min: and max: inside)")
        if self.osmotic_share >= 1.0:
            raise _FieldError("osmotic_share", "must be below 100 %: the membrane and its contents are not water")
        return self


class Population(Strict):
    """One kind of particle in a sample."""

    name: str = Field(min_length=1)
    target: bool = False
    concentration: Annotated[tuple[float, bool], BeforeValidator(units.concentration)]
    molecular_weight: Optional[PositiveMass] = None  # mass of one molecule (pint reads kDa as a mass)
    diameter: SizeDistribution
    density: DensityDistribution
    protein: Optional[Mass] = None  # protein mass per particle
    countable: Optional[bool] = None  # seen by particle counting (NTA); default: not for molecules
    osmotic: Optional[Osmotic] = None  # vesicles: density follows the medium's osmolality
    mechanics: Optional[Mechanics] = None  # vesicles: deformable at filter pores (else rigid)
    source: str = ""

    @model_validator(mode="after")
    def _check(self):
        value, is_mass = self.concentration
        if value <= 0:
            raise ValueError("concentration must be greater than zero")
        if is_mass and self.molecular_weight is None:
            raise ValueError("a mass concentration needs molecular_weight to count particles")
        if self.osmotic is not None and self.osmotic.dry_density <= self.density.hi:
            raise _FieldError("osmotic", "dry_density must exceed the population's largest density")
        if self.osmotic is not None and self.density.lo <= LUMEN_DENSITY:
            raise _FieldError("density", f"with osmotic, the iso-osmotic density must exceed the lumen's "
                                         f"{LUMEN_DENSITY / 1000:g} g/mL everywhere (set min:)")
        return self

    @property
    def number_concentration(self) -> float:
        """Particles per m^3."""
        value, is_mass = self.concentration
        return value / self.molecular_weight if is_mass else value

    @property
    def protein_per_particle(self) -> float:
        """Protein mass per particle [kg]: ``protein``, else the molecular weight, else zero."""
        if self.protein is not None:
            return self.protein
        return self.molecular_weight or 0.0

    @property
    def is_countable(self) -> bool:
        return self.countable if self.countable is not None else self.molecular_weight is None


class Sample(Strict):
    """A starting material: its volume, its medium and the particle populations in it."""

    name: str
    volume: Volume
    medium: MediumName
    populations: list[Population] = Field(min_length=1)
    description: str = ""

    @model_validator(mode="after")
    def _check(self):
        names = [p.name for p in self.populations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"population names must be unique: {sorted(dup)[0]!r} repeats")
        if not any(p.target for p in self.populations):
            raise ValueError("no population has target: true (the particles the protocol should recover)")
        return self


# ---------------------------------------------------------------- protocols
@dataclass(frozen=True)
class Liquid:
    """A volume [m^3] of a named medium, from strings such as '100 uL PBS'."""

    volume: float
    medium: str


def _liquid(value):
    if isinstance(value, Liquid):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a volume and a medium such as '100 uL PBS', got {value!r}")
    parts = value.strip().rsplit(None, 1)
    try:  # a volume and a medium ('100 uL PBS')
        if len(parts) != 2:
            raise ValueError
        vol, medium = units.parse(parts[0], "volume"), parts[1]
    except ValueError:
        try:  # a volume alone: the medium stays what it is
            vol, medium = units.parse(value, "volume"), ""
        except ValueError:
            raise ValueError(f"expected a volume and a medium such as '100 uL PBS', got {value!r}") from None
    if vol <= 0:
        raise ValueError(f"volume must be greater than zero, got {value!r}")
    return Liquid(vol, medium)


LiquidSpec = Annotated[Liquid, BeforeValidator(_liquid)]


class _Run(Strict):
    """Fields shared by every step that runs a rotor: the rotor, the tube, the speed and the timing."""

    name: Optional[str] = None
    rotor: RotorName
    tube: Optional[Tube] = None
    rcf: Optional[RCF] = None
    speed: Optional[Speed] = None
    rcf_at: Literal["avg", "max", "min"] = "avg"
    duration: Duration
    accel: Interval = 0.0
    decel: Interval = 0.0

    @model_validator(mode="after")
    def _speed(self, info: ValidationInfo):
        if (self.rcf is None) == (self.speed is None):
            raise ValueError("give exactly one of rcf and speed")
        rotor = _context_rotor(info, self.rotor)
        if rotor is None:
            return self
        if self.tube is not None and self.tube.volume > rotor.tube_volume * (1 + 1e-9):
            raise _FieldError("tube.volume", f"a {units.fmt(self.tube.volume, 'm**3', 'mL')} tube is larger than "
                                             f"the {units.fmt(rotor.tube_volume, 'm**3', 'mL')} tubes of "
                                             f"{rotor.name}'s catalog entry (give a rotor of its own for it)")
        omega = self.omega(rotor)
        if omega > rotor.max_speed * (1 + 1e-9):
            field = "rcf" if self.rcf is not None else "speed"
            need = f"{self.rcf:,.0f} g needs {rotor_geom.omega_to_rpm(omega):,.0f} rpm; " if self.rcf else ""
            raise _FieldError(field, f"{need}{rotor.name} runs at most {rotor.max_rpm:,.0f} rpm "
                                     f"({rotor_geom.rcf(rotor.max_speed, rotor.radius(self.rcf_at)):,.0f} g "
                                     f"at r_{self.rcf_at})")
        return self

    def spun_rotor(self, rotors: dict) -> Rotor:
        """The step's rotor (from ``rotors``, by name) holding the step's tube (``Rotor.with_tube``)."""
        return rotors[self.rotor].with_tube(self.tube)

    def omega(self, rotor: Rotor) -> float:
        """Angular speed [rad/s] of this step in ``rotor`` (the catalog rotor: an rcf is quoted at its radii)."""
        if self.speed is not None:
            return self.speed
        return rotor_geom.omega_for_rcf(self.rcf, rotor.radius(self.rcf_at))


class _Spin(_Run):
    """Fields shared by the differential-centrifugation steps."""

    fill: Optional[Volume] = None
    residual_volume: VolumeOrZero = 0.0
    wall_loss: Fraction = 0.0
    dilute: Optional[LiquidSpec] = None

    @field_validator("wall_loss")
    @classmethod
    def _loss(cls, value):
        if value >= 1.0:
            raise ValueError("must be below 100 %")
        return value

    @model_validator(mode="after")
    def _tubes(self, info: ValidationInfo):
        rotor = _context_rotor(info, self.rotor)
        if rotor is not None:
            rotor = rotor.with_tube(self.tube if self.tube is None or self.tube.volume <= rotor.tube_volume
                                    else None)
            if self.fill is not None and self.fill > rotor.tube_volume * (1 + 1e-9):
                raise _FieldError("fill", f"{units.fmt(self.fill, 'm**3', 'mL')} overfills the "
                                          f"{units.fmt(rotor.tube_volume, 'm**3', 'mL')} tubes of {rotor.name}")
            if self.residual_volume >= (self.fill or rotor.tube_volume):
                raise _FieldError("residual_volume", "must be smaller than the liquid in a tube")
        media = (info.context or {}).get("media")
        for field in ("resuspend", "dilute"):
            liquid = getattr(self, field, None)
            if media is not None and liquid is not None and liquid.medium and liquid.medium not in media:
                raise _FieldError(field, _unknown("medium", liquid.medium, media))
        return self


class _FieldError(ValueError):
    """A model-level check that blames one field (reported as that field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Centrifuge(_Spin):
    """Spin the current material; keep the supernatant or the (resuspended) pellet."""

    kind: Literal["centrifuge"]
    keep: Literal["supernatant", "pellet"]
    resuspend: Optional[LiquidSpec] = None

    @model_validator(mode="after")
    def _keep(self):
        if self.keep == "pellet" and self.resuspend is None:
            raise _FieldError("resuspend", "keep: pellet needs resuspend, e.g. '100 uL PBS'")
        if self.keep == "supernatant" and self.resuspend is not None:
            raise _FieldError("resuspend", "only a kept pellet is resuspended")
        return self


class Wash(_Spin):
    """Shorthand: bring the material to a full tube of buffer (``medium``), spin, keep and resuspend the pellet."""

    kind: Literal["wash"]
    medium: MediumName = "PBS"
    resuspend: LiquidSpec

    keep: Literal["pellet"] = "pellet"


def _conc(value):
    """A layer's concentration: a string with a unit, or [top, bottom] of two (read against the medium later)."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a concentration with a unit ('40 %', '1.15 g/mL', '1.5 M') or [top, bottom] of "
                     f"two, got {value!r}")


class Layer(Strict):
    """One layer of a gradient, listed from the tube bottom up: a uniform concentration, or a linear gradient
    [top, bottom] ("40 %", "1.15 g/mL", "1.5 M": see docs/gradient_media.md for what "%" means per medium)."""

    conc: Annotated[Union[str, tuple[str, str]], BeforeValidator(_conc)]
    volume: Volume


class Gradient(_Run):
    """Layer a density gradient in swinging-bucket tubes, load the material and spin: every particle ends at a
    position (or in the pellet), which a ``fractionate`` step reads."""

    kind: Literal["gradient"]
    medium: str
    layers: list[Layer] = Field(min_length=1)
    load: Literal["top", "bottom", "mixed"] = "top"
    load_volume: Optional[Volume] = None


class KeepFractions(Strict):
    """Which fractions go on: by number (1 = the first collected) or by medium density window."""

    fractions: Optional[list[Annotated[int, Field(ge=1)]]] = None
    density: Optional[tuple[Density, Density]] = None

    @model_validator(mode="after")
    def _one(self):
        if (self.fractions is None) == (self.density is None):
            raise ValueError("give exactly one of fractions and density")
        if self.density is not None and not self.density[0] < self.density[1]:
            raise _FieldError("density", "the window's lower density must be below its upper one")
        if self.fractions is not None and not self.fractions:
            raise _FieldError("fractions", "keep at least one fraction")
        return self


class Fractionate(Strict):
    """Collect the gradient tube in equal-volume fractions and keep some of them (pooled over the tubes)."""

    kind: Literal["fractionate"]
    name: Optional[str] = None
    fractions: int = Field(gt=0, le=1000)
    collect: Literal["top", "bottom"] = "top"
    keep: KeepFractions

    @model_validator(mode="after")
    def _kept_exist(self):
        if self.keep.fractions and max(self.keep.fractions) > self.fractions:
            raise _FieldError("keep", f"fraction {max(self.keep.fractions)} does not exist: there are "
                                      f"{self.fractions}")
        return self


class Filter(Strict):
    """Dead-end filtration of the material through a membrane at constant pressure or constant flux; keep the
    filtrate or the retentate (docs/filtration.md)."""

    kind: Literal["filter"]
    name: Optional[str] = None
    membrane: MembraneName
    area: Area
    pressure: Optional[Pressure] = None
    flux: Optional[Flux] = None
    rcf: Optional[RCF] = None         # a centrifugal concentrator: the spin drives the liquid through the membrane
    head: Optional[Length] = None     # with rcf: height of the feed's liquid column over the membrane at the start
    keep: Literal["filtrate", "retentate"] = "filtrate"
    hold_up: VolumeOrZero = 0.0       # material left on the feed side, never filtered (the retentate's volume)
    stop_flux: Optional[Fraction] = None  # stop when the flux falls below this share of its start (or of the clean
                                          # membrane's at the pressure); default 1 % unstirred, none when mixed
    pore_deposition: Fraction = 0.0   # probability that a particle passing a pore deposits in it
    batches: int = Field(256, ge=8, le=65536)  # numerical: arrivals processed in this many shares of the filtrate
    resuspend: Optional[LiquidSpec] = None  # keep retentate: take it up in this liquid instead
    # how the feed side is mixed (docs/filtration.md): unstirred (plug flow to the membrane, one try per particle),
    # stirred (a stirred cell: stir_speed, cell_radius), centrifugal (a concentrator: natural convection in the
    # field); default: centrifugal with rcf, else unstirred
    device: Optional[Literal["unstirred", "stirred", "centrifugal"]] = None
    stir_speed: Optional[Speed] = None
    cell_radius: Optional[Length] = None
    adsorption: Fraction = 0.0        # share of retained vesicles lost on the membrane (per meeting when mixed)
    stop_time: Optional[Duration] = None  # stop the filtration after this time (the rest stays in the retentate)

    @property
    def mixing(self) -> str:
        """The device, with its default: centrifugal when driven by rcf, else unstirred."""
        return self.device or ("centrifugal" if self.rcf is not None else "unstirred")

    @model_validator(mode="after")
    def _drive(self, info: ValidationInfo):
        if sum(x is not None for x in (self.pressure, self.flux, self.rcf)) != 1:
            raise ValueError("give exactly one of pressure, flux and rcf (a centrifugal concentrator)")
        if (self.rcf is None) != (self.head is None):
            raise _FieldError("head", "a centrifugal concentrator (rcf) needs head, the feed's liquid column over "
                                      "the membrane, and only it does")
        if self.device == "centrifugal" and self.rcf is None:
            raise _FieldError("device", "a centrifugal concentrator is driven by rcf (with head), not by pressure "
                                        "or flux")
        if self.device == "stirred" and (self.stir_speed is None or self.cell_radius is None):
            raise _FieldError("device", "a stirred cell needs stir_speed (e.g. 300 rpm) and cell_radius")
        if self.device != "stirred" and (self.stir_speed is not None or self.cell_radius is not None):
            raise _FieldError("stir_speed", "stir_speed and cell_radius belong to device: stirred")
        if self.mixing != "unstirred" and self.flux is not None:
            raise _FieldError("flux", "a constant-flux drive is modelled for an unstirred cell only; give pressure")
        if self.adsorption > 1.0:
            raise _FieldError("adsorption", "must be at most 100 %")
        if self.stop_flux is not None and self.stop_flux >= 1.0:
            raise _FieldError("stop_flux", "must be below 100 %")
        if self.pore_deposition > 1.0:
            raise _FieldError("pore_deposition", "must be at most 100 %")
        membrane = ((info.context or {}).get("membranes") or {}).get(self.membrane)
        if membrane is None and self.membrane.endswith((".yaml", ".yml")):
            membrane = load_membrane_file(self.membrane)
        if membrane is not None and self.pressure is not None and self.pressure > membrane.max_pressure * (1 + 1e-9):
            raise _FieldError("pressure", f"{units.fmt(self.pressure, 'Pa', 'bar')} exceeds the "
                                          f"{units.fmt(membrane.max_pressure, 'Pa', 'bar')} rating of {membrane.name}")
        if self.resuspend is not None and self.keep != "retentate":
            raise _FieldError("resuspend", "only a kept retentate is taken up in a liquid")
        media = (info.context or {}).get("media")
        if media is not None and self.resuspend is not None and self.resuspend.medium \
                and self.resuspend.medium not in media:
            raise _FieldError("resuspend", _unknown("medium", self.resuspend.medium, media))
        return self


Rate = Annotated[float, _si("rate", positive=True)]


class TFF(Strict):
    """Tangential-flow filtration: concentrate the material by ``concentrate`` and wash it with ``diavolumes``
    volumes of ``diafilter_medium`` at constant volume, at a transmembrane ``pressure``; the retentate goes on
    (docs/filtration.md)."""

    kind: Literal["tff"]
    name: Optional[str] = None
    membrane: MembraneName
    area: Area
    pressure: Pressure
    concentrate: float = Field(1.0, ge=1.0)       # concentration factor (volume in / retentate volume)
    diavolumes: float = Field(0.0, ge=0.0)        # constant-volume diafiltration, in retentate volumes
    diafilter_medium: MediumName = "PBS"
    shear_rate: Rate = Field("4000 /s", validate_default=True)   # wall shear rate in the channels
    peak_shear_rate: Optional[Rate] = None       # in the pump and fittings (default: the wall's)
    channel_length: Length = Field("20 cm", validate_default=True)
    hold_up: VolumeOrZero = 0.0                  # system volume the retentate cannot go below
    adsorption: Fraction = 0.0                   # vesicles lost on the membrane per unit exposure

    @model_validator(mode="after")
    def _rating(self, info: ValidationInfo):
        membrane = ((info.context or {}).get("membranes") or {}).get(self.membrane)
        if membrane is None and self.membrane.endswith((".yaml", ".yml")):
            membrane = load_membrane_file(self.membrane)
        if membrane is not None and self.pressure > membrane.max_pressure * (1 + 1e-9):
            raise _FieldError("pressure", f"{units.fmt(self.pressure, 'Pa', 'bar')} exceeds the "
                                          f"{units.fmt(membrane.max_pressure, 'Pa', 'bar')} rating of {membrane.name}")
        if self.concentrate == 1.0 and self.diavolumes == 0.0:
            raise ValueError("a tff step needs concentrate > 1 or diavolumes > 0: it would filter nothing")
        return self


STEP_KINDS = ("centrifuge", "wash", "gradient", "fractionate", "filter", "tff")
Step = Annotated[Union[Centrifuge, Wash, Gradient, Fractionate, Filter, TFF], Field(discriminator="kind")]


class Protocol(Strict):
    """An isolation protocol: a temperature and a list of steps."""

    name: str
    temperature: Temperature = 277.15
    steps: list[Step] = Field(min_length=1)
    description: str = ""
    _rotors: dict = PrivateAttr(default_factory=dict)  # rotors the protocol defines (inline or rotor files)


def protocol_rotors(protocol: Protocol) -> dict:
    """The rotors a protocol defines itself (inline mappings, rotor files), by name: they join the catalog."""
    return dict(protocol._rotors)


# ---------------------------------------------------------------- loading
CONFIG_ROOT = resources.files("exosim.configs")


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader (no object construction) that refuses duplicated keys."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicated key {key!r}", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _recursive(data, seen=None) -> bool:
    """True if a container holds itself (a recursive YAML anchor)."""
    seen = seen or set()
    if isinstance(data, (dict, list)):
        if id(data) in seen:
            return True
        seen = seen | {id(data)}
        items = data.values() if isinstance(data, dict) else data
        return any(_recursive(v, seen) for v in items)
    return False


def _read_yaml(path: Path) -> Any:
    """The YAML content of a file, loaded safely; ConfigError for unreadable, non-text or malformed files."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not a UTF-8 text file (byte {exc.start}: {raw[exc.start:exc.start + 1]!r});"
                                         f" is it a YAML file?") from None
    if "\x00" in text:
        raise ConfigError(str(path), "", "not a text file (it holds NUL bytes); is it a YAML file?")
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "yaml"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), where, f"not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(str(path), "yaml", "a YAML anchor refers to itself") from None
    if _recursive(data):
        raise ConfigError(str(path), "yaml", "a YAML anchor refers to itself (a recursive structure)")
    return data


def _field_path(loc: tuple, kinds=STEP_KINDS) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in kinds:
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _config_error(path, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_err, _FieldError):
        loc = loc + (ctx_err.field,)
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "union_tag_invalid":
        msg = f"unknown step kind {err['input'].get('kind')!r}; known kinds: {', '.join(STEP_KINDS)}" \
            if isinstance(err.get("input"), dict) else msg
    elif err["type"] == "too_short" and loc and loc[-1] == "steps":
        msg = "the protocol has no steps"
    return ConfigError(str(path), _field_path(loc) or "(top level)", msg)


def _validate(model, path, data, context=None):
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "expected a mapping of fields (key: value)")
    try:
        obj = model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(path, exc) from None
    if isinstance(obj, Protocol):
        obj._rotors = dict((context or {}).get("new_rotors") or {})
    return obj


def _catalog_entries(folder) -> dict[str, Any]:
    return {Path(f.name).stem: f for f in folder.iterdir() if f.name.endswith(".yaml")}


ROTORS_ENV = "EXOSIM_ROTORS"  # user rotor catalogs (files, os.pathsep-separated), read by load_rotors
USER_ROTOR_CATALOGS: list[str] = []  # the command line's --rotors files (set for each command)


def _rotor_catalog(path) -> dict[str, Rotor]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("rotors"), list):
        raise ConfigError(str(path), "rotors", "expected a list of rotors")
    out = {}
    for i, entry in enumerate(data["rotors"]):
        try:
            rotor = Rotor.model_validate(entry)
        except ValidationError as exc:
            err = _config_error(path, exc)
            raise ConfigError(str(path), f"rotors[{i}].{err.field}", err.problem) from None
        rotor._catalog = str(path)
        out[rotor.name] = rotor
    return out


def load_rotors(path=None, extra=()) -> dict[str, Rotor]:
    """The rotor catalog, by name: ``path`` if given, else the bundled configs/rotors.yaml followed by the user
    catalogs named in $EXOSIM_ROTORS (``--rotors`` on the command line) and in ``extra`` (files of the same
    layout, a ``rotors:`` list). A user rotor with a bundled rotor's name replaces it, with a warning."""
    if path is not None:
        return _rotor_catalog(path)
    out = _rotor_catalog(CONFIG_ROOT / "rotors.yaml")
    users = [*USER_ROTOR_CATALOGS, *(p for p in os.environ.get(ROTORS_ENV, "").split(os.pathsep) if p),
             *(str(p) for p in extra)]
    for user in users:
        if not Path(user).is_file():
            raise ConfigError(user, "", f"no such rotor catalog (from ${ROTORS_ENV} or --rotors)")
        for name, rotor in _rotor_catalog(user).items():
            if name in out:
                import warnings
                warnings.warn(f"{user}: rotor {name!r} replaces the bundled one", stacklevel=2)
            out[name] = rotor
    return out


def load_media(folder=None) -> dict[str, Medium]:
    """The media catalog (default: the bundled configs/media/), by name, from one YAML file per medium."""
    folder = folder or CONFIG_ROOT / "media"
    out = {}
    for _, f in sorted(_catalog_entries(folder).items()):
        medium = _validate(Medium, f, _read_yaml(f))
        out[medium.name] = medium
    return out


def load_membranes(folder=None) -> dict[str, Membrane]:
    """The membrane catalog (default: the bundled configs/membranes/), by name, one YAML file per membrane."""
    folder = folder or CONFIG_ROOT / "membranes"
    out = {}
    for _, f in sorted(_catalog_entries(folder).items()):
        membrane = _validate(Membrane, f, _read_yaml(f))
        out[membrane.name] = membrane
    return out


def load_membrane_file(path) -> Membrane:
    """One membrane from its YAML file."""
    return _validate(Membrane, path, _read_yaml(path))


def membrane_named(name: str, catalog: dict) -> Membrane:
    """A membrane of ``catalog`` by name, or read from the YAML file ``name``."""
    return catalog[name] if name in catalog else load_membrane_file(name)


def resolve_path(name_or_path, kind: str) -> Path:
    """A config file given as a path, or by the name of a bundled one (``kind``: 'samples' or 'protocols')."""
    p = Path(name_or_path)
    if p.exists():
        return p
    bundled = CONFIG_ROOT / kind / f"{p.stem}.yaml"
    if bundled.is_file():
        return Path(str(bundled))
    names = ", ".join(sorted(_catalog_entries(CONFIG_ROOT / kind)))
    raise ConfigError(str(name_or_path), "", f"no such file, and no bundled {kind[:-1]} of that name "
                                             f"(bundled: {names})")


def load_sample(path, media: dict | None = None) -> Sample:
    """Read and validate a sample YAML file (a path, or the name of a bundled sample)."""
    path = resolve_path(path, "samples")
    sample = _validate(Sample, path, _read_yaml(path), {"media": media or load_media()})
    sample._source = str(path)
    return sample


def load_protocol(path, rotors: dict | None = None, media: dict | None = None,
                  membranes: dict | None = None) -> Protocol:
    """Read and validate a protocol YAML file (a path, or the name of a bundled protocol)."""
    path = resolve_path(path, "protocols")
    ctx = {"rotors": rotors or load_rotors(), "media": media or load_media(),
           "membranes": membranes or load_membranes(), "base": str(Path(path).parent)}
    protocol = _validate(Protocol, path, _read_yaml(path), ctx)
    protocol._source = str(path)
    return protocol


def source_of(model: Strict) -> str:
    """The file a sample or protocol came from ('<memory>' if built in Python)."""
    return model._source
