"""The hourly refresh. STOPPED until someone turns it on (UI or ``dagster schedule start``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from orchestration.dbt_assets import normalize_as_of
from orchestration.jobs import BILLING_STEP, run_config_for

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

HOURLY = "0 * * * *"


def scheduled_as_of(context: ScheduleEvaluationContext) -> str | None:
    """The tick's scheduled time in UTC, so a re-run of a tick rebuilds with the same clock."""
    moment = context.scheduled_execution_time
    return normalize_as_of(moment.isoformat()) if moment else None


def _as_of_schedule(
    name: str, cron: str, job: UnresolvedAssetJobDefinition, steps: tuple[str, ...] | None, description: str
) -> ScheduleDefinition:
    """A STOPPED schedule whose runs use the tick's time as as_of for the given steps (None: all)."""

    @schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=description,
    )
    def _tick(context: ScheduleEvaluationContext) -> RunRequest:
        as_of = scheduled_as_of(context)
        tags = {"billing/as_of": as_of} if as_of else {}
        run_config = run_config_for(as_of, steps) if steps else run_config_for(as_of)
        return RunRequest(run_config=run_config, tags=tags)

    return _tick


def build_hourly_refresh_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    return _as_of_schedule(
        "hourly_billing_refresh", HOURLY, job, (BILLING_STEP,),
        "Rebuilds and tests the billing models every hour with as_of = the tick time.",
    )


DAILY_AFTER_GRACE = "0 2 * * *"


def build_daily_publication_schedule(job: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    """Publishes the invoices that became ready, once a day, after the nightly grace periods end."""
    return _as_of_schedule(
        "daily_invoice_publication", DAILY_AFTER_GRACE, job, None,
        "Builds, tests and (if every blocking check passed) publishes ready invoices.",
    )
