"""Incremental runs follow the new data and still bill exactly what a full refresh bills.

The incremental models process a batch of raw rows: either a window of ingested_at given by the
vars ingested_from / ingested_to (a Dagster partition or a backfill), or everything newer than what
they already hold. These tests run the same raw rows through different sequences of batches and
compare every mart with a full refresh, and show that a re-send arriving days later is still caught.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.publishing import BILLING_ONLY
from support.shared import build_once
from support.warehouse import Warehouse, copy_duckdb, land_rows, postgres_database

from warehouse_billing.demo_data import generate_labelled_events

pytestmark = pytest.mark.warehouse

STATE_QUERIES = {
    "classified": (
        "select raw_row_key, event_status, quarantine_reason, is_conflicting_duplicate, is_metered "
        "from {schema}.int_usage_events_classified order by raw_row_key"
    ),
    "daily": (
        "select contract_id, usage_date, metric_id, dimensions, distinct_value, event_count, value_sum, "
        "value_max, latest_value, latest_event_id from {schema}.int_usage_daily_aggregates "
        "order by contract_id, usage_date, metric_id, dimensions, distinct_value"
    ),
    "daily_priced": (
        "select contract_id, usage_date, invoice_id, metric_id, dimensions, product_id, price_id, "
        "event_count, value_sum, newest_ingested_at from {schema}.int_usage_daily_price_matches "
        "order by contract_id, usage_date, metric_id, dimensions, product_id"
    ),
    "invoices": "select * from {schema}.invoices order by invoice_id",
    "invoice_lines": "select * from {schema}.invoice_lines order by invoice_line_id",
    # incremental by invoice (with the threshold replay below): not classified_through, as there
    "quantities": (
        "select invoice_id, price_id, dimensions, event_count, quantity, reference_fingerprint "
        "from {schema}.int_charge_quantities_from_events order by invoice_id, price_id, dimensions"
    ),
    # the threshold replay, incremental by billing period (ct_0145 of cus_0146 has thresholds); not
    # classified_through, the batch watermark, which depends on the sequence of runs by design
    "threshold_steps": (
        "select invoice_id, product_id, replay_step, ingested_at, usage_amount, amount_after_terms, "
        "reference_fingerprint from {schema}.int_threshold_product_steps "
        "order by invoice_id, product_id, replay_step"
    ),
    "reconciliation": (
        "select ingestion_date, received_count, accepted_count, duplicate_count, conflicting_duplicate_count, "
        "quarantined_count, unmetered_count, is_balanced from {schema}.usage_event_reconciliation "
        "order by ingestion_date"
    ),
}


def _state(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {name: warehouse.query(sql) for name, sql in STATE_QUERIES.items()}


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"ingested_from": start.isoformat(), "ingested_to": end.isoformat()}


@pytest.fixture(scope="module")
def demo_rows() -> list[dict]:
    """A slice of the demo (a fifth of the customers, with 12 of the demo's 16 kinds of row: duplicates,
    conflicting duplicates, late and quarantined rows among them, and the customer whose contract has
    billing thresholds), in ingestion order."""
    rows = [
        row for _, row in generate_labelled_events()
        if (row["customer_id"] or "") < "cus_0060" or row["customer_id"] == "cus_0146"
    ]
    return sorted(rows, key=lambda row: row["ingested_at"])


def _run_sequence(warehouse: Warehouse, rows: list[dict]) -> None:
    """A first build on the rows landed before the first cut; then the rest lands and is processed
    in windows of uneven size, like partitions and backfills (single days, a month), and what is left
    by watermark, in a build that runs the billing models' data tests on the incremental state too.
    (A re-run of a window: test_rerunning_a_window_changes_nothing.)"""
    first = min(row["ingested_at"] for row in rows).replace(hour=0, minute=0, second=0, microsecond=0)
    cuts = [first + timedelta(days=days) for days in (30, 31, 32, 60)]
    land_rows(warehouse, [row for row in rows if row["ingested_at"] < cuts[0]])
    warehouse.dbt("seed")
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend")
    land_rows(warehouse, [row for row in rows if row["ingested_at"] >= cuts[0]])
    for start, end in zip(cuts, cuts[1:], strict=False):
        warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", extra_vars=_window(start, end))
    warehouse.dbt("build", *BILLING_ONLY)


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_windows_then_watermark_equal_a_full_refresh(tmp_path: Path, demo_rows: list[dict], target: str):
    if target == "duckdb":
        warehouse = Warehouse("duckdb", tmp_path)
        _check_sequence_equals_full_refresh(warehouse, demo_rows)
    else:
        with postgres_database() as database:
            _check_sequence_equals_full_refresh(Warehouse("postgres", tmp_path, pg_database=database), demo_rows)


def _check_sequence_equals_full_refresh(warehouse: Warehouse, rows: list[dict]) -> None:
    _run_sequence(warehouse, rows)
    incremental = _state(warehouse)
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh")
    full_refresh = _state(warehouse)
    assert len(incremental["classified"]) == len(rows)
    assert len(incremental["invoices"]) > 50
    assert len(incremental["threshold_steps"]) > 10
    for name in STATE_QUERIES:
        assert incremental[name] == full_refresh[name], f"{name} differs after a full refresh"


# cus_0240 has contract ct_0236 on rc_growth (USD) from 2026-06-23; api_requests counts api_request
# events. Each row below is one raw row; the re-sends keep the event_id of the original.
def _api_request(event_id: str, occurred_at: datetime, ingested_at: datetime, user: str = "u1") -> dict:
    return {
        "event_id": event_id,
        "customer_id": "cus_0240",
        "event_type": "api_request",
        "occurred_at": occurred_at.isoformat() + "Z",
        "properties": json.dumps({"user_id": user, "endpoint": "/v1/chat"}),
        "ingested_at": ingested_at,
    }


def test_a_resend_days_later_is_a_duplicate_and_billed_once(tmp_path: Path):
    day = datetime(2026, 9, 3, 10, 0)
    rows = [
        _api_request("evt_resent", day, day + timedelta(minutes=2)),
        _api_request("evt_resent", day, day + timedelta(days=4)),  # the same event, re-sent 4 days later
        _api_request("evt_resent", day, day + timedelta(days=6), user="u2"),  # and again, changed
        _api_request("evt_other", day, day + timedelta(minutes=3)),
        _api_request("evt_late_copy", day, day + timedelta(days=9)),  # first copy arrives 9 days late
        _api_request("evt_late_copy", day, day + timedelta(days=34, hours=23)),  # inside the late window
    ]
    warehouse = Warehouse("duckdb", tmp_path)
    # Rows land as time passes; after each landing the window of ingestion days since the last run
    # is processed, as a daily partition or a backfill over several days would be.
    cuts = [datetime(2026, 9, 3), datetime(2026, 9, 4), datetime(2026, 9, 8), datetime(2026, 9, 10),
            datetime(2026, 9, 13), datetime(2026, 10, 9)]
    for start, end in zip(cuts, cuts[1:], strict=False):
        land_rows(warehouse, [row for row in rows if start <= row["ingested_at"] < end])
        if start == cuts[0]:
            warehouse.dbt("seed")
        warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", extra_vars=_window(start, end))

    outcomes = warehouse.query(
        "select event_id, cast(ingested_at as date), event_status, is_conflicting_duplicate "
        "from {schema}.int_usage_events_classified order by event_id, ingested_at"
    )
    assert outcomes == [
        ("evt_late_copy", datetime(2026, 9, 12).date(), "accepted", False),
        ("evt_late_copy", datetime(2026, 10, 8).date(), "duplicate", False),
        ("evt_other", datetime(2026, 9, 3).date(), "accepted", False),
        ("evt_resent", datetime(2026, 9, 3).date(), "accepted", False),
        ("evt_resent", datetime(2026, 9, 7).date(), "duplicate", False),
        ("evt_resent", datetime(2026, 9, 9).date(), "duplicate", True),
    ]
    (requests,) = warehouse.query(
        "select l.quantity from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where i.customer_id = 'cus_0240' and i.period_start = cast('2026-09-01' as timestamp) "
        "and l.metric_id = 'api_requests' and l.line_type = 'usage'"
    )
    assert requests == (3,)  # evt_resent, evt_other, evt_late_copy: each once
    (users,) = warehouse.query(
        "select l.quantity from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where i.customer_id = 'cus_0240' and i.period_start = cast('2026-09-01' as timestamp) "
        "and l.metric_id = 'active_users' and l.line_type = 'usage'"
    )
    assert users == (1,)  # u2 came only with the conflicting duplicate, which is not billed

    before = _state(warehouse)
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh")
    assert _state(warehouse) == before


def _built_on_duckdb(tmp_path: Path, rows: list[dict]) -> Warehouse:
    """The rows landed, seeded and built once on DuckDB (no publication)."""
    warehouse = Warehouse("duckdb", tmp_path)
    land_rows(warehouse, rows)
    warehouse.dbt("seed")
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend")
    return warehouse


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory: pytest.TempPathFactory, demo_rows: list[dict]) -> Warehouse:
    """``demo_rows`` built by ``_built_on_duckdb`` once per run (also across xdist workers).
    The tests below change what they get, so each takes its own copy."""
    folder = build_once(tmp_path_factory, "demo_slice_duckdb",
                        lambda folder: _built_on_duckdb(folder, demo_rows))
    return Warehouse("duckdb", folder)


def test_rerunning_a_window_changes_nothing(tmp_path: Path, demo_build: Warehouse):
    warehouse = copy_duckdb(demo_build, tmp_path)
    before = _state(warehouse)
    window = _window(datetime(2026, 10, 10), datetime(2026, 10, 11))
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", extra_vars=window)
    assert _state(warehouse) == before


def test_a_price_edit_rerates_days_already_rated(tmp_path: Path, demo_build: Warehouse):
    """A seed edit merged after usage was rated reaches every day, not only the new ones."""
    warehouse = copy_duckdb(demo_build, tmp_path)
    large_tokens = (
        "select count(*) from {schema}.int_usage_daily_price_matches where price_id = 'std_input_tokens_large'"
    )
    assert warehouse.query(large_tokens)[0][0] > 0
    # The large-model row of the standard rate card now asks for a model nobody uses: large usage
    # falls back to the rate card's row without dimensions.
    warehouse.execute(
        "update {schema}.prices set dimensions = '{{\"model\": \"xlarge\"}}' "
        "where price_id = 'std_input_tokens_large'"
    )
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend")
    assert warehouse.query(large_tokens)[0][0] == 0
    incremental = _state(warehouse)
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh")
    assert _state(warehouse) == incremental


def test_usage_before_its_billing_period_opens_is_rated_once_it_does(tmp_path: Path):
    """An event may occur up to future_tolerance_hours after it lands: on the first day of a period
    the run's clock has not reached yet. It is rated by the first run whose clock has."""
    rows = [
        _api_request("evt_oct", datetime(2026, 10, 1, 5, 0), datetime(2026, 9, 30, 22, 0)),
        # landed after evt_oct, so the rated usage is newer than evt_oct when the period opens
        _api_request("evt_sept", datetime(2026, 9, 30, 22, 29), datetime(2026, 9, 30, 22, 30)),
    ]
    warehouse = Warehouse("duckdb", tmp_path)
    land_rows(warehouse, rows)
    warehouse.dbt("seed")
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", as_of="2026-09-30T23:00:00")
    rated_days = (
        "select cast(usage_date as varchar), price_id from {schema}.int_usage_daily_price_matches "
        "where metric_id = 'api_requests' order by usage_date"
    )
    assert warehouse.query(rated_days) == [("2026-09-30", "grw_api_requests")]
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", as_of="2026-10-02T00:00:00")
    assert warehouse.query(rated_days) == [
        ("2026-09-30", "grw_api_requests"),
        ("2026-10-01", "grw_api_requests"),
    ]
    incremental = _state(warehouse)
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh", as_of="2026-10-02T00:00:00")
    assert _state(warehouse) == incremental


def test_a_shortened_contract_loses_the_days_past_its_new_end(tmp_path: Path, demo_build: Warehouse):
    """A contract edit that takes days away re-rates what is left and keeps nothing of the rest:
    the matched usage of days outside every billing period is deleted, as a full refresh would."""
    warehouse = copy_duckdb(demo_build, tmp_path)
    november_days = (
        "select count(*) from {schema}.int_usage_daily_price_matches "
        "where contract_id = 'ct_0001' and usage_date >= date '2026-11-01'"
    )
    assert warehouse.query(november_days)[0][0] > 0
    # ct_0001 (monthly, calendar) now ends when its November period would have started.
    warehouse.execute("update {schema}.contracts set ends_at = '2026-11-01 00:00:00' where contract_id = 'ct_0001'")
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend")
    assert warehouse.query(november_days)[0][0] == 0
    incremental = warehouse.query(STATE_QUERIES["daily_priced"])
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh")
    assert warehouse.query(STATE_QUERIES["daily_priced"]) == incremental
