"""Gradient and fractionation steps: planning, bad input, bookkeeping, the medium's evolution, the osmotic rule,
CPU against CUDA. Physics of the particle kernel: tests/test_gradient_physics.py."""
import math

import numpy as np
import pytest

from exosim import CPU, ConfigError, load_protocol, load_sample, simulate
from exosim.engine import plan_protocol
from exosim.fates import PLACES

SAMPLE = """
name: small sample
volume: 1 mL
medium: PBS
populations:
  - name: exosome
    target: true
    concentration: 1e10 /mL
    diameter: {lognormal: {median: 100 nm, gsd: 1.3}, min: 50 nm, max: 200 nm}
    density: {uniform: {min: 1.08 g/mL, max: 1.12 g/mL}}
    osmotic: {dry_density: 1.20 g/mL, inactive_fraction: 20 %}
  - name: aggregate
    concentration: 1e9 /mL
    diameter: 200 nm
    density: 1.30 g/mL
  - name: VLDL
    concentration: 1e9 /mL
    diameter: 60 nm
    density: 0.98 g/mL
"""

GRADIENT = """
name: gradient test
temperature: 4 degC
steps:
  - kind: gradient
    rotor: SW 41 Ti
    medium: {medium}
    layers: {layers}
    load: {load}
    rcf: 100000 g
    duration: {duration}
    accel: 3 min
    decel: 5 min
  - kind: fractionate
    fractions: 12
    collect: {collect}
    keep: {keep}
{extra}
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def protocol(tmp_path, medium="iodixanol", layers="[{conc: 40 %, volume: 3 mL}, {conc: 20 %, volume: 3 mL}, "
             "{conc: 10 %, volume: 3 mL}, {conc: 5 %, volume: 2.5 mL}]", load="top", duration="18 h",
             collect="top", keep="{fractions: [7, 8, 9]}", extra=""):
    text = GRADIENT.format(medium=medium, layers=layers, load=load, duration=duration, collect=collect, keep=keep,
                           extra=extra)
    return load_protocol(write(tmp_path, "p.yaml", text))


@pytest.fixture
def sample(tmp_path):
    return load_sample(write(tmp_path, "s.yaml", SAMPLE))


def test_plan_volumes_and_fractions(tmp_path, sample):
    """The plan stacks 11.5 mL of layers under the 1 mL of material (12.5 mL per tube, one tube), cuts 12
    fractions of 12.5/12 mL, and the kept fractions' volume and medium follow."""
    plans = plan_protocol(protocol(tmp_path), sample)
    grad, frac = plans
    assert grad.tubes == 1 and grad.liquid_per_tube == pytest.approx(12.5e-6)
    assert frac.fraction_volume == pytest.approx(12.5e-6 / 12)
    assert frac.volume_out == pytest.approx(3 * 12.5e-6 / 12)
    assert list(np.nonzero(frac.kept)[0] + 1) == [7, 8, 9]
    # fraction densities increase from the top and span the layers (5 % to 40 % iodixanol: 1.025 to 1.212 g/mL,
    # OptiPrep's linear density rule 0.998 + 0.0053 C, docs/reference/media.md): the top fraction holds the PBS
    # zone and part of the 5 % layer; the bottom one lies inside the 40 % layer, made denser, not lighter, by the
    # solute's own sedimentation against the bottom
    rho = frac.fraction_density
    assert np.all(np.diff(rho) > 0)
    assert 1000 < rho[0] < 1026 and rho[-1] > 1205


def test_medium_solute_is_conserved(tmp_path, sample):
    """The Lamm solver conserves the solute (mean mass concentration over the column, constant cross-section)."""
    grad = plan_protocol(protocol(tmp_path), sample)[0]
    c0, c1 = grad.c_initial, grad.c_final
    assert np.mean(c1) == pytest.approx(np.mean(c0), rel=1e-9)


