"""CPU loops (numba.njit, parallel over particles) around the shared per-particle functions.

Compiled code is cached on disk under a key of every kernel source file (see :mod:`exosim.kernels.cache`).
"""
import numba

from .cache import cached_njit
from .filtration import arrive, membrane_passage, plugs, retentate_fate
from .formulas import diffusion_coefficient
from .layout import PT_MT_COEFF, PT_MT_LENGTH, PT_MT_MODEL, PT_MT_POWER, PT_NU, PT_TEMPERATURE, PT_VISCOSITY
from .polarisation import mass_transfer, observed_sieving, polarisation_factor, solve_flux
from .gradient import gradient_run
from .sampling import draw_truncated
from .spin import P_DOSE, P_RECORD, fixed_angle_run, swinging_bucket_run


@cached_njit(parallel=True)
def spin_swinging(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos, dose):
    """Swinging-bucket run for every active particle; particle i has global id pid0 + i."""
    record = prm[P_RECORD] > 0.5
    doses = prm[P_DOSE] > 0.5
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            o, r, w = swinging_bucket_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
            outcome[i] = o
            if record:
                pos[i, 0] = r
            if doses:
                dose[i] = w


@cached_njit(parallel=True)
def spin_fixed(pid0, step, seed, diameter, density, active, prm, seg, outcome, pos, dose):
    """Fixed-angle run for every active particle; particle i has global id pid0 + i."""
    record = prm[P_RECORD] > 0.5
    doses = prm[P_DOSE] > 0.5
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            o, x, y, z, w = fixed_angle_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg)
            outcome[i] = o
            if record:
                pos[i, 0] = x
                pos[i, 1] = y
                pos[i, 2] = z
            if doses:
                dose[i] = w


@cached_njit(parallel=True)
def spin_gradient(pid0, step, seed, diameter, density, share, active, prm, seg, rho_tab, eta_tab, osm_tab, geo_tab,
                  outcome, pos):
    """Gradient run (tabulated medium) for every active particle; particle i has global id pid0 + i."""
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            o, r = gradient_run(pid0 + i, step, seed, diameter[i], density[i], share[i], prm, seg, rho_tab,
                                eta_tab, osm_tab, geo_tab)
            outcome[i] = o
            pos[i] = r


@cached_njit(parallel=True)
def filter_arrivals(pid, step, seed, diameter, mech, cdf, pore_radius, prm, outcome, pore):
    """Arrival of particles ``pid`` (global ids) at a membrane: outcome and pore index of each."""
    for i in numba.prange(pid.shape[0]):
        o, j = arrive(pid[i], step, seed, diameter[i], mech[i], cdf, pore_radius, prm)
        outcome[i] = o
        pore[i] = j


@cached_njit(parallel=True)
def retentate_particles(pid0, step, seed, diameter, mech, active, node_r, node_w, prm, outcome):
    """Fate in a well-mixed retentate of every active particle; particle i has global id pid0 + i."""
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            outcome[i] = retentate_fate(pid0 + i, step, seed, diameter[i], mech[i], node_r, node_w, prm)


@cached_njit(parallel=True)
def passage_table(diameter, mech, node_r, node_w, pressures, prm, s_out, r_out):
    """Host helper (always on the CPU): s_out[i, j], r_out[i, j] = intrinsic sieving and rupture share of particle
    i at membrane pressure pressures[j] (kernels.filtration.membrane_passage), for the flux of a retentate."""
    for i in numba.prange(diameter.shape[0]):
        d = diffusion_coefficient(diameter[i], prm[PT_TEMPERATURE], prm[PT_VISCOSITY])
        for j in range(pressures.shape[0]):
            s, r = membrane_passage(diameter[i], mech[i], d, node_r, node_w, pressures[j], prm)
            s_out[i, j] = s
            r_out[i, j] = r


@cached_njit(parallel=True)
def plug_table(diameter, mech, radii, pressure, temperature, out):
    """out[i, b] = 1 if particle i would plug a pore of radius radii[b] at ``pressure`` [Pa], ``temperature`` [K]."""
    for i in numba.prange(diameter.shape[0]):
        for b in range(radii.shape[0]):
            out[i, b] = plugs(diameter[i], mech[i], radii[b], pressure, temperature)


@cached_njit(parallel=True)
def sample(pid0, seed, stream, kind, p1, p2, lo, hi, out):
    """Fill ``out`` with draws of one distribution for particles pid0, pid0 + 1, ..."""
    for i in numba.prange(out.shape[0]):
        out[i] = draw_truncated(pid0 + i, seed, stream, kind, p1, p2, lo, hi)



@cached_njit()
def retentate_flux(pressure, eta_r, n_b, vol, s, dcoef, excess, prm, group, k_out, s_obs_out):
    """Host helper (always on the CPU): the permeate flux J [m/s] of a retentate's feed (kernels.polarisation
    solve_flux) for species of bulk number densities n_b [1/m^3], volumes vol [m^3], intrinsic sieving s,
    diffusion coefficients dcoef [m^2/s] and excess densities over the medium ``excess`` [kg/m^3]; fills k_out
    (mass-transfer coefficients, prm's model with ``group``) and s_obs_out (observed sieving at J). Returns
    (J, wall volume fraction, wall layer's excess density over the bulk [kg/m^3])."""
    for i in range(n_b.shape[0]):
        k_out[i] = mass_transfer(dcoef[i], prm[PT_MT_MODEL], prm[PT_MT_COEFF], prm[PT_MT_POWER], group,
                                 prm[PT_MT_LENGTH], prm[PT_NU])
    flux = solve_flux(pressure, eta_r, n_b, vol, s, k_out, prm[PT_TEMPERATURE])
    phi = 0.0
    d_rho = 0.0
    for i in range(n_b.shape[0]):
        f = polarisation_factor(s[i], flux / k_out[i])
        phi += n_b[i] * f * vol[i]
        d_rho += n_b[i] * (f - 1.0) * vol[i] * excess[i]
        s_obs_out[i] = observed_sieving(s[i], flux / k_out[i])
    return flux, phi, d_rho
