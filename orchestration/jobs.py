"""The two jobs: the hourly refresh and the gated invoice publication."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import AssetChecksDefinition, AssetsDefinition, AssetSelection, define_asset_job

from orchestration.dbt_assets import BILLING_STEP
from orchestration.publication import PUBLICATION_STEP

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

REFRESH_JOB = "billing_refresh_job"
PUBLICATION_JOB = "invoice_publication_job"


def _with_checks(selection: AssetSelection, quality: AssetChecksDefinition | None) -> AssetSelection:
    """Add the Great Expectations checks (one of them targets raw/usage_events, not selected here)."""
    return selection | AssetSelection.checks(quality) if quality is not None else selection


def _with_dashboard_copy(selection: AssetSelection, dashboard_copy: AssetsDefinition | None) -> AssetSelection:
    """Add the dashboards' DuckDB copy (DuckDB target only), refreshed once the run's models are built."""
    return selection | AssetSelection.assets(dashboard_copy) if dashboard_copy is not None else selection


def build_refresh_job(
    billing: AssetsDefinition,
    quality: AssetChecksDefinition | None = None,
    dashboard_copy: AssetsDefinition | None = None,
) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        REFRESH_JOB,
        selection=_with_checks(_with_dashboard_copy(AssetSelection.assets(billing), dashboard_copy), quality),
        description=(
            "dbt build of every billing model, seed and test, then the Great Expectations checks; "
            "never publishes."
        ),
    )


def build_publication_job(
    billing: AssetsDefinition,
    publication: AssetsDefinition,
    quality: AssetChecksDefinition | None = None,
    dashboard_copy: AssetsDefinition | None = None,
) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        PUBLICATION_JOB,
        selection=_with_checks(
            _with_dashboard_copy(AssetSelection.assets(billing, publication), dashboard_copy), quality
        ),
        description=(
            "dbt build of the billing models and their tests, the Great Expectations checks, then, "
            "only if every blocking check passed, dbt build of the publication models with "
            "publish=true (see orchestration.publication)."
        ),
    )


def run_config_for(
    as_of: str | None,
    steps: tuple[str, ...] = (BILLING_STEP, PUBLICATION_STEP),
    *,
    full_refresh: bool = False,
    new_rows_only: bool = False,
) -> dict[str, Any]:
    """Run config that gives every dbt step of a job the same ``as_of`` (and ``full_refresh`` or
    ``new_rows_only``, when set)."""
    config: dict[str, Any] = {
        "as_of": as_of,
        **({"full_refresh": True} if full_refresh else {}),
        **({"new_rows_only": True} if new_rows_only else {}),
    }
    return {"ops": {step: {"config": dict(config)} for step in steps}}
