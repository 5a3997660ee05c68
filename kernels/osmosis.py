"""Osmotic response of a vesicle's density: a kernel formula in plain Python, importable without numba (the
host's gradient_media and the plan use it as it is; kernels/formulas.py registers it for the compiled kernels,
and kernels/precision.py rewrites it for float32 like every specialised module)."""


def osmotic_density(rho_iso, share, osmolality, iso_osmolality, rho_water):
    """Buoyant density of a vesicle in a medium of another osmolality, and its derivative in the osmolality
    (Boyle-van 't Hoff; exosim.physics.gradient_media.vesicle_density gives the model and its sources).

    The osmotically active share ``share`` = water_fraction (1 - inactive_fraction) of the vesicle's iso-osmotic
    volume scales as Pi_iso / Pi; the water of density rho_water that leaves or enters changes its mass:
    a = share (1 - Pi_iso / Pi), rho = (rho_iso - a rho_water) / (1 - a),
    d rho / d Pi = (rho_iso - rho_water) / (1 - a)^2 * share Pi_iso / Pi^2.
    Works on scalars and on numpy arrays (plain Python where not compiled).

    Args: rho_iso [kg/m^3] (the density in an iso-osmotic medium), share [1] in [0, 1), osmolality Pi and
    iso_osmolality Pi_iso [osmol/kg] (> 0), rho_water [kg/m^3]. Returns (rho [kg/m^3], d rho/d Pi [kg/m^3 per
    osmol/kg]).
    """
    a = share * (1.0 - iso_osmolality / osmolality)
    gone = 1.0 - a
    rho = (rho_iso - a * rho_water) / gone
    return rho, (rho_iso - rho_water) / (gone * gone) * share * iso_osmolality / (osmolality * osmolality)
