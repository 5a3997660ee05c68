"""The CUDA kernels compile for a real GPU target (PTX for sm_90, an H100), here, without a GPU.

The simulator runs the kernels as Python and cannot catch what only the CUDA compiler refuses (an unsupported
function, a type that does not unify); this check does. It also checks that no multiply-add is contracted into an
fma instruction (one rounding instead of the CPU's two: the source of last-bit differences between the backends). It runs in a subprocess without the simulator, with
numba-cuda's device query answered by a stand-in (compilation needs only the target's compute capability).
Skipped where NVVM (libnvvm, from numba-cuda[cu12]) is not installed.
"""
import os
import subprocess
import sys
import textwrap

import pytest

CODE = textwrap.dedent("""
    import os
    os.environ["NUMBA_ENABLE_CUDASIM"] = "0"
    from numba import cuda
    from numba.cuda import dispatcher
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM()
    except Exception as exc:
        print("NO-NVVM", exc)
        raise SystemExit(0)

    class StandIn:  # device functions ask the current device for its compute capability
        compute_capability = (9, 0)

    dispatcher.get_current_device = lambda: StandIn()
    from exosim.kernels import gpu
    for kernel, sig in zip(gpu.KERNELS, gpu.SIGNATURES):
        ptx, _ = cuda.compile_ptx(kernel, sig, cc=(9, 0))
        assert ".entry" in ptx and "sm_90" in ptx
        # products and sums with explicit rounding (.rn): neither NVVM nor ptxas fuses them into fma
        assert "mul.rn.f64" in ptx and "add.rn.f64" in ptx and "mul.f64" not in ptx
        print(kernel.__name__, "ok", len(ptx))

    # the float32 specialisation: single-precision arithmetic, double only where kernels/precision.py says so --
    # the dose accumulator (adds and subtractions) and the gradient kernel's clock (t / dt_tab for the table row
    # and the row's end: 2 divisions, 1 multiply); no double square root or fma, no contracted float32 fma
    import re
    from exosim.kernels import precision
    g32 = precision.step_module("gpu", 32)
    clock_ops = {"spin_swinging": 0, "spin_fixed": 0, "spin_gradient": 3}
    for kernel, sig in zip(g32.KERNELS[:3], g32.SIGNATURES[:3]):
        ptx, _ = cuda.compile_ptx(kernel, sig, cc=(9, 0))
        assert "float32" in sig and "float64" not in sig
        assert "mul.rn.f32" in ptx and "mul.f32" not in ptx
        double = re.findall(r"\\b(mul|div|sqrt|fma)\\.[a-z.]*f64", ptx)
        assert len(double) <= clock_ops[kernel.__name__], (kernel.__name__, double)
        assert len(re.findall(r"\\.rn\\.f32", ptx)) > 40 * max(1, len(double))
        print(kernel.__name__, "float32 ok", len(ptx))

    def multiply_add(a, b, c, out):
        out[0] = a[0] * b[0] + c[0]

    ptx, _ = cuda.compile_ptx(multiply_add, "(float64[:], float64[:], float64[:], float64[:])", cc=(9, 0))
    assert "fma" not in ptx, "a * b + c contracted into an fma"
    print("multiply_add ok")
""")


def test_kernels_compile_to_ptx():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=600)
    if "NO-NVVM" in proc.stdout:
        pytest.skip("NVVM not installed: " + proc.stdout.strip())
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("spin_swinging", "spin_fixed", "spin_gradient", "sample", "multiply_add"):
        assert f"{name} ok" in proc.stdout
    for name in ("spin_swinging", "spin_fixed", "spin_gradient"):
        assert f"{name} float32 ok" in proc.stdout
