# One command for the demo, one for the tests; each installs what it needs on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint bench simulate setup infra-tools clean

demo: setup  ## offline: Azurite + sandbox + the real functions (pipeline failure, compute deletion, drift)
	$(PY) -m sandbox.demo

test: setup infra-tools lint  ## lint, unit, integration (Azurite + sandbox), KQL analysis, infra checks
	$(PY) -m pytest tests

lint: setup  ## ruff (lint and format) and mypy over shared/, function_app.py and sandbox/: 0 errors
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

bench: setup  ## performance figures against their references, measured in one run (also docs/benchmarks.md)
	$(PY) bench/bench.py --out docs/benchmarks.md

simulate: setup  ## a simulated day under load and faults: this app against the naive approach
	$(PY) -m sandbox.simulation

setup: $(VENV)/.installed node_modules/.installed

infra-tools: .venv-infra/.installed  ## checkov in its own venv (its pins clash with the app's)

.venv-infra/.installed: tests/infra/requirements-checkov.txt
	PYTHON=$(PYTHON) bash tests/infra/setup.sh
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-infra.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ with npm is required (Azurite, KQL analyser)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) .venv-infra node_modules .sandbox .pytest_cache .ruff_cache
