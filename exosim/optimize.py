"""Protocol optimisation with optuna: vary parameters of a protocol (dotted paths, ranges), maximise or minimise
one or two metrics subject to constraints, trials evaluated in batches on dask workers (docs/sweeps.md).

Noise: every trial runs with the same seed (common random numbers), so two trials differ by their parameters, not
by their draws; the best trials are then re-run with ``repeats`` other seeds and reported with the mean and its
standard error, so a lucky draw does not win.
"""
from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass

import numpy as np

METRICS = ("recovery", "purity", "particles_per_ug_protein", "process_time", "damaged_fraction", "protein_ug",
           "product_volume")
_CONSTRAINT = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|>|<)\s*([0-9.eE+-]+)\s*$")


@dataclass
class Space:
    """A varied parameter: a dotted path and a range [low, high] in ``unit`` (forces in g)."""

    path: str
    low: float
    high: float
    unit: str

    def value(self, x: float) -> str:
        from .sweep import _format
        return _format(x, self.unit)


def parse_vary(text: str) -> Space:
    """``steps[3].duration=30min..4h`` -> Space."""
    from .sweep import _range

    path, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition("..")
    if not sep or not sep2 or not path.strip():
        raise ValueError(f"expected PATH=LOW..HIGH such as steps[3].duration=30min..4h, got {text!r}")
    (a, unit), (b, _) = _range(path.strip(), {"from": lo.strip(), "to": hi.strip()})
    if not a < b:
        raise ValueError(f"{path.strip()}: the range's low end must be below its high end")
    return Space(path.strip(), a, b, unit)


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``recovery >= 0.3`` -> (metric, op, value)."""
    m = _CONSTRAINT.match(text)
    if not m or m.group(1) not in METRICS:
        raise ValueError(f"expected METRIC OP VALUE with METRIC one of {', '.join(METRICS)}, got {text!r}")
    return m.group(1), m.group(2), float(m.group(3))


def evaluate(protocol: dict, sample: dict, particles: int, seed: int, source: str) -> dict:
    """Metrics of one protocol variant (target population for recovery and damage); runs in a dask worker."""
    from . import engine, results
    from .device import CPU
    from .sweep import Point, validate

    prot, smp, plans = validate(Point({}, protocol, sample, particles, seed), source)
    run = engine.run_protocol(prot, smp, n_particles=particles, seed=seed, device=CPU(), plans=plans)
    s = results.summarize(run)
    t = int(np.argmax(s["is_target"]))
    return {"recovery": float(s["recovery"][t]), "recovery_stderr": float(s["recovery_stderr"][t]),
            "purity": float(s["purity"]), "particles_per_ug_protein": float(s["particles_per_ug_protein"]),
            "process_time": float(s["process_time"]), "damaged_fraction": float(s["damaged_fraction"][t]),
            "protein_ug": float(s["protein_ug"]), "product_volume": float(s["product_volume"])}


def _satisfied(metrics: dict, constraints) -> bool:
    ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less}
    return all(bool(ops[op](metrics[m], v)) for m, op, v in constraints)


def optimize(base_protocol: dict, base_sample: dict, spaces, objectives, constraints, *, trials: int,
             particles: int, seed: int, client, source: str, batch: int = 2, repeats: int = 3, top: int = 3,
             progress=None):
    """Run the study; returns (trials list of dicts, best list of dicts with repeated-seed means)."""
    import optuna

    from .sweep import set_path

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["maximize" if d == "max" else "minimize" for _, d in objectives]

    modern = hasattr(optuna.trial.Trial, "set_constraint")  # optuna >= 5: constraints set on the trial

    def constraint_values(trial):
        return trial.user_attrs.get("violation", (0.0,))

    sampler = optuna.samplers.TPESampler(seed=seed) if modern else \
        optuna.samplers.TPESampler(seed=seed, constraints_func=constraint_values)
    study = optuna.create_study(directions=directions, sampler=sampler)

    def variant(params):
        prot, smp = copy.deepcopy(base_protocol), copy.deepcopy(base_sample)
        for sp in spaces:
            target = smp if sp.path.startswith("sample.") else prot
            set_path(target, sp.path[len("sample."):] if sp.path.startswith("sample.") else sp.path,
                     sp.value(params[sp.path]))
        return prot, smp

    records = []
    done = 0
    while done < trials:
        asked = [study.ask() for _ in range(min(batch, trials - done))]
        futures = []
        for tr in asked:
            params = {sp.path: tr.suggest_float(sp.path, sp.low, sp.high) for sp in spaces}
            prot, smp = variant(params)
            futures.append((tr, params, client.submit(evaluate, prot, smp, particles, seed, source, pure=False)))
        for tr, params, fut in futures:
            try:
                m = fut.result()
            except Exception as exc:  # an invalid variant (e.g. beyond a rotor's speed): a failed trial
                study.tell(tr, state=optuna.trial.TrialState.FAIL)
                records.append({"trial": tr.number, "params": params, "error": repr(exc)})
                continue
            violation = tuple(float(v - m[name]) if op in (">=", ">") else float(m[name] - v)
                              for name, op, v in constraints) or (0.0,)
            tr.set_user_attr("violation", violation)
            if modern:
                for k, v in enumerate(violation):
                    tr.set_constraint(f"c{k}", v)
            study.tell(tr, [m[name] for name, _ in objectives])
            records.append({"trial": tr.number, "params": params, "metrics": m,
                            "feasible": _satisfied(m, constraints)})
        done += len(asked)
        if progress is not None:
            progress(len(asked))
    ok = [r for r in records if "metrics" in r and r["feasible"]]
    sign = [1 if d == "max" else -1 for _, d in objectives]
    ok.sort(key=lambda r: -sign[0] * r["metrics"][objectives[0][0]])
    best = []
    for r in ok[:top]:
        prot, smp = variant(r["params"])
        runs = client.gather([client.submit(evaluate, prot, smp, particles, seed + 1 + k, source, pure=False)
                              for k in range(repeats)])
        summary = {}
        for name in METRICS:
            vals = np.array([x[name] for x in runs])
            summary[name] = float(vals.mean())
            summary[f"{name}_stderr"] = float(vals.std(ddof=1) / math.sqrt(len(vals))) if len(vals) > 1 else math.nan
        best.append({"trial": r["trial"], "params": {k: spaces_value(spaces, k, v) for k, v in r["params"].items()},
                     "metrics": r["metrics"], "repeated": summary, "repeats": repeats})
    return records, best


def spaces_value(spaces, path, x):
    sp = next(s for s in spaces if s.path == path)
    return sp.value(x)


def trials_dataset(records, spaces, objectives, constraints):
    """The trials as an xarray Dataset (dimension ``trial``)."""
    import xarray as xr

    ok = [r for r in records if "metrics" in r]
    data = {}
    for sp in spaces:
        data[re.sub(r"[^A-Za-z0-9]+", "_", sp.path).strip("_")] = (
            "trial", np.array([r["params"][sp.path] for r in ok]), {"units": sp.unit, "path": sp.path})
    for name in METRICS:
        data[name] = ("trial", np.array([r["metrics"][name] for r in ok]), {"long_name": name})
    data["feasible"] = ("trial", np.array([int(r["feasible"]) for r in ok], dtype=np.int8), {"units": "1"})
    return xr.Dataset(data, coords={"trial": [r["trial"] for r in ok]},
                      attrs={"objectives": json.dumps(objectives), "constraints": json.dumps(constraints)})


def pareto_figure(ds, objectives):
    """Trials in the plane of the first two objectives (or objective vs recovery), feasible ones filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_name = objectives[0][0]
    y_name = objectives[1][0] if len(objectives) > 1 else ("recovery" if x_name != "recovery" else "purity")
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    feas = ds.feasible.values.astype(bool)
    ax.scatter(ds[x_name].values[~feas], ds[y_name].values[~feas], facecolors="none", edgecolors="0.5",
               label="infeasible")
    ax.scatter(ds[x_name].values[feas], ds[y_name].values[feas], color="tab:blue", label="feasible")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.legend()
    ax.set_title("optimisation trials")
    return fig
