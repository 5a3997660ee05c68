"""exosim: Monte Carlo simulation of extracellular-vesicle isolation protocols.

Python API::

    import exosim
    protocol = exosim.load_protocol("duc_standard")        # a path, or the name of a bundled protocol
    sample = exosim.load_sample("msc_conditioned_medium")
    ds = exosim.simulate(protocol, sample, n_particles=100_000, seed=1)   # xarray.Dataset
    ds.recovery.sel(population="exosome")

The names below are imported on first use, so that ``import exosim`` (and the command line's ``--help``) does
not pay for xarray, pint or numba.
"""
import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "simulate": "api",
    "load_protocol": "config", "load_sample": "config", "load_rotors": "config",
    "CPU": "device", "GPU": "device", "Group": "device", "auto_select": "device",
    "ConfigError": "errors",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
