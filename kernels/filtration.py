"""One particle arriving at a membrane: which pore it meets and what happens there. Scalar functions for the CPU
and CUDA loops (and for host-side physics and tests: they work on Python floats). SI units.

A particle that reaches the membrane meets pore j with probability q_j / Q, its share of the flow through the
open pores (Hagen-Poiseuille: q_j ~ r_j^4; the caller passes the cumulative shares ``cdf``). With
lambda = a / r_j (particle radius over pore radius):

- lambda >= 1: a rigid particle cannot enter; it plugs the pore mouth (``PLUGGED``: bound to the membrane);
- a vesicle (mechanics given) whose volume-equivalent radius R_V exceeds the pore's: ``vesicle_fate`` (it squeezes
  through above a critical pressure, ruptures above its lysis limit, and plugs the pore otherwise); one whose
  volume fits passes like a sphere of radius R_V;
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
from .layout import (F_DAMAGED, F_DEPOSITED, F_PASSED, F_PLUGGED, F_RETAINED, M_AREA_MODULUS,  # noqa: F401
                     M_BENDING, M_LYSIS, M_REDUCED_VOLUME, PF_DEPOSIT, PF_LENGTH, PF_PRESSURE, PF_TEMPERATURE,
                     PF_VELOCITY, PF_VISCOSITY, PT_ADSORPTION, PT_EXPOSURE, PT_FLUX, PT_LENGTH, PT_LEVEQUE,
                     PT_PRESSURE, PT_SHEAR_STRESS, PT_TEMPERATURE, PT_VELOCITY, PT_VISCOSITY, STREAM_FILTER,
                     T_ADSORBED, T_DAMAGED, T_PASSED, T_RETAINED)
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
def entry_tension(radius, reduced_volume, bending, area_modulus, r_pore):
    """Membrane tension [N/m] a vesicle needs to enter a cylindrical pore of radius r_pore [m].

    The vesicle has area A = 4 pi R^2 (R [m]: its area-equivalent radius, the population's diameter / 2) and volume
    V = v 4/3 pi R^3 (v: reduced volume). Inside the pore it is a spherocylinder of radius r_p, whose area for that
    volume is A_sc = 2 V / r_p + 4/3 pi r_p^2: if A_sc > A the membrane must stretch by eps = A_sc / A - 1, at a
    tension K_a eps (area-stretch modulus K_a [N/m]); bending the membrane into the pore's cylinder costs the
    equivalent of a tension kappa / (2 r_p^2) (Helfrich energy of a cylinder, kappa [J]). Returns their sum."""
    tension = bending / (2.0 * r_pore * r_pore)
    volume = reduced_volume * 4.0 / 3.0 * math.pi * radius ** 3
    if volume > 4.0 / 3.0 * math.pi * r_pore ** 3:
        needed = 2.0 * volume / r_pore + 4.0 / 3.0 * math.pi * r_pore * r_pore
        strain = needed / (4.0 * math.pi * radius * radius) - 1.0
        if strain > 0.0:
            tension += area_modulus * strain
    return tension


@register_jitable
def critical_pressure(radius_v, r_pore, tension, bending):
    """Pressure [Pa] that pushes a vesicle of volume-equivalent radius radius_v [m] through a pore r_pore [m] at
    membrane tension ``tension`` [N/m]: the Laplace estimate 2 tau (1/r_p - 1/R_V) (docs/reference/physics.md),
    times sqrt(x / (x + l)), x = R_V - r_p, l = sqrt(kappa / tau) the bending length, so that near threshold it
    scales as x^(3/2) (Zheng, Ye, Komura & Doi 2022, arXiv 2210.08991: critical pressure ~ (R0 - a)^(3/2)) and far
    from it tends to Laplace's. 0 when R_V <= r_p."""
    x = radius_v - r_pore
    if x <= 0.0:
        return 0.0
    ell = math.sqrt(bending / tension)
    return 2.0 * tension * (1.0 / r_pore - 1.0 / radius_v) * math.sqrt(x / (x + ell))


@register_jitable
def vesicle_fate(diameter, mech, r_pore, pressure):
    """F_PASSED, F_PLUGGED or F_DAMAGED for a vesicle (diameter [m]: area-equivalent; mech: its row of the
    mechanics array) larger in volume than a pore of radius r_pore [m], pushed by ``pressure`` [Pa]:
    it passes if the pressure reaches the critical pressure at the tension it needs (``entry_tension``) and that
    tension stays below its lysis tension; if it needs more than the lysis tension, it ruptures once the pressure
    reaches the critical pressure at the lysis tension; otherwise it stays in the pore mouth."""
    radius = 0.5 * diameter
    v = mech[M_REDUCED_VOLUME]
    kappa = mech[M_BENDING]
    radius_v = radius * v ** (1.0 / 3.0)
    need = entry_tension(radius, v, kappa, mech[M_AREA_MODULUS], r_pore)
    lysis = mech[M_LYSIS]
    if need <= lysis:
        if pressure >= critical_pressure(radius_v, r_pore, need, kappa):
            return F_PASSED
        return F_PLUGGED
    if pressure >= critical_pressure(radius_v, r_pore, lysis, kappa):
        return F_DAMAGED
    return F_PLUGGED


@register_jitable
def plugs(diameter, mech, r_pore, pressure):
    """1 if a particle would stay in the mouth of a pore of radius r_pore [m] (rigid: diameter >= 2 r_p; a vesicle:
    ``vesicle_fate`` is F_PLUGGED), else 0."""
    if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]:  # a vesicle (not NaN)
        if 0.5 * diameter * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0) <= r_pore:
            return 0
        return 1 if vesicle_fate(diameter, mech, r_pore, pressure) == F_PLUGGED else 0
    return 1 if diameter >= 2.0 * r_pore else 0


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
def arrive(pid, step, seed, diameter, mech, cdf, pore_radius, prm):
    """What happens to particle ``pid`` (diameter [m]; mech: its mechanics row, NaN for a rigid particle) at the
    membrane: (outcome, pore index). Pore radii [m]; prm: the kernel parameters (PF_*)."""
    w = random_words(pid, step, DRAW_FILTER, seed, STREAM_FILTER)
    j = pick_pore(uniform_open(w[0]), cdf)
    r = pore_radius[j]
    lam = 0.5 * diameter / r
    if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]:  # a vesicle: its volume decides whether it must squeeze
        lam = lam * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0)
        if lam >= 1.0:
            return vesicle_fate(diameter, mech, r, prm[PF_PRESSURE]), j
    if lam >= 1.0:
        return F_PLUGGED, j
    size = 2.0 * lam * r          # the sphere that passes: a vesicle's volume-equivalent diameter
    d = diffusion_coefficient(size, prm[PF_TEMPERATURE], prm[PF_VISCOSITY])
    factor = prm[PF_VELOCITY] * r * r * prm[PF_LENGTH] / d
    if uniform_open(w[1]) < sieving_coefficient(lam, factor):
        if uniform_open(w[2]) < prm[PF_DEPOSIT]:
            return F_DEPOSITED, j
        return F_PASSED, j
    return F_RETAINED, j


