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


def cuda_device():
    """GPU(0): a real GPU, or the simulator; skip (or fail) when CUDA is unusable."""
    if not _cuda.available():
        skip_or_fail(_cuda.why_unavailable())
    return devices.GPU(0)


@pytest.fixture
def real_gpu():
    """A real GPU device; skipped (failed with EXOSIM_REQUIRE_GPU=1) when there is none."""
    if not _cuda.real_gpu():
        skip_or_fail("no real CUDA GPU (simulator or none)")
    return devices.GPU(0)


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Every backend: the CPU, and CUDA (real, or simulated at tiny sizes)."""
    if request.param == "cpu":
        return devices.CPU()
    return cuda_device()
