"""The dashboards' read-only DuckDB copy as a Dagster asset (decision 57).

DuckDB lets one process write a file or several read it, never both, so the dashboards (``dashboards/``)
never open the warehouse Dagster writes: they read a copy that this asset refreshes at the end of
every run of both jobs, once the models the dashboards' dbt exposures name are built (and, in the
publication job, once the publication models are: nothing may write the file while it is copied).
Dagster also runs it after the Great Expectations step, whose checks target its parents. It opens the
warehouse read-only and waits for a sensor or loader that writes it. A run whose dbt build fails leaves
the last good copy in place. On Postgres the dashboards read the warehouse itself (as
billing_reader and billing_customer), and there is no copy.
"""

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BetaWarning, MaterializeResult, asset
from dagster_dbt import DbtProject

from orchestration.partitions import DAILY_INGESTION_PARTITIONS, SINGLE_RUN_BACKFILL
from warehouse_billing.dashboard_data import refresh_dashboard_copy

DASHBOARD_COPY = "dashboard_copy"


def exposure_models(manifest_path: Path) -> list[str]:
    """The models the project's dashboard exposures depend on, by name (their Dagster asset keys)."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    names = set()
    for exposure in manifest.get("exposures", {}).values():
        if exposure.get("type") != "dashboard":
            continue
        for node_id in exposure.get("depends_on", {}).get("nodes", []):
            node = manifest["nodes"].get(node_id)
            if node and node.get("resource_type") == "model":
                names.add(node["name"])
    return sorted(names)


def build_dashboard_copy_asset(project: DbtProject, after: Iterable[AssetKey] = ()) -> AssetsDefinition | None:
    """The asset on the DuckDB target; None elsewhere (Postgres serves the dashboards itself).

    ``after``: assets of the jobs that write the warehouse without feeding the dashboards (the
    publication models): the copy waits for them too, since it cannot open the file while they write."""
    if project.target != "duckdb":
        return None

    # the same single-run backfill policy as the dbt steps of the job, so a partition range stays one run
    # (Dagster marks the parameter beta on @asset, not on @dbt_assets: its warning says nothing to act on)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return _dashboard_copy_asset(project, after)


def _dashboard_copy_asset(project: DbtProject, after: Iterable[AssetKey]) -> AssetsDefinition:
    read = [AssetKey(name) for name in exposure_models(project.manifest_path)]
    @asset(
        name=DASHBOARD_COPY,
        group_name="dashboards",
        deps=sorted({*read, *after}, key=lambda key: key.to_user_string()),
        partitions_def=DAILY_INGESTION_PARTITIONS,
        backfill_policy=SINGLE_RUN_BACKFILL,
        description=(
            "The read-only copy of the DuckDB warehouse that `make dashboard` serves (DuckDB allows one "
            "writer or many readers, never both): copied whole and swapped in at once after each run."
        ),
    )
    def dashboard_copy(context: AssetExecutionContext) -> MaterializeResult:
        path = refresh_dashboard_copy()
        context.log.info(f"dashboard copy refreshed: {path}")
        return MaterializeResult(metadata={"path": str(path), "bytes": path.stat().st_size})

    return dashboard_copy
