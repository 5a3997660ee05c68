"""Provenance: a results file records library versions, precision and the YAML it was made from;
``exosim run --replay`` reruns it and says whether the numbers match (exit 0) or not (exit 1)."""
import json

import h5py
import xarray as xr
from typer.testing import CliRunner

from exosim.cli import app


def test_replay_matches_and_detects_a_change(tmp_path):
    out = tmp_path / "r.h5"
    r = CliRunner().invoke(app, ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "600",
                                 "--seed", "5", "--backend", "cpu", "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ds = xr.open_dataset(out)
    assert ds.attrs["precision"] == "float64" and "numba" in json.loads(ds.attrs["versions"])
    assert "Differential ultracentrifugation" in ds.attrs["protocol_yaml"]
    ds.close()
    r = CliRunner().invoke(app, ["run", "--replay", str(out), "--backend", "cpu"])
    assert r.exit_code == 0 and "identical" in r.output, r.output
    with h5py.File(out, "r+") as f:              # a tampered count
        f["fate_count"][0, 0, 0] += 1.0
    r = CliRunner().invoke(app, ["run", "--replay", str(out), "--backend", "cpu"])
    assert r.exit_code == 1 and "differ" in r.output, r.output


def test_replay_bad_input(tmp_path):
    r = CliRunner().invoke(app, ["run", "--replay", str(tmp_path / "none.h5")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(app, ["run", "duc_standard"])
    assert r.exit_code == 2 and "--sample" in r.output


def test_a_killed_run_leaves_the_previous_complete_file(tmp_path):
    """SIGKILL during a run that would overwrite a results file: the old file stays whole (results are written to a
    temporary file and renamed), never a truncated one."""
    import os
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "r.h5"
    args = ["run", "duc_standard", "--sample", "msc_conditioned_medium", "--backend", "cpu", "-q", "-o", str(out)]
    assert CliRunner().invoke(app, [*args, "-n", "400", "--seed", "1"]).exit_code == 0
    before = xr.open_dataset(out).load()
    for delay in (1.0, 3.0):
        proc = subprocess.Popen([sys.executable, "-m", "exosim", *args, "-n", "400000", "--seed", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        after = xr.open_dataset(out).load()      # opens: complete
        assert int(after.attrs["seed"]) in (1, 2)
        if int(after.attrs["seed"]) == 1:
            xr.testing.assert_identical(after, before)
