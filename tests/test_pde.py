"""The Monte Carlo against a second, independent solver: the Lamm equation (exosim.pde, physics.lamm).

For monodisperse populations the PDE has no quadrature error; its grid error is estimated from a second solve on
twice the cells. Tolerance: 4 Monte Carlo standard errors sqrt(p (1 - p) / n) plus twice the PDE's grid-refinement
difference. Cases: single spins keeping supernatant or pellet (residual layer, wall loss), with ramps, vesicles
partly pelleted, a strongly diffusing small particle (its boundary resolved by diffusion), a floater, and a
two-step protocol (shares multiply between mixed steps).
"""

import numpy as np
import pytest
from scipy.special import ndtri

import exosim
from exosim import pde
from exosim.config import (CONSTANT, LOGNORMAL, NORMAL, UNIFORM, Distribution, Protocol, Sample, load_media,
                           load_rotors)
from exosim.methods import plan_protocol

ROTORS, MEDIA = load_rotors(), load_media()
N_PER_POP = 20_000

POPS = [
    {"name": "exosome", "target": True, "concentration": "1e9 /mL", "diameter": "100 nm", "density": "1.10 g/mL"},
    {"name": "small", "concentration": "1e9 /mL", "diameter": "12 nm", "density": "1.30 g/mL"},
    {"name": "large", "concentration": "1e8 /mL", "diameter": "180 nm", "density": "1.06 g/mL"},
    {"name": "floater", "concentration": "1e8 /mL", "diameter": "300 nm", "density": "0.95 g/mL"},
]


def sample():
    return Sample.model_validate({"name": "mono", "volume": "10 mL", "medium": "PBS", "populations": POPS},
                                 context={"media": MEDIA})


def protocol(*steps):
    return Protocol.model_validate({"name": "pde", "steps": list(steps)}, context={"rotors": ROTORS, "media": MEDIA})


SUPERNATANT = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "20000 g", "duration": "30 min",
               "accel": "3 min", "decel": "4 min", "keep": "supernatant", "residual_volume": "1 mL"}
PELLET = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": "20 min", "accel": "2 min",
          "decel": "3 min", "keep": "pellet", "residual_volume": "0.5 mL", "wall_loss": 0.2,
          "resuspend": "100 uL PBS"}


def grid_error(plans, smp, temperature, cells=400):
    a = pde.recovery(plans, smp, temperature, n_cells=cells).recovery
    b = pde.recovery(plans, smp, temperature, n_cells=2 * cells).recovery
    return b, np.abs(a - b)


@pytest.mark.parametrize("steps", [(SUPERNATANT,), (PELLET,), (SUPERNATANT, PELLET)],
                         ids=["supernatant", "pellet", "two-steps"])
def test_monte_carlo_agrees_with_the_lamm_equation(steps):
    prot, smp = protocol(*steps), sample()
    plans = plan_protocol(prot, smp)
    expected, grid = grid_error(plans, smp, prot.temperature)
    n = N_PER_POP * len(POPS)
    ds = exosim.simulate(prot, smp, n_particles=n, seed=11, device=exosim.CPU())
    got = ds.recovery.values
    se = np.sqrt(np.clip(expected * (1 - expected), 0, None) / N_PER_POP)
    assert np.all(np.abs(got - expected) <= 4 * se + 2 * grid + 1e-12), (got, expected, se, grid)
    # not a trivial case: vesicles partly recovered, and the populations differ from one another
    assert 0.1 < expected[0] < 0.9 and np.ptp(expected) > 0.3


def test_floater_and_resolved_boundary_cases():
    """Pellet-keeping removes a floater (it stays in the supernatant); the 12-nm particle's boundary is spread by
    diffusion over many cells (cell Peclet number below ~1), where the grid error is second order."""
    prot, smp = protocol(PELLET), sample()
    plans = plan_protocol(prot, smp)
    res = pde.recovery(plans, smp, prot.temperature)
    tube = plans[0].geometry
    residual_share = (tube.r_bottom - tube.r_residual) / (tube.r_bottom - tube.r_meniscus)
    # a floater is never pelleted and (Peclet number huge) leaves the residual layer at the bottom: recovery 0
    assert res.recovery[3] < 1e-6
    # the small particle keeps at least the residual layer's share and is far from fully pelleted
    assert residual_share < res.recovery[1] < 0.9


def test_class_values_are_midpoint_quantiles():
    # uniform: midpoints of m equal bins of [max(lo, p1), min(hi, p2)]
    v = pde.class_values(Distribution(UNIFORM, 1.0, 3.0, 0.0, 10.0), 4)
    assert v == pytest.approx([1.25, 1.75, 2.25, 2.75])
    # untruncated normal, 2 classes: the quartiles mean -/+ 0.6745 sd
    v = pde.class_values(Distribution(NORMAL, 10.0, 2.0, -1e9, 1e9), 2)
    assert v == pytest.approx([10 - 2 * 0.6744897501960817, 10 + 2 * 0.6744897501960817])
    # lognormal: the middle class of an odd number is the median; the classes are symmetric in log
    v = pde.class_values(Distribution(LOGNORMAL, 100e-9, 1.5, 1e-12, 1.0), 5)
    assert v[2] == pytest.approx(100e-9) and v[0] * v[4] == pytest.approx(100e-9 ** 2)
    assert v[4] == pytest.approx(100e-9 * 1.5 ** float(ndtri(0.9)))
    # truncation: normal cut at its mean keeps the upper half only
    v = pde.class_values(Distribution(NORMAL, 0.0, 1.0, 0.0, 1e9), 2)
    assert v == pytest.approx([float(ndtri(0.625)), float(ndtri(0.875))])
    assert pde.class_values(Distribution(CONSTANT, 5.0, 0.0, 5.0, 5.0), 16).tolist() == [5.0]


def test_fixed_angle_and_gradient_steps_are_refused():
    smp = sample()
    fixed = protocol({**SUPERNATANT, "rotor": "Type 70 Ti"})
    with pytest.raises(pde.NotCovered, match="fixed-angle"):
        pde.check_covered(plan_protocol(fixed, smp))
    grad = exosim.load_protocol("dguc_iodixanol")
    with pytest.raises(pde.NotCovered, match="centrifuge and wash steps only"):
        pde.check_covered(plan_protocol(grad, exosim.load_sample("msc_conditioned_medium")))


def test_crosscheck_command(tmp_path):
    from typer.testing import CliRunner

    from exosim.cli import app
    r = CliRunner().invoke(app, ["crosscheck", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "2000",
                                 "--classes", "2", "--density-classes", "1", "--cells", "64", "--backend", "cpu"])
    assert r.exit_code == 0, r.output
    assert "Lamm equation" in r.output and "exosome" in r.output
    r = CliRunner().invoke(app, ["crosscheck", "dguc_iodixanol", "--sample", "msc_conditioned_medium", "-n", "100"])
    assert r.exit_code == 2 and "centrifuge and wash steps only" in r.output
