"""Physical constants shared by the kernels and the host code, importable without numba. SI units."""
BOLTZMANN = 1.380649e-23      # J/K, exact (SI 2019)
GAS_CONSTANT = 8.314462618    # J/(mol K), exact (SI 2019: N_A k_B)
ISO_OSMOLALITY = 0.290        # osmol/kg: culture medium, PBS and a vesicle's lumen in them (OptiPrep sheet M01)
LUMEN_WATER_DENSITY = 998.2  # kg/m^3: density of the water a vesicle's lumen gains or loses (water, 20 degC)
