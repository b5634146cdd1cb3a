# Each target sets up what it needs on a fresh machine: a .venv with the package and its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench figures proofs docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The index, not the version bound, picks torch's CPU or CUDA build: from PyPI, Linux gets the CUDA
	# build (~2.7 GB). For a CPU-only machine, first install torch from https://download.pytorch.org/whl/cpu
	# into .venv (docs/install.md); pip then keeps it.
	$(BIN)/python -m pip install -q -e ".[test,bench,docs]"
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

# The documentation site (mkdocs.yml) into site/; --strict turns a broken link or reference into an error.
# The docs extra is in the one install, so the tests of the docs hooks run in `make test` too.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "site/index.html: the documentation site"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs figures/out site
