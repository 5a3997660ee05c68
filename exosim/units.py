"""The one pint registry of exosim, and the parsers that turn "70 min" or "100,000 g" into SI floats.

Configs carry units as strings; everything below the configuration layer is plain SI floats.
"g" in a centrifugation field means relative centrifugal force (multiples of standard gravity), never grams:
that meaning lives here (``parse_rcf``), not in every caller.

pint is imported on first need. Every conversion pint has done for a "number unit" string is remembered as the
affine map number -> SI value (``_Memo``, in exosim's cache folder per pint version), so that reading the
bundled configs, which use a handful of units, usually needs no pint at all (0.25 s of start-up): the values are
pint's own, and any string the memo does not know goes to pint.
"""
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from .kernels.cache import cache_root
from .physics.rotors import STANDARD_GRAVITY


class _Memo:
    """Affine maps (scale, offset) from a number to its SI value, by (unit text, target), as pint computed them."""

    def __init__(self):
        self.path = None
        self.maps: dict[str, list] = {}
        root = cache_root()
        if root is None:
            return
        try:
            from importlib.metadata import version
            self.path = root / "units" / f"pint-{version('pint')}.json"
            self.maps = json.loads(self.path.read_text())
        except (OSError, ValueError, ImportError):
            self.maps = {}

    def get(self, unit: str, target: str):
        return self.maps.get(f"{unit}\0{target}")

    def put(self, unit: str, target: str, scale: float, offset: float) -> None:
        key = f"{unit}\0{target}"
        if self.maps.get(key) == [scale, offset] or self.path is None:
            self.maps[key] = [scale, offset]
            return
        self.maps[key] = [scale, offset]
        try:  # whole file to a temporary sibling, then rename: readers never see half a file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".memo-")
            with os.fdopen(fd, "w") as f:
                json.dump(self.maps, f)
            os.replace(tmp, self.path)
        except OSError:
            pass


_memo = _Memo()
# "number unit": a plain number, then a unit expression without signs (so the value is linear in the number)
_NUMBER_UNIT = re.compile(r"^\s*([0-9][0-9,]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)\s*"
                          r"([A-Za-z%/µμ°][A-Za-z0-9%/*^()·µμ°\s.]*)$")


def _split(value):
    """(number, unit text) of a "number unit" string, or None."""
    if not isinstance(value, str):
        return None
    m = _NUMBER_UNIT.match(value)
    if not m:
        return None
    try:
        return float(m.group(1).replace(",", "")), " ".join(m.group(2).split())
    except ValueError:
        return None


def _remember(unit_text: str, target: str, convert) -> None:
    """Record number -> convert(number) for unit_text as the affine map pint gives (checked at three points)."""
    try:
        f0, f1, f10 = (float(convert(x)) for x in (0.0, 1.0, 10.0))
    except Exception:
        return
    scale, offset = f1 - f0, f0
    if all(map(math.isfinite, (f0, f1, f10))) and math.isclose(f10, offset + 10 * scale, rel_tol=1e-12,
                                                                abs_tol=1e-300):
        _memo.put(unit_text, target, scale, offset)

_OPTIONS = dict(autoconvert_offset_to_baseunit=True)


def _pint_cache(root: Path | None):
    """pint's cache of parsed definitions (per pint and Python version) under ``root``, filled if it is not yet;
    None when there is no usable cache folder.

    pint writes its cache files in place, so a new cache is filled in a temporary sibling and renamed: no
    process ever reads a half-written one.
    """
    import pint

    if root is None:
        return None
    folder = root / "pint" / f"{pint.__version__}-{sys.implementation.cache_tag}"
    if folder.is_dir():
        return folder
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=folder.parent, prefix=".filling-")
        pint.UnitRegistry(cache_folder=tmp, **_OPTIONS)
        os.rename(tmp, folder)
    except OSError:  # not writable, or another process renamed its copy first
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder if folder.is_dir() else None


def _registry():
    """The unit registry, read from pint's cache when there is one (about 0.04 s instead of 0.35 s)."""
    import pint

    folder = _pint_cache(cache_root())
    if folder is not None:
        try:
            return pint.UnitRegistry(cache_folder=folder, **_OPTIONS)
        except Exception:  # an unreadable cache: parse the definitions instead
            pass
    return pint.UnitRegistry(**_OPTIONS)


_UREG = None


def __getattr__(name):
    """``units.ureg``: the registry, built on first use."""
    if name == "ureg":
        return registry()
    raise AttributeError(name)


