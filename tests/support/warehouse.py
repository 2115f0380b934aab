"""Throwaway warehouses for tests: run the dbt project against one, land rows in it, read its marts.

Each warehouse gets its own target and log directories, so test runs never share dbt's target/
folder with a developer's run or with each other (nor with another pytest-xdist worker). The one
throwaway-Postgres helper, ``postgres_database``, lives here too: the ``postgres_warehouse`` fixture
and the tests that build on Postgres both use it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
DEMO_AS_OF = "2026-11-21T00:00:00"


class Warehouse:
    """One throwaway warehouse: a DuckDB file or a Postgres database, and the env that points dbt at it."""

    def __init__(self, target: str, work_dir: Path, pg_database: str | None = None) -> None:
        self.target = target
        self.work_dir = work_dir
        self.duckdb_path = str(work_dir / "warehouse.duckdb")
        self.pg_database = pg_database
        self.schema = "main" if target == "duckdb" else "analytics"

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BILLING_TARGET": self.target,
            "BILLING_DUCKDB_PATH": self.duckdb_path,
            "DBT_TARGET_PATH": str(self.work_dir / "dbt_target"),
            "DBT_LOG_PATH": str(self.work_dir / "dbt_logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        if self.pg_database:
            env["BILLING_PG_DATABASE"] = self.pg_database
        return env

    def dbt(self, *args: str, as_of: str = DEMO_AS_OF, check: bool = True,
            project_dir: Path = REPO_ROOT, publish: bool = False,
            extra_vars: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """Run one dbt command; with check, fail the test with dbt's output when dbt fails."""
        dbt_vars = {"as_of": as_of, "publish": publish, **(extra_vars or {})}
        command = [
            DBT_EXECUTABLE, *args,
            "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--vars", json.dumps(dbt_vars),
        ]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed on {self.target}:\n{result.stdout[-6000:]}")
        return result

    def connect(self) -> Any:
        if self.target == "duckdb":
            return duckdb.connect(self.duckdb_path)
        from warehouse_billing.warehouse import postgres_settings

        return psycopg2.connect(**{**postgres_settings(), "dbname": self.pg_database})

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query with {schema} replaced by the models' schema; decimals normalized."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql.format(schema=self.schema))
            rows = cursor.fetchall()
        finally:
            connection.close()
        return [tuple(_normalize(value) for value in row) for row in rows]

    def execute(self, sql: str) -> None:
        """Run one statement that changes data ({schema} replaced), committed."""
        connection = self.connect()
        try:
            connection.cursor().execute(sql.format(schema=self.schema))
            connection.commit()
        finally:
            connection.close()


def copy_duckdb(source: Warehouse, work_dir: Path) -> Warehouse:
    """A new DuckDB warehouse in ``work_dir`` holding a copy of ``source``'s file (no process may
    have ``source`` open for writing). Tests that change data take a copy of a shared build."""
    work_dir.mkdir(parents=True, exist_ok=True)
    copy = Warehouse("duckdb", work_dir)
    shutil.copy(source.duckdb_path, copy.duckdb_path)
    return copy


def _normalize(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize() if value != 0 else Decimal(0)
    return value


@contextmanager
def postgres_database(prefix: str = "billing_test_") -> Iterator[str]:
    """A throwaway Postgres database; the test fails (never skips) when the server is unreachable."""
    from warehouse_billing.warehouse import postgres_settings

    settings = postgres_settings()
    name = prefix + uuid.uuid4().hex[:12]
    try:
        admin = psycopg2.connect(**{**settings, "dbname": "postgres"}, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise AssertionError(f"PostgreSQL at {settings['host']}:{settings['port']} is unreachable: {exc}") from exc
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def land_rows(warehouse: Warehouse, rows: Sequence[dict[str, Any]]) -> None:
    """Land raw usage rows (keeping their ingested_at) through the project's own loader."""
    from warehouse_billing.demo_data import write_events
    from warehouse_billing.loader import load_files

    path = warehouse.work_dir / f"events_{uuid.uuid4().hex[:8]}.jsonl"
    write_events(path, rows)
    env_keys = {"BILLING_DUCKDB_PATH": warehouse.duckdb_path}
    if warehouse.pg_database:
        env_keys["BILLING_PG_DATABASE"] = warehouse.pg_database
    saved = {key: os.environ.get(key) for key in env_keys}
    os.environ.update(env_keys)
    try:
        results = load_files([path], target=warehouse.target, keep_ingested_at=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert all(result.ok for result in results), [result.error for result in results]
