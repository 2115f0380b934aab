"""The Great Expectations suites as Dagster asset checks: the GX half of the data-quality gate.

One Dagster step, ``gx_data_quality`` (a ``@multi_asset_check``), runs after the billing dbt step and
before the publication step of ``invoice_publication_job`` (and after the billing step of
``billing_refresh_job``). It runs, through ``warehouse_billing.quality.runner``, every suite that
the run selected, reports each as an asset check on its asset (``raw/usage_events``,
``int_charges_rated``, ``invoice_lines``, ``invoices``) with failing row samples in the check's
metadata, writes GX data docs for the run to ``<reports root>/<run_id>/index.html`` and, when a
blocking check failed, fails the step with a message that names the checks and rows, so nothing is
published. Which checks block is configuration (``warehouse_billing/quality/config.yaml``).
"""

import json
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetChecksDefinition,
    AssetKey,
    Failure,
    MetadataValue,
    multi_asset_check,
)

from orchestration.dbt_assets import BILLING_STEP, DbtRunConfig, run_as_of
from orchestration.publication import PUBLICATION_STEP
from warehouse_billing.quality.config import CheckSettings, QualityConfig, load_quality_config
from warehouse_billing.quality.runner import (
    CheckOutcome,
    QualityRun,
    prune_reports,
    reports_root,
    run_quality_suites,
)

QUALITY_STEP = "gx_data_quality"
# Checks on these assets are Dagster-blocking so that the publication step waits for this step.
ORDERING_ASSETS = {("invoices",)}


def check_key(settings: CheckSettings) -> AssetCheckKey:
    return AssetCheckKey(AssetKey(list(settings.suite.asset)), settings.name)


def blocking_gx_check_keys(config: QualityConfig) -> list[AssetCheckKey]:
    """The GX checks configured ``blocking: true``: publication requires each to have passed."""
    return [check_key(settings) for settings in config if settings.blocking]


def check_specs(config: QualityConfig) -> list[AssetCheckSpec]:
    """One spec per configured check.

    Dagster's own ``blocking`` flag is set on the checks of ``invoices`` only, whatever their
    configuration: it makes the publication step (the only step downstream of ``invoices``) wait for
    this step. On ``raw/usage_events``, ``int_charges_rated`` or ``invoice_lines`` it would make the
    billing dbt step, which reads those assets further, wait for its own check: a cycle. Whether a
    check stops publication is its configured mode: a failing ``blocking: true`` check fails this
    step with severity ERROR (so the publication step is skipped) and is required by the
    publication gate; a ``blocking: false`` one reports severity WARN.
    """
    return [
        AssetCheckSpec(
            settings.name,
            asset=AssetKey(list(settings.suite.asset)),
            blocking=settings.suite.asset in ORDERING_ASSETS,
            description=f"Great Expectations ({settings.mode}): {settings.suite.description}",
            additional_deps=[AssetKey(list(dep)) for dep in settings.suite.additional_deps],
            metadata={
                "great_expectations_suite": settings.name,
                "mode": settings.mode,
                "parameters": json.dumps(settings.params, sort_keys=True),
            },
        )
        for settings in config
    ]


def configured_as_of(run_config: Mapping[str, Any]) -> str | None:
    """The ``as_of`` the run gave its dbt steps (the checks judge the data as of the same clock)."""
    ops = run_config.get("ops") or {}
    for step in (BILLING_STEP, PUBLICATION_STEP):
        value = ((ops.get(step) or {}).get("config") or {}).get("as_of")
        if value:
            return value
    return None


def build_quality_checks(config: QualityConfig | None = None) -> AssetChecksDefinition:
    """The GX checks as one Dagster step; ``config`` defaults to the file ``load_quality_config`` reads."""
    config = config or load_quality_config()

    @multi_asset_check(
        specs=check_specs(config),
        name=QUALITY_STEP,
        can_subset=True,
        compute_kind="great_expectations",
        description=(
            "Great Expectations suites on raw usage, rated charges, invoice lines and invoices "
            "(warehouse_billing/quality/suites.py); data docs per run under the quality reports folder."
        ),
    )
    def gx_data_quality(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        names = {key.name for key in context.selected_asset_check_keys}
        as_of = run_as_of(context, DbtRunConfig(as_of=configured_as_of(context.run.run_config)))
        root = reports_root()
        report_dir = root / context.run.run_id
        shutil.rmtree(report_dir, ignore_errors=True)  # a re-execution of this step rewrites the report
        context.log.info(f"Great Expectations: {len(names)} checks as of {as_of}; report: {report_dir}")
        run = run_quality_suites(
            config, as_of=as_of, report_dir=report_dir, names=names, run_name=context.run.run_id
        )
        prune_reports(root)
        for outcome in run.outcomes:
            if not outcome.passed:
                log = context.log.error if outcome.blocking else context.log.warning
                log(outcome.failure_text())
            yield _check_result(outcome, run)
        failures = run.blocking_failures()
        if failures:
            raise Failure(
                description=(
                    f"{len(failures)} blocking Great Expectations check(s) failed; "
                    "nothing will be published.\n"
                    + "\n".join(outcome.failure_text() for outcome in failures)
                    + f"\nReport: {run.report_index}"
                ),
                metadata={
                    "failed_checks": MetadataValue.json([o.name for o in failures]),
                    "report": MetadataValue.path(str(run.report_index)),
                },
            )

    return gx_data_quality


def _check_result(outcome: CheckOutcome, run: QualityRun) -> AssetCheckResult:
    metadata: dict[str, Any] = {
        "mode": outcome.mode,
        "backend": outcome.backend,
        "summary": outcome.summary(),
        "report": MetadataValue.path(str(run.report_index)),
    }
    if outcome.report_page:
        metadata["validation_page"] = MetadataValue.path(str(outcome.report_page))
    if outcome.rows is not None:
        metadata["rows_checked"] = outcome.rows
    if outcome.error:
        metadata["error"] = MetadataValue.text(outcome.error)
    if outcome.failed:
        metadata["failed_expectations"] = MetadataValue.md(
            "\n".join(f"- {expectation.describe()}" for expectation in outcome.failed)
        )
        metadata["failing_rows"] = MetadataValue.json(
            {expectation.label: expectation.sample_rows for expectation in outcome.failed}
        )
    return AssetCheckResult(
        asset_key=AssetKey(list(outcome.asset)),
        check_name=outcome.name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if outcome.blocking else AssetCheckSeverity.WARN,
        description=outcome.failure_text() if not outcome.passed else outcome.summary(),
        metadata=metadata,
    )
