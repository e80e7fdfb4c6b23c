# Everything runs from a virtual environment this Makefile creates and keeps up to date.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-containers postgres-image lint typecheck unit bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

## demo: migrate an embedded SQLite file, record a realistic workload, print query results
demo: $(INSTALLED)
	$(BIN)/python examples/demo.py

## test: lint, type-check and run the whole suite (PostgreSQL included); with CI=true the
## PostgreSQL tests then run a second time, through a container (test-containers)
test: $(INSTALLED)
	VENV=$(VENV) scripts/ensure-postgres.sh
	scripts/ensure-tools.sh
	$(MAKE) lint typecheck unit
	@case "$$(echo "$${CI:-}" | tr A-Z a-z)" in \
	  1|true|yes) $(MAKE) test-containers ;; \
	  *) echo "PostgreSQL through a container: run 'make test-containers' (CI=true runs it)" ;; \
	esac

## test-containers: the PostgreSQL tests through a PostgreSQL container (starts Docker if needed)
test-containers: $(INSTALLED)
	PYTEST=$(BIN)/pytest scripts/test-postgres-containers.sh

## postgres-image: build the PostgreSQL 15 image from Debian packages (no registry needed)
postgres-image:
	scripts/postgres-image.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict obsstore

# The suite runs in parallel, one pytest-xdist worker per core (PYTEST_WORKERS=0: in this
# process). worksteal: idle workers take queued tests from busy ones, so the few minute-long
# property tests do not leave a worker idle at the end. Every worker has its own session
# fixtures (chdb directory, PostgreSQL database, throwaway cluster); see tests/conftest.py.
PYTEST_WORKERS ?= auto

unit: $(INSTALLED)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

## bench: side-by-side benchmark against the raw drivers (see bench/README.md)
bench: $(INSTALLED)
	VENV=$(VENV) scripts/ensure-postgres.sh
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-data
