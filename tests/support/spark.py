"""A Spark warehouse for tests: dbt, the loader and the test's own queries share one Spark session.

dbt-spark's `session` method starts Spark inside the Python process that runs dbt. Starting a JVM
per dbt command costs about 20 s, and the embedded metastore (Derby) admits one process at a time,
so here dbt runs in the test's own process (dbt's programmatic runner) and everything that follows
uses the session the first caller started: dbt, the loader (``--target spark``) and ``query``.

One process has one Spark session and one metastore, so a test module holds one Spark warehouse at a
time: ``reset`` empties it (both schemas) before the next data set is built.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support.warehouse import DEMO_AS_OF, REPO_ROOT, TEST_APPROVAL_ID, _environment, _normalize

SPARK_SCHEMA = "analytics"


class DbtResult:
    """What a test reads of a dbt command: whether it succeeded, a text report of every node's
    outcome (stdout, as Warehouse.dbt gives dbt's output), and the rows a `dbt show` returned."""

    def __init__(self, outcome: Any) -> None:
        self.returncode = 0 if outcome.success else 1
        self.stdout = _report(outcome)
        self.show_rows = _show_rows(outcome)


class SparkWarehouse:
    """The process's Spark warehouse under ``work_dir`` (Parquet tables and the Derby metastore)."""

    target = "spark"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.schema = SPARK_SCHEMA
        # Spark reads its settings when the session starts (the first caller in the process), and
        # pyspark returns timestamps in the Python process's time zone: make both UTC and ours.
        os.environ["BILLING_SPARK_DIR"] = str(work_dir / "spark")
        os.environ["TZ"] = "UTC"
        time.tzset()

    @property
    def env(self) -> dict[str, str]:
        """The whole environment of a dbt or loader call on this warehouse."""
        return {
            **os.environ,
            "BILLING_TARGET": "spark",
            "BILLING_SPARK_DIR": str(self.work_dir / "spark"),
            "BILLING_SPARK_SCHEMA": self.schema,
            "DBT_TARGET_PATH": str(self.work_dir / "dbt_target"),
            "DBT_LOG_PATH": str(self.work_dir / "dbt_logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # One shuffle partition: the test's few thousand rows in four made four tasks of every
            # stage, each with its own start-up (the Spark test took 7 min 45 s with one, against
            # 9 min 12 s with four, that run partly beside another test).
            "BILLING_SPARK_SHUFFLE_PARTITIONS": os.environ.get("BILLING_SPARK_SHUFFLE_PARTITIONS", "1"),
        }

    def environment(self) -> Any:
        """A context in which the loader and dbt address this warehouse."""
        return _environment(self.env)

    @property
    def session(self) -> Any:
        from warehouse_billing.warehouse import spark_session

        with _environment(self.env):
            return spark_session()

    def dbt(self, *args: str, as_of: str = DEMO_AS_OF, check: bool = True,
            project_dir: Path = REPO_ROOT, publish: bool = False, approve: bool = True,
            extra_vars: dict[str, Any] | None = None) -> DbtResult:
        """Run one dbt command in this process; with check, fail the test with what dbt reported."""
        from dbt.cli.main import dbtRunner

        if publish and approve and args[0] in ("build", "run"):
            # what the gated publication step does first: approve the ready invoices
            extra_vars = {"publication_approval_id": TEST_APPROVAL_ID, **(extra_vars or {})}
            self.dbt("run-operation", "record_publication_approval", "--args",
                     json.dumps({"approval_id": extra_vars["publication_approval_id"]}),
                     as_of=as_of, project_dir=project_dir, publish=True, extra_vars=extra_vars)
        dbt_vars = {"as_of": as_of, "publish": publish, **(extra_vars or {})}
        command = [
            *args,
            "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--vars", json.dumps(dbt_vars),
        ]
        with _environment(self.env):
            result = DbtResult(dbtRunner().invoke(command))
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed on spark:\n{result.stdout[-6000:]}")
        return result

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query with {schema} replaced by the models' schema; decimals normalized."""
        rows = self.session.sql(sql.format(schema=self.schema)).collect()
        return [tuple(_normalize(value) for value in row) for row in rows]

    def land_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Land raw usage rows (keeping their ingested_at) through the project's own loader."""
        from warehouse_billing.demo_data import write_events
        from warehouse_billing.loader import load_files

        path = self.work_dir / f"events_{len(list(self.work_dir.glob('events_*.jsonl')))}.jsonl"
        write_events(path, rows)
        with _environment(self.env):
            results = load_files([path], target="spark", keep_ingested_at=True)
        assert all(result.ok for result in results), [result.error for result in results]

    def reset(self) -> None:
        """Drop the models' schema and the raw schema: an empty warehouse for the next data set."""
        for schema in (self.schema, "raw"):
            self.session.sql(f"drop database if exists {schema} cascade")


def _report(outcome: Any) -> str:
    """One line per node: name, status and dbt's message; or the exception that stopped dbt."""
    if outcome.exception is not None:
        return str(outcome.exception)
    # a run-operation's results name no node
    return "\n".join(
        f"{getattr(getattr(result, 'node', None), 'name', 'operation')}: {result.status}: {result.message}"
        for result in getattr(outcome.result, "results", None) or []
    )


def _show_rows(outcome: Any) -> list[tuple] | None:
    results = getattr(outcome.result, "results", None) or []
    table = getattr(results[0], "agate_table", None) if len(results) == 1 else None
    if table is None:
        return None
    return [tuple(_normalize(value) for value in row) for row in table.rows]
