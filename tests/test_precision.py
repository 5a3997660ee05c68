"""float32 step kernels generated from the float64 source (kernels/precision.py): single-precision arithmetic,
the same physics within the Monte Carlo error, and the option that selects them.

The physics validations marked ``both_precisions`` (test_physics, test_floaters, test_gradient_physics,
test_column) run in both precisions in every test run; ``make test-float32`` runs those modules wholly in float32.
tests/test_cuda_compile.py reads the float32 CUDA kernels' PTX for double-precision instructions.
"""
import math
import re

import numba
import numpy as np
import pytest
from typer.testing import CliRunner

import exosim
from exosim import CPU
from exosim.cli import app
from exosim.kernels import precision

F32 = np.float32


def _return_type(func, *args):
    """numba's return type of the (register_jitable) ``func`` called with ``args``."""
    jitted = numba.njit(lambda *a: func(*a))
    jitted(*args)
    return jitted.nopython_signatures[0].return_type


def test_rewrite_makes_every_literal_single():
    """Each scalar formula of the float32 modules returns float32 for float32 arguments (a float64 literal or an
    int64 operand would promote it to float64), and the float64 modules stay float64."""
    f32 = precision.step_module("formulas", 32)
    f64 = precision.step_module("formulas", 64)
    p32 = precision.step_module("philox", 32)
    g32 = precision.step_module("gradient", 32)
    cases = [
        (f32.sedimentation_coefficient, (F32(1e-7), F32(1100.0), F32(1005.0), F32(1e-3))),
        (f32.diffusion_coefficient, (F32(1e-7), F32(277.0), F32(1e-3))),
        (f32.ou_clock_variance, (F32(1e-4), F32(4e-12), F32(30.0))),
        (f32.bridge_crossing_probability, (F32(1e-6), F32(2e-6), F32(1e-12))),
        (f32.reflection_push, (F32(1e-6), F32(-2e-6), F32(1e-12), F32(0.3))),
        (g32.phi1, (F32(0.3),)),
        (p32.sincos_turns, (F32(0.8),)),
        (p32.box_muller, (np.uint64(12345), np.uint64(4000000000))),
        (p32.uniform_open, (np.uint64(2 ** 32 - 1),)),
    ]
    for func, args in cases:
        ty = _return_type(func, *args)
        names = {str(t) for t in getattr(ty, "types", (ty,))}
        assert names == {"float32"}, (func.__name__, ty)
    assert str(_return_type(f64.sedimentation_coefficient, 1e-7, 1100.0, 1005.0, 1e-3)) == "float64"


def test_single_uniforms_stay_inside_the_open_interval():
    """float32 holds 24 significant bits: (word + 1/2) 2^-32 of the largest word would round to 1.0, and so would
    (word // 2^8 + 1/2) 2^-24; the single-precision uniform uses the top 23 bits and stays in (0, 1)."""
    p32 = precision.step_module("philox", 32)
    u = numba.njit(lambda w: p32.uniform_open(w))
    top, bottom = u(np.uint64(2 ** 32 - 1)), u(np.uint64(0))
    assert 0.0 < bottom < 1e-6 and 1.0 - 1e-6 < top < 1.0
    assert F32((2.0 ** 32 - 0.5) * 2.0 ** -32) == 1.0   # why: the double-precision formula rounded to float32
    assert F32(2.0 ** 24 - 0.5) == 2.0 ** 24             # and 24 bits
    # the 2^23 values are equally spaced and symmetric about 1/2
    words = np.array([0, 1 << 9, (1 << 31), (1 << 32) - 1], dtype=np.uint64)
    got = np.array([u(w) for w in words], dtype=np.float64)
    np.testing.assert_allclose(got, (np.floor(words / 512.0) + 0.5) / 2.0 ** 23, rtol=0, atol=0)


def test_float32_duc_run_matches_float64():
    """The standard DUC protocol, 20,000 particles: float32 and float64 kernels draw the same random numbers (to
    24 bits), so a fate differs only where rounding moves a particle across a wall or a layer boundary. Measured:
    no fate of 100,000 differs; allowed: 0.2 %, and every recovery within one standard error."""
    prot, smp = exosim.load_protocol("duc_standard"), exosim.load_sample("msc_conditioned_medium")
    run = {bits: exosim.simulate(prot, smp, n_particles=20_000, seed=4, device=CPU(precision=bits),
                                 keep_particles=True) for bits in (64, 32)}
    assert run[32].particle_diameter.dtype == np.float32 and run[64].particle_diameter.dtype == np.float64
    assert run[32].attrs["precision"] == "float32" and run[64].attrs["precision"] == "float64"
    differ = np.mean(run[32].particle_fate.values != run[64].particle_fate.values)
    assert differ <= 2e-3, differ
    se = run[64].recovery_stderr.values
    assert np.all(np.abs(run[32].recovery.values - run[64].recovery.values) <= np.maximum(se, 1e-12))


