"""Parameter sweeps: a base protocol and sample, parameters varied by dotted path, every point a full simulation,
run on dask.distributed (a local cluster of worker processes, a scheduler by address, or SLURM/PBS through
dask-jobqueue), stored point by point so an interrupted sweep resumes (docs/sweeps.md).

A sweep file::

    name: DUC 100,000 g spin: time x force
    protocol: duc_standard            # a bundled name or a path
    sample: msc_conditioned_medium
    particles: 20000                  # simulation particles per point
    seed: 1
    vary:
      steps[3].duration: [30 min, 70 min, 2 h, 4 h]          # a list: one grid dimension
      steps[3].rcf: {from: 50000 g, to: 150000 g, num: 3}     # a linear grid
    # sampling: {method: latin_hypercube, points: 16, seed: 0}  # instead of a grid: ranges {from, to} only

Paths address the protocol's YAML (``steps[3].rcf``, ``temperature``), prefixed ``sample.`` the sample's
(``sample.populations[0].concentration``), and prefixed ``membrane:NAME.`` a field of a catalog membrane
(``membrane:PCTE 100 nm.pore_diameter``). Every point is validated before any work starts. A point's id is a
hash of its resolved protocol, sample, particle count and seed; its results are written to ``<out>.points/<id>.nc``
as it completes, and a rerun computes only the points that are missing. Same seed, same numbers, whatever the
number of workers.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError

METRICS = ("purity", "purity_stderr", "particles_per_ug_protein", "particles_per_ug_protein_stderr",
           "process_time", "product_volume")
PER_POPULATION = ("recovery", "recovery_stderr", "damaged_fraction")
_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


@dataclass
class Point:
    """One simulation of a sweep: its coordinates (path -> value string), resolved configs and id."""

    coords: dict
    protocol: dict
    sample: dict
    particles: int
    seed: int
    membranes: dict = None   # catalog membranes with changed fields: name -> {field: value}

    @property
    def id(self) -> str:
        text = json.dumps([self.protocol, self.sample, self.particles, self.seed, self.membranes or {}],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


MEMBRANE_PATH = re.compile(r"^membrane:(.+)\.([A-Za-z_]+)$")


def _tokens(path: str) -> list:
    out, pos = [], 0
    for m in _TOKEN.finditer(path):
        if m.start() != pos and path[pos:m.start()] != ".":
            raise ValueError(f"cannot read the path {path!r}")
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if pos != len(path) or not out:
        raise ValueError(f"cannot read the path {path!r}")
    return out


def set_path(data: dict, path: str, value) -> None:
    """Set ``value`` at the dotted ``path`` of a YAML mapping (the last key may be new; everything before must
    exist). ValueError naming what is missing."""
    tokens = _tokens(path)
    node = data
    for i, tok in enumerate(tokens[:-1]):
        try:
            node = node[tok]
        except (KeyError, IndexError, TypeError):
            where = "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in tokens[: i + 1]).lstrip(".")
            raise ValueError(f"unknown dotted path {path!r}: there is no {where}") from None
    last = tokens[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ValueError(f"unknown dotted path {path!r}: index {last} is out of range")
    elif not isinstance(node, dict):
        raise ValueError(f"unknown dotted path {path!r}: {last!r} is not a field of a mapping")
    node[last] = value


def _is_rcf(text: str) -> bool:
    from .units import parse_rcf
    try:
        parse_rcf(text)
        return True
    except ValueError:
        return False


def _axis(path: str, spec) -> list[str]:
    """The values of one grid dimension, as strings the configs read: a list as given, or {from, to, num}
    spaced linearly in the unit of ``from``."""
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"vary.{path}: an empty list")
        return [str(v) for v in spec]
    if isinstance(spec, dict) and set(spec) == {"from", "to", "num"}:
        num = spec["num"]
        if not isinstance(num, int) or num < 1:
            raise ValueError(f"vary.{path}.num: must be a positive integer, got {num!r}")
        lo, hi = _range(path, spec)
        return [_format(v, lo[1]) for v in np.linspace(lo[0], hi[0], num)]
    raise ValueError(f"vary.{path}: expected a list of values or {{from, to, num}}, got {spec!r}")


def _range(path, spec):
    """((from, unit), (to, unit)) as magnitudes in the unit of ``from`` (rcf in g)."""
    a, b = str(spec["from"]), str(spec["to"])
    if _is_rcf(a) and _is_rcf(b):
        from .units import parse_rcf
        return (parse_rcf(a), "g"), (parse_rcf(b), "g")
    from .units import to_quantity
    try:
        qa, qb = to_quantity(a), to_quantity(b)
        unit = str(qa.units)
        return (float(qa.magnitude), unit), (float(qb.to(qa.units).magnitude), unit)
    except Exception:
        raise ValueError(f"vary.{path}: cannot read {a!r} to {b!r} as a range of one kind of quantity") from None


def _format(value: float, unit: str) -> str:
    text = f"{value:.6g}"
    return f"{text} {unit}" if unit and unit != "dimensionless" else text


def points(sweep: dict, base_protocol: dict, base_sample: dict) -> tuple[list[Point], dict]:
    """Every point of a sweep and its layout: ({"grid": [(path, values), ...]} or {"point": paths})."""
    vary = sweep.get("vary") or {}
    if not isinstance(vary, dict) or not vary:
        raise ValueError("vary: name at least one dotted path to vary")
    sampling = sweep.get("sampling") or {"method": "grid"}
    method = sampling.get("method", "grid")
    n, seed = int(sweep.get("particles", 20_000)), int(sweep.get("seed", 0))
    if method == "grid":
        axes = [(path, _axis(path, spec)) for path, spec in vary.items()]
        combos = [dict(zip([p for p, _ in axes], values)) for values in itertools.product(*[v for _, v in axes])]
        layout = {"grid": axes}
    elif method in ("random", "latin_hypercube"):
        count = int(sampling.get("points", 0))
        if count < 1:
            raise ValueError("sampling.points: must be a positive integer")
        ranges = []
        for path, spec in vary.items():
            if not (isinstance(spec, dict) and {"from", "to"} <= set(spec)):
                raise ValueError(f"vary.{path}: random sampling needs a range {{from, to}}")
            ranges.append((path,) + _range(path, spec))
        rng = np.random.default_rng(int(sampling.get("seed", 0)))
        if method == "random":
            u = rng.random((count, len(ranges)))
        else:
            from scipy.stats import qmc
            u = qmc.LatinHypercube(d=len(ranges), seed=rng).random(count)
        combos = [{path: _format(lo[0] + (hi[0] - lo[0]) * u[i, j], lo[1]) for j, (path, lo, hi) in enumerate(ranges)}
                  for i in range(count)]
        layout = {"point": [p for p, _, _ in ranges]}
    else:
        raise ValueError(f"sampling.method: one of grid, random, latin_hypercube, not {method!r}")
    out = []
    for combo in combos:
        prot, smp, mem = copy.deepcopy(base_protocol), copy.deepcopy(base_sample), {}
        for path, value in combo.items():
            m = MEMBRANE_PATH.match(path)
            if m:
                mem.setdefault(m.group(1), {})[m.group(2)] = value
            elif path.startswith("sample."):
                set_path(smp, path[len("sample."):], value)
            else:
                set_path(prot, path, value)
        out.append(Point(combo, prot, smp, n, seed, mem or None))
    return out, layout


@functools.lru_cache(maxsize=1)
def _catalogs():
    """The bundled rotor, media and membrane catalogs, read once per process (a sweep validates every point)."""
    from . import config
    return config.load_rotors(), config.load_media(), config.load_membranes()


def membrane_catalog(point: Point) -> dict:
    """The membrane catalog of a point: the bundled one with the point's changed fields (validated)."""
    from . import config

    catalog = dict(_catalogs()[2])
    if not point.membranes:
        return catalog
    raw = {}
    for f in config.CONFIG_ROOT.joinpath("membranes").iterdir():
        if f.name.endswith(".yaml"):
            data = config._read_yaml(f)
            raw[data.get("name")] = (f.name, data)
    for name, fields in point.membranes.items():
        if name not in raw:
            raise ValueError(f"unknown dotted path 'membrane:{name}...': no membrane {name!r} in the catalog")
        fname, data = raw[name]
        data = {**data, **fields}
        catalog[name] = config._validate(config.Membrane, f"configs/membranes/{fname}", data)
    return catalog


