"""Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as
1, 2, 3", SC'11, doi:10.1145/2063384.2063405), bit-for-bit the Random123 reference.

No stored state: the numbers of a particle are a pure function of (seed, stream) -- the key -- and
(particle id, step, draw) -- the counter. The same seed gives the same numbers on the CPU and the GPU, whatever
the chunking or the number of workers.

Counter layout used throughout exosim: c0, c1 = low and high 32 bits of the global particle id, c2 = protocol step,
c3 = draw index. Key: k0 = seed (32 bit), k1 = stream (one per purpose, see ``STREAM_*``).

The 32-bit words travel as uint64 values holding 32-bit numbers, so that the 32x32 -> 64 bit product of a
Philox round is one uint64 multiplication on both targets.
"""
import math

import numpy as np
from numba.extending import register_jitable

from .layout import STREAM_BRIDGE, STREAM_DENSITY, STREAM_DIAMETER, STREAM_SPIN  # noqa: F401 (re-exported)

# Random123 philox.h constants
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
TWO_POW_M32 = 2.0 ** -32
TWO_POW_M23 = 2.0 ** -23
SINGLE = False  # True in the float32 specialisation (kernels/precision.py)
SHIFT9 = np.uint64(9)
TWO_PI = 2.0 * math.pi

# streams (k1): one per purpose, so that no two purposes ever share a number


@register_jitable
def mulhilo32(a, b):
    """(high, low) 32-bit halves of the 64-bit product of two 32-bit words, as uint32 values.

    Written for every target as a 64-bit product; exosim.kernels._cuda gives the CUDA target the same function
    through the umulhi instruction (one 32-bit multiply for each half instead of an emulated 64-bit one).
    """
    p = np.uint64(a) * np.uint64(b)
    return np.uint32(p >> SHIFT32), np.uint32(p & MASK32)


@register_jitable
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds.

    Args: c0..c3 counter words, k0 and k1 key words, each an integer in [0, 2**32).
    Returns: four integers in [0, 2**32) (as uint64).
    """
    c0 = np.uint32(c0)
    c1 = np.uint32(c1)
    c2 = np.uint32(c2)
    c3 = np.uint32(c3)
    k0 = np.uint32(k0)
    k1 = np.uint32(k1)
    for _ in range(10):
        hi0, lo0 = mulhilo32(PHILOX_M0, c0)
        hi1, lo1 = mulhilo32(PHILOX_M1, c2)
        c0, c1, c2, c3 = np.uint32(hi1 ^ c1 ^ k0), lo1, np.uint32(hi0 ^ c3 ^ k1), lo0
        k0 = np.uint32((np.uint64(k0) + PHILOX_W0) & MASK32)
        k1 = np.uint32((np.uint64(k1) + PHILOX_W1) & MASK32)
    return np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)


@register_jitable
def random_words(pid, step, draw, seed, stream):
    """The four 32-bit words for particle ``pid`` (int >= 0), protocol ``step``, ``draw`` under (seed, stream)."""
    pid = np.uint64(pid)
    return philox4x32_10(pid & MASK32, pid >> SHIFT32, step, draw, seed, stream)


@register_jitable
def uniform_open(word):
    """Uniform number in the open interval (0, 1) from a 32-bit word: (word + 1/2) 2^-32; in single precision
    from its top 23 bits, (word // 2^9 + 1/2) 2^-23, which float32 holds exactly (with 32 or 24 bits the largest
    values round up to 1)."""
    if SINGLE:
        return (float(np.uint64(word) >> SHIFT9) + 0.5) * TWO_POW_M23
    return (float(word) + 0.5) * TWO_POW_M32


@register_jitable
def sincos_turns(u):
    """(sin 2 pi u, cos 2 pi u) for u in [0, 1), with absolute error below 1e-15.

    Exact reduction to the nearest quarter turn (u - q/4 is exact in binary), then Taylor polynomials on
    |t| <= pi/4 (truncation error below 1e-19). Written here rather than taken from libm so that it costs a
    handful of multiply-adds on the CPU (libm's sin and cos dominate a Box-Muller step otherwise) and gives the
    same numbers on every backend.
    """
    q = math.floor(4.0 * u + 0.5)
    t = (u - 0.25 * float(q)) * TWO_PI
    t2 = t * t
    sn = t * (1.0 + t2 * (-1.6666666666666666e-01 + t2 * (8.3333333333333332e-03 + t2 * (
        -1.9841269841269841e-04 + t2 * (2.7557319223985893e-06 + t2 * (-2.5052108385441720e-08 + t2 * (
            1.6059043836821613e-10 + t2 * (-7.6471637318198164e-13 + t2 * 2.8114572543455206e-15))))))))
    cs = 1.0 + t2 * (-0.5 + t2 * (4.1666666666666664e-02 + t2 * (-1.3888888888888889e-03 + t2 * (
        2.4801587301587302e-05 + t2 * (-2.7557319223985888e-07 + t2 * (2.0876756987868100e-09 + t2 * (
            -1.1470745597729725e-11 + t2 * 4.7794773323873853e-14)))))))
    # rotate by q quarter turns; selects rather than branches (the quadrant is random: branches mispredict)
    k = int(q)
    odd = (k & 1) == 1
    sin_abs = cs if odd else sn
    cos_abs = sn if odd else cs
    sin_sign = -1.0 if (k & 2) == 2 else 1.0
    cos_sign = -1.0 if ((k + 1) & 2) == 2 else 1.0
    return sin_sign * sin_abs, cos_sign * cos_abs


@register_jitable
def box_muller(w0, w1):
    """Two independent standard normal numbers from two 32-bit words (Box & Muller 1958, Ann Math Stat 29:610):
    sqrt(-2 ln u0) (cos 2 pi u1, sin 2 pi u1)."""
    u0 = uniform_open(w0)
    u1 = uniform_open(w1)
    rad = math.sqrt(-2.0 * math.log(u0))
    sn, cs = sincos_turns(u1)
    return rad * cs, rad * sn
