"""Philox4x32-10 against the Random123 known-answer vectors, and identical streams on every backend."""
import numpy as np
import pytest

from exosim.kernels import cpu, philox, sampling
from exosim.kernels._cuda import cuda  # module global, as the CUDA simulator requires

# Random123 kat_vectors (philox4x32 10): counter, key -> output
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers_python(ctr, key, expected):
    assert tuple(int(x) for x in philox.philox4x32_10(*ctr, *key)) == expected


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers_compiled_cpu(ctr, key, expected):
    import numba

    @numba.njit
    def words(c0, c1, c2, c3, k0, k1):
        return philox.philox4x32_10(c0, c1, c2, c3, k0, k1)

    assert tuple(int(x) for x in words(*ctr, *key)) == expected


def test_known_answers_cuda():
    from conftest import cuda_device
    dev = cuda_device()

    @cuda.jit
    def kernel(ctr, key, out):
        i = cuda.grid(1)
        if i < ctr.shape[0]:
            w = philox.philox4x32_10(ctr[i, 0], ctr[i, 1], ctr[i, 2], ctr[i, 3], key[i, 0], key[i, 1])
            for j in range(4):
                out[i, j] = w[j]

    ctr = np.array([k[0] for k in KAT], dtype=np.uint64)
    key = np.array([k[1] for k in KAT], dtype=np.uint64)
    xp = dev.xp
    out = xp.zeros((len(KAT), 4), dtype=np.uint64)
    kernel[1, 32](xp.asarray(ctr), xp.asarray(key), out)
    assert dev.to_host(out).tolist() == [list(k[2]) for k in KAT]


def test_same_draws_on_cpu_and_cuda():
    """The sampling kernel gives bit-identical values on both backends, for any offset into the particle ids."""
    from conftest import cuda_device
    dev = cuda_device()
    sample_gpu = dev.kernels().sample
    n, pid0 = 48, 1_000_003
    args = (pid0, 12345, philox.STREAM_DIAMETER, sampling.LOGNORMAL, 100e-9, 1.5, 30e-9, 200e-9)
    host = np.empty(n)
    cpu.sample(*args, host)
    dev_out = dev.xp.empty(n)
    dev.launch(sample_gpu, n, *args, dev_out)
    np.testing.assert_array_equal(dev.to_host(dev_out), host)
    part = np.empty(n - 5)
    cpu.sample(pid0 + 5, *args[1:], part)  # a chunk that starts later gets the same numbers
    np.testing.assert_array_equal(part, host[5:])


def test_normal_moments():
    """Box-Muller normals from Philox: mean 0 and variance 1 within 5 standard errors."""
    n = 200_000
    out = np.empty(n)
    cpu.sample(0, 7, philox.STREAM_DENSITY, sampling.NORMAL, 0.0, 1.0, -np.inf, np.inf, out)
    assert abs(out.mean()) < 5 / np.sqrt(n)
    assert abs(out.var() - 1.0) < 5 * np.sqrt(2.0 / n)


def test_truncated_lognormal_bounds_and_median():
    """Draws respect the bounds; the median of a symmetric truncation is the distribution's median."""
    n = 100_000
    out = np.empty(n)
    cpu.sample(0, 3, philox.STREAM_DIAMETER, sampling.LOGNORMAL, 100e-9, 1.5, 100e-9 / 1.5 ** 2,
               100e-9 * 1.5 ** 2, out)
    assert out.min() >= 100e-9 / 2.25 and out.max() <= 225e-9
    # the median of n draws has standard error ~ 1.2533 sigma_trunc/sqrt(n) in log space; bound it by sigma
    log_med = np.log(np.median(out) / 100e-9)
    assert abs(log_med) < 5 * 1.2533 * np.log(1.5) / np.sqrt(n)


def test_sincos_turns_accuracy():
    """The polynomial sin/cos of Box-Muller agree with libm to 1e-15 over the whole turn, quadrant edges included."""
    u = np.concatenate([np.linspace(0.0, 1.0, 20001)[:-1], np.arange(1, 4) / 4 + 1e-12, np.arange(1, 4) / 4 - 1e-12,
                        np.arange(1, 8) / 8])
    got = np.array([philox.sincos_turns(x) for x in u])
    np.testing.assert_allclose(got[:, 0], np.sin(2 * np.pi * u), atol=1e-15, rtol=0)
    np.testing.assert_allclose(got[:, 1], np.cos(2 * np.pi * u), atol=1e-15, rtol=0)
