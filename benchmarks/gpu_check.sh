#!/usr/bin/env bash
# All GPU checks in one call on a lent GPU machine (its image has numba-cuda, CuPy, h5py, xarray). Beforehand, here:
#   bash ../shared/bench/device_wheels.sh pytest pluggy iniconfig hypothesis sortedcontainers attrs
#   mkdir -p .devbench && cp ../shared/bench/gpu_reference.py .devbench/
# then one device call with carry [".whl", ".devbench"]: bash benchmarks/gpu_check.sh
# It runs the tests that need a GPU (EXOSIM_REQUIRE_GPU=1: a skip is a failure), the benchmarks and the reference
# kernels in the same call, and ends with a one-screen summary (rates, ratios to the reference, time to answer).
# Writes everything under ${OUT:-benchmarks/out}.
#   usage: bash benchmarks/gpu_check.sh [REFERENCE_SCRIPT]
set -u
out=${OUT:-benchmarks/out}
mkdir -p "$out"
ref=${1:-.devbench/gpu_reference.py}
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl || exit 3
export PYTHONPATH="$site"
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target "$site" . || exit 3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
# tests that need a GPU fail instead of skipping
python3 -c "import pytest, hypothesis" 2>/dev/null || echo "pytest or hypothesis missing: fetch their wheels (see above)"
EXOSIM_REQUIRE_GPU=1 NUMBA_ENABLE_CUDASIM=0 python3 -m pytest -q -p no:cacheprovider \
  tests/test_philox.py tests/test_backends.py tests/test_precision.py tests/test_streaming.py 2>&1 | tail -15 \
  | tee "$out/gpu_tests.txt"
args=(--json "$out/bench.json" --no-startup)  # start-up is a CPU figure: not worth device time
[ -f "$ref" ] && args+=(--reference "$ref")
python3 -m benchmarks "${args[@]}" 2>&1 | tee "$out/bench.txt"
