"""Runs in batches, on several devices and on any number of threads give the same fates as one run that holds every
particle (counter-based random numbers keyed by the global particle id)."""
import numpy as np
import pytest

from exosim import CPU, load_protocol, load_sample
from exosim.device import Group
from exosim.engine import run_protocol

SAMPLE = load_sample("msc_conditioned_medium")


def _run(protocol, n, **kw):
    return run_protocol(load_protocol(protocol), SAMPLE, n_particles=n, seed=11, device=kw.pop("device", CPU()),
                        **kw)


def _same(a, b):
    """Every step's fate counts and integer aggregates equal; other aggregates equal too."""
    assert len(a.steps) == len(b.steps)
    for sa, sb in zip(a.steps, b.steps):
        np.testing.assert_array_equal(sa.counts, sb.counts)
        assert sa.extra.keys() == sb.extra.keys()
        for key, value in sa.extra.items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(sb.extra[key]), err_msg=key)
    np.testing.assert_array_equal(a.n_sim, b.n_sim)
    np.testing.assert_array_equal(a.weight, b.weight)


@pytest.fixture(scope="module")
def duc_whole():
    return _run("duc_standard", 3000)


def test_batches_give_the_fates_of_one_run(duc_whole):
    """Differential centrifugation with pellet washes and pellet damage (a host-side draw per particle): batches of
    701 particles cut populations in the middle and still give identical counts at every step."""
    batched = _run("duc_standard", 3000, batch=701)
    assert batched.settings["batches"] == 5 and batched.particles is None
    _same(duc_whole, batched)
    assert duc_whole.steps[-1].counts[8].sum() > 0, "the test should exercise pellet damage (damaged particles)"


def test_device_group_gives_the_fates_of_one_device(duc_whole):
    """Two devices taking batches in parallel threads (one thread each) give the counts of one device."""
    group = _run("duc_standard", 3000, batch=500, device=Group(CPU(threads=1), CPU(threads=1)))
    assert group.settings["devices"] == 2 and group.settings["batches"] == 6
    _same(duc_whole, group)


def test_thread_count_does_not_change_any_fate():
    """Every particle's fate (not only the counts) is the same on 1 and on 2 CPU threads."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba allows one thread here (NUMBA_NUM_THREADS=1)")
    one = _run("duc_standard", 1500, device=CPU(threads=1))
    two = _run("duc_standard", 1500, device=CPU(threads=2))
    np.testing.assert_array_equal(one.particles.fate, two.particles.fate)
    np.testing.assert_array_equal(one.particles.fate_step, two.particles.fate_step)


def test_gradient_fractions_in_batches():
    """Density gradient with fractionation: fraction and size counts add up over batches to the whole run's."""
    whole = _run("iodixanol_self_forming", 600)
    _same(whole, _run("iodixanol_self_forming", 600, batch=250))


def test_tff_couples_particles():
    """Tangential flow runs at the flux of the whole retentate (its wall layer): like dead-end filtration it needs
    all particles at once; a memory limit below the particle count is refused with the step named."""
    from exosim.config import Protocol, load_media, load_membranes, load_rotors
    steps = [{"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "10000 g", "duration": "30 min",
              "keep": "supernatant"},
             {"kind": "tff", "membrane": "mPES 500 kDa", "area": "20 cm**2", "pressure": "0.5 bar", "concentrate": 10,
              "diavolumes": 2, "adsorption": "2 %"}]
    prot = Protocol.model_validate({"name": "t", "steps": steps}, context={
        "rotors": load_rotors(), "media": load_media(), "membranes": load_membranes()})
    run = lambda **kw: run_protocol(prot, SAMPLE, n_particles=900, seed=5, device=CPU(), **kw)  # noqa: E731
    whole = run()
    assert whole.steps[-1].counts[5].sum() > 0, "some particles should pass the membrane"
    with pytest.raises(ValueError, match=r"steps\[1\] \(tff\) couples the particles"):
        run(batch=199)


def test_filtration_couples_particles():
    """Dead-end filtration plugs pores at the load of every particle: a memory limit below the particle count is
    refused with the step named; without one, the run holds all particles (one batch)."""
    with pytest.raises(ValueError, match=r"steps\[\d+\] \(filter\) couples the particles"):
        _run("sequential_filtration", 400, batch=100)
    run = _run("sequential_filtration", 400, batch=400)
    assert run.settings["batches"] == 1 and run.particles is not None


def test_max_memory_option_gives_the_same_results(tmp_path):
    """``exosim run --max-memory``: a limit of 40 kB (400 particles) runs 2,000 particles in 5 batches with the
    recovery of one batch; with a filtration step it is refused with the step named."""
    from typer.testing import CliRunner
    from exosim.cli import app

    args = ["run", "duc_standard", "--sample", "msc_conditioned_medium", "-n", "2000", "-q"]
    whole = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "a.h5")])
    batched = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "b.h5"), "--max-memory", "40 kB"])
    assert whole.exit_code == 0 and batched.exit_code == 0, batched.output
    import xarray as xr
    with xr.open_dataset(tmp_path / "a.h5") as a, xr.open_dataset(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a.fate_count.values, b.fate_count.values)
        assert b.attrs["batches"] == 5 and a.attrs["batches"] == 1
    refused = CliRunner().invoke(app, ["run", "sequential_filtration", "--sample", "msc_conditioned_medium",
                                       "-n", "2000", "--max-memory", "40 kB"])
    assert refused.exit_code == 2 and "steps[0] (filter) couples the particles" in refused.stderr


def test_gpu_group_gives_the_fates_of_the_cpu(real_gpu, duc_whole):
    """On a real GPU (benchmarks/gpu_check.sh): two members sharing it, each in its own thread, in double
    precision, give the CPU's counts (a machine with two GPUs runs the same code with GPU(0), GPU(1))."""
    from exosim.device import GPU
    group = _run("duc_standard", 3000, batch=700, device=Group(GPU(0, precision=64), GPU(0, precision=64)))
    _same(duc_whole, group)


def test_group_members_share_backend_and_precision():
    with pytest.raises(ValueError, match="one backend and one precision"):
        Group(CPU(precision=64), CPU(precision=32))


def test_keep_particles_holds_every_particle_or_refuses_before_running(monkeypatch):
    """``simulate(keep_particles=True)`` runs one batch whatever the default batch size; on a device group it
    refuses before any simulation."""
    import exosim
    from exosim import engine
    monkeypatch.setattr(engine, "DEFAULT_BATCH", 500)
    prot = load_protocol("duc_standard")
    ds = exosim.simulate(prot, SAMPLE, n_particles=1200, seed=3, device=CPU(), keep_particles=True)
    assert ds.sizes["particle"] == 1200 and ds.attrs["batches"] == 1
    with pytest.raises(ValueError, match="keep_particles needs one device"):
        exosim.simulate(prot, SAMPLE, n_particles=1200, device=Group(CPU(), CPU()), keep_particles=True)


def test_float32_kernels_load_once_from_several_threads():
    """The float32 package is built under a lock: threads that ask at once all get the complete package (a fresh
    process, where it has not been built yet)."""
    from conftest import run_fresh
    code = (
        "import threading\n"
        "from exosim.kernels import precision\n"
        "got = []\n"
        "def ask():\n"
        "    got.append(precision.step_module('cpu', 32).spin_swinging)\n"
        "ts = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert len(got) == 8 and len({id(g) for g in got}) == 1, got\n"
        "print('ok')\n")
    run_fresh(code)
