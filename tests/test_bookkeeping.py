"""Where every particle is booked (product, supernatant_discarded, pellet_discarded, wall_loss) in scenarios whose
answer is known without exosim: particles that certainly pellet, particles that certainly stay where they start
(no Brownian motion, rotor at 10 rpm), residual layers as volume fractions, wall losses as Bernoulli draws.

Each place is checked on its own, not only the sum. Tolerances: 5 binomial standard errors sqrt(p (1 - p) / n);
places whose expected share is exactly 0 or 1 are checked exactly.
"""
import math

import numpy as np
import pytest

import yaml

import exosim
from exosim.config import CONFIG_ROOT, Protocol, Sample, load_media, load_rotors

ROTORS, MEDIA = load_rotors(), load_media()
PLACES = ("product", "supernatant_discarded", "pellet_discarded", "wall_loss")

# SW 41 Ti from configs/rotors.yaml, read here: radii [m] and tube volume [m^3]
_SW41 = next(r for r in yaml.safe_load((CONFIG_ROOT / "rotors.yaml").read_text())["rotors"] if r["name"] == "SW 41 Ti")
R_MIN, R_AVG, R_MAX = (float(_SW41[k].split()[0]) * 1e-3 for k in ("r_min", "r_avg", "r_max"))
TUBE = float(_SW41["tube_volume"].split()[0]) * 1e-6
# PBS at 4 degC (the protocols' default temperature): water 999.975 kg/m^3 and 1.5673 mPa s (IAPWS-95, IAPWS 2008
# at 101.325 kPa) with the offset and factor of configs/media/pbs.yaml
_PBS = yaml.safe_load((CONFIG_ROOT / "media" / "pbs.yaml").read_text())
RHO_PBS = 999.975 + float(_PBS["density_offset"].split()[0]) * 1e3
ETA_PBS = 1.5673e-3 * float(_PBS["viscosity_factor"])
G0 = 9.80665  # m/s^2: the g of an rcf


def split(d, rho_p, omega, seconds, liquid, residual):
    """Deterministic sedimentation (no Brownian motion) in an SW 41 Ti tube holding ``liquid`` [m^3] with
    ``residual`` [m^3] left over the pellet: (pelleted, residual layer, supernatant) shares of a uniform start.
    A particle from r0 ends at r0 exp(s omega^2 t) (s by Stokes: d^2 (rho_p - rho_m) / (18 eta)); the tube has a
    constant cross-section, so a volume V below the meniscus is the length (r_max - r_min) V / tube_volume."""
    s = d * d * (rho_p - RHO_PBS) / (18.0 * ETA_PBS)
    shrink = math.exp(-s * omega ** 2 * seconds)
    r_men = R_MAX - (R_MAX - R_MIN) * liquid / TUBE
    r_res = R_MAX - (R_MAX - R_MIN) * residual / TUBE
    length = R_MAX - r_men
    pel = (R_MAX - max(r_men, R_MAX * shrink)) / length
    res = (max(r_men, R_MAX * shrink) - max(r_men, r_res * shrink)) / length
    return pel, res, 1.0 - pel - res


FAST = (math.sqrt(1e5 * G0 / R_AVG), 1800.0)   # 100,000 g at r_avg for 30 min
SLOW = (10 * 2 * math.pi / 60, 600.0)          # 10 rpm for 10 min

# certainly pelleted: 2 um, 1.25 g/mL at 100,000 g for 30 min: s ~ 3e-8 s, s * omega^2 * t ~ 1e3 >> ln(r_max/r_min)
BIG = {"name": "big", "target": True, "concentration": "1e8 /mL", "diameter": "2 um", "density": "1.25 g/mL"}
# stays where it starts without Brownian motion: 2 nm, 1.02 g/mL in PBS (1.0068 g/mL at 4 degC, so it does not
# float): s ~ 2e-15 s, s * omega^2 * t < 3e-5 even at 100,000 g for 30 min (moves a residual boundary by < 5e-5 of
# the column), ~ 1e-16 at 10 rpm
STILL = {"name": "still", "concentration": "1e10 /mL", "diameter": "2 nm", "density": "1.02 g/mL"}


def protocol(*steps):
    return Protocol.model_validate({"name": "book", "steps": list(steps)}, context={"rotors": ROTORS, "media": MEDIA})