@register_jitable
def polarised_sieving(s_membrane, flux, k_mass):
    """Observed sieving with concentration polarisation: the wall concentration is the bulk's times
    e^(J/k) for the retained share, S_obs = S e^(J/k) / (1 - S + S e^(J/k)) (film model; e.g. Zeman & Zydney 1996,
    Microfiltration and Ultrafiltration, ch. 8). J [m/s] flux, k [m/s] mass-transfer coefficient."""
    if s_membrane <= 0.0:
        return 0.0
    x = flux / k_mass
    if x > 700.0:
        return 1.0
    e = math.exp(x)
    return s_membrane * e / (1.0 - s_membrane + s_membrane * e)


@register_jitable
def tff_fate(pid, step, seed, diameter, mech, node_r, node_w, prm):
    """Fate of one particle through a tangential-flow filtration (concentration and diafiltration): T_RETAINED,
    T_PASSED (to the filtrate), T_DAMAGED (a vesicle ruptured in a pore or by shear) or T_ADSORBED (a retained
    vesicle lost on the membrane).

    The retentate is well mixed; every filtrate volume carries its share of the retentate's particles to the
    membrane, so a particle meets the membrane at the rate E (``PT_EXPOSURE``: ln of the concentration factor plus
    the diavolumes) and there meets pore radius r with the flow weights ``node_w`` (quadrature nodes ``node_r`` of
    the pore distribution). Rates per unit exposure: passage S (hindered transport, or a vesicle squeezing
    through; polarised), rupture R (share of flow-weighted pores at which the vesicle ruptures), adsorption A
    (retained vesicles). Competing risks: P(pass) = S / T (1 - e^-(T E)), T = S + R + A, and so on; retained
    otherwise. A vesicle whose membrane tension from the peak shear stress, (5/2) tau_s R, exceeds its lysis
    tension ruptures first (sphere in shear flow, viscous traction ~ tau_s R)."""
    is_vesicle = mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]
    radius = 0.5 * diameter
    if is_vesicle and 2.5 * prm[PT_SHEAR_STRESS] * radius > mech[M_LYSIS]:
        return T_DAMAGED
    d = diffusion_coefficient(diameter, prm[PT_TEMPERATURE], prm[PT_VISCOSITY])
    s = 0.0
    rupture = 0.0
    for k in range(node_r.shape[0]):
        r = node_r[k]
        lam = radius / r
        if is_vesicle:
            lam = lam * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0)
            if lam >= 1.0:
                fate = vesicle_fate(diameter, mech, r, prm[PT_PRESSURE])
                if fate == F_PASSED:
                    s += node_w[k]
                elif fate == F_DAMAGED:
                    rupture += node_w[k]
                continue
        if lam < 1.0:
            s += node_w[k] * sieving_coefficient(lam, prm[PT_VELOCITY] * r * r * prm[PT_LENGTH] / d)
    s = polarised_sieving(min(s, 1.0), prm[PT_FLUX], prm[PT_LEVEQUE] * d ** (2.0 / 3.0))
    ads = prm[PT_ADSORPTION] if is_vesicle else 0.0
    total = s + rupture + ads
    if total <= 0.0:
        return T_RETAINED
    w = random_words(pid, step, DRAW_FILTER, seed, STREAM_FILTER)
    u = uniform_open(w[0])
    if u >= -math.expm1(-total * prm[PT_EXPOSURE]):
        return T_RETAINED
    v = uniform_open(w[1]) * total
    if v < s:
        return T_PASSED
    if v < s + rupture:
        return T_DAMAGED
    return T_ADSORBED
