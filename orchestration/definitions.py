"""Dagster entry point: ``dagster dev -m orchestration.definitions``."""

from __future__ import annotations

from dagster import AssetSpec, Definitions
from dagster_dbt import DbtProject

from orchestration.alert_sensor import alert_sensors
from orchestration.dashboard_copy import build_dashboard_copy_asset
from orchestration.dbt_assets import build_billing_assets
from orchestration.freshness_sensor import build_freshness_sensor
from orchestration.jobs import build_publication_job, build_refresh_job
from orchestration.kafka_sensor import kafka_sensors
from orchestration.publication import build_publication_assets, checks_required_for_publication
from orchestration.quality_checks import blocking_gx_check_keys, build_quality_checks
from orchestration.resources import build_dbt_project, build_dbt_resource, prepare_manifest
from orchestration.schedules import build_daily_publication_schedule, build_hourly_refresh_schedule
from warehouse_billing.quality.config import QualityConfig, load_quality_config

RAW_USAGE_EVENTS = AssetSpec(
    key=["raw", "usage_events"],
    group_name="raw",
    description=(
        "Raw usage as landed by warehouse_billing.loader, the Kafka consumer (or any other tool); dbt "
        "source raw.usage_events."
    ),
)


def build_definitions(
    project: DbtProject | None = None, quality_config: QualityConfig | None = None
) -> Definitions:
    """Everything for one dbt project (default: ``$BILLING_DBT_PROJECT_DIR`` or the repository) and one
    data-quality configuration (default: ``warehouse_billing/quality/config.yaml``)."""
    project = project or build_dbt_project()
    prepare_manifest(project)
    billing = build_billing_assets(project)
    quality_config = quality_config or load_quality_config()
    quality = build_quality_checks(quality_config)
    gate = checks_required_for_publication(billing, blocking_gx_check_keys(quality_config))
    publication = build_publication_assets(project, gate_checks=gate)
    dashboard_copy = build_dashboard_copy_asset(project, after=publication.keys)  # DuckDB only
    refresh_job = build_refresh_job(billing, quality, dashboard_copy)
    publication_job = build_publication_job(billing, publication, quality, dashboard_copy)
    return Definitions(
        assets=[RAW_USAGE_EVENTS, billing, publication, *([dashboard_copy] if dashboard_copy else [])],
        asset_checks=[quality],
        jobs=[refresh_job, publication_job],
        schedules=[
            build_hourly_refresh_schedule(refresh_job),
            build_daily_publication_schedule(publication_job),
        ],
        # the freshness sensor always (stopped until turned on, like the schedules); the Kafka sensor only
        # with BILLING_KAFKA_TOPIC, the alert sensor only with BILLING_ALERT_WEBHOOK_URL
        sensors=[
            build_freshness_sensor(refresh_job, project.project_dir),
            *kafka_sensors(refresh_job),
            *alert_sensors(),
        ],
        resources={"dbt": build_dbt_resource(project)},
    )


defs = build_definitions()
