"""dbt models as Dagster assets, and dbt tests as their asset checks.

Two ``@dbt_assets``: the billing models (everything but ``tag:publication``) and the publication
models (``published_invoices``, ``published_invoice_lines``). Both run ``dbt build``, so each
model's tests run right after it and arrive in Dagster as asset checks. The run's clock ``as_of``
comes from run config and reaches dbt as ``--vars``; only the publication step sets ``publish``.

Both share the daily ingestion partitions (``orchestration.partitions``; Dagster wants one
partitions definition for all assets of a job) and a single-run backfill policy. The run's partition
window reaches dbt as ``ingested_from`` / ``ingested_to``: the raw rows the incremental models
re-process. It never changes ``as_of``.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MetadataValue,
    TimeWindow,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestration.partitions import DAILY_INGESTION_PARTITIONS, SINGLE_RUN_BACKFILL, window_vars
from orchestration.publication_gate import check_evaluations_for_runs, gate_problems, run_lineage
from orchestration.resources import prune_invocation_dirs

PUBLICATION_SELECTOR = "tag:publication"
BILLING_STEP = "billing_dbt_models"
PUBLICATION_STEP = "publication_dbt_models"
MODEL_FOLDERS = ("staging", "intermediate", "marts")
MAX_LISTED = 50  # problems listed in a blocked publication's failure metadata


class DbtRunConfig(Config):
    """Run config of both dbt steps."""

    as_of: str | None = Field(
        default=None,
        description=(
            "The run's clock, a UTC timestamp in ISO 8601 (an offset is converted to UTC). "
            "Default: now, i.e. the time the run (or the run it re-executes) was created, so both "
            "steps of one run share the same clock."
        ),
    )


class BillingDbtTranslator(DagsterDbtTranslator):
    """Groups assets by the dbt folder they live in; publication models get their own group."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return group_for_node(dbt_resource_props)


def group_for_node(dbt_resource_props: Mapping[str, Any]) -> str:
    """``publication`` for tagged models, else the first folder under ``models/``; seeds: ``seeds``."""
    if "publication" in (dbt_resource_props.get("tags") or []):
        return "publication"
    if dbt_resource_props.get("resource_type") == "seed":
        return "seeds"
    fqn = dbt_resource_props.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return folder if folder in MODEL_FOLDERS else "other"


def normalize_as_of(value: str) -> str:
    """ISO 8601 text in UTC without an offset, e.g. ``2026-11-21T00:00:00``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValueError(f"as_of must be an ISO 8601 timestamp, got {value!r}") from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def resolve_as_of(configured: str | None, run_created_at: datetime) -> str:
    """The configured ``as_of``, or the run's creation time (UTC, whole seconds)."""
    if configured:
        return normalize_as_of(configured)
    if run_created_at.tzinfo is None:
        run_created_at = run_created_at.replace(tzinfo=UTC)
    return normalize_as_of(run_created_at.replace(microsecond=0).isoformat())


def dbt_vars(as_of: str, *, publish: bool = False, window: TimeWindow | None = None) -> dict[str, Any]:
    """The run's dbt vars; with a partition window, also the raw rows to re-process.

    Without a window ``ingested_from`` / ``ingested_to`` are left out (dbt's default, null: process
    everything newer than what the models hold)."""
    return {"as_of": as_of, "publish": publish, **(window_vars(window) if window else {})}


def dbt_build_args(as_of: str, *, publish: bool = False, window: TimeWindow | None = None) -> list[str]:
    """``dbt build --vars ...``; dagster-dbt adds ``--select`` for the step's assets."""
    return ["build", "--vars", json.dumps(dbt_vars(as_of, publish=publish, window=window), sort_keys=True)]


def run_as_of(context: AssetExecutionContext, config: DbtRunConfig) -> str:
    run = context.run
    record = context.instance.get_run_record_by_id(run.root_run_id or run.run_id)
    created_at = record.create_timestamp if record else datetime.now(UTC)
    return resolve_as_of(config.as_of, created_at)


def run_window(context: AssetExecutionContext) -> TimeWindow:
    """The time window of the run's partition key, or of its key range (a single-run backfill)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        # Dagster itself fails a partitioned asset's run without a partition, but only after dbt has
        # built everything; refusing first keeps the warehouse untouched and says why.
        raise Failure(
            "The dbt assets are daily-partitioned: launch the run for a partition or a partition "
            "range (a backfill), e.g. today's partition to process the newest raw rows."
        )
    return context.partition_time_window


def _window_text(window: TimeWindow) -> str:
    return f"re-processing rows ingested {window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M} UTC"


def build_billing_assets(project: DbtProject) -> AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude=PUBLICATION_SELECTOR,
        dagster_dbt_translator=BillingDbtTranslator(),
        name=BILLING_STEP,
        partitions_def=DAILY_INGESTION_PARTITIONS,
        backfill_policy=SINGLE_RUN_BACKFILL,
    )
    def billing_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtRunConfig):
        prune_invocation_dirs(project, BILLING_STEP)
        as_of, window = run_as_of(context, config), run_window(context)
        context.log.info(f"dbt build of the billing models, as_of {as_of}, {_window_text(window)}")
        yield from dbt.cli(dbt_build_args(as_of, window=window), context=context).stream()

    return billing_dbt_models


def build_publication_assets(project: DbtProject, gate_checks: Sequence[AssetCheckKey]) -> AssetsDefinition:
    """The publication models; they refuse to run unless every check in ``gate_checks`` passed."""

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
            # Invoices and their lines are published together or not at all.
            raise Failure("Select every publication model (published_invoices and published_invoice_lines).")
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
            f"All {len(gate_checks)} blocking checks passed; publishing as_of {as_of}, {_window_text(window)}"
        )
        yield from dbt.cli(dbt_build_args(as_of, publish=True, window=window), context=context).stream()

    return publication_dbt_models
