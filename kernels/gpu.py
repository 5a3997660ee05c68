"""CUDA kernels (one thread per particle) around the shared per-particle functions.

Built on first use, so that importing exosim never needs numba-cuda. Arrays are CuPy arrays on a real GPU and
numpy arrays under the CUDA simulator.
"""
from functools import cache

from . import _cuda
from ._cuda import cuda  # a module global: the CUDA simulator swaps globals named after numba.cuda
from .sampling import draw_truncated
from .spin import P_RECORD, fixed_angle_run, swinging_bucket_run

THREADS_PER_BLOCK = 256


@cache
def kernels():
    """Compile-on-demand namespace of the CUDA kernels: ``spin_swinging``, ``spin_fixed``, ``sample``."""
    _cuda.require()

    @cuda.jit
    def spin_swinging(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos):
        i = cuda.grid(1)
        if i < diameter.shape[0] and active[i]:
            o, r = swinging_bucket_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
            outcome[i] = o
            if prm[P_RECORD] > 0.5:
                pos[i, 0] = r

    @cuda.jit
    def spin_fixed(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos):
        i = cuda.grid(1)
        if i < diameter.shape[0] and active[i]:
            o, x, y, z = fixed_angle_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
            outcome[i] = o
            if prm[P_RECORD] > 0.5:
                pos[i, 0] = x
                pos[i, 1] = y
                pos[i, 2] = z

    @cuda.jit
    def sample(pid0, seed, stream, kind, p1, p2, lo, hi, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = draw_truncated(pid0 + i, seed, stream, kind, p1, p2, lo, hi)

    return spin_swinging, spin_fixed, sample


def launch(kernel, n, *args):
    """Run ``kernel`` over n particles with one thread each."""
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kernel[blocks, THREADS_PER_BLOCK](*args)
