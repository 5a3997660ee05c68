"""Bad input: one line naming the file, the field and the problem; exit code 2; no traceback; no output file."""
import textwrap

import pytest
from typer.testing import CliRunner

from exosim.cli import app

GOOD_STEP = "{kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 70 min, keep: pellet, resuspend: 100 uL PBS}"


def protocol_text(step=GOOD_STEP, extra=""):
    return textwrap.dedent(f"""\
        name: test
        temperature: 4 degC
        {extra}
        steps:
          - {step}
        """)


SAMPLE = textwrap.dedent("""\
    name: s
    volume: 10 mL
    medium: culture_medium
    populations:
      - name: exosome
        target: true
        concentration: 5e9 /mL
        diameter: {lognormal: {median: 100 nm, gsd: 1.5}, min: 30 nm, max: 200 nm}
        density: {normal: {mean: 1.15 g/mL, sd: 0.02 g/mL}}
        protein: 1e-10 ug
      - name: albumin
        concentration: 1 mg/mL
        molecular_weight: 66.5 kDa
        diameter: 7.1 nm
        density: 1.36 g/mL
    """)


def invoke(tmp_path, protocol=None, sample=SAMPLE, args=()):
    p = tmp_path / "protocol.yaml"
    s = tmp_path / "sample.yaml"
    p.write_text(protocol if protocol is not None else protocol_text())
    s.write_text(sample)
    out = tmp_path / "out.h5"
    result = CliRunner().invoke(app, ["run", str(p), "--sample", str(s), "-n", "200", "-q", "-o", str(out),
                                      *args])
    return result, out


def assert_one_line_error(result, out, *needles):
    assert result.exit_code == 2, result.output
    text = result.stderr.strip()
    assert "Traceback" not in result.output and len(text.splitlines()) == 1, text
    assert text.startswith("error: ")
    for needle in needles:
        assert needle in text, text
    assert not out.exists()
    assert not list(out.parent.glob(".out.h5.*"))


def test_good_input_runs(tmp_path):
    result, out = invoke(tmp_path)
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.parametrize("step,needles", [
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 70 kg, keep: supernatant}",
     ["protocol.yaml", "steps[0].duration", "expected a duration", "mass"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 0 min, keep: supernatant}",
     ["steps[0].duration", "greater than zero"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: -5 min, keep: supernatant}",
     ["steps[0].duration", "greater than zero"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 100000 g, duration: 70 min, keep: supernatant, colour: red}",
     ["steps[0].colour", "unknown field"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, speed: 60000 rpm, duration: 70 min, keep: supernatant}",
     ["steps[0].speed", "41,000 rpm"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 500000 g, duration: 70 min, keep: supernatant}",
     ["steps[0].rcf", "41,000 rpm"]),
    ("{kind: centrifuge, rotor: SW 99, rcf: 1000 g, duration: 70 min, keep: supernatant}",
     ["steps[0].rotor", "unknown rotor", "SW 41 Ti", "Type 70 Ti"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, keep: supernatant, fill: 20 mL}",
     ["steps[0].fill", "overfills", "13.2 mL"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, keep: pellet}",
     ["steps[0].resuspend"]),
    ("{kind: spin, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min}", ["steps[0]", "unknown step kind"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, duration: 7 min, keep: supernatant}", ["steps[0]", "rcf and speed"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, keep: pellet, resuspend: 1 mL beer}",
     ["steps[0].resuspend", "unknown medium"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: fast, duration: 7 min, keep: supernatant}",
     ["steps[0].rcf", "fast"]),
    ("{kind: wash, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, medium: soup, resuspend: 1 mL PBS}",
     ["steps[0].medium", "unknown medium"]),
    ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, keep: supernatant, wall_loss: 100 %}",
     ["steps[0].wall_loss", "below 100 %"]),
])
def test_bad_protocol_fields(tmp_path, step, needles):
    result, out = invoke(tmp_path, protocol_text(step))
    assert_one_line_error(result, out, *needles)


def test_empty_protocol(tmp_path):
    result, out = invoke(tmp_path, "name: empty\nsteps: []\n")
    assert_one_line_error(result, out, "protocol.yaml", "steps", "no steps")


def test_unknown_top_level_key(tmp_path):
    result, out = invoke(tmp_path, protocol_text(extra="speed_up: yes"))
    assert_one_line_error(result, out, "protocol.yaml", "speed_up", "unknown field")


def test_broken_yaml(tmp_path):
    result, out = invoke(tmp_path, "name: x\nsteps: [\n  - {kind: \n")
    assert_one_line_error(result, out, "protocol.yaml", "line", "YAML")


def test_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope.yaml"), "--sample", "msc_conditioned_medium"])
    assert result.exit_code == 2 and "nope.yaml" in result.stderr and "no such file" in result.stderr


@pytest.mark.parametrize("edit,needles", [
    (("10 mL", "10 kg"), ["sample.yaml", "volume", "expected a volume"]),
    (("target: true", "target: false"), ["sample.yaml", "target"]),
    (("66.5 kDa", "66.5 nm"), ["populations[1].molecular_weight", "mass"]),
    (("gsd: 1.5", "gsd: 0.5"), ["populations[0].diameter", "gsd > 1"]),
    (("culture_medium", "soup"), ["medium", "unknown medium", "PBS"]),
    (("    molecular_weight: 66.5 kDa\n", ""), ["populations[1]", "molecular_weight"]),
    (("    protein: 1e-10 ug\n", "    protein: 1e-10 ug\n    mechanics: {reduced_volume: 0.9, osmotic_share: 100 %}\n"),
     ["populations[0].mechanics.osmotic_share", "below 100 %"]),
])
def test_bad_sample_fields(tmp_path, edit, needles):
    result, out = invoke(tmp_path, sample=SAMPLE.replace(*edit))
    assert_one_line_error(result, out, *needles)


def test_residual_volume_larger_than_the_liquid(tmp_path):
    step = ("{kind: centrifuge, rotor: SW 41 Ti, rcf: 1000 g, duration: 7 min, keep: supernatant, fill: 2 mL, "
            "residual_volume: 3 mL}")
    result, out = invoke(tmp_path, protocol_text(step))
    assert_one_line_error(result, out, "steps[0].residual_volume")


@pytest.mark.parametrize("args,needle", [
    (["--backend", "tpu"], "--backend"),
    (["--seed", "-1"], "--seed"),
    (["-n", "1"], "-n"),
    (["--max-step", "0"], "--max-step"),
    (["--backend", "cuda:0,0"], "names a GPU twice"),
    (["--backend", "cuda:x"], "--backend"),
    (["--max-memory", "lots"], "--max-memory"),
    (["--max-memory", "8 kg"], "an amount of memory"),
    (["--max-memory", "80 %"], "an amount of memory"),
    (["--max-memory", "50 B"], "holds no particle"),
    (["--max-memory", "1e400 B"], "a finite value"),
    (["--max-memory", "10 kB", "--save-particles"], "--save-particles"),
])
def test_bad_options(tmp_path, args, needle):
    result, out = invoke(tmp_path, args=args)
    assert_one_line_error(result, out, needle)


def test_output_path_problems(tmp_path):
    (tmp_path / "afile").write_text("x")
    result, _ = invoke(tmp_path, args=["-o", str(tmp_path / "afile" / "out.h5")])
    assert result.exit_code == 2 and "is not a folder" in result.stderr
    result, _ = invoke(tmp_path, args=["-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.stderr
