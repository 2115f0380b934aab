"""The hourly refresh and the daily publication. Both STOPPED until someone turns them on (UI or
``dagster schedule start``).

Each tick runs one daily ingestion partition (``orchestration.partitions``) with as_of = the tick's
time: the partition only chooses which raw rows dbt re-processes, as_of stays the run's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from orchestration.jobs import BILLING_STEP, run_config_for
from orchestration.partitions import partition_for, refresh_partition_for_tick
from warehouse_billing.clock import normalize_as_of

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

HOURLY = "0 * * * *"
DAILY_AFTER_GRACE = "0 2 * * *"


def tick_time(context: ScheduleEvaluationContext) -> datetime:
    """The tick's scheduled time, so a re-run of a tick rebuilds with the same clock and partition.

    A context without one (a manual evaluation) gets the current time."""
    return context.scheduled_execution_time or datetime.now(UTC)


def tick_request(
    tick: datetime, partition_key: str, steps: tuple[str, ...] | None = None
) -> RunRequest:
    """A run of ``partition_key`` whose dbt steps (``steps``; None: every step) use as_of = ``tick``."""
    as_of = normalize_as_of(tick.isoformat())
    run_config = run_config_for(as_of, steps) if steps else run_config_for(as_of)
    return RunRequest(partition_key=partition_key, run_config=run_config, tags={"billing/as_of": as_of})


def refresh_request(tick: datetime) -> RunRequest:
    """The hourly refresh: the partition holding the hour before the tick (00:00 finishes yesterday)."""
    return tick_request(tick, refresh_partition_for_tick(tick), (BILLING_STEP,))


def publication_request(tick: datetime) -> RunRequest:
    """The daily publication: today's partition. Publication still covers every invoice ready at
    as_of; the partition only re-processes today's raw rows before it."""
    return tick_request(tick, partition_for(tick))


def _tick_schedule(
    name: str,
    cron: str,
    job: UnresolvedAssetJobDefinition,
    request_for: Callable[[datetime], RunRequest],
    description: str,
) -> ScheduleDefinition:
    @schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=description,
    )
    def _tick(context: ScheduleEvaluationContext) -> RunRequest:
        return request_for(tick_time(context))

    return _tick


def build_hourly_refresh_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    return _tick_schedule(
        "hourly_billing_refresh", HOURLY, job, refresh_request,
        "Rebuilds and tests the billing models every hour with as_of = the tick time, re-processing "
        "the raw rows of the day that holds the past hour.",
    )


def build_daily_publication_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """Publishes the invoices that became ready, once a day, after the nightly grace periods end."""
    return _tick_schedule(
        "daily_invoice_publication", DAILY_AFTER_GRACE, job, publication_request,
        "Builds, tests and (if every blocking check passed) publishes ready invoices, re-processing "
        "today's raw rows first.",
    )
