"""Test command of the mutation runs: runs pytest with the given arguments and logs, per run, its wall time, exit
code and which source file differs from the snapshot (the mutant), to ``$EXOSIM_MUTATION_WORKDIR/timings.jsonl``.

Usage, from the root of the scratch copy: python mutation/timed_test.py PYTEST_ARGS...
"""
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOTS = ("kernels", "exosim")


def hashes(root: Path) -> dict:
    """SHA-256 of every source file that may be mutated (rglob does not follow the exosim/kernels symlink)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in ROOTS for p in sorted((root / top).rglob("*.py"))}


def main() -> int:
    work = os.environ.get("EXOSIM_MUTATION_WORKDIR")
    src = Path.cwd()
    changed = None
    if work:
        ref = json.loads((Path(work) / "snapshot" / "hashes.json").read_text())
        now = hashes(src)
        changed = [f for f, h in now.items() if ref.get(f) != h] or None
    if work:  # mutation/run.py ends this process group when its time budget is spent
        if os.getpgrp() != os.getpid():  # cosmic-ray starts it in a new session already
            os.setpgid(0, 0)
        (Path(work) / "current.pid").write_text(str(os.getpid()))
    t0 = time.monotonic()
    import pytest
    rc = int(pytest.main(sys.argv[1:]))
    elapsed = time.monotonic() - t0
    if work:
        with open(Path(work) / "timings.jsonl", "a") as log:
            log.write(json.dumps(dict(file=changed[0] if changed else None, elapsed=round(elapsed, 2), rc=rc))
                      + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
