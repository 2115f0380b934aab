"""The freshness sensor: a refresh run as soon as something changed, and none while nothing did.

The hourly schedule starts dbt every hour whatever arrived, and leaves a load waiting up to an hour.
This sensor looks every 10 seconds at what a run's result depends on, in one cheap query and a digest
of the seed files, and requests one run of ``billing_refresh_job`` only when one of them moved
(decision 68):

- **loads**: the rows of ``raw.usage_loads`` per ingestion day (the project's loader and the Kafka
  consumer write one per load and day); a load that committed late, with an older ``loaded_at``, still
  changes its day's count. The run processes the raw rows newer than what the models hold
  (``new_rows_only``: the watermark, with its rule for loads that committed late), and is labelled
  with the ingestion days whose count changed.
- **seeds**: a digest of the project's seed files (a rate card or contract merged in a pull request).
- **the clock**: an hour since the last refresh run's ``as_of`` (any launcher's: the schedule, the
  Kafka sensor, this sensor). Statuses, the live spend's elapsed hours and projections, grace periods
  and expiries move with the clock alone; an hourly run keeps them as fresh as the schedule does.

Nothing moved: the tick returns a SkipReason and starts nothing (``make bench`` step (c0s) measures it
at 10M events). A refresh run queued or in progress: the tick waits, so that two dbt runs
never write one warehouse at once. The cursor (JSON) keeps the loads per day and the seeds' digest of
the last run requested. On DuckDB a tick that finds the file held by a run skips, like the other sensors.

STOPPED until someone turns it on; turn the hourly schedule off then (the sensor does its work).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    PartitionKeyRange,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from orchestration.jobs import BILLING_STEP, REFRESH_JOB, run_config_for
from orchestration.partitions import partition_for, partition_range_tags, refresh_partition_for_tick
from warehouse_billing.clock import normalize_as_of
from warehouse_billing.warehouse import configured_target, connect, warehouse_busy

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

FRESHNESS_SENSOR = "billing_freshness_sensor"
# Loads show within this, plus one run of the refresh job (bench step (g): 46 s at 10M events), plus
# Dagster starting the run. A tick with nothing new costs 0.05 s there (step (c0s)), so ticks are cheap.
MINIMUM_INTERVAL_SECONDS = 10
# The clock alone changes a run's result (statuses, elapsed hours, expiries): at most this long between runs.
CLOCK_REFRESH = timedelta(hours=1)
AS_OF_TAG = "billing/as_of"
WAITING_STATUSES = [
    DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class Observed:
    """What a tick reads: the loads per ingestion day (ISO date -> rows of raw.usage_loads) and the
    seeds' digest."""

    loads: dict[str, int]
    seeds: str

    def cursor(self) -> str:
        return json.dumps({"loads": self.loads, "seeds": self.seeds}, sort_keys=True)

    @staticmethod
    def from_cursor(cursor: str | None) -> Observed | None:
        if not cursor:
            return None
        state = json.loads(cursor)
        return Observed(loads=state["loads"], seeds=state["seeds"])


def loads_per_day(target: str) -> dict[str, int]:
    """Rows of raw.usage_loads per ingestion day; none when the table does not exist yet."""
    connection = connect(target)
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("select ingestion_date, count(*) from raw.usage_loads group by ingestion_date")
        except Exception as error:
            if "usage_loads" in str(error) and "not exist" in str(error):  # DuckDB's and Postgres' wording
                return {}
            raise
        return {_iso_day(day): int(count) for day, count in cursor.fetchall()}
    finally:
        connection.close()


def _iso_day(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)[:10]


def seeds_digest(project_dir: Path) -> str:
    """One digest of every seed file's path and bytes."""
    digest = hashlib.sha256()
    for path in sorted((project_dir / "seeds").rglob("*.csv")):
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def changed_days(before: dict[str, int], now: dict[str, int]) -> list[str]:
    """Ingestion days whose loads differ (new days included), in order."""
    return sorted(day for day in now.keys() | before.keys() if now.get(day) != before.get(day))


