"""Invoice publication: the publish step and the data-quality gate in front of it.

The publish step (``publication_dbt_models``) runs ``dbt build`` of the publication models,
``published_invoices`` and ``published_invoice_lines``, with ``publish=true``: they append every
ready invoice not yet published, numbered without gaps. They are append-only in dbt itself
(``full_refresh: false``), so a run configured ``full_refresh: true`` rebuilds the billing models but
never these.

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
4. Only then does it record an approval (``dbt run-operation record_publication_approval``, one
   row per ready invoice not yet published, under the run's id) and run the published models with
   that approval id: they append approved invoices only, so a ``dbt run --vars '{publish: true}'``
   outside this step appends nothing (macros/publication_approval.sql).
"""

# No `from __future__ import annotations`: Dagster reads the step's config annotation at run time.
import json
from collections.abc import Iterable, Mapping, Sequence

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    Failure,
    MetadataValue,
)
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.dbt_assets import (
    PUBLICATION_SELECTOR,
    BillingDbtTranslator,
    DbtRunConfig,
    dbt_build_args,
    dbt_cli,
    dbt_vars,
    run_as_of,
    run_window,
    window_text,
)
from orchestration.partitions import DAILY_INGESTION_PARTITIONS, SINGLE_RUN_BACKFILL
from orchestration.resources import prune_invocation_dirs

PUBLICATION_STEP = "publication_dbt_models"
MAX_LINEAGE_RUNS = 20
MAX_LISTED = 50  # problems listed in a blocked publication's failure metadata


def blocking_check_keys(assets_def: AssetsDefinition) -> list[AssetCheckKey]:
    """The checks of ``assets_def`` that gate publication (error-severity dbt tests)."""
    return sorted(
        (spec.key for spec in assets_def.check_specs if spec.blocking),
        key=lambda key: key.to_user_string(),
    )


def checks_required_for_publication(
    billing: AssetsDefinition, blocking_gx_checks: Iterable[AssetCheckKey] = ()
) -> list[AssetCheckKey]:
    """Every check publication requires: the billing models' blocking dbt tests and the Great
    Expectations checks configured ``blocking: true``
    (``orchestration.quality_checks.blocking_gx_check_keys``).

    The GX checks are listed from their configuration, not from Dagster's ``blocking`` flag: that
    flag only orders steps, and it cannot be set on checks of assets the billing step itself reads
    further (see ``orchestration.quality_checks``)."""
    return sorted(
        {*blocking_check_keys(billing), *blocking_gx_checks},
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


def build_publication_assets(project: DbtProject, gate_checks: Sequence[AssetCheckKey]) -> AssetsDefinition:
    """The publish step: the publication models, which refuse to run unless every check in
    ``gate_checks`` (``checks_required_for_publication``) passed in this run."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=PUBLICATION_SELECTOR,
        dagster_dbt_translator=BillingDbtTranslator(),
        name=PUBLICATION_STEP,
        partitions_def=DAILY_INGESTION_PARTITIONS,
        backfill_policy=SINGLE_RUN_BACKFILL,
    )
    def publication_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtRunConfig):
        if context.selected_asset_keys != context.assets_def.keys:
            # Invoices, lines, credit notes and reference fingerprints publish together or not at all.
            raise Failure(
                "Select every publication model (published_invoices, published_invoice_lines, "
                "published_credit_notes and published_invoice_reference_data)."
            )
        window = run_window(context)
        evaluations = check_evaluations_for_runs(
            context.instance, run_lineage(context.instance, context.run.run_id)
        )
        problems = gate_problems(gate_checks, evaluations)
        if problems:
            raise Failure(
                description=(
                    f"Publication blocked: {len(problems)} of {len(gate_checks)} blocking checks of the "
                    "billing models did not pass in this run. Nothing was published."
                ),
                metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in problems[:MAX_LISTED]))},
            )
        prune_invocation_dirs(project, PUBLICATION_STEP)
        as_of = run_as_of(context, config)
        context.log.info(
            f"All {len(gate_checks)} blocking checks passed; publishing as_of {as_of}, "
            f"{window_text(window, full_refresh=config.full_refresh, new_rows_only=config.new_rows_only)}"
        )
        if config.new_rows_only:
            window = None
        approval_id = context.run.run_id
        approval_args = json.dumps({"approval_id": approval_id, "approved_by": f"dagster run {approval_id}"})
        # the same run vars as the build below (through the environment: dbt_cli says why)
        publish_vars = dbt_vars(as_of, publish=True, window=window, approval_id=approval_id)
        dbt_cli(dbt, ["run-operation", "record_publication_approval", "--args", approval_args], publish_vars,
                manifest=project.manifest_path).wait()
        # --full-refresh reaches dbt, which leaves the published_* tables alone (full_refresh: false).
        args = dbt_build_args(full_refresh=config.full_refresh)
        yield from dbt_cli(dbt, args, publish_vars, context=context).stream()

    return publication_dbt_models
