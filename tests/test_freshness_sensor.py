"""The freshness sensor (decision 68): a refresh run when a load landed, a seed changed or an hour passed
since the last refresh's as_of, and nothing otherwise; on DuckDB and Postgres (the loads it reads)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
    define_asset_job,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.freshness_sensor import AS_OF_TAG, build_freshness_sensor
from orchestration.jobs import BILLING_STEP, REFRESH_JOB
from support.warehouse import REPO_ROOT
from warehouse_billing.demo_data import write_events
from warehouse_billing.loader import load_files

TICK = datetime(2026, 12, 7, 10, 30)
HOLD_DUCKDB_FILE = (
    "import duckdb, sys, time; connection = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
    "time.sleep(60)"
)


class Ticker:
    """Evaluates the sensor as Dagster does: one context per tick, the cursor carried from tick to tick,
    and the runs it requests recorded in the instance (as launched, then finished)."""

    def __init__(self, instance: DagsterInstance, project: Path, target: str) -> None:
        self.instance = instance
        self.now = TICK
        self.cursor: str | None = None
        self.sensor = build_freshness_sensor(define_asset_job(REFRESH_JOB), project, target=lambda: target,
                                             clock=lambda: self.now)

    def tick(self) -> RunRequest | SkipReason:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = self.sensor(context)
        self.cursor = context.cursor
        return result

    def launch(self, request: RunRequest, status: DagsterRunStatus = DagsterRunStatus.SUCCESS) -> DagsterRun:
        run = DagsterRun(job_name=REFRESH_JOB, tags=dict(request.tags), status=status)
        self.instance.add_run(run)
        return run


def land(tmp_path: Path, target: str, ingested_at: datetime, name: str) -> None:
    path = tmp_path / f"{name}.jsonl"
    write_events(path, [{
        "event_id": name, "customer_id": "cus_a", "event_type": "api_request",
        "occurred_at": ingested_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ingested_at": ingested_at, "properties": json.dumps({"endpoint": "/v1/x"}),
    }])
    (result,) = load_files([path], target=target, keep_ingested_at=True)
    assert result.ok, result.error


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with a copy of the seeds (the sensor hashes them; the test edits one)."""
    shutil.copytree(REPO_ROOT / "seeds", tmp_path / "project" / "seeds")
    return tmp_path / "project"


def _expect_run(result: RunRequest | SkipReason, *reasons: str) -> RunRequest:
    assert isinstance(result, RunRequest), getattr(result, "skip_message", result)
    for reason in reasons:
        assert reason in result.tags["billing/freshness_reasons"], result.tags
    return result


def _expect_skip(result: RunRequest | SkipReason, why: str) -> None:
    assert isinstance(result, SkipReason), result
    assert why in result.skip_message, result.skip_message


def test_a_run_only_when_loads_seeds_or_the_clock_moved(
    warehouse_target: str, project: Path, tmp_path: Path
) -> None:
    with DagsterInstance.ephemeral() as instance:
        ticker = Ticker(instance, project, warehouse_target)

        # no raw tables yet, no record of any run: the first tick runs today's partition
        first = _expect_run(ticker.tick(), "first tick")
        assert first.partition_key == "2026-12-07"
        # the run processes the raw rows newer than what the models hold, not the whole day so far
        assert first.run_config["ops"][BILLING_STEP]["config"] == {
            "as_of": "2026-12-07T10:30:00", "new_rows_only": True}
        ticker.launch(first)

        ticker.now += timedelta(minutes=1)
        _expect_skip(ticker.tick(), "nothing changed")

        # a load of yesterday's rows: a run over that ingestion day, started by the next tick
        land(tmp_path, warehouse_target, datetime(2026, 12, 6, 23, 0), "late_batch")
        ticker.now += timedelta(minutes=1)
        loaded = _expect_run(ticker.tick(), "new loads on 2026-12-06")
        assert loaded.partition_key == "2026-12-06"
        assert "the clock" not in loaded.tags["billing/freshness_reasons"]
        run = ticker.launch(loaded, DagsterRunStatus.STARTED)

        # while it runs, a load lands: the tick waits for the run to end, then asks for another
        land(tmp_path, warehouse_target, datetime(2026, 12, 7, 10, 31), "next_batch")
        ticker.now += timedelta(minutes=1)
        _expect_skip(ticker.tick(), "in progress")
        instance.delete_run(run.run_id)  # the run ended: recorded again, finished
        ticker.launch(loaded)
        ticker.now += timedelta(minutes=1)
        today = _expect_run(ticker.tick(), "new loads on 2026-12-07")
        assert today.partition_key == "2026-12-07"
        ticker.launch(today)

        # loads on two days in one tick: one run over both, as a single-run backfill
        land(tmp_path, warehouse_target, datetime(2026, 12, 5, 8, 0), "older")
        land(tmp_path, warehouse_target, datetime(2026, 12, 7, 10, 33), "newer")
        ticker.now += timedelta(minutes=1)
        both = _expect_run(ticker.tick(), "new loads on 2026-12-05, 2026-12-07")
        assert (both.tags[ASSET_PARTITION_RANGE_START_TAG], both.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
            "2026-12-05", "2026-12-07")
        ticker.launch(both)

        # a rate card edited in a pull request
        prices = project / "seeds" / "prices.csv"
        prices.write_text(prices.read_text() + "\n")
        ticker.now += timedelta(minutes=1)
        ticker.launch(_expect_run(ticker.tick(), "the seeds changed"))
        ticker.now += timedelta(minutes=1)
        _expect_skip(ticker.tick(), "nothing changed")

        # the clock alone: an hour after the last refresh's as_of (10:36), whoever launched it
        ticker.now = datetime(2026, 12, 7, 11, 35)
        _expect_skip(ticker.tick(), "nothing changed")
        ticker.now = datetime(2026, 12, 7, 11, 36)
        hourly = _expect_run(ticker.tick(), "the clock")
        assert hourly.partition_key == "2026-12-07"


def test_a_tick_skips_while_a_run_holds_the_duckdb_file(duckdb_warehouse: str, project: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        ticker = Ticker(instance, project, "duckdb")
        holder = subprocess.Popen([sys.executable, "-c", HOLD_DUCKDB_FILE, duckdb_warehouse],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "holding"
            _expect_skip(ticker.tick(), "busy")
        finally:
            holder.kill()
            holder.wait()
        assert ticker.cursor is None  # nothing recorded: the next tick asks again
        _expect_run(ticker.tick(), "first tick")
