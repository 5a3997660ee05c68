"""Results: an xarray.Dataset with units on every variable, written atomically as netCDF4/HDF5 (h5netcdf).

Schema (``SCHEMA_VERSION``): see docs/results.md. ``xr.open_dataset(path)`` and ``h5py.File(path)`` both read it.

The variables are computed with numpy into a :class:`Summary` (what the Dataset is made of); xarray is imported
only when a Dataset is made, so that ``exosim run`` without ``-o`` prints its tables without paying for xarray and
pandas at start-up.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .engine import Run, recovery_stderr
from .fates import DAMAGED, PLACES, PRODUCT

if TYPE_CHECKING:
    import xarray as xr

SCHEMA_VERSION = "1"
KG_PER_UG = 1e-9


def _var(dims, data, units, long_name):
    return (dims, np.asarray(data), {"units": units, "long_name": long_name})


@dataclass
class Summary:
    """The results as numpy arrays: ``data_vars`` and ``coords`` map names to (dims, array, attrs) as
    ``xarray.Dataset`` takes them. ``summary["recovery"]`` is the array; ``summary.index("population", name)``
    the position of a coordinate value."""

    data_vars: dict
    coords: dict
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return (self.data_vars.get(name) or self.coords[name])[1]

    def __contains__(self, name: str) -> bool:
        return name in self.data_vars or name in self.coords

    def index(self, dim: str, value) -> int:
        return list(self[dim]).index(value)

    def merge(self, other: Summary) -> Summary:
        return Summary({**self.data_vars, **other.data_vars}, {**self.coords, **other.coords},
                       {**self.attrs, **other.attrs})

    def to_dataset(self) -> xr.Dataset:
        import xarray as xr
        return xr.Dataset(self.data_vars, coords=self.coords, attrs=self.attrs)


def _ratio_stderr(num_mask, den_mask, den_weight, counts, var_counts):
    """Value and delta-method standard error of R = sum(num_mask c) / sum(den_mask den_weight c), c per population
    with independent variances var_counts (populations are sampled independently)."""
    num = float(np.sum(num_mask * counts))
    den = float(np.sum(den_mask * den_weight * counts))
    if den <= 0:
        return float("nan"), float("nan")
    r = num / den
    grad = (num_mask - r * den_mask * den_weight) / den
    return r, float(np.sqrt(np.sum(grad ** 2 * var_counts)))


def plan_summary(plans, times=None, volumes_out=None) -> Summary:
    """What every step does (dimension ``step``); ``times`` and ``volumes_out``: each step's process time [s] and
    volume passed on [m^3] when the run measured them (a filtration that stopped early), else the plans'."""
    times = times if times is not None else [p.process_time for p in plans]
    volumes_out = volumes_out if volumes_out is not None else [p.volume_out for p in plans]
    return Summary(
        {
            "step_label": _var("step", [p.label for p in plans], "", "step name"),
            "step_kind": _var("step", [p.kind for p in plans], "", "step kind"),
            "step_rotor": _var("step", [p.rotor.name if p.rotor is not None else "" for p in plans], "", "rotor"),
            "step_rcf": _var("step", [p.rcf_avg for p in plans], "1", "relative centrifugal force at r_avg"),
            "step_speed": _var("step", [p.rpm for p in plans], "rpm", "rotor speed"),
            "step_duration": _var("step", [p.duration for p in plans], "s", "time at speed"),
            "step_tubes": _var("step", [p.tubes for p in plans], "1", "tubes spun"),
            "step_runs": _var("step", [p.runs for p in plans], "1", "rotor runs needed for all tubes"),
            "step_time": _var("step", times, "s", "process time of the step (centrifuge runs with ramps, "
                                                 "filtration)"),
            "step_volume_in": _var("step", [p.volume_in for p in plans], "m3", "material entering the step"),
            "step_volume_out": _var("step", volumes_out, "m3", "material passed on"),
            "step_medium": _var("step", [p.medium.name for p in plans], "", "medium during the spin"),
            "step_liquid_per_tube": _var("step", [p.liquid_per_tube for p in plans], "m3", "liquid in each tube"),
        },
        {"step": ("step", np.arange(len(plans)))},
    )


