"""The billing dbt models as Dagster assets, dbt tests as their asset checks, and the dbt steps' run config.

One ``@dbt_assets`` here, the billing models (everything but ``tag:publication``); the publication
models are the publish step of ``orchestration.publication``. Both steps run ``dbt build``, so each
model's tests run right after it and arrive in Dagster as asset checks, and both take the same run
config (``DbtRunConfig``): the run's clock ``as_of``, which reaches dbt as ``--vars``, and
``full_refresh``, which reaches it as ``--full-refresh``. Only the publication step sets ``publish``.

Both steps share the daily ingestion partitions (``orchestration.partitions``; Dagster wants one
partitions definition for all assets of a job) and a single-run backfill policy. The run's partition
window reaches dbt as ``ingested_from`` / ``ingested_to``: the raw rows the incremental models
re-process. It never changes ``as_of``.
"""

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    TimeWindow,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestration.partitions import DAILY_INGESTION_PARTITIONS, SINGLE_RUN_BACKFILL, window_vars
from orchestration.resources import prune_invocation_dirs
from warehouse_billing.clock import normalize_as_of

# The models the billing step leaves to the publish step (orchestration.publication).
PUBLICATION_SELECTOR = "tag:publication"
BILLING_STEP = "billing_dbt_models"
MODEL_FOLDERS = ("staging", "intermediate", "marts")
# Tags that make a group of their own, whatever folder the model is in.
TAG_GROUPS = ("publication", "usage_and_spend")
# The run's dbt vars as JSON, read by the macro run_var while dbt executes (dbt_cli says why).
RUN_VARS_ENV = "BILLING_DBT_RUN_VARS"


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
    full_refresh: bool = Field(
        default=False,
        description=(
            "Run dbt with --full-refresh: rebuild the incremental models from every raw row (the "
            "partition window then only labels the run). For a change of an incremental model's SQL, "
            "or of billable metrics and contracts that must reach events already classified. The "
            "published_* models have full_refresh: false in their dbt config: they are never rebuilt, "
            "only appended to."
        ),
    )
    new_rows_only: bool = Field(
        default=False,
        description=(
            "Process only the raw rows newer than what the incremental models hold (their watermark, "
            "loads that committed late included), not the whole partition window, which then only "
            "labels the run: what the freshness sensor's runs do, so that a run costs what arrived "
            "since the last one, not the whole day so far. Its data tests on per-row records then "
            "read the rows ingested in the partition window only (every other run tests every row)."
        ),
    )


class BillingDbtTranslator(DagsterDbtTranslator):
    """Groups assets by the dbt folder they live in; publication models get their own group."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return group_for_node(dbt_resource_props)


def group_for_node(dbt_resource_props: Mapping[str, Any]) -> str:
    """``publication`` and ``usage_and_spend`` for models with that tag, else the first folder under
    ``models/``; seeds: ``seeds``; snapshots of the seeds (decision 49): ``snapshots``."""
    tags = dbt_resource_props.get("tags") or []
    for tag in TAG_GROUPS:
        if tag in tags:
            return tag
    if dbt_resource_props.get("resource_type") in ("seed", "snapshot"):
        return f"{dbt_resource_props['resource_type']}s"
    fqn = dbt_resource_props.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return folder if folder in MODEL_FOLDERS else "other"


def resolve_as_of(configured: str | None, run_created_at: datetime) -> str:
    """The configured ``as_of``, or the run's creation time (UTC, whole seconds)."""
    if configured:
        return normalize_as_of(configured)
    if run_created_at.tzinfo is None:
        run_created_at = run_created_at.replace(tzinfo=UTC)
    return normalize_as_of(run_created_at.replace(microsecond=0).isoformat())


def dbt_vars(
    as_of: str,
    *,
    publish: bool = False,
    window: TimeWindow | None = None,
    approval_id: str | None = None,
    tests_window: TimeWindow | None = None,
) -> dict[str, Any]:
    """The run's dbt vars; with a partition window, also the raw rows to re-process; with an approval
    id (the publish step only), the approval the published models append from; with a tests window
    (the freshness sensor's runs only), the ingestion days whose per-row records the data tests read.

    Without a window ``ingested_from`` / ``ingested_to`` are left out (dbt's default, null: process
    everything newer than what the models hold); without a tests window the data tests read every row."""
    return {
        "as_of": as_of,
        "publish": publish,
        **(window_vars(window) if window else {}),
        **({"publication_approval_id": approval_id} if approval_id else {}),
        **(tests_window_vars(tests_window) if tests_window else {}),
    }


def tests_window_vars(window: TimeWindow) -> dict[str, str]:
    """The dbt vars that make the data tests on per-row records read the rows ingested in ``window``
    (macros/data_test_scope.sql, decision 69)."""
    return {f"tests_{name}": value for name, value in window_vars(window).items()}


def dbt_build_args(*, full_refresh: bool = False) -> list[str]:
    """``dbt build --exclude-resource-type unit_test [--full-refresh]``; dagster-dbt adds ``--select``
    for the step's assets, and the run's vars reach dbt through the environment (``dbt_cli``).

    The dbt unit tests check the SQL against fixed inputs: they belong to CI (``make test``), where
    the SQL changes, not to every production run, where only the data does (dbt's own advice). They
    were 42 of the billing step's nodes."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    return [*args, "--full-refresh"] if full_refresh else args


def dbt_cli(dbt: DbtCliResource, args: list[str], run_vars: Mapping[str, Any], **kwargs: Any) -> DbtCliInvocation:
    """Start ``dbt <args>`` with the run's vars in ``BILLING_DBT_RUN_VARS`` (macro ``run_var``), not in
    ``--vars``: dbt re-parses the whole project when --vars differ from its last parse's, and these differ
    every run (about 8 s per step on 2 cores). dagster-dbt copies the parse ``prepare_manifest`` made,
    without vars, into each invocation's target folder, so each step parses partially, i.e. not at all
    when nothing changed (issue 16, decision 59). The variable is set only while dagster-dbt starts the
    subprocess, which copies the environment then."""
    previous = os.environ.get(RUN_VARS_ENV)
    os.environ[RUN_VARS_ENV] = json.dumps(dict(run_vars), sort_keys=True)
    try:
        return dbt.cli(args, **kwargs)
    finally:
        if previous is None:
            os.environ.pop(RUN_VARS_ENV, None)
        else:
            os.environ[RUN_VARS_ENV] = previous


def run_as_of(context: AssetExecutionContext | AssetCheckExecutionContext, config: DbtRunConfig) -> str:
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


def window_text(window: TimeWindow, *, full_refresh: bool = False, new_rows_only: bool = False) -> str:
    """The run's window for its log lines."""
    if full_refresh:
        return "full refresh: every raw row, whatever the run's partitions"
    if new_rows_only:
        return "processing the raw rows newer than what the models hold, whatever the run's partitions"
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
        context.log.info(
            f"dbt build of the billing models, as_of {as_of}, "
            f"{window_text(window, full_refresh=config.full_refresh, new_rows_only=config.new_rows_only)}"
        )
        # The freshness sensor's runs process the new rows, and test the per-row records of the days
        # they were started for; every other run re-processes its window and tests every row.
        if config.new_rows_only:
            run_vars = dbt_vars(as_of, tests_window=window)
        else:
            run_vars = dbt_vars(as_of, window=window)
        invocation = dbt_cli(dbt, dbt_build_args(full_refresh=config.full_refresh), run_vars, context=context)
        yield from invocation.stream()

    return billing_dbt_models
