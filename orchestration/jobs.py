"""The two jobs: the hourly refresh and the gated invoice publication."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import AssetsDefinition, AssetSelection, define_asset_job

from orchestration.dbt_assets import BILLING_STEP, PUBLICATION_STEP

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

REFRESH_JOB = "billing_refresh_job"
PUBLICATION_JOB = "invoice_publication_job"


def build_refresh_job(billing: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        REFRESH_JOB,
        selection=AssetSelection.assets(billing),
        description="dbt build of every billing model, seed and test; never publishes.",
    )


def build_publication_job(
    billing: AssetsDefinition, publication: AssetsDefinition
) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        PUBLICATION_JOB,
        selection=AssetSelection.assets(billing, publication),
        description=(
            "dbt build of the billing models and their tests, then, only if every blocking check "
            "passed, dbt build of the publication models with publish=true (see publication_gate)."
        ),
    )


def run_config_for(
    as_of: str | None, steps: tuple[str, ...] = (BILLING_STEP, PUBLICATION_STEP)
) -> dict[str, Any]:
    """Run config that gives every dbt step of a job the same ``as_of``."""
    return {"ops": {step: {"config": {"as_of": as_of}} for step in steps}}
