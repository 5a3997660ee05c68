"""exosim benchmarks: ``python -m benchmarks`` (or ``make bench``). Not tests: they measure, they do not assert."""
import os
import platform
from pathlib import Path


def machine() -> str:
    """The CPU model (from /proc/cpuinfo), the logical cores and the Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"
