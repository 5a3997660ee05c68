"""What a centrifugation step does with volumes, tubes, residual liquid and pellets."""
import math

import numpy as np

import pytest

from exosim import simulate
from exosim.config import Protocol, Sample, load_media, load_rotors
from exosim.engine import plan_protocol

ROTORS, MEDIA = load_rotors(), load_media()


def sample(volume="10 mL", populations=None):
    pops = populations or [
        {"name": "vesicle", "target": True, "concentration": "1e9 /mL", "diameter": "150 nm", "density": "1.15 g/mL"},
        {"name": "protein", "concentration": "1 mg/mL", "molecular_weight": "66.5 kDa", "diameter": "7.1 nm",
         "density": "1.36 g/mL"},
    ]
    return Sample.model_validate({"name": "s", "volume": volume, "medium": "PBS", "populations": pops},
                                 context={"media": MEDIA})


def protocol(*steps):
    return Protocol.model_validate({"name": "p", "steps": list(steps)}, context={"rotors": ROTORS, "media": MEDIA})


def spin(**kw):
    step = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "300 g", "duration": "1 min", "keep": "supernatant"}
    step.update(kw)
    return step


def test_tubes_runs_and_time():
    plans = plan_protocol(protocol(spin(accel="1 min", decel="2 min")), sample("100 mL"))
    (p,) = plans
    assert p.tubes == 8 and p.runs == 2  # 100 mL in 13.2 mL tubes, 6 places
    assert p.liquid_per_tube == pytest.approx(12.5e-6)
    assert p.process_time == pytest.approx(2 * (60 + 60 + 120))


def test_residual_layer_follows_the_supernatant_or_the_pellet():
    """A particle that does not move (tiny, no Brownian motion) is in the residual layer with the probability
    residual volume / liquid per tube: keep supernatant loses that share, keep pellet keeps only that share."""
    n = 20000
    s = sample("10 mL")
    frac = 0.5 / 10.0
    ds = simulate(protocol(spin(residual_volume="0.5 mL")), s, n_particles=n, seed=2, brownian=False)
    got = float(ds.recovery.sel(population="protein"))
    assert abs(got - (1 - frac)) < 5 * math.sqrt(frac * (1 - frac) / (n / 2))
    ds = simulate(protocol(spin(residual_volume="0.5 mL", keep="pellet", resuspend="1 mL PBS")), s,
                  n_particles=n, seed=2, brownian=False)
    got = float(ds.recovery.sel(population="protein"))
    assert abs(got - frac) < 5 * math.sqrt(frac * (1 - frac) / (n / 2))


def test_wall_loss_share_of_the_pellet():
    """All vesicles pellet in a long hard spin; a wall loss of 20 % leaves 80 % of them in the product."""
    n = 10000
    ds = simulate(protocol(spin(rcf="100000 g", duration="300 min", keep="pellet", resuspend="1 mL PBS",
                                wall_loss="20 %")), sample(), n_particles=n, seed=3)
    got = float(ds.recovery.sel(population="vesicle"))
    assert abs(got - 0.8) < 5 * math.sqrt(0.16 / (n / 2))
    lost = float(ds.fate_count.isel(step=0).sel(place="wall_loss", population="vesicle") / ds.input_count[0])
    assert abs(lost - 0.2) < 5 * math.sqrt(0.16 / (n / 2))


def test_wash_fills_tubes_with_buffer_and_removes_soluble_protein():
    s = sample("1 mL")
    wash = {"kind": "wash", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": "70 min", "medium": "water",
            "residual_volume": "66 uL", "resuspend": "100 uL PBS"}
    (p,) = plan_protocol(protocol(wash), s)
    assert p.tubes == 1 and p.liquid_per_tube == pytest.approx(13.2e-6) and p.medium.name == "water"
    assert p.volume_out == pytest.approx(100e-9 + 66e-9)
    n = 20000
    ds = simulate(protocol(wash), s, n_particles=n, seed=4, brownian=False)
    # without diffusion a particle is kept (pelleted, or in the residual layer) when r0 exp(S) >= r_res,
    # S = s * integral(omega^2 dt): kept share = (r_max - r_res exp(-S)) / (r_max - r_min) for a full tube
    rotor = ROTORS["SW 41 Ti"]
    from exosim.kernels.formulas import sedimentation_coefficient
    from exosim.physics import media, rotors as geom
    t = 277.15
    s_alb = sedimentation_coefficient(7.1e-9, 1360.0, media.water_density(t), media.water_viscosity(t))
    big_s = s_alb * p.omega ** 2 * 70 * 60
    r_res = geom.swinging_radius_at_volume(rotor.r_min, rotor.r_max, rotor.tube_volume, 66e-9)
    expected = (rotor.r_max - r_res * math.exp(-big_s)) / (rotor.r_max - rotor.r_min)
    protein = float(ds.recovery.sel(population="protein"))
    assert 0.005 < expected < 0.05  # soluble protein is mostly washed away ...
    assert abs(protein - expected) < 5 * math.sqrt(expected * (1 - expected) / (n / 2))
    assert float(ds.recovery.sel(population="vesicle")) > 0.99  # ... while 150 nm vesicles pellet


def test_reported_standard_errors_match_the_spread_over_seeds():
    """The delta-method standard errors of purity and particles per ug protein (and the binomial one of recovery)
    agree with the spread of 40 independent runs. With 40 runs the sample standard deviation is within 25 % of the
    true one at about 2.2 sigma; the check allows 40 %, so a formula off by a factor 1.5 or more fails."""
    pops = [
        {"name": "vesicle", "target": True, "concentration": "1e9 /mL", "diameter": "100 nm",
         "density": "1.15 g/mL", "protein": "1e-10 ug"},
        {"name": "aggregate", "concentration": "5e8 /mL", "diameter": "80 nm", "density": "1.30 g/mL",
         "protein": "5e-10 ug"},
    ]
    p = protocol(spin(rcf="20000 g", duration="20 min", keep="pellet", resuspend="1 mL PBS"))
    runs = [simulate(p, sample(populations=pops), n_particles=400, seed=k) for k in range(40)]
    for name in ("purity", "particles_per_ug_protein"):
        values = np.array([float(ds[name]) for ds in runs])
        reported = np.mean([float(ds[f"{name}_stderr"]) for ds in runs])
        assert abs(values.std(ddof=1) / reported - 1) < 0.4, (name, values.std(ddof=1), reported)
    rec = np.array([float(ds.recovery.sel(population="vesicle")) for ds in runs])
    reported = np.mean([float(ds.recovery_stderr.sel(population="vesicle")) for ds in runs])
    assert abs(rec.std(ddof=1) / reported - 1) < 0.4
