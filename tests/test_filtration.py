"""Dead-end filtration (exosim/methods/filtration.py, kernels/filtration.py) against results known without exosim:
hindered transport of rigid spheres through uniform cylindrical pores (Dechadilok & Deen 2006), Hermia's
constant-pressure laws for complete blocking and for cake filtration, batch-size independence, CPU against CUDA,
bookkeeping, and bad input.

Expected values are computed here from the papers' formulas and the test's own Hagen-Poiseuille and
Kozeny-Carman expressions. Tolerances: 5 binomial standard errors for shares; for flux curves, the Monte Carlo
spread of the number of closed pores or of the cake plus the stated first-order error of the batch scheme.
"""
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import exosim
from exosim.cli import app
from exosim.config import Protocol, Sample, load_media, load_membranes, load_rotors
from exosim.engine import run_protocol
from exosim.kernels import filtration as KF

KB = 1.380649e-23
TEMP = 293.15
ETA_W20 = 1.0016e-3                         # water at 20 degC [Pa s] (IAPWS 2008)
ETA = ETA_W20 * 1.02                        # PBS: water x 1.02 (configs/media/pbs.yaml)
ROTORS, MEDIA = load_rotors(), load_media()


def membrane_file(tmp_path, diameter="100 nm", gsd=1.0, density="3e8 /cm**2", thickness="6 um"):
    path = tmp_path / "m.yaml"
    path.write_text(f"name: test membrane\nkind: track_etch\npore_diameter: {diameter}\npore_gsd: {gsd}\n"
                    f"pore_density: {density}\nthickness: {thickness}\nmax_pressure: 5 bar\n")
    return str(path)


def sample(pops, volume="10 mL"):
    return Sample.model_validate({"name": "s", "volume": volume, "medium": "PBS", "populations": pops},
                                 context={"media": MEDIA})


def protocol(step):
    return Protocol.model_validate({"name": "f", "temperature": "20 degC", "steps": [step]},
                                   context={"rotors": ROTORS, "media": MEDIA, "membranes": load_membranes()})


# ---------------------------------------------------------------- the test's own physics
def phi_kc(lam):
    """Asymptotic sieving Phi K_c of a sphere in a cylindrical pore (Dechadilok & Deen 2006, eqs. 16 and the
    partition (1 - lambda)^2)."""
    kc = (1 + 3.867 * lam - 1.907 * lam ** 2 - 0.834 * lam ** 3) / (1 + 1.867 * lam - 0.741 * lam ** 2)
    return (1 - lam) ** 2 * kc


def pore_flow(r, dp, eta, length):
    """Hagen-Poiseuille flow through one pore [m^3/s]."""
    return math.pi * r ** 4 * dp / (8 * eta * length)


def test_hindrance_factors_limits_and_published_values():
    assert KF.partition(0.0) == 1.0 and KF.partition(1.0) == 0.0 and KF.partition(0.5) == 0.25
    assert KF.hindrance_convective(0.0) == pytest.approx(1.0)
    assert KF.hindrance_diffusive(1e-9) == pytest.approx(1.0, abs=1e-6)
    # Dechadilok & Deen 2006 fits at lambda = 0.5 (their eqs. 16-17, evaluated independently here)
    lam = 0.5
    kd = (1 + 9 / 8 * lam * math.log(lam) - 1.56034 * lam + 0.528155 * lam ** 2 + 1.91521 * lam ** 3
          - 2.81903 * lam ** 4 + 0.270788 * lam ** 5 + 1.10115 * lam ** 6 - 0.435933 * lam ** 7)
    assert KF.hindrance_diffusive(lam) == pytest.approx(kd, rel=1e-12)
    assert KF.sieving_coefficient(lam, 1e6) == pytest.approx(phi_kc(lam), rel=1e-12)
    # diffusion-dominated limit: Pe -> 0 gives S -> 1 (Deen 1987)
    assert KF.sieving_coefficient(lam, 1e-14) == pytest.approx(1.0)
    # intermediate Pe: S = S_inf e^Pe / (S_inf + e^Pe - 1), Pe = factor K_c / K_d
    kc = phi_kc(lam) / (1 - lam) ** 2
    pe = 1.0 * kc / kd
    s_inf = phi_kc(lam)
    assert KF.sieving_coefficient(lam, 1.0) == pytest.approx(s_inf * math.exp(pe) / (s_inf + math.exp(pe) - 1))


