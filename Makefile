# Oxiward: two commands.
#   make run    -- the whole system on this machine (embedded Redis and broker when none is configured)
#   make test   -- lint, strict types and the whole test suite against real Redis and Mosquitto
# Needs GNU make and Python >= 3.11 with venv (Debian: python3-venv). Nothing else: the rest installs itself.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
BIN := $(VENV)/bin
# python3.11 (what CI and the pinned tools are checked on), else python3 if it is 3.11 or newer;
# override with `make run PYTHON=/path/to/python3.12`.
PYTHON ?= $(firstword $(shell command -v python3.11 python3 2>/dev/null))
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: help run test check lint types core-coverage pytest clean test-binaries

help:
	@echo "make run    start the demo: service, broker, Redis and emulated patients (Ctrl-C stops it)"
	@echo "make test   ruff, mypy --strict and the whole pytest suite (installs redis-server, mosquitto"
	@echo "            and docker-compose with apt-get when run as root)"
	@echo "make check  ruff and mypy only"
	@echo "make clean  remove the virtualenv and caches"

# -- the virtualenv ---------------------------------------------------------------------------------
$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No python3 found. Install Python 3.11 or newer (Debian: apt-get install python3 python3-venv)." >&2; \
	  exit 1; fi
	@if ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	  echo "$(PYTHON) is Python $$("$(PYTHON)" -c 'import platform; print(platform.python_version())'); Oxiward needs 3.11 or newer." >&2; \
	  echo "Install one (Debian 12: apt-get install python3.11 python3.11-venv) or pass PYTHON=/path/to/python3.11" >&2; \
	  exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON)"
	@if ! "$(PYTHON)" -m venv "$(VENV)"; then \
	  rm -rf "$(VENV)"; \
	  ver=$$("$(PYTHON)" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'); \
	  echo "" >&2; \
	  echo "Could not create the virtualenv: $(PYTHON) has no working venv/ensurepip module." >&2; \
	  echo "On Debian/Ubuntu install it with:  apt-get install python$$ver-venv   (or: apt-get install python3-venv)" >&2; \
	  exit 1; fi

# Reinstall only when pyproject.toml changes (the stamp is older than it); `dev` includes `demo`.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	@echo "Installing oxiward[demo] into $(VENV)"
	$(PIP) install -e '.[demo]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing oxiward[dev] into $(VENV)"
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed-demo

# -- the two commands -----------------------------------------------------------------------------
run: $(VENV)/.installed-demo
	$(BIN)/oxiward demo

test: $(VENV)/.installed-dev test-binaries
	$(MAKE) lint
	$(MAKE) types
	$(MAKE) core-coverage
	$(MAKE) pytest

check: $(VENV)/.installed-dev
	$(MAKE) lint
	$(MAKE) types

test-binaries:
	@bash scripts/ensure-test-binaries.sh

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types:
	$(BIN)/mypy

# The clinical core is held to every line and branch tested (a few seconds, no servers needed).
core-coverage:
	$(BIN)/python -m pytest tests/alerting -q -n 0 --cov=alerting --cov-branch --cov-fail-under=100 \
	  --cov-report=term-missing:skip-covered

# Four workers on two cores: most tests wait on real servers, BLE ticks and browsers rather than
# compute, so the suite takes about 6 minutes instead of 25+ (each worker starts its own Redis and
# Mosquitto on free ports). PYTEST_ARGS="-n 0" runs it in one process.
PYTEST_ARGS ?= -n 4 --durations=15

# pytest's exit code 5 means "no test ran": a failure for us, said out loud.
pytest:
	@export PATH="$$PATH:/usr/local/sbin:/usr/sbin:/sbin"; \
	rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage htmlcov build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