def test_layer_interface_spreads_as_the_media_diffusion_coefficient_says(tmp_path, sample):
    """Two iodixanol layers (22 % w/v under 20 %, 5 mL each, the sample on top) at 1 g (the solute's sedimentation moves it
    by 20 nm: pure diffusion) for 18 h: the interface, 30 mm from the other interfaces and walls (about nine
    diffusion lengths), spreads as an error function, whose steepest slope is dc / (2 sqrt(pi D t)) (Crank 1975,
    The Mathematics of Diffusion, eq. 2.14), read within 9 mm of it. D is the medium's mutual diffusion coefficient (docs/gradient_media.md)
    at 4 degC; it falls by 8 % across the jump, and the slope of the diffusion equation with D(c) lies (to first order) between
    those of its smallest and largest D; the grid (0.36 mm cells against a 3.4-mm diffusion length) adds under
    0.1 %. So the slope must lie in that band widened by 0.5 %: a D off by 10 % (slope 5 %) fails."""
    from scipy.optimize import brentq
    layers = "[{conc: 22 %, volume: 5 mL}, {conc: 20 %, volume: 5 mL}]"
    path = tmp_path / "p.yaml"
    protocol(tmp_path, layers=layers)
    path.write_text(path.read_text().replace("rcf: 100000 g", "rcf: 1 g"))
    grad = plan_protocol(load_protocol(path), sample)[0]
    c0, c1, x = grad.c_initial, grad.c_final, grad.grid
    t = float(np.sum(grad.segments[:, 0]))
    lower = x[1:] > x[0] + 0.5 * (x[-1] - x[0])          # the 22/20 interface, not the sample's at the top
    j = int(np.argmax(np.abs(np.diff(c0)) * lower))
    jump = c0[j + 1] - c0[j]
    assert jump == pytest.approx(20.0, rel=1e-6)          # 220 - 200 kg/m^3
    near = slice(j - 25, j + 26)                          # +-9 mm: the sample's interface stays out of it
    slope = np.max(np.diff(c1[near]) / np.diff(x[near]))
    assert abs(int(np.argmax(np.diff(c1[near]))) - 25) <= 1  # steepest at the interface
    med, temp = grad.medium, grad.temperature
    ws = [brentq(lambda w: float(med.concentration(w, "w/v", temp)) - c, 0.0, 0.4) for c in (c0[j], c0[j + 1])]
    d = np.asarray(med.diffusion_coefficient(np.array(ws), temp))
    bounds = jump / (2 * np.sqrt(math.pi * d * t))
    assert 0.995 * bounds.min() <= slope <= 1.005 * bounds.max(), (slope, bounds)


def test_density_window_keeps_the_fractions_inside_it(tmp_path, sample):
    """keep by density: exactly the fractions whose medium density lies inside the window."""
    frac = plan_protocol(protocol(tmp_path, keep="{density: [1.08 g/mL, 1.13 g/mL]}"), sample)[1]
    rho = frac.fraction_density
    assert np.array_equal(frac.kept, (rho >= 1080) & (rho <= 1130))
    assert frac.kept.any()


@pytest.mark.parametrize("edit,field,words", [
    (dict(layers="[{conc: 90 %, volume: 3 mL}]"), "steps[0].layers[0].conc", "outside"),
    (dict(layers="[{conc: 40 %, volume: 14 mL}]"), "steps[0].layers", "overfill"),
    (dict(medium="percoll"), "steps[0].medium", "unknown gradient medium"),
    (dict(keep="{density: [1.40 g/mL, 1.50 g/mL]}"), "steps[0].keep.density", "no fraction"),
    (dict(keep="{fractions: [13]}"), "steps[1].keep", "does not exist"),
    (dict(layers="[{conc: 40, volume: 3 mL}]"), "steps[0].layers[0].conc", "unit"),
])
def test_bad_gradient_input_names_the_field(tmp_path, sample, edit, field, words):
    """Bad gradient input stops at planning with a ConfigError naming the field."""
    with pytest.raises(ConfigError) as info:
        plan_protocol(protocol(tmp_path, **edit), sample)
    err = info.value
    expected_field = field.replace("steps[0].keep", "steps[1].keep")
    assert err.field == expected_field and words in err.problem, (err.field, err.problem)


def test_fractionate_needs_a_gradient_before_it(tmp_path, sample):
    text = """
name: bad
steps:
  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 10000 g, duration: 10 min, keep: supernatant}
  - {kind: fractionate, fractions: 10, keep: {fractions: [1]}}
"""
    with pytest.raises(ConfigError) as info:
        plan_protocol(load_protocol(write(tmp_path, "p.yaml", text)), sample)
    assert info.value.field == "steps[1].kind" and "gradient" in info.value.problem