def fraction_summary(run: Run, protein_ug: np.ndarray) -> Summary | None:
    """The last fractionation of the run (dims fraction, population, size_bin; the medium along ``radius`` at the
    end of the gradient spin before it), or None if the protocol has none."""
    records = [(i, s) for i, s in enumerate(run.steps) if "fraction_counts" in s.extra]
    if not records:
        return None
    i, rec = records[-1]
    plan, spin = rec.plan, run.steps[i - 1].plan
    from .methods.fractionate import SIZE_BINS

    n_sim = run.n_sim.astype(float)
    weight = run.weight
    sim = rec.extra["fraction_counts"].astype(float)            # (fraction, population)
    p = sim / n_sim
    counts = sim * weight
    err = np.sqrt(np.clip(p * (1 - p), 0, None) / n_sim) * n_sim * weight
    sizes = rec.extra["fraction_size_counts"].astype(float) * weight[None, :, None]
    n_frac = sim.shape[0]
    centres = np.sqrt(SIZE_BINS[1:] * SIZE_BINS[:-1])
    return Summary(
        {
            "fraction_density": _var("fraction", plan.fraction_density, "kg/m3",
                                     "medium density of the fraction at the end of the spin (refractometer)"),
            "fraction_mass_fraction": _var("fraction", plan.fraction_mass_fraction, "1",
                                           f"{spin.medium.name} mass fraction of the fraction"),
            "fraction_volume": _var("fraction", np.full(n_frac, plan.fraction_volume * plan.tubes), "m3",
                                    "volume of the fraction, all tubes"),
            "fraction_kept": _var("fraction", plan.kept.astype(np.int8), "1", "1 for the fractions passed on"),
            "fraction_count": _var(("fraction", "population"), counts, "1", "real particles in the fraction"),
            "fraction_count_stderr": _var(("fraction", "population"), err, "1",
                                          "Monte Carlo standard error of fraction_count"),
            "fraction_protein": _var("fraction", counts @ protein_ug, "ug", "protein in the fraction"),
            "fraction_size_count": _var(("fraction", "population", "size_bin"), sizes, "1",
                                        "real particles in the fraction by diameter bin"),
            "size_bin_lower": _var("size_bin", SIZE_BINS[:-1], "m", "lower diameter edge of the bin"),
            "size_bin_upper": _var("size_bin", SIZE_BINS[1:], "m", "upper diameter edge of the bin"),
            "pellet_count": _var("population", rec.extra["pellet_counts"] * weight, "1",
                                 "real particles in the gradient tube's pellet"),
            "medium_density": _var("radius", spin.density_final, "kg/m3",
                                   "medium density along the gradient tube at the end of the spin"),
            "medium_density_initial": _var("radius", spin.density_table[0], "kg/m3",
                                           "medium density along the gradient tube as layered"),
        },
        {"radius": ("radius", spin.grid, {"units": "m", "long_name": "distance from the rotation axis"}),
         "size_bin": ("size_bin", centres, {"units": "m", "long_name": "diameter (geometric bin centre)"}),
         "fraction": ("fraction", np.arange(1, n_frac + 1),
                      {"units": "1", "long_name": f"fraction number, collected from the {_side(plan)}"})})


def filtration_summary(run: Run) -> Summary | None:
    """Flux and pressure against time of every filtration step (dims step, filtration_point; NaN for other steps
    and beyond a step's last point), and each step's filtered volume; None without filtration."""
    records = [s.extra for s in run.steps]
    if not any("flux" in e for e in records):
        return None
    n_pt = max(len(e["flux"]) for e in records if "flux" in e)
    shape = (len(records), n_pt)
    t, j, p = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    vol = np.full(len(records), np.nan)
    for i, e in enumerate(records):
        if "flux" in e:
            k = len(e["flux"])
            t[i, :k], j[i, :k], p[i, :k] = e["flux_time"], e["flux"], e["pressure"]
            vol[i] = e["filtered_volume"]
    dims = ("step", "filtration_point")
    return Summary({
        "filtration_time": _var(dims, t, "s", "time since the filtration started"),
        "filtration_flux": _var(dims, j, "m/s", "filtrate flux (volume per membrane area and time)"),
        "filtration_pressure": _var(dims, p, "Pa", "transmembrane pressure"),
        "filtered_volume": _var("step", vol, "m3", "filtrate volume collected (less than planned when the "
                                                   "filtration stopped: the flux fell or the pressure rose too far)"),
    }, {})


