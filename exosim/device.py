"""Explicit compute devices. A run is given a device object; nothing about the device is global state.

- ``CPU(threads=None, precision=64)``: numba.njit kernels, parallel over particles, numpy arrays.
- ``GPU(id=0, precision=32)``: numba.cuda kernels on CuPy arrays (numpy arrays under the CUDA simulator).
- ``auto_select()``: ``GPU(0)`` when a real CUDA GPU is usable, else ``CPU()``.
- ``Group(GPU(0), GPU(1), ...)``: several devices that take batches of particles at once (``cuda:all``,
  ``cuda:0,1``); fates identical to one device (exosim.engine, "Streaming").

``precision``: 32 or 64 bits for the step kernels and the particle state (kernels/precision.py); default 64 on
the CPU (float32 is no faster there) and 32 on a GPU, or ``$EXOSIM_PRECISION`` when set.

numba's CUDA target (through :mod:`exosim.kernels._cuda`) is imported only when a GPU is asked for or
``auto_select`` looks for one: a CPU run never pays for it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass

import numpy as np


PRECISION_ENV = "EXOSIM_PRECISION"


def default_precision(device_default: int) -> int:
    """``$EXOSIM_PRECISION`` (32 or 64) when set, else the device's own default; ValueError for another value."""
    value = os.environ.get(PRECISION_ENV, "").strip()
    if not value:
        return device_default
    if value not in ("32", "64"):
        raise ValueError(f"${PRECISION_ENV} must be 32 or 64 (bits), got {value!r}")
    return int(value)


def _check_precision(bits):
    if bits not in (32, 64):
        raise ValueError(f"precision must be 32 or 64 bits, got {bits!r}")


class _Precision:
    """What a device with a ``precision`` field (bits) offers: the float type of its particle state and kernels."""

    @property
    def real(self):
        return np.float32 if self.precision == 32 else np.float64

    def kernels(self):
        """The compiled loops (a KernelSet): the step kernels in the device's precision, the others float64."""
        from .kernels import KernelSet
        base = self._loops(64)
        if self.precision == 64:
            return base
        steps = self._loops(32)
        return KernelSet(steps.spin_swinging, steps.spin_fixed, steps.spin_gradient, *base[3:])


def _cuda():
    """:mod:`exosim.kernels._cuda`, the one module that imports numba's CUDA target (imported on first use)."""
    from .kernels import _cuda
    return _cuda


@dataclass(frozen=True)
class CPU(_Precision):
    """The CPU backend. ``threads``: numba threads (default: numba's default, all cores); ``precision``: 32 or
    64 bits (default 64, or $EXOSIM_PRECISION)."""

    threads: int | None = None
    precision: int = None
    backend = "cpu"

    def __post_init__(self):
        if self.precision is None:
            object.__setattr__(self, "precision", default_precision(64))
        _check_precision(self.precision)

    @property
    def xp(self):
        return np

    def describe(self) -> str:
        import numba
        return (f"CPU ({self.threads or numba.config.NUMBA_NUM_THREADS} threads, {os.cpu_count()} cores, "
                f"float{self.precision})")

    @contextlib.contextmanager
    def activate(self):
        import numba
        if self.threads is None:
            yield
            return
        old = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            yield
        finally:
            numba.set_num_threads(old)

    def to_host(self, a) -> np.ndarray:
        return np.asarray(a)

    @staticmethod
    def _loops(bits):
        from .kernels import KernelSet, precision
        cpu = precision.step_module("cpu", bits)
        return KernelSet(cpu.spin_swinging, cpu.spin_fixed, cpu.spin_gradient, cpu.sample, cpu.filter_arrivals,
                         cpu.plug_table, cpu.retentate_particles)

    def launch(self, kernel, n, *args):
        kernel(*args)


