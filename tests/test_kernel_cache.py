"""The on-disk cache of compiled CPU kernels (kernels/cache.py): reused by a second process, never stale.

Everything runs on a copy of the kernels package in a temporary folder (imported as ``kcopy``), with
EXOSIM_CACHE_DIR in the temporary folder too: the real kernel files and the user's cache are not touched.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exosim.kernels import cache

# compiles and runs the smallest kernel (cpu.sample, uniform draws on [0, 1)) of the copy, prints what happened
PROBE = """
import json, sys
import numpy as np
from kcopy import cache, cpu, sampling
{before_call}
out = np.empty(4)
cpu.sample(0, 1, 0, sampling.UNIFORM, 0.0, 1.0, 0.0, 1.0, out)
stats = cpu.sample.stats
print(json.dumps({{"folder": str(cache.kernel_folder()), "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "out": out.tolist()}}))
"""


@pytest.fixture
def kcopy(tmp_path):
    """A copy of the kernels package, as tmp_path/src/kcopy."""
    dest = tmp_path / "src" / "kcopy"
    shutil.copytree(cache.PACKAGE_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_probe(kcopy: Path, before_call: str = "") -> dict:
    """Run PROBE in a fresh process on the copy; its cache folder is next to the copy."""
    env = {**os.environ, "PYTHONPATH": str(kcopy.parent), "EXOSIM_CACHE_DIR": str(kcopy.parent.parent / "cache"),
           "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(before_call=before_call)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_reuses_the_compiled_kernel(kcopy):
    first = run_probe(kcopy)
    assert (first["hits"], first["misses"]) == (0, 1)
    folder = Path(first["folder"])
    assert folder.parent == kcopy.parent.parent / "cache" / "kernels"
    assert list(folder.glob("*cpu.sample-*.nbi")) and list(folder.glob("*cpu.sample-*.nbc"))
    second = run_probe(kcopy)
    assert (second["hits"], second["misses"]) == (1, 0)
    assert second["folder"] == first["folder"]
    assert second["out"] == first["out"]


def test_edit_of_a_helper_in_another_file_is_never_served_stale(kcopy):
    """cpu.py and sampling.py stay as they are; philox.py (imported by sampling.py) changes what it exports.
    numba's own cache (stamp of cpu.py only) would reuse the old kernel; this one compiles the new code."""
    before = run_probe(kcopy)
    assert before["misses"] == 1 and len(set(before["out"])) > 1
    with open(kcopy / "philox.py", "a") as f:
        f.write("\n\n@register_jitable\ndef uniform_open(w):  # edited by the test\n    return 0.5\n")
    after = run_probe(kcopy)
    assert after["folder"] != before["folder"]
    assert (after["hits"], after["misses"]) == (0, 1)
    assert after["out"] == [0.5] * 4


def test_kernel_compiled_after_an_edit_during_the_run_is_not_saved(kcopy):
    """A kernel file edited after this process loaded the kernels: the compiled code (old sources) is not
    stored under the key of the sources as loaded, nor anywhere else."""
    edit = f"open({str(kcopy / 'formulas.py')!r}, 'a').write('# edited while running\\n')"
    result = run_probe(kcopy, before_call=edit)
    assert result["misses"] == 1
    kernels = kcopy.parent.parent / "cache" / "kernels"
    assert Path(result["folder"]).parent == kernels
    assert not [p for p in kernels.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", sorted(p.name for p in cache.PACKAGE_DIR.glob("*.py")))
def test_any_edit_of_any_kernel_file_changes_the_key(kcopy, name):
    original = cache.source_hash(kcopy)
    assert original == cache.source_hash(kcopy)
    with open(kcopy / name, "a") as f:
        f.write("\n# edited\n")
    assert cache.source_hash(kcopy) != original


def test_new_kernel_file_changes_the_key(kcopy):
    original = cache.source_hash(kcopy)
    (kcopy / "extra.py").write_text("X = 1\n")
    assert cache.source_hash(kcopy) != original


def test_kernel_key_depends_on_the_sources():
    assert cache.kernel_key("a" * 64) != cache.kernel_key("b" * 64)
    assert cache.kernel_key("a" * 64) == cache.kernel_key("a" * 64)


def test_cache_folder_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EXOSIM_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    monkeypatch.setenv("EXOSIM_CACHE_DIR", "")
    assert cache.cache_root() is None  # empty: caches off
    monkeypatch.delenv("EXOSIM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "exosim"


def test_unwritable_cache_folder_turns_the_cache_off(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert cache.writable_folder(blocker / "kernels") is None
    assert cache.writable_folder(tmp_path / "ok" / "kernels") == tmp_path / "ok" / "kernels"


def test_prune_removes_only_folders_unused_for_long(tmp_path):
    kernels = tmp_path / "kernels"
    current, recent, old = (kernels / name for name in ("current", "recent", "old"))
    for folder in (current, recent, old):
        folder.mkdir(parents=True)
        (folder / "cpu.sample-1.py311.nbi").write_text("")
    long_ago = time.time() - (cache.UNUSED_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    os.utime(current, (long_ago, long_ago))  # in use by this process: kept whatever its time
    cache.prune(kernels, keep=current)
    assert sorted(p.name for p in kernels.iterdir()) == ["current", "recent"]
