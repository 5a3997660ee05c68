"""Tangential-flow filtration (exosim/methods/tff.py, kernels/filtration.py tff_fate) against the diafiltration
and concentration laws: a species with observed sieving coefficient S keeps exp(-S N) after N diavolumes and
CF^(-S) after concentrating by CF. The test computes S itself: hindered transport (Dechadilok & Deen 2006) at
uniform pores, the clean-membrane flux by Hagen-Poiseuille, polarisation by the film model with Leveque's
mass-transfer coefficient. Tolerances: 5 binomial standard errors."""
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import exosim
from exosim.cli import app
from exosim.config import Protocol, Sample, load_media, load_membranes, load_rotors

KB = 1.380649e-23
TEMP = 293.15
ETA = 1.0016e-3 * 1.02          # PBS at 20 degC (water x 1.02; exosim's Vogel fit is within 0.3 % of this)
ROTORS, MEDIA = load_rotors(), load_media()


def membrane_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("name: uniform\nkind: track_etch\npore_diameter: 100 nm\npore_gsd: 1.0\n"
                    "pore_density: 3e8 /cm**2\nthickness: 6 um\nmax_pressure: 2 bar\n")
    return str(path)


def run(tmp_path, pops, n=20_000, seed=3, **step):
    base = {"kind": "tff", "membrane": membrane_file(tmp_path), "area": "50 cm**2", "pressure": "0.01 bar"}
    base.update(step)
    prot = Protocol.model_validate({"name": "t", "temperature": "20 degC", "steps": [base]},
                                   context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})
    smp = Sample.model_validate({"name": "s", "volume": "100 mL", "medium": "PBS", "populations": pops},
                                context={"media": MEDIA})
    return exosim.simulate(prot, smp, n_particles=n, seed=seed, device=exosim.CPU())


def observed_sieving(d, dp, shear=4000.0, length=0.2):
    """S of a rigid sphere (diameter d) at uniform 100-nm pores, 6 um long, 3e8 /cm^2, at pressure dp."""
    r, L, n_pores = 50e-9, 6e-6, 3e12
    lam = d / 2 / r
    kc = (1 + 3.867 * lam - 1.907 * lam ** 2 - 0.834 * lam ** 3) / (1 + 1.867 * lam - 0.741 * lam ** 2)
    s_inf = (1 - lam) ** 2 * kc                                      # convection-dominated (Pe >> 1 here)
    flux = n_pores * math.pi * r ** 4 * dp / (8 * ETA * L)          # clean membrane, Hagen-Poiseuille
    D = KB * TEMP / (3 * math.pi * ETA * d)
    # Leveque: Sh = k d / D = 1.62 (u d^2 / (D L))^(1/3) in a tube of diameter d and mean velocity u, whose wall
    # shear rate is 8 u / d; any d gives the same k
    d_tube = 1e-3
    u = shear * d_tube / 8
    k = 1.62 * D / d_tube * (u * d_tube ** 2 / (D * length)) ** (1 / 3)
    e = math.exp(flux / k)
    return s_inf * e / (1 - s_inf + s_inf * e)


POPS = [{"name": "solute", "target": True, "concentration": "1e8 /mL", "diameter": "50 nm", "density": "1.05 g/mL"}]


@pytest.mark.parametrize("concentrate, diavolumes", [(1.0, 2.0), (4.0, 0.0), (4.0, 2.0)])
def test_diafiltration_and_concentration_laws(tmp_path, concentrate, diavolumes):
    s = observed_sieving(50e-9, 1e3)
    assert 0.3 < s < 0.8                                             # polarisation matters, S is intermediate
    ds = run(tmp_path, POPS, concentrate=concentrate, diavolumes=diavolumes, diafilter_medium="water")
    # diafiltration exchanges the liquid: what goes on is in the diafiltration medium; concentration alone keeps it
    from exosim.methods import plan_protocol
    step = {"kind": "tff", "membrane": membrane_file(tmp_path), "area": "50 cm**2", "pressure": "0.01 bar",
            "concentrate": concentrate, "diavolumes": diavolumes, "diafilter_medium": "water"}
    prot = Protocol.model_validate({"name": "t", "temperature": "20 degC", "steps": [step]},
                                   context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})
    smp = Sample.model_validate({"name": "s", "volume": "100 mL", "medium": "PBS", "populations": POPS},
                                context={"media": MEDIA})
    plan = plan_protocol(prot, smp)[0]
    assert plan.medium_out.name == ("water" if diavolumes > 0 else "PBS")
    assert plan.label == "TFF uniform"
    # filtrate: the concentration's V_in - V_out, then N retentate volumes, as planned and as run
    filtrate = (100e-6 - 100e-6 / concentrate) + diavolumes * 100e-6 / concentrate
    assert plan.filtrate_volume == pytest.approx(filtrate, rel=1e-12)
    assert float(ds.filtered_volume[0]) == pytest.approx(filtrate, rel=1e-9)
    expected = math.exp(-s * (math.log(concentrate) + diavolumes))
    se = math.sqrt(expected * (1 - expected) / 20_000)
    assert float(ds.recovery[0]) == pytest.approx(expected, abs=5 * se + 0.003 * expected)
    assert float(ds.product_volume) == pytest.approx(100e-6 / concentrate)
    passed = float(ds.fate_count.sel(step=0, place="filtrate_discarded")[0] / ds.input_count[0])
    assert passed == pytest.approx(1 - float(ds.recovery[0]), abs=1e-12)