@dataclass(frozen=True)
class GPU(_Precision):
    """A CUDA GPU (``id``: device ordinal; ``precision``: 32 or 64 bits, default 32 or $EXOSIM_PRECISION). Under
    NUMBA_ENABLE_CUDASIM=1 the kernels run in numba's simulator."""

    id: int = 0
    precision: int = None
    backend = "cuda"

    def __post_init__(self):
        if self.precision is None:
            object.__setattr__(self, "precision", default_precision(32))
        _check_precision(self.precision)
        if not _cuda().available():
            raise RuntimeError(f"cannot use GPU({self.id}): {_cuda().why_unavailable()}")
        if not self.simulated:
            try:
                import cupy  # noqa: F401
            except ImportError:
                raise RuntimeError(f"cannot use GPU({self.id}): CuPy is not installed; install exosim[cuda12] "
                                   f"or exosim[cuda13]") from None
            n = len(_cuda().require().gpus)
            if not 0 <= self.id < n:
                raise RuntimeError(f"cannot use GPU({self.id}): this machine has {n} GPU(s)")
        elif self.id != 0:
            raise RuntimeError(f"cannot use GPU({self.id}): the CUDA simulator has one GPU, GPU(0)")

    @property
    def simulated(self) -> bool:
        return _cuda().simulator()

    @property
    def xp(self):
        if self.simulated:
            return np
        import cupy
        return cupy

    def describe(self) -> str:
        if self.simulated:
            return f"CUDA simulator (NUMBA_ENABLE_CUDASIM=1, float{self.precision})"
        cuda = _cuda().require()
        with cuda.gpus[self.id]:
            dev = cuda.get_current_device()
            name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
            return (f"GPU {self.id}: {name} (compute capability {dev.compute_capability[0]}."
                    f"{dev.compute_capability[1]}, float{self.precision})")

    @contextlib.contextmanager
    def activate(self):
        """Make this GPU current for both CuPy (arrays) and numba (kernels)."""
        if self.simulated:
            yield
            return
        import cupy
        with cupy.cuda.Device(self.id), _cuda().require().gpus[self.id]:
            yield

    def to_host(self, a) -> np.ndarray:
        return a if isinstance(a, np.ndarray) else a.get()

    @staticmethod
    def _loops(bits):
        from .kernels import precision
        return precision.step_module("gpu", bits).kernels()

    def launch(self, kernel, n, *args):
        from .kernels import gpu
        gpu.launch(kernel, n, *args)


@dataclass(frozen=True)
class Group:
    """Several devices that share a run: the engine gives each one batches of particles in turn -- real GPUs at
    once, each in a thread of its own; CPUs and the CUDA simulator one after the other (numba's parallel CPU loops
    and the simulator are not safe to enter from several threads). Only aggregates come back, so the fates do not
    depend on how many devices there are. The members share one backend and one precision."""

    members: tuple

    def __init__(self, *members):
        if not members:
            raise ValueError("a device group needs at least one device")
        kinds = {(m.backend, m.precision) for m in members}
        if len(kinds) > 1:
            raise ValueError("the devices of a group must share one backend and one precision, got "
                             + ", ".join(f"{b} float{p}" for b, p in sorted(kinds)))
        object.__setattr__(self, "members", tuple(members))

    @property
    def concurrent(self) -> bool:
        """True when the members may run at once (real GPUs)."""
        return self.backend == "cuda" and not self.members[0].simulated

    @property
    def backend(self) -> str:
        return self.members[0].backend

    @property
    def precision(self) -> int:
        return self.members[0].precision

    def describe(self) -> str:
        return f"{len(self.members)} devices: " + "; ".join(m.describe() for m in self.members)

    def activate(self):
        return self.members[0].activate()


def gpu_count() -> int:
    """Number of usable CUDA GPUs (1 under the CUDA simulator; 0 without CUDA)."""
    if not _cuda().available():
        return 0
    return len(_cuda().require().gpus)


def _no_nvidia_driver() -> bool:
    """True on a Linux machine with no sign of an NVIDIA driver (no /proc/driver/nvidia, no nvidia-smi): then no
    CUDA GPU can be usable, and looking for one (importing numba's CUDA target, about 0.4 s) is skipped."""
    import shutil
    import sys

    return sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia") \
        and shutil.which("nvidia-smi") is None


def auto_select():
    """GPU(0) when a real CUDA GPU is usable, else CPU()."""
    if _no_nvidia_driver():
        return CPU()
    return GPU(0) if _cuda().real_gpu() else CPU()


def from_name(name: str, precision: int | None = None):
    """Device from a command-line name: 'auto', 'cpu', 'cuda', 'cuda:N', 'cuda:all' (every GPU, a Group) or a
    list 'cuda:0,2'; ``precision`` (32 or 64 bits) instead of the device's default."""
    dev = _from_name(name)
    if precision is None:
        return dev
    _check_precision(precision)
    if isinstance(dev, Group):
        return Group(*(dataclasses.replace(m, precision=precision) for m in dev.members))
    return dataclasses.replace(dev, precision=precision)


def _from_name(name: str):
    name = name.strip().lower()
    if name == "auto":
        return auto_select()
    if name == "cpu":
        return CPU()
    if name in ("cuda", "gpu"):
        return GPU(0)
    if name.startswith("cuda:"):
        spec = name.split(":", 1)[1]
        if spec == "all":
            n = gpu_count()
            if n == 0:
                raise RuntimeError(f"cannot use cuda:all: {_cuda().why_unavailable()}")
            ids = list(range(n))
        else:
            try:
                ids = [int(x) for x in spec.split(",")]
            except ValueError:
                raise ValueError(f"unknown backend {name!r}; use cuda:N, cuda:all or a list cuda:0,1") from None
            if len(set(ids)) != len(ids):
                raise ValueError(f"backend {name!r} names a GPU twice")
        return GPU(ids[0]) if len(ids) == 1 else Group(*(GPU(i) for i in ids))
    raise ValueError(f"unknown backend {name!r}; use auto, cpu, cuda, cuda:N, cuda:all or cuda:0,1")
