"""Results files: schema, units, provenance, atomic writing; the command line and the Python API end to end."""
import json

import h5py
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import exosim
from exosim.cli import app
from exosim.results import write


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "demo.h5"
    result = CliRunner().invoke(app, ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "4000",
                                      "--seed", "3", "-o", str(out), "--save-particles"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_table_printed(demo):
    _, text = demo
    for word in ("exosome (target)", "recovery", "purity", "particles per ug protein", "small EVs"):
        assert word in text


def test_file_opens_with_xarray_and_h5py(demo):
    path, _ = demo
    ds = xr.open_dataset(path)
    for name in ("input_count", "product_count", "recovery", "recovery_stderr", "step_recovery", "purity",
                 "particles_per_ug_protein", "protein_ug", "product_volume", "process_time", "fate_count"):
        assert name in ds
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs
    assert ds.sizes["step"] == 5 and "exosome" in ds.population.values
    for attr in ("exosim_version", "schema_version", "config", "seed", "backend", "device", "n_particles",
                 "created"):
        assert attr in ds.attrs
    assert ds.attrs["seed"] == 3
    config = json.loads(ds.attrs["config"])
    assert config["protocol"]["steps"][3]["rcf"] == 100000.0
    with h5py.File(path) as f:
        assert "recovery" in f and "particles" in f
        assert f["particles/fate"].shape == (4000,)
    parts = xr.open_dataset(path, group="particles")
    counts = np.bincount(parts.fate.values.astype(int) * ds.sizes["population"] + parts.population.values,
                         minlength=ds.sizes["place"] * ds.sizes["population"]).reshape(ds.sizes["place"], -1)
    np.testing.assert_allclose(counts * ds.weight.values, ds.fate_count.isel(step=-1).values)


def test_recovery_matches_its_definition(demo):
    ds = xr.open_dataset(demo[0])
    np.testing.assert_allclose(ds.product_count / ds.input_count, ds.recovery)
    p, n = ds.recovery.values, ds.n_sim.values
    np.testing.assert_allclose(ds.recovery_stderr.values, np.sqrt(p * (1 - p) / n))
    exo = ds.sel(population="exosome")
    assert 0.2 < float(exo.recovery) < 0.95  # a standard DUC recovers a part of the small EVs ...
    assert float(ds.recovery.sel(population="apoptotic body")) < 0.01  # ... and removes apoptotic bodies


def test_plot(demo, tmp_path):
    out = tmp_path / "fig.png"
    result = CliRunner().invoke(app, ["plot", str(demo[0]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_rotors_command():
    result = CliRunner().invoke(app, ["rotors"])
    assert result.exit_code == 0 and "SW 41 Ti" in result.output and "124" in result.output


def test_write_is_atomic(tmp_path, monkeypatch):
    """A failed write leaves neither a half-written file nor a temporary one, and keeps an older file intact."""
    ds = xr.Dataset({"x": ("a", np.arange(3.0))})
    target = tmp_path / "r.h5"
    target.write_text("old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(OSError):
        write(ds, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.h5"]


def test_python_api_same_as_cli(demo):
    ds = exosim.simulate(exosim.load_protocol("duc_standard"), exosim.load_sample("msc_conditioned_medium"),
                         n_particles=4000, seed=3, device=exosim.CPU())
    ref = xr.open_dataset(demo[0])
    np.testing.assert_array_equal(ds.fate_count.values, ref.fate_count.values)


def test_plan_command_shows_steps_without_simulating():
    result = CliRunner().invoke(app, ["plan", "duc_standard", "--sample", "msc_conditioned_medium"])
    assert result.exit_code == 0, result.output
    assert "small EVs" in result.output and "3.5 h in the centrifuge" in result.output
    assert "passed on" not in result.output


def test_threads_option(tmp_path):
    result = CliRunner().invoke(app, ["run", "duc_standard", "-s", "msc_conditioned_medium", "-n", "400",
                                      "--threads", "1", "-q"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["run", "duc_standard", "-s", "msc_conditioned_medium", "-n", "400",
                                      "--threads", "999", "-q"])
    assert result.exit_code == 2 and "--threads" in result.stderr


def test_written_file_has_the_permissions_of_a_new_file(tmp_path):
    import os
    umask = os.umask(0o022)
    try:
        path = write(xr.Dataset({"x": ("a", np.arange(2.0))}), tmp_path / "p.h5")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
