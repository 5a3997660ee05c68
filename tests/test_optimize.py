"""exosim optimize: a small constrained search on a dask LocalCluster writes its trials (inside their ranges), the
best trials meet the constraint and carry re-runs with other seeds; bad input exits 2."""
import json

import numpy as np
import xarray as xr
from typer.testing import CliRunner

from exosim.cli import app


def test_small_constrained_search(tmp_path):
    out = tmp_path / "opt.h5"
    r = CliRunner().invoke(app, ["optimize", "duc_standard", "--sample", "msc_conditioned_medium",
                                 "--vary", "steps[3].duration=30min..4h", "--maximize", "particles_per_ug_protein",
                                 "--subject-to", "recovery >= 0.3", "--trials", "4", "-n", "600", "--repeats", "2",
                                 "--workers", "2", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ds = xr.open_dataset(out)
    minutes = ds.steps_3_duration.values
    assert ds.sizes["trial"] == 4 and np.all((minutes >= 30) & (minutes <= 240))
    feasible = ds.feasible.values.astype(bool)
    np.testing.assert_array_equal(feasible, ds.recovery.values >= 0.3)
    best = json.loads(ds.attrs["best"])
    assert best and all(b["metrics"]["recovery"] >= 0.3 for b in best)
    assert all(b["repeats"] == 2 and np.isfinite(b["repeated"]["recovery_stderr"]) for b in best)
    # the first best is the feasible trial of highest particles per ug protein
    top = ds.particles_per_ug_protein.values[feasible].max()
    assert best[0]["metrics"]["particles_per_ug_protein"] == top
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_bad_optimize_input():
    base = ["optimize", "duc_standard", "--sample", "msc_conditioned_medium"]
    cases = [(["--vary", "steps[3].duration=30min..4h", "--maximize", "happiness"], "unknown metric"),
             (["--vary", "steps[3].duration=4h", "--maximize", "purity"], "PATH=LOW..HIGH"),
             (["--vary", "steps[3].rcf=50000g..900000g", "--maximize", "purity"], "steps[3].rcf"),
             (["--vary", "steps[3].duration=30min..4h", "--maximize", "purity", "--subject-to", "recovery ~ 1"],
              "METRIC OP VALUE")]
    for args, words in cases:
        r = CliRunner().invoke(app, base + args)
        assert r.exit_code == 2 and words in r.output, (args, r.output)
