"""exosim benchmarks: ``python -m benchmarks`` (or ``make bench``). Not tests: they measure, they do not assert."""
