"""The Dagster definitions load, and the pure helpers behind them behave."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    Definitions,
    PartitionKeyRange,
    TimeWindow,
    build_schedule_context,
    partition_loading_context,
)

from orchestration.dbt_assets import (
    DbtRunConfig,
    dbt_build_args,
    dbt_vars,
    group_for_node,
    normalize_as_of,
    resolve_as_of,
)
from orchestration.jobs import (
    BILLING_STEP,
    PUBLICATION_JOB,
    PUBLICATION_STEP,
    REFRESH_JOB,
    run_config_for,
)
from orchestration.dashboard_copy import DASHBOARD_COPY, build_dashboard_copy_asset, exposure_models
from orchestration.partitions import DAILY_INGESTION_PARTITIONS, partition_range_tags
from orchestration.publication import blocking_check_keys, gate_problems
from orchestration.quality_checks import QUALITY_STEP
from orchestration.resources import (
    MANIFEST_TARGET_STAMP,
    build_dbt_project,
    dbt_executable,
    manifest_is_stale,
    prune_invocation_dirs,
)

MARTS = ["invoices", "invoice_lines", "quarantined_usage_events", "usage_event_reconciliation"]
GX_CHECKS = {
    "gx_raw_usage_schema": "raw/usage_events",
    "gx_raw_usage_ids": "raw/usage_events",
    "gx_raw_usage_timestamps": "raw/usage_events",
    "gx_raw_usage_volume": "raw/usage_events",
    "gx_rated_charges": "int_charges_rated",
    "gx_invoice_lines": "invoice_lines",
    "gx_invoice_currency": "invoices",
    "gx_invoice_period_change": "invoices",
}
PUBLICATION = ["published_invoices", "published_invoice_lines"]
SPEND = [
    "int_usage_charges_to_date", "int_metric_quantities_to_date", "daily_usage", "daily_spend", "customer_live_spend",
    "customer_credit_balances", "alert_notifications",
]


@pytest.fixture(scope="module")
def defs() -> Definitions:
    from orchestration.definitions import defs

    return defs


def _keys(*names: str) -> set[AssetKey]:
    return {AssetKey(name) for name in names}


def test_definitions_load_with_every_mart_and_publication_model(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    assert _keys(*MARTS, *PUBLICATION) <= set(graph.get_all_asset_keys())
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.materializable_asset_keys}
    assert {groups[name] for name in MARTS} == {"marts"}
    assert {groups[name] for name in PUBLICATION} == {"publication"}
    assert groups["stg_raw__usage_events"] == "staging"
    assert {groups[name] for name in SPEND} == {"usage_and_spend"}
    assert {group for name, group in groups.items() if name.startswith("int_") and name not in SPEND} == {
        "intermediate"
    }
    assert groups["currencies"] == "seeds"
    assert groups["prices_snapshot"] == "snapshots"


def test_dbt_tests_arrive_as_asset_checks(defs: Definitions) -> None:
    checks = defs.resolve_asset_graph().asset_check_keys
    assert AssetCheckKey(AssetKey("invoices"), "unique_invoices_invoice_id") in checks
    assert AssetCheckKey(AssetKey("currencies"), "unique_currencies_currency") in checks
    assert any(key.asset_key == AssetKey("published_invoices") for key in checks)


def test_gate_requires_every_error_severity_check_of_the_billing_models(defs: Definitions) -> None:
    billing = defs.resolve_assets_def(AssetKey("invoices"))
    gate = blocking_check_keys(billing)
    assert AssetCheckKey(AssetKey("invoices"), "unique_invoices_invoice_id") in gate
    assert set(gate) == {spec.key for spec in billing.check_specs if spec.blocking}
    assert not {key.asset_key for key in gate} & _keys(*PUBLICATION)


def _upstream_nodes(job, node: str) -> set[str]:
    upstream = job.graph.dependency_structure.input_to_upstream_outputs_for_node(node)
    return {output.node_name for outputs in upstream.values() for output in outputs}


def test_refresh_job_builds_everything_but_publication(defs: Definitions) -> None:
    job = defs.resolve_job_def(REFRESH_JOB)
    selected = job.asset_layer.selected_asset_keys
    assert _keys(*MARTS) <= selected
    assert not _keys(*PUBLICATION) & selected
    assert {node.name for node in job.graph.node_defs} == {BILLING_STEP, QUALITY_STEP, DASHBOARD_COPY}
    # The Great Expectations checks run after the dbt build, every one of them (raw usage included).
    assert _upstream_nodes(job, QUALITY_STEP) == {BILLING_STEP}
    # the dashboards' DuckDB copy is refreshed once the models it serves are built and checked
    assert _upstream_nodes(job, DASHBOARD_COPY) == {BILLING_STEP, QUALITY_STEP}
    assert set(GX_CHECKS) <= {key.name for key in job.asset_layer.asset_graph.asset_check_keys}


def test_publication_job_runs_billing_then_publication(defs: Definitions) -> None:
    job = defs.resolve_job_def(PUBLICATION_JOB)
    assert _keys(*MARTS, *PUBLICATION) <= job.asset_layer.selected_asset_keys
    # The publication step waits for the billing step and the Great Expectations step (and is
    # skipped if either fails); the GX step waits for the billing step.
    assert _upstream_nodes(job, PUBLICATION_STEP) == {BILLING_STEP, QUALITY_STEP}
    assert _upstream_nodes(job, QUALITY_STEP) == {BILLING_STEP}
    # the copy opens the DuckDB file, which the publication step writes: it comes last
    assert _upstream_nodes(job, DASHBOARD_COPY) == {BILLING_STEP, QUALITY_STEP, PUBLICATION_STEP}


def test_the_dashboard_copy_waits_for_what_the_dashboards_read(defs: Definitions) -> None:
    copy = defs.resolve_assets_def(AssetKey(DASHBOARD_COPY))
    read = set(exposure_models(build_dbt_project().manifest_path))
    assert {"invoices", "invoice_lines", "portal_live_spend", "portal_alert_notifications"} <= read
    assert _keys(*read, *PUBLICATION) <= {dep.asset_key for dep in copy.specs_by_key[AssetKey(DASHBOARD_COPY)].deps}
    assert copy.partitions_def == DAILY_INGESTION_PARTITIONS


def test_no_dashboard_copy_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    """Postgres serves the dashboards itself (many readers beside the writer)."""
    monkeypatch.setenv("BILLING_TARGET", "postgres")
    assert build_dashboard_copy_asset(build_dbt_project()) is None


def test_great_expectations_checks_on_raw_usage_rated_usage_and_invoices(defs: Definitions) -> None:
    checks = {key.name: key.asset_key for key in defs.resolve_asset_graph().asset_check_keys}
    assert {name: checks[name].to_user_string() for name in GX_CHECKS} == GX_CHECKS


def test_both_dbt_steps_are_daily_partitioned_with_single_run_backfills(defs: Definitions) -> None:
    billing = defs.resolve_assets_def(AssetKey("invoices"))
    publication = defs.resolve_assets_def(AssetKey("published_invoices"))
    assert billing.node_def.name == BILLING_STEP and publication.node_def.name == PUBLICATION_STEP
    for assets_def in (billing, publication):
        partitions = assets_def.partitions_def
        assert isinstance(partitions, DailyPartitionsDefinition)
        assert partitions == DAILY_INGESTION_PARTITIONS
        assert (partitions.timezone, partitions.end_offset) == ("UTC", 1)
        assert partitions.get_first_partition_key() == "2026-01-01"
        assert assets_def.backfill_policy == BackfillPolicy.single_run()
    for job_name in (REFRESH_JOB, PUBLICATION_JOB):
        assert defs.resolve_job_def(job_name).partitions_def == DAILY_INGESTION_PARTITIONS


def test_todays_partition_exists() -> None:
    """end_offset=1: the partition of the day in progress can run (the hourly refresh needs it)."""
    with partition_loading_context(datetime(2026, 11, 21, 0, 30, tzinfo=UTC)):
        assert DAILY_INGESTION_PARTITIONS.get_last_partition_key() == "2026-11-21"
        assert not DAILY_INGESTION_PARTITIONS.has_partition_key("2026-11-22")


def test_a_backfill_of_several_days_is_planned_as_one_run(defs: Definitions) -> None:
    """Dagster's own backfill planning (the function its asset backfills use) makes one run of a
    range, tagged exactly as orchestration.partitions.partition_range_tags tags one."""
    from dagster._core.definitions.automation_tick_evaluation_context import (
        build_run_requests_with_backfill_policies,
    )
    from dagster._core.definitions.events import AssetKeyPartitionKey
    from dagster._core.instance import DagsterInstance

    graph = defs.resolve_asset_graph()
    days = ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"]
    wanted = [AssetKeyPartitionKey(key, day) for key in graph.materializable_asset_keys for day in days]
    with DagsterInstance.ephemeral() as instance:
        (request,) = build_run_requests_with_backfill_policies(wanted, graph, instance)
    assert request.partition_key_range == PartitionKeyRange("2026-09-01", "2026-09-04")
    assert request.tags == partition_range_tags(PartitionKeyRange("2026-09-01", "2026-09-04"))
    assert set(request.asset_selection) == set(graph.materializable_asset_keys)


def _tick_request(defs: Definitions, job_name: str, tick: datetime):
    (schedule,) = [s for s in defs.schedules if s.job_name == job_name]
    # The repository lets Dagster check the partition key against the job's partitions.
    context = build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def())
    (request,) = schedule.evaluate_tick(context).run_requests
    return request


def test_hourly_refresh_schedule(defs: Definitions) -> None:
    (schedule,) = [s for s in defs.schedules if s.job_name == REFRESH_JOB]
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    request = _tick_request(defs, REFRESH_JOB, datetime(2026, 11, 21, 13, 0, tzinfo=UTC))
    assert request.run_config == run_config_for("2026-11-21T13:00:00", (BILLING_STEP,))
    assert request.partition_key == "2026-11-21"
    # The midnight tick finishes the day that just ended, with as_of still the tick's time.
    request = _tick_request(defs, REFRESH_JOB, datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    assert request.partition_key == "2026-11-20"
    assert request.run_config == run_config_for("2026-11-21T00:00:00", (BILLING_STEP,))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T00:00:00", "2026-11-21T00:00:00"),
        ("2026-11-21", "2026-11-21T00:00:00"),
        ("2026-11-21T00:00:00Z", "2026-11-21T00:00:00"),
        ("2026-11-21T02:30:00+02:00", "2026-11-21T00:30:00"),
        (" 2026-11-21 00:00:00.250 ", "2026-11-21T00:00:00.250000"),
    ],
)
def test_normalize_as_of(text: str, expected: str) -> None:
    assert normalize_as_of(text) == expected


def test_normalize_as_of_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="as_of must be an ISO 8601 timestamp"):
        normalize_as_of("yesterday")


def test_resolve_as_of_prefers_config_else_run_creation_time() -> None:
    created = datetime(2026, 11, 21, 9, 15, 42, 123456, tzinfo=UTC)
    assert resolve_as_of("2026-11-01T00:00:00Z", created) == "2026-11-01T00:00:00"
    assert resolve_as_of(None, created) == "2026-11-21T09:15:42"
    assert resolve_as_of("", created.replace(tzinfo=None)) == "2026-11-21T09:15:42"


def test_dbt_vars_and_args() -> None:
    assert dbt_vars("2026-11-21T00:00:00") == {"as_of": "2026-11-21T00:00:00", "publish": False}
    # the vars reach dbt through the environment, not --vars (dbt_cli; test_parse_reuse.py)
    assert dbt_build_args() == ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(full_refresh=True) == ["build", "--exclude-resource-type", "unit_test", "--full-refresh"]


def test_dbt_vars_carry_the_partition_window_next_to_an_independent_as_of() -> None:
    window = TimeWindow(datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 4, 8, tzinfo=UTC))
    expected = {
        "as_of": "2026-11-21T02:00:00",
        "publish": True,
        "ingested_from": "2026-04-05T00:00:00",
        "ingested_to": "2026-04-08T00:00:00",
    }
    assert dbt_vars("2026-11-21T02:00:00", publish=True, window=window) == expected


def test_run_config_gives_each_step_the_same_as_of() -> None:
    config = run_config_for("2026-11-21T00:00:00")
    assert config == {
        "ops": {
            BILLING_STEP: {"config": {"as_of": "2026-11-21T00:00:00"}},
            PUBLICATION_STEP: {"config": {"as_of": "2026-11-21T00:00:00"}},
        }
    }


def test_full_refresh_is_run_config_that_reaches_dbt_as_a_flag() -> None:
    assert DbtRunConfig().full_refresh is False
    assert "--full-refresh" not in dbt_build_args()
    assert dbt_build_args(full_refresh=True)[-1] == "--full-refresh"
    config = run_config_for("2026-11-21T00:00:00", (BILLING_STEP,), full_refresh=True)
    assert config == {
        "ops": {BILLING_STEP: {"config": {"as_of": "2026-11-21T00:00:00", "full_refresh": True}}}
    }


def test_the_run_config_schema_has_full_refresh_off_by_default(defs: Definitions) -> None:
    job = defs.resolve_job_def(PUBLICATION_JOB)
    for step in (BILLING_STEP, PUBLICATION_STEP):
        fields = job.graph.node_named(step).definition.config_schema.config_type.fields
        assert fields["full_refresh"].default_value is False
        assert not fields["full_refresh"].is_required


@pytest.mark.parametrize(
    ("props", "group"),
    [
        ({"resource_type": "model", "fqn": ["warehouse_billing", "staging", "stg_x"], "tags": []}, "staging"),
        ({"resource_type": "model", "fqn": ["warehouse_billing", "intermediate", "int_x"]}, "intermediate"),
        ({"resource_type": "model", "fqn": ["warehouse_billing", "marts", "invoices"], "tags": []}, "marts"),
        (
            {
                "resource_type": "model",
                "fqn": ["warehouse_billing", "marts", "published_x"],
                "tags": ["publication"],
            },
            "publication",
        ),
        (
            {
                "resource_type": "model",
                "fqn": ["warehouse_billing", "marts", "usage_and_spend", "daily_spend"],
                "tags": ["usage_and_spend"],
            },
            "usage_and_spend",
        ),
        ({"resource_type": "seed", "fqn": ["warehouse_billing", "currencies"], "tags": []}, "seeds"),
        ({"resource_type": "snapshot", "fqn": ["warehouse_billing", "prices_snapshot"]}, "snapshots"),
        ({"resource_type": "model", "fqn": ["warehouse_billing", "top_level"], "tags": []}, "other"),
    ],
)
def test_group_for_node(props: dict, group: str) -> None:
    assert group_for_node(props) == group


def _evaluation(key: AssetCheckKey, passed: bool, severity: AssetCheckSeverity) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=key.asset_key, check_name=key.name, passed=passed, severity=severity, metadata={}
    )


def test_gate_blocks_on_failed_or_missing_checks_only() -> None:
    ok, warned, failed, missing = (AssetCheckKey(AssetKey("invoices"), name) for name in "abcd")
    evaluations = {
        ok: _evaluation(ok, True, AssetCheckSeverity.ERROR),
        warned: _evaluation(warned, False, AssetCheckSeverity.WARN),
        failed: _evaluation(failed, False, AssetCheckSeverity.ERROR),
    }
    assert gate_problems([ok, warned], evaluations) == []
    assert gate_problems([ok, failed, missing], evaluations) == [
        "failed: invoices:c",
        "not evaluated: invoices:d",
    ]


def test_dbt_executable_is_found_without_the_venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert Path(dbt_executable()).is_file()


def test_manifest_staleness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: probe\nprofile: probe\n", encoding="utf-8")
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1", encoding="utf-8")
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    project = build_dbt_project(tmp_path)
    assert manifest_is_stale(project)  # no manifest yet
    project.manifest_path.parent.mkdir()
    project.manifest_path.write_text("{}", encoding="utf-8")
    (project.manifest_path.parent / MANIFEST_TARGET_STAMP).write_text("duckdb", encoding="utf-8")
    now = time.time()
    for source in (model, tmp_path / "dbt_project.yml"):
        os.utime(source, (now - 60, now - 60))
    os.utime(project.manifest_path, (now - 30, now - 30))
    assert not manifest_is_stale(project)
    os.utime(model, (now, now))  # a model edited after the parse
    assert manifest_is_stale(project)
    os.utime(model, (now - 60, now - 60))
    assert not manifest_is_stale(project)
    monkeypatch.setenv("BILLING_TARGET", "postgres")  # parsed for another target
    assert manifest_is_stale(build_dbt_project(tmp_path))


def test_prune_invocation_dirs_keeps_the_newest(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: probe\nprofile: probe\n", encoding="utf-8")
    target = tmp_path / "target"
    now = time.time()
    for age in range(12):
        folder = target / f"billing_dbt_models-run{age:02d}-x"
        folder.mkdir(parents=True)
        os.utime(folder, (now - age, now - age))
    (target / "publication_dbt_models-other-x").mkdir()
    prune_invocation_dirs(build_dbt_project(tmp_path), "billing_dbt_models", keep=10)
    left = sorted(path.name for path in target.iterdir())
    assert left == [f"billing_dbt_models-run{age:02d}-x" for age in range(10)] + [
        "publication_dbt_models-other-x"
    ]


def test_daily_publication_schedule(defs: Definitions) -> None:
    (schedule,) = [s for s in defs.schedules if s.job_name == PUBLICATION_JOB]
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    request = _tick_request(defs, PUBLICATION_JOB, datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
    configs = [op["config"]["as_of"] for op in request.run_config["ops"].values()]
    assert configs == ["2026-11-21T02:00:00", "2026-11-21T02:00:00"]
    assert request.partition_key == "2026-11-21"


class RecordedDbtCli:
    """Stands in for ``dbt_cli`` in a step: records each call's dbt arguments and run vars, starts no dbt."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, dbt, args, run_vars, **kwargs) -> RecordedDbtCli:
        self.calls.append((list(args), dict(run_vars)))
        return self

    def wait(self) -> RecordedDbtCli:
        return self

    def stream(self):
        return iter(())


