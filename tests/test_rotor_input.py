"""A lab's own rotor: inline in a protocol, in a rotor file, or in a user catalog (--rotors, $EXOSIM_ROTORS)."""
import math

import pytest
from typer.testing import CliRunner

from exosim import CPU, load_protocol, load_sample, simulate
from exosim.cli import app
from exosim.engine import plan_protocol

BUCKET = ("{name: Lab bucket, kind: swinging, angle: 90 deg, max_speed: 32000 rpm, r_min: 66.8 mm, r_avg: 109.7 mm, "
          "r_max: 152.5 mm, tube_volume: 17 mL, places: 6, source: lab notebook}")
PROTOCOL = """name: own rotor
temperature: 4 degC
steps:
  - {{kind: centrifuge, name: small EVs, rotor: {rotor}, rcf: 100000 g, duration: 70 min, keep: pellet,
     residual_volume: 50 uL, resuspend: 100 uL PBS}}
"""
SAMPLE = """name: one mL
volume: 40 mL
medium: PBS
populations:
  - {name: exosome, target: true, concentration: 1e10 /mL, diameter: 100 nm, density: 1.10 g/mL}
"""


@pytest.fixture(autouse=True)
def _fresh_user_catalogs(monkeypatch):
    """--rotors sets the process's user catalogs (exosim.config.USER_ROTOR_CATALOGS) for the command it starts:
    a CliRunner run shares this process, so each test gets its own list back."""
    from exosim import config
    monkeypatch.setattr(config, "USER_ROTOR_CATALOGS", [])


def files(tmp_path, rotor):
    (tmp_path / "p.yaml").write_text(PROTOCOL.format(rotor=rotor))
    (tmp_path / "s.yaml").write_text(SAMPLE)
    return tmp_path / "p.yaml", tmp_path / "s.yaml"




@pytest.mark.parametrize("how", ["inline", "file", "catalog"])
def test_a_protocol_with_its_own_rotor_runs_end_to_end(tmp_path, monkeypatch, how):
    """The rotor's own numbers are used: 40 mL in 17-mL tubes is 3 tubes (the catalog's SW 32 Ti, same radii,
    holds 38.5 mL: 2 tubes), 100,000 g at r_avg 109.7 mm needs 28,551 rpm (omega^2 r_avg = 1e5 g0), and the
    whole run pellets the 100-nm vesicles as in the catalog's rotor of the same radii."""
    if how == "inline":
        p, s = files(tmp_path, BUCKET)
    elif how == "file":
        (tmp_path / "bucket.yaml").write_text(BUCKET + "\n")
        p, s = files(tmp_path, "bucket.yaml")
    else:
        (tmp_path / "mine.yaml").write_text(f"rotors:\n  - {BUCKET}\n")
        monkeypatch.setenv("EXOSIM_ROTORS", str(tmp_path / "mine.yaml"))
        p, s = files(tmp_path, "Lab bucket")
    prot, samp = load_protocol(p), load_sample(s)
    plan = plan_protocol(prot, samp)[0]
    assert plan.rotor.name == "Lab bucket" and plan.tubes == 3
    assert plan.omega * 60 / (2 * math.pi) == pytest.approx(math.sqrt(1e5 * 9.80665 / 0.1097) * 60 / (2 * math.pi),
                                                             rel=1e-9)
    ds = simulate(prot, samp, n_particles=400, seed=1, device=CPU())
    ref = simulate(load_protocol(files(tmp_path, "SW 32 Ti")[0]), samp, n_particles=400, seed=1, device=CPU())
    assert float(ds.recovery.sel(population="exosome")) == pytest.approx(
        float(ref.recovery.sel(population="exosome")), abs=0.1)


def test_user_catalog_on_the_command_line_and_its_override_warning(tmp_path):
    (tmp_path / "mine.yaml").write_text("rotors:\n  - " + BUCKET + "\n  - " + BUCKET.replace("Lab bucket", "SW 41 Ti")
                                        + "\n")
    p, s = files(tmp_path, "Lab bucket")
    result = CliRunner().invoke(app, ["--rotors", str(tmp_path / "mine.yaml"), "plan", str(p), "-s", str(s)])
    assert result.exit_code == 0, result.output
    assert "Lab bucket" in result.output
    listing = CliRunner().invoke(app, ["--rotors", str(tmp_path / "mine.yaml"), "rotors"])
    assert listing.exit_code == 0 and "Lab bucket" in listing.output


@pytest.mark.parametrize("rotor, words", [
    (BUCKET.replace("32000 rpm", "-3 rpm"), "steps[0].rotor: max_speed"),
    ("nope.yaml", "no rotor file 'nope.yaml'"),
    ("Our Rotor", "unknown rotor 'Our Rotor'"),
    (BUCKET.replace(" places: 6,", ""), "steps[0].rotor: places"),
])
def test_a_bad_rotor_is_one_line_naming_the_field(tmp_path, rotor, words):
    p, s = files(tmp_path, rotor)
    result = CliRunner().invoke(app, ["plan", str(p), "-s", str(s)])
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.count("\n") == 0 and words in line and str(p) in line, line


def test_a_missing_user_catalog_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["--rotors", str(tmp_path / "none.yaml"), "rotors"])
    assert result.exit_code == 2 and "no such rotor catalog" in result.output