def test_rigid_spheres_pass_uniform_pores_by_partition_and_hindered_convection(tmp_path):
    """Uniform 100-nm pores, dilute 30- and 60-nm rigid spheres (lambda 0.3, 0.6), high membrane Peclet number:
    the filtrate holds (filtered share of the feed) x Phi K_c of each; nothing plugs, nothing forms a cake."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "small", "target": True, "concentration": "1e6 /mL", "diameter": "30 nm", "density": "1.05 g/mL"},
            {"name": "mid", "concentration": "1e6 /mL", "diameter": "60 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.3 bar", "hold_up": "1 mL"}
    n = 40_000
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=n, seed=4, device=exosim.CPU())
    share = 9.0 / 10.0
    for name, lam in (("small", 0.3), ("mid", 0.6)):
        expected = share * phi_kc(lam)
        se = math.sqrt(expected * (1 - expected) / (n / 2))
        assert float(ds.recovery.sel(population=name)) == pytest.approx(expected, abs=5 * se)
    assert float(ds.fate_count.sel(step=0, place="membrane_bound").sum()) == 0.0
    assert float(ds.filtered_volume[0]) == pytest.approx(9e-6)


def blocking_run(tmp_path, batches, conc="1e8 /mL", n=20_000, seed=2):
    """Uniform 100-nm pores; 300-nm rigid particles plug every pore they meet (complete blocking)."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "big", "target": True, "concentration": conc, "diameter": "300 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "1 cm**2", "pressure": "0.2 bar", "stop_flux": "0.1 %",
            "batches": batches}
    run = run_protocol(protocol(step), sample(pops), n_particles=n, seed=seed, device=exosim.CPU())
    return run.steps[0].extra


@pytest.mark.parametrize("batches", [64, 256])
def test_complete_blocking_follows_hermia(tmp_path, batches):
    """Hermia's complete blocking at constant pressure: every arriving particle closes one open pore, so
    J = J0 exp(-c q t), c the particles' number concentration and q one pore's flow. J0 = N q / A."""
    e = blocking_run(tmp_path, batches)
    r, length, dp = 50e-9, 6e-6, 0.2e5
    q = pore_flow(r, dp, ETA, length)
    j0 = 3e12 * q                                   # pores per m^2 x flow per pore
    # exosim's water viscosity (Vogel fit, physics/media.py) is within 0.3 % of IAPWS at 20 degC
    assert e["flux"][0] == pytest.approx(j0, rel=0.005)
    c = 1e8 * 1e6                                   # 1e8 /mL in 1/m^3
    t, j = e["flux_time"], e["flux"]
    sel = (j / j0 > 0.05) & (t > 0)
    assert sel.sum() > 10
    expected = np.exp(-c * q * t[sel])
    # tolerance: the share x = 1 - J/J0 of closed pores carries two binomial spreads, of the closures among the
    # 65,536 simulated pores and of the simulation particles that have arrived (20,000 in all): sd^2 =
    # x (1 - x) (1/M + 1/n); plus the batch scheme's time, a trapezoid rule on 1/J ~ 1/(1 - V/V_max), second order,
    # below 0.5 % of J here
    x = 1 - expected
    sd = np.sqrt(x * (1 - x) * (1 / 65536 + 1 / 20_000))
    err = np.abs(j[sel] / j0 - expected)
    assert np.all(err <= 5 * sd + 0.005 * expected), np.c_[j[sel] / j0, expected, err / sd][:12]
    # and the curve's fitted Hermia exponent is complete blocking's 2
    from exosim.plot import hermia_exponent
    assert hermia_exponent(t[j / j0 > 0.05], j[j / j0 > 0.05]) == pytest.approx(2.0, abs=0.1)


def test_batch_size_does_not_change_the_blocking_curve(tmp_path):
    """The flux after the same filtrate volumes, with 64 and with 512 batches (every 8th point of the second),
    while the flux is above 2 % of its start: equal within the Monte Carlo spread and the batch error above."""
    a, b = blocking_run(tmp_path, 64), blocking_run(tmp_path, 512)
    ja, jb = a["flux"], b["flux"][::8]
    k = min(len(ja), len(jb))
    sel = ja[:k] / ja[0] > 0.02
    assert sel.sum() > 10
    # the same particles arrive (same seed) but pores close by independent draws in each run: the closed shares
    # differ by at most 5 sd, sd^2 = 2 x (1 - x) / M (65,536 pores)
    x = 1 - ja[:k][sel] / ja[0]
    assert np.all(np.abs(ja[:k][sel] - jb[:k][sel]) / ja[0] <= 5 * np.sqrt(2 * x * (1 - x) / 65536) + 1e-3)


