"""Concentration polarisation at a membrane, written once for the kernels and the host: mass-transfer coefficients,
wall concentrations, the osmotic pressure of the wall layer and the permeate flux it allows. SI units.

Film model (Michaels 1968, Chem Eng Prog 64:31; Zeman & Zydney 1996, Microfiltration and Ultrafiltration,
ch. 8): a species of intrinsic (membrane) sieving coefficient S and mass-transfer coefficient k has, at the flux J,
the wall concentration c_w = c_b e^(J/k) / (1 - S + S e^(J/k)) and the permeate concentration S c_w; the observed
sieving is S e^(J/k) / (1 - S + S e^(J/k)).

Flux of a feed: the osmotic-pressure model (Wijmans, Nakao & Smolders 1984, J Membr Sci 20:115),
J = (dP - d_pi) / (eta R_m), d_pi = pi(wall) - pi(permeate), with pi of the mixture of hard spheres of the species'
hydrodynamic diameters (Carnahan & Starling 1969, J Chem Phys 51:635): pi = kB T n Z(phi),
Z = (1 + phi + phi^2 - phi^3) / (1 - phi)^3, n the total number density, phi the total volume fraction; bounded by
the packing limit (gel polarisation: Michaels 1968; Blatt, Dravid, Michaels & Nelsen 1970): the wall layer's
volume fraction cannot exceed PHI_MAX, random close packing of spheres (Scott & Kilgour 1969: 0.64), so the
flux is at most the one at which it reaches PHI_MAX (the limiting, pressure-independent flux
J = k ln(phi_max / phi_b) of one fully retained species).

Every function here works on Python floats and inside numba.njit / numba.cuda.jit code; ``solve_flux`` and
``wall_fraction`` take numpy arrays (one entry per species).
"""
import math

from numba.extending import register_jitable

from .formulas import BOLTZMANN

PHI_MAX = 0.64               # random close packing of spheres (Scott & Kilgour 1969, J Phys D 2:863)
EXP_CAP = 700.0              # e^700 ~ 1e304: polarisation beyond is treated as infinite

MT_POWER = 0                 # k = c D^p: Leveque (crossflow channel, p = 2/3), stirred cell (p = 0.67)
MT_NATURAL = 1               # natural convection along a vertical membrane in a field (Churchill & Chu 1975)


@register_jitable
def polarisation_factor(s, x):
    """c_w / c_b = e^x / (1 - s + s e^x) of the film model, x = J / k [1], s the intrinsic sieving [1]; written
    as 1 / ((1 - s) e^-x + s) so that it never overflows (1 / s for x -> infinity, e^x for s = 0)."""
    if x > EXP_CAP:
        x = EXP_CAP
    return 1.0 / ((1.0 - s) * math.exp(-x) + s)


@register_jitable
def observed_sieving(s, x):
    """Observed sieving c_p / c_b = s e^x / (1 - s + s e^x) (film model), x = J / k [1]; at most 1."""
    return min(s * polarisation_factor(s, x), 1.0)


@register_jitable
def churchill_chu_sherwood(rayleigh, schmidt):
    """Sherwood number k L / D of natural convection along a vertical plate, any Rayleigh number (Churchill & Chu
    1975, Int J Heat Mass Transfer 18:1323, eq. 6, with the Schmidt number for the Prandtl number):
    Sh = {0.825 + 0.387 Ra^(1/6) / [1 + (0.492 / Sc)^(9/16)]^(8/27)}^2. Ra, Sc [1]."""
    if rayleigh < 0.0:
        rayleigh = 0.0
    f = (1.0 + (0.492 / schmidt) ** (9.0 / 16.0)) ** (8.0 / 27.0)
    root = 0.825 + 0.387 * rayleigh ** (1.0 / 6.0) / f
    return root * root


@register_jitable
def mass_transfer(diffusion, model, coeff, power, group, length, nu):
    """Mass-transfer coefficient k [m/s] of a species of diffusion coefficient D [m^2/s].

    model MT_POWER: k = coeff D^power (Leveque's crossflow channel, coeff = 0.807 (gamma / L)^(1/3), power 2/3;
    a stirred cell, coeff = 0.23 (omega r^2 / nu)^0.567 nu^0.33 / r, power 0.67: Smith, Colton, Merrill & Evans
    1968, Chem Eng Prog Symp Ser 64:45).
    model MT_NATURAL: natural convection along a vertical membrane of height ``length`` [m] in the field of a
    centrifuge: Ra = group / D with group = a |d_rho| L^3 / eta [m^2/s] (a the acceleration, d_rho the wall
    layer's excess density), Sc = nu / D (nu [m^2/s] the kinematic viscosity), k = Sh(Ra, Sc) D / L."""
    if model == MT_NATURAL:
        return churchill_chu_sherwood(group / diffusion, nu / diffusion) * diffusion / length
    return coeff * diffusion ** power


@register_jitable
def carnahan_starling(phi):
    """Carnahan-Starling compressibility Z = pi / (n kB T) of hard spheres at volume fraction phi [1]:
    (1 + phi + phi^2 - phi^3) / (1 - phi)^3."""
    return (1.0 + phi + phi * phi - phi * phi * phi) / ((1.0 - phi) ** 3)


@register_jitable
def osmotic_pressure(number_density, volume_fraction, temperature):
    """Osmotic pressure [Pa] of hard spheres: kB T n Z(phi) (Carnahan & Starling 1969); n [1/m^3], phi [1],
    temperature [K]."""
    return BOLTZMANN * temperature * number_density * carnahan_starling(volume_fraction)


@register_jitable
def wall_state(flux, n_b, vol, s, k, temperature):
    """(wall volume fraction [1], osmotic pressure difference wall - permeate [Pa]) at the flux J [m/s] for species
    of bulk number densities n_b [1/m^3], particle volumes vol [m^3], intrinsic sieving s [1] and mass-transfer
    coefficients k [m/s] (arrays of one length)."""
    n_w = 0.0
    phi_w = 0.0
    n_p = 0.0
    phi_p = 0.0
    for i in range(n_b.shape[0]):
        c = n_b[i] * polarisation_factor(s[i], flux / k[i])
        n_w += c
        phi_w += c * vol[i]
        if s[i] > 0.0:
            n_p += s[i] * c
            phi_p += s[i] * c * vol[i]
    if phi_w >= 1.0:
        return phi_w, math.inf
    return phi_w, osmotic_pressure(n_w, phi_w, temperature) - osmotic_pressure(n_p, min(phi_p, 0.99), temperature)


@register_jitable
def solve_flux(pressure, eta_r, n_b, vol, s, k, temperature):
    """Permeate flux [m/s] of a feed at the transmembrane pressure [Pa] through a membrane of hydraulic
    resistance R [1/m] in a liquid of viscosity eta (eta_r = eta R [Pa s/m]): the largest J with
    eta R J + d_pi(J) <= dP and wall volume fraction <= PHI_MAX (module docstring). Both conditions tighten as J
    grows, so bisection (80 halvings of [0, dP / (eta R)]) finds it; 0 for a non-positive pressure."""
    if pressure <= 0.0:
        return 0.0
    lo = 0.0
    hi = pressure / eta_r
    phi, d_pi = wall_state(hi, n_b, vol, s, k, temperature)
    if phi <= PHI_MAX and eta_r * hi + d_pi <= pressure:
        return hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        phi, d_pi = wall_state(mid, n_b, vol, s, k, temperature)
        if phi <= PHI_MAX and eta_r * mid + d_pi <= pressure:
            lo = mid
        else:
            hi = mid
    return lo
