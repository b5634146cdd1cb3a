# Each target sets up what it needs on a fresh machine: a .venv with the package and its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench figures proofs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch is pinned below 2.14 in pyproject.toml so pip takes the CPU wheel, not a multi-GB CUDA build.
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/icl figure linear-regression --preset quick

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	for b in benchmarks/[a-z]*.py; do $(BIN)/python -m benchmarks.$$(basename $$b .py) || exit 1; done

proofs: $(STAMP)
	$(BIN)/python -m proofs

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs figures/out
