"""invoice_publication_job end to end on a throwaway DuckDB: what it publishes, and what stops it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterEventType, ExecuteInProcessResult
from support.projects import copy_project

from orchestration.definitions import build_definitions
from warehouse_billing.demo import ingestion_span
from warehouse_billing.demo_data import generate_events, write_events
from orchestration.jobs import BILLING_STEP, PUBLICATION_JOB, PUBLICATION_STEP, run_config_for
from warehouse_billing.loader import load_files
from orchestration.dashboard_copy import DASHBOARD_COPY
from orchestration.partitions import partition_range_for, partition_range_tags
from orchestration.quality_checks import QUALITY_STEP
from warehouse_billing.quality.config import load_quality_config
from orchestration.resources import build_dbt_project

AS_OF = "2026-11-21T00:00:00"

pytestmark = pytest.mark.warehouse


# The fixture's rows arrive in the two days before the clock (their arrival order kept): a job run
# records every partition of every asset in its range, and two partitions say what 32 do.
ARRIVAL_START = datetime(2026, 11, 19)
ARRIVAL_SPAN_DAYS = 2


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file holding a small demo data set in raw.usage_events: a month before the clock
    and the open month, so October's invoices are ready, all of it landed in the last two days (a
    backfill of a new deployment): the run covers two daily partitions, not the 32 of the usage's days."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("BILLING_DUCKDB_PATH", str(path))
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_QUALITY_REPORTS_DIR", str(tmp_path / "quality_reports"))
    rows = generate_events(start="2026-10-20", scale=0.05)
    first = min(row["ingested_at"] for row in rows)
    last = max(row["ingested_at"] for row in rows)
    squeeze = ARRIVAL_SPAN_DAYS / ((last - first) / timedelta(days=1) + 1)
    for row in rows:
        row["ingested_at"] = max(row["ingested_at"], ARRIVAL_START + (row["ingested_at"] - first) * squeeze)
    events = tmp_path / "events.jsonl"
    write_events(events, rows)
    (result,) = load_files([events], target="duckdb", keep_ingested_at=True)
    assert result.ok, result.error
    key_range = partition_range_for(ingestion_span(path))
    assert (key_range.start, key_range.end) == ("2026-11-19", "2026-11-20")
    return path


def _every_landed_day(warehouse: Path) -> dict[str, str]:
    """Run tags for one run over the partitions of every ingestion day in the warehouse."""
    return partition_range_tags(partition_range_for(ingestion_span(warehouse)))


def _run(warehouse: Path, project_dir: Path | None = None) -> ExecuteInProcessResult:
    defs = build_definitions(build_dbt_project(project_dir))
    return defs.resolve_job_def(PUBLICATION_JOB).execute_in_process(
        run_config=run_config_for(AS_OF),
        tags=_every_landed_day(warehouse),
        raise_on_error=False,
    )


def _dbt_args(result: ExecuteInProcessResult, step: str) -> dict[str, Any]:
    """The arguments dbt ran with in one step of a run (dagster-dbt keeps its run_results.json)."""
    project = build_dbt_project()
    (invocation,) = sorted((project.project_dir / project.target_path).glob(f"{step}-{result.run_id[:7]}-*"))
    return json.loads((invocation / "run_results.json").read_text(encoding="utf-8"))["args"]


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _table_exists(path: Path, table: str) -> bool:
    sql = f"select count(*) from information_schema.tables where table_name = '{table}'"
    return _query(path, sql)[0][0] > 0


def test_publishes_every_ready_invoice_once(warehouse: Path) -> None:
    first = _run(warehouse)
    assert first.success
    _assert_great_expectations_ran(first, warehouse.parent / "quality_reports")

    def q(sql: str) -> list[tuple[Any, ...]]:
        return _query(warehouse, sql)

    ready = {row[0] for row in q("select invoice_id from invoices where status = 'ready'")}
    published = q(
        "select invoice_id, invoice_number, total_due from published_invoices order by invoice_number"
    )
    assert ready, "the demo data should give ready invoices at this as_of"
    assert {invoice_id for invoice_id, _, _ in published} == ready
    assert [number for _, number, _ in published] == list(range(1, len(ready) + 1))

    # Lines: exactly the invoice_lines of the published invoices, summing to each total_due.
    line_columns = "invoice_line_id, invoice_id, line_type, product_id, amount"
    lines = q(f"select {line_columns} from published_invoice_lines order by invoice_line_id")
    expected = q(
        f"select {line_columns} from invoice_lines "
        "where invoice_id in (select invoice_id from invoices where status = 'ready') order by invoice_line_id"
    )
    assert lines == expected
    sums: dict[str, Decimal] = {}
    for _, invoice_id, _, _, amount in lines:
        sums[invoice_id] = sums.get(invoice_id, Decimal(0)) + amount
    assert {invoice_id: total for invoice_id, _, total in published} == {
        invoice_id: sums.get(invoice_id, Decimal(0)) for invoice_id, _, _ in published
    }

    assert not _dbt_args(first, BILLING_STEP).get("full_refresh")
    # the job's last step refreshed the dashboards' read-only copy (decision 57) with this run's marts
    copy = warehouse.parent / "dashboard" / warehouse.name
    for sql in ("select * from invoices order by 1", "select * from published_invoices order by 1"):
        assert _query(copy, sql) == q(sql)
    # A second run, plain or full refresh, publishes nothing new and changes nothing: dbt leaves the
    # published_* models alone (test_publication_guarantees.py reruns and fully refreshes them), and
    # the run config's full_refresh becomes dbt's --full-refresh (test_dagster_definitions.py). A
    # second job run here took about 90 s of the suite to prove both again.


def _assert_great_expectations_ran(result: ExecuteInProcessResult, reports: Path) -> None:
    """Every GX check ran before publication, only warnings may have failed, and a report was written."""
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    config = load_quality_config()
    assert set(config.names()) <= set(evaluations)
    for settings in config:
        evaluation = evaluations[settings.name]
        assert evaluation.passed or not settings.blocking, evaluation.description
        expected = AssetCheckSeverity.ERROR if settings.blocking else AssetCheckSeverity.WARN
        assert evaluation.severity == expected
    assert (reports / result.run_id / "index.html").exists()
    order = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert order == [BILLING_STEP, QUALITY_STEP, PUBLICATION_STEP, DASHBOARD_COPY]


def test_a_failing_dbt_test_stops_publication(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(tmp_path / "project")
    currencies = project / "seeds" / "currencies.csv"
    header, first_row, *rest = currencies.read_text(encoding="utf-8").splitlines()
    currencies.write_text("\n".join([header, first_row, first_row, *rest]) + "\n", encoding="utf-8")
    monkeypatch.setenv("BILLING_DBT_PROJECT_DIR", str(project))

    result = _run(warehouse, project)

    assert not result.success
    failed_checks = [
        evaluation.asset_check_key.to_user_string()
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    ]
    assert any("currenc" in key and "unique" in key for key in failed_checks), failed_checks
    executed = {
        event.step_key for event in result.all_events if event.event_type == DagsterEventType.STEP_START
    }
    assert PUBLICATION_STEP not in executed
    assert QUALITY_STEP not in executed, "the Great Expectations step waits for a successful dbt build"
    assert not _table_exists(warehouse, "published_invoices") or not _query(
        warehouse, "select * from published_invoices"
    )


def test_publication_step_alone_is_refused(warehouse: Path) -> None:
    """Without this run's billing checks (a UI selection of just the publication models), nothing publishes."""
    defs = build_definitions(build_dbt_project())
    result = defs.resolve_job_def(PUBLICATION_JOB).execute_in_process(
        run_config=run_config_for(AS_OF, (PUBLICATION_STEP,)),
        asset_selection=[AssetKey("published_invoices"), AssetKey("published_invoice_lines")],
        tags=_every_landed_day(warehouse),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.event_type == DagsterEventType.STEP_FAILURE]
    assert "Publication blocked" in failure.event_specific_data.error.message
    assert not _table_exists(warehouse, "published_invoices")