def test_cake_filtration_follows_hermia(tmp_path):
    """Particles just smaller than uniform pores (lambda 0.98: partition 4e-4, so all are retained, none plugs)
    and large enough to settle into a cake (J d / D >> 1): the cake's Kozeny-Carman resistance grows in
    proportion to the filtrate volume V, so t(V) = eta (R_m V + beta V^2 / 2) / (dP A) (Hermia's cake law,
    J = J0 (1 + 2 K_c J0^2 t)^(-1/2)); beta = c 180 (1 - eps) (pi d^3 / 6) / (eps^3 d^2 A)."""
    mem = membrane_file(tmp_path, diameter="1 um", density="2e7 /cm**2", thickness="10 um")
    d = 0.98e-6
    pops = [{"name": "cake", "target": True, "concentration": "2e8 /mL", "diameter": "0.98 um",
             "density": "1.05 g/mL"}]
    area, dp = 1e-4, 0.1e5
    step = {"kind": "filter", "membrane": mem, "area": "1 cm**2", "pressure": "0.1 bar", "hold_up": "0.5 mL",
            "batches": 256}
    n = 20_000
    e = run_protocol(protocol(step), sample(pops), n_particles=n, seed=3, device=exosim.CPU()).steps[0].extra
    assert not e["stopped"]
    r_m = 8 * 10e-6 / (2e11 * math.pi * 0.5e-6 ** 4)     # 8 L / (N pi r^4) [1/m]
    eps = 0.4
    c = 2e8 * 1e6
    beta = c * 180 * (1 - eps) * (math.pi * d ** 3 / 6) / (eps ** 3 * d ** 2 * area)
    dv = 9.5e-6 / 256
    v = np.arange(len(e["flux_time"])) * dv
    t_exact = ETA * (r_m * v + beta * v ** 2 / 2) / (dp * area)
    assert t_exact[-1] > 3 * ETA * r_m * v[-1] / (dp * area)    # the cake dominates by the end
    # tolerance: the batch scheme holds the resistance of each batch's start (a left Riemann sum): at most one
    # batch's cake increment over the whole volume, eta beta dV V / (dP A); the cake's Monte Carlo spread: the
    # arrivals are a binomial share of n particles (relative sd sqrt((1 - p) / (n p)), p = V / V_in)
    p = np.clip(v / 10e-6, 1e-9, 1)
    tol = ETA * beta * dv * v / (dp * area) + 5 * np.sqrt((1 - p) / (n * p)) * ETA * beta * v ** 2 / (2 * dp * area)
    err = np.abs(e["flux_time"] - t_exact)
    assert np.all(err[1:] <= tol[1:] + 1e-9), (err[1:] / tol[1:]).max()
    # the fitted Hermia exponent of a cake-dominated curve is near cake's 0 (the clean membrane's share of the
    # resistance bends it a little toward larger n at the start)
    from exosim.plot import hermia_exponent
    late = v > 0.3 * v[-1]
    assert hermia_exponent(e["flux_time"][late], e["flux"][late]) == pytest.approx(0.0, abs=0.15)


