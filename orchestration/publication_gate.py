"""The data-quality gate in front of invoice publication.

Publication appends immutable, numbered invoices, so it runs only when every blocking check of the
billing models passed: the error-severity dbt tests and the blocking Great Expectations checks
(``orchestration.quality_checks``). Three things hold that, outermost first:

1. ``invoice_publication_job`` runs the billing models, the Great Expectations step
   (``gx_data_quality``) and the publication models as three steps; the publication step depends
   on the billing step (through dbt's ``ref`` to ``invoices`` and ``invoice_lines``) and on the GX
   step (its checks on ``invoices`` are Dagster-blocking, and Dagster makes the assets downstream
   of a blocking check wait for it), and Dagster skips a step whose upstream step failed.
2. The billing step fails when any error-severity dbt test fails: ``dbt build`` exits non-zero
   (``DbtCliInvocation`` raises), and Dagster also fails a step that reports a failed *blocking*
   asset check (dagster-dbt marks every error-severity dbt test as blocking). The GX step fails
   when a check configured ``blocking: true`` fails, naming the check and failing rows.
3. Before it calls dbt, the publication step itself asks the Dagster instance for the check
   results of this run (and of the runs it re-executes) and refuses to publish unless every
   blocking check (dbt and GX) was evaluated there and passed (see ``gate_problems``).
   That covers a publication step launched on its own (a UI selection, a re-execution).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
)

MAX_LINEAGE_RUNS = 20


def blocking_check_keys(assets_def: AssetsDefinition) -> list[AssetCheckKey]:
    """The checks of ``assets_def`` that gate publication (error-severity dbt tests)."""
    return sorted(
        (spec.key for spec in assets_def.check_specs if spec.blocking),
        key=lambda key: key.to_user_string(),
    )


def gate_check_keys(
    billing: AssetsDefinition, quality_checks: Iterable[AssetCheckKey] = ()
) -> list[AssetCheckKey]:
    """Every check publication requires: the billing models' blocking dbt tests and the Great
    Expectations checks configured ``blocking: true`` (``orchestration.quality_checks.gate_check_keys``).

    The GX checks are listed from their configuration, not from Dagster's ``blocking`` flag: that
    flag only orders steps, and it cannot be set on checks of assets the billing step itself reads
    further (see ``orchestration.quality_checks``)."""
    return sorted(
        {*blocking_check_keys(billing), *quality_checks},
        key=lambda key: key.to_user_string(),
    )


def gate_problems(
    required: Iterable[AssetCheckKey],
    evaluations: Mapping[AssetCheckKey, AssetCheckEvaluation],
) -> list[str]:
    """Why publication must not run; empty when every required check passed.

    A check that failed with WARN severity does not block; a required check with no evaluation does,
    and so does an empty gate (dbt tests not loaded as checks would otherwise publish unchecked).
    """
    required = list(required)
    if not required:
        return ["no blocking checks are defined on the billing models"]
    problems = []
    for key in required:
        evaluation = evaluations.get(key)
        if evaluation is None:
            problems.append(f"not evaluated: {key.to_user_string()}")
        elif not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR:
            problems.append(f"failed: {key.to_user_string()}")
    return problems


def run_lineage(instance: DagsterInstance, run_id: str) -> list[str]:
    """The run and the runs it re-executes, newest first."""
    lineage: list[str] = []
    current: str | None = run_id
    while current and current not in lineage and len(lineage) < MAX_LINEAGE_RUNS:
        lineage.append(current)
        run = instance.get_run_by_id(current)
        current = run.parent_run_id if run else None
    return lineage


def check_evaluations_for_runs(
    instance: DagsterInstance, run_ids: Iterable[str]
) -> dict[AssetCheckKey, AssetCheckEvaluation]:
    """The latest evaluation of each check across ``run_ids`` (given newest first)."""
    latest: dict[AssetCheckKey, AssetCheckEvaluation] = {}
    for run_id in run_ids:
        records = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, ascending=False
        ).records
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if isinstance(evaluation, AssetCheckEvaluation):
                latest.setdefault(evaluation.asset_check_key, evaluation)
    return latest
