# The two commands the README promises: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export BILLING_DUCKDB_PATH ?= $(CURDIR)/warehouse/billing.duckdb
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: java browser setup demo dashboard test test-all test-side test-spark test-browser test-fast test-python test-pure test-unit lint postgres dagster-ui docs metrics load consume-kafka bench bench-kafka clean

# Create the virtual environment from the pinned lock file (uv makes a re-run take about a second).
$(BIN)/dbt: requirements.lock pyproject.toml
	@echo "==> creating $(VENV) from requirements.lock"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(BIN)/dbt

setup: $(BIN)/dbt

# Generate the demo data, land it in DuckDB, run the invoice publication job and print a summary.
demo: setup
	@mkdir -p warehouse
	$(BIN)/python -m warehouse_billing.demo

# Spark (the spark target and its tests) needs Java 17: installed from Debian when missing, or a clear
# message where that cannot be done (not root, no apt).
java:
	@java -version 2>&1 | grep -q 'version "17' \
	  || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	      && echo "==> installing Java 17 (openjdk-17-jre-headless)" \
	      && apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	  || (echo "error: Spark needs Java 17: install openjdk-17-jre-headless (Debian/Ubuntu) or another JDK 17 and put its java on PATH" >&2; exit 1)

# The dashboards' browser test needs Chromium: Debian's, installed when missing (root and apt), or a
# clear message where that cannot be done.
browser:
	@command -v chromium >/dev/null \
	  || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	      && echo "==> installing Chromium (Debian package chromium)" \
	      && apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || (echo "error: the dashboards' browser test needs Chromium: install Debian's chromium package or put a chromium on PATH" >&2; exit 1)

# The dashboards (README "Dashboards"): the finance and customer pages on the demo warehouse's read-only
# copy (made by `make demo`, which runs first if there is no copy), or on Postgres with BILLING_TARGET=postgres.
DASHBOARD_PORT ?= 8501
DASHBOARD_ADDRESS ?= 127.0.0.1
DASHBOARD_COPY := $(or $(BILLING_DASHBOARD_DUCKDB_PATH),$(dir $(BILLING_DUCKDB_PATH))dashboard/$(notdir $(BILLING_DUCKDB_PATH)))
dashboard: setup
	@if [ "$${BILLING_TARGET:-duckdb}" = duckdb ] && [ ! -f "$(DASHBOARD_COPY)" ]; then \
	  echo "==> no dashboard copy at $(DASHBOARD_COPY): running make demo first"; $(MAKE) --no-print-directory demo; fi
	@echo "==> finance:  http://$(DASHBOARD_ADDRESS):$(DASHBOARD_PORT)/finance"
	@echo "==> customer: http://$(DASHBOARD_ADDRESS):$(DASHBOARD_PORT)/customer?customer_id=cus_0061"
	$(BIN)/streamlit run dashboards/app.py --server.headless true --server.port $(DASHBOARD_PORT) \
	  --server.address $(DASHBOARD_ADDRESS) --browser.gatherUsageStats false

# Make sure the local PostgreSQL server is up (the test suite needs it and fails without it).
postgres:
	@pg_isready -q -h $${BILLING_PG_HOST:-127.0.0.1} -p $${BILLING_PG_PORT:-5432} \
	  || (echo "==> starting PostgreSQL" && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start \
	      && for i in $$(seq 1 30); do pg_isready -q -h $${BILLING_PG_HOST:-127.0.0.1} && break; sleep 1; done)
	@pg_isready -h $${BILLING_PG_HOST:-127.0.0.1} -p $${BILLING_PG_PORT:-5432}

# The dbt templater compiles the project: into its own target folder, so that a lint running beside
# pytest (make test-fast) never writes the manifest the Dagster tests read, and a re-run parses partially.
lint: setup
	@echo "==> sqlfluff lint models (dbt templater)"
	BILLING_DUCKDB_PATH=$(CURDIR)/target/lint.duckdb DBT_TARGET_PATH=$(CURDIR)/target/lint \
	  DBT_LOG_PATH=$(CURDIR)/target/lint/logs $(BIN)/sqlfluff lint models --processes 2

# pytest on two workers (pytest-xdist), one per core (three were slower: 19.5 against about 17 minutes,
# as Postgres and Spark's JVM keep the cores busy too). Whole files at a time: tests of one file share module-scoped
# builds and some run in order. Builds used by several files are made once per run (tests/support/shared.py).
# (--dist loadgroup would spread files finer, but does not group at all with pytest 9.2: xdist issue 1386.)
PYTEST_PARALLEL ?= -n 2 --dist loadfile --no-loadscope-reorder

test-python: setup postgres
	@echo "==> pytest (dbt builds on DuckDB and Postgres, dbt unit tests, loader, Kafka, Dagster)"
	$(BIN)/pytest -q $(PYTEST_PARALLEL) -m "not spark and not browser" --durations=20

# The same project on Apache Spark (SPEC 6.5): about 6 minutes alone, one Spark session in one process.
# Apart from `make test` because it is CPU-bound: beside the other workers it made the suite 3 to 4
# minutes longer than it takes alone. Only its own file is collected: collecting the others imports the
# Dagster definitions, which parse the project into target/ (test-all runs this beside `make test`).
test-spark: setup java
	@echo "==> pytest -m spark (the project on a local Spark session; Java 17)"
	$(BIN)/pytest -q -m spark --durations=10 tests/test_spark.py

