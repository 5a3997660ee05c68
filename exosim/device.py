"""Explicit compute devices. A run is given a device object; nothing about the device is global state.

- ``CPU(threads=None)``: numba.njit kernels, parallel over particles, numpy arrays.
- ``GPU(id=0)``: numba.cuda kernels on CuPy arrays (numpy arrays under the CUDA simulator).
- ``auto_select()``: ``GPU(0)`` when a real CUDA GPU is usable, else ``CPU()``.
- ``Group(GPU(0), GPU(1), ...)``: several devices that take batches of particles at once (``cuda:all``,
  ``cuda:0,1``); fates identical to one device (exosim.engine, "Streaming").

numba's CUDA target (through :mod:`exosim.kernels._cuda`) is imported only when a GPU is asked for or
``auto_select`` looks for one: a CPU run never pays for it.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np


def _cuda():
    """:mod:`exosim.kernels._cuda`, the one module that imports numba's CUDA target (imported on first use)."""
    from .kernels import _cuda
    return _cuda


@dataclass(frozen=True)
class CPU:
    """The CPU backend. ``threads``: numba threads (default: numba's default, all cores)."""

    threads: int | None = None
    backend = "cpu"

    @property
    def xp(self):
        return np

    def describe(self) -> str:
        import numba
        return f"CPU ({self.threads or numba.config.NUMBA_NUM_THREADS} threads, {os.cpu_count()} cores)"

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

    def kernels(self):
        from .kernels import KernelSet, cpu
        return KernelSet(cpu.spin_swinging, cpu.spin_fixed, cpu.spin_gradient, cpu.sample, cpu.filter_arrivals,
                         cpu.plug_table, cpu.tff_particles)

    def launch(self, kernel, n, *args):
        kernel(*args)


@dataclass(frozen=True)
class GPU:
    """A CUDA GPU (``id``: device ordinal). Under NUMBA_ENABLE_CUDASIM=1 the kernels run in numba's simulator."""

    id: int = 0
    backend = "cuda"

    def __post_init__(self):
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
            return "CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
        cuda = _cuda().require()
        with cuda.gpus[self.id]:
            dev = cuda.get_current_device()
            name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
            return f"GPU {self.id}: {name} (compute capability {dev.compute_capability[0]}.{dev.compute_capability[1]})"

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

    def kernels(self):
        from .kernels import gpu
        return gpu.kernels()

    def launch(self, kernel, n, *args):
        from .kernels import gpu
        gpu.launch(kernel, n, *args)


@dataclass(frozen=True)
class Group:
    """Several devices that share a run: the engine gives each one batches of particles in turn, in a thread of
    its own. Only aggregates come back, so the fates do not depend on how many devices there are."""

    members: tuple

    def __init__(self, *members):
        if not members:
            raise ValueError("a device group needs at least one device")
        object.__setattr__(self, "members", tuple(members))

    @property
    def backend(self) -> str:
        return self.members[0].backend

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


def from_name(name: str):
    """Device from a command-line name: 'auto', 'cpu', 'cuda', 'cuda:N', 'cuda:all' (every GPU, a Group) or a
    list 'cuda:0,2'."""
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
