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

# System packages (Debian), installed with apt-get only when missing: "command:package" pairs
# are checked with `command -v`, plain names (libraries, fonts) with dpkg. The app needs Node.js
# to build its front-end assets, and Pango and fonts for WeasyPrint's PDFs; the browser tests
# need Chromium; the benchmarks need wrk.
RUN_SYSTEM := node:nodejs npm:npm libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
TEST_SYSTEM := chromium:chromium
BENCH_SYSTEM := wrk:wrk

.PHONY: install system-deps run test lint bench screenshots

install: system-deps $(VENV)/.installed node_modules/.installed ruche/web/static/vendor/.built

# `make system-deps SYSTEM="..."` installs what is missing of the given list.
SYSTEM ?= $(RUN_SYSTEM)
system-deps:
	@need=""; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || need="python3.11 python3.11-venv"; \
	for item in $(SYSTEM); do \
	  case "$$item" in \
	    *:*) command -v "$${item%%:*}" >/dev/null 2>&1 || need="$$need $${item#*:}" ;; \
	    *) dpkg-query -W -f='$${Status}' "$$item" 2>/dev/null | grep -q "ok installed" \
	         || need="$$need $$item" ;; \
	  esac; \
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

# Front-end packages from the lockfile, built into static files (no CDN at run time).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

ruche/web/static/vendor/.built: node_modules/.installed ruche/web/assets/build.mjs
	npm run build
	touch $@

run: install
	$(BIN)/ruche migrate --no-input
	$(BIN)/ruche demo --deals $(DEMO_DEALS) --seed $(DEMO_SEED) --if-empty
	$(BIN)/ruche serve --host $(HOST) --port $(PORT)

test: install
	@$(MAKE) --no-print-directory system-deps SYSTEM="$(TEST_SYSTEM)"
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	@$(MAKE) --no-print-directory system-deps SYSTEM="$(BENCH_SYSTEM)"
	$(BIN)/python -m bench
	$(BIN)/python -m bench.import_bench

# PNGs of the main pages at desktop and phone widths, for the README.
screenshots: install
	@$(MAKE) --no-print-directory system-deps SYSTEM="$(TEST_SYSTEM)"
	$(BIN)/ruche migrate --no-input
	$(BIN)/ruche demo --deals $(DEMO_DEALS) --seed $(DEMO_SEED) --if-empty
	$(BIN)/python -m ruche.web.screenshots --out docs/screenshots
	$(BIN)/python -m ruche.billing.screenshots --out docs/screenshots