def test_every_particle_is_booked_and_fractions_add_up(tmp_path, sample):
    """After the fractionation: kept fractions are the product, the other fractions fraction_discarded, the pellet
    pellet_discarded; per population the fraction counts plus the pellet equal the input; the aggregate
    (1.30 g/mL, denser than 40 % iodixanol) is in the pellet; VLDL (0.98 g/mL) floats to the top fraction."""
    ds = simulate(protocol(tmp_path), sample, n_particles=3000, seed=3, device=CPU())
    fc = ds.fate_count.isel(step=-1)
    assert np.allclose(fc.sum("place"), ds.input_count)
    frac = ds.fraction_count.sum("fraction") + ds.pellet_count
    assert np.allclose(frac, ds.input_count)
    kept = ds.fraction_count.where(ds.fraction_kept == 1, 0).sum("fraction")
    assert np.allclose(kept, fc.sel(place="product"))
    assert np.allclose(ds.pellet_count, fc.sel(place="pellet_discarded"))
    assert float(ds.pellet_count.sel(population="aggregate")) == pytest.approx(
        float(ds.input_count.sel(population="aggregate")))
    vldl = ds.fraction_count.sel(population="VLDL")
    assert float(vldl.sel(fraction=1)) == pytest.approx(float(vldl.sum()))
    assert set(PLACES) == set(ds.place.values)


def test_exosomes_band_at_their_density_in_iodixanol_and_denser_in_sucrose(tmp_path, sample):
    """The same exosomes (iso-osmotic 1.08-1.12 g/mL) band where iodixanol has their own density, and in
    sucrose, which draws water out of them, where the medium is denser: reported 1.08-1.12 vs 1.13-1.19 g/mL
    (docs/reference/vesicles.md). The band's mean medium density (count-weighted over fractions) is compared to
    those ranges; a gradient that ignored osmolality would put both at 1.10."""
    def band(medium, layers):
        ds = simulate(protocol(tmp_path, medium=medium, layers=layers, duration="40 h"), sample, n_particles=3000,
                      seed=4, device=CPU())
        counts = ds.fraction_count.sel(population="exosome")
        return float((counts * ds.fraction_density).sum() / counts.sum())

    rho_iodixanol = band("iodixanol", "[{conc: [20 %, 40 %], volume: 11.5 mL}]")
    rho_sucrose = band("sucrose", "[{conc: [25 %, 50 %], volume: 11.5 mL}]")
    assert 1075 < rho_iodixanol < 1125
    assert 1130 < rho_sucrose < 1190
    assert rho_sucrose - rho_iodixanol > 25


@pytest.mark.parametrize("rotor", ["SW 41 Ti", "TLA-100.3"])
def test_cpu_and_cuda_give_the_same_positions(tmp_path, sample, rotor):
    """The gradient kernel on the CUDA backend (simulator without a GPU) gives the same fates and fractions as the
    CPU for the same seed, in a swinging bucket and in a fixed-angle tube (geometric drift, volume-uniform start)."""
    from conftest import cuda_device
    dev = cuda_device()
    layers = ("[{conc: 40 %, volume: 0.8 mL}, {conc: 20 %, volume: 0.8 mL}, {conc: 10 %, volume: 0.9 mL}]"
              if rotor != "SW 41 Ti" else "[{conc: 40 %, volume: 3 mL}, {conc: 20 %, volume: 3 mL}, "
                                          "{conc: 10 %, volume: 3 mL}, {conc: 5 %, volume: 2.5 mL}]")
    text = GRADIENT.format(medium="iodixanol", layers=layers, load="top", duration="2 h", collect="top",
                           keep="{fractions: [7, 8, 9]}", extra="").replace("SW 41 Ti", rotor)
    prot = load_protocol(write(tmp_path, "p.yaml", text))
    ref = simulate(prot, sample, n_particles=24, seed=5, device=CPU(precision=64), keep_particles=True)
    got = simulate(prot, sample, n_particles=24, seed=5, device=dev, keep_particles=True)
    np.testing.assert_array_equal(got.particle_fate.values, ref.particle_fate.values)
    np.testing.assert_array_equal(got.fraction_count.values, ref.fraction_count.values)


