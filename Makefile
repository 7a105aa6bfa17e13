# The README's commands. Everything runs from the project's own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint format clean bench spark spark-jars spark-if-possible browser

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

## test: every test (Python, dbt, Delta, Spark); Azurite comes from npm, the Spark engine from
## PyPI and Maven Central (its tests are skipped, saying so, where Java or Maven is missing)
test: $(INSTALLED) node_modules/.package-lock.json spark-if-possible browser
	$(BIN)/pytest

## browser: Debian's Chromium and ChromeDriver, for the report's browser test (apt keeps the
## packages it fetched in its cache; an installed pair is left as it is)
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		$(APT) update -q && $(APT) install -y -q --no-install-recommends chromium chromium-driver; \
	else \
		echo "no apt-get here: the report's browser test will be skipped"; \
	fi

spark-if-possible:
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
		$(MAKE) --no-print-directory spark; \
	else \
		echo "no Java or Maven here: the Spark engine's tests will be skipped"; \
	fi

## spark: the Spark engine (pyspark, dbt-spark) in the virtual environment, and its Delta jars
SPARK_INSTALLED := $(VENV)/.installed-spark
$(SPARK_INSTALLED): $(INSTALLED) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

spark: $(SPARK_INSTALLED) spark-jars

## spark-jars: resolve the Delta Lake jars (spark/pom.xml) from Maven Central into the jar cache
## (DICOM_LAKE_SPARK_JARS_DIR, default ~/.cache/dicom-lake/spark-jars); a second run reuses it
SPARK_JARS_DIR ?= $(or $(DICOM_LAKE_SPARK_JARS_DIR),$(HOME)/.cache/dicom-lake/spark-jars)
# the cache holds the POM it was resolved from: a new clone with the same POM reuses it
spark-jars:
	@if ! cmp -s spark/pom.xml $(SPARK_JARS_DIR)/.resolved; then \
		rm -rf $(SPARK_JARS_DIR) && mkdir -p $(SPARK_JARS_DIR) && \
		mvn --quiet --batch-mode -f spark/pom.xml \
			org.apache.maven.plugins:maven-dependency-plugin:3.11.0:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory=$(SPARK_JARS_DIR) && \
		cp spark/pom.xml $(SPARK_JARS_DIR)/.resolved; \
	fi

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
