"""Test setup: CUDA kernels run in numba's simulator unless a real GPU is present.

- No NVIDIA driver here (no ``nvidia-smi``): NUMBA_ENABLE_CUDASIM=1 is set before numba is imported, so the CUDA
  kernels run in the simulator at tiny sizes.
- ``EXOSIM_REQUIRE_GPU=1``: tests that need a real GPU fail instead of being skipped.
"""
import os
import shutil

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import pytest  # noqa: E402

from exosim import device as devices  # noqa: E402
from exosim.kernels import _cuda  # noqa: E402

REQUIRE_GPU = os.environ.get("EXOSIM_REQUIRE_GPU", "0") == "1"


def skip_or_fail(reason: str):
    if REQUIRE_GPU:
        pytest.fail(f"EXOSIM_REQUIRE_GPU=1 but {reason}")
    pytest.skip(reason)


def cuda_device(precision=64):
    """GPU(0) in double precision (the CPU's default, so that fates compare bit for bit): a real GPU, or the
    simulator; skip (or fail) when CUDA is unusable."""
    if not _cuda.available():
        skip_or_fail(_cuda.why_unavailable())
    return devices.GPU(0, precision=precision)


@pytest.fixture
def real_gpu():
    """A real GPU device (double precision); skipped (failed with EXOSIM_REQUIRE_GPU=1) when there is none."""
    if not _cuda.real_gpu():
        skip_or_fail("no real CUDA GPU (simulator or none)")
    return devices.GPU(0, precision=64)


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Every backend: the CPU, and CUDA (real, or simulated at tiny sizes)."""
    if request.param == "cpu":
        return devices.CPU(precision=64)
    return cuda_device()


# Precision. CPU() runs in $EXOSIM_PRECISION (default 64). Tests marked ``both_precisions`` run twice, with
# float64 and float32 kernels; ``make test-float32`` runs the physics validation modules wholly in float32.
def run_precision() -> int:
    """The precision (bits) of a default CPU() now."""
    return devices.CPU().precision


def rounding(scale: float, f64: float = 1e-9, ulps: float = 8.0) -> float:
    """Allowance [m] for the rounding of a position of magnitude ``scale`` [m]: ``f64``, the float64 tests' own
    allowance (far above float64 rounding), in double precision; ``ulps`` units in the last place of ``scale`` in
    single precision (a kernel rounds a position a few times per substep: 0.6 um at 10 m, 60 nm at 0.1 m for 8
    ulps)."""
    import numpy as np
    if run_precision() == 64:
        return f64
    return max(f64, ulps * float(np.spacing(np.float32(abs(scale)))))


def pytest_configure(config):
    config.addinivalue_line("markers", "both_precisions: run with float64 and with float32 kernels")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_precisions"):
        if "precision_bits" not in metafunc.fixturenames:
            metafunc.fixturenames.append("precision_bits")
        metafunc.parametrize("precision_bits", [64, 32], ids=["f64", "f32"], indirect=True)


@pytest.fixture
def precision_bits(request, monkeypatch):
    """The precision of this run of a ``both_precisions`` test: default CPU() devices use it."""
    bits = getattr(request, "param", None) or run_precision()
    monkeypatch.setenv(devices.PRECISION_ENV, str(bits))
    return bits


def run_fresh(code: str) -> None:
    """Run ``code`` in a fresh Python process (nothing of exosim imported yet); it must print 'ok' and exit 0."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
