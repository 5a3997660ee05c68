"""Drawing a particle's size and density from its population's distribution (counter-based, reproducible).

Distribution codes: ``CONSTANT`` (p1), ``NORMAL`` (mean p1, sd p2), ``LOGNORMAL`` (median p1, geometric sd p2),
``UNIFORM`` (p1 to p2). Every draw is truncated to [lo, hi] by rejection: the particle's k-th attempt uses the
counter (pid, 0, k) of the given stream, so a particle's value does not depend on any other particle.
"""
import math

from numba.extending import register_jitable

from .philox import box_muller, random_words, uniform_open

CONSTANT = 0
NORMAL = 1
LOGNORMAL = 2
UNIFORM = 3
TRUNCATION_TRIES = 1000


@register_jitable
def draw_truncated(pid, seed, stream, kind, p1, p2, lo, hi):
    """One value of the distribution (kind, p1, p2) truncated to [lo, hi]; units those of p1.

    Returns nan if TRUNCATION_TRIES attempts all fall outside (the caller reports a truncation that keeps
    almost nothing; the configuration layer prevents it).
    """
    if kind == CONSTANT:
        return p1
    for k in range(TRUNCATION_TRIES):
        w = random_words(pid, 0, k, seed, stream)
        if kind == UNIFORM:
            v = p1 + (p2 - p1) * uniform_open(w[0])
        else:
            z, _ = box_muller(w[0], w[1])
            if kind == NORMAL:
                v = p1 + p2 * z
            else:
                v = p1 * math.exp(math.log(p2) * z)
        if lo <= v <= hi:
            return v
    return math.nan
