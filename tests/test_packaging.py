"""The wheel installs exosim with its kernels (exosim.kernels, from the top-level kernels/ folder) and configs."""
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_into_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("exosim-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True)
    # the dependencies (numba, numpy, ...) come from this interpreter's site-packages, through a .pth line
    # (lines of a .pth file add folders; the .pth files inside those folders, such as an editable install, are
    # not read)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = ("import exosim, exosim.kernels, exosim.kernels.spin, exosim.kernels.philox as p; "
            "print(exosim.__file__); print(exosim.kernels.__file__); "
            "print(len(exosim.load_rotors())); print(exosim.load_protocol('duc_standard').name); "
            "print(hex(int(p.philox4x32_10(0, 0, 0, 0, 0, 0)[0])))")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    lines = out.stdout.split("\n")
    assert lines[0].startswith(str(env_dir)) and lines[1].startswith(str(env_dir))
    assert lines[1].endswith("exosim/kernels/__init__.py")
    assert int(lines[2]) >= 8 and lines[3] == "Differential ultracentrifugation"
    assert lines[4] == "0x6627e8d5"
