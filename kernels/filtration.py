"""One particle at a membrane: which pore it meets in a dead-end filter and what happens there, and its fate in a
well-mixed retentate (tangential flow, a stirred cell, a centrifugal concentrator). Scalar functions for the CPU
and CUDA loops (and for host-side physics and tests: they work on Python floats). SI units.

A particle that reaches the membrane meets pore j with probability q_j / Q, its share of the flow through the
open pores (Hagen-Poiseuille: q_j ~ r_j^4; the caller passes the cumulative shares ``cdf``). With
lambda = a / r_j (particle radius over pore radius):

- a rigid particle with lambda >= 1 cannot enter; it sits on the pore mouth (``PLUGGED``): the host decides
  whether it seals the pore (a particle about the pore's size, smaller than the pore pitch: Hermia's complete
  blocking) or joins the deposit, which the retentate takes back;
- a vesicle (mechanics given) whose volume-equivalent radius R_V exceeds the pore's: ``vesicle_fate`` (it squeezes
  through above a critical pressure, ruptures above its lysis limit, and stays in the pore mouth otherwise); one
  whose volume fits enters the pore and passes (the critical pressure falls to 0 as R_V -> r_p: passage is
  continuous and never rises with size);
- a rigid particle with lambda < 1 passes with the sieving coefficient S of hindered transport in a cylindrical
  pore (Dechadilok & Deen 2006, Ind Eng Chem Res 45:6953; Deen 1987, AIChE J 33:1409): partition
  Phi = (1 - lambda)^2, hindrance factors K_c (convection) and K_d (diffusion), asymptotic sieving S_inf = Phi K_c,
  and with the membrane Peclet number Pe = K_c v L / (K_d D) (v the pore's mean velocity, L its length, D the
  particle's diffusion coefficient), S = S_inf e^Pe / (S_inf + e^Pe - 1); one that does not pass is ``RETAINED``
  (deposit or polarisation layer: the retentate).
A passing particle deposits inside the pore with probability ``PF_DEPOSIT`` (``DEPOSITED``: bound, narrowing the
pore: standard blocking).

The pore state (open, radius) is shared by all particles and changes only between batches of arrivals (the host,
exosim/methods/filtration.py), so every particle of a batch is independent: no atomics, the same fates on every
backend and for any chunking.
"""
import math

from numba.extending import register_jitable

from .formulas import ISO_OSMOLALITY, diffusion_coefficient, osmotic_pressure
from .layout import (F_DAMAGED, F_DEPOSITED, F_PASSED, F_PLUGGED, F_RETAINED, M_AREA_MODULUS,  # noqa: F401
                     M_BENDING, M_LYSIS, M_OSMOTIC, M_REDUCED_VOLUME, NT_PARAMS, PF_DEPOSIT, PF_LENGTH, PF_PRESSURE,
                     PF_TEMPERATURE, PF_VELOCITY, PF_VISCOSITY, PT_ADSORPTION, PT_LENGTH, PT_MT_COEFF, PT_MT_LENGTH,
                     PT_MT_MODEL, PT_MT_POWER, PT_NSEG, PT_NU, PT_SHEAR_STRESS, PT_TEMPERATURE, PT_VISCOSITY,
                     SEG_EXPOSURE, SEG_FLUX, SEG_GROUP, SEG_PRESSURE, SEG_WIDTH, STREAM_FILTER, T_ADSORBED,
                     T_DAMAGED, T_PASSED, T_RETAINED)
from .philox import random_words, uniform_open
from .polarisation import mass_transfer, observed_sieving

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
def squeezed_reduced_volume(reduced_volume, osmotic_share, pressure, temperature):
    """Reduced volume [1] of a vesicle held in a pore mouth by the pressure across the membrane, once water has
    left it.

    A vesicle that cannot enter at once is held with its interior above the filtrate-side pressure by at least the
    applied pressure dP (the tongue in the pore faces the filtrate; the Laplace excess 2 tau / R_out adds to it on
    the outer cap). Water crosses the bilayer (Kedem & Katchalsky 1958, Biochim Biophys Acta 27:229:
    J_v = L_p (dP - sigma dPi), sigma = 1 for the lumen's salts) until the lumen's osmotic pressure has risen by
    dP; its osmotically active water shrinks as Pi_0 / (Pi_0 + dP) (Boyle-van 't Hoff, as in
    exosim.physics.gradient_media.vesicle_density), so the volume becomes V (1 - a dP / (Pi_0 + dP)), a the
    osmotically active share of the volume, Pi_0 the lumen's osmotic pressure (0.290 osmol/kg, iso-osmotic with
    the medium). Taking the drive as dP (not the larger area-weighted Laplace excess) makes this a lower estimate
    for vesicles within twice the pore radius, the ones it decides. It takes R / (3 P_f v_w c_0) ~ 0.1-1 s
    (P_f 10-50 um/s, Olbrich et al. 2000, Biophys J 79:321), short beside the time a vesicle waits in a pore.
    Quasi-static: the vesicle's fate is decided at the volume it keeps, as if the tension built up more slowly
    than water leaves; a pressure step far above a vesicle's lysis-tension critical pressure would rupture it
    before the water could go (not modelled: docs/filtration.md).

    Args: reduced_volume [1], osmotic_share a [1], pressure dP [Pa] (>= 0), temperature [K]."""
    if pressure <= 0.0 or osmotic_share <= 0.0:
        return reduced_volume
    pi0 = osmotic_pressure(ISO_OSMOLALITY, temperature)
    return reduced_volume * (1.0 - osmotic_share * pressure / (pi0 + pressure))