def sample(volume, *populations):
    """A PBS sample; the first population is the target unless one is marked."""
    pops = [dict(p) for p in populations]
    if not any(p.get("target") for p in pops):
        pops[0]["target"] = True
    return Sample.model_validate({"name": "book", "volume": volume, "medium": "PBS", "populations": pops},
                                 context={"media": MEDIA})


def spin(**kw):
    step = {"kind": "centrifuge", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": "30 min"}
    step.update(kw)
    return step


def slow(**kw):
    return spin(rcf=None, speed="10 rpm", duration="10 min", **kw)


def run(prot, samp, n, seed=1, **kw):
    return exosim.simulate(prot, samp, n_particles=n, seed=seed, device=exosim.CPU(), **kw)


def shares(ds, population, step=-1):
    """{place: share of the population's input} after ``step``."""
    counts = ds.fate_count.isel(step=step).sel(population=population)
    total = float(ds.input_count.sel(population=population))
    return {p: float(counts.sel(place=p)) / total for p in PLACES}


def assert_shares(got, expected, n):
    """Each place within 5 binomial standard errors sqrt(max(p (1 - p), 1/n) / n) (the floor keeps a few particles
    possible where p is tiny but not zero); exactly where the expected share is exactly 0 or 1 (a place a particle
    cannot reach); all places add up to 1."""
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
    for place, p in expected.items():
        if p in (0.0, 1.0):
            assert got[place] == pytest.approx(p, abs=1e-12), (place, got[place], p)
        else:
            assert abs(got[place] - p) <= 5 * math.sqrt(max(p * (1 - p), 1.0 / n) / n), (place, got[place], p)


def test_keep_supernatant_books_the_pellet_and_the_residual_layer_as_discarded_pellet():
    """keep: supernatant (docs/physics.md "What a step does"): every pelleted particle and every particle in the
    residual layer over the pellet go to pellet_discarded; nothing to supernatant_discarded or wall_loss (exactly).
    Big particles all pellet: pellet_discarded = 1 exactly. Still particles (no Brownian motion, 10 rpm) are in the
    residual layer with probability residual_volume / liquid per tube = 2.5 / 10 (constant cross-section: a volume
    fraction is a length fraction of the uniform start): pellet_discarded = 0.25, product = 0.75 (5 binomial SE;
    ``split`` gives the same to 1e-15)."""
    n = 40_000
    ds = run(protocol(spin(keep="supernatant", residual_volume="2.5 mL")), sample("10 mL", BIG, STILL), n,
             brownian=False)
    assert int(ds.step_tubes[0]) == 1
    assert float(ds.step_liquid_per_tube[0]) == pytest.approx(10e-6)
    assert_shares(shares(ds, "big"), {"product": 0.0, "supernatant_discarded": 0.0, "pellet_discarded": 1.0,
                                      "wall_loss": 0.0}, n // 2)
    ds = run(protocol(slow(keep="supernatant", residual_volume="2.5 mL")), sample("10 mL", STILL), n,
             brownian=False)
    pel, res, sup = split(2e-9, 1020.0, *SLOW, 10e-6, 2.5e-6)
    assert res == pytest.approx(0.25, abs=1e-9)
    assert_shares(shares(ds, "still"), {"product": sup, "supernatant_discarded": 0.0, "pellet_discarded": pel + res,
                                        "wall_loss": 0.0}, n)
    assert float(ds.recovery.sel(population="still")) == pytest.approx(shares(ds, "still")["product"], abs=1e-12)


def test_keep_pellet_keeps_only_the_residual_layer_of_what_does_not_pellet():
    """keep: pellet with particles that stay where they start (no Brownian motion, 10 rpm): the supernatant above
    the residual layer is discarded, the residual layer stays with the pellet. 30 mL in SW 41 Ti (13.2 mL tubes):
    3 tubes of 10 mL, 2 mL residual each: product = 2 / 10, supernatant_discarded = 8 / 10 (5 binomial SE);
    pellet_discarded = 0 exactly; wall_loss = 0 although wall_loss is 30 %: it applies to pelleted particles only
    (were it applied to the residual layer, wall_loss would be 0.06). Volume passed on: resuspension + 3 x 2 mL."""
    n = 40_000
    ds = run(protocol(slow(keep="pellet", residual_volume="2 mL", wall_loss="30 %", resuspend="1 mL PBS")),
             sample("30 mL", STILL), n, brownian=False)
    assert int(ds.step_tubes[0]) == 3
    assert float(ds.step_liquid_per_tube[0]) == pytest.approx(10e-6)
    assert float(ds.step_volume_out[0]) == pytest.approx(1e-6 + 3 * 2e-6)
    pel, res, sup = split(2e-9, 1020.0, *SLOW, 10e-6, 2e-6)
    assert res == pytest.approx(0.2, abs=1e-9)
    assert_shares(shares(ds, "still"), {"product": res + 0.7 * pel, "supernatant_discarded": sup,
                                        "pellet_discarded": 0.0, "wall_loss": 0.3 * pel}, n)


@pytest.mark.parametrize("brownian", [False, True])
def test_wall_loss_share_of_a_pellet_that_holds_everything(brownian):
    """keep: pellet, every particle pelleted, wall_loss 15 %: each pelleted particle is lost on the wall with
    probability 0.15 (a Bernoulli draw per particle): wall_loss = 0.15 and product = 0.85 within 5 binomial SE,
    supernatant_discarded = pellet_discarded = 0 exactly. With and without Brownian motion."""
    n = 40_000
    ds = run(protocol(spin(keep="pellet", residual_volume="100 uL", wall_loss="15 %", resuspend="200 uL PBS")),
             sample("10 mL", BIG), n, brownian=brownian)
    assert_shares(shares(ds, "big"), {"product": 0.85, "supernatant_discarded": 0.0, "pellet_discarded": 0.0,
                                      "wall_loss": 0.15}, n)


def test_keep_pellet_then_wash_books_every_place_at_every_step():
    """Two steps, two populations, expected shares from volume fractions and loss probabilities alone.

    Step 0, keep pellet at 100,000 g: 10 mL in one tube, residual 2 mL, wall loss 10 %, resuspend in 1 mL PBS.
    Step 1, wash at 100,000 g: the 3 mL passed on is topped up with PBS to one full 13.2 mL tube, residual 3.3 mL,
    wall loss 20 %.
    Big (always pelleted): wall_loss 0.10 after step 0; product 0.90 x 0.80 = 0.72 and wall_loss
    0.10 + 0.90 x 0.20 = 0.28 after step 1; never in supernatant_discarded or pellet_discarded.
    Still (no Brownian motion; at 100,000 g it moves by 3e-5 of its radius, so ~1e-4 of it pellets: ``split``):
    product ~ 2/10 and supernatant_discarded ~ 0.8 after step 0; in the wash it is mixed through 13.2 mL and
    ~ 3.3/13.2 = 0.25 of it stays: product ~ 0.05, supernatant_discarded ~ 0.8 + 0.2 x 0.75 = 0.95 after step 1;
    never pellet_discarded (exactly), wall_loss only for the ~1e-4 that pellets.
    fate_count holds the state after each step (places add up to the input); the per-particle fate_step says in
    which step a particle left (checked against the same shares). 5 binomial SE everywhere."""
    n = 80_000
    steps = (spin(keep="pellet", residual_volume="2 mL", wall_loss="10 %", resuspend="1 mL PBS"),
             {"kind": "wash", "rotor": "SW 41 Ti", "rcf": "100000 g", "duration": "30 min", "medium": "PBS",
              "residual_volume": "3.3 mL", "wall_loss": "20 %", "resuspend": "100 uL PBS"})
    ds = run(protocol(*steps), sample("10 mL", BIG, STILL), n, brownian=False, keep_particles=True)
    m = n // 2
    assert float(ds.step_volume_out[0]) == pytest.approx(3e-6)
    assert float(ds.step_liquid_per_tube[1]) == pytest.approx(TUBE)
    assert_shares(shares(ds, "big", 0), {"product": 0.9, "supernatant_discarded": 0.0, "pellet_discarded": 0.0,
                                         "wall_loss": 0.1}, m)
    assert_shares(shares(ds, "big", 1), {"product": 0.72, "supernatant_discarded": 0.0, "pellet_discarded": 0.0,
                                         "wall_loss": 0.28}, m)
    pel0, res0, sup0 = split(2e-9, 1020.0, *FAST, 10e-6, 2e-6)
    pel1, res1, sup1 = split(2e-9, 1020.0, *FAST, TUBE, 3.3e-6)
    assert 0 < pel0 < 1e-3 and abs(res0 - 0.2) < 1e-3 and abs(res1 - 0.25) < 1e-3
    prod0 = res0 + 0.9 * pel0
    assert_shares(shares(ds, "still", 0), {"product": prod0, "supernatant_discarded": sup0, "pellet_discarded": 0.0,
                                           "wall_loss": 0.1 * pel0}, m)
    assert_shares(shares(ds, "still", 1), {"product": prod0 * (res1 + 0.8 * pel1),
                                           "supernatant_discarded": sup0 + prod0 * sup1, "pellet_discarded": 0.0,
                                           "wall_loss": 0.1 * pel0 + prod0 * 0.2 * pel1}, m)
    # step-wise: what each step passes on
    p1 = res1 + 0.8 * pel1
    assert abs(float(ds.step_recovery.isel(step=1).sel(population="still")) - p1) <= 5 * math.sqrt(
        p1 * (1 - p1) / (prod0 * m))
    # per particle: where and when
    fate = ds.particle_fate.values
    when = ds.particle_fate_step.values
    pop = ds.particle_population.values
    big = pop == list(ds.population.values).index("big")
    lost = fate == PLACES.index("wall_loss")
    for step, p in ((0, 0.1), (1, 0.18)):
        got = float(np.mean(lost[big] & (when[big] == step)))
        assert abs(got - p) <= 5 * math.sqrt(p * (1 - p) / m)
    gone = fate == PLACES.index("supernatant_discarded")
    for step, p in ((0, sup0), (1, prod0 * sup1)):
        got = float(np.mean(gone[~big] & (when[~big] == step)))
        assert abs(got - p) <= 5 * math.sqrt(p * (1 - p) / m)


def chi2_quantile(nu, z):
    """Wilson-Hilferty approximation of the chi-square quantile with nu degrees of freedom at normal quantile z
    (Wilson & Hilferty 1931; relative error < 1 % for nu > 30)."""
    c = 2.0 / (9.0 * nu)
    return nu * (1.0 - c + z * math.sqrt(c)) ** 3


def test_recovery_stderr_is_binomial_and_matches_the_spread_over_seeds():
    """A known case: still particles, keep pellet, residual layer 5 mL of 10 mL, so the recovery is a Bernoulli
    share with p = 0.5 exactly. Ten identical populations (independent particles) in each of 10 seeds give 100
    independent recoveries with n = 400 each.
    (1) The reported recovery_stderr equals sqrt(r (1 - r) / n) for the reported recovery r (docs/physics.md), and
        is within 2 % of the known sqrt(0.25 / n) = 0.025 (r is within 5 SE of 0.5, which moves it by < 1.3 %).
    (2) product_count_stderr = recovery_stderr x input_count.
    (3) The mean of the recoveries is 0.5 within 5 SE of a mean, and their standard deviation agrees with the
        reported error: (k - 1) s^2 / sigma^2 is chi-square with k - 1 = 99 degrees of freedom; the bounds are its
        quantiles at z = +-3.9 (two-sided 1e-4): s / sigma within [0.73, 1.29]."""
    pops = [{**STILL, "name": f"still {i}", "target": i == 0} for i in range(10)]
    prot = protocol(slow(keep="pellet", residual_volume="5 mL", resuspend="1 mL PBS"))
    samp = sample("10 mL", *pops)
    n_each = 400
    rec, err = [], []
    for seed in range(10):
        ds = run(prot, samp, 10 * n_each, seed=seed, brownian=False)
        assert np.all(ds.n_sim.values == n_each)
        r = ds.recovery.values
        e = ds.recovery_stderr.values
        np.testing.assert_allclose(e, np.sqrt(r * (1 - r) / n_each), rtol=1e-12)
        np.testing.assert_allclose(ds.product_count_stderr.values, e * ds.input_count.values, rtol=1e-12)
        np.testing.assert_allclose(ds.product_count.values, r * ds.input_count.values, rtol=1e-12)
        rec.extend(r)
        err.extend(e)
    rec, err = np.array(rec), np.array(err)
    sigma = math.sqrt(0.25 / n_each)
    assert np.all(np.abs(err / sigma - 1) < 0.02)
    k = len(rec)
    assert abs(rec.mean() - 0.5) <= 5 * sigma / math.sqrt(k)
    ratio = rec.std(ddof=1) / err.mean()
    lo, hi = (math.sqrt(chi2_quantile(k - 1, z) / (k - 1)) for z in (-3.9, 3.9))
    assert lo < ratio < hi, (ratio, lo, hi)
