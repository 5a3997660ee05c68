"""On-disk caches: compiled CPU kernels, keyed by every kernel source file, and pint's parsed unit definitions.

Folder: ``$EXOSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/exosim``, else ``~/.cache/exosim``. ``EXOSIM_CACHE_DIR=``
(empty) turns the caches off; a folder that cannot be written turns them off silently.

Compiled kernels go to ``kernels/<key>/``. The key hashes the bytes of every ``*.py`` file of this package, the
numba, llvmlite and Python versions and the CPU. numba's own ``cache=True`` checks only the file of the decorated
function, so it would reuse a ``cpu.py`` kernel after an edit of ``spin.py``; here any edit of any kernel file
gives a new key, so a new, empty folder. The sources are hashed when this module is first imported
(``exosim.units`` imports it before any kernel module is loaded) and again before a compiled kernel is saved;
a kernel is saved only if both agree, so a file edited while a process runs is never cached under a stale key.
Every process marks its folder as used (its modification time); folders unused for ``UNUSED_DAYS`` are removed.

This module imports numba only when a kernel is decorated (:func:`cached_njit`).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ENV_VAR = "EXOSIM_CACHE_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent
UNUSED_DAYS = 30


def cache_root() -> Path | None:
    """exosim's cache folder (not created), or None when ``EXOSIM_CACHE_DIR`` is set empty."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return Path(value).expanduser() if value else None
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "exosim"


def writable_folder(path: Path) -> Path | None:
    """``path``, created if needed, when this process can write files in it; else None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return None
    return path


def source_hash(folder: Path = PACKAGE_DIR) -> str:
    """SHA-256 of the names and bytes of every ``*.py`` file under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        data = path.read_bytes()
        h.update(f"{path.relative_to(folder).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


SOURCE_HASH = source_hash()  # the kernel sources as this process loads them


def kernel_key(sources: str = SOURCE_HASH) -> str:
    """Name of the cache folder of compiled kernels: the sources, numba, llvmlite, Python and the CPU."""
    import llvmlite
    import numba
    from llvmlite import binding

    cpu = numba.config.CPU_NAME or binding.get_host_cpu_name()
    parts = (sources, numba.__version__, llvmlite.__version__, sys.implementation.cache_tag, platform.machine(), cpu)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def prune(kernels: Path, keep: Path, days: float = UNUSED_DAYS) -> None:
    """Remove the folders in ``kernels`` other than ``keep`` that no process has used for ``days``."""
    cutoff = time.time() - days * 86400
    for folder in kernels.iterdir():
        if folder != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def kernel_folder() -> Path | None:
    """The folder of this process's compiled kernels (marked used), or None when there is no usable cache."""
    root = cache_root()
    folder = None if root is None else writable_folder(root / "kernels" / kernel_key())
    if folder is not None:
        try:
            os.utime(folder)
            prune(folder.parent, keep=folder)
        except OSError:
            pass
    return folder


@functools.cache
def _kernel_cache_class():
    """A numba ``FunctionCache`` that stores in :func:`kernel_folder` and never fails a run."""
    from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

    class KeyedLocator(_CacheLocator):
        """One folder per kernel key; the key already covers every source file, so it is the source stamp."""

        def __init__(self, folder: Path, lineno: int):
            self._folder, self._lineno = folder, lineno

        def get_cache_path(self):
            return str(self._folder)

        def get_source_stamp(self):
            return self._folder.name

        def get_disambiguator(self):
            return str(self._lineno)

    class KeyedImpl(CompileResultCacheImpl):
        def __init__(self, py_func):  # numba's picks a locator from a list; this one has exactly one
            self._lineno = py_func.__code__.co_firstlineno
            self._locator = KeyedLocator(kernel_folder(), self._lineno)
            name = f"{py_func.__module__}.{py_func.__qualname__}"  # the float32 specialisation: its own entry
            self._filename_base = self.get_filename_base(name, getattr(sys, "abiflags", ""))

    class KernelCache(FunctionCache):
        _impl_class = KeyedImpl

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception:  # an unreadable or corrupt entry: compile instead
                return None

        def save_overload(self, sig, data):
            if source_hash() != SOURCE_HASH:  # a kernel file changed since it was loaded: do not store
                return
            try:
                super().save_overload(sig, data)
            except OSError:  # cache folder gone, disk full: the run goes on uncached
                pass

    return KernelCache


def cached_njit(**options):
    """``numba.njit(**options)``, with the compiled code cached in :func:`kernel_folder` (when there is one)."""
    import numba
    from numba.core.dispatcher import Dispatcher

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if isinstance(dispatcher, Dispatcher) and kernel_folder() is not None:
            dispatcher._cache = _kernel_cache_class()(dispatcher.py_func)  # what numba's enable_caching does
        return dispatcher

    return decorate
