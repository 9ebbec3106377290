# Ruche: `make run` starts it with demo data, `make test` runs every test.
# DATABASE_URL from the environment selects the database (default: SQLite under ./var/).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DEALS ?= 5000
DEMO_SEED ?= 1
PYTEST_ARGS ?= -n 2

# System packages, as "command:debian-package" pairs, installed with apt-get only when the
# command is missing. Nothing is needed at run time yet; browser tests and benchmarks will add
# chromium:chromium and wrk:wrk here.
SYSTEM_COMMANDS ?=

.PHONY: install system-deps run test lint bench

install: system-deps $(VENV)/.installed

system-deps:
	@need=""; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || need="python3.11 python3.11-venv"; \
	for pair in $(SYSTEM_COMMANDS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || need="$$need $${pair#*:}"; \
	done; \
	if [ -n "$$need" ]; then \
	  echo "Installing system packages:$$need"; \
	  if [ "$$(id -u)" != 0 ]; then echo "As root: apt-get install -y$$need"; exit 1; fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$need; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/ruche migrate --no-input
	$(BIN)/ruche demo --deals $(DEMO_DEALS) --seed $(DEMO_SEED) --if-empty
	$(BIN)/ruche serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench
