"""Measure, in one run on one machine:

1. particle-steps per second of the swinging-bucket centrifugation kernel on the CPU backend (1 thread and all
   threads, float64 and float32) and, where a real GPU exists, of the swinging-bucket (float32 and float64),
   fixed-angle and gradient kernels on CUDA (CuPy arrays);
2. a numpy Euler-Maruyama baseline of the same physics (what a user would write: one array operation per term),
   and the same array code in CuPy on the GPU;
3. time-to-answer of the standard DUC protocol (bundled) at 1e6 particles (CPU) and 1e7 (GPU; compilation
   reported separately);
4. start-up: wall time of ``exosim --help``, ``plan``, ``rotors`` and a small CPU run, cold and warm
   (benchmarks/startup.py; ``--no-startup`` skips it);
5. where ``--reference FILE`` names the hardware-proxy script of the team's bench folder, its figures in the same
   run (its JSON, ``$OUT/gpu_anchor.json``), and a summary of exosim's GPU figures as ratios to them.

Prints a table and writes JSON (``--json``, default benchmarks/out/bench.json).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from exosim import CPU, load_protocol, load_sample, simulate
from exosim.config import load_media, load_rotors
from exosim.device import GPU
from exosim.kernels import _cuda
from exosim.kernels.formulas import diffusion_coefficient, sedimentation_coefficient
from exosim.methods.centrifuge import kernel_params, medium_state, run_tube, tube_geometry
from exosim.physics import rotors as geom

from . import machine, startup

# the physical case of the reference kernels: 100 nm exosome, 1.15 g/mL, PBS at 4 degC, a full SW 41 Ti tube at its
# maximum speed for 10 min (rotor and medium from the bundled catalogs)
T4 = 277.15
D_P, RHO_P = 100e-9, 1150.0
ROTOR = load_rotors()["SW 41 Ti"]
TUBE = tube_geometry(ROTOR, ROTOR.tube_volume, 0.0)
R_MIN, R_MAX = TUBE.r_meniscus, TUBE.r_bottom
RHO_M, ETA_M = medium_state(load_media()["PBS"], T4)
OMEGA = ROTOR.max_speed
T_TOTAL = 600.0


def case_arrays(device, n):
    xp = device.xp
    return xp.full(n, D_P, dtype=device.real), xp.full(n, RHO_P, dtype=device.real), xp.ones(n, dtype=bool)


FIXED_ROTOR = load_rotors()["Type 70 Ti"]


def _runner(kind, steps):
    """(function(device, d, rho, active, step) -> outcome, segments) of one kernel on the benchmark case:
    ``swinging`` (SW 41 Ti), ``fixed`` (Type 70 Ti, same speed, 60 s) or ``gradient`` (SW 41 Ti, a 1.08 ->
    1.18 g/mL linear gradient with viscosity rising 2 -> 8 mPa s, as the reference kernel's)."""
    duration = 60.0 if kind == "fixed" else T_TOTAL  # as the reference's fixed-angle case: most stay in suspension
    seg = geom.speed_profile(OMEGA, duration, max_step=duration / steps)
    if kind in ("swinging", "fixed"):
        tube = TUBE if kind == "swinging" else tube_geometry(FIXED_ROTOR, FIXED_ROTOR.tube_volume, 0.0)
        prm = kernel_params(tube, RHO_M, ETA_M, T4)
        return (lambda dev, d, rho, act, step: run_tube(dev, tube, prm, seg, d, rho, act, seed=1, step=step)[0]), seg
    from exosim.methods.gradient import gradient_params, run_tables
    grid = np.linspace(R_MIN, R_MAX, 256)
    prm = gradient_params(R_MIN, R_MAX, grid, np.array([0.0]), (R_MIN, R_MAX), T4)
    rho_t = np.linspace(1080.0, 1180.0, 256)[None, :]
    eta_t = np.geomspace(2e-3, 8e-3, 256)[None, :]
    return (lambda dev, d, rho, act, step: run_tables(dev, prm, seg, rho_t, eta_t, d, rho, act, seed=1,
                                                      step=step)[0]), seg


def kernel_rate(device, n, steps, repeats=3, kind="swinging"):
    """Best-of-``repeats`` particle-steps per second of one kernel (``_runner``), and the pelleted fraction.
    Particle-steps count the segments of the run (the gradient kernel may take more substeps: a lower bound)."""
    run, seg = _runner(kind, steps)
    d, rho, active = case_arrays(device, n)
    run(device, d[:1024], rho[:1024], active[:1024], 0)  # compile
    best = math.inf
    for k in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        outcome = run(device, d, rho, active, k)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    pelleted = float(np.mean(device.to_host(outcome) == 1))
    return n * len(seg) / best, best, pelleted


def sync(device):
    if getattr(device, "backend", "") == "cuda" and not device.simulated:
        import cupy
        cupy.cuda.Device().synchronize()


def numpy_baseline(n, steps, seed=1, xp=np, dtype=np.float64):
    """Euler-Maruyama in array code (numpy on one thread, or CuPy): dr = s w^2 r dt + sqrt(2 D dt) N(0,1),
    reflecting meniscus, absorbing bottom (checked at step ends). Returns (particle-steps/s, seconds, pelleted
    fraction)."""
    s = sedimentation_coefficient(D_P, RHO_P, RHO_M, ETA_M)
    D = diffusion_coefficient(D_P, T4, ETA_M)
    dt = T_TOTAL / steps
    a_dt, sig = dtype(s * OMEGA ** 2 * dt), dtype(math.sqrt(2 * D * dt))
    lo, hi = dtype(R_MIN), dtype(R_MAX)
    rng = xp.random.default_rng(seed)
    r = rng.uniform(R_MIN, R_MAX, n).astype(dtype)
    alive = xp.ones(n, bool)
    sync_xp(xp)
    t0 = time.perf_counter()
    for _ in range(steps):
        r = r + a_dt * r + sig * rng.standard_normal(n, dtype=dtype)
        r = xp.where(r < lo, 2 * lo - r, r)
        hit = r >= hi
        alive &= ~hit
        r = xp.where(hit, hi, r)
    sync_xp(xp)
    dt_wall = time.perf_counter() - t0
    return n * steps / dt_wall, dt_wall, float(1 - alive.mean())


def sync_xp(xp):
    if xp is not np:
        xp.cuda.Device().synchronize()


def analytic_pelleted():
    s = sedimentation_coefficient(D_P, RHO_P, RHO_M, ETA_M)
    return (R_MAX - max(R_MIN, R_MAX * math.exp(-s * OMEGA ** 2 * T_TOTAL))) / (R_MAX - R_MIN)


def time_to_answer(device, n, protocol_name="duc_standard", compile_seconds=False):
    """Seconds for ``simulate`` of a bundled protocol on the bundled MSC sample (after a small run that compiles),
    and the exosome recovery; with ``compile_seconds``, also the seconds of that first small run."""
    protocol, sample = load_protocol(protocol_name), load_sample("msc_conditioned_medium")
    t0 = time.perf_counter()
    simulate(protocol, sample, n_particles=1000, seed=1, device=device)  # compile
    sync(device)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = simulate(protocol, sample, n_particles=n, seed=1, device=device)
    sync(device)
    out = (time.perf_counter() - t0, float(ds.recovery.sel(population="exosome")))
    return (*out, first) if compile_seconds else out


# exosim figure -> (reference figure of ../shared/bench/gpu_reference.py, the target as a ratio to it)
RATIO_PAIRS = {
    "cuda_swinging_float32": ("numba.cuda philox f32", 1.0),
    "cuda_swinging_float64": ("numba.cuda philox f64", 1.0),
    "cuda_fixed_float32": ("numba.cuda fixed-angle 3-D f32", 1.0),
    "cuda_gradient_float32": ("numba.cuda gradient-table f32", 1.0),
    "cupy_em_float32": ("cupy naive f32", None),
}


def reference_ratios(res):
    """exosim's GPU figures over the reference kernels' (from the reference's JSON in $OUT, if it wrote one)."""
    import os
    path = Path(os.environ.get("OUT", "benchmarks/out")) / "gpu_anchor.json"
    try:
        ref = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for key, (name, target) in RATIO_PAIRS.items():
        if key in res and name in ref:
            out[key] = dict(reference=name, ratio=res[key]["particle_steps_per_s"] / ref[name]["particle_steps_per_s"],
                            target=target)
    return out


def print_summary(res):
    """One screen: the GPU, each kernel's rate and its ratio to the reference, the time-to-answer."""
    print("\n=== summary ===")
    print(f"machine: {res['machine']}  {res.get('gpu_device', 'no GPU')}")
    for key, val in res.items():
        if isinstance(val, dict) and "particle_steps_per_s" in val:
            r = res.get("ratios", {}).get(key)
            extra = f"  x{r['ratio']:.2f} of '{r['reference']}'" + (
                f" (target >= {r['target']:g})" if r.get("target") else "") if r else ""
            print(f"{key:34s} {val['particle_steps_per_s']:10.3e} particle-steps/s{extra}")
    if "cuda_vs_cupy" in res:
        print(f"CUDA swinging float32 / CuPy array code: {res['cuda_vs_cupy']:.1f}x (target >= 35)")
    for key, val in res.items():
        if key.startswith("duc_time_to_answer"):
            first = f", first small run {val['first_run_seconds']:.1f} s" if "first_run_seconds" in val else ""
            print(f"{key:34s} {val['seconds']:.2f} s for {val['n']:,} particles{first}")


def run_reference(path):
    """Run the team's hardware-proxy script in a subprocess; its JSON goes to stdout's last line or a file."""
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=480)
    return {"returncode": proc.returncode, "stdout_tail": proc.stdout[-4000:], "stderr_tail": proc.stderr[-2000:]}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="particles for the kernel benchmarks")
    ap.add_argument("--steps", type=int, default=100, help="integration steps for the kernel benchmarks")
    ap.add_argument("--duc-n", type=int, default=1_000_000, help="particles for the DUC time-to-answer")
    ap.add_argument("--gpu-n", type=int, default=50_000_000, help="particles for the GPU kernel benchmark")
    ap.add_argument("--gpu-duc-n", type=int, default=10_000_000, help="particles for the GPU DUC time-to-answer")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up benchmark")
    ap.add_argument("--reference", type=Path, default=None, help="hardware-proxy script to run in the same call")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/bench.json"))
    args = ap.parse_args(argv)

    res = {"machine": machine(), "case": f"100 nm EV, 1.15 g/mL, PBS 4 degC, {ROTOR.name} {ROTOR.max_rpm:,.0f} rpm, 10 min",
           "analytic_pelleted_no_diffusion": analytic_pelleted()}
    rows = []
    rate, sec, pel = numpy_baseline(args.n, args.steps)
    res["numpy_em_1thread"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel)
    rows.append(("numpy Euler-Maruyama (baseline, 1 thread)", rate, sec, pel))
    import numba
    threads = numba.config.NUMBA_NUM_THREADS
    for bits in (64, 32):
        for nt in sorted({1, threads}):
            dev = CPU(threads=nt, precision=bits)
            with dev.activate():
                rate, sec, pel = kernel_rate(dev, args.n, args.steps)
            suffix = "" if bits == 64 else "_float32"
            res[f"cpu_{nt}threads{suffix}"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel)
            rows.append((f"exosim CPU kernel (float{bits}, {nt} thread{'s' if nt > 1 else ''})", rate, sec, pel))
    res["cpu_per_core_vs_numpy"] = res["cpu_1threads"]["particle_steps_per_s"] / \
        res["numpy_em_1thread"]["particle_steps_per_s"]
    if _cuda.real_gpu():
        import cupy
        res["gpu_device"] = GPU(0).describe()
        rate, sec, pel = numpy_baseline(args.gpu_n // 4, args.steps, xp=cupy, dtype=np.float32)
        res["cupy_em_float32"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel, n=args.gpu_n // 4)
        rows.append(("CuPy Euler-Maruyama array code (float32)", rate, sec, pel))
        for kind, bits in (("swinging", 32), ("swinging", 64), ("fixed", 32), ("gradient", 32)):
            gpu = GPU(0, precision=bits)
            with gpu.activate():
                rate, sec, pel = kernel_rate(gpu, args.gpu_n, args.steps, kind=kind)
            res[f"cuda_{kind}_float{bits}"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel, n=args.gpu_n)
            rows.append((f"exosim CUDA {kind} kernel (float{bits})", rate, sec, pel))
        res["cuda_vs_cupy"] = res["cuda_swinging_float32"]["particle_steps_per_s"] / \
            res["cupy_em_float32"]["particle_steps_per_s"]
        for bits in (32, 64):
            gpu = GPU(0, precision=bits)
            with gpu.activate():
                sec, rec, first = time_to_answer(gpu, args.gpu_duc_n, compile_seconds=True)
            res[f"duc_time_to_answer_cuda_float{bits}"] = dict(seconds=sec, n=args.gpu_duc_n, exosome_recovery=rec,
                                                              first_run_seconds=first)
    for bits in (64, 32):
        sec, rec = time_to_answer(CPU(precision=bits), args.duc_n)
        res["duc_time_to_answer_cpu" + ("" if bits == 64 else "_float32")] = dict(
            seconds=sec, n=args.duc_n, exosome_recovery=rec)
    # the bundled 18-h iodixanol gradient after DUC: the medium's Lamm solution (planning) and every particle
    from exosim.engine import plan_protocol
    t0 = time.perf_counter()
    plan_protocol(load_protocol("dguc_iodixanol"), load_sample("msc_conditioned_medium"))
    res["dguc_plan_seconds"] = time.perf_counter() - t0
    sec, rec = time_to_answer(CPU(), args.duc_n, "dguc_iodixanol")
    res["dguc_time_to_answer_cpu"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec)
    if "gpu_device" in res:
        sec, rec = time_to_answer(GPU(0), args.gpu_duc_n, "dguc_iodixanol")
        res["dguc_time_to_answer_cuda"] = dict(seconds=sec, n=args.gpu_duc_n, exosome_recovery=rec)
    # filtration: the bundled sequential-filtration and ultrafiltration protocols (particles processed per second)
    for name in ("sequential_filtration", "ultrafiltration"):
        for label, dev in (("cpu", CPU()), ("cuda", GPU(0, precision=64) if "gpu_device" in res else None)):
            if dev is None:
                continue
            sec, rec = time_to_answer(dev, args.duc_n, name)
            res[f"{name}_time_to_answer_{label}"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec,
                                                         particles_per_s=args.duc_n / sec)
    if not args.no_startup:
        res["startup"] = startup.measure()
    if args.reference:
        res["reference"] = run_reference(args.reference)
        res["ratios"] = reference_ratios(res)

    print(f"machine: {res['machine']}")
    print(f"case: {res['case']}; pelleted without diffusion (closed form): {res['analytic_pelleted_no_diffusion']:.4f}")
    print(f"{'kernel':48s} {'particle-steps/s':>16s} {'seconds':>9s} {'pelleted':>9s}")
    for name, rate, sec, pel in rows:
        print(f"{name:48s} {rate:16.3e} {sec:9.3f} {pel:9.4f}")
    print(f"CPU kernel per core / numpy baseline per core: {res['cpu_per_core_vs_numpy']:.2f}x")
    print(f"dguc_iodixanol planning (Lamm solution of the medium): {res['dguc_plan_seconds']:.2f} s")
    for key in ("duc_time_to_answer_cpu", "duc_time_to_answer_cpu_float32", "duc_time_to_answer_cuda_float32",
                "duc_time_to_answer_cuda_float64", "dguc_time_to_answer_cpu",
                "dguc_time_to_answer_cuda", "sequential_filtration_time_to_answer_cpu",
                "sequential_filtration_time_to_answer_cuda", "ultrafiltration_time_to_answer_cpu",
                "ultrafiltration_time_to_answer_cuda"):
        if key in res:
            r = res[key]
            print(f"{key}: {r['seconds']:.2f} s for {r['n']:,} particles "
                  f"(exosome recovery {r['exosome_recovery']:.4f})")
    if "startup" in res:
        startup.print_table(res["startup"])
    if "reference" in res:
        print("reference script output (tail):")
        print(res["reference"]["stdout_tail"])
    print_summary(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
