"""Mutation testing of exosim with cosmic-ray, in a scratch copy of the repository (``make mutation``).

cosmic-ray writes each mutant into the source file on disk, runs the tests, and writes the original back. That
works with numba (the kernels are compiled from the files on disk), but it must never happen in the working tree,
so this script:

1. copies the repository (``git ls-files``: tracked and untracked-but-not-ignored files, as they are on disk now)
   into ``<workdir>/src`` (and the mutable sources into ``<workdir>/pristine``), and records the commit and the
   uncommitted diff it ran on (``<workdir>/snapshot/``);
2. makes the copy importable with PYTHONPATH plus two symlinks for pyproject.toml's package-dir mapping
   (``exosim/kernels -> ../kernels``, ``exosim/configs -> ../configs``), and checks that exosim, its kernels and
   its configs really are imported from the copy (the project's .venv has an editable finder for the working
   tree; it is a meta-path finder behind the path finder, so PYTHONPATH wins);
3. points ``EXOSIM_CACHE_DIR`` at ``<workdir>/cache`` (kernels/cache.py keys compiled kernels by a hash of every
   kernel source, so a mutant of a kernel file is a new key and is compiled; a mutant elsewhere reuses the
   unmutated kernels, correctly) and sets ``PYTHONDONTWRITEBYTECODE=1`` (no stale .pyc can stand in for a mutant);
4. runs each test set the modules need once unmutated (they must pass; ``<workdir>/baselines.json``): a module's
   test set is named in the config's ``[exosim-mutation.tests]``, its per-mutant timeout is 2.5 times that run
   (at least the config's);
5. per module, in the order given, one cosmic-ray session each (``<workdir>/sessions/``): ``cosmic-ray init``,
   ``cr-filter-operators`` (the operators excluded in mutation/cosmic-ray.toml), ``cosmic-ray exec``; then
   ``cr-report --surviving-only`` on the console, the full ``cr-report --show-diff`` and ``cr-html`` in
   ``<workdir>/report-<module>.txt|html``, and a summary of all sessions (``<workdir>/summary.md``, ``summary.json``).

Every test run goes through ``mutation/timed_test.py``, which logs its wall time, exit code and the mutated file
(``<workdir>/timings.jsonl``): the time per mutant. ``--budget SECONDS`` stops after that much time (the test run
in progress is ended, the mutated file restored, the rest left pending); ``--resume`` goes on from there on the
same snapshot and configuration (``<workdir>/config.toml``, ``modules.txt``).

Usage: python mutation/run.py [--modules PATH ...] [--workdir DIR] [--budget S] [--resume] [--report-only]
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "mutation" / "cosmic-ray.toml"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "mutation"))
from timed_test import ROOTS, hashes  # noqa: E402


def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def snapshot(work: Path) -> Path:
    """Copy the working tree (tracked and untracked non-ignored files) to work/src; record what it was."""
    src = work / "src"
    for old in (src, work / "pristine"):
        if old.exists():
            shutil.rmtree(old)
    src.mkdir(parents=True)
    files = [f for f in git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0") if f]
    for name in files:
        path = REPO / name
        if path.is_file() and not path.is_symlink():  # a tracked file deleted in the working tree is skipped
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    snap = work / "snapshot"
    snap.mkdir(exist_ok=True)
    (snap / "commit.txt").write_text(git("rev-parse", "HEAD") + git("log", "-1", "--format=%cd %s"))
    (snap / "status.txt").write_text(git("status", "--short"))
    (snap / "diff.patch").write_text(git("diff", "HEAD"))
    untracked = git("ls-files", "--others", "--exclude-standard").splitlines()
    (snap / "untracked.txt").write_text("".join(f"{f}\n" for f in untracked))
    # pyproject.toml's package-dir mapping: exosim.kernels -> kernels/, exosim.configs -> configs/
    for pkg in ("kernels", "configs"):
        link = src / "exosim" / pkg
        if not link.exists():
            link.symlink_to(Path("..") / pkg)
    ref = hashes(src)
    (snap / "hashes.json").write_text(json.dumps(ref, indent=0))
    for name in ref:
        (work / "pristine" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, work / "pristine" / name)
    return src


def restore(work: Path) -> None:
    """Put back any source file of the copy that differs from the snapshot (a run stopped mid-mutant)."""
    ref = json.loads((work / "snapshot" / "hashes.json").read_text())
    now = hashes(work / "src")
    for name in sorted(set(ref) | set(now)):
        if ref.get(name) != now.get(name):
            print(f"restoring {name} from the snapshot", flush=True)
            if name in ref:
                shutil.copy2(work / "pristine" / name, work / "src" / name)
            else:
                (work / "src" / name).unlink()


def environment(work: Path, src: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(src),
        PYTHONDONTWRITEBYTECODE="1",
        EXOSIM_CACHE_DIR=str(work / "cache"),
        NUMBA_NUM_THREADS=env.get("NUMBA_NUM_THREADS", "1"),
        OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
        EXOSIM_MUTATION_WORKDIR=str(work),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def check_imports(src: Path, env: dict) -> None:
    code = ("import exosim, exosim.kernels.formulas as f, exosim.configs as c, exosim.physics.media as m, "
            "exosim.methods.centrifuge as k; print(exosim.__file__, f.__file__, c.__file__, m.__file__, k.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=src, env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    root = src.resolve()
    bad = [p for p in out if not Path(p).resolve().is_relative_to(root)]
    if bad:
        sys.exit(f"mutation: modules imported from outside the scratch copy {root}: {bad}")
    print("imports from the scratch copy:", *out, sep="\n  ")


def dump_toml(cfg: dict) -> str:
    """Enough TOML for cosmic-ray's config (nested tables of strings, numbers and lists of strings)."""
    lines: list[str] = []

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        return "[" + ", ".join(value(x) for x in v) + "]"

    def table(name, d):
        lines.append(f"[{name}]")
        lines.extend(f"{json.dumps(k)} = {value(v)}" for k, v in d.items() if not isinstance(v, dict))
        lines.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{name}.{json.dumps(k)}", v)

    for k, v in cfg.items():
        table(json.dumps(k), v)
    return "\n".join(lines)


