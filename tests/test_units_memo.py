"""The unit memo: conversions pint made are remembered as affine maps, so later reads of the same units need no
pint, and give exactly the values they gave the first time."""
import json
import os
import subprocess
import sys

import pytest

from exosim import units

CASES = [("70 min", "time"), ("100,000 uL", "volume"), ("1.15 g/mL", "density"), ("4 degC", "temperature"),
         ("41000 rpm", "angular_speed"), ("23 deg", "angle"), ("5 %", "fraction"), ("100 nm", "length"),
         ("1e-10 ug", "mass"), ("37 degC", "temperature"), ("0.5 h", "time")]
# independent SI values (definitions: 1 min = 60 s, 1 uL = 1e-9 m^3, 1 g/mL = 1000 kg/m^3, T[K] = t[degC] + 273.15,
# 1 rpm = 2 pi / 60 rad/s, 1 deg = pi / 180 rad, 1 % = 0.01, 1 ug = 1e-9 kg)
EXPECTED = [4200.0, 1e-4, 1150.0, 277.15, 41000 * 2 * 3.141592653589793 / 60, 23 * 3.141592653589793 / 180, 0.05,
            1e-7, 1e-19, 310.15, 1800.0]


def test_memo_gives_pints_values_and_the_same_value_twice():
    """Each string converts to its SI value (definitions above) on the first read (pint, then the memo's map) and
    on the second (the memo alone), bit for bit the same both times."""
    first = [units.parse(v, k) for v, k in CASES]
    second = [units.parse(v, k) for v, k in CASES]
    assert first == second
    for got, want in zip(first, EXPECTED):
        assert got == pytest.approx(want, rel=1e-12)


def test_memo_does_not_mask_errors():
    """A unit the memo knows for one kind is still refused for another, with pint's message."""
    units.parse("70 min", "time")
    with pytest.raises(ValueError, match="expected a volume"):
        units.parse("70 min", "volume")
    with pytest.raises(ValueError, match="finite"):
        units.parse("1e999 min", "time")


def run(code, cache):
    env = dict(os.environ, EXOSIM_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


CODE = ("import sys; from exosim.config import load_protocol, load_sample; load_sample('msc_conditioned_medium'); "
        "load_protocol('duc_standard'); print('pint' in sys.modules)")


def test_a_second_process_reads_the_bundled_configs_without_pint(tmp_path):
    """The first process fills the memo (pint is imported); a second one reads the bundled sample and protocol
    without importing pint. A corrupt memo file is ignored (pint again) and rewritten."""
    assert run(CODE, tmp_path).strip() == "True"
    assert run(CODE, tmp_path).strip() == "False"
    memo = next((tmp_path / "units").glob("pint-*.json"))
    assert json.loads(memo.read_text())
    memo.write_text("{not json")
    assert run(CODE, tmp_path).strip() == "True"
    assert run(CODE, tmp_path).strip() == "False"
