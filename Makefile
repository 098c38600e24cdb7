# xolap — `make demo` runs the product on the embedded default with sample data; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_EVENTS ?= 1000000
PORT ?= 8000

.PHONY: help install venv assets browser lint test test-fast demo bench bench-schema bench-ingest bench-backfill bench-freshness bench-analytics clean

help:
	@echo "make demo   - set up, load ~1M generated events, serve at http://127.0.0.1:$(PORT)"
	@echo "make test   - install and run the whole test suite (incl. browser tests)"
	@echo "make lint   - ruff (lint + format check) on src, tests, bench and mypy on src"
	@echo "make bench  - run the benchmarks in bench/"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "xolap needs Python >= 3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Front-end assets come from npm and are served locally (no CDN).
assets:
	@if [ -f package.json ]; then \
	  command -v npm >/dev/null || { echo "npm (Node >= 20) is needed to build the web assets"; exit 1; }; \
	  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund; fi; \
	  npm run --silent build; \
	fi

install: venv assets

# Browser tests drive Debian's chromium; install it when missing and we may (root), else say how.
browser:
	@if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need chromium: sudo apt-get install -y chromium (Debian/Ubuntu)"; exit 1; fi; \
	fi

# Lint and types: CI runs this before the tests; a finding fails it.
lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src

# Two pytest-xdist workers (2 cores in CI); each module's tests, and all browser tests, stay on one worker
# (pytest_xdist_make_scheduler in tests/conftest.py). PYTEST_WORKERS=0 runs every test in one process.
PYTEST_WORKERS ?= 2

test: install browser
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

test-fast: install
	$(VENV)/bin/pytest -m "not browser and not slow"

demo: install
	$(VENV)/bin/xolap serve --demo --demo-events $(DEMO_EVENTS) --port $(PORT)

bench: bench-schema bench-ingest bench-backfill bench-freshness bench-analytics

bench-schema: install
	$(PY) bench/schema.py

bench-ingest: install
	$(PY) bench/ingest.py

bench-backfill: install
	$(PY) bench/backfill.py

bench-freshness: install
	$(PY) bench/freshness.py

bench-analytics: install
	$(PY) bench/analytics.py

clean:
	rm -rf $(VENV) node_modules src/xolap/web/static/vendor build dist *.egg-info