def module_list(src: Path, cr: dict, modules: list[str] | None) -> list[str]:
    """The files to mutate, in order: those given (folders expanded, sorted), less the config's excluded-modules."""
    excluded = {(src / e).resolve() for e in cr.get("excluded-modules", ())}
    out = []
    for m in modules or cr["module-path"]:
        path = src / m
        if not path.exists():
            sys.exit(f"mutation: no {m} in the repository")
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        out += [f.relative_to(src).as_posix() for f in files if f.resolve() not in excluded]
    return list(dict.fromkeys(out))


def tests_for(module: str, cfg: dict) -> list[str]:
    """The test files of a module: the set named by the first pattern of [exosim-mutation.tests] that matches it."""
    for pattern, name in cfg["exosim-mutation"]["tests"].items():
        if fnmatch.fnmatch(module, pattern):
            return cfg["exosim-mutation"]["test-sets"][name]
    sys.exit(f"mutation: no test files for {module} in [exosim-mutation.tests] of {CONFIG}")


def test_command(module: str, cfg: dict) -> str:
    return cfg["cosmic-ray"]["test-command"].format(tests=" ".join(tests_for(module, cfg)))


def baseline(src: Path, env: dict, command: str) -> float:
    """Seconds of one unmutated run of ``command``; stops when it fails."""
    print(f"baseline: {command}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(command.split(), cwd=src, env=env)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"mutation: the unmutated tests fail (exit {proc.returncode}); fix them first")
    print(f"baseline: the tests pass unmutated in {elapsed:.1f} s", flush=True)
    return elapsed


def baselines(work: Path, src: Path, env: dict, cfg: dict, modules: list[str]) -> dict:
    """Unmutated time of every test command the modules need (run once each, remembered in baselines.json)."""
    path = work / "baselines.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    for command in dict.fromkeys(test_command(m, cfg) for m in modules):
        if command not in known:
            known[command] = round(baseline(src, env, command), 1)
            path.write_text(json.dumps(known, indent=1))
    (work / "timings.jsonl").touch()
    return known


def session_name(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def stop_current_test(work: Path) -> None:
    """End the test run in progress (timed_test.py leads its own process group and records its pid)."""
    pidfile = work / "current.pid"
    try:
        pid = int(pidfile.read_text())
        os.killpg(pid, signal.SIGKILL)
        print(f"ended the test run in progress (process group {pid})", flush=True)
    except (OSError, ValueError):
        pass


def run_sessions(work: Path, src: Path, env: dict, cfg: dict, modules: list[str], budget: float | None,
                 resume: bool, timeout: float | None) -> None:
    sessions = work / "sessions"
    sessions.mkdir(exist_ok=True)
    new = [m for m in modules if not (resume and (sessions / f"{session_name(m)}.sqlite").exists()
                                      and (sessions / f"{session_name(m)}.toml").exists())]
    base = baselines(work, src, env, cfg, new)
    t_start = time.monotonic()
    for module in modules:
        name = session_name(module)
        cfg_path, db = sessions / f"{name}.toml", sessions / f"{name}.sqlite"
        if module in new:
            session = {"cosmic-ray": dict(cfg["cosmic-ray"])}
            command = test_command(module, cfg)
            session["cosmic-ray"].update({
                "module-path": [module], "test-command": command,
                "timeout": timeout or max(float(cfg["cosmic-ray"]["timeout"]), round(2.5 * base[command]))})
            cfg_path.write_text(dump_toml(session))
            db.unlink(missing_ok=True)
            subprocess.run([BIN / "cosmic-ray", "init", cfg_path, db], cwd=src, env=env, check=True)
            subprocess.run([BIN / "cr-filter-operators", db, cfg_path], cwd=src, env=env, check=True)
        left = None if budget is None else budget - (time.monotonic() - t_start)
        if left is not None and left <= 0:
            print(f"budget spent: {module} not run", flush=True)
            continue
        session = tomllib.loads(cfg_path.read_text())["cosmic-ray"]
        print(f"== {module}: cosmic-ray exec, {session['timeout']:.0f} s per mutant at most: "
              f"{session['test-command']}", flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen([BIN / "cosmic-ray", "exec", cfg_path, db], cwd=src, env=env)
        try:
            proc.wait(timeout=left)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.terminate()
            stop_current_test(work)
            proc.wait()
            restore(work)
            print(f"stopped {module} after {time.monotonic() - t0:.0f} s (budget or interrupt); the rest is pending",
                  flush=True)
            continue
        print(f"== {module}: {time.monotonic() - t0:.0f} s", flush=True)
        (work / f"report-{name}.txt").write_text(subprocess.run(
            [BIN / "cr-report", "--show-diff", db], cwd=src, env=env, capture_output=True, text=True).stdout)
        (work / f"report-{name}.html").write_text(subprocess.run(
            [BIN / "cr-html", db], cwd=src, env=env, capture_output=True, text=True).stdout)
        subprocess.run([BIN / "cr-report", "--surviving-only", db], cwd=src, env=env)


def results(db: Path):
    """Rows (module, operator, line, col, definition, worker_outcome, test_outcome, output, diff)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT m.module_path, m.operator_name, m.start_pos_row, m.start_pos_col, m.definition_name, "
        "r.worker_outcome, r.test_outcome, r.output, r.diff FROM mutation_specs m "
        "LEFT JOIN work_results r ON r.job_id = m.job_id ORDER BY m.module_path, m.start_pos_row, "
        "m.start_pos_col, m.operator_name, m.occurrence").fetchall()
    con.close()
    return rows


def classify(worker, test, output) -> str:
    if worker is None:
        return "pending"
    worker, test = str(worker).lower(), (str(test).lower() if test else None)
    if worker == "skipped":
        return "filtered"
    if worker == "no-test":
        return "no-test"
    if test == "killed":
        return "timeout" if (output or "").strip() == "timeout" else "killed"
    if test == "survived":
        return "survived"
    return "incompetent"


def mutated_line(diff: str) -> str:
    minus = [ln[1:].strip() for ln in (diff or "").splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in (diff or "").splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return f"{' / '.join(minus)}  ->  {' / '.join(plus)}"


def summarize(work: Path) -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for db in sorted((work / "sessions").glob("*.sqlite")):
        for module, op, line, col, definition, worker, test, output, diff in results(db):
            kind = classify(worker, test, output)
            counts[module][kind] += 1
            if kind == "survived":
                survivors.append(dict(file=module, line=line, col=col, operator=op.removeprefix("core/"),
                                      function=definition or "module level", mutation=mutated_line(diff)))
    timing = defaultdict(list)
    tfile = work / "timings.jsonl"
    if tfile.exists():
        for rec in map(json.loads, tfile.read_text().splitlines()):
            if rec.get("file"):
                timing[rec["file"]].append(rec)
    out = ["# Mutation testing summary", ""]
    snap = work / "snapshot"
    if (snap / "commit.txt").exists():
        out += ["Snapshot: " + (snap / "commit.txt").read_text().strip().replace("\n", " -- "),
                f"plus the uncommitted changes in {snap / 'diff.patch'} and the untracked files in "
                f"{snap / 'untracked.txt'}", ""]
    out += ["| module | mutants | killed | timeout | survived | incompetent | pending | score | s/mutant "
            "(killed, survived) |", "|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    total = Counter()
    for mod in sorted(counts):
        c = counts[mod]
        total.update(c)
        done = c["killed"] + c["timeout"] + c["survived"]
        score = (c["killed"] + c["timeout"]) / done if done else float("nan")
        t = timing.get(mod, [])
        mean = (lambda xs: sum(xs) / len(xs) if xs else float("nan"))
        per_all = mean([r["elapsed"] for r in t])
        per_k = mean([r["elapsed"] for r in t if r["rc"] != 0])
        per_s = mean([r["elapsed"] for r in t if r["rc"] == 0])
        n = sum(v for k, v in c.items() if k not in ("filtered", "no-test"))
        fmt = (lambda v, f="{:.1f}": "-" if v != v else f.format(v))  # nan: nothing run yet
        out.append(f"| {mod} | {n} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['incompetent']} | "
                   f"{c['pending']} | {fmt(100 * score, '{:.1f} %')} | {fmt(per_all)} ({fmt(per_k)}, {fmt(per_s)}) |")
        summary[mod] = dict(c) | {"score": score, "seconds_per_mutant": per_all, "seconds_per_killed": per_k,
                                  "seconds_per_survivor": per_s}
    done = total["killed"] + total["timeout"] + total["survived"]
    if done:
        out.append(f"| **all** | {sum(v for k, v in total.items() if k not in ('filtered', 'no-test'))} | "
                   f"{total['killed']} | {total['timeout']} | {total['survived']} | {total['incompetent']} | "
                   f"{total['pending']} | {100 * (done - total['survived']) / done:.1f} % | |")
    out += ["", f"Not run, operator filtered out: {total['filtered']}", "", "## Survivors", ""]
    out += [f"- {s['file']}:{s['line']} ({s['function']}) {s['operator']}: `{s['mutation']}`" for s in survivors]
    (work / "summary.md").write_text("\n".join(out) + "\n")
    (work / "summary.json").write_text(json.dumps(dict(modules=summary, survivors=survivors), indent=1))
    print("\n".join(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="*", help="files or folders to mutate, in this order (default: the config's "
                    "module-path); a single argument may hold several, separated by spaces")
    ap.add_argument("--workdir", default=str(REPO / "build" / "mutation"))
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default: the config's, raised to 2.5 times "
                    "the unmutated run of the module's tests)")
    ap.add_argument("--budget", type=float, help="stop after this many seconds of mutants; the rest stays pending")
    ap.add_argument("--resume", action="store_true", help="go on with the pending mutants of the snapshot in workdir "
                    "(default modules: those of the run it resumes)")
    ap.add_argument("--report-only", action="store_true", help="only summarize the sessions in workdir")
    args = ap.parse_args(argv)
    work = Path(args.workdir).resolve()
    if args.report_only:
        summarize(work)
        return
    if args.resume:
        src = work / "src"
        restore(work)
    else:
        for stale in ("sessions", "cache"):
            shutil.rmtree(work / stale, ignore_errors=True)
        for stale in work.glob("*.*"):
            stale.unlink()
        src = snapshot(work)
        (work / "config.toml").write_text(CONFIG.read_text())  # the configuration of this snapshot's sessions
    if not (work / "config.toml").exists():  # a work folder of an older run.py
        (work / "config.toml").write_text(CONFIG.read_text())
    cfg = tomllib.loads((work / "config.toml").read_text())
    given = [m for arg in (args.modules or []) for m in arg.split()]
    if not given and args.resume and (work / "modules.txt").exists():
        given = (work / "modules.txt").read_text().split()
    modules = module_list(src, cfg["cosmic-ray"], given or None)
    (work / "modules.txt").write_text("".join(f"{m}\n" for m in modules))
    print("modules:", *modules, flush=True)
    env = environment(work, src)
    check_imports(src, env)
    run_sessions(work, src, env, cfg, modules, args.budget, args.resume, args.timeout)
    summarize(work)

if __name__ == "__main__":
    main()
