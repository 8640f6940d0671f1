# leftshift: `make run` and `make test` set everything up on a machine with only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := constraints.txt

.PHONY: run app test test-all lint bench case-study clean constraints

# the exact versions in constraints.txt, so a new upstream release cannot break `make test`
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c $(CONSTRAINTS)
	touch $(STAMP)

constraints:  ## refresh constraints.txt: the newest versions pyproject.toml allows, in a fresh venv
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Exact versions make installs from (pip install -c constraints.txt); made by make constraints."; \
	  echo "# Refresh: make constraints (a fresh venv with the newest versions pyproject.toml allows)."; \
	  .venv-constraints/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS)
	rm -rf .venv-constraints

run: $(STAMP)  ## run the default scenario and write outputs/baseline/
	$(BIN)/leftshift run configs/baseline.toml --out outputs/baseline

app: $(STAMP)  ## serve the scenario explorer on http://127.0.0.1:8501
	$(BIN)/leftshift app

test: $(STAMP)  ## the default suite on 2 processes with coverage of sim/ (fails under 90%), and the short benchmark
	$(BIN)/python -m sim.engines.compiled  # compile the fast engine once, before the workers start
	$(BIN)/python -m pytest -n 2 --dist loadfile --cov=sim --cov-report=term-missing:skip-covered --cov-fail-under=90
	$(BIN)/python -m pytest benches -m benchshort -s

test-all: $(STAMP)  ## every test, including the slow statistical ones
	$(BIN)/python -m pytest -m "not bench"

case-study: $(STAMP)  ## the left-shift case study (experiments/left_shift/): outputs/left_shift/report.html
	$(BIN)/python experiments/left_shift/case_study.py --out outputs/left_shift

lint: $(STAMP)
	$(BIN)/ruff check sim tests benches experiments
	$(BIN)/ruff format --check sim tests benches experiments
	$(BIN)/mypy

bench: $(STAMP)
	mkdir -p outputs
	$(BIN)/python -m pytest benches -m bench --benchmark-json=outputs/bench.json

clean:
	rm -rf $(VENV) .venv-constraints outputs .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.*