def test_dilute_conserves_the_solute(tmp_path, sample):
    """A kept fraction diluted with PBS before a pelleting spin: the solute mass fraction of the spun material
    falls as solute mass over total mass (GradientMedium.mix), so its density is between the fraction's and
    PBS's."""
    extra = ("  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 1 h, keep: pellet, dilute: 10 mL PBS,"
             " resuspend: 100 uL PBS}")
    plans = plan_protocol(protocol(tmp_path, extra=extra), sample)
    frac, spin = plans[1], plans[2]
    w_frac = frac.medium_out.w
    w_spin = spin.medium.w
    from exosim.physics.gradient_media import load_gradient_media
    gm = load_gradient_media()["iodixanol"]
    m_frac = frac.volume_out * float(gm.density(w_frac, 277.15))
    m_pbs = 10e-6 * float(gm.density(0.0, 277.15))
    assert w_spin == pytest.approx(w_frac * m_frac / (m_frac + m_pbs), rel=1e-9)
    assert spin.volume_in == pytest.approx(frac.volume_out)
    assert math.isclose(spin.liquid_per_tube * spin.tubes, frac.volume_out + 10e-6, rel_tol=1e-12)


def test_a_self_forming_medium_at_low_force_is_warned_about(tmp_path, sample):
    """A uniform iodixanol solution at 5,000 g for an hour forms no gradient to speak of (the solute's s of a
    fraction of a svedberg moves it micrometres): the plan carries a warning with the density span it reached;
    at 100,000 g for 18 h the span exceeds the threshold (the solute piles against the bottom) and no warning
    is given."""
    text = GRADIENT.format(medium="iodixanol", layers="[{conc: 20 %, volume: 10 mL}]", load="mixed",
                           duration="1 h", collect="top", keep="{fractions: [5]}", extra="").replace(
        "100000 g", "5000 g")
    weak = load_protocol(write(tmp_path, "weak.yaml", text))
    plan = plan_protocol(weak, sample)[0]
    assert len(plan.warnings) == 1 and "g/mL" in plan.warnings[0] and "5,000 g" in plan.warnings[0]
    strong = plan_protocol(protocol(tmp_path, layers="[{conc: 20 %, volume: 10 mL}]", load="mixed"), sample)[0]
    assert strong.warnings == ()


@pytest.mark.parametrize("load", ["top", "bottom", "mixed"])
def test_loading_conserves_the_solute(tmp_path, sample, load):
    """Whatever the loading, the solute in the tube at the start of the spin is what the layers hold (volume x
    mass concentration, the layers' own concentrations) plus what the loaded material carries (none: 1 mL of
    PBS): loading the material into the bottom layer or mixing it into the column dilutes the layers, it makes
    no solute. The plan places the column on 200 equal cells, each cell centre taking its layer's
    concentration, so each interface may misplace up to half a cell of the concentration step: that is the
    tolerance. (Before, a mixed load kept every layer's concentration and a bottom load gave the material the
    bottom layer's: 9 % and 17 % of solute created here.)"""
    layers = [("40 %", 3e-6), ("20 %", 3e-6), ("10 %", 3e-6), ("5 %", 2.5e-6)]
    text = "[" + ", ".join(f"{{conc: {c}, volume: {v * 1e6:g} mL}}" for c, v in layers) + "]"
    grad = plan_protocol(protocol(tmp_path, layers=text, load=load), sample)[0]
    from exosim.physics.gradient_media import load_gradient_media
    gm = load_gradient_media()["iodixanol"]
    t = 277.15
    conc = [float(gm.concentration(gm.mass_fraction_from_config(c, t), "w/v", t)) for c, _ in layers]
    put_in = sum(c * v for c, (_, v) in zip(conc, layers))          # kg of iodixanol; the PBS carries none
    liquid = sum(v for _, v in layers) + 1e-6
    cell = liquid / len(grad.c_initial)
    assert grad.liquid_per_tube == pytest.approx(liquid, rel=1e-12)
    in_tube = float(np.sum(grad.c_initial)) * cell
    steps = np.abs(np.diff(conc + [0.0])) if load == "top" else np.abs(np.diff(conc))
    assert abs(in_tube - put_in) <= 0.5 * cell * float(np.sum(steps)) + 1e-12 * put_in, (in_tube / put_in - 1)
    if load == "mixed":  # every layer diluted by the same share of the load, 1 mL in 11.5
        w40 = float(gm.mass_fraction_from(conc[0] * 11.5 / 12.5, "w/v", t))
        assert np.max(grad.w_initial) == pytest.approx(w40, rel=1e-9)
        assert grad.start == (grad.r_meniscus, grad.r_bottom)


