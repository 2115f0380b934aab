"""Shared pytest fixtures: a throwaway DuckDB file and a throwaway Postgres database.

Postgres tests fail (they do not skip) when the server is unreachable: CI must prove both warehouses.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Import the project's package from this checkout even when it is not installed.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

PG_TEST_DATABASE_PREFIX = "billing_test_loader_"


@pytest.fixture
def duckdb_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point BILLING_DUCKDB_PATH at a fresh file in tmp_path; returns the path."""
    path = str(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("BILLING_DUCKDB_PATH", path)
    return path


@pytest.fixture
def postgres_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Create a throwaway database, point BILLING_PG_DATABASE at it, drop it afterwards."""
    import psycopg2

    from warehouse_billing.warehouse import postgres_settings

    settings = postgres_settings()
    name = PG_TEST_DATABASE_PREFIX + uuid.uuid4().hex[:12]
    try:
        admin = psycopg2.connect(**{**settings, "dbname": "postgres"}, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {settings['host']}:{settings['port']} is unreachable: {exc}")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        monkeypatch.setenv("BILLING_PG_DATABASE", name)
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_target(request: pytest.FixtureRequest) -> str:
    """Run a test once per warehouse, each against its own throwaway database; returns the target."""
    request.getfixturevalue(f"{request.param}_warehouse")
    return request.param
