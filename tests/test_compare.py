"""exosim compare: the comparison dataset reproduces each protocol's own run (same sample, seed and particles),
the table, file and figure are written, --builtin covers every bundled protocol, bad input exits 2."""
import numpy as np
import xarray as xr
from typer.testing import CliRunner

import exosim
from exosim.cli import app


def test_compare_reproduces_each_protocols_own_run(tmp_path):
    out = tmp_path / "cmp.h5"
    r = CliRunner().invoke(app, ["compare", "duc_standard", "sequential_filtration", "--sample",
                                 "msc_conditioned_medium", "-n", "400", "--seed", "3", "--backend", "cpu",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "exosome recovery" in r.output and "runs for 1 L" in r.output
    ds = xr.open_dataset(out)
    assert list(ds.protocol.values) == ["Differential ultracentrifugation", "Sequential filtration"]
    smp = exosim.load_sample("msc_conditioned_medium")
    for name, key in (("duc_standard", "Differential ultracentrifugation"),
                      ("sequential_filtration", "Sequential filtration")):
        own = exosim.simulate(exosim.load_protocol(name), smp, n_particles=400, seed=3, device=exosim.CPU())
        np.testing.assert_array_equal(ds.recovery.sel(protocol=key).values, own.recovery.values)
        assert float(ds.process_time.sel(protocol=key)) == float(own.process_time)
        np.testing.assert_array_equal(ds.damaged_fraction.sel(protocol=key).values, own.damaged_fraction.values)
    # DUC in an SW 41 Ti: six 12.5-mL... places x the first step's liquid per tube; filtration has no rotor limit
    assert np.isinf(float(ds.sample_per_run.sel(protocol="Sequential filtration")))
    assert int(ds.runs_per_litre.sel(protocol="Sequential filtration")) == 1
    duc_cap = float(ds.sample_per_run.sel(protocol="Differential ultracentrifugation"))
    assert int(ds.runs_per_litre.sel(protocol="Differential ultracentrifugation")) == int(np.ceil(1e-3 / duc_cap))
    assert "SW 41 Ti" in str(ds.equipment.sel(protocol="Differential ultracentrifugation").values)
    png = out.with_suffix(".png")
    assert png.stat().st_size > 20_000


def test_builtin_compares_every_bundled_protocol(tmp_path):
    r = CliRunner().invoke(app, ["compare", "--builtin", "-n", "16", "--backend", "cpu", "-o",
                                 str(tmp_path / "all.h5")])
    assert r.exit_code == 0, r.output
    ds = xr.open_dataset(tmp_path / "all.h5")
    from exosim.config import CONFIG_ROOT
    bundled = [f for f in CONFIG_ROOT.joinpath("protocols").iterdir() if f.name.endswith(".yaml")]
    assert ds.sizes["protocol"] == len(bundled) >= 7


def test_compare_bad_input():
    r = CliRunner().invoke(app, ["compare", "--sample", "msc_conditioned_medium"])
    assert r.exit_code == 2 and "protocols" in r.output
    r = CliRunner().invoke(app, ["compare", "no_such_protocol", "--sample", "msc_conditioned_medium"])
    assert r.exit_code == 2 and "no such file" in r.output