def registry():
    """The one pint unit registry of exosim (imports pint on first use)."""
    global _UREG
    if _UREG is None:
        _UREG = _registry()
    return _UREG

# kind of quantity -> (SI unit, words for messages)
KINDS = {
    "time": ("s", "a duration"),
    "length": ("m", "a length"),
    "volume": ("m**3", "a volume"),
    "density": ("kg/m**3", "a density"),
    "mass": ("kg", "a mass"),
    "temperature": ("K", "a temperature"),
    "angular_speed": ("rad/s", "a rotor speed"),
    "angle": ("rad", "an angle"),
    "number_concentration": ("1/m**3", "a number concentration"),
    "mass_concentration": ("kg/m**3", "a mass concentration"),
    "fraction": ("", "a fraction"),
    "pressure": ("Pa", "a pressure"),
    "area": ("m**2", "an area"),
    "areal_density": ("1/m**2", "a number per area"),
    "velocity": ("m/s", "a flux (volume per area and time)"),
    "permeability": ("m/(Pa*s)", "a hydraulic permeability"),
    "tension": ("N/m", "a membrane tension"),
    "energy": ("J", "an energy"),
    "rate": ("1/s", "a rate (such as a shear rate)"),
}


def to_quantity(value):
    """A pint Quantity from a string such as "70 min" or a bare number (dimensionless)."""
    import pint

    ureg = registry()
    if isinstance(value, bool):
        raise ValueError(f"expected a quantity with a unit, got {value!r}")
    if isinstance(value, (int, float)):
        return ureg.Quantity(float(value), "")
    if not isinstance(value, str):
        raise ValueError(f"expected a quantity such as '70 min', got {value!r}")
    text = value.strip().replace(",", "")
    try:
        q = ureg.Quantity(text)
    except Exception:
        raise ValueError(f"cannot read {value!r} as a quantity with a unit") from None
    if not isinstance(q, pint.Quantity):  # a bare number string
        q = ureg.Quantity(float(q), "")
    return q


def dimension_name(q) -> str:
    """Words for the dimension of q, e.g. 'mass' or '[length] / [time]'."""
    for kind, (unit, _words) in KINDS.items():
        if unit and q.check(unit):
            return kind.replace("_", " ")
    return "dimensionless" if q.dimensionless else str(q.dimensionality)


def parse(value, kind: str) -> float:
    """The SI magnitude of ``value`` as a quantity of ``kind`` (a key of KINDS).

    Raises ValueError naming what was expected and what was given, e.g.
    "expected a duration, got '70 kg' (mass)".
    """
    unit, words = KINDS[kind]
    if kind == "fraction" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return float(value)  # a plain number is a fraction as it stands (what pint gives too)
    split = _split(value)
    if split is None:
        return _pint_parse(value, kind)
    known = _memo.get(split[1], kind)
    if known is None:
        out = _pint_parse(value, kind)  # checks the value; ValueError with a message if it is not of this kind
        ureg = registry()
        _remember(split[1], kind, lambda x: ureg.Quantity(f"{x!r} {split[1]}").to(unit or "").magnitude)
        known = _memo.get(split[1], kind)
        if known is None:  # a unit whose map is not affine: pint's value
            return out
    # the same map serves every string with this unit, so a value reads the same whether pint or the memo
    # converted it first
    out = known[0] * split[0] + known[1]
    if not math.isfinite(out):
        raise ValueError(f"expected {words} with a finite value, got {value!r}")
    return out


def _pint_parse(value, kind: str) -> float:
    """``parse`` by pint alone."""
    unit, words = KINDS[kind]
    q = to_quantity(value)
    bare = q.unitless  # a plain number: no unit written (angles are dimensionless but have units)
    if kind != "fraction" and (bare or (q.dimensionless and kind != "angle")):
        raise ValueError(f"expected {words} with a unit (such as {example(kind)}), got {value!r}")
    ok = q.check(unit) if unit else q.dimensionless
    if not ok:
        raise ValueError(f"expected {words}, got {value!r} ({dimension_name(q)})")
    out = float(q.to(unit).magnitude) if unit else float(q.to("").magnitude)
    if not math.isfinite(out):
        raise ValueError(f"expected {words} with a finite value, got {value!r}")
    return out