def test_concentrating_exactly_to_the_hold_up_is_allowed(tmp_path):
    """100 mL concentrated 10x leaves 10 mL: a 10-mL hold-up is reached, not undercut (a 10.1-mL one is)."""
    from exosim.errors import ConfigError
    from exosim.methods import plan_protocol
    smp = Sample.model_validate({"name": "s", "volume": "100 mL", "medium": "PBS", "populations": POPS},
                                context={"media": MEDIA})
    for hold_up, ok in (("10 mL", True), ("10.1 mL", False)):
        step = {"kind": "tff", "membrane": membrane_file(tmp_path), "area": "50 cm**2", "pressure": "0.01 bar",
                "concentrate": 10, "hold_up": hold_up}
        prot = Protocol.model_validate({"name": "t", "temperature": "20 degC", "steps": [step]},
                                       context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})
        if ok:
            assert plan_protocol(prot, smp)[0].volume_out == pytest.approx(10e-6)
        else:
            with pytest.raises(ConfigError, match="hold-up"):
                plan_protocol(prot, smp)


def test_half_a_diavolume_exchanges_the_medium(tmp_path):
    """Any diafiltration (here half a retentate volume) hands the diafiltration medium on."""
    from exosim.methods import plan_protocol
    step = {"kind": "tff", "membrane": membrane_file(tmp_path), "area": "50 cm**2", "pressure": "0.01 bar",
            "diavolumes": 0.5, "diafilter_medium": "water"}
    prot = Protocol.model_validate({"name": "t", "temperature": "20 degC", "steps": [step]},
                                   context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})
    smp = Sample.model_validate({"name": "s", "volume": "100 mL", "medium": "PBS", "populations": POPS},
                                context={"media": MEDIA})
    assert plan_protocol(prot, smp)[0].medium_out.name == "water"


def test_shear_ruptures_vesicles_above_their_lysis_tension(tmp_path):
    """(5/2) tau_s R against the lysis tension: 200-nm vesicles, 5 mN/m, peak shear 1e8 /s (stress 1e5 Pa:
    tension 0.0128 N/m) rupture; at 1e7 /s (0.0013 N/m) none does; large vesicles at these pores are retained."""
    ves = [{"name": "ev", "target": True, "concentration": "1e8 /mL", "diameter": "200 nm", "density": "1.10 g/mL",
            "mechanics": {"reduced_volume": 1.0, "lysis_tension": "5 mN/m"}}]
    hard = run(tmp_path, ves, n=2000, diavolumes=1.0, peak_shear_rate="1e8 /s")
    assert float(hard.damaged_fraction[0]) == 1.0
    soft = run(tmp_path, ves, n=2000, diavolumes=1.0, peak_shear_rate="1e7 /s")
    assert float(soft.damaged_fraction[0]) == 0.0 and float(soft.recovery[0]) == 1.0


def test_cpu_and_cuda_give_the_same_fates(tmp_path):
    from conftest import cuda_device
    dev = cuda_device()
    pops = POPS + [{"name": "ev", "concentration": "1e8 /mL",
                    "diameter": {"lognormal": {"median": "100 nm", "gsd": 1.5}, "min": "30 nm", "max": "300 nm"},
                    "density": "1.10 g/mL", "mechanics": {"reduced_volume": {"uniform": {"min": 0.6, "max": 1.0}}}}]
    step = {"kind": "tff", "membrane": membrane_file(tmp_path), "area": "50 cm**2", "pressure": "0.3 bar",
            "concentrate": 5.0, "diavolumes": 3.0, "adsorption": "2 %"}
    prot = Protocol.model_validate({"name": "t", "steps": [step]},
                                   context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})
    smp = Sample.model_validate({"name": "s", "volume": "100 mL", "medium": "PBS", "populations": pops},
                                context={"media": MEDIA})
    ref = exosim.simulate(prot, smp, n_particles=48, seed=2, device=exosim.CPU(precision=64), keep_particles=True)
    got = exosim.simulate(prot, smp, n_particles=48, seed=2, device=dev, keep_particles=True)
    np.testing.assert_array_equal(got.particle_fate.values, ref.particle_fate.values)


@pytest.mark.parametrize("edit, field, words", [
    ({"concentrate": 200, "hold_up": "1 mL"}, "steps[0].concentrate", "less than the"),
    ({"pressure": "5 bar"}, "steps[0].pressure", "rating"),
    ({"concentrate": 1, "diavolumes": 0}, "steps[0]", "would filter nothing"),
])
def test_bad_tff_steps(tmp_path, edit, field, words):
    import yaml
    step = {"kind": "tff", "membrane": "mPES 500 kDa", "area": "20 cm**2", "pressure": "0.5 bar", "concentrate": 10}
    step.update(edit)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "steps": [step]}))
    r = CliRunner().invoke(app, ["plan", str(path), "--sample", "msc_conditioned_medium"])
    assert r.exit_code == 2, r.output
    assert field in r.output and words in r.output, r.output
