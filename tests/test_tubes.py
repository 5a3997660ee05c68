"""A step's tube (``tube: {kind, material, volume}``): a thick-wall tube in a rotor's cavity holds less, so the same
liquid stands taller; a thin-wall tube is filled to the top. Expected values from the test's own geometry."""
import math

import pytest

from exosim import CPU, ConfigError, load_protocol, load_sample, simulate
from exosim.engine import plan_protocol

SPIN = """name: tube test
temperature: 4 degC
steps:
  - {{kind: centrifuge, rotor: {rotor}, rcf: {rcf}, rcf_at: max, duration: {duration}, keep: pellet, fill: {fill},
     resuspend: 100 uL PBS{tube}}}
"""
SAMPLE = """name: six mL
volume: {volume}
medium: PBS
populations:
  - {{name: exosome, target: true, concentration: 1e10 /mL, diameter: 100 nm, density: 1.10 g/mL}}
"""
# catalog numbers (configs/rotors.yaml) that the test's own geometry needs [m, m^3, rad]
SW41 = dict(r_min=0.0674, r_max=0.1531, volume=13.2e-6)
T70 = dict(r_min=0.0395, r_max=0.0919, volume=39e-6, diameter=0.025, angle=math.radians(23))


def files(tmp_path, rotor="SW 41 Ti", rcf="100000 g", duration="30 min", fill="6 mL", tube="", volume="6 mL"):
    (tmp_path / "p.yaml").write_text(SPIN.format(rotor=rotor, rcf=rcf, duration=duration, fill=fill,
                                                 tube=f", tube: {tube}" if tube else ""))
    (tmp_path / "s.yaml").write_text(SAMPLE.format(volume=volume))
    return load_protocol(tmp_path / "p.yaml"), load_sample(tmp_path / "s.yaml")


THICK = "{kind: thick-wall, material: polycarbonate, volume: 9 mL}"


def test_a_thick_wall_tube_stands_the_same_liquid_taller(tmp_path):
    """6 mL in a 9-mL thick-wall tube of the SW 41 Ti cavity: the column spans r_max - (r_max - r_min) 6/9 to
    r_max instead of 6/13.2 of the cavity (the section is the tube's volume over the cavity's length)."""
    std = plan_protocol(*files(tmp_path))[0]
    thick = plan_protocol(*files(tmp_path, tube=THICK))[0]
    length = SW41["r_max"] - SW41["r_min"]
    assert std.geometry.r_meniscus == pytest.approx(SW41["r_max"] - length * 6 / 13.2, rel=1e-12)
    assert thick.geometry.r_meniscus == pytest.approx(SW41["r_max"] - length * 6 / 9, rel=1e-12)
    assert thick.omega == std.omega and thick.rotor.r_max == std.rotor.r_max   # rcf at the catalog's radii


def test_pelleting_scales_as_the_column_height(tmp_path):
    """Without diffusion a particle started at r0 pellets when r0 exp(lambda) >= r_b, lambda = s int omega^2 dt:
    from a uniform start P = r_b (1 - exp(-lambda)) / (r_b - r_m) while r_b exp(-lambda) > r_m (Livshits et al.
    2015), so the same spin pellets P_thick / P_std = (r_b - r_m,std) / (r_b - r_m,thick) = 9 / 13.2 of it, whatever
    the medium (lambda cancels). 100-nm vesicles diffuse ~0.06 mm in the 12 min (under 1 % of either column).
    Tolerance: 5 standard errors of the ratio of two binomial shares of n = 3000 each (0.1 at this n: a tube
    ignored, ratio 1, fails)."""
    n = 3000
    rec = []
    for tube in ("", THICK):
        prot, samp = files(tmp_path, tube=tube, duration="12 min")   # lambda ~ 0.15: both in the linear regime
        ds = simulate(prot, samp, n_particles=n, seed=2, device=CPU())
        rec.append(float(ds.recovery.sel(population="exosome")))
    p_std, p_thick = rec
    assert 0.1 < p_thick < p_std < 0.9
    ratio = p_thick / p_std
    se = ratio * math.sqrt((1 - p_std) / (n * p_std) + (1 - p_thick) / (n * p_thick))
    assert ratio == pytest.approx(9 / 13.2, abs=5 * se), (ratio, se)