def example(kind: str) -> str:
    """An example value of a quantity kind, for messages."""
    return {"time": "'70 min'", "length": "'100 nm'", "volume": "'10 mL'", "density": "'1.15 g/mL'",
            "mass": "'1e-10 ug'", "temperature": "'4 degC'", "angular_speed": "'41000 rpm'",
            "angle": "'23 deg'", "number_concentration": "'5e9 /mL'",
            "mass_concentration": "'1 mg/mL'", "fraction": "'5 %'", "pressure": "'0.5 bar'",
            "area": "'4.9 cm**2'", "areal_density": "'3e8 /cm**2'", "velocity": "'50 L/m**2/h'",
            "permeability": "'500 L/m**2/h/bar'", "tension": "'5 mN/m'", "energy": "'60 zJ'",
            "rate": "'4000 /s'"}[kind]


_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKMGT]i?)?B\s*$")
_MEMORY_PREFIX = {None: 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2 ** 10, "Mi": 2 ** 20,
                  "Gi": 2 ** 30, "Ti": 2 ** 40}


def parse_memory(value: str) -> float:
    """Bytes in an amount of memory such as '8 GiB', '500 MB' or '4e9 B' (decimal kB, MB, GB, TB and binary KiB,
    MiB, GiB, TiB). pint counts information as dimensionless, so it cannot tell '8 GiB' from '8 %': a pattern
    instead. ValueError when ``value`` is not one."""
    m = _MEMORY.match(str(value))
    if m is None or (m.group(2) or "").lower() == "ki" and m.group(2) != "Ki":
        raise ValueError(f"expected an amount of memory (such as '8 GiB' or '500 MB'), got {value!r}")
    out = float(m.group(1)) * _MEMORY_PREFIX[m.group(2)]
    if not math.isfinite(out):
        raise ValueError(f"expected an amount of memory with a finite value, got {value!r}")
    return out


_RCF = re.compile(r"^\s*([0-9][0-9,]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?)\s*(?:x|×)?\s*g\s*$")


def parse_rcf(value) -> float:
    """Relative centrifugal force (dimensionless multiple of standard gravity) from "100000 g", "100,000 x g",
    "1e5 xg", or an acceleration such as "9.8e5 m/s^2"."""
    if isinstance(value, str):
        m = _RCF.match(value)
        if m:
            out = float(m.group(1).replace(",", ""))
            if not math.isfinite(out):
                raise ValueError(f"expected a finite relative centrifugal force, got {value!r}")
            return out
    q = to_quantity(value)
    if q.check("m/s**2"):
        return float(q.to("m/s**2").magnitude) / STANDARD_GRAVITY
    raise ValueError(f"expected a relative centrifugal force such as '100000 g', got {value!r}"
                     f" ({dimension_name(q)})")


def concentration(value) -> tuple[float, bool]:
    """(SI magnitude, is_mass) of a number concentration [1/m^3] or a mass concentration [kg/m^3]."""
    split = _split(value)
    if split is not None:
        for target, is_mass in (("1/m**3", False), ("kg/m**3", True)):
            known = _memo.get(split[1], target)
            if known is not None:
                return known[0] * split[0] + known[1], is_mass
    q = to_quantity(value)
    for target, is_mass in (("1/m**3", False), ("kg/m**3", True)):
        if q.check(target):
            out = float(q.to(target).magnitude)
            if split is not None:
                ureg = registry()
                _remember(split[1], target, lambda x: ureg.Quantity(f"{x!r} {split[1]}").to(target).magnitude)
                known = _memo.get(split[1], target)
                if known is not None:
                    out = known[0] * split[0] + known[1]
            return out, is_mass
    raise ValueError(f"expected a concentration such as '5e9 /mL' or '1 mg/mL', got {value!r} ({dimension_name(q)})")


def fmt(value: float, unit: str, to: str, digits: int = 3) -> str:
    """SI value shown in a chosen unit, e.g. fmt(4200, 's', 'min') -> '70 min'."""
    known = _memo.get(unit, f"fmt:{to}")
    if known is None:
        ureg = registry()
        _remember(unit, f"fmt:{to}", lambda x: ureg.Quantity(x, unit).to(to).magnitude)
        magnitude = ureg.Quantity(value, unit).to(to).magnitude
    else:
        magnitude = known[0] * value + known[1]
    return f"{magnitude:.{digits}g} {to}"


def fmt_time(seconds: float) -> str:
    """A duration [s] in minutes up to two hours, in hours beyond: '70 min', '18 h'."""
    return fmt(seconds, "s", "min") if seconds <= 7200 else fmt(seconds, "s", "h")


def fmt_volume(m3: float) -> str:
    """A volume [m^3] in uL below 1 mL, in mL above: '150 uL', '12.5 mL'."""
    return fmt(m3, "m**3", "uL") if m3 < 1e-6 else fmt(m3, "m**3", "mL")
