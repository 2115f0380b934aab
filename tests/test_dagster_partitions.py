"""Daily ingestion partitions: the pure helpers, the schedules' partition choice, and one single-run
backfill over several days, end to end on a throwaway DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, PartitionKeyRange, TimeWindow
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration import dbt_assets
from orchestration.definitions import build_definitions
from orchestration.jobs import BILLING_STEP, PUBLICATION_STEP, REFRESH_JOB, run_config_for
from orchestration.partitions import (
    partition_for,
    partition_range_for,
    partition_range_tags,
    refresh_partition_for_tick,
    window_vars,
)
from orchestration.resources import build_dbt_project
from orchestration.schedules import publication_request, refresh_request

AS_OF = "2026-11-21T00:00:00"
PLUS_TWO = timezone(timedelta(hours=2))


def test_window_vars_are_utc_text_without_offset() -> None:
    window = TimeWindow(datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC))
    assert window_vars(window) == {
        "ingested_from": "2026-04-05T00:00:00",
        "ingested_to": "2026-04-06T00:00:00",
    }
    # A window in another zone (never the case with UTC partitions) still reaches dbt as UTC.
    shifted = TimeWindow(datetime(2026, 4, 5, 2, tzinfo=PLUS_TWO), datetime(2026, 4, 8, 2, tzinfo=PLUS_TWO))
    assert window_vars(shifted) == {
        "ingested_from": "2026-04-05T00:00:00",
        "ingested_to": "2026-04-08T00:00:00",
    }


@pytest.mark.parametrize(
    ("tick", "partition"),
    [
        (datetime(2026, 11, 21, 0, 0, tzinfo=UTC), "2026-11-20"),  # midnight finishes yesterday
        (datetime(2026, 11, 21, 1, 0, tzinfo=UTC), "2026-11-21"),  # the first tick of the new day
        (datetime(2026, 11, 21, 13, 0, tzinfo=UTC), "2026-11-21"),
        (datetime(2026, 11, 21, 23, 0, tzinfo=UTC), "2026-11-21"),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2026-12-31"),  # across a year
        (datetime(2026, 3, 1, 0, 0), "2026-02-28"),  # naive means UTC
        (datetime(2026, 11, 21, 2, 0, tzinfo=PLUS_TWO), "2026-11-20"),  # 00:00 UTC
    ],
)
def test_hourly_tick_runs_the_day_of_the_past_hour(tick: datetime, partition: str) -> None:
    assert refresh_partition_for_tick(tick) == partition


def test_partition_for_is_the_utc_day() -> None:
    assert partition_for(datetime(2026, 11, 21, 0, 0, tzinfo=UTC)) == "2026-11-21"
    assert partition_for(datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)) == "2026-11-20"
    assert partition_for(datetime(2026, 11, 21, 1, 0, tzinfo=PLUS_TWO)) == "2026-11-20"


def test_partition_range_covers_every_ingestion_day() -> None:
    moments = [datetime(2026, 9, 3, 12), datetime(2026, 9, 1, 0, 0, 1), datetime(2026, 9, 7, 23, 59)]
    assert partition_range_for(moments) == PartitionKeyRange("2026-09-01", "2026-09-07")
    assert partition_range_for([datetime(2026, 9, 3, 12)]) == PartitionKeyRange("2026-09-03", "2026-09-03")
    with pytest.raises(ValueError, match="no ingestion times"):
        partition_range_for([])
    with pytest.raises(ValueError, match="outside the partitions"):
        partition_range_for([datetime(2025, 12, 31, 23), datetime(2026, 1, 2)])


def test_partition_range_tags_are_dagsters_range_tags() -> None:
    assert partition_range_tags(PartitionKeyRange("2026-09-01", "2026-09-03")) == {
        ASSET_PARTITION_RANGE_START_TAG: "2026-09-01",
        ASSET_PARTITION_RANGE_END_TAG: "2026-09-03",
    }


def test_schedule_requests_carry_the_partition_and_the_tick_as_as_of() -> None:
    refresh = refresh_request(datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    assert refresh.partition_key == "2026-11-20"
    assert refresh.run_config == run_config_for("2026-11-21T00:00:00", (BILLING_STEP,))
    assert refresh.tags == {"billing/as_of": "2026-11-21T00:00:00"}

    publication = publication_request(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
    assert publication.partition_key == "2026-11-21"  # today's rows, not yesterday's
    assert publication.run_config == run_config_for("2026-11-21T02:00:00", (BILLING_STEP, PUBLICATION_STEP))
    assert publication.tags == {"billing/as_of": "2026-11-21T02:00:00"}


def _invocation_dirs(step: str, run_id: str) -> list[Path]:
    """dagster-dbt's artifact folders of one step of one run (``target/<step>-<run id[:7]>-<id>``)."""
    project = build_dbt_project()
    return sorted((project.project_dir / project.target_path).glob(f"{step}-{run_id[:7]}-*"))


