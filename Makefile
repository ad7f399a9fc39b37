# Two commands for a fresh clone: `make demo` (install, then run the suite on the shipped German credit spec)
# and `make test` (install the test extras, then run the tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SPEC ?= notebooks/params/german_credit.yaml
# extra pytest arguments, e.g. `make test PYTEST_ARGS=--reverse` (CI runs the suite in reverse order)
PYTEST_ARGS ?=

.PHONY: install install-test demo test test-all lint format bench lab clean

$(BIN)/workbench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-extras: $(BIN)/workbench
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $@

install: $(BIN)/workbench

install-test: $(VENV)/.test-extras

# The demonstration users share one known password (DEMO_PASSWORD); real deployments add their own users.
DEMO_PASSWORD ?= demo-password

demo: install
	$(BIN)/workbench users demo --password $(DEMO_PASSWORD)
	WORKBENCH_PASSWORD=$(DEMO_PASSWORD) $(BIN)/workbench run $(SPEC) --user priya --validator marco

test: install-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-all: install-test
	$(BIN)/python -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks

format: install-test
	$(BIN)/ruff format workbench tests benchmarks
	$(BIN)/ruff check --fix workbench tests benchmarks

bench: install
	$(BIN)/python benchmarks/suite_wall_time.py

lab: install
	$(BIN)/workbench lab

clean:
	rm -rf $(VENV) registry_store/mlflow.db registry_store/artifacts reports/*/