def test_every_particle_is_booked_and_keep_retentate(tmp_path):
    """Keeping the retentate: what passed is filtrate_discarded, plugged particles membrane_bound, the rest product;
    the places add up to the input."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "big", "target": True, "concentration": "1e7 /mL", "diameter": "300 nm", "density": "1.05 g/mL"},
            {"name": "small", "concentration": "1e9 /mL", "diameter": "20 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.3 bar", "keep": "retentate",
            "hold_up": "0.5 mL"}
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=4000, seed=1, device=exosim.CPU(),
                         keep_particles=True)
    fc = ds.fate_count.sel(step=0)
    np.testing.assert_allclose(fc.sum("place").values, ds.input_count.values, rtol=1e-12)
    assert float(fc.sel(place="filtrate_discarded", population="big")) == 0.0
    assert float(fc.sel(place="membrane_bound", population="small")) == 0.0
    assert float(fc.sel(place="filtrate_discarded", population="small")) > 0.5 * float(ds.input_count[1])
    assert float(ds.process_time) > 0 and float(ds.step_time[0]) == float(ds.process_time)


def test_cpu_and_cuda_give_the_same_fates(tmp_path):
    from conftest import cuda_device
    dev = cuda_device()
    mem = membrane_file(tmp_path, gsd=1.3)
    pops = [{"name": "ev", "target": True, "concentration": "1e9 /mL",
             "diameter": {"lognormal": {"median": "90 nm", "gsd": 1.4}, "min": "30 nm", "max": "400 nm"},
             "density": "1.10 g/mL",
             "mechanics": {"reduced_volume": {"uniform": {"min": 0.7, "max": 1.0}},
                           "lysis_tension": {"normal": {"mean": "5 mN/m", "sd": "1 mN/m"}, "min": "2 mN/m"}}},
            {"name": "protein", "concentration": "1e12 /mL", "diameter": "8 nm", "density": "1.35 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "1 cm**2", "pressure": "0.3 bar", "batches": 16,
            "pore_deposition": "5 %"}
    ref = exosim.simulate(protocol(step), sample(pops, "1 mL"), n_particles=64, seed=9, device=exosim.CPU(precision=64),
                          keep_particles=True)
    got = exosim.simulate(protocol(step), sample(pops, "1 mL"), n_particles=64, seed=9, device=dev,
                          keep_particles=True)
    np.testing.assert_array_equal(got.particle_fate.values, ref.particle_fate.values)
    np.testing.assert_array_equal(got.filtration_flux.values, ref.filtration_flux.values)


@pytest.mark.parametrize("edit, field, words", [
    ({"pressure": "9 bar"}, "steps[0].pressure", "rating"),
    ({"hold_up": "20 mL"}, "steps[0].hold_up", "nothing to filter"),
    ({"membrane": "no such membrane"}, "steps[0].membrane", "unknown membrane"),
    ({"pressure": None, "flux": None}, "steps[0]", "exactly one of pressure, flux and rcf"),
    ({"pressure": None, "flux": "50 L/m**2/h", "stop_flux": "5 %"}, "steps[0].stop_flux", "constant-flux"),
    ({"device": "stirred"}, "steps[0].device", "stir_speed"),
    ({"device": "centrifugal"}, "steps[0].device", "rcf"),
    ({"pressure": None, "rcf": "1000 g", "head": "3 cm"}, "steps[0].hold_up", "dead stop"),
    ({"adsorption": "150 %"}, "steps[0].adsorption", "at most 100 %"),
])
def test_bad_filter_steps(tmp_path, edit, field, words):
    import yaml
    step = {"kind": "filter", "membrane": "PCTE 100 nm", "area": "4.9 cm**2", "pressure": "0.3 bar"}
    step.update({k: v for k, v in edit.items() if v is not None})
    for k, v in edit.items():
        if v is None:
            step.pop(k, None)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "steps": [step]}))
    r = CliRunner().invoke(app, ["plan", str(path), "--sample", "msc_conditioned_medium"])
    assert r.exit_code == 2, r.output
    assert field in r.output and words in r.output, r.output


def test_bad_membrane_files(tmp_path):
    bad_mwco = tmp_path / "uf.yaml"
    bad_mwco.write_text("name: uf\nkind: polymeric\nmwco: 100\npermeability: 500 L/m**2/h/bar\nthickness: 1 um\n"
                        "max_pressure: 3 bar\n")
    bad_pore = tmp_path / "te.yaml"
    bad_pore.write_text("name: te\nkind: track_etch\npore_diameter: 0 nm\npore_density: 3e8 /cm**2\n"
                        "thickness: 6 um\nmax_pressure: 3 bar\n")
    crowded = tmp_path / "crowded.yaml"      # 3e10 pores/cm2 of 100 nm: 236 % open area
    crowded.write_text("name: crowded\nkind: track_etch\npore_diameter: 100 nm\npore_density: 3e10 /cm**2\n"
                       "thickness: 6 um\nmax_pressure: 3 bar\n")
    for f, field in ((bad_mwco, "mwco"), (bad_pore, "pore_diameter"), (crowded, "pore_density")):
        path = tmp_path / "p.yaml"
        path.write_text(f"name: p\nsteps:\n  - {{kind: filter, membrane: {f}, area: 1 cm**2, pressure: 0.1 bar}}\n")
        r = CliRunner().invoke(app, ["plan", str(path), "--sample", "msc_conditioned_medium"])
        assert r.exit_code == 2 and field in r.output and str(f) in r.output, r.output


# ---------------------------------------------------------------- deformable vesicles
def test_critical_pressure_scales_as_three_halves_near_threshold_and_as_laplace_far():
    tau, kappa, r_p = 1e-3, 60e-21, 50e-9
    ell = math.sqrt(kappa / tau)
    x = np.array([1e-4, 2e-4]) * ell
    p = [KF.critical_pressure(r_p + xi, r_p, tau, kappa) for xi in x]
    assert math.log(p[1] / p[0]) / math.log(2.0) == pytest.approx(1.5, abs=0.01)
    far = 1000 * ell
    laplace = 2 * tau * (1 / r_p - 1 / (r_p + far))
    assert KF.critical_pressure(r_p + far, r_p, tau, kappa) == pytest.approx(laplace, rel=1e-3)
    assert KF.critical_pressure(r_p * 0.9, r_p, tau, kappa) == 0.0


def entry_tension(d, v, kappa, k_area, r_p):
    """The test's own derivation: a vesicle of area pi d^2 and volume v pi d^3 / 6 entering a pore of radius r_p
    as a spherocylinder (area 2 V / r_p + 4/3 pi r_p^2 for volume V) stretches by the missing area; bending the
    cylinder costs kappa / (2 r_p^2) of tension."""
    area, vol = math.pi * d ** 2, v * math.pi * d ** 3 / 6
    need = 2 * vol / r_p + 4 / 3 * math.pi * r_p ** 2
    return kappa / (2 * r_p ** 2) + k_area * max(0.0, need / area - 1)


def vesicle_filter(tmp_path, pressure_pa, v, d="150 nm", lysis="5 mN/m", n=3000):
    mem = membrane_file(tmp_path)
    pops = [{"name": "ev", "target": True, "concentration": "1e6 /mL", "diameter": d, "density": "1.10 g/mL",
             "mechanics": {"reduced_volume": v, "bending_modulus": "60 zJ", "lysis_tension": lysis}}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": f"{pressure_pa} Pa",
            "hold_up": "1 mL"}
    return exosim.simulate(protocol(step), sample(pops), n_particles=n, seed=6, device=exosim.CPU())


def test_soft_vesicle_passes_above_its_critical_pressure_and_not_below(tmp_path):
    """150-nm vesicles of reduced volume 0.85 (enough area to line a 100-nm pore without stretching) at 100-nm
    pores: the tension they need is bending only; below the critical pressure they all stay in the pore mouths,
    above it every one that reaches the membrane passes (the filtered share 9/10)."""
    d, v, kappa, r_p = 150e-9, 0.85, 60e-21, 50e-9
    tau = entry_tension(d, v, kappa, 0.24, r_p)
    assert tau == pytest.approx(kappa / (2 * r_p ** 2))           # no stretching needed
    r_v = d / 2 * v ** (1 / 3)
    x, ell = r_v - r_p, math.sqrt(kappa / tau)
    p_c = 2 * tau * (1 / r_p - 1 / r_v) * math.sqrt(x / (x + ell))
    above = vesicle_filter(tmp_path, 1.5 * p_c, v)
    assert float(above.recovery[0]) == pytest.approx(0.9, abs=5 * math.sqrt(0.09 / 3000))
    below = vesicle_filter(tmp_path, 0.67 * p_c, v)
    assert float(below.recovery[0]) == 0.0
    assert float(below.fate_count.sel(step=0, place="membrane_bound")[0]) > 0


def test_taut_vesicle_ruptures_instead_of_passing(tmp_path):
    """A taut sphere (v = 1) of 150 nm must stretch its membrane by ~15 % to line a 100-nm pore, beyond lysis
    (5 mN/m / 240 mN/m = 2 %): above the critical pressure at the lysis tension it ruptures (damaged), below it
    stays in the pore; none passes either way."""
    d, r_p, kappa = 150e-9, 50e-9, 60e-21
    assert entry_tension(d, 1.0, kappa, 0.24, r_p) > 5e-3
    r_v, tau = d / 2, 5e-3
    x, ell = r_v - r_p, math.sqrt(kappa / tau)
    p_lys = 2 * tau * (1 / r_p - 1 / r_v) * math.sqrt(x / (x + ell))
    hard = vesicle_filter(tmp_path, 1.5 * p_lys, "1.0")
    assert float(hard.recovery[0]) == 0.0
    damaged = float(hard.fate_count.sel(step=0, place="damaged")[0] / hard.input_count[0])
    assert damaged == pytest.approx(0.9, abs=5 * math.sqrt(0.09 / 3000))
    soft = vesicle_filter(tmp_path, 0.67 * p_lys, "1.0")
    assert float(soft.fate_count.sel(step=0, place="damaged")[0]) == 0.0


@pytest.mark.parametrize("law, n", [("complete", 2.0), ("standard", 1.5), ("intermediate", 1.0), ("cake", 0.0)])
def test_hermia_exponent_of_exact_flux_laws(law, n):
    """The plot's fit recovers n from Hermia's constant-pressure flux laws (docs/reference/physics.md)."""
    from exosim.plot import hermia_exponent
    j0, k = 1e-4, 1e-3
    t = np.linspace(0, 2000, 400)
    j = {"complete": j0 * np.exp(-k * t), "standard": j0 * (1 + 0.5 * k * 100 * math.sqrt(j0) * t) ** -2,
         "intermediate": j0 / (1 + 10 * j0 * t), "cake": j0 / np.sqrt(1 + 2 * 1e5 * j0 ** 2 * t)}[law]
    assert hermia_exponent(t, j) == pytest.approx(n, abs=0.02)


def test_plot_draws_the_flux_figure(tmp_path):
    out = tmp_path / "r.h5"
    r = CliRunner().invoke(app, ["run", "sequential_filtration", "--sample", "msc_conditioned_medium", "-n", "400",
                                 "--backend", "cpu", "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["plot", str(out)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r_flux.png").stat().st_size > 10_000


def test_pores_are_met_in_proportion_to_their_flow(tmp_path):
    """Lognormal pores (median 100 nm, gsd 1.3, truncated at 3 sd) and dilute 60-nm rigid spheres: a particle meets
    pore radius r with the flow weight r^4 of the truncated lognormal and passes with Phi K_c (Pe >> 1), so the
    filtrate holds (filtered share) x E_flow[Phi K_c(a / r)]. Computed here by quadrature; weighting by r^2 or by
    number instead of r^4 would give 0.31 or 0.22 instead of 0.39 (times the filtered share)."""
    from scipy import integrate
    mem = membrane_file(tmp_path, gsd=1.3)
    pops = [{"name": "p", "target": True, "concentration": "1e6 /mL", "diameter": "60 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.5 bar", "hold_up": "1 mL"}
    n = 20_000
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=n, seed=8, device=exosim.CPU())
    s = math.log(1.3)

    def weight(z, power):
        r = 50e-9 * math.exp(s * z)
        return math.exp(-0.5 * z * z) * r ** power

    def passing(z, power):
        lam = 30e-9 / (50e-9 * math.exp(s * z))
        return weight(z, power) * (phi_kc(lam) if lam < 1 else 0.0)

    mean = {p: integrate.quad(passing, -3, 3, args=(p,), points=[0.0])[0] / integrate.quad(weight, -3, 3, args=(p,))[0]
            for p in (0, 2, 4)}
    expected = 0.9 * mean[4]
    se = math.sqrt(expected * (1 - expected) / n)
    assert float(ds.recovery[0]) == pytest.approx(expected, abs=5 * se)
    assert abs(0.9 * mean[2] - expected) > 10 * se and abs(0.9 * mean[0] - expected) > 10 * se


def test_constant_flux_cake_raises_the_pressure_linearly(tmp_path):
    """At constant flux a growing cake raises the pressure linearly in the filtrate volume:
    dP = eta J (R_m + beta V) (the cake law of the pressure test above, at fixed J)."""
    mem = membrane_file(tmp_path, diameter="1 um", density="2e7 /cm**2", thickness="10 um")
    d, area, flux = 0.98e-6, 1e-4, 1e-4
    pops = [{"name": "cake", "target": True, "concentration": "2e8 /mL", "diameter": "0.98 um",
             "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "1 cm**2", "flux": f"{flux} m/s", "hold_up": "0.5 mL",
            "batches": 128}
    n = 20_000
    e = run_protocol(protocol(step), sample(pops), n_particles=n, seed=5, device=exosim.CPU()).steps[0].extra
    r_m = 8 * 10e-6 / (2e11 * math.pi * 0.5e-6 ** 4)
    eps, c = 0.4, 2e8 * 1e6
    beta = c * 180 * (1 - eps) * (math.pi * d ** 3 / 6) / (eps ** 3 * d ** 2 * area)
    v = np.arange(len(e["pressure"])) * 9.5e-6 / 128
    expected = ETA * flux * (r_m + beta * v)
    p = np.clip(v / 10e-6, 1e-9, 1)
    tol = 5 * np.sqrt((1 - p) / (n * p)) * ETA * flux * beta * v + 0.003 * expected
    assert np.all(np.abs(e["pressure"] - expected)[1:] <= tol[1:])
    np.testing.assert_allclose(e["flux_time"], v / (flux * area), rtol=1e-12)


def test_centrifugal_concentrator_time_follows_the_falling_head(tmp_path):
    """A concentrator whose feed only holds particles that pass freely: the pressure rho a h falls with the feed
    volume, so J = J0 V / V_in and the time to go from V_in to V_end is V_in / (J0 A) ln(V_in / V_end)."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "salt", "target": True, "concentration": "1e6 /mL", "diameter": "2 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "2 cm**2", "rcf": "2000 g", "head": "2 cm", "keep": "retentate",
            "hold_up": "1 mL"}
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=2000, seed=1, device=exosim.CPU())
    rho = 998.21 + 6.8                               # PBS at 20 degC: water (Tanaka 2001) plus its offset
    dp0 = rho * 2000 * 9.80665 * 0.02
    j0 = 3e12 * pore_flow(50e-9, dp0, ETA, 6e-6)
    expected = 10e-6 / (j0 * 2e-4) * math.log(10.0)
    # trapezoid rule over 256 batches of a 1/V integrand: second order, well below 0.1 %; viscosity fit 0.3 %
    assert float(ds.process_time) == pytest.approx(expected, rel=0.005)
    assert float(ds.filtration_pressure[0, 0]) == pytest.approx(dp0, rel=1e-5)   # water 998.207 at 20 degC