@pytest.fixture
def three_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Like the ``warehouse`` fixture, with raw rows ingested on 2026-09-01 .. 2026-09-03 only."""
    from warehouse_billing.demo_data import generate_events, write_events
    from warehouse_billing.loader import load_files

    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("BILLING_DUCKDB_PATH", str(path))
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_QUALITY_REPORTS_DIR", str(tmp_path / "quality_reports"))
    events = tmp_path / "events.jsonl"
    write_events(events, generate_events(start="2026-09-01", end="2026-09-04", scale=0.05))
    (result,) = load_files([events], target="duckdb", keep_ingested_at=True)
    assert result.ok, result.error
    return path


@pytest.mark.warehouse
def test_a_backfill_of_three_days_is_one_run_with_the_whole_window(three_days: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    days = PartitionKeyRange("2026-09-01", "2026-09-03")
    passed_vars: list[dict] = []  # what the dbt step hands dbt (in BILLING_DBT_RUN_VARS: dbt_assets.dbt_cli)
    start_dbt = dbt_assets.dbt_cli

    def recording_dbt_cli(dbt, args, run_vars, **kwargs):
        passed_vars.append(dict(run_vars))
        return start_dbt(dbt, args, run_vars, **kwargs)

    monkeypatch.setattr(dbt_assets, "dbt_cli", recording_dbt_cli)
    defs = build_definitions(build_dbt_project())
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
            run_config=run_config_for(AS_OF, (BILLING_STEP,)),
            tags=partition_range_tags(days),
            instance=instance,
            raise_on_error=False,
        )
        assert result.success
        runs = instance.get_runs()
        materialized = instance.fetch_materializations(AssetKey("invoices"), limit=100).records

    # One run, one dbt step, one dbt build ...
    started = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert started.count(BILLING_STEP) == 1
    (invocation,) = _invocation_dirs(BILLING_STEP, result.run_id)
    # ... that received the range's window as ingested_from / ingested_to, and as_of unchanged.
    assert (invocation / "run_results.json").exists()
    assert passed_vars == [{
        "as_of": AS_OF,
        "publish": False,
        "ingested_from": "2026-09-01T00:00:00",
        "ingested_to": "2026-09-04T00:00:00",
    }]
    # Dagster holds one run, and records every partition of the range as materialized by it.
    assert [run.run_id for run in runs] == [result.run_id]
    assert sorted(record.partition_key for record in materialized) == [
        "2026-09-01",
        "2026-09-02",
        "2026-09-03",
    ]
    assert {record.run_id for record in materialized} == {result.run_id}


def test_a_run_without_a_partition_is_refused_before_dbt_runs(three_days: Path) -> None:
    defs = build_definitions(build_dbt_project())
    result = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        run_config=run_config_for(AS_OF, (BILLING_STEP,)), raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failure.step_key == BILLING_STEP
    assert "daily-partitioned" in failure.event_specific_data.error.message
    assert _invocation_dirs(BILLING_STEP, result.run_id) == []
