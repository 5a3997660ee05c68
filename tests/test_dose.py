"""exosim dose: the production plan for one dose follows from the result's product and the sample volume
(computed here from the results file and the bundled sample's 10 mL), bundled doses load, bad input exits 2."""
import json
import math

import pytest
import xarray as xr
from typer.testing import CliRunner

from exosim.cli import app


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("dose") / "r.h5"
    r = CliRunner().invoke(app, ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "2000",
                                 "--backend", "cpu", "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_particle_dose_with_cells_and_days(result, tmp_path):
    js = tmp_path / "plan.json"
    r = CliRunner().invoke(app, ["dose", str(result), "--dose", "3e10 particles", "--cells-per-mL", "2e5 /mL",
                                 "--secretion", "1000 /day", "-o", str(js)])
    assert r.exit_code == 0, r.output
    plan = json.loads(js.read_text())
    ds = xr.open_dataset(result)
    product = float(ds.product_count.sel(population="exosome"))          # per 10 mL of medium
    medium = 3e10 / product * 10e-6
    assert plan["medium_volume"] == pytest.approx(medium, rel=1e-12)
    assert plan["executions"] == math.ceil(medium / 10e-6)
    assert plan["instrument_time"] == pytest.approx(plan["executions"] * float(ds.process_time))
    assert plan["rotor_runs"] == plan["executions"] * 5                   # duc_standard: 5 runs of one tube
    assert plan["cells"] == pytest.approx(2e5 * 1e6 * medium)
    assert plan["conditioning_time"] / 86400 == pytest.approx(5e9 / (2e5 * 1000))   # sample: 5e9 exosomes/mL


def test_protein_dose_per_kg_from_a_bundled_dose(result, tmp_path):
    js = tmp_path / "plan.json"
    r = CliRunner().invoke(app, ["dose", str(result), "--dose", "protein_100ug_per_kg", "-o", str(js)])
    assert r.exit_code == 0, r.output
    plan = json.loads(js.read_text())
    ds = xr.open_dataset(result)
    assert plan["dose"] == pytest.approx(100e-9 * 70)                    # kg of protein for 70 kg
    assert plan["medium_volume"] == pytest.approx(7e-6 / (float(ds.protein_ug) * 1e-9) * 10e-6, rel=1e-12)
    assert "Kordelas" in CliRunner().invoke(app, ["dose", str(result), "--dose", "gvhd_kordelas_2014"]).output


@pytest.mark.parametrize("args, words", [
    (["--dose", "many"], "--dose"),
    (["--dose", "1e10 particles", "--cells-per-mL", "1e5 /mL"], "--secretion"),
    (["--dose", "1e10 particles", "--per-kg", "70"], "--per-kg"),
])
def test_bad_dose_input(result, args, words):
    r = CliRunner().invoke(app, ["dose", str(result), *args])
    assert r.exit_code == 2 and words in r.output, r.output