def last_refresh_as_of(context: SensorEvaluationContext, job_name: str) -> datetime | None:
    """The latest as_of among the newest refresh runs, whoever launched them. A failed run counts: the
    clock then retries it an hour later, not at every tick (a failure is reported where runs are)."""
    runs = context.instance.get_runs(filters=RunsFilter(job_name=job_name), limit=20)
    stamps = [run.tags.get(AS_OF_TAG) for run in runs if run.status != DagsterRunStatus.CANCELED]
    moments = [datetime.fromisoformat(stamp) for stamp in stamps if stamp]
    return max(moments) if moments else None


def refresh_in_progress(context: SensorEvaluationContext, job_name: str) -> bool:
    return bool(context.instance.get_run_ids(
        filters=RunsFilter(job_name=job_name, statuses=WAITING_STATUSES), limit=1))


def reasons_to_run(before: Observed | None, now: Observed, last_as_of: datetime | None,
                   tick: datetime) -> list[str]:
    """Why a run is due (empty: nothing moved)."""
    if before is None:
        return ["first tick: no record of what the last run saw"]
    reasons = []
    days = changed_days(before.loads, now.loads)
    if days:
        reasons.append(f"new loads on {', '.join(days)}")
    if now.seeds != before.seeds:
        reasons.append("the seeds changed")
    if last_as_of is None or tick - last_as_of >= CLOCK_REFRESH:
        reasons.append(f"the clock: last refresh as_of {last_as_of or 'never'}")
    return reasons


def refresh_request(before: Observed | None, now: Observed, tick: datetime, reasons: list[str]) -> RunRequest:
    """One refresh run, as_of = the tick, of the raw rows newer than what the models hold
    (``new_rows_only``); labelled with the ingestion days of the new loads (else the tick's day)."""
    as_of = normalize_as_of(tick.isoformat())
    days = changed_days(before.loads, now.loads) if before else []
    tags = {AS_OF_TAG: as_of, "billing/freshness_reasons": "; ".join(reasons)[:200]}
    run_config = run_config_for(as_of, (BILLING_STEP,), new_rows_only=True)
    run_key = f"freshness-{as_of}"
    if not days:
        return RunRequest(run_key=run_key, run_config=run_config, tags=tags,
                          partition_key=refresh_partition_for_tick(tick))
    first, last = (partition_for(datetime.fromisoformat(day)) for day in (days[0], days[-1]))
    if first == last:
        return RunRequest(run_key=run_key, run_config=run_config, tags=tags, partition_key=first)
    return RunRequest(run_key=run_key, run_config=run_config,
                      tags={**tags, **partition_range_tags(PartitionKeyRange(first, last))})


def build_freshness_sensor(
    job: UnresolvedAssetJobDefinition,
    project_dir: Path,
    *,
    target: Callable[[], str] = configured_target,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC).replace(tzinfo=None),
    job_name: str = REFRESH_JOB,
) -> SensorDefinition:
    """The sensor for `job` (the refresh job) over the project in `project_dir`; `target` and `clock`
    are read at each tick (tests pass their own)."""

    @sensor(
        name=FRESHNESS_SENSOR,
        job=job,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            "Requests a refresh run when a load landed (raw.usage_loads), a seed file changed, or an hour "
            "passed since the last refresh's as_of; otherwise starts nothing. Replaces the hourly schedule."
        ),
    )
    def billing_freshness_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
        if refresh_in_progress(context, job_name):
            return SkipReason("a refresh run is queued or in progress; the next tick looks again")
        try:
            now = Observed(loads=loads_per_day(target()), seeds=seeds_digest(project_dir))
        except Exception as error:
            if warehouse_busy(error):
                return SkipReason(f"the warehouse is busy ({error}); the next tick looks again")
            raise
        before = Observed.from_cursor(context.cursor)
        tick = clock()
        reasons = reasons_to_run(before, now, last_refresh_as_of(context, job_name), tick)
        if not reasons:
            return SkipReason(
                "nothing changed: no new load, the same seeds, the last refresh under an hour old")
        context.update_cursor(now.cursor())
        context.log.info("refresh requested: " + "; ".join(reasons))
        return refresh_request(before, now, tick, reasons)

    return billing_freshness_sensor

