"""Measure, in one run on one machine:

1. particle-steps per second of the swinging-bucket centrifugation kernel on the CPU backend (1 thread and all
   threads) and, where a real GPU exists, on CUDA (CuPy arrays);
2. a numpy Euler-Maruyama baseline of the same physics (what a user would write: one array operation per term);
3. time-to-answer of the standard DUC protocol (bundled) at 1e6 particles;
4. start-up: wall time of ``exosim --help``, ``plan``, ``rotors`` and a small CPU run, cold and warm
   (benchmarks/startup.py; ``--no-startup`` skips it);
5. where ``--reference FILE`` names the hardware-proxy script of the team's bench folder, its figures in the same
   run, so that exosim's GPU figures can be reported as ratios.

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


def case_arrays(xp, n):
    return xp.full(n, D_P), xp.full(n, RHO_P), xp.ones(n, dtype=bool)


def kernel_rate(device, n, steps, repeats=3):
    """Best-of-``repeats`` particle-steps per second of the swinging-bucket kernel, and the pelleted fraction."""
    tube = TUBE
    prm = kernel_params(tube, RHO_M, ETA_M, T4)
    seg = geom.speed_profile(OMEGA, T_TOTAL, max_step=T_TOTAL / steps)
    d, rho, active = case_arrays(device.xp, n)
    run_tube(device, tube, prm, seg[:2], d[:1024], rho[:1024], active[:1024], seed=1, step=0)  # compile
    best = math.inf
    for k in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        outcome, _ = run_tube(device, tube, prm, seg, d, rho, active, seed=1, step=k)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    pelleted = float(np.mean(device.to_host(outcome) == 1))
    return n * steps / best, best, pelleted


def sync(device):
    if getattr(device, "backend", "") == "cuda" and not device.simulated:
        import cupy
        cupy.cuda.Device().synchronize()


def numpy_baseline(n, steps, seed=1):
    """Euler-Maruyama in numpy, one thread: dr = s w^2 r dt + sqrt(2 D dt) N(0,1), reflecting meniscus, absorbing
    bottom (checked at step ends). Returns (particle-steps/s, seconds, pelleted fraction)."""
    s = sedimentation_coefficient(D_P, RHO_P, RHO_M, ETA_M)
    D = diffusion_coefficient(D_P, T4, ETA_M)
    dt = T_TOTAL / steps
    a_dt, sig = s * OMEGA ** 2 * dt, math.sqrt(2 * D * dt)
    rng = np.random.default_rng(seed)
    r = rng.uniform(R_MIN, R_MAX, n)
    alive = np.ones(n, bool)
    t0 = time.perf_counter()
    for _ in range(steps):
        r = r + a_dt * r + sig * rng.standard_normal(n)
        r = np.where(r < R_MIN, 2 * R_MIN - r, r)
        hit = r >= R_MAX
        alive &= ~hit
        r = np.where(hit, R_MAX, r)
    dt_wall = time.perf_counter() - t0
    return n * steps / dt_wall, dt_wall, float(1 - alive.mean())


def analytic_pelleted():
    s = sedimentation_coefficient(D_P, RHO_P, RHO_M, ETA_M)
    return (R_MAX - max(R_MIN, R_MAX * math.exp(-s * OMEGA ** 2 * T_TOTAL))) / (R_MAX - R_MIN)


def time_to_answer(device, n, protocol_name="duc_standard"):
    """Seconds for ``simulate`` of a bundled protocol on the bundled MSC sample (after a small run that compiles),
    and the exosome recovery."""
    protocol, sample = load_protocol(protocol_name), load_sample("msc_conditioned_medium")
    simulate(protocol, sample, n_particles=1000, seed=1, device=device)  # compile
    sync(device)
    t0 = time.perf_counter()
    ds = simulate(protocol, sample, n_particles=n, seed=1, device=device)
    sync(device)
    return time.perf_counter() - t0, float(ds.recovery.sel(population="exosome"))


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
    for nt in sorted({1, threads}):
        with CPU(threads=nt).activate():
            rate, sec, pel = kernel_rate(CPU(threads=nt), args.n, args.steps)
        res[f"cpu_{nt}threads"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel)
        rows.append((f"exosim CPU kernel ({nt} thread{'s' if nt > 1 else ''})", rate, sec, pel))
    res["cpu_per_core_vs_numpy"] = res["cpu_1threads"]["particle_steps_per_s"] / \
        res["numpy_em_1thread"]["particle_steps_per_s"]
    if _cuda.real_gpu():
        gpu = GPU(0)
        res["gpu_device"] = gpu.describe()
        with gpu.activate():
            rate, sec, pel = kernel_rate(gpu, args.gpu_n, args.steps)
        res["cuda_float64"] = dict(particle_steps_per_s=rate, seconds=sec, pelleted=pel, n=args.gpu_n)
        rows.append(("exosim CUDA kernel (float64, CuPy arrays)", rate, sec, pel))
        sec, rec = time_to_answer(gpu, args.duc_n)
        res["duc_time_to_answer_cuda"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec)
    sec, rec = time_to_answer(CPU(), args.duc_n)
    res["duc_time_to_answer_cpu"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec)
    # the bundled 18-h iodixanol gradient after DUC: the medium's Lamm solution (planning) and every particle
    from exosim.engine import plan_protocol
    t0 = time.perf_counter()
    plan_protocol(load_protocol("dguc_iodixanol"), load_sample("msc_conditioned_medium"))
    res["dguc_plan_seconds"] = time.perf_counter() - t0
    sec, rec = time_to_answer(CPU(), args.duc_n, "dguc_iodixanol")
    res["dguc_time_to_answer_cpu"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec)
    if "gpu_device" in res:
        sec, rec = time_to_answer(GPU(0), args.duc_n, "dguc_iodixanol")
        res["dguc_time_to_answer_cuda"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec)
    # filtration: the bundled sequential-filtration and ultrafiltration protocols (particles processed per second)
    for name in ("sequential_filtration", "ultrafiltration"):
        for label, dev in (("cpu", CPU()), ("cuda", GPU(0) if "gpu_device" in res else None)):
            if dev is None:
                continue
            sec, rec = time_to_answer(dev, args.duc_n, name)
            res[f"{name}_time_to_answer_{label}"] = dict(seconds=sec, n=args.duc_n, exosome_recovery=rec,
                                                         particles_per_s=args.duc_n / sec)
    if not args.no_startup:
        res["startup"] = startup.measure()
    if args.reference:
        res["reference"] = run_reference(args.reference)

    print(f"machine: {res['machine']}")
    print(f"case: {res['case']}; pelleted without diffusion (closed form): {res['analytic_pelleted_no_diffusion']:.4f}")
    print(f"{'kernel':48s} {'particle-steps/s':>16s} {'seconds':>9s} {'pelleted':>9s}")
    for name, rate, sec, pel in rows:
        print(f"{name:48s} {rate:16.3e} {sec:9.3f} {pel:9.4f}")
    print(f"CPU kernel per core / numpy baseline per core: {res['cpu_per_core_vs_numpy']:.2f}x")
    print(f"dguc_iodixanol planning (Lamm solution of the medium): {res['dguc_plan_seconds']:.2f} s")
    for key in ("duc_time_to_answer_cpu", "duc_time_to_answer_cuda", "dguc_time_to_answer_cpu",
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
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
