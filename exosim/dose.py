"""Dose planning: what a production run needs for one clinical dose, from a results file. SI units inside; the
report gives litres, hours, cells and days.

From the result: the target's product count and the protein in the product per run of the protocol on the sample
volume the result was computed for, and the time in instruments. A dose in particles (``1e10 particles``) or in
EV protein (``100 ug``), optionally per kilogram of body mass, then needs

- conditioned medium V = dose / (product per volume of sample),
- executions of the protocol = ceil(V / sample volume) (each as simulated: its rotor runs, its filters),
- instrument time = executions x the protocol's process time,
- with a cell density rho_c [cells/mL of medium] and a secretion rate sigma [particles/cell/day]: cells
  rho_c V and days c / (rho_c sigma) to condition the medium to the sample's target concentration c.
"""
from __future__ import annotations

import json
import math
import re

AVOGADRO = 6.02214076e23


def parse_dose(text: str) -> tuple[float, str]:
    """(value, kind) of a dose: ``'1e10 particles'`` -> (1e10, 'particles'); a mass (``'100 ug'``) -> (kg, 'protein')."""
    from . import units

    t = str(text).strip()
    m = re.fullmatch(r"([0-9.eE+-]+)\s*(particles?|EVs?|vesicles?)", t)
    if m:
        value = float(m.group(1))
        if not value > 0:
            raise ValueError(f"must be greater than zero, got {text!r}")
        return value, "particles"
    try:
        value = units.parse(t, "mass")
    except ValueError:
        raise ValueError(f"expected a number of particles ('1e10 particles') or an EV protein mass ('100 ug'), "
                         f"got {text!r}") from None
    if not value > 0:
        raise ValueError(f"must be greater than zero, got {text!r}")
    return value, "protein"


def plan_dose(ds, dose: float, kind: str, body_mass: float | None = None, cells_per_volume: float | None = None,
              secretion: float | None = None) -> dict:
    """The production plan (SI units) for one dose from a results Dataset. ``dose``: particles, or kg of protein;
    ``body_mass`` [kg] makes it per kilogram; ``cells_per_volume`` [1/m^3] and ``secretion`` [1/s per cell]."""
    import numpy as np

    target = [str(p) for p, t in zip(ds.population.values, ds.is_target.values) if int(t)][0]
    config = json.loads(ds.attrs["config"])
    sample_volume = float(config["sample"]["volume"])
    product = float(ds.product_count.sel(population=target))
    protein = float(ds.protein_ug) * 1e-9                      # kg of protein in the product
    need = dose * (body_mass if body_mass else 1.0)
    per_run = product if kind == "particles" else protein
    if per_run <= 0:
        raise ValueError(f"the result's product holds no {target if kind == 'particles' else 'protein'}")
    medium = need / per_run * sample_volume                     # m^3 of conditioned medium
    executions = math.ceil(medium / sample_volume * (1 - 1e-12))
    out = {
        "target": target, "dose": need, "dose_kind": kind,
        "product_per_litre_medium": per_run / sample_volume * 1e-3,
        "medium_volume": medium, "executions": executions,
        "rotor_runs": executions * int(np.nansum(ds.step_runs.values)),
        "instrument_time": executions * float(ds.process_time),
        "recovery": float(ds.recovery.sel(population=target)),
        "protocol": ds.attrs.get("protocol", ""), "sample": ds.attrs.get("sample", ""),
    }
    if cells_per_volume and secretion:
        conc = float(ds.input_count.sel(population=target)) / sample_volume   # target particles per m^3 of medium
        out["cells"] = cells_per_volume * medium
        out["conditioning_time"] = conc / (cells_per_volume * secretion)
    return out
