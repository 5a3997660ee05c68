"""exosim.kernels: per-particle physics written once, compiled for the CPU and for CUDA.

Every scalar formula here is a plain Python function decorated with numba's ``register_jitable``: it runs as
ordinary Python (on numpy arrays or scalars, and under the CUDA simulator), it is inlined into ``numba.njit``
loops on the CPU (:mod:`exosim.kernels.cpu`), and into ``numba.cuda.jit`` kernels on the GPU
(:mod:`exosim.kernels.gpu`). Only :mod:`exosim.kernels._cuda` imports numba's CUDA target.

Units: SI throughout (m, s, kg, kg/m^3, Pa*s, J).
"""
from collections import namedtuple

# what a device's ``kernels()`` returns: the compiled loops of one backend, by name
KernelSet = namedtuple("KernelSet", "spin_swinging spin_fixed spin_gradient sample filter_arrivals plug_table "
                                   "retentate_particles")
