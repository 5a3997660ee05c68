"""Parameter sweeps on a real dask LocalCluster (2 worker processes): every point equals its own serial
simulation (same seed, same numbers whatever the workers), an interrupted sweep resumes computing only what is
missing and gives the same dataset, random/Latin-hypercube sampling, the SLURM job script, and bad input."""

import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

import exosim
from exosim import config, sweep as sw
from exosim.cli import app

SWEEP = {"name": "tiny", "protocol": "duc_standard", "sample": "msc_conditioned_medium", "particles": 300, "seed": 2,
         "vary": {"steps[3].duration": ["30 min", "2 h"], "steps[3].rcf": {"from": "50000 g", "to": "150000 g",
                                                                           "num": 2}}}


def write(tmp_path, data, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def serial(data, path, folder):
    """The sweep ``data`` computed point by point in this process, on the CPU, into ``folder``: the reference of
    an uninterrupted run."""
    base_p = yaml.safe_load(config.resolve_path(data["protocol"], "protocols").read_text())
    base_s = yaml.safe_load(config.resolve_path(data["sample"], "samples").read_text())
    pts, layout = sw.points(data, base_p, base_s)
    folder.mkdir()
    for p in pts:
        sw.run_point(p, str(folder), str(path), "cpu")
    return sw.gather(pts, layout, folder, data["name"])


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    out = tmp / "out.h5"
    r = CliRunner().invoke(app, ["sweep", str(write(tmp, SWEEP)), "-o", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    return tmp, out


def test_every_point_equals_its_serial_simulation(done):
    tmp, out = done
    ds = xr.open_dataset(out)
    assert dict(ds.sizes) == {"steps_3_duration": 2, "steps_3_rcf": 2, "population": 8}
    assert list(ds.steps_3_rcf.values) == ["50000 g", "150000 g"]
    base = yaml.safe_load(config.resolve_path("duc_standard", "protocols").read_text())
    smp = exosim.load_sample("msc_conditioned_medium")
    for dur in ("30 min", "2 h"):
        for rcf in ("50000 g", "150000 g"):
            prot = yaml.safe_load(yaml.safe_dump(base))
            prot["steps"][3]["duration"], prot["steps"][3]["rcf"] = dur, rcf
            path = write(tmp, prot, "p.yaml")
            own = exosim.simulate(exosim.load_protocol(path), smp, n_particles=300, seed=2, device=exosim.CPU())
            got = ds.recovery.sel(steps_3_duration=dur, steps_3_rcf=rcf).values
            np.testing.assert_array_equal(got, own.recovery.values)
    assert int(ds.completed.sum()) == 4


def test_a_killed_sweep_resumes_and_gives_the_same_dataset(done, tmp_path):
    """The sweep process (client, scheduler and workers) is killed once a point is stored; a rerun computes only
    the missing points and gives the dataset of the uninterrupted sweep."""
    import os
    import signal
    import subprocess
    import sys
    import time
    _, out_full = done
    full = xr.open_dataset(out_full).load()
    data = dict(SWEEP, particles=1000)  # slower points, so that the kill lands mid-sweep
    path = write(tmp_path, data)
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-m", "exosim", "sweep", str(path), "-o", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = tmp_path / "killed.h5.points"
    t0 = time.time()
    while time.time() - t0 < 120 and not any(store.glob("*.nc")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = len(list(store.glob("*.nc")))
    assert 1 <= stored and not out.exists() or stored == 4
    ds, failures, computed = sw.run(path, out, workers=2)
    assert computed == 4 - stored and not failures
    # uninterrupted: every point computed in this process, into a fresh store
    uninterrupted = serial(data, path, tmp_path / "fresh")
    xr.testing.assert_identical(ds.drop_attrs(), uninterrupted.drop_attrs())
    assert full.sizes == ds.sizes


def test_plot_of_a_sweep_and_its_pareto_front(done):
    from exosim.plot import pareto_front
    front = pareto_front(np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 1.0, 3.0, 2.0]))
    assert list(front) == [0, 2, 3]            # (2, 1) is beaten by (3, 3) in both
    _, out = done
    r = CliRunner().invoke(app, ["plot", str(out), "-o", str(out.with_suffix(".png"))])
    assert r.exit_code == 0, r.output
    assert out.with_suffix(".png").stat().st_size > 30_000


def test_latin_hypercube_points_lie_in_their_ranges(tmp_path):
    data = dict(SWEEP, vary={"steps[3].duration": {"from": "30 min", "to": "4 h"},
                             "sample.populations[0].concentration": {"from": "1e9 /mL", "to": "1e10 /mL"}},
                sampling={"method": "latin_hypercube", "points": 5, "seed": 3})
    base_p = yaml.safe_load(config.resolve_path("duc_standard", "protocols").read_text())
    base_s = yaml.safe_load(config.resolve_path("msc_conditioned_medium", "samples").read_text())
    pts, layout = sw.points(data, base_p, base_s)
    assert layout == {"point": ["steps[3].duration", "sample.populations[0].concentration"]}
    minutes = sorted(float(p.coords["steps[3].duration"].split()[0]) for p in pts)
    # Latin hypercube: one point in each fifth of the range
    assert [int((m - 30) // 42) for m in minutes] == [0, 1, 2, 3, 4]
    assert all(p.sample["populations"][0]["concentration"].endswith("/ milliliter") for p in pts)
    assert len({p.id for p in pts}) == 5


def test_slurm_job_script():
    clu = sw.cluster("slurm", 2, {"queue": "gpu", "account": "ev-lab"})
    try:
        script = clu.job_script()
    finally:
        clu.close()
    assert "#SBATCH -p gpu" in script and "#SBATCH -A ev-lab" in script
    assert "export NUMBA_NUM_THREADS=1" in script and "distributed.cli.dask_worker" in script


@pytest.mark.parametrize("edit, words", [
    ({"vary": {"steps[9].rcf": ["1 g"]}}, "unknown dotted path"),
    ({"vary": {"steps[3].rcf": []}}, "empty list"),
    ({"vary": {"steps[3].rcf": ["900000 g"]}}, "steps[3].rcf = 900000 g"),
])
def test_bad_sweeps_exit_2_before_any_work(tmp_path, edit, words):
    out = tmp_path / "o.h5"
    r = CliRunner().invoke(app, ["sweep", str(write(tmp_path, dict(SWEEP, **edit))), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert words in r.output, r.output
    assert not out.exists() and not any((tmp_path / "o.h5.points").glob("*.nc"))


def test_gpu_workers_give_the_cpu_numbers(tmp_path, monkeypatch):
    """--device gpu: one worker per GPU (the CUDA simulator here: one), pinned to it; the same numbers as the CPU
    sweep (identical fates on both backends in the same precision: $EXOSIM_PRECISION, which the workers inherit,
    sets both to float64)."""
    from conftest import cuda_device
    cuda_device()
    monkeypatch.setenv("EXOSIM_PRECISION", "64")
    out = tmp_path / "gpu.h5"
    data = dict(SWEEP, particles=24, vary={"steps[3].duration": ["30 min", "2 h"]})
    path = write(tmp_path, data)
    ds, failures, computed = sw.run(path, out, device="gpu")
    assert computed == 2 and not failures
    cpu = serial(data, path, tmp_path / "cpu")
    np.testing.assert_array_equal(ds.recovery.values, cpu.recovery.values)


def test_membrane_fields_can_be_swept():
    data = dict(SWEEP, protocol="sequential_filtration",
                vary={"membrane:PCTE 100 nm.pore_diameter": ["80 nm", "200 nm"]})
    base_p = yaml.safe_load(config.resolve_path("sequential_filtration", "protocols").read_text())
    base_s = yaml.safe_load(config.resolve_path("msc_conditioned_medium", "samples").read_text())
    pts, layout = sw.points(data, base_p, base_s)
    assert len({p.id for p in pts}) == 2
    cat = sw.membrane_catalog(pts[0])
    assert cat["PCTE 100 nm"].pore_diameter == pytest.approx(80e-9)
    prot, smp, plans = sw.validate(pts[1], "s.yaml")
    assert plans[0].membrane.pore_diameter == pytest.approx(200e-9)      # the plan uses the swept membrane
    bad = dict(data, vary={"membrane:No such.pore_diameter": ["80 nm"]})
    with pytest.raises(exosim.ConfigError, match="no membrane"):
        sw.validate(sw.points(bad, base_p, base_s)[0][0], "s.yaml")