@pytest.mark.parametrize("full_refresh", [False, True])
def test_the_publication_step_passes_full_refresh_on_to_dbt(
    defs: Definitions, monkeypatch: pytest.MonkeyPatch, full_refresh: bool
) -> None:
    """The publication op itself hands the run's full_refresh to its dbt build, with the run's as_of and
    its approval. The gate is made to pass (test_gate_blocks_on_failed_or_missing_checks_only checks
    it) and dbt is not started: its two calls are recorded."""
    from dagster import DagsterInstance, materialize

    import orchestration.publication as publication
    from orchestration.resources import build_dbt_resource

    dbt_cli = RecordedDbtCli()
    monkeypatch.setattr(publication, "dbt_cli", dbt_cli)
    monkeypatch.setattr(publication, "prune_invocation_dirs", lambda *args: None)
    monkeypatch.setattr(publication, "gate_problems", lambda required, evaluations: [])
    project = build_dbt_project()
    assets = publication.build_publication_assets(project, gate_checks=[])
    config = {"as_of": "2026-11-21T00:00:00", "full_refresh": full_refresh}
    result = materialize(
        [assets], partition_key="2026-11-20", instance=DagsterInstance.ephemeral(),
        resources={"dbt": build_dbt_resource(project)}, run_config={"ops": {PUBLICATION_STEP: {"config": config}}},
    )
    assert result.success
    (approval, _), (build, run_vars) = dbt_cli.calls
    assert approval[:2] == ["run-operation", "record_publication_approval"]
    assert build == dbt_build_args(full_refresh=full_refresh)
    assert ("--full-refresh" in build) is full_refresh
    assert run_vars["as_of"] == "2026-11-21T00:00:00" and run_vars["publish"] is True
    assert run_vars["publication_approval_id"] == result.run_id