def test_fractions_collected_from_the_bottom_are_numbered_from_the_bottom(tmp_path, sample):
    """collect: bottom: fraction 1 is the densest, at the tube bottom; the aggregate population (denser than
    every layer) is in the pellet, not in fraction 1, and VLDL (floating) in the last fraction."""
    ds = simulate(protocol(tmp_path, collect="bottom", duration="2 h"), sample, n_particles=1500, seed=6,
                  device=CPU())
    rho = ds.fraction_density.values
    assert np.all(np.diff(rho) < 0)
    vldl = ds.fraction_count.sel(population="VLDL")
    assert float(vldl.isel(fraction=-1)) == pytest.approx(float(vldl.sum()))
    assert float(ds.fraction_count.sel(population="aggregate").sum()) == 0.0


@pytest.mark.parametrize("steps,field,words", [
    ("  - {kind: gradient, rotor: SW 41 Ti, medium: iodixanol, layers: [{conc: 20 %, volume: 10 mL}], rcf: 100000 g,"
     " duration: 1 h}", "steps[0].kind", "fractionate"),
    ("  - {kind: gradient, rotor: SW 41 Ti, medium: iodixanol, layers: [{conc: 20 %, volume: 10 mL}], rcf: 100000 g,"
     " duration: 1 h, wall_loss: 5 %}\n  - {kind: fractionate, fractions: 5, keep: {fractions: [1]}}",
     "steps[0].wall_loss", "unknown"),
])
def test_a_gradient_needs_a_fractionation_and_has_no_wall_loss(tmp_path, sample, steps, field, words):
    """A gradient leaves particles at positions: it must be followed by a fractionation (otherwise its pellet would
    silently stay in the product); its pellet is discarded with the tube, so it takes no wall_loss."""
    path = write(tmp_path, "p.yaml", f"name: bad\nsteps:\n{steps}\n")
    with pytest.raises(ConfigError) as info:
        plan_protocol(load_protocol(path), sample)
    assert info.value.field == field and words in info.value.problem, (info.value.field, info.value.problem)


def test_osmotic_population_lighter_than_its_lumen_is_refused(tmp_path):
    """A vesicle's iso-osmotic density must exceed its aqueous lumen's (1.005 g/mL) for the water-share rule:
    refused when the sample is read, not with a traceback during the run."""
    text = SAMPLE.replace("density: {uniform: {min: 1.08 g/mL, max: 1.12 g/mL}}",
                          "density: {uniform: {min: 1.00 g/mL, max: 1.02 g/mL}}")
    with pytest.raises(ConfigError) as info:
        load_sample(write(tmp_path, "s.yaml", text))
    assert info.value.field == "populations[0].density" and "lumen" in info.value.problem


def test_dilute_without_a_medium_adds_more_of_the_same(tmp_path, sample):
    """dilute: '10 mL' names no medium: the material gets 10 mL more of its own medium, so a gradient fraction
    keeps its solute mass fraction."""
    extra = "  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 1 h, keep: pellet, dilute: 10 mL," \
            " resuspend: 100 uL PBS}"
    frac, spin = plan_protocol(protocol(tmp_path, extra=extra), sample)[1:]
    assert spin.medium.w == frac.medium_out.w


