# Two commands on a fresh machine with Python 3.11+:  make demo  and  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-float32 bench clean mutation

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/exosim run duc_standard --sample msc_conditioned_medium -n 200000 --seed 1 -o results/demo.h5
	$(BIN)/exosim plot results/demo.h5 -o results/demo.png

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# every physics validation module with float32 kernels (CI runs the tests marked both_precisions in both)
test-float32: $(STAMP)
	EXOSIM_PRECISION=32 $(BIN)/python -m pytest -q -n 2 tests/test_physics.py tests/test_reference_physics.py \
		tests/test_gradient_physics.py tests/test_floaters.py tests/test_column.py tests/test_gradient_steps.py \
		tests/test_pellet_damage.py tests/test_conservation.py tests/test_filtration.py tests/test_tff.py \
		tests/test_precision.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Mutation testing with cosmic-ray (not in CI; docs/mutation.md), in a scratch copy under build/mutation/, never
# in the working tree. MODULES: files or folders to mutate, in order (default: mutation/cosmic-ray.toml's
# module-path); BUDGET: seconds after which the run stops (the rest stays pending; MUTATION_ARGS=--resume goes on).
MODULES ?=
BUDGET ?=
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(BIN)/python -c "import cosmic_ray" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[test,mutation]"
	NUMBA_NUM_THREADS=1 nice -n 19 $(BIN)/python mutation/run.py $(if $(MODULES),--modules "$(MODULES)") \
		$(if $(BUDGET),--budget $(BUDGET)) $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) results build dist *.egg-info .pytest_cache .hypothesis