@pytest.mark.parametrize("new_rows_only", [False, True])
def test_the_billing_step_processes_its_window_or_only_the_new_rows(
    monkeypatch: pytest.MonkeyPatch, new_rows_only: bool
) -> None:
    """A partition's run re-processes the rows ingested in its window; with new_rows_only (the
    freshness sensor's runs) dbt gets no window and processes what is newer than the models hold,
    and the window goes to the data tests on per-row records instead (they read those days' rows;
    every other run tests every row). dbt is not started: its call is recorded."""
    from dagster import DagsterInstance, materialize

    import orchestration.dbt_assets as dbt_assets
    from orchestration.resources import build_dbt_resource

    dbt_cli = RecordedDbtCli()
    monkeypatch.setattr(dbt_assets, "dbt_cli", dbt_cli)
    monkeypatch.setattr(dbt_assets, "prune_invocation_dirs", lambda *args: None)
    project = build_dbt_project()
    config = run_config_for("2026-11-21T00:30:00", (BILLING_STEP,), new_rows_only=new_rows_only)
    result = materialize(
        [dbt_assets.build_billing_assets(project)], partition_key="2026-11-20",
        instance=DagsterInstance.ephemeral(), resources={"dbt": build_dbt_resource(project)}, run_config=config,
    )
    assert result.success
    ((args, run_vars),) = dbt_cli.calls
    assert args == dbt_build_args() and run_vars["as_of"] == "2026-11-21T00:30:00"
    keys = ("ingested_from", "ingested_to", "tests_ingested_from", "tests_ingested_to")
    window = [run_vars.get(key) for key in keys]
    if new_rows_only:
        assert window == [None, None, "2026-11-20T00:00:00", "2026-11-21T00:00:00"]
    else:
        assert window == ["2026-11-20T00:00:00", "2026-11-21T00:00:00", None, None]