def test_layers_listed_top_down_are_warned_about(tmp_path, sample):
    """Layers are listed from the tube bottom up; a list that gets denser upward (the papers' top-down order)
    plans, with a warning that names the layer."""
    grad = plan_protocol(protocol(tmp_path, layers="[{conc: 5 %, volume: 3 mL}, {conc: 40 %, volume: 3 mL}]"),
                         sample)[0]
    assert len(grad.warnings) == 1 and "layers[1]" in grad.warnings[0] and "bottom up" in grad.warnings[0]
    good = plan_protocol(protocol(tmp_path), sample)[0]
    assert good.warnings == ()


def test_fractions_thinner_than_the_medium_resolution_warn(tmp_path, sample):
    """200 fractions of an SW 41 Ti tube are 0.4 mm each, the medium table's cell: a warning with the numbers."""
    thin = plan_protocol(protocol(tmp_path, keep="{fractions: [1]}").model_copy(
        update={"steps": [protocol(tmp_path).steps[0], protocol(tmp_path).steps[1].model_copy(
            update={"fractions": 200})]}), sample)[1]
    assert thin.warnings and "less than two cells" in thin.warnings[0]
    assert not plan_protocol(protocol(tmp_path), sample)[1].warnings


def test_band_warning_where_the_table_cannot_resolve_a_band():
    """A sanity guard (exosim.methods.gradient.band_warnings): a target band narrower than a cell of the medium
    table, at a kink of the density profile, is warned about with its numbers; the same band on a straight profile,
    or one the particles cannot reach in the run, is not. Band width: sigma^2 = kT / (V G omega^2 r) (Meselson,
    Stahl & Vinograd 1957), computed here."""
    import math
    from types import SimpleNamespace

    from exosim.config import CONSTANT, Distribution
    from exosim.methods.gradient import band_warnings

    d, rho_p, omega, temp = 100e-9, 1100.0, 4000.0, 277.15
    pop = SimpleNamespace(name="ev", target=True, osmotic=None, density=Distribution(CONSTANT, rho_p, 0, 0, 0),
                          diameter=Distribution(CONSTANT, d, 0, 0, 0))
    sample = SimpleNamespace(populations=[pop, SimpleNamespace(**{**vars(pop), "target": False})])
    grid = np.linspace(0.07, 0.15, 201)
    cell = grid[1] - grid[0]
    eta = np.full(grid.size, 2e-3)
    r_iso = 0.11
    linear = 1100.0 + 1000.0 * (grid - r_iso)                       # 1000 kg/m^4
    kinked = np.where(grid < r_iso, 1100.0 + 200.0 * (grid - r_iso), linear)   # 200 above, 1000 below
    start, long_run = (0.07, 0.072), 1e7
    sigma = math.sqrt(1.380649e-23 * temp / (math.pi * d ** 3 / 6 * 1000.0 * omega ** 2 * r_iso))
    assert sigma < cell
    got = band_warnings("p.yaml: steps[0]", sample, None, grid, kinked, eta, omega, temp, start, long_run)
    assert len(got) == 1, got  # the target population only
    assert "populations[0] (ev) bands at 110.0 mm" in got[0] and f"({cell * 1e6:.0f} um)" in got[0]
    assert f"{sigma * 1e6:.2g} um wide" in got[0] or f"{math.sqrt(1000 / 200) * sigma * 1e6:.2g} um wide" in got[0]
    assert band_warnings("p", sample, None, grid, linear, eta, omega, temp, start, long_run) == []
    # 40 mm at drift speeds below 1 um/s takes more than an hour: not reached in 10 s
    assert band_warnings("p", sample, None, grid, kinked, eta, omega, temp, start, 10.0) == []


def test_float32_positions_on_the_meniscus_fall_in_the_top_fraction():
    """The kernel clamps a position to the meniscus in its own precision; float32 may round the meniscus radius
    below the float64 edge. Such a position is still in the top fraction, not the pellet (-1)."""
    from exosim.methods.fractionate import fraction_edges, fraction_of

    r_men, r_bot = 0.0700000003, 0.15
    assert float(np.float32(r_men)) < r_men and float(np.float32(r_bot)) != r_bot
    edges = fraction_edges(r_men, r_bot, 10)
    pos = np.array([np.float32(r_men), np.float32(r_bot), np.float32(0.1), np.inf, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(fraction_of(pos, edges), [0, 9, int((0.1 - r_men) / (r_bot - r_men) * 10), -1, -1])