# ---------------------------------------------------------------- where retained material ends
def test_particles_larger_than_the_pore_pitch_stay_in_the_retentate(tmp_path):
    """2-um rigid particles on 100-nm pores 577 nm apart (3e8 /cm2) rest on several pores: they build a deposit
    that the retentate takes back, and seal no pore; 300-nm ones (between the pore and the pitch) seal pores."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "big", "target": True, "concentration": "1e5 /mL", "diameter": "2 um", "density": "1.05 g/mL"},
            {"name": "sealer", "concentration": "1e5 /mL", "diameter": "300 nm", "density": "1.05 g/mL"},
            {"name": "above pitch", "concentration": "1e5 /mL", "diameter": "800 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.3 bar", "keep": "retentate",
            "hold_up": "0.1 mL"}
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=4000, seed=2, device=exosim.CPU())
    fc = ds.fate_count.sel(step=0)
    for name in ("big", "above pitch"):     # 2 um and 800 nm: both wider than the 577-nm pitch
        assert float(fc.sel(place="membrane_bound", population=name)) == 0.0
        assert float(ds.recovery.sel(population=name)) == 1.0
    arrived = 9.9 / 10.0
    n_pop = 4000 // 3
    assert float(fc.sel(place="membrane_bound", population="sealer")) / float(ds.input_count[1]) == \
        pytest.approx(arrived, abs=5 * math.sqrt(arrived * (1 - arrived) / n_pop) + 1e-9)


def test_adsorption_share_of_retained_vesicles(tmp_path):
    """adsorption 30 %: of the retained vesicles (2 um, larger than the pitch) 30 % are lost on the membrane
    (binomial, 4 SE); rigid particles never adsorb."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "ev", "target": True, "concentration": "1e5 /mL", "diameter": "2 um", "density": "1.05 g/mL",
             "mechanics": {"reduced_volume": 1.0}},
            {"name": "bead", "concentration": "1e5 /mL", "diameter": "2 um", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.1 bar", "keep": "retentate",
            "hold_up": "0.1 mL", "adsorption": "30 %"}
    n = 8000
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=n, seed=5, device=exosim.CPU())
    fc = ds.fate_count.sel(step=0) / ds.weight
    expected = 0.3 * 9.9 / 10.0
    got = float(fc.sel(place="membrane_bound", population="ev")) / (n / 2)
    assert got == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / (n / 2)))
    assert float(fc.sel(place="membrane_bound", population="bead")) == 0.0


