# The README's commands. Everything runs from the project's own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint format clean bench

BENCH_SIZE ?= 20k

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## demo: start the bundled local DICOM service with sample data, run the job, show the tables
demo: $(INSTALLED)
	$(BIN)/dicom-lake demo

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

## test: every test (Python, dbt, Delta); Azurite comes from npm
test: $(INSTALLED) node_modules/.package-lock.json
	$(BIN)/pytest

## bench: build, publication, an incremental run and extraction, timed against the floor
## (BENCH_SIZE=100k or 1M; writes bench/results/<size>.json)
bench: $(INSTALLED)
	$(BIN)/python -m bench run --size $(BENCH_SIZE) $(BENCH_ARGS)

## lint: ruff and mypy (Python), sqlfluff (SQL)
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy extractor
	mkdir -p target/sqlfluff && cp profiles.example.yml target/sqlfluff/profiles.yml
	$(BIN)/sqlfluff lint models macros

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) demo-lake .pytest_cache