@register_jitable
def vesicle_fate(diameter, mech, r_pore, pressure, temperature):
    """F_PASSED, F_PLUGGED or F_DAMAGED for a vesicle (diameter [m]: area-equivalent; mech: its row of the
    mechanics array) larger in volume than a pore of radius r_pore [m], pushed by ``pressure`` [Pa] at
    ``temperature`` [K]: held in the pore mouth it loses water (``squeezed_reduced_volume``); then it passes if
    the pressure reaches the critical pressure at the tension it needs (``entry_tension``) and that tension stays
    below its lysis tension; if it needs more than the lysis tension, it ruptures once the pressure reaches the
    critical pressure at the lysis tension; otherwise it stays in the pore mouth."""
    radius = 0.5 * diameter
    v = squeezed_reduced_volume(mech[M_REDUCED_VOLUME], mech[M_OSMOTIC], pressure, temperature)
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
def plugs(diameter, mech, r_pore, pressure, temperature):
    """1 if a particle would stay in the mouth of a pore of radius r_pore [m] at ``pressure`` [Pa] and
    ``temperature`` [K] (rigid: diameter >= 2 r_p; a vesicle: ``vesicle_fate`` is F_PLUGGED), else 0."""
    if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]:  # a vesicle (not NaN)
        if 0.5 * diameter * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0) <= r_pore:
            return 0
        return 1 if vesicle_fate(diameter, mech, r_pore, pressure, temperature) == F_PLUGGED else 0
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
    membrane: (outcome, pore index). Pore radii [m]; prm: the kernel parameters (PF_*).

    A vesicle whose volume fits the pore (R_V <= r_p) enters it: its critical pressure is 0 there (the limit of
    ``critical_pressure`` at R_V -> r_p), so it passes as readily as any vesicle larger than it and at least as
    readily as the rigid sphere of its size; a larger one squeezes, ruptures or stays (``vesicle_fate``). A rigid
    particle passes with its hindered-transport sieving coefficient, or stays (F_RETAINED, lambda < 1; F_PLUGGED,
    lambda >= 1: it sits on the pore mouth; the host decides whether it seals the pore or joins the deposit)."""
    w = random_words(pid, step, DRAW_FILTER, seed, STREAM_FILTER)
    j = pick_pore(uniform_open(w[0]), cdf)
    r = pore_radius[j]
    lam = 0.5 * diameter / r
    if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]:  # a vesicle: its volume decides whether it must squeeze
        if lam * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0) >= 1.0:
            return vesicle_fate(diameter, mech, r, prm[PF_PRESSURE], prm[PF_TEMPERATURE]), j
        passes = True
    elif lam >= 1.0:
        return F_PLUGGED, j
    else:
        d = diffusion_coefficient(diameter, prm[PF_TEMPERATURE], prm[PF_VISCOSITY])
        factor = prm[PF_VELOCITY] * r * r * prm[PF_LENGTH] / d
        passes = uniform_open(w[1]) < sieving_coefficient(lam, factor)
    if passes:
        if uniform_open(w[2]) < prm[PF_DEPOSIT]:
            return F_DEPOSITED, j
        return F_PASSED, j
    return F_RETAINED, j


@register_jitable
def membrane_passage(diameter, mech, d_coeff, node_r, node_w, pressure, prm):
    """(S, R): the intrinsic sieving coefficient [1] of a particle over the flow-weighted pore sizes (quadrature
    nodes ``node_r`` [m], weights ``node_w`` summing to 1) at the pressure across the membrane [Pa], and the
    flow-weighted share of pores in which a vesicle ruptures. Per node as in ``arrive``: a vesicle whose volume
    fits passes (S = 1 there), a larger one squeezes through (1), ruptures (R) or stays (0); a rigid particle
    passes with its hindered-transport sieving coefficient at the pore's Peclet factor v L / D, v = r^2 dP /
    (8 eta L) (Hagen-Poiseuille). d_coeff: its diffusion coefficient [m^2/s]; prm: PT_* parameters."""
    is_vesicle = mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME]
    radius = 0.5 * diameter
    if is_vesicle:
        radius = radius * mech[M_REDUCED_VOLUME] ** (1.0 / 3.0)
    velocity = pressure / (8.0 * prm[PT_VISCOSITY] * prm[PT_LENGTH])
    s = 0.0
    rupture = 0.0
    for k in range(node_r.shape[0]):
        r = node_r[k]
        lam = radius / r
        if is_vesicle:
            if lam < 1.0:
                s += node_w[k]
                continue
            fate = vesicle_fate(diameter, mech, r, pressure, prm[PT_TEMPERATURE])
            if fate == F_PASSED:
                s += node_w[k]
            elif fate == F_DAMAGED:
                rupture += node_w[k]
        elif lam < 1.0:
            s += node_w[k] * sieving_coefficient(lam, velocity * r * r * prm[PT_LENGTH] / d_coeff)
    return min(s, 1.0), rupture


@register_jitable
def segment_rates(diameter, mech, d_coeff, node_r, node_w, prm, j):
    """(passage, rupture, adsorption) rates per unit exposure of a particle in segment j of a well-mixed
    retentate: the observed (polarised) sieving at the segment's flux and the particle's mass-transfer
    coefficient, the rupture share and the adsorption rate of a retained vesicle."""
    base = NT_PARAMS + SEG_WIDTH * j
    s, rupture = membrane_passage(diameter, mech, d_coeff, node_r, node_w, prm[base + SEG_PRESSURE], prm)
    k = mass_transfer(d_coeff, prm[PT_MT_MODEL], prm[PT_MT_COEFF], prm[PT_MT_POWER], prm[base + SEG_GROUP],
                      prm[PT_MT_LENGTH], prm[PT_NU])
    s = observed_sieving(s, prm[base + SEG_FLUX] / k)
    ads = prm[PT_ADSORPTION] if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME] else 0.0
    return s, rupture, ads


@register_jitable
def retentate_fate(pid, step, seed, diameter, mech, node_r, node_w, prm):
    """Fate of one particle in a well-mixed retentate filtered through a membrane (tangential flow, a stirred
    cell, a centrifugal concentrator: concentration and diafiltration): T_RETAINED, T_PASSED (to the filtrate),
    T_DAMAGED (a vesicle ruptured in a pore or by shear) or T_ADSORBED (a retained vesicle lost on the membrane).

    Every filtrate volume dV carries its share dV / V of the retentate's particles to the membrane, so a particle
    meets it at the rate dE = dV / V; the process is ``prm[PT_NSEG]`` segments of exposure dE_j, flux J_j and
    membrane pressure P_j (exosim/methods/retentate.py). In segment j the particle has the rates (per unit
    exposure) of passage s_j (observed sieving, ``segment_rates``), rupture r_j and adsorption a_j. Competing
    risks with piecewise-constant rates: with H the cumulative total rate, an event happens with probability
    1 - e^-H_end, in the segment where H crosses -ln(1 - u), and is passage, rupture or adsorption in proportion
    to that segment's rates. A vesicle whose membrane tension from the peak shear stress, (5/2) tau_s R, exceeds
    its lysis tension ruptures first (sphere in shear flow, viscous traction ~ tau_s R)."""
    if mech[M_REDUCED_VOLUME] == mech[M_REDUCED_VOLUME] and \
            2.5 * prm[PT_SHEAR_STRESS] * 0.5 * diameter > mech[M_LYSIS]:
        return T_DAMAGED
    d = diffusion_coefficient(diameter, prm[PT_TEMPERATURE], prm[PT_VISCOSITY])
    w = random_words(pid, step, DRAW_FILTER, seed, STREAM_FILTER)
    target = -math.log1p(-uniform_open(w[0]))   # the cumulative rate at which the particle's event happens
    nseg = int(prm[PT_NSEG])
    h = 0.0
    for j in range(nseg):
        s, rupture, ads = segment_rates(diameter, mech, d, node_r, node_w, prm, j)
        total = s + rupture + ads
        h += total * prm[NT_PARAMS + SEG_WIDTH * j + SEG_EXPOSURE]
        if h >= target and total > 0.0:
            v = uniform_open(w[1]) * total
            if v < s:
                return T_PASSED
            if v < s + rupture:
                return T_DAMAGED
            return T_ADSORBED
    return T_RETAINED