def validate(point: Point, source: str):
    """The validated (protocol, sample) of a point and its plans; ConfigError naming the point's values."""
    from . import config
    from .methods import plan_protocol

    rotors, media, _ = _catalogs()
    at = ", ".join(f"{k} = {v}" for k, v in point.coords.items())
    try:
        try:
            membranes = membrane_catalog(point)
        except ValueError as exc:
            raise ConfigError(f"{source} at {at}", "vary", str(exc)) from None
        prot = config._validate(config.Protocol, f"{source} at {at}", point.protocol,
                                {"rotors": rotors, "media": media, "membranes": membranes})
        smp = config._validate(config.Sample, f"{source} at {at}", point.sample, {"media": media})
        prot._source = smp._source = f"{source} at {at}"
        plans = plan_protocol(prot, smp, rotors, media, membranes)
    except ConfigError:
        raise
    return prot, smp, plans


def worker_device(kind: str):
    """The device a worker simulates on: its CPU, or (``gpu``) the GPU its index pins it to, worker i on GPU
    i mod the GPU count (a local cluster starts one worker per GPU)."""
    from .device import CPU, GPU, gpu_count

    if kind != "gpu":
        return CPU()
    try:
        from distributed import get_worker
        name = get_worker().name
    except (ImportError, ValueError):
        name = 0
    index = int(name) if str(name).isdigit() else int(hashlib.sha256(str(name).encode()).hexdigest(), 16)
    return GPU(index % max(gpu_count(), 1))


