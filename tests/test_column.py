"""The liquid column along the radius (exosim.physics.column) and density gradients in fixed-angle tubes.

Expected values come from an independent point cloud: points drawn uniformly in the tilted cylinder by this test
(axis position t ~ U(0, L), a uniform point of the disk), whose distances from the rotation axis are a sample of
"radius of a point uniform in the liquid". Tolerances: 5 binomial standard errors of the cloud (and of the
kernel's particles where they are compared), or a two-sample Kolmogorov-Smirnov test at p > 1e-4.
"""
import math

import numpy as np
import pytest
import yaml
from scipy import stats

from exosim import CPU
from exosim.config import CONFIG_ROOT
from exosim.methods.gradient import gradient_params, geometry_table, run_tables
from exosim.physics import column
from exosim.physics.rotors import FixedAngleTube

ROTORS = {r["name"]: r for r in yaml.safe_load((CONFIG_ROOT / "rotors.yaml").read_text())["rotors"]}
KB = 1.380649e-23
TEMP = 277.15


def tube_of(name):
    """FixedAngleTube of a catalog rotor, from the YAML's radii [mm], angle [deg] and tube diameter [mm]."""
    r = ROTORS[name]
    mm = lambda key: float(str(r[key]).split()[0]) * 1e-3  # noqa: E731
    return FixedAngleTube.from_rotor(mm("r_min"), mm("r_max"), math.radians(float(str(r["angle"]).split()[0])),
                                     mm("tube_diameter"))


