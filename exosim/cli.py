"""Command line: ``exosim plan``, ``exosim run``, ``exosim rotors``, ``exosim plot``.

Bad input ends with one line ``error: FILE: FIELD: PROBLEM`` on stderr and exit code 2; nothing is written.

Start-up time: every command imports what it needs inside its body. ``exosim --help``, ``plan`` and ``rotors``
import no numba, xarray or matplotlib (tests/test_startup.py); ``run --backend cpu`` imports no numba CUDA target.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Monte Carlo simulation of extracellular-vesicle isolation protocols.")


def _console(stderr: bool = False) -> Console:
    """A console on the current stdout or stderr (made on use); wide tables when not on a terminal."""
    from rich.console import Console
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 150)


@app.callback()
def _options(
    rotors: list[Path] = typer.Option(None, "--rotors", metavar="FILE",
                                      help="a rotor catalog of your own (the layout of configs/rotors.yaml); its "
                                           "rotors join the bundled ones and replace those of the same name; "
                                           "repeatable; also $EXOSIM_ROTORS"),
):
    """Options for every command."""
    from . import config
    config.USER_ROTOR_CATALOGS[:] = [str(p) for p in rotors or ()]


def _one_line_warnings():
    """Python warnings as one line on stderr: 'warning: message' (no file or line of exosim's source)."""
    import warnings
    warnings.showwarning = lambda message, *args, **kwargs: print(f"warning: {message}", file=sys.stderr)


class Fail(Exception):
    """A user error already phrased as one line."""


def _progress(console, show: bool | None = None):
    """A rich progress bar on ``console`` (shown on a terminal unless ``show`` says otherwise)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not (console.is_terminal if show is None else show), transient=True)


def _device(backend: str, n: int, sample, precision: int | None = None):
    """The device named by ``--backend``, after checking that ``-n`` gives every population a particle; Fail
    otherwise."""
    from . import device as devices
    n_pop = len(sample.populations)
    if n < n_pop:
        raise Fail(f"-n: needs at least one particle per population ({n_pop}), got {n}")
    try:
        return devices.from_name(backend, precision)
    except (ValueError, RuntimeError) as exc:
        raise Fail(f"--backend: {exc}") from None


def _open_results(path: Path):
    """A results file, loaded into memory (xarray Dataset); Fail when it is missing or not netCDF/HDF5."""
    import xarray as xr

    if not path.is_file():
        raise Fail(f"{path}: no such file")
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
        ds.load()
    except Exception as exc:
        raise Fail(f"{path}: cannot read it as an exosim results file ({type(exc).__name__})") from None
    return ds


def _precision(bits: int | None) -> int | None:
    """``--precision``, checked: 32, 64 or None (the device's default); Fail otherwise."""
    if bits not in (None, 32, 64):
        raise Fail(f"--precision: must be 32 or 64 (bits), got {bits}")
    return bits


def _batch(max_memory: str | None) -> int | None:
    """Particles per batch that ``--max-memory`` allows (None: the engine's default); Fail when it holds none."""
    if max_memory is None:
        return None
    from . import engine, units
    try:
        limit = units.parse_memory(max_memory)
    except ValueError as exc:
        raise Fail(f"--max-memory: {exc}") from None
    batch = int(limit // engine.BYTES_PER_PARTICLE)
    if batch < 1:
        raise Fail(f"--max-memory: {max_memory} holds no particle ({engine.BYTES_PER_PARTICLE} bytes each)")
    return batch


def _fail(message: str) -> None:
    _console(stderr=True).print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def results_table(s) -> Table:
    """Rich table: recovery with its Monte Carlo error, product count and step-by-step share, per population, from
    a results ``Summary`` (results.summarize)."""
    from rich.table import Table
    a = s.attrs
    title = (f"{a['protocol']} -- {a['sample']} "
             f"({a['n_particles']:,} simulation particles, seed {a['seed']}, {a['backend']})")
    t = Table(title=title, title_justify="left")
    t.add_column("population")
    t.add_column("input", justify="right")
    t.add_column("recovery", justify="right")
    t.add_column("product", justify="right")
    t.add_column("protein [ug]", justify="right")
    damaged = s["damaged_fraction"] if "damaged_fraction" in s else None
    if damaged is not None and np_any(damaged > 0):
        t.add_column("damaged", justify="right")
    else:
        damaged = None
    for i, pop in enumerate(s["population"]):
        name = f"{pop} (target)" if s["is_target"][i] else str(pop)
        rec, err = float(s["recovery"][i]) * 100, float(s["recovery_stderr"][i]) * 100
        # none of n found: the standard error says nothing; the rule of three gives a 95 % upper bound, 3/n
        shown = f"{rec:.2f} ± {err:.2f} %" if rec > 0 else f"0 (< {300 / float(s['n_sim'][i]):.2g} %)"
        product = float(s["product_count"][i])
        row = [name, f"{float(s['input_count'][i]):.3g}", shown, f"{product:.3g}",
               f"{product * float(s['protein_per_particle'][i]):.3g}"]
        if damaged is not None:
            row.append(f"{100 * float(damaged[i]):.2f} %" if damaged[i] > 0 else "")
        t.add_row(*row)
    return t


def np_any(values) -> bool:
    """True if any element of an array-like is true (without importing numpy here)."""
    return bool(getattr(values, "any", lambda: any(values))())


def summary_lines(s) -> list[str]:
    """Purity, particles per microgram protein, protein, volume and time of a results ``Summary``."""
    from . import units
    ppug, ppug_err = float(s["particles_per_ug_protein"]), float(s["particles_per_ug_protein_stderr"])
    return [
        f"purity (target among countable particles): {float(s['purity']) * 100:.2f} ± "
        f"{float(s['purity_stderr']) * 100:.2f} %",
        f"particles per ug protein: {ppug:.3g} ± {ppug_err:.2g}   (Webber & Clayton 2013: >3e10 high purity, "
        f"<1.5e9 impure)",
        f"protein in product: {float(s['protein_ug']):.3g} ug   product volume: "
        f"{units.fmt_volume(float(s['product_volume']))}   process time: "
        f"{units.fmt(float(s['process_time']), 's', 'h')}",
    ]


def steps_table(plans, passed_on: list[str] | None = None, times=None) -> Table:
    """Rich table of the steps from their plans (``methods.plan_protocol``); after a run, ``passed_on`` gives
    per step the share of the target population(s) passed on (:func:`target_passed_on`) and ``times`` each
    step's measured process time [s] (a filtration's flux is known only after it ran)."""
    from rich.table import Table

    from . import units
    t = Table(title="steps", title_justify="left")
    cols = ["#", "step", "rotor", "x g (avg)", "rpm", "at speed", "tubes", "runs", "liquid/tube", "medium",
            "time"]
    if passed_on is not None:
        cols.append("target passed on")
    for col in cols:
        t.add_column(col, justify="left" if col in ("step", "rotor", "medium") else "right")
    for i, p in enumerate(plans):
        spins = p.rotor is not None
        row = [str(i), p.label, p.rotor.name if spins else "-", f"{p.rcf_avg:,.0f}" if spins else "-",
               f"{p.rpm:,.0f}" if spins else "-", units.fmt_time(p.duration) if spins else "-",
               str(p.tubes), str(p.runs) if spins else "-", units.fmt(p.liquid_per_tube, "m**3", "mL"),
               p.medium.name, units.fmt_time(p.process_time if times is None else float(times[i]))]
        if passed_on is not None:
            row.append(passed_on[i])
        t.add_row(*row)
    return t


def fractions_table(s) -> Table:
    """Rich table of the last fractionation: density, volume, kept, and each population's share of its input."""
    from rich.table import Table

    t = Table(title="fractions (share of each population's input)", title_justify="left")
    for col in ("fraction", "density (g/mL)", "volume (mL)", "kept"):
        t.add_column(col, justify="right")
    for p in s["population"]:
        t.add_column(str(p), justify="right")
    share = s["fraction_count"] / s["input_count"][None, :]     # (fraction, population)
    for i, k in enumerate(s["fraction"]):
        t.add_row(str(int(k)), f"{float(s['fraction_density'][i]) / 1000:.4f}",
                  f"{float(s['fraction_volume'][i]) * 1e6:.3g}", "yes" if int(s["fraction_kept"][i]) else "",
                  *[f"{100 * v:.1f} %" if v > 0 else "" for v in share[i]])
    pellet = s["pellet_count"] / s["input_count"]
    t.add_row("pellet", "", "", "", *[f"{100 * v:.1f} %" if v > 0 else "" for v in pellet])
    return t


def target_passed_on(s) -> list[str]:
    """Per step of a results ``Summary``: the share of every target population that the step passed on."""
    target = [i for i in range(len(s["population"])) if s["is_target"][i]]
    return [", ".join(f"{float(s['step_recovery'][k, i]) * 100:.1f} %" for i in target)
            for k in range(len(s["step"]))]


def _check_writable(out: Path) -> None:
    """Fail before any simulation if ``out`` cannot be written."""
    if out.exists() and out.is_dir():
        raise Fail(f"{out}: is a folder, not a file name")
    folder = out.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise Fail(f"{out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Fail(f"{out}: cannot write in {folder}")


def _load(protocol: str, sample: str):
    """Validated (protocol, sample, plans); ConfigError on bad input."""
    from . import config
    from .methods import plan_protocol
    rotors, media = config.load_rotors(), config.load_media()
    prot = config.load_protocol(protocol, rotors, media)
    samp = config.load_sample(sample, media)
    plans = plan_protocol(prot, samp, rotors, media)
    for p in plans:
        for line in getattr(p, "warnings", ()):
            _console(stderr=True).print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    return prot, samp, plans


@app.command()
def plan(
    protocol: str = typer.Argument(..., help="protocol YAML file, or the name of a bundled protocol"),
    sample: str = typer.Option(..., "--sample", "-s", help="sample YAML file, or the name of a bundled sample"),
):
    """Check PROTOCOL and SAMPLE and show tubes, runs, volumes and time of every step, without simulating."""
    from . import units
    try:
        prot, samp, plans = _load(protocol, sample)
    except ConfigError as exc:
        _fail(str(exc))
    console = _console()
    console.print(steps_table(plans))
    total = sum(p.process_time for p in plans)
    console.print(f"{prot.name} on {samp.name} ({units.fmt(samp.volume, 'm**3', 'mL')}): "
                  f"{units.fmt(total, 's', 'h')} in the centrifuge, product "
                  f"{units.fmt_volume(plans[-1].volume_out)} of {plans[-1].medium_out.name}",
                  highlight=False)


@app.command()
def run(
    protocol: Optional[str] = typer.Argument(None, help="protocol YAML file, or the name of a bundled protocol"),
    sample: Optional[str] = typer.Option(None, "--sample", "-s",
                                         help="sample YAML file, or the name of a bundled sample"),
    n: int = typer.Option(100_000, "-n", "--particles", help="simulation particles in all"),
    seed: int = typer.Option(0, "--seed", help="random seed, 0 to 4294967295"),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu, cuda, cuda:N, cuda:all or cuda:0,1"),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores)"),
    max_memory: Optional[str] = typer.Option(None, "--max-memory", help="most memory the particles may take on a "
                                             "device ('8 GiB'); more particles go through in batches"),
    precision: Optional[int] = typer.Option(None, "--precision", help="32 or 64-bit kernels (default: 64 on the "
                                            "CPU, 32 on a GPU)"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="results file (.h5); default: none written"),
    max_step: Optional[float] = typer.Option(None, "--max-step", help="longest integration step, in seconds (default: one exact step per phase)"),
    no_brownian: bool = typer.Option(False, "--no-brownian", help="switch Brownian motion off"),
    save_particles: bool = typer.Option(False, "--save-particles", help="write per-particle arrays too"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table, no progress bar"),
    replay: Optional[Path] = typer.Option(None, "--replay", help="rerun a results file's protocol, sample, particles "
                                                                 "and seed, and report whether the numbers match"),
):
    """Simulate PROTOCOL on a sample: print recovery and purity, write an HDF5/netCDF results file."""

    from . import device as devices, engine, results
    if replay is not None:
        _replay(replay, backend)
        return
    try:
        if protocol is None or sample is None:
            raise Fail("PROTOCOL and --sample: both are needed (or --replay RESULT.h5)")
        if n < 1:
            raise Fail(f"-n: must be a positive number of particles, got {n}")
        if not 0 <= seed <= engine.SEED_MAX:
            raise Fail(f"--seed: must be from 0 to {engine.SEED_MAX}, got {seed}")
        if max_step is not None and max_step <= 0:
            raise Fail(f"--max-step: must be greater than zero seconds, got {max_step}")
        if out is not None:
            _check_writable(out)
        if threads is not None and not 1 <= threads <= (os.cpu_count() or 1):
            raise Fail(f"--threads: must be from 1 to {os.cpu_count()}, got {threads}")
        batch = _batch(max_memory)
        prot, samp, plans = _load(protocol, sample)
        dev = _device(backend, n, samp, _precision(precision))
        if threads is not None:
            if dev.backend != "cpu":
                raise Fail("--threads: applies to the CPU backend only")
            dev = devices.CPU(threads=threads, precision=dev.precision)
        try:
            size, _ = engine.batching(plans, n, dev, batch)
        except ValueError as exc:
            raise Fail(f"--max-memory: {max_memory} holds {batch:,} particles, but {exc}") from None
        if save_particles and size < n:
            raise Fail(f"--save-particles: {n:,} particles go through in batches of {size:,} and only aggregates "
                       f"are kept; raise --max-memory, use one device or lower -n")
    except ConfigError as exc:
        _fail(str(exc))
    except Fail as exc:
        _fail(str(exc))

    console = _console()
    err_console = _console(stderr=True)
    per_pop = n // len(samp.populations)
    if per_pop < 400:  # a sanity guard: say what the Monte Carlo error will be
        err_console.print(f"warning: -n: {per_pop} simulation particles per population: a recovery near 50 % "
                          f"carries a standard error of {50 / per_pop ** 0.5:.1f} points; use -n "
                          f"{400 * len(samp.populations)} or more for 2.5 points or better", markup=False,
                          highlight=False, soft_wrap=True)
    show = not quiet and err_console.is_terminal
    with _progress(err_console, show) as bar:
        total = n * sum(1 for p in plans if p.kind != "fractionate")  # a fractionation runs no kernel
        task = bar.add_task(f"simulating on {dev.backend}", total=total)
        sim = engine.run_protocol(prot, samp, n_particles=n, seed=seed, device=dev, max_step=max_step,
                                  brownian=not no_brownian, progress=lambda step, k: bar.advance(task, k),
                                  plans=plans, batch=batch)
    summary = results.summarize(sim)
    for record in sim.steps:
        for line in record.extra.get("warnings", ()):
            err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    if not quiet:
        console.print(results_table(summary))
        for line in summary_lines(summary):
            console.print(line, highlight=False)
        console.print(steps_table(plans, target_passed_on(summary), summary["step_time"]))
        if "fraction_density" in summary:
            console.print(fractions_table(summary))
    if out is not None:  # xarray is imported only here
        ds = summary.to_dataset()
        if save_particles:
            ds = ds.merge(results.particles_dataset(sim))
        try:
            path = results.write(ds, out)
        except OSError as exc:  # a full disk, a folder that became unwritable: nothing half-written stays
            _fail(f"{out}: cannot write the results ({exc.strerror or exc}); nothing was written")
        if not quiet:
            console.print(f"results written to {path}", highlight=False)


def _replay(path: Path, backend: str) -> None:
    """Rerun a results file's run from the YAML texts it stores; exit 0 if fates and recovery match exactly,
    1 otherwise (with the differences)."""
    import tempfile

    import numpy as np

    from . import config, device as devices, engine, results
    try:
        ds = _open_results(path)
        if not ds.attrs.get("protocol_yaml") or not ds.attrs.get("sample_yaml"):
            raise Fail(f"{path}: protocol_yaml: the file does not hold its configs (written by an older exosim, or "
                       f"from configs built in Python)")
        try:
            bits = int(str(ds.attrs.get("precision", "float64")).removeprefix("float"))  # rerun in the file's precision
            dev = devices.from_name(backend if backend != "auto" else str(ds.attrs.get("backend", "cpu")), bits)
        except (ValueError, RuntimeError) as exc:
            raise Fail(f"--backend: {exc}") from None
        with tempfile.TemporaryDirectory() as tmp:
            pp, sp = Path(tmp) / "protocol.yaml", Path(tmp) / "sample.yaml"
            pp.write_text(str(ds.attrs["protocol_yaml"]))
            sp.write_text(str(ds.attrs["sample_yaml"]))
            prot, samp = config.load_protocol(pp), config.load_sample(sp)
            max_step = float(ds.attrs.get("max_step", 0.0)) or None
            sim = engine.run_protocol(prot, samp, n_particles=int(ds.attrs["n_particles"]), seed=int(ds.attrs["seed"]),
                                      device=dev, max_step=max_step, brownian=bool(int(ds.attrs.get("brownian", 1))))
    except ConfigError as exc:
        _fail(str(exc))
    except Fail as exc:
        _fail(str(exc))
    again = results.summarize(sim)
    same_counts = np.array_equal(again["fate_count"], ds.fate_count.values)
    same_rec = np.array_equal(again["recovery"], ds.recovery.values)
    old = json.loads(ds.attrs.get("versions", "{}"))
    now = results.library_versions()
    changed = {k: (old.get(k), now.get(k)) for k in set(old) | set(now) if old.get(k) != now.get(k)}
    if same_counts and same_rec:
        _console().print(f"replay of {path}: identical fate counts and recovery ({int(ds.attrs['n_particles']):,} "
                         f"particles, seed {ds.attrs['seed']})", highlight=False)
        return
    _console(stderr=True).print(f"replay of {path}: the numbers differ; largest recovery change "
                                f"{np.nanmax(np.abs(again['recovery'] - ds.recovery.values)):.3g}; library versions "
                                f"changed: {changed or 'none'}", markup=False, highlight=False)
    raise typer.Exit(1)


@app.command()
def crosscheck(
    protocol: str = typer.Argument(..., help="protocol YAML file, or the name of a bundled protocol"),
    sample: str = typer.Option(..., "--sample", "-s", help="sample YAML file, or the name of a bundled sample"),
    n: int = typer.Option(100_000, "-n", "--particles", help="Monte Carlo particles in all"),
    seed: int = typer.Option(0, "--seed", help="random seed of the Monte Carlo, 0 to 4294967295"),
    classes: int = typer.Option(16, "--classes", help="PDE: equal-probability size classes per population"),
    density_classes: int = typer.Option(4, "--density-classes", help="PDE: density classes per population"),
    cells: int = typer.Option(400, "--cells", help="PDE: finite-volume cells along the tube"),
    backend: str = typer.Option("auto", "--backend", help="Monte Carlo backend: auto, cpu, cuda or cuda:N"),
    precision: Optional[int] = typer.Option(None, "--precision", help="32 or 64-bit kernels (default: 64 on the "
                                            "CPU, 32 on a GPU)"),
):
    """Recovery of every population by two independent solvers: the Monte Carlo, and the Lamm equation (a PDE of
    concentrations, docs/physics.md). Swinging-bucket centrifuge and wash steps only."""
    from rich.table import Table

    from . import engine, pde, results
    try:
        if n < 1:
            raise Fail(f"-n: must be a positive number of particles, got {n}")
        if not 0 <= seed <= engine.SEED_MAX:
            raise Fail(f"--seed: must be from 0 to {engine.SEED_MAX}, got {seed}")
        for name, value, low in (("--classes", classes, 1), ("--density-classes", density_classes, 1),
                                 ("--cells", cells, 8)):
            if value < low:
                raise Fail(f"{name}: must be at least {low}, got {value}")
        prot, samp, plans = _load(protocol, sample)
        try:
            pde.check_covered(plans)
        except pde.NotCovered as exc:
            raise Fail(f"{protocol}: {exc}") from None
        dev = _device(backend, n, samp, _precision(precision))
    except ConfigError as exc:
        _fail(str(exc))
    except Fail as exc:
        _fail(str(exc))
    err_console = _console(stderr=True)
    n_classes = sum((1 if p.diameter.kind == pde.CONSTANT else classes)
                    * (1 if p.density.kind == pde.CONSTANT else density_classes) for p in samp.populations)
    with _progress(err_console) as bar:
        task = bar.add_task(f"Monte Carlo on {dev.backend}", total=n * len(plans))
        sim = engine.run_protocol(prot, samp, n_particles=n, seed=seed, device=dev,
                                  progress=lambda step, k: bar.advance(task, k), plans=plans, pellet_damage=False)
        task = bar.add_task("Lamm equation", total=n_classes * len(plans))
        by_pde = pde.recovery(plans, samp, prot.temperature, classes=classes, density_classes=density_classes,
                              n_cells=cells, progress=lambda k: bar.advance(task, k))
    mc = results.summarize(sim)
    t = Table(title=f"{prot.name} -- {samp.name}: recovery by Monte Carlo ({n:,} particles, seed {seed}) and by "
                    f"the Lamm equation ({cells} cells)", title_justify="left")
    for col in ("population", "Monte Carlo", "Lamm equation", "classes", "difference / MC error"):
        t.add_column(col, justify="left" if col == "population" else "right")
    for i, pop in enumerate(mc["population"]):
        rec, err, p = float(mc["recovery"][i]), float(mc["recovery_stderr"][i]), float(by_pde.recovery[i])
        z = (rec - p) / err if err > 0 else float("nan")
        t.add_row(str(pop), f"{100 * rec:.2f} ± {100 * err:.2f} %", f"{100 * p:.2f} %", str(by_pde.classes[i]),
                  f"{z:+.1f}" if err > 0 else "-")
    _console().print(t)
    _console().print("The Lamm column is exact for a monodisperse population up to its grid error (compare "
                     "--cells twice as large); a distributed one adds the class quadrature (raise --classes). "
                     "Both solve transport only: the Monte Carlo runs here without pellet damage.",
                     highlight=False)


@app.command()
def compare(
    protocols: list[str] = typer.Argument(None, help="protocol YAML files or names of bundled protocols"),
    sample: Optional[str] = typer.Option(None, "--sample", "-s",
                                         help="sample YAML file or bundled name (default with --builtin: "
                                              "msc_conditioned_medium)"),
    builtin: bool = typer.Option(False, "--builtin", help="compare every bundled protocol"),
    n: int = typer.Option(20_000, "-n", "--particles", help="simulation particles per protocol"),
    seed: int = typer.Option(0, "--seed", help="random seed, 0 to 4294967295"),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu, cuda or cuda:N"),
    precision: Optional[int] = typer.Option(None, "--precision", help="32 or 64-bit kernels (default: 64 on the "
                                            "CPU, 32 on a GPU)"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="comparison file (.h5) and a figure next to it"),
):
    """Run several protocols on the same sample and print the table method reviews use: recovery, purity, what
    comes along, damage, time, throughput and equipment, one column per protocol."""
    from . import compare as cmp, config, engine, results
    from .methods import plan_protocol
    try:
        names = list(protocols or [])
        if builtin:
            names = sorted(p.stem for p in map(Path, map(str, config.CONFIG_ROOT.joinpath("protocols").iterdir()))
                           if p.suffix == ".yaml") + names
            sample = sample or "msc_conditioned_medium"
        if not names:
            raise Fail("protocols: name at least one protocol, or use --builtin")
        if sample is None:
            raise Fail("--sample: required (a sample YAML file or a bundled name)")
        if n < 1:
            raise Fail(f"-n: must be a positive number of particles, got {n}")
        if not 0 <= seed <= engine.SEED_MAX:
            raise Fail(f"--seed: must be from 0 to {engine.SEED_MAX}, got {seed}")
        if out is not None:
            _check_writable(out)
        rotors_, media = config.load_rotors(), config.load_media()
        samp = config.load_sample(sample, media)
        prots = [config.load_protocol(name, rotors_, media) for name in names]
        all_plans = [plan_protocol(prot, samp, rotors_, media) for prot in prots]
        for plans_ in all_plans:
            for p in plans_:
                for line in getattr(p, "warnings", ()):
                    _console(stderr=True).print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
        dev = _device(backend, n, samp, _precision(precision))
    except ConfigError as exc:
        _fail(str(exc))
    except Fail as exc:
        _fail(str(exc))
    err_console = _console(stderr=True)
    with _progress(err_console) as bar:
        total = n * sum(sum(1 for s in p.steps if s.kind != "fractionate") for p in prots)
        task = bar.add_task(f"{len(prots)} protocols on {dev.backend}", total=total)
        ds = cmp.compare(prots, samp, n_particles=n, seed=seed, device=dev, progress=lambda k: bar.advance(task, k),
                         plans=all_plans)
    _console().print(cmp.table(ds))
    if out is not None:
        path = results.write(ds, out)
        fig = out.with_suffix(".png")
        cmp.figure(ds).savefig(fig, dpi=150, bbox_inches="tight")
        _console().print(f"comparison written to {path}, figure to {fig}", highlight=False)


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="sweep YAML file (docs/sweeps.md)"),
    out: Path = typer.Option(..., "-o", "--out", help="sweep results file (.h5); points are kept in OUT.points/"),
    scheduler: str = typer.Option("local", "--scheduler", help="local, slurm, pbs, or a scheduler address"),
    workers: int = typer.Option(2, "--workers", help="worker processes (local) or jobs (slurm, pbs)"),
    device: str = typer.Option("cpu", "--device", help="cpu, or gpu: one worker per GPU, each pinned to its own"),
):
    """Run every point of a parameter sweep on dask workers (resuming an interrupted sweep) and write one
    Dataset with the swept parameters as dimensions."""

    from . import sweep as sw
    try:
        if workers < 1:
            raise Fail(f"--workers: must be at least 1, got {workers}")
        if device not in ("cpu", "gpu"):
            raise Fail(f"--device: cpu or gpu, not {device!r}")
        if not sweep_file.is_file():
            raise Fail(f"{sweep_file}: no such file")
        _check_writable(out)
    except Fail as exc:
        _fail(str(exc))
    err_console = _console(stderr=True)
    done = [0]

    def log_line(k):  # not a terminal: one plain line per finished point
        done[0] += k
        err_console.print(f"sweep: {done[0]} points finished", markup=False, highlight=False)

    try:
        with _progress(err_console) as bar:
            task = bar.add_task("sweep points", total=None)
            ds, failures, computed = sw.run(
                sweep_file, out, scheduler=scheduler, workers=workers, device=device,
                progress=(lambda k: bar.advance(task, k)) if err_console.is_terminal else log_line)
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:  # an unreachable scheduler
        _fail(f"--scheduler: cannot reach {scheduler} ({exc})")
    total = int(ds.completed.size)
    _console().print(f"{total} points ({computed} computed now, {total - computed} from {out}.points/); results "
                     f"written to {out}", highlight=False)
    for coords, error in failures.items():
        err_console.print(f"error: point {coords}: {error}", markup=False, highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def dose(
    results_file: Path = typer.Argument(..., help="results file written by exosim run -o"),
    dose_: str = typer.Option(..., "--dose", help="'1e10 particles', an EV protein mass ('100 ug'), or a bundled "
                                                  "dose name (configs/doses/)"),
    per_kg: Optional[str] = typer.Option(None, "--per-kg", help="body mass: the dose is per kilogram ('70 kg')"),
    cells_per_ml: Optional[str] = typer.Option(None, "--cells-per-mL", help="cell density in culture ('1e6 /mL')"),
    secretion: Optional[str] = typer.Option(None, "--secretion", help="target particles per cell and day ('2000 /day')"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="write the plan as JSON (SI units)"),
):
    """What a production run needs for one clinical dose: litres of conditioned medium, protocol executions,
    rotor runs, instrument hours, and with a cell density and secretion rate, cells and days."""
    import yaml

    from . import config, dose as dosing, units
    try:
        ds = _open_results(results_file)
        if "product_count" not in ds or "config" not in ds.attrs:
            raise Fail(f"{results_file}: product_count: not an exosim results file")
        source = None
        bundled = config.CONFIG_ROOT / "doses" / f"{dose_}.yaml"
        if bundled.is_file():
            spec = yaml.safe_load(bundled.read_text())
            source = spec.get("source", "")
            dose_, per_kg = spec["dose"], per_kg or spec.get("per_kg")
        try:
            value, kind = dosing.parse_dose(dose_)
        except ValueError as exc:
            raise Fail(f"--dose: {exc}") from None
        mass = None
        if per_kg is not None:
            try:
                mass = units.parse(per_kg, "mass")
            except ValueError as exc:
                raise Fail(f"--per-kg: {exc}") from None
        if (cells_per_ml is None) != (secretion is None):
            raise Fail("--cells-per-mL: give it together with --secretion")
        cells = rate = None
        if cells_per_ml is not None:
            try:
                cells = units.parse(cells_per_ml, "number_concentration")
                rate = units.parse(secretion, "rate")
            except ValueError as exc:
                raise Fail(f"--cells-per-mL/--secretion: {exc}") from None
        try:
            plan = dosing.plan_dose(ds, value, kind, mass, cells, rate)
        except ValueError as exc:
            raise Fail(f"{results_file}: {exc}") from None
    except Fail as exc:
        _fail(str(exc))
    from rich.table import Table
    t = Table(title=f"one dose from {plan['protocol']} on {plan['sample']}" + (f" ({source})" if source else ""),
              title_justify="left")
    t.add_column("")
    t.add_column("", justify="right")
    need = (f"{plan['dose']:.3g} {plan['target']} particles" if kind == "particles"
            else f"{plan['dose'] * 1e9:.3g} ug EV protein")
    rows = [("dose", need + (f" ({dose_} per kg x {mass:g} kg)" if mass else "")),
            (f"{plan['target']} recovery of the protocol", f"{100 * plan['recovery']:.2f} %"),
            ("product per litre of medium", f"{plan['product_per_litre_medium']:.3g}" +
             (" particles" if kind == "particles" else " kg protein")),
            ("conditioned medium", units.fmt(plan["medium_volume"], "m**3", "L")),
            ("protocol executions", f"{plan['executions']:,}"),
            ("rotor runs", f"{plan['rotor_runs']:,}"),
            ("instrument time", units.fmt(plan["instrument_time"], "s", "h"))]
    if "cells" in plan:
        rows += [("cells in culture", f"{plan['cells']:.3g}"),
                 ("days to condition the medium", f"{plan['conditioning_time'] / 86400:.3g}")]
    for k, v in rows:
        t.add_row(k, v)
    _console().print(t)
    if out is not None:
        out.write_text(json.dumps(plan, indent=2))
        _console().print(f"plan written to {out}", highlight=False)


@app.command()
def optimize(
    protocol: str = typer.Argument(..., help="protocol YAML file or bundled name"),
    sample: str = typer.Option(..., "--sample", "-s", help="sample YAML file or bundled name"),
    vary: list[str] = typer.Option(..., "--vary", help="PATH=LOW..HIGH, e.g. steps[3].duration=30min..4h"),
    maximize: list[str] = typer.Option([], "--maximize", help="metric to maximise (one or two objectives in all)"),
    minimize: list[str] = typer.Option([], "--minimize", help="metric to minimise"),
    subject_to: list[str] = typer.Option([], "--subject-to", help="constraint, e.g. 'recovery >= 0.3'"),
    trials: int = typer.Option(20, "--trials", help="trials of the search"),
    n: int = typer.Option(20_000, "-n", "--particles", help="simulation particles per trial"),
    seed: int = typer.Option(1, "--seed", help="seed of every trial (common random numbers) and of the sampler"),
    workers: int = typer.Option(2, "--workers", help="dask worker processes (local) or jobs (slurm, pbs)"),
    scheduler: str = typer.Option("local", "--scheduler", help="local, slurm, pbs, or a scheduler address"),
    repeats: int = typer.Option(3, "--repeats", help="re-runs of the best trials with other seeds"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="trials file (.h5) and a figure next to it"),
):
    """Search the varied parameters for the best protocol (optuna TPE, trials on dask workers); the best trials
    are re-run with other seeds and reported with their mean and standard error."""
    import yaml

    from . import config, optimize as opt, sweep as sw
    try:
        objectives = [(m, "max") for m in maximize] + [(m, "min") for m in minimize]
        if not 1 <= len(objectives) <= 2:
            raise Fail("--maximize/--minimize: give one or two objectives")
        for m, _ in objectives:
            if m not in opt.METRICS:
                raise Fail(f"--maximize/--minimize: unknown metric {m!r}; known: {', '.join(opt.METRICS)}")
        try:
            spaces = [opt.parse_vary(v) for v in vary]
            constraints = [opt.parse_constraint(c) for c in subject_to]
        except ValueError as exc:
            raise Fail(f"--vary/--subject-to: {exc}") from None
        for name, value in (("--trials", trials), ("-n", n), ("--workers", workers), ("--repeats", repeats)):
            if value < 1:
                raise Fail(f"{name}: must be at least 1, got {value}")
        if out is not None:
            _check_writable(out)
        base_p = config._read_yaml(config.resolve_path(protocol, "protocols"))
        base_s = config._read_yaml(config.resolve_path(sample, "samples"))
        for sp in spaces:  # both ends of every range must make a valid protocol
            for x in (sp.low, sp.high):
                prot, smp = yaml.safe_load(yaml.safe_dump(base_p)), yaml.safe_load(yaml.safe_dump(base_s))
                try:
                    target = smp if sp.path.startswith("sample.") else prot
                    sw.set_path(target, sp.path[len("sample."):] if sp.path.startswith("sample.") else sp.path,
                                sp.value(x))
                except ValueError as exc:
                    raise Fail(f"--vary: {exc}") from None
                sw.validate(sw.Point({sp.path: sp.value(x)}, prot, smp, n, seed), protocol)
    except ConfigError as exc:
        _fail(str(exc))
    except Fail as exc:
        _fail(str(exc))
    from distributed import Client
    from rich.table import Table
    err_console = _console(stderr=True)
    clu = sw.cluster(scheduler, workers)
    if scheduler in ("slurm", "pbs"):
        clu.scale(workers)
    try:
        client = Client(clu, timeout="10s") if isinstance(clu, str) else Client(clu)
    except OSError as exc:
        _fail(f"--scheduler: cannot reach {scheduler} ({exc})")
    with client, _progress(err_console) as bar:
        task = bar.add_task("trials", total=trials)
        records, best = opt.optimize(base_p, base_s, spaces, objectives, constraints, trials=trials, particles=n,
                                     seed=seed, client=client, source=protocol, batch=workers, repeats=repeats,
                                     progress=lambda k: bar.advance(task, k))
    if hasattr(clu, "close"):
        clu.close()
    t = Table(title=f"best feasible trials ({repeats} re-runs with other seeds: mean ± s.e.)", title_justify="left")
    t.add_column("trial", justify="right")
    for sp in spaces:
        t.add_column(sp.path, justify="right")
    names = list(dict.fromkeys([m for m, _ in objectives] + [c[0] for c in constraints] + ["recovery"]))
    for name in names:
        t.add_column(name, justify="right")
    for b in best:
        row = [str(b["trial"])] + [b["params"][sp.path] for sp in spaces]
        row += [f"{b['repeated'][nm]:.4g} ± {b['repeated'][nm + '_stderr']:.2g}" for nm in names]
        t.add_row(*row)
    _console().print(t)
    if not best:
        err_console.print("warning: no trial met the constraints", markup=False, highlight=False)
    failed = [r for r in records if "error" in r]
    if failed:
        err_console.print(f"warning: {len(failed)} trials failed (first: {failed[0]['error']})", markup=False,
                          highlight=False, soft_wrap=True)
    if out is not None:
        from . import results
        ds = opt.trials_dataset(records, spaces, objectives, constraints)
        ds.attrs["best"] = json.dumps(best)
        results.write(ds, out)
        opt.pareto_figure(ds, objectives).savefig(out.with_suffix(".png"), dpi=150, bbox_inches="tight")
        _console().print(f"trials written to {out}, figure to {out.with_suffix('.png')}", highlight=False)


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="protocol, sample, membrane or sweep YAML files"),
):
    """Check config files without running anything: each is read and validated as what it holds (a protocol:
    its steps; a sample: its populations; a membrane; a sweep: every point). One line per file; exit 2 if any
    is wrong."""
    from . import config
    rotors_, media = config.load_rotors(), config.load_media()
    bad = 0
    for f in files:
        try:
            if not f.is_file():
                raise ConfigError(str(f), "", "no such file" if not f.exists() else "not a file")
            data = config._read_yaml(f)
            if not isinstance(data, dict):
                raise ConfigError(str(f), "(top level)", "expected a mapping of fields (key: value)")
            if "vary" in data:
                from . import sweep as sw
                pts, _ = sw.points(data, config._read_yaml(config.resolve_path(data.get("protocol", ""), "protocols")),
                                   config._read_yaml(config.resolve_path(data.get("sample", ""), "samples")))
                for p in pts:
                    sw.validate(p, str(f))
                what = f"sweep of {len(pts)} points"
            elif "steps" in data:
                config.load_protocol(f, rotors_, media)
                what = "protocol"
            elif "populations" in data:
                config.load_sample(f, media)
                what = "sample"
            elif data.get("kind") in ("track_etch", "polymeric"):
                config.load_membrane_file(f)
                what = "membrane"
            else:
                raise ConfigError(str(f), "(top level)", "not a protocol (steps), sample (populations), membrane "
                                                         "(kind) or sweep (vary)")
            _console().print(f"ok: {f}: {what}", highlight=False)
        except ConfigError as exc:
            bad += 1
            _console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        except ValueError as exc:  # a sweep's points
            bad += 1
            _console(stderr=True).print(f"error: {f}: vary: {exc}", markup=False, highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@app.command()
def rotors():
    """List the rotor catalog with k-factors at maximum speed."""
    from rich.table import Table

    from .config import load_rotors
    from rich.markup import escape

    from .config import CONFIG_ROOT
    t = Table(title="rotors (configs/rotors.yaml, and --rotors / $EXOSIM_ROTORS catalogs)", title_justify="left")
    for col in ("rotor", "kind", "angle", "max rpm", "r_min mm", "r_avg mm", "r_max mm", "tube mL", "places",
                "k (computed)", "k (published)", "max x g (avg)", "source"):
        t.add_column(col, justify="left" if col in ("rotor", "kind", "source") else "right")
    bundled = str(CONFIG_ROOT / "rotors.yaml")
    try:
        catalog = load_rotors()
    except ConfigError as exc:
        _fail(str(exc))
    from .physics.rotors import rcf
    console = _console()
    for r in catalog.values():
        t.add_row(r.name, r.kind, f"{r.angle * 57.29577951308232:.0f}°", f"{r.max_rpm:,.0f}",
                  f"{r.r_min * 1e3:.1f}", f"{r.r_avg * 1e3:.1f}", f"{r.r_max * 1e3:.1f}",
                  f"{r.tube_volume * 1e6:.1f}", str(r.places), f"{r.k_factor():.0f}",
                  f"{r.published_k:.0f}" if r.published_k else "", f"{rcf(r.max_speed, r.r_avg):,.0f}",
                  escape(r.source + ("" if r._catalog == bundled else f" (from {r._catalog})")))
    console.print(t)


@app.command()
def plot(
    results_file: Path = typer.Argument(..., help="results file written by exosim run -o"),
    out: Path = typer.Option(None, "-o", "--out", help="figure file (.png, .pdf, .svg); default: next to the results"),
):
    """Figure of a results file: recovery per population, and what each step passes on; with a gradient, a second
    figure of the tube (medium density against depth, every population across the fractions); with filtrations,
    one of flux and pressure against time with Hermia's blocking exponent."""
    from .plot import filtration_figure, gradient_figure, recovery_figure, sweep_figure
    try:
        ds = _open_results(results_file)
    except Fail as exc:
        _fail(str(exc))
    if "recovery" not in ds:
        _fail(f"{results_file}: recovery: not an exosim results file")
    out = out or results_file.with_suffix(".png")
    if "completed" in ds:  # a sweep
        sweep_figure(ds).savefig(out, dpi=150, bbox_inches="tight")
        _console().print(f"figure written to {out}", highlight=False)
        return
    fig = recovery_figure(ds)
    fig.savefig(out, dpi=150, bbox_inches="tight")
    _console().print(f"figure written to {out}", highlight=False)
    if "fraction_density" in ds:
        tube = out.with_name(f"{out.stem}_gradient{out.suffix}")
        gradient_figure(ds).savefig(tube, dpi=150, bbox_inches="tight")
        _console().print(f"figure written to {tube}", highlight=False)
    if "filtration_flux" in ds:
        flux = out.with_name(f"{out.stem}_flux{out.suffix}")
        filtration_figure(ds).savefig(flux, dpi=150, bbox_inches="tight")
        _console().print(f"figure written to {flux}", highlight=False)


def main():
    """Entry point of the ``exosim`` command."""
    _one_line_warnings()
    app()