def run_point(point: Point, store: str, source: str, device: str = "cpu") -> str:
    """Simulate one point on this worker's CPU (or its GPU) and write its results to ``store/<id>.nc``
    (atomically); returns the file's path. Runs in a dask worker process."""
    from . import engine, results

    path = Path(store) / f"{point.id}.nc"
    if path.exists():
        return str(path)
    prot, smp, plans = validate(point, source)
    run = engine.run_protocol(prot, smp, n_particles=point.particles, seed=point.seed, device=worker_device(device),
                              plans=plans)
    ds = results.summarize(run).to_dataset()
    ds.attrs["sweep_coords"] = json.dumps(point.coords)
    results.write(ds, path)
    return str(path)


def dim_name(path: str) -> str:
    """A dimension name for a dotted path: ``steps[3].rcf`` -> ``steps_3_rcf``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


def gather(pts: list[Point], layout: dict, store: Path, name: str):
    """One Dataset of the sweep from its point files: the swept paths as dimensions (grid) or a ``point``
    dimension with the paths as coordinates; NaN where a point failed."""
    import xarray as xr

    first = None
    per_point = []
    for p in pts:
        f = store / f"{p.id}.nc"
        if f.exists():
            with xr.open_dataset(f, engine="h5netcdf") as ds:
                ds.load()
                per_point.append(ds)
                first = first or ds
        else:
            per_point.append(None)
    if first is None:
        raise RuntimeError("no point of the sweep completed")
    pops = list(first.population.values)

    def value(ds, var):
        if ds is None:
            return np.full(len(pops), np.nan) if var in PER_POPULATION else np.nan
        return ds[var].values

    data = {}
    if "grid" in layout:
        dims = [dim_name(path) for path, _ in layout["grid"]]
        shape = [len(v) for _, v in layout["grid"]]
        coords = {d: (d, np.array(vals), {"path": path}) for d, (path, vals) in zip(dims, layout["grid"])}
    else:
        dims = ["point"]
        shape = [len(pts)]
        coords = {"point": ("point", np.arange(len(pts)))}
        for path in layout["point"]:
            coords[dim_name(path)] = ("point", np.array([p.coords[path] for p in pts]), {"path": path})
    for var in METRICS:
        data[var] = (dims, np.array([value(d, var) for d in per_point], dtype=float).reshape(shape),
                     dict(first[var].attrs))
    for var in PER_POPULATION:
        data[var] = (dims + ["population"],
                     np.array([value(d, var) for d in per_point], dtype=float).reshape(shape + [len(pops)]),
                     dict(first[var].attrs))
    data["completed"] = (dims, np.array([d is not None for d in per_point], dtype=np.int8).reshape(shape),
                         {"units": "1", "long_name": "1 where the point completed"})
    coords["population"] = ("population", np.array(pops))
    data["is_target"] = ("population", first.is_target.values, dict(first.is_target.attrs))
    return xr.Dataset(data, coords=coords, attrs={"title": f"exosim sweep: {name}", "sweep": name,
                                                  "points_folder": str(store)})


def cluster(scheduler: str, workers: int, job_options: dict | None = None):
    """A dask cluster (or a scheduler address string): ``local`` (LocalCluster of ``workers`` single-threaded worker
    processes), ``slurm`` or ``pbs`` (dask-jobqueue; ``job_options`` go to the cluster, e.g. queue, account,
    walltime), or an address ``tcp://host:8786``."""
    if scheduler == "local":
        from distributed import LocalCluster
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    if scheduler in ("slurm", "pbs"):
        import dask_jobqueue
        kind = dask_jobqueue.SLURMCluster if scheduler == "slurm" else dask_jobqueue.PBSCluster
        opts = {"cores": 1, "processes": 1, "memory": "4GB", "walltime": "02:00:00",
                "job_script_prologue": ["export NUMBA_NUM_THREADS=1"]}
        opts.update(job_options or {})
        return kind(**opts)
    return scheduler  # an address


