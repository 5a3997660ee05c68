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
