"""One particle arriving at a membrane: which pore it meets and what happens there. Scalar functions for the CPU
and CUDA loops (and for host-side physics and tests: they work on Python floats). SI units.

A particle that reaches the membrane meets pore j with probability q_j / Q, its share of the flow through the
open pores (Hagen-Poiseuille: q_j ~ r_j^4; the caller passes the cumulative shares ``cdf``). With
lambda = a / r_j (particle radius over pore radius):

- lambda >= 1: a rigid particle cannot enter; it plugs the pore mouth (``PLUGGED``: bound to the membrane);
- lambda < 1: it passes with the sieving coefficient S of hindered transport in a cylindrical pore (Dechadilok &
  Deen 2006, Ind Eng Chem Res 45:6953; Deen 1987, AIChE J 33:1409): partition Phi = (1 - lambda)^2, hindrance
  factors K_c (convection) and K_d (diffusion), asymptotic sieving S_inf = Phi K_c, and with the membrane Peclet
  number Pe = K_c v L / (K_d D) (v the pore's mean velocity, L its length, D the particle's diffusion coefficient),
  S = S_inf e^Pe / (S_inf + e^Pe - 1). A passing particle deposits inside the pore with probability
  ``P_F_DEPOSIT`` (``DEPOSITED``: bound, narrowing the pore); one that does not pass is ``RETAINED`` (cake or
  retentate, decided by the host).

The pore state (open, radius) is shared by all particles and changes only between batches of arrivals (the host,
exosim/methods/filtration.py), so every particle of a batch is independent: no atomics, the same fates on every
backend and for any chunking.
"""
import math

from numba.extending import register_jitable

from .formulas import diffusion_coefficient
from .layout import (F_DEPOSITED, F_PASSED, F_PLUGGED, F_RETAINED, PF_DEPOSIT, PF_LENGTH, PF_TEMPERATURE,  # noqa: F401
                     PF_VELOCITY, PF_VISCOSITY, STREAM_FILTER)
from .philox import random_words, uniform_open

DRAW_FILTER = 0


@register_jitable
def partition(lam):
    """Steric partition coefficient of a sphere in a cylindrical pore, (1 - lambda)^2 (Ferry 1936); 0 for
    lambda >= 1. lambda = particle radius / pore radius [1]."""
    if lam >= 1.0:
        return 0.0
    return (1.0 - lam) * (1.0 - lam)


@register_jitable
def hindrance_convective(lam):
    """K_c, the convective hindrance factor of a sphere in a cylindrical pore (Dechadilok & Deen 2006, eq. 16):
    (1 + 3.867 l - 1.907 l^2 - 0.834 l^3) / (1 + 1.867 l - 0.741 l^2). lambda [1] below 1 (used to 0.95 there)."""
    return (1.0 + lam * (3.867 + lam * (-1.907 - 0.834 * lam))) / (1.0 + lam * (1.867 - 0.741 * lam))


@register_jitable
def hindrance_diffusive(lam):
    """K_d, the diffusive hindrance factor (Dechadilok & Deen 2006, eq. 17): 1 + (9/8) l ln l - 1.56034 l
    + 0.528155 l^2 + 1.91521 l^3 - 2.81903 l^4 + 0.270788 l^5 + 1.10115 l^6 - 0.435933 l^7; lambda in (0, 1)."""
    if lam <= 0.0:
        return 1.0
    poly = lam * (-1.56034 + lam * (0.528155 + lam * (1.91521 + lam * (-2.81903 + lam * (
        0.270788 + lam * (1.10115 - 0.435933 * lam))))))
    return 1.0 + 1.125 * lam * math.log(lam) + poly


@register_jitable
def sieving_coefficient(lam, peclet_factor):
    """Share of arrivals that pass a cylindrical pore: S_inf = Phi K_c without diffusion; with the membrane Peclet
    number Pe = peclet_factor * K_c / K_d (peclet_factor = v L / D [1]), S = S_inf e^Pe / (S_inf + e^Pe - 1)
    (Deen 1987). lambda [1]; 0 for lambda >= 1; at most 1."""
    phi = partition(lam)
    if phi <= 0.0:
        return 0.0
    kc = hindrance_convective(lam)
    s_inf = min(phi * kc, 1.0)
    kd = hindrance_diffusive(lam)
    if kd <= 0.0:
        return s_inf
    pe = peclet_factor * kc / kd
    if pe > 700.0:
        return s_inf
    if pe < 1e-12:
        return 1.0
    e = math.exp(pe)
    return min(s_inf * e / (s_inf + e - 1.0), 1.0)


@register_jitable
def pick_pore(u, cdf):
    """Index j of the first cumulative share cdf[j] >= u (binary search); cdf increasing, cdf[-1] = 1."""
    lo = 0
    hi = cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] < u:
            lo = mid + 1
        else:
            hi = mid
    return lo


@register_jitable
def arrive(pid, step, seed, diameter, cdf, pore_radius, prm):
    """What happens to particle ``pid`` (diameter [m]) at the membrane: (outcome, pore index). Pore radii [m];
    prm: the kernel parameters (PF_*)."""
    w = random_words(pid, step, DRAW_FILTER, seed, STREAM_FILTER)
    j = pick_pore(uniform_open(w[0]), cdf)
    r = pore_radius[j]
    lam = 0.5 * diameter / r
    if lam >= 1.0:
        return F_PLUGGED, j
    d = diffusion_coefficient(diameter, prm[PF_TEMPERATURE], prm[PF_VISCOSITY])
    factor = prm[PF_VELOCITY] * r * r * prm[PF_LENGTH] / d
    if uniform_open(w[1]) < sieving_coefficient(lam, factor):
        if uniform_open(w[2]) < prm[PF_DEPOSIT]:
            return F_DEPOSITED, j
        return F_PASSED, j
    return F_RETAINED, j
