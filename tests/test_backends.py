"""The same seed gives the same fates on every backend and for any chunking (counter-based random numbers)."""
import numpy as np
import pytest

from exosim import CPU, load_protocol, load_rotors, load_sample, simulate
from exosim.kernels import spin
from exosim.methods.centrifuge import kernel_params, run_tube, tube_geometry
from exosim.physics import media, rotors as geom

T4 = 277.15


def run_once(device, rotor_name, n=40, seed=9, step=2, chunk=1 << 20, record=True, max_step=None):
    rotor = load_rotors()[rotor_name]
    geometry = tube_geometry(rotor, 0.8 * rotor.tube_volume, 0.05 * rotor.tube_volume)
    prm = kernel_params(geometry, media.water_density(T4), media.water_viscosity(T4), T4, wall_loss=0.2,
                        record=record)
    rng = np.random.default_rng(0)  # test inputs only; the kernels draw their own numbers
    d = rng.uniform(50e-9, 2e-6, n)
    rho = rng.uniform(1050.0, 1250.0, n)
    active = rng.uniform(size=n) < 0.9
    seg = geom.speed_profile(geom.rpm_to_omega(20000), 900.0, accel=60.0, decel=60.0, max_step=max_step)
    xp = device.xp
    outcome, pos = run_tube(device, geometry, prm, seg, xp.asarray(d), xp.asarray(rho), xp.asarray(active),
                            seed=seed, step=step, chunk=chunk, record=record)
    return device.to_host(outcome), device.to_host(pos), active


@pytest.mark.parametrize("rotor", ["SW 41 Ti", "Type 70 Ti"])
def test_cpu_and_cuda_give_the_same_fates(device, rotor):
    ref_out, ref_pos, active = run_once(CPU(), rotor)
    out, pos, _ = run_once(device, rotor)
    np.testing.assert_array_equal(out, ref_out)
    assert set(np.unique(ref_out[active])) >= {spin.PELLET, spin.SUPERNATANT}  # a case with both fates
    np.testing.assert_allclose(pos, ref_pos, rtol=1e-12, atol=1e-15)  # libm vs libdevice: last-bit differences


@pytest.mark.parametrize("rotor", ["SW 41 Ti", "Type 70 Ti"])
def test_chunking_does_not_change_fates(rotor):
    ref, _, _ = run_once(CPU(), rotor, n=500)
    for chunk in (1, 7, 128):
        out, _, _ = run_once(CPU(), rotor, n=500, chunk=chunk)
        np.testing.assert_array_equal(out, ref)


def test_different_seeds_and_steps_give_different_fates():
    a, _, _ = run_once(CPU(), "SW 41 Ti", n=2000, seed=1)
    b, _, _ = run_once(CPU(), "SW 41 Ti", n=2000, seed=2)
    c, _, _ = run_once(CPU(), "SW 41 Ti", n=2000, seed=1, step=3)
    assert (a != b).any() and (a != c).any()


def test_whole_protocol_same_on_cpu_and_cuda(device):
    """A whole DUC protocol: identical fates, per particle, on each backend."""
    protocol, sample = load_protocol("duc_standard"), load_sample("msc_conditioned_medium")
    ref = simulate(protocol, sample, n_particles=48, seed=4, device=CPU(), keep_particles=True)
    got = simulate(protocol, sample, n_particles=48, seed=4, device=device, keep_particles=True)
    np.testing.assert_array_equal(got.particle_fate.values, ref.particle_fate.values)
    np.testing.assert_array_equal(got.fate_count.values, ref.fate_count.values)


def test_cupy_arrays_on_a_real_gpu(real_gpu):
    """On a real GPU the particle state lives in CuPy arrays and the kernels run on them, and every fate equals
    the CPU's: no multiply-add is fused (tests/test_cuda_compile.py), sqrt and division are correctly rounded on
    both; exp, log and expm1 come from libdevice on the GPU and from libm on the CPU, which may differ in the last
    bit, so a fate could flip only where a value falls within about 1e-16 (relative) of a boundary or of its
    uniform -- about one particle in 1e13 per comparison, none in this run."""
    import cupy
    protocol, sample = load_protocol("duc_standard"), load_sample("msc_conditioned_medium")
    from exosim.engine import run_protocol
    run = run_protocol(protocol, sample, n_particles=20000, seed=3, device=real_gpu)
    assert isinstance(run.particles.fate, cupy.ndarray)
    ref = run_protocol(protocol, sample, n_particles=20000, seed=3, device=CPU())
    np.testing.assert_array_equal(cupy.asnumpy(run.particles.fate), ref.particles.fate)
