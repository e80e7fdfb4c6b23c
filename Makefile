# Everything runs from a virtual environment this Makefile creates and keeps up to date.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

## demo: migrate an embedded SQLite file, record a realistic workload, print query results
demo: $(INSTALLED)
	$(BIN)/python examples/demo.py

## test: lint, type-check and run the whole suite (PostgreSQL included)
test: $(INSTALLED)
	scripts/ensure-postgres.sh
	scripts/ensure-tools.sh
	$(MAKE) lint typecheck unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict obsstore

unit: $(INSTALLED)
	$(BIN)/pytest

## bench: side-by-side benchmark against the raw drivers (see bench/README.md)
bench: $(INSTALLED)
	scripts/ensure-postgres.sh
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-data
