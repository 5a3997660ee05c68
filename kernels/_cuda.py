"""The one module of exosim that imports numba's CUDA target (numba-cuda).

numba-cuda 0.30 is in maintenance mode; its successor (numba-cuda-mlir) should be a change to this file only.
Everything else asks here whether CUDA is usable and gets the ``cuda`` module from ``require()``.
Random numbers never come from ``numba.cuda.random`` (stored per-thread state): exosim uses Philox, see philox.py.
"""
import os

try:  # numba-cuda is an optional dependency (extras cuda12 / cuda13 / test)
    from numba import cuda
except ImportError as exc:  # pragma: no cover - depends on the installation
    cuda = None
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None


def _register_cuda_intrinsics():
    """CUDA versions of generic kernel functions that have a faster native form on the GPU (same results)."""
    import numpy as np
    from numba.cuda import libdevice
    from numba.cuda.extending import overload

    from . import philox

    @overload(philox.mulhilo32, target="cuda")
    def _mulhilo32(a, b):
        def impl(a, b):
            a32 = np.uint32(a)
            b32 = np.uint32(b)
            return np.uint32(libdevice.umulhi(a32, b32)), np.uint32(a32 * b32)
        return impl


def _no_fma_contraction():
    """Compile CUDA kernels without fused multiply-add contraction (NVVM's -fma=0) unless fastmath is asked for.

    NVVM contracts a * b + c into one fma by default, rounding once instead of twice; the CPU (LLVM without
    fast-math flags) does not, so the same formula would differ in the last bit and, rarely, flip a fate.
    numba-cuda exposes no option for this, so the NVVM entry point gets the default here.
    """
    from numba.cuda.cudadrv import nvvm

    compile_ir = nvvm.compile_ir
    if getattr(compile_ir, "exosim_no_fma", False):
        return

    def compile_ir_no_fma(llvmir, **options):
        if not options.get("fastmath", False):
            options.setdefault("fma", False)
        return compile_ir(llvmir, **options)

    compile_ir_no_fma.exosim_no_fma = True
    nvvm.compile_ir = compile_ir_no_fma


def simulator() -> bool:
    """True when numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1): kernels run as Python on the CPU."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def available() -> bool:
    """True when CUDA kernels can run here: a real GPU, or the simulator."""
    if cuda is None:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver reads as no GPU
        return False


def real_gpu() -> bool:
    """True when a real CUDA GPU (not the simulator) is usable."""
    return available() and not simulator()


def why_unavailable() -> str:
    """One line saying why CUDA cannot be used here."""
    if cuda is None:
        return f"numba-cuda is not installed ({_IMPORT_ERROR}); install exosim[cuda12] or exosim[cuda13]"
    return "no CUDA GPU found (numba.cuda.is_available() is False)"


def require():
    """The numba ``cuda`` module, or RuntimeError with the reason it cannot be used."""
    if not available():
        raise RuntimeError(why_unavailable())
    return cuda


if cuda is not None and not simulator():
    _register_cuda_intrinsics()
    _no_fma_contraction()