def run(sweep_path, out, *, scheduler: str = "local", workers: int = 2, progress=None, job_options=None,
        device: str = "cpu"):
    """Run (or resume) a sweep file; write its Dataset to ``out``; returns (Dataset, failures {coords: error},
    points computed now). ``device="gpu"``: every worker simulates on a GPU; a local cluster has one worker per
    GPU, each pinned to its own."""
    from . import config, results

    sweep_path = Path(sweep_path)
    sweep = config._read_yaml(sweep_path)
    if not isinstance(sweep, dict):
        raise ConfigError(str(sweep_path), "(top level)", "expected a mapping of fields")
    for key in ("protocol", "sample"):
        if key not in sweep:
            raise ConfigError(str(sweep_path), key, "required field is missing")
    base_p = config._read_yaml(config.resolve_path(sweep["protocol"], "protocols"))
    base_s = config._read_yaml(config.resolve_path(sweep["sample"], "samples"))
    try:
        pts, layout = points(sweep, base_p, base_s)
    except ValueError as exc:
        msg = str(exc)
        field, _, problem = msg.partition(": ")
        raise ConfigError(str(sweep_path), field if problem else "vary", problem or msg) from None
    for p in pts:  # every point checked before any work
        validate(p, str(sweep_path))
    store = Path(str(out) + ".points")
    todo = [p for p in pts if not (store / f"{p.id}.nc").exists()]
    failures = {}
    if device == "gpu":
        from .device import gpu_count
        if gpu_count() == 0:
            raise ConfigError(str(sweep_path), "--device", "gpu: no usable CUDA GPU here")
        if scheduler == "local":
            workers = gpu_count()
    if todo:
        from distributed import Client, as_completed
        clu = cluster(scheduler, workers, job_options)
        if hasattr(clu, "scale") and scheduler in ("slurm", "pbs"):
            clu.scale(workers)
        with (Client(clu, timeout="10s") if isinstance(clu, str) else Client(clu)) as client:
            store.mkdir(parents=True, exist_ok=True)  # only once a scheduler answers: nothing half-written
            futures = {client.submit(run_point, p, str(store), str(sweep_path), device, key=f"point-{p.id}",
                                     pure=False): p for p in todo}
            for fut in as_completed(futures):
                p = futures[fut]
                if fut.status == "error":
                    failures[json.dumps(p.coords)] = repr(fut.exception())
                if progress is not None:
                    progress(1)
        if hasattr(clu, "close"):
            clu.close()
    name = str(sweep.get("name", sweep_path.stem))
    ds = gather(pts, layout, store, name)
    results.write(ds, out)
    return ds, failures, len(todo)
