"""Running the publication job in this process, outside the webserver and daemon (the demo's run).

``run_publication_job`` runs ``invoice_publication_job`` once over the daily partitions of a span of
ingestion times (what a single-run backfill of those days launches), in the Dagster instance of
``$DAGSTER_HOME`` when it is set (so the run shows in the UI) or a throwaway one. Step events and
failed checks go to a progress callback as they happen; the outcome comes back as plain data, for
callers that do not use Dagster themselves (``warehouse_billing.demo``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterEventType, DagsterInstance, logger

from orchestration.jobs import PUBLICATION_JOB, run_config_for
from orchestration.partitions import partition_range_for, partition_range_tags

# dagster-dbt's housekeeping lines, left out of the progress (they stay in the Dagster logs).
QUIET_PREFIXES = (
    "A dbt subsetted execution",
    "Copying `",
    "Finished dbt command",
)
STEP_EVENTS = {
    DagsterEventType.STEP_START: "started",
    DagsterEventType.STEP_SUCCESS: "succeeded",
    DagsterEventType.STEP_FAILURE: "FAILED",
    DagsterEventType.STEP_SKIPPED: "skipped (an upstream step failed)",
}


@dataclass(frozen=True)
class CheckReport:
    """One asset check evaluation of the run: a dbt test or a Great Expectations check."""

    name: str  # the check's name (a GX suite name, or dbt's test name)
    key: str  # asset and check, as Dagster writes them (``invoices:unique_invoices_invoice_id``)
    passed: bool
    blocking: bool  # severity ERROR (a failure stops publication); else WARN
    summary: str = ""  # the GX checks' one-line outcome
    report: str = ""  # the GX checks' data docs (index.html)


@dataclass(frozen=True)
class JobRunOutcome:
    job_name: str
    run_id: str
    success: bool
    first_partition: str
    last_partition: str
    checks: tuple[CheckReport, ...]

    def failed_checks(self) -> list[str]:
        return [check.key for check in self.checks if not check.passed]


class _StepHandler(logging.Handler):
    """Turns Dagster's log records into one progress line per step event and per failed check."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        super().__init__(level=logging.DEBUG)  # Dagster logs its step events at DEBUG
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or "run"
        if event is None:
            message = meta.get("orig_message", record.getMessage())
            quiet = record.levelno < logging.WARNING and message.startswith(QUIET_PREFIXES)
            if record.levelno >= logging.INFO and not quiet:
                self.progress(f"  {step}: {message}")
        elif event.event_type in STEP_EVENTS:
            self.progress(f"  step {step} {STEP_EVENTS[event.event_type]}")
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                self.progress(f"  check FAILED: {evaluation.asset_check_key.to_user_string()}")


def _progress_logger(progress: Callable[[str], None]):
    @logger(description="Step-level progress lines.")
    def step_progress(_init_context) -> logging.Logger:
        log = logging.getLogger("billing-progress")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.handlers = [_StepHandler(progress)]
        return log

    return step_progress


def _dagster_instance() -> DagsterInstance:
    """The instance in $DAGSTER_HOME (so the run shows in the UI), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


def _metadata_text(evaluation: AssetCheckEvaluation, key: str) -> str:
    value = evaluation.metadata.get(key)
    return str(getattr(value, "value", value) or "") if value is not None else ""


def _check_report(evaluation: AssetCheckEvaluation) -> CheckReport:
    return CheckReport(
        name=evaluation.check_name,
        key=evaluation.asset_check_key.to_user_string(),
        passed=evaluation.passed,
        blocking=evaluation.severity == AssetCheckSeverity.ERROR,
        summary=_metadata_text(evaluation, "summary"),
        report=_metadata_text(evaluation, "report"),
    )


def run_publication_job(
    as_of: str, ingested_at: Iterable[datetime], progress: Callable[[str], None]
) -> JobRunOutcome:
    """One run of ``invoice_publication_job`` with ``as_of`` over every partition of ``ingested_at``."""
    from orchestration.definitions import defs

    days = partition_range_for(ingested_at)
    job = defs.resolve_job_def(PUBLICATION_JOB).with_logger_defs({"progress": _progress_logger(progress)})
    with _dagster_instance() as instance:
        result = job.execute_in_process(
            run_config={**run_config_for(as_of), "loggers": {"progress": {}}},
            instance=instance,
            tags=partition_range_tags(days),
            raise_on_error=False,
        )
    return JobRunOutcome(
        job_name=PUBLICATION_JOB,
        run_id=result.run_id,
        success=result.success,
        first_partition=days.start,
        last_partition=days.end,
        checks=tuple(_check_report(evaluation) for evaluation in result.get_asset_check_evaluations()),
    )
