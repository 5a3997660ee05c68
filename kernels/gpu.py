"""CUDA kernels (one thread per particle) around the shared per-particle functions.

The kernel bodies are plain functions here; ``kernels()`` compiles them with ``cuda.jit`` on first use, so that
importing exosim never needs numba-cuda. Arrays are CuPy arrays on a real GPU and numpy arrays under the CUDA
simulator.
"""
from functools import cache

from . import _cuda
from ._cuda import cuda  # a module global: the CUDA simulator swaps globals named after numba.cuda
from . import KernelSet
from .filtration import arrive, plugs, retentate_fate
from .gradient import gradient_run
from .sampling import draw_truncated
from .spin import P_DOSE, P_RECORD, fixed_angle_run, swinging_bucket_run

THREADS_PER_BLOCK = 256
SINGLE = False  # True in the float32 specialisation (kernels/precision.py)
REAL = "float32" if SINGLE else "float64"

# numba type signatures, for ahead-of-time compilation checks (cuda.compile_ptx); the step kernels' float arrays
# are in the module's precision
SPIN_SIGNATURE = (f"(int64, int64, int64, {REAL}[:], {REAL}[:], boolean[:], {REAL}[:], {REAL}[:, :], uint8[:], "
                  f"{REAL}[:, :], {REAL}[:])")
SAMPLE_SIGNATURE = "(int64, int64, int64, int64, float64, float64, float64, float64, float64[:])"
FILTER_SIGNATURE = ("(int64[:], int64, int64, float64[:], float64[:, :], float64[:], float64[:], float64[:], "
                    "uint8[:], int32[:])")
PLUG_SIGNATURE = "(float64[:], float64[:, :], float64[:], float64, float64, uint8[:, :])"
RETENTATE_SIGNATURE = ("(int64, int64, int64, float64[:], float64[:, :], boolean[:], float64[:], float64[:], float64[:], "
                 "uint8[:])")
GRADIENT_SIGNATURE = (f"(int64, int64, int64, {REAL}[:], {REAL}[:], {REAL}[:], boolean[:], {REAL}[:], "
                      f"{REAL}[:, :], {REAL}[:, :], {REAL}[:, :], {REAL}[:, :], {REAL}[:, :], uint8[:], {REAL}[:])")


def spin_swinging(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos, dose):
    i = cuda.grid(1)
    if i < diameter.shape[0] and active[i]:
        o, r, w = swinging_bucket_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
        outcome[i] = o
        if prm[P_RECORD] > 0.5:
            pos[i, 0] = r
        if prm[P_DOSE] > 0.5:
            dose[i] = w


def spin_fixed(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos, dose):
    i = cuda.grid(1)
    if i < diameter.shape[0] and active[i]:
        o, x, y, z, w = fixed_angle_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
        outcome[i] = o
        if prm[P_RECORD] > 0.5:
            pos[i, 0] = x
            pos[i, 1] = y
            pos[i, 2] = z
        if prm[P_DOSE] > 0.5:
            dose[i] = w


def spin_gradient(pid0, step, seed, diameter, density, share, active, prm, seg, rho_tab, eta_tab, osm_tab, geo_tab,
                  outcome, pos):
    i = cuda.grid(1)
    if i < diameter.shape[0] and active[i]:
        o, r = gradient_run(pid0 + i, step, seed, diameter[i], density[i], share[i], prm, seg, rho_tab,
                            eta_tab, osm_tab, geo_tab)
        outcome[i] = o
        pos[i] = r


def filter_arrivals(pid, step, seed, diameter, mech, cdf, pore_radius, prm, outcome, pore):
    i = cuda.grid(1)
    if i < pid.shape[0]:
        o, j = arrive(pid[i], step, seed, diameter[i], mech[i], cdf, pore_radius, prm)
        outcome[i] = o
        pore[i] = j


def retentate_particles(pid0, step, seed, diameter, mech, active, node_r, node_w, prm, outcome):
    i = cuda.grid(1)
    if i < diameter.shape[0] and active[i]:
        outcome[i] = retentate_fate(pid0 + i, step, seed, diameter[i], mech[i], node_r, node_w, prm)


def plug_table(diameter, mech, radii, pressure, temperature, out):
    i = cuda.grid(1)
    if i < diameter.shape[0]:
        for b in range(radii.shape[0]):
            out[i, b] = plugs(diameter[i], mech[i], radii[b], pressure, temperature)


def sample(pid0, seed, stream, kind, p1, p2, lo, hi, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = draw_truncated(pid0 + i, seed, stream, kind, p1, p2, lo, hi)


KERNELS = (spin_swinging, spin_fixed, spin_gradient, sample, filter_arrivals, plug_table, retentate_particles)
SIGNATURES = (SPIN_SIGNATURE, SPIN_SIGNATURE, GRADIENT_SIGNATURE, SAMPLE_SIGNATURE, FILTER_SIGNATURE, PLUG_SIGNATURE,
              RETENTATE_SIGNATURE)


@cache
def kernels():
    """The compiled CUDA kernels (a KernelSet)."""
    _cuda.require()
    return KernelSet(*(cuda.jit(k) for k in KERNELS))


def launch(kernel, n, *args):
    """Run ``kernel`` over n particles with one thread each."""
    if n == 0:
        return
    blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    kernel[blocks, THREADS_PER_BLOCK](*args)
