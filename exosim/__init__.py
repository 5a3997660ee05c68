"""exosim: Monte Carlo simulation of extracellular-vesicle isolation protocols.

Python API::

    import exosim
    protocol = exosim.load_protocol("duc_standard")        # a path, or the name of a bundled protocol
    sample = exosim.load_sample("msc_conditioned_medium")
    ds = exosim.simulate(protocol, sample, n_particles=100_000, seed=1)   # xarray.Dataset
    ds.recovery.sel(population="exosome")
"""
__version__ = "0.1.0"

from .api import simulate  # noqa: E402
from .config import load_protocol, load_rotors, load_sample  # noqa: E402
from .device import CPU, GPU, auto_select  # noqa: E402
from .errors import ConfigError  # noqa: E402

__all__ = ["simulate", "load_protocol", "load_sample", "load_rotors", "CPU", "GPU", "auto_select",
           "ConfigError", "__version__"]