def test_fixed_angle_thick_wall_tube_is_coaxial_and_narrower(tmp_path):
    """A 26.3-mL thick-wall bottle in the Type 70 Ti (catalog tube 39 mL, 25 mm): the same axis (top and length),
    inner radius 12.5 mm sqrt(26.3 / 39), so the innermost and outermost liquid points move in by the change of
    radius times cos(23 deg)."""
    std = plan_protocol(*files(tmp_path, rotor="Type 70 Ti", fill="26 mL", volume="26 mL"))[0]
    thick = plan_protocol(*files(tmp_path, rotor="Type 70 Ti", fill="26 mL", volume="26 mL",
                                 tube="{kind: thick-wall, volume: 26.3 mL}"))[0]
    a, b = std.geometry.tube, thick.geometry.tube
    radius = 0.5 * T70["diameter"] * math.sqrt(26.3 / 39)
    assert b.radius == pytest.approx(radius, rel=1e-12)
    assert b.r_top == pytest.approx(a.r_top, rel=1e-12) and b.length == pytest.approx(a.length, rel=1e-12)
    shift = (0.5 * T70["diameter"] - radius) * math.cos(T70["angle"])
    assert thick.rotor.r_min == pytest.approx(T70["r_min"] + shift, rel=1e-12)
    assert thick.rotor.r_max == pytest.approx(T70["r_max"] - shift, rel=1e-12)
    assert thick.omega == std.omega
    # nearly full (26 of 26.3 mL): the meniscus lies close to the tube's own innermost point
    assert thick.geometry.r_meniscus - thick.rotor.r_min < std.geometry.r_meniscus - T70["r_min"]


def test_a_partly_filled_thin_wall_tube_is_warned_about(tmp_path):
    thin = "{kind: thin-wall, material: Ultra-Clear, volume: 13.2 mL}"
    partly = plan_protocol(*files(tmp_path, tube=thin))[0]
    assert len(partly.warnings) == 1 and "steps[0].tube" in partly.warnings[0] and "thin-wall" in partly.warnings[0]
    full = plan_protocol(*files(tmp_path, tube=thin, fill="13 mL", volume="13 mL"))[0]
    assert full.warnings == ()
    thick = plan_protocol(*files(tmp_path, tube=THICK))[0]
    assert thick.warnings == ()


@pytest.mark.parametrize("edit, field, words", [
    (dict(tube="{kind: thick-wall, volume: 20 mL}"), "steps[0].tube.volume", "larger than"),
    (dict(tube=THICK, fill="10 mL"), "steps[0].fill", "overfills"),
    (dict(tube="{kind: cardboard, volume: 9 mL}"), "steps[0].tube.kind", "thin-wall"),
    (dict(tube="{kind: thick-wall}"), "steps[0].tube.volume", "required"),
])
def test_bad_tubes_name_the_field(tmp_path, edit, field, words):
    with pytest.raises(ConfigError) as info:
        plan_protocol(*files(tmp_path, **edit))
    assert info.value.field == field and words in info.value.problem, (info.value.field, info.value.problem)


GRADIENT = """name: gradient in a thick-wall tube
temperature: 4 degC
steps:
  - {kind: gradient, rotor: SW 41 Ti, medium: iodixanol, rcf: 100000 g, duration: 2 h,
     layers: [{conc: 40 %, volume: 4 mL}, {conc: 10 %, volume: 4 mL}], tube: {kind: thick-wall, volume: 9 mL}}
  - {kind: fractionate, fractions: 9, keep: {fractions: [5]}}
"""


def test_a_gradient_in_a_thick_wall_tube(tmp_path):
    """8 mL of layers and 1 mL of sample fill the 9-mL tube to the top of its cavity (r_min); a 10-mL gradient
    overfills it (field steps[0].layers)."""
    (tmp_path / "g.yaml").write_text(GRADIENT)
    samp = files(tmp_path, volume="1 mL")[1]
    grad = plan_protocol(load_protocol(tmp_path / "g.yaml"), samp)[0]
    assert grad.r_meniscus == pytest.approx(SW41["r_min"], rel=1e-9) and grad.tubes == 1
    (tmp_path / "g.yaml").write_text(GRADIENT.replace("volume: 4 mL}]", "volume: 6 mL}]"))
    with pytest.raises(ConfigError) as info:
        plan_protocol(load_protocol(tmp_path / "g.yaml"), samp)
    assert info.value.field == "steps[0].layers" and "9 mL" in info.value.problem
