# The two commands the README promises: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export BILLING_DUCKDB_PATH ?= $(CURDIR)/warehouse/billing.duckdb
export DAGSTER_HOME ?= $(CURDIR)/dagster_home

.PHONY: setup demo test test-python lint postgres dagster-ui docs load bench clean

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

# Make sure the local PostgreSQL server is up (the test suite needs it and fails without it).
postgres:
	@pg_isready -q -h $${BILLING_PG_HOST:-127.0.0.1} -p $${BILLING_PG_PORT:-5432} \
	  || (echo "==> starting PostgreSQL" && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start \
	      && for i in $$(seq 1 30); do pg_isready -q -h $${BILLING_PG_HOST:-127.0.0.1} && break; sleep 1; done)
	@pg_isready -h $${BILLING_PG_HOST:-127.0.0.1} -p $${BILLING_PG_PORT:-5432}

lint: setup
	@echo "==> sqlfluff lint models (dbt templater)"
	BILLING_DUCKDB_PATH=$(CURDIR)/target/lint.duckdb $(BIN)/sqlfluff lint models

test-python: setup postgres
	@echo "==> pytest (dbt builds on DuckDB and Postgres, dbt unit tests, loader, Dagster)"
	$(BIN)/pytest -q

# The whole test suite.
test: lint test-python

# The dbt docs site: every model, column and test, and the lineage graph (the map of the project).
# Column types come from the warehouse at $$BILLING_DUCKDB_PATH (run `make demo` first for a full catalog).
docs: setup
	@mkdir -p warehouse
	$(BIN)/dbt docs generate --profiles-dir . --static --quiet
	@echo "==> open target/static_index.html (one self-contained file), or: $(BIN)/dbt docs serve --profiles-dir ."

dagster-ui: setup
	@mkdir -p warehouse
	$(BIN)/dbt parse --profiles-dir . --quiet
	$(BIN)/dagster dev -m orchestration.definitions

# Land your own usage files: make load FILES="a.jsonl b.csv" [TARGET=postgres]
load: setup
	$(BIN)/python -m warehouse_billing.loader --target $${TARGET:-duckdb} $(FILES)

# Benchmarks (not part of the test suite): make bench [BENCH_ARGS="--n 100000000"]
bench: setup postgres
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements-bench.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse dagster_home/storage dagster_home/history dagster_home/logs