def cloud_radii(tube, n=400_000, seed=5):
    """Distances from the rotation axis of n points uniform in the tube cylinder (numpy, independent of exosim)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, tube.length, n)
    rho = tube.radius * np.sqrt(rng.uniform(0.0, 1.0, n))
    phi = rng.uniform(0.0, 2 * math.pi, n)
    e, y = rho * np.cos(phi), rho * np.sin(phi)
    x = tube.r_top + t * math.sin(tube.angle) + e * math.cos(tube.angle)
    return np.hypot(x, y)


FIXED = ["Type 70 Ti", "TLA-100.3"]


def test_constant_column_is_exact():
    col = column.Column.constant(0.06, 0.15, 12e-6)
    edges = np.linspace(0.06, 0.15, 7)
    assert col.cell_volumes(edges) == pytest.approx(np.full(6, 2e-6), rel=1e-12)
    assert float(col.radius_at_volume(3e-6)) == pytest.approx(0.15 - 0.09 * 3 / 12, rel=1e-12)
    assert np.all(col.log_area_slope(edges) == 0.0)


@pytest.mark.parametrize("name", FIXED)
def test_fixed_angle_column_volumes_match_a_point_cloud(name):
    tube = tube_of(name)
    col = column.fixed_angle(tube)
    assert col.volume == pytest.approx(math.pi * tube.radius ** 2 * tube.length, rel=2e-4)
    radii = cloud_radii(tube)
    assert col.radii[0] == pytest.approx(radii.min(), abs=2e-4) and col.radii[-1] == pytest.approx(radii.max(),
                                                                                                    abs=2e-4)
    for q in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98):
        r = float(np.quantile(radii, 1 - q))
        share = col.volume_beyond(r) / col.volume          # should equal q
        se = math.sqrt(q * (1 - q) / len(radii))
        assert share == pytest.approx(q, abs=5 * se + 1e-4), (q, share)


def test_log_area_slope_of_a_known_section():
    r = np.linspace(0.05, 0.1, 2001)
    col = column.Column.from_area(r, r ** 3)           # A ~ r^3: d ln A/dr = 3 / r
    x = np.array([0.06, 0.075, 0.09])
    assert col.log_area_slope(x) == pytest.approx(3 / x, rel=1e-4)


def run_fixed(tube_name, segments, diameter, rho_p, rho_m, eta, start_share, fill=1.0, n=20_000, seed=3):
    """Particles in a medium of density rho_m [kg/m^3] (a number, or a function of the radius [m] evaluated on the
    medium table's grid) and viscosity eta [Pa s] in a fixed-angle tube filled to ``fill`` of
    its cylinder, started uniformly in the top ``start_share`` of the liquid volume; returns final radii [m] and
    the tube."""
    tube = tube_of(tube_name)
    col = column.fixed_angle(tube)
    r_men = float(col.radius_at_volume(fill * col.volume))
    r_bot = col.r_max
    grid = np.linspace(r_men, r_bot, 201)[:-1] + 0.5 * (r_bot - r_men) / 200
    start = (r_men, float(col.radius_at_volume(fill * col.volume * (1 - start_share))))
    t_total = float(np.sum(segments[:, 0]))
    rho = np.broadcast_to(rho_m(grid) if callable(rho_m) else rho_m, (2, len(grid))).copy()
    visc = np.full((2, len(grid)), eta)
    prm = gradient_params(r_men, r_bot, grid, np.array([0.0, t_total]), start, TEMP, start_points=len(grid))
    geo = geometry_table(col, grid, start)
    d = np.full(n, diameter)
    dens = np.full(n, rho_p)
    outcome, r = run_tables(CPU(), prm, segments, rho, visc, d, dens, np.ones(n, bool), seed=seed, step=0,
                            geo_table=geo)
    return np.asarray(r), np.asarray(outcome), tube, r_men


@pytest.mark.both_precisions
def test_start_is_uniform_in_volume():
    """A negligible run: particles stay where they start, uniformly in the volume of the loaded top 30 %."""
    seg = np.array([[1e-3, 0.0]])
    r, _, tube, r_men = run_fixed("Type 70 Ti", seg, 100e-9, 1000.0, 1000.0, 1.57e-3, start_share=0.3)
    cloud = cloud_radii(tube)
    top = cloud[cloud <= np.quantile(cloud, 0.3)]
    assert stats.ks_2samp(r, top).pvalue > 1e-4


def test_diffusion_fills_the_tube_uniformly_in_volume():
    """No field, a small particle, long enough to mix: the particles end uniform in the liquid's volume, i.e.
    distributed like the cloud's radii (density A(r), not uniform in r: the geometric drift D d ln A/dr)."""
    d = 1e-9
    D = KB * TEMP / (3 * math.pi * 1.57e-3 * d)
    t = 0.05 ** 2 / D                            # ~10 relaxation times L^2 / (pi^2 D) of the ~50-mm column
    seg = np.array([[t, 0.0]])
    r, outcome, tube, _ = run_fixed("Type 70 Ti", seg, d, 1000.0, 1000.0, 1.57e-3, start_share=0.1, n=8000)
    assert np.all(outcome == 0)
    cloud = cloud_radii(tube)
    assert stats.ks_2samp(r, cloud).pvalue > 1e-4
    # and not uniform in r (what a kernel without the geometric drift would give)
    assert stats.kstest(r, stats.uniform(cloud.min(), np.ptp(cloud)).cdf).pvalue < 1e-6


def test_floater_equilibrium_follows_area_times_boltzmann():
    """A floater at sedimentation equilibrium against the meniscus of a full tube: density A(r) exp(s w2 r^2 / 2D)
    (Boltzmann in the centrifugal potential, times the section). Expected mean radius: the cloud's radii
    weighted by the Boltzmann factor."""
    d, rho_p, rho_m, eta = 20e-9, 950.0, 1000.0, 1.57e-3
    s = d * d * (rho_p - rho_m) / (18 * eta)
    D = KB * TEMP / (3 * math.pi * eta * d)
    tube = tube_of("Type 70 Ti")
    r_ref = tube.r_top
    w2 = D / (abs(s) * r_ref * 0.006)            # boundary layer ~6 mm at the top of the tube
    drift_time = 0.06 / (abs(s) * w2 * r_ref)
    seg = np.array([[5 * drift_time, w2]])
    r, outcome, tube, r_men = run_fixed("Type 70 Ti", seg, d, rho_p, rho_m, eta, start_share=1.0, n=6000)
    assert np.all(outcome == 0)
    cloud = cloud_radii(tube)
    wgt = np.exp(s * w2 * (cloud ** 2 - r_men ** 2) / (2 * D))
    mean = float(np.sum(cloud * wgt) / np.sum(wgt))
    sd = math.sqrt(float(np.sum((cloud - mean) ** 2 * wgt) / np.sum(wgt)))
    n_eff = np.sum(wgt) ** 2 / np.sum(wgt ** 2)
    tol = 5 * sd * math.sqrt(1 / len(r) + 1 / n_eff)
    assert abs(r.mean() - mean) < tol, (r.mean(), mean, tol)
    # the section matters here: Boltzmann alone (uniform in r) would put the mean elsewhere by many tolerances
    grid = np.linspace(r_men, cloud.max(), 20001)
    b = np.exp(s * w2 * (grid ** 2 - r_men ** 2) / (2 * D))
    assert abs(np.trapezoid(grid * b, grid) / np.trapezoid(b, grid) - mean) > 5 * tol


FIXED_PROTOCOL = """
name: fixed-angle isopycnic
temperature: 4 degC
steps:
  - kind: gradient
    rotor: TLA-100.3
    medium: iodixanol
    layers: [{conc: 40 %, volume: 0.8 mL}, {conc: 20 %, volume: 0.8 mL}, {conc: 10 %, volume: 0.8 mL},
             {conc: 5 %, volume: 0.6 mL}]
    load: top
    load_volume: 0.5 mL
    rcf: 100000 g
    duration: 6 h
  - kind: fractionate
    fractions: 7
    keep: {fractions: [3, 4]}
"""

FIXED_SAMPLE = """
name: two densities
volume: 0.5 mL
medium: PBS
populations:
  - {name: exosome, target: true, concentration: 1e10 /mL, diameter: 150 nm, density: 1.10 g/mL}
  - {name: aggregate, concentration: 1e9 /mL, diameter: 150 nm, density: 1.30 g/mL}
"""


def test_fixed_angle_gradient_end_to_end(tmp_path):
    """A layered iodixanol gradient in a fixed-angle TLA-100.3: fractions hold equal volumes of the tilted tube
    (checked against the point cloud), the medium's solute is conserved, particles denser than the whole
    gradient pellet, and 150-nm vesicles of 1.10 g/mL band where the final medium has their density."""
    import exosim
    from exosim.methods import plan_protocol

    (tmp_path / "p.yaml").write_text(FIXED_PROTOCOL)
    (tmp_path / "s.yaml").write_text(FIXED_SAMPLE)
    prot, smp = exosim.load_protocol(tmp_path / "p.yaml"), exosim.load_sample(tmp_path / "s.yaml")
    grad, frac = plan_protocol(prot, smp)
    tube = tube_of("TLA-100.3")
    cloud = cloud_radii(tube)
    # the liquid (3.5 mL nominal = the whole tube) fills the geometric cylinder scaled to it: 7 equal volumes
    inside = cloud[(cloud >= min(frac.edges)) & (cloud <= max(frac.edges))]
    counts = np.histogram(inside, np.sort(frac.edges))[0]
    p = 1 / 7
    assert np.all(np.abs(counts / len(inside) - p) < 5 * math.sqrt(p * (1 - p) / len(inside)) + 1e-3), counts
    # solute conserved by the Lamm solve in the tilted tube (to rounding)
    vols = grad.column.cell_volumes(np.concatenate([[grad.r_meniscus], 0.5 * (grad.grid[1:] + grad.grid[:-1]),
                                                    [grad.r_bottom]]))
    assert float(np.dot(grad.c_final, vols)) == pytest.approx(float(np.dot(grad.c_initial, vols)), rel=1e-9)
    ds = exosim.simulate(prot, smp, n_particles=4000, seed=2, device=CPU(), keep_particles=True)
    assert float(ds.pellet_count.sel(population="aggregate") / ds.input_count.sel(population="aggregate")) == 1.0
    # exosomes: the fraction holding most of them has a density within the band's spread of 1.10 g/mL
    share = (ds.fraction_count.sel(population="exosome") / ds.input_count.sel(population="exosome")).values
    assert share.sum() > 0.95
    best = int(np.argmax(share))
    lo, hi = ds.fraction_density.values[max(best - 1, 0)], ds.fraction_density.values[min(best + 1, 6)]
    assert min(lo, hi) <= 1100.0 <= max(lo, hi), (ds.fraction_density.values, share)


def test_fraction_densities_of_a_fixed_angle_tube_weight_the_fraction_volumes():
    """Equal-volume fractions of a half-filled Type 70 Ti tube holding a medium whose density rises steeply
    toward the bottom, rho(r) = 1050 + 4e6 (r - r_men)^2 kg/m^3, with mass fraction w(r) = (rho - 998) / 500.
    The test's own answer from the point cloud: the points of the liquid between two fraction boundaries (the
    boundaries' volumes are checked against the cloud above) are a uniform sample of the fraction's volume, so
    the fraction's refractometer density is their mean density, and its mass fraction the density-weighted mean
    of w (solute mass over solution mass). Tolerance: 5 standard errors of those means. A plain mean over the
    radii (no section weight) is off by more than 10 of those errors in an end fraction, and a volume-weighted w
    by more than 5 (checked here, so the test can tell)."""
    from exosim.methods.fractionate import column_average, fraction_edges

    tube = tube_of("Type 70 Ti")
    col = column.fixed_angle(tube)
    pts = cloud_radii(tube, n=800_000, seed=11)
    r_men = float(col.radius_at_volume(0.5 * col.volume))   # half full: the outer half of the volume
    rho_of = lambda r: 1050.0 + 4e6 * (r - r_men) ** 2  # noqa: E731
    w_of = lambda r: (rho_of(r) - 998.0) / 500.0  # noqa: E731
    grid = np.linspace(r_men, col.r_max, 2001)
    edges = fraction_edges(r_men, col.r_max, 8, True, col)
    rho = column_average(rho_of(grid), grid, edges, col)
    w = column_average(w_of(grid), grid, edges, col, weight=rho_of(grid))
    plain = column_average(rho_of(grid), grid, edges, None)
    vol_w = column_average(w_of(grid), grid, edges, col)
    off_plain, off_w = [], []
    for i in range(8):
        g = pts[(pts >= edges[i]) & (pts < edges[i + 1])]
        rho_g, w_g = rho_of(g), w_of(g)
        se, se_w = rho_g.std() / math.sqrt(g.size), w_g.std() / math.sqrt(g.size)
        assert abs(rho[i] - rho_g.mean()) <= 5 * se, (i, rho[i] - rho_g.mean(), se)
        w_expect = np.sum(w_g * rho_g) / np.sum(rho_g)
        assert abs(w[i] - w_expect) <= 5 * se_w, (i, w[i] - w_expect, se_w)
        off_plain.append(abs(plain[i] - rho_g.mean()) / se)
        off_w.append(abs(vol_w[i] - w_expect) / se_w)
    assert max(off_plain) > 10 and max(off_w) > 5, (off_plain, off_w)


@pytest.mark.parametrize("name", FIXED)
def test_sinker_equilibrium_against_the_bottom_tip_of_a_tilted_tube(name):
    """A small, slow particle in a shallow linear gradient whose densest point, at the tube bottom, is just above
    the particle's density: it sinks everywhere, the bottom returns it (a cushion), and at sedimentation equilibrium
    it piles up in the tip of the tilted tube, where the section closes (A ~ distance^1.5). Boltzmann in the
    buoyant potential times the section: density A(r) exp(-U(r) / kT) with
    U(r) = -int V (rho_p - rho_m(r')) omega^2 r' dr' (V = pi d^3 / 6), the exact equilibrium of the 3-D tube
    whatever the transport, so the expected mean and spread come from the cloud's radii weighted by exp(-U / kT).
    The answer depends on the bottom's reflection (an absorbing bottom pellets them all), the geometric drift near
    the tip and the diffusion's spread; tolerance: 5 standard errors of kernel and cloud."""
    d, rho_p, eta = 20e-9, 1050.0, 1.57e-3
    tube = tube_of(name)
    col = column.fixed_angle(tube)
    r_men, r_bot = float(col.radius_at_volume(col.volume)), col.r_max   # a full tube, as run_fixed fills it
    rho_m = lambda r: 1000.0 + 51.0 * (r - r_men) / (r_bot - r_men)  # noqa: E731  (1051 at the bottom)
    kt = KB * TEMP
    vol = math.pi * d ** 3 / 6
    sigma = 0.06 * (r_bot - r_men)                 # Gaussian width of the (virtual) band at the bottom
    w2 = kt / (vol * 51.0 / (r_bot - r_men) * r_bot * sigma ** 2)
    D = kt / (3 * math.pi * eta * d)
    t_relax = (r_bot - r_men) ** 2 / D             # column diffusion time; the drift from the top is faster
    seg = np.array([[0.5 * t_relax, w2]])          # (measured: mean and SD unchanged, to 1e-3 of the column, at 1x)
    r, outcome, tube, r_men = run_fixed(name, seg, d, rho_p, rho_m, eta, start_share=1.0, n=3000)
    assert np.all(outcome == 0)
    # the medium the kernel sees: its table on the grid, linear between cell centres, constant beyond the ends
    grid = np.linspace(r_men, r_bot, 201)[:-1] + 0.5 * (r_bot - r_men) / 200
    fine = np.linspace(r_men, r_bot, 40001)
    force = vol * (rho_p - np.interp(fine, grid, rho_m(grid))) * w2 * fine      # [N], outward positive
    minus_u = np.concatenate([[0.0], np.cumsum(0.5 * (force[1:] + force[:-1]) * np.diff(fine))]) / kt
    cloud = cloud_radii(tube)
    wgt = np.exp(np.interp(cloud, fine, minus_u - minus_u.max()))
    mean = float(np.sum(cloud * wgt) / np.sum(wgt))
    sd = math.sqrt(float(np.sum((cloud - mean) ** 2 * wgt) / np.sum(wgt)))
    n_eff = np.sum(wgt) ** 2 / np.sum(wgt ** 2)
    tol = 5 * sd * math.sqrt(1 / len(r) + 1 / n_eff)
    assert abs(r.mean() - mean) < tol, (r.mean(), mean, tol)
    # the spread: the sample SD's standard error for a near-normal law is sd / sqrt(2 n)
    assert abs(r.std() - sd) < 5 * sd * math.sqrt(1 / (2 * len(r)) + 1 / (2 * n_eff)), (r.std(), sd)
    # the section matters: Boltzmann alone (a constant section) puts the mean elsewhere by many tolerances
    b = np.exp(minus_u - minus_u.max())
    assert abs(np.trapezoid(fine * b, fine) / np.trapezoid(b, fine) - mean) > 5 * tol
