"""Compaction damage of vesicles in a kept pellet (exosim/methods/centrifuge.py pellet_damage; the kernels' pellet
dose). A vesicle that pellets at once spends the whole run in the pellet: damaged with probability
1 - exp(-(rcf at r_max / 1e5) t / T), T its pellet tolerance; the rcf is computed here from the rotor's radius and
speed. Tolerances: 5 binomial standard errors plus the share of the run a vesicle needs to reach the pellet."""
import math

import numpy as np
import pytest
import yaml

import exosim
from exosim.config import CONFIG_ROOT, Protocol, Sample, load_media, load_rotors

ROTORS, MEDIA = load_rotors(), load_media()
G0 = 9.80665
SW41 = next(r for r in yaml.safe_load((CONFIG_ROOT / "rotors.yaml").read_text())["rotors"] if r["name"] == "SW 41 Ti")
R_MAX = float(SW41["r_max"].split()[0]) * 1e-3
R_AVG = float(SW41["r_avg"].split()[0]) * 1e-3


def run(duration_min, tolerance="2 h", n=8000, seed=4, device=None):
    pops = [{"name": "big vesicle", "target": True, "concentration": "1e8 /mL", "diameter": "1 um",
             "density": "1.10 g/mL", "mechanics": {"reduced_volume": 1.0, "pellet_tolerance": tolerance}},
            {"name": "rigid", "concentration": "1e8 /mL", "diameter": "1 um", "density": "1.10 g/mL"}]
    smp = Sample.model_validate({"name": "s", "volume": "10 mL", "medium": "PBS", "populations": pops},
                                context={"media": MEDIA})
    step = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": f"{duration_min} min",
            "keep": "pellet", "resuspend": "100 uL PBS"}
    prot = Protocol.model_validate({"name": "p", "steps": [step]}, context={"rotors": ROTORS, "media": MEDIA})
    return exosim.simulate(prot, smp, n_particles=n, seed=seed, device=device or exosim.CPU(), keep_particles=True)


@pytest.mark.parametrize("minutes", [70, 240])
def test_damage_follows_the_pellet_dose(minutes):
    ds = run(minutes)
    rcf_pellet = 1e5 * R_MAX / R_AVG                 # rcf at r_max when 100,000 g is set at r_avg
    t = minutes * 60
    expected = 1 - math.exp(-(rcf_pellet / 1e5) * t / 7200)
    # 1-um vesicles of 1.10 g/mL pellet within ~2 % of a 70-min run (s ~ 3e-9 s: ln(r_max/r_min) / (s w^2) < 90 s)
    got = float(ds.damaged_fraction.sel(population="big vesicle"))
    se = math.sqrt(expected * (1 - expected) / 4000)
    assert got == pytest.approx(expected, abs=5 * se + 0.02 * expected)
    assert float(ds.damaged_fraction.sel(population="rigid")) == 0.0     # no mechanics: no damage
    # damaged vesicles are not in the product
    assert float(ds.recovery.sel(population="big vesicle")) == pytest.approx(
        float(ds.recovery.sel(population="rigid")) - got, abs=5 * math.sqrt(0.25 / 4000) * 2)


def test_no_damage_when_the_pellet_is_discarded_or_switched_off():
    from exosim.engine import run_protocol
    pops = [{"name": "v", "target": True, "concentration": "1e8 /mL", "diameter": "1 um", "density": "1.10 g/mL",
             "mechanics": {"reduced_volume": 1.0, "pellet_tolerance": "1 h"}}]
    smp = Sample.model_validate({"name": "s", "volume": "10 mL", "medium": "PBS", "populations": pops},
                                context={"media": MEDIA})
    sup = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": "70 min", "keep": "supernatant"}
    prot = Protocol.model_validate({"name": "p", "steps": [sup]}, context={"rotors": ROTORS, "media": MEDIA})
    ds = exosim.simulate(prot, smp, n_particles=500, seed=1, device=exosim.CPU())
    assert float(ds.damaged_fraction[0]) == 0.0
    pel = {**sup, "keep": "pellet", "resuspend": "100 uL PBS"}
    prot = Protocol.model_validate({"name": "p", "steps": [pel]}, context={"rotors": ROTORS, "media": MEDIA})
    run_ = run_protocol(prot, smp, n_particles=500, seed=1, device=exosim.CPU(), pellet_damage=False)
    from exosim.fates import DAMAGED
    assert run_.steps[0].counts[DAMAGED].sum() == 0


def test_cpu_and_cuda_give_the_same_damage():
    from conftest import cuda_device
    ref = run(70, n=64, seed=7)
    got = run(70, n=64, seed=7, device=cuda_device())
    np.testing.assert_array_equal(got.particle_fate.values, ref.particle_fate.values)