def test_stirred_cell_concentrates_by_the_polarised_sieving(tmp_path):
    """A stirred cell (well mixed: every filtrate volume takes dV / V of the cell to the membrane) concentrating
    10 mL to 1 mL: a dilute species of observed sieving S keeps 10^(-S); S from hindered convection at uniform
    100-nm pores, polarised by the film model at the clean flux with the stirred-cell mass transfer
    k = 0.23 (omega r^2 / nu)^0.567 (nu / D)^0.33 D / r (Smith, Colton, Merrill & Evans 1968)."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "solute", "target": True, "concentration": "1e6 /mL", "diameter": "40 nm",
             "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "0.02 bar", "keep": "retentate",
            "hold_up": "1 mL", "device": "stirred", "stir_speed": "300 rpm", "cell_radius": "1.25 cm"}
    n = 20_000
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=n, seed=6, device=exosim.CPU())
    lam = 20e-9 / 50e-9
    s_inf = phi_kc(lam)           # Pe = K_c v L / (K_d D) >> 1 at 0.02 bar through 6-um pores (about 20)
    rho = 998.21 + 6.8
    nu = ETA / rho
    omega = 300 * 2 * math.pi / 60
    d_coef = KB * TEMP / (3 * math.pi * ETA * 40e-9)
    k = 0.23 * (omega * 0.0125 ** 2 / nu) ** 0.567 * (nu / d_coef) ** 0.33 * d_coef / 0.0125
    flux = 3e12 * pore_flow(50e-9, 0.02e5, ETA, 6e-6)
    e = math.exp(flux / k)
    s_obs = s_inf * e / (1 - s_inf + s_inf * e)
    expected = 10.0 ** (-s_obs)
    got = float(ds.recovery.sel(population="solute"))
    # the 16 steps in ln V are exact for a constant flux; Pe ~ 20 makes S 1e-9 from S_inf
    assert got == pytest.approx(expected, abs=5 * math.sqrt(expected * (1 - expected) / n))
    assert float(ds.product_volume) == pytest.approx(1e-6)


def test_stop_time_ends_a_concentrator_early(tmp_path):
    """stop_time: the spin ends there; what was not filtered stays in the retentate (product volume above the
    hold-up), and the run says so."""
    pops = [{"name": "ev", "target": True, "concentration": "1e9 /mL", "diameter": "100 nm", "density": "1.10 g/mL"},
            {"name": "albumin", "concentration": "1 mg/mL", "molecular_weight": "66.5 kDa", "diameter": "7.1 nm",
             "density": "1.36 g/mL"}]
    step = {"kind": "filter", "membrane": "RC 100 kDa", "area": "7.6 cm**2", "rcf": "4000 g", "head": "3 cm",
            "keep": "retentate", "hold_up": "250 uL", "stop_time": "1 min"}
    run = exosim.engine.run_protocol(protocol(step), sample(pops), n_particles=2000, seed=1, device=exosim.CPU())
    extra = run.steps[0].extra
    assert extra["process_time"] == pytest.approx(60.0)
    assert extra["volume_out"] > 1e-6 and "stop_time" in extra["warnings"][0]


def truncated_lognormal_r4(r_med, gsd):
    """<r^4> of lognormal radii truncated at +-3 geometric sd, by quadrature (number weights)."""
    from scipy import integrate
    s = math.log(gsd)
    pdf = lambda z: math.exp(-0.5 * z * z)  # noqa: E731
    num = integrate.quad(lambda z: pdf(z) * (r_med * math.exp(s * z)) ** 4, -3, 3)[0]
    return num / integrate.quad(pdf, -3, 3)[0]


@pytest.mark.parametrize("kind", ["filter", "tff"])
def test_clean_flux_of_a_pore_distribution(tmp_path, kind):
    """A dilute feed through track-etched pores of median 100 nm, gsd 1.3: the first flux is
    N pi <r^4> dP / (8 eta L) with the truncated lognormal's <r^4> (the mean of r^4, not the median's fourth power:
    1.30x larger here). The dead-end patch samples 65,536 pores: <r^4> of the sample spreads by about 0.5 %."""
    mem = membrane_file(tmp_path, gsd=1.3)
    pops = [{"name": "salt", "target": True, "concentration": "1e6 /mL", "diameter": "2 nm", "density": "1.05 g/mL"}]
    if kind == "filter":
        step = {"kind": "filter", "membrane": mem, "area": "4.9 cm**2", "pressure": "30 kPa", "hold_up": "1 mL"}
        tol = 0.02
    else:
        step = {"kind": "tff", "membrane": mem, "area": "4.9 cm**2", "pressure": "30 kPa", "concentrate": 2}
        tol = 0.004     # exosim's water viscosity (Vogel fit) is within 0.3 % of IAPWS at 20 degC
    ds = exosim.simulate(protocol(step), sample(pops), n_particles=500, seed=1, device=exosim.CPU())
    j0 = 3e12 * math.pi * truncated_lognormal_r4(50e-9, 1.3) * 0.3e5 / (8 * ETA * 6e-6)
    assert float(ds.filtration_flux[0, 0]) == pytest.approx(j0, rel=tol)
    assert float(ds.filtration_pressure[0, 0]) == pytest.approx(0.3e5)


def test_stop_time_ends_an_unstirred_filtration(tmp_path):
    """stop_time in an unstirred cell: checked between batches of arrivals, so the run ends within one batch's time
    after it (here 128 batches of 9/128 mL, about 6 s each at the clean flux of uniform 100-nm pores), with a warning."""
    mem = membrane_file(tmp_path)
    pops = [{"name": "salt", "target": True, "concentration": "1e6 /mL", "diameter": "2 nm", "density": "1.05 g/mL"}]
    step = {"kind": "filter", "membrane": mem, "area": "1 cm**2", "pressure": "1 bar", "hold_up": "1 mL",
            "batches": 128, "stop_time": "10 s"}
    run = exosim.engine.run_protocol(protocol(step), sample(pops), n_particles=1000, seed=1, device=exosim.CPU())
    extra = run.steps[0].extra
    batch_time = 9e-6 / 128 / (3e12 * pore_flow(50e-9, 1e5, ETA, 6e-6) * 1e-4)     # about 6 s
    assert batch_time < 10.0
    assert 10.0 <= extra["process_time"] < 10.0 + batch_time * 1.01
    assert extra["filtered_volume"] < 9e-6 and "stop_time" in extra["warnings"][0]