def _side(plan) -> str:
    return "top" if plan.edges[0] < plan.edges[-1] else "bottom"


def to_dataset(run: Run) -> xr.Dataset:
    """The run as a Dataset (dims: population, step, place)."""
    return summarize(run).to_dataset()


def summarize(run: Run) -> Summary:
    """The run's results variables (dims: population, step, place; fraction, size_bin, radius after a
    fractionation), as numpy arrays."""
    sample, protocol = run.sample, run.protocol
    pops = sample.populations
    n_sim = run.n_sim.astype(float)
    weight = run.weight
    input_count = n_sim * weight
    counts = np.stack([s.counts for s in run.steps]).astype(float)  # (step, place, population)
    product_sim = counts[-1, PRODUCT]
    recovery = product_sim / n_sim
    rec_err = recovery_stderr(recovery, n_sim)
    product = recovery * input_count
    var_product = (rec_err * input_count) ** 2
    before = np.vstack([n_sim, counts[:-1, PRODUCT]])
    with np.errstate(invalid="ignore", divide="ignore"):
        step_rec = np.where(before > 0, counts[:, PRODUCT] / before, np.nan)
    target = np.array([p.target for p in pops], dtype=float)
    countable = np.array([p.is_countable for p in pops], dtype=float)
    protein_ug = np.array([p.protein_per_particle for p in pops]) / KG_PER_UG
    purity, purity_err = _ratio_stderr(target, countable, 1.0, product, var_product)
    ppug, ppug_err = _ratio_stderr(countable, np.ones_like(countable), protein_ug, product, var_product)
    plans = [s.plan for s in run.steps]
    times = [float(s.extra.get("process_time", s.plan.process_time)) for s in run.steps]
    volumes_out = [float(s.extra.get("volume_out", s.plan.volume_out)) for s in run.steps]
    ds = Summary(
        {
            "input_count": _var("population", input_count, "1", "real particles in the sample"),
            "product_count": _var("population", product, "1", "real particles in the product"),
            "product_count_stderr": _var("population", np.sqrt(var_product), "1",
                                         "Monte Carlo standard error of product_count"),
            "recovery": _var("population", recovery, "1", "fraction of the input found in the product"),
            "recovery_stderr": _var("population", rec_err, "1", "Monte Carlo standard error of recovery"),
            "damaged_fraction": _var("population", counts[-1, DAMAGED] / n_sim, "1",
                                     "fraction of the input ruptured on the way (vesicles lysed in filter pores)"),
            "step_recovery": _var(("step", "population"), step_rec, "1",
                                  "share of each step's input that the step passes on"),
            "fate_count": _var(("step", "place", "population"), counts * weight, "1",
                               "real particles in each place after each step (all places add up to the input)"),
            "purity": _var((), purity, "1", "number fraction of target particles among countable particles in "
                                            "the product"),
            "purity_stderr": _var((), purity_err, "1", "Monte Carlo standard error of purity (delta method)"),
            "particles_per_ug_protein": _var((), ppug, "1/ug", "countable particles per microgram protein in the "
                                                             "product (Webber & Clayton 2013)"),
            "particles_per_ug_protein_stderr": _var((), ppug_err, "1/ug",
                                                    "Monte Carlo standard error of particles_per_ug_protein"),
            "protein_ug": _var((), float(np.sum(product * protein_ug)), "ug", "protein in the product"),
            "product_volume": _var((), volumes_out[-1], "m3", "volume of the product"),
            "process_time": _var((), sum(times), "s", "process time: centrifuge runs with their ramps, "
                                                      "filtrations"),
            "n_sim": _var("population", run.n_sim, "1", "simulation particles per population"),
            "weight": _var("population", weight, "1", "real particles per simulation particle"),
            "is_target": _var("population", target.astype(np.int8), "1", "1 for target populations"),
            "is_countable": _var("population", countable.astype(np.int8), "1",
                                 "1 for populations seen by particle counting (NTA)"),
            "protein_per_particle": _var("population", protein_ug, "ug", "protein mass per particle"),
        },
        {"population": ("population", np.array([p.name for p in pops])), "place": ("place", np.array(PLACES))},
    ).merge(plan_summary(plans, times, volumes_out))
    fractions = fraction_summary(run, protein_ug)
    if fractions is not None:
        ds = ds.merge(fractions)
    filtration = filtration_summary(run)
    if filtration is not None:
        ds = ds.merge(filtration)
    settings = run.settings
    ds.attrs.update(
        title=f"exosim: {protocol.name} on {sample.name}",
        exosim_version=__version__,
        schema_version=SCHEMA_VERSION,
        protocol=protocol.name,
        sample=sample.name,
        config=json.dumps({"protocol": protocol.model_dump(mode="json"), "sample": sample.model_dump(mode="json"),
                           "units": "SI"}),
        seed=int(run.seed),
        backend=run.device.backend,
        device=run.device.describe(),
        n_particles=int(settings["n_particles"]),
        batches=int(settings.get("batches", 1)),
        devices=int(settings.get("devices", 1)),
        max_step=float(settings["max_step"] or 0.0),
        brownian=int(bool(settings["brownian"])),
        temperature_K=float(protocol.temperature),
        precision=f"float{getattr(run.device, 'precision', 64)}",
        versions=json.dumps(library_versions()),
        protocol_yaml=_source_text(protocol),
        sample_yaml=_source_text(sample),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    return ds


def library_versions() -> dict:
    """Versions of the libraries that decide the numbers (installed distributions; absent ones omitted)."""
    from importlib import metadata

    out = {}
    for name in ("numpy", "numba", "numba-cuda", "cupy-cuda12x", "cupy-cuda13x", "llvmlite", "scipy", "xarray"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _source_text(model) -> str:
    """The YAML text a validated protocol or sample was read from ('' when built in Python): what
    ``exosim run --replay`` reruns."""
    from .config import source_of

    src = source_of(model)
    try:
        return Path(src).read_text() if src and not src.startswith("<") else ""
    except OSError:
        return ""


PARTICLE_PREFIX = "particle_"


def particles_dataset(run: Run) -> xr.Dataset:
    """Per-particle arrays along the dimension ``particle`` (variables named ``particle_*``)."""
    import xarray as xr
    p, dev = run.particles, run.device
    if p is None:
        raise ValueError(f"per-particle arrays are not kept by a run in {run.settings['batches']} batches; "
                         f"raise the memory limit or lower the particle count to keep them")
    places = ", ".join(f"{i}={name}" for i, name in enumerate(PLACES))
    return xr.Dataset({
        "particle_diameter": _var("particle", dev.to_host(p.diameter), "m", "particle diameter"),
        "particle_density": _var("particle", dev.to_host(p.density), "kg/m3", "particle density"),
        "particle_population": _var("particle", dev.to_host(p.population), "1",
                                    "index into the population coordinate"),
        "particle_fate": _var("particle", dev.to_host(p.fate), "1", f"place index ({places})"),
        "particle_fate_step": _var("particle", dev.to_host(p.fate_step), "1",
                                   "step that moved the particle (-1: still in the product)"),
    })


def separate_particle_arrays(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset | None]:
    """(summary, per-particle arrays or None): the second goes to the file's group ``particles``, its variables
    named without the ``particle_`` prefix."""
    names = [v for v in ds.data_vars if "particle" in ds[v].dims]
    if not names:
        return ds, None
    parts = ds[names].rename({v: v[len(PARTICLE_PREFIX):] for v in names})
    summary = ds.drop_vars(names)
    summary.attrs["particles_group"] = "particles"
    return summary, parts


def write(ds: xr.Dataset, path) -> Path:
    """Write atomically: to a temporary file in the same folder, then rename. Per-particle arrays, if any, go to
    the group ``particles``. Returns the path."""
    ds, particles = separate_particle_arrays(ds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", mode="w")
        if particles is not None:
            particles.to_netcdf(tmp, engine="h5netcdf", mode="a", group="particles")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it the permissions of a new file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
