"""Shared pytest fixtures: throwaway warehouses, and the builds several test files start from.

The helpers behind them live in ``tests/support`` (a package: ``from support.warehouse import ...``);
test modules import from there, never from one another. Postgres tests fail (they do not skip) when
the server is unreachable: CI must prove both warehouses.

The suite runs on several pytest-xdist workers (``make test``). What would collide between workers
is kept apart here: each worker gets its own Dagster home, default DuckDB file and quality-report
folder, and only one process at a time may re-parse the dbt project into the checkout's ``target/``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.publishing import check_final_states, forget_final_states, publish
from support.scenario import AS_OF, build_scenario, scenario_events, scenario_project
from support.shared import build_once
from support.warehouse import Warehouse, land_rows, postgres_database

REPO_ROOT = Path(__file__).resolve().parents[1]
# Import the project's package from this checkout even when it is not installed.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

PG_TEST_DATABASE_PREFIX = "billing_test_loader_"
POSTGRES_TEST_OPTIONS = "-c jit=off"
# Held while the checkout's dbt manifest is checked and, if stale, re-parsed (target/ is shared by
# every worker of this run, and by any other pytest run in the same checkout).
MANIFEST_LOCK = REPO_ROOT / "target" / ".pytest_manifest.lock"


# The longest files first (from pytest --durations). `make test` hands whole files to the next free
# xdist worker in collection order (--dist loadfile --no-loadscope-reorder): the long ones must start
# early for both workers to finish together. Any other file follows in its usual order.
# test_spark.py is the longest (a Spark session, minutes); in its alphabetical place it started last
# and ran alone for about 7 minutes while the other worker sat idle.
LONGEST_FILES = (
    "test_spark.py",
    "test_incremental_windows.py",
    "test_pipeline_builds.py",
    "test_publication_job.py",
    "test_corrections_across_warehouses.py",
    "test_load_batches.py",
    "test_usage_and_spend_incremental.py",
    "test_alert_notifications.py",
    "test_rebilling.py",
    "test_corrections.py",
    "test_publication_guarantees.py",
    "test_concurrency.py",
    "test_parse_reuse.py",
    "test_quality_checks.py",
    "test_credit_notes.py",
    "test_late_events.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of LONGEST_FILES first, longest file first; keep the order within each file."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test's body passed, and before its fixtures drop its warehouses, run the data tests on
    what ``support.publishing.build`` left (the module says why they wait until then)."""
    try:
        result = yield
    except BaseException:
        forget_final_states()  # the test failed already
        raise
    check_final_states()
    return result


def pytest_configure(config: pytest.Config) -> None:
    """On an xdist worker, parse the checkout's dbt project before collection, one worker at a time.

    Importing ``orchestration.definitions`` (as test modules do) parses the project into
    ``target/`` when the manifest is stale; two workers doing so together would write the same
    files at once. The first worker parses under the lock, the others find a fresh manifest.
    """
    if not hasattr(config, "workerinput"):
        return
    from filelock import FileLock

    from orchestration.resources import prepare_manifest

    MANIFEST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(MANIFEST_LOCK)):
        prepare_manifest()


@pytest.fixture(scope="session", autouse=True)
def worker_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give this worker its own Dagster home, default DuckDB file and report folder.

    Tests that need a warehouse set their own; these defaults only make sure that nothing a test
    forgets to set lands in the developer's ``warehouse/`` or ``dagster_home/``, or in another
    worker's files.
    """
    home = tmp_path_factory.mktemp("worker_env")
    (home / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
        patch.setenv("BILLING_DUCKDB_PATH", str(home / "default.duckdb"))
        # the dashboards' copy goes beside each test's warehouse, not to a developer's configured one
        patch.delenv("BILLING_DASHBOARD_DUCKDB_PATH", raising=False)
        patch.setenv("BILLING_QUALITY_REPORTS_DIR", str(home / "quality_reports"))
        # the dbt subprocesses of the Dagster jobs too: no dbt.log (support.warehouse.Warehouse.env says why)
        patch.setenv("DBT_LOG_LEVEL_FILE", os.environ.get("DBT_LOG_LEVEL_FILE", "none"))
        # Every Postgres session of the tests (dbt, the loader, the tests' own queries: libpq reads
        # PGOPTIONS) without JIT compilation. On the tests' small tables the planner's estimates still
        # pass jit_above_cost, and compiling took longer than running: a dbt run of the contract
        # scenario 8.6 s with JIT, 5.0 s without; a build 20.4 s against 16.5 s. JIT changes how a
        # plan executes, never its result.
        patch.setenv("PGOPTIONS", " ".join(filter(None, [os.environ.get("PGOPTIONS"), POSTGRES_TEST_OPTIONS])))
        yield


@pytest.fixture
def duckdb_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point BILLING_DUCKDB_PATH at a fresh file in tmp_path; returns the path."""
    path = str(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("BILLING_DUCKDB_PATH", path)
    return path


@pytest.fixture
def postgres_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Create a throwaway database, point BILLING_PG_DATABASE at it, drop it afterwards."""
    with postgres_database(prefix=PG_TEST_DATABASE_PREFIX) as name:
        monkeypatch.setenv("BILLING_PG_DATABASE", name)
        yield name


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_target(request: pytest.FixtureRequest) -> str:
    """Run a test once per warehouse, each against its own throwaway database; returns the target."""
    request.getfixturevalue(f"{request.param}_warehouse")
    return request.param


@pytest.fixture(scope="session")
def scenario_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, Path]:
    """The contract scenario landed and built on DuckDB (no publication), once per run.

    With the usage and spend marts (the scenario's figures and the portal views read them). Returns the
    warehouse and its project copy. Several files start from this state (the scenario's
    figures, the publication guarantees, late events): they take a copy with
    ``support.warehouse.copy_duckdb`` and never open this file themselves.
    """

    def build(folder: Path) -> None:
        build_scenario(Warehouse("duckdb", folder), scenario_project(folder), scenario_events(), AS_OF,
                       usage_and_spend=True)

    folder = build_once(tmp_path_factory, "scenario_duckdb", build)
    return Warehouse("duckdb", folder), folder / "project"


@pytest.fixture(scope="session")
def published_scenario(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The contract scenario landed, built and published at its as_of on DuckDB (billing only), once per
    run. The correction tests start from it: each takes a copy (``copy_duckdb``) and a project copy of
    its own (``scenario_project``) to edit."""

    def build(folder: Path) -> None:
        warehouse = Warehouse("duckdb", folder)
        land_rows(warehouse, scenario_events())
        publish(warehouse, scenario_project(folder), AS_OF)
        check_final_states()  # its data tests now, before any other process may copy the file

    return Warehouse("duckdb", build_once(tmp_path_factory, "published_scenario_duckdb", build))


@pytest.fixture(params=["duckdb", "postgres"])
def target_database(request) -> Iterator[tuple[str, str | None]]:
    """Each warehouse in turn: ("duckdb", None), then ("postgres", a throwaway database)."""
    if request.param == "duckdb":
        yield "duckdb", None
    else:
        with postgres_database() as database:
            yield "postgres", database

