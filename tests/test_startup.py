"""Start-up: what each command imports. Measured times are benchmarks (python -m benchmarks.startup); these
tests check module sets only: ``--help``, ``plan`` and ``rotors`` need no numba, xarray or matplotlib (``plan`` of
centrifuge steps not even numpy), a CPU run never imports numba's CUDA target, and a run that writes no file
imports no xarray (nor pandas).
"""
import json
import os
import subprocess
import sys

import pytest

from exosim import config
from exosim.kernels import sampling

HEAVY = {"numba", "numba.cuda", "xarray", "matplotlib"}

# runs ``python -m exosim ARGS``; at exit writes the names of all imported modules to $MODULES_OUT
PROBE = """
import atexit, json, os, runpy, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["exosim", *sys.argv[1:]]
runpy.run_module("exosim", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One exosim cache folder (compiled kernels, pint) for this module's processes, not the user's."""
    return tmp_path_factory.mktemp("exosim-cache")


def imported_by(args: list[str], cache_dir, tmp_path, code: str = PROBE) -> set[str]:
    """The modules imported by ``python -m exosim ARGS`` (or by ``code``) in a fresh process."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "EXOSIM_CACHE_DIR": str(cache_dir), "MODULES_OUT": str(out), "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(json.loads(out.read_text()))


def test_help_imports_nothing_heavy(cache_dir, tmp_path):
    mods = imported_by(["--help"], cache_dir, tmp_path)
    assert not mods & (HEAVY | {"pint", "pydantic"})


def test_rotors_imports_nothing_heavy(cache_dir, tmp_path):
    mods = imported_by(["rotors"], cache_dir, tmp_path)
    assert not mods & HEAVY


def test_plan_imports_nothing_heavy(cache_dir, tmp_path):
    # the first use ever parses pint's definitions (pint imports numpy) into the cache; measured: the second
    imported_by(["plan", "duc_standard", "--sample", "msc_conditioned_medium"], cache_dir, tmp_path)
    mods = imported_by(["plan", "duc_standard", "--sample", "msc_conditioned_medium"], cache_dir, tmp_path)
    assert not mods & (HEAVY | {"numpy"})


def test_run_without_results_file_imports_no_xarray(cache_dir, tmp_path):
    mods = imported_by(["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "70", "--backend", "cpu"],
                       cache_dir, tmp_path)
    assert "numba" in mods and not mods & {"xarray", "pandas", "matplotlib", "numba.cuda"}


def test_cpu_run_imports_no_cuda(cache_dir, tmp_path):
    args = ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "70", "--backend", "cpu", "-q",
            "-o", str(tmp_path / "out.h5")]
    mods = imported_by(args, cache_dir, tmp_path)
    assert "numba" in mods and "numba.cuda" not in mods and "matplotlib" not in mods
    assert (tmp_path / "out.h5").is_file()


def test_import_exosim_is_light_and_names_resolve_on_use(cache_dir, tmp_path):
    code = ("import json, os, sys\nimport exosim, exosim.device\n"
            "before = sorted(sys.modules)\n"
            "assert {'simulate', 'load_protocol', 'CPU', 'GPU', 'ConfigError'} <= set(dir(exosim))\n"
            "assert callable(exosim.load_sample) and exosim.CPU().backend == 'cpu'\n"
            "open(os.environ['MODULES_OUT'], 'w').write(json.dumps(before))\n")
    mods = imported_by([], cache_dir, tmp_path, code=code)
    assert not mods & (HEAVY | {"pint"})


def test_unknown_attribute_of_exosim():
    import exosim
    with pytest.raises(AttributeError):
        exosim.no_such_name  # noqa: B018


def test_distribution_codes_agree_with_the_kernels():
    """config.py keeps the codes as plain ints (no numba to read a config); the kernels define them."""
    for name in ("CONSTANT", "NORMAL", "LOGNORMAL", "UNIFORM"):
        assert getattr(config, name) == getattr(sampling, name), name


def test_pint_cache_is_filled_whole_and_gives_the_same_units(tmp_path):
    import pint

    from exosim import units
    folder = units._pint_cache(tmp_path)
    assert folder is not None and folder.parent == tmp_path / "pint" and any(folder.iterdir())
    assert not list((tmp_path / "pint").glob(".filling-*"))  # the temporary copy was renamed, not left
    assert units._pint_cache(tmp_path) == folder  # second use: read, not filled again
    cached = pint.UnitRegistry(cache_folder=folder, **units._OPTIONS)
    fresh = pint.UnitRegistry(**units._OPTIONS)
    for text, unit in [("70 min", "s"), ("4 degC", "K"), ("1.15 g/mL", "kg/m**3"), ("41000 rpm", "rad/s"),
                       ("5e9 /mL", "1/m**3"), ("66.5 kDa", "kg"), ("23 deg", "rad"), ("5 %", "")]:
        assert cached.Quantity(text).to(unit).magnitude == fresh.Quantity(text).to(unit).magnitude, text


def test_pint_cache_off_when_not_writable(tmp_path):
    from exosim import units
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert units._pint_cache(blocker) is None
    assert units._pint_cache(None) is None