# The dashboards in headless Chromium (tests/test_dashboards_browser.py): `make dashboard`
# as a person runs them, in a scratch folder, then each page read and photographed (target/screenshots/).
# On a copy of the contract scenario's warehouse, not the demo (the test says why): under a minute;
# beside `make test` in test-all, after Spark.
test-browser: setup browser
	@echo "==> pytest -m browser (make dashboard on the contract scenario, in headless Chromium)"
	$(BIN)/pytest -q -m browser --durations=5 tests/test_dashboards_browser.py

# The pytest tests that build no dbt project (marker `warehouse`): generator, loader, Dagster
# definitions, quality checks on tiny tables.
test-pure: setup postgres
	@echo "==> pytest -m 'not warehouse'"
	$(BIN)/pytest -q $(PYTEST_PARALLEL) -m "not warehouse"

# The dbt unit tests alone. They need their models' parents to exist, so the seeds are loaded and the
# models built empty (`--empty`, zero rows) on a scratch DuckDB file, with the data tests left out.
UNIT_DIR := $(CURDIR)/target/unit_tests
test-unit: setup
	@echo "==> dbt unit tests (models built empty on a scratch DuckDB file)"
	@rm -rf $(UNIT_DIR) && mkdir -p $(UNIT_DIR) && : > $(UNIT_DIR)/no_events.jsonl
	@export BILLING_TARGET=duckdb BILLING_DUCKDB_PATH=$(UNIT_DIR)/unit.duckdb \
	  DBT_TARGET_PATH=$(UNIT_DIR)/target DBT_LOG_PATH=$(UNIT_DIR)/logs \
	  && $(BIN)/python -m warehouse_billing.loader --target duckdb $(UNIT_DIR)/no_events.jsonl > /dev/null \
	  && $(BIN)/dbt build --empty --exclude tag:publication test_type:data --profiles-dir . --quiet
	@echo "==> dbt unit tests passed"

# The test suite on DuckDB and Postgres (under 15 minutes on 2 cores).
test: lint test-python

# The whole test suite: everything above and the Spark engine (what CI runs), side by side: Spark is
# one CPU-bound process and fills what the two pytest workers leave idle (each one's output is printed
# when it finishes; the first failure fails the whole). Java and Chromium are installed, when missing,
# by the side lane itself, so that pytest does not wait for apt.
test-all: setup postgres
	@$(MAKE) --no-print-directory -j2 --output-sync=target test test-side

# What test-all runs beside `make test`: the dashboards in a browser, then Spark (one after the other).
# Spark at a lower CPU priority: its JVM took both cores from the two pytest workers, which are the
# longer path (CI at 62380f8: Spark 18 min beside pytest's 44, the first test files at half speed);
# niced, it runs on what the workers leave idle, and finishes alone after them.
test-side:
	@$(MAKE) --no-print-directory test-browser
	@nice -n 15 $(MAKE) --no-print-directory test-spark

# The edit loop, under 3 minutes: lint, the dbt unit tests and pytest without the warehouse builds,
# side by side (each one's output is printed when it finishes).
test-fast: setup postgres
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint test-unit test-pure

# The dbt docs site: every model, column and test, and the lineage graph (the map of the project).
# Column types come from the warehouse at $$BILLING_DUCKDB_PATH (run `make demo` first for a full catalog).
docs: setup
	@mkdir -p warehouse
	$(BIN)/dbt docs generate --profiles-dir . --static --quiet
	@echo "==> open target/static_index.html (one self-contained file), or: $(BIN)/dbt docs serve --profiles-dir ."

# The semantic layer (README "Semantic layer"): parse the project into target/ (mf reads
# target/semantic_manifest.json there, whatever DBT_TARGET_PATH says), then check every semantic model,
# dimension, measure and metric against the warehouse at $$BILLING_DUCKDB_PATH (run `make demo` first),
# or run one query: make metrics QUERY="--metrics billed_revenue --group-by invoice__currency".
# DuckDB lets one process write a file: stop `make dagster-ui` runs first.
metrics: setup
	DBT_TARGET_PATH=$(CURDIR)/target $(BIN)/dbt parse --profiles-dir . --quiet
	DBT_PROFILES_DIR=$(CURDIR) $(BIN)/mf $(if $(QUERY),query $(QUERY),validate-configs)

dagster-ui: setup
	@mkdir -p warehouse
	$(BIN)/dbt parse --profiles-dir . --quiet
	$(BIN)/dagster dev -m orchestration.definitions

# Land your own usage files: make load FILES="a.jsonl b.csv" [TARGET=postgres]
load: setup
	$(BIN)/python -m warehouse_billing.loader --target $${TARGET:-duckdb} $(FILES)

# Land a Kafka topic until stopped (BILLING_KAFKA_* in the environment): make consume-kafka [TARGET=postgres]
consume-kafka: setup
	$(BIN)/python -m warehouse_billing.kafka_consumer --target $${TARGET:-duckdb}

# Benchmarks (not part of the test suite): make bench [BENCH_ARGS="--n 100000000"]. The Kafka ingestion
# rate (bench/kafka.py, about a minute) runs first; `make bench-kafka` runs it alone.
bench: setup postgres
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements-bench.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m bench.kafka
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-kafka: setup postgres
	$(BIN)/python -m bench.kafka $(BENCH_KAFKA_ARGS)

clean:
	rm -rf target logs warehouse dagster_home/storage dagster_home/history dagster_home/logs
