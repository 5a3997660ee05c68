"""CPU loops (numba.njit, parallel over particles) around the shared per-particle functions.

Compiled code is cached on disk under a key of every kernel source file (see :mod:`exosim.kernels.cache`).
"""
import numba

from .cache import cached_njit
from .filtration import arrive, plugs, tff_fate
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
def spin_gradient(pid0, step, seed, diameter, density, active, prm, seg, rho_tab, eta_tab, geo_tab, outcome,
                  pos):
    """Gradient run (tabulated medium) for every active particle; particle i has global id pid0 + i."""
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            o, r = gradient_run(pid0 + i, step, seed, diameter[i], density[i], prm, seg, rho_tab, eta_tab,
                                geo_tab)
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
def tff_particles(pid0, step, seed, diameter, mech, active, node_r, node_w, prm, outcome):
    """Tangential-flow fate of every active particle; particle i has global id pid0 + i."""
    for i in numba.prange(diameter.shape[0]):
        if active[i]:
            outcome[i] = tff_fate(pid0 + i, step, seed, diameter[i], mech[i], node_r, node_w, prm)


@cached_njit(parallel=True)
def plug_table(diameter, mech, radii, pressure, out):
    """out[i, b] = 1 if particle i would plug a pore of radius radii[b] at ``pressure``."""
    for i in numba.prange(diameter.shape[0]):
        for b in range(radii.shape[0]):
            out[i, b] = plugs(diameter[i], mech[i], radii[b], pressure)


@cached_njit(parallel=True)
def sample(pid0, seed, stream, kind, p1, p2, lo, hi, out):
    """Fill ``out`` with draws of one distribution for particles pid0, pid0 + 1, ..."""
    for i in numba.prange(out.shape[0]):
        out[i] = draw_truncated(pid0 + i, seed, stream, kind, p1, p2, lo, hi)

