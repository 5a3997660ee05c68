"""Malformed config files: each ends with one line naming the file, the field (or the YAML location) and the
problem, exit code 2, no traceback and no output file. (Part of the reliability corpus; tests/test_cli_errors.py
holds the field-level cases.)"""
import pytest
from typer.testing import CliRunner

from exosim.cli import app

GOOD_SAMPLE = "msc_conditioned_medium"

CASES = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a UTF-8 text file"),
    ("latin-1", "name: caf\xe9\nsteps: []\n".encode("latin-1"), "not a UTF-8 text file"),
    ("nul bytes", b"name: a\x00b\n", "NUL bytes"),
    ("empty", b"", "expected a mapping"),
    ("a list", b"- a\n- b\n", "expected a mapping"),
    ("yaml syntax", b"name: [unclosed\nsteps: x\n", "not valid YAML"),
    ("tab indentation", b"name: x\nsteps:\n\t- kind: centrifuge\n", "not valid YAML"),
    ("duplicated key", b"name: a\nname: b\nsteps: []\n", "duplicated key 'name'"),
    ("recursive anchor", b"name: x\nsteps: &s [*s]\n", "refers to itself"),
    ("python object tag", b"name: !!python/object/apply:os.system ['true']\nsteps: []\n", "not valid YAML"),
    ("no steps", b"name: x\nsteps: []\n", "the protocol has no steps"),
    ("NaN speed", b"name: x\nsteps:\n  - {kind: centrifuge, rotor: SW 41 Ti, rcf: .nan, duration: 1 h, keep: supernatant}\n",
     "steps[0].rcf"),
    ("huge rcf", b"name: x\nsteps:\n  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 1e300 g, duration: 1 h, keep: supernatant}\n",
     "steps[0].rcf"),
    ("inf duration", b"name: x\nsteps:\n  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: inf h, keep: supernatant}\n",
     "steps[0].duration"),
    ("number as name", b"name: x\nsteps:\n  - {kind: centrifuge, rotor: 41, rcf: 1000 g, duration: 1 h, keep: supernatant}\n",
     "steps[0].rotor"),
]


@pytest.mark.parametrize("content, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_protocol_file(tmp_path, content, words):
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    out = tmp_path / "out.h5"
    r = CliRunner().invoke(app, ["run", str(path), "--sample", GOOD_SAMPLE, "-n", "10", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), r.output
    assert words in r.output, r.output
    assert not out.exists()


def test_directory_and_missing_files(tmp_path):
    for target, words in ((tmp_path, "cannot read the file"), (tmp_path / "nope.yaml", "no such file")):
        r = CliRunner().invoke(app, ["plan", str(target), "--sample", GOOD_SAMPLE])
        assert r.exit_code == 2 and words in r.output, r.output


def test_binary_sweep_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    r = CliRunner().invoke(app, ["sweep", str(path), "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 2 and "not a UTF-8 text file" in r.output, r.output


def test_validate_checks_files_without_running(tmp_path):
    good = ["configs/protocols/duc_standard.yaml", "configs/samples/msc_conditioned_medium.yaml",
            "configs/membranes/pcte_100nm.yaml", "configs/sweeps/duc_spin.yaml"]
    from exosim.config import CONFIG_ROOT
    paths = [str(CONFIG_ROOT.joinpath(*g.split("/")[1:])) for g in good]
    r = CliRunner().invoke(app, ["validate", *paths])
    assert r.exit_code == 0, r.output
    assert r.output.count("ok: ") == 4 and "sweep of 12 points" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\nsteps:\n  - {kind: centrifuge, rotor: SW 41 Ti, rcf: 1e9 g, duration: 1 h, keep: supernatant}\n")
    r = CliRunner().invoke(app, ["validate", paths[0], str(bad)])
    assert r.exit_code == 2 and "ok: " in r.output and f"error: {bad}: steps[0].rcf" in r.output, r.output


def test_few_particles_per_population_warn():
    r = CliRunner().invoke(app, ["run", "duc_standard", "--sample", GOOD_SAMPLE, "-n", "80", "--backend", "cpu",
                                 "-q"])
    assert r.exit_code == 0 and "warning: -n: 10 simulation particles per population" in r.output, r.output


SAMPLE = b"name: s\nvolume: 10 mL\nmedium: PBS\npopulations:\n  - {name: a, concentration: %s, diameter: %s, density: 1.1 g/mL}\n"
SWEEP = b"name: s\nprotocol: duc_standard\nsample: msc_conditioned_medium\nparticles: 1000\nvary: %s\n"
STEP = b"{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 1 h, keep: supernatant}"
MORE = [  # (id, command, file content, words that must be in the one line)
    ("sample duplicated key", "sample", b"name: s\nname: t\nvolume: 10 mL\nmedium: PBS\npopulations: []\n",
     "line 2: not valid YAML: duplicated key 'name'"),
    ("sample NUL bytes", "sample", b"name: s\x00\n", "NUL bytes"),
    ("negative concentration", "sample", SAMPLE % (b"-1e9 /mL", b"100 nm"),
     "populations[0]: concentration must be greater than zero"),
    ("diameter without unit", "sample", SAMPLE % (b"1e9 /mL", b"100"),
     "populations[0].diameter: expected a length with a unit"),
    ("uniform min above max", "sample", SAMPLE % (b"1e9 /mL", b"{uniform: {min: 200 nm, max: 100 nm}}"),
     "populations[0].diameter: uniform needs 0 < min < max"),
    ("below absolute zero", "protocol", b"name: x\ntemperature: -300 degC\nsteps:\n  - " + STEP + b"\n",
     "temperature: must be greater than zero"),
    ("steps not a list", "protocol", b"name: x\nsteps: abc\n", "steps: Input should be a valid list"),
    ("sweep path that does not exist", "sweep", SWEEP % b"\n  steps[9].duration: [1 h]", "there is no steps[9]"),
    ("sweep field that does not exist", "sweep", SWEEP % b"\n  steps[3].colour: [red]", "steps[3].colour: unknown field"),
    ("sweep range of no points", "sweep", SWEEP % b"\n  steps[3].duration: {from: 2 h, to: 1 h, num: 0}",
     "vary.steps[3].duration.num: must be a positive integer"),
    ("sweep varying nothing", "sweep", SWEEP % b"{}", "vary: name at least one dotted path"),
]


@pytest.mark.parametrize("kind, content, words", [c[1:] for c in MORE], ids=[c[0] for c in MORE])
def test_more_malformed_files(tmp_path, kind, content, words):
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    out = tmp_path / "out.h5"
    args = {"sample": ["run", "duc_standard", "--sample", str(path), "-n", "100", "-o", str(out)],
            "protocol": ["run", str(path), "--sample", GOOD_SAMPLE, "-n", "100", "-o", str(out)],
            "sweep": ["sweep", str(path), "-o", str(out)]}[kind]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}") and words in lines[0], r.output
    assert "Traceback" not in r.output and not out.exists()