@pytest.mark.both_precisions
def test_small_drift_is_not_lost_to_rounding(precision_bits):
    """A substep's drift far below the last bit of the radius: 10-nm particles in a 2-mm column 10 m from the
    axis, 2000 substeps of A h = 2.5e-8 (float32 resolves 6e-8 of 1). Written as r e^{A h}, float32 would round
    e^{A h} to 1 (no drift at all: the first-passage fraction falls by a quarter); the kernels carry the drift as
    (x + r_men)(e^{A h} - 1). Expected: the Wald (inverse-Gaussian) first-passage fraction, computed here."""
    from exosim.kernels import formulas
    from exosim.methods.centrifuge import SwingingTube, kernel_params, run_tube
    from exosim.physics import rotors as geom

    tube = SwingingTube(10.0, 10.002, 10.002)
    d, rho_p, rho_m, eta, temp = 10e-9, 1100.0, 998.2, 1.0016e-3, 293.15
    diff = 1.380649e-23 * temp / (3 * math.pi * eta * d)
    s = d * d * (rho_p - rho_m) / (18 * eta)
    t = (0.2e-3) ** 2 / (2 * diff)
    omega = math.sqrt(0.1e-3 / t / (s * 10.0))
    v = s * omega ** 2 * 10.001
    length = 2e-3
    # Wald first passage from a uniform start: fraction reaching the bottom by t (reflecting top far upstream)
    ell = np.linspace(0.0, length, 4001)[1:]
    sd = math.sqrt(4 * diff * t)
    cdf = np.array([0.5 * math.erfc(-(v * t - x) / sd) + math.exp(min(v * x / diff, 700.0)) * 0.5
                    * math.erfc((v * t + x) / sd) for x in ell])
    expected = float(np.trapezoid(np.concatenate([[1.0], cdf]), np.linspace(0.0, length, 4001)) / length)
    n = 20000
    prm = kernel_params(tube, rho_m, eta, temp)
    assert abs(formulas.sedimentation_coefficient(d, rho_p, rho_m, eta) - s) < 1e-12 * s
    outcome, _ = run_tube(CPU(), tube, prm, geom.speed_profile(omega, t, max_step=t / 2000), np.full(n, d),
                          np.full(n, rho_p), np.ones(n, bool), seed=6, step=0)
    got = float(np.mean(outcome == 1))
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(got - expected) <= 5 * se + 2e-4, (got, expected, se)


@pytest.mark.parametrize("args,code,needle", [
    (["--precision", "32"], 0, None),
    (["--precision", "16"], 2, "--precision: must be 32 or 64"),
])
def test_precision_option(tmp_path, args, code, needle):
    out = tmp_path / "r.h5"
    result = CliRunner().invoke(app, ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "2000",
                                      "-q", "--backend", "cpu", "-o", str(out), *args])
    assert result.exit_code == code, result.output
    if needle:
        assert needle in result.stderr and not out.exists()
        return
    import xarray as xr
    with xr.open_dataset(out) as ds:
        assert ds.attrs["precision"] == "float32" and "float32" in ds.attrs["device"]
    replay = CliRunner().invoke(app, ["run", "--replay", str(out)])
    assert replay.exit_code == 0 and "identical" in replay.stdout, replay.output


def test_cuda_float32_kernels_run_in_the_simulator():
    """The float32 CUDA kernels (simulator here, real GPU in benchmarks/gpu_check.sh) give the float32 CPU's
    recovery within the Monte Carlo error (the simulator computes some functions in double precision, so the
    fates need not be identical)."""
    from conftest import cuda_device
    dev = cuda_device(precision=32)
    prot, smp = exosim.load_protocol("duc_standard"), exosim.load_sample("msc_conditioned_medium")
    got = exosim.simulate(prot, smp, n_particles=160, seed=1, device=dev)
    ref = exosim.simulate(prot, smp, n_particles=160, seed=1, device=CPU(precision=32))
    assert got.attrs["precision"] == "float32"
    se = np.sqrt(ref.recovery_stderr.values ** 2 + got.recovery_stderr.values ** 2)
    assert np.all(np.abs(got.recovery.values - ref.recovery.values) <= 4 * se + 1.0 / 20)
    assert re.search(r"float32", got.attrs["device"])


def test_bad_precision_environment_is_one_line(tmp_path):
    out = tmp_path / "r.h5"
    result = CliRunner().invoke(app, ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "200", "-q",
                                      "--backend", "cpu", "-o", str(out)], env={"EXOSIM_PRECISION": "16"})
    assert result.exit_code == 2 and "$EXOSIM_PRECISION must be 32 or 64" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("command", [["compare", "duc_standard", "dguc_iodixanol"], ["crosscheck", "duc_standard"]])
def test_compare_and_crosscheck_take_the_precision(command):
    result = CliRunner().invoke(app, [*command, "--sample", "msc_conditioned_medium", "-n", "400", "--precision",
                                      "16"])
    assert result.exit_code == 2 and "--precision: must be 32 or 64" in result.stderr, result.output


def test_a_failed_float32_build_leaves_nothing_behind():
    """A rewrite that fails half-way (here: a module that does not exist) raises its own error and removes every
    module of the half-built package, so that a later build starts clean and succeeds (fresh process)."""
    from conftest import run_fresh
    code = (
        "import sys\n"
        "from exosim.kernels import precision\n"
        "before = set(sys.modules)\n"
        "good = precision.SPECIALISED\n"
        "precision.SPECIALISED = ('osmosis', 'philox', 'formulas', 'no_such_module')\n"
        "try:\n"
        "    precision.step_module('cpu', 32)\n"
        "except FileNotFoundError:\n"
        "    pass\n"
        "assert not [k for k in sys.modules if k.startswith(precision.SINGLE_PACKAGE)], 'left behind'\n"
        "assert before <= set(sys.modules), 'removed modules it did not add'\n"
        "precision.SPECIALISED = good\n"
        "assert precision.step_module('cpu', 32).spin_swinging is not None\n"
        "print('ok')\n")
    run_fresh(code)
