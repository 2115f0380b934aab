"""The usage and spend models rebuild only what changed, and still equal a full refresh row for row.

int_usage_charges_to_date and daily_spend recompute only some invoices (the draft periods, the periods
whose usage the batch touched and the later periods of their contracts, everything after a reference
data edit), daily_usage only the (contract, day) pairs the daily aggregates recomputed, and
int_metric_quantities_to_date only the draft periods that a usage alert watches (decision 58). The
test below builds a history, changes something (a batch of usage, then a price), runs the billing and
then the usage and spend models incrementally after each change (as the bench and a production run
do), and compares every usage and spend model with a full refresh of those models on the same inputs.

History: a slice of the demo (customers below cus_0030) ingested before 2026-11-10, built at that
as_of. The batch: the slice's rows ingested on 2026-11-10 and 11-11 (November is the open period)
and, for cus_0003 (ct_0003, rc_standard, monthly from 2026-08-09), three late events of October,
whose invoice closed on 2026-11-02: an api_request by a new user (api_requests, active_users), a
storage snapshot and a seat count (seats is a latest value: it also carries forward into later
periods without a seat event).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.projects import copy_project
from support.publishing import append_rows
from support.warehouse import Warehouse, land_rows, postgres_database

from warehouse_billing.demo_data import generate_labelled_events

pytestmark = pytest.mark.warehouse

HISTORY_AS_OF = "2026-11-10T00:00:00"
BATCH_AS_OF = "2026-11-12T00:00:00"
EDIT_AS_OF = "2026-11-12T06:00:00"
CUT = datetime(2026, 11, 10)
BATCH_END = datetime(2026, 11, 12)
BILLING = ("--exclude", "tag:publication", "tag:usage_and_spend")
USAGE_AND_SPEND = ("--select", "tag:usage_and_spend")
# every model of the tag that holds rows of its own (the portal views read these; the time spine
# depends on no data; alert_notifications is append-only and never rebuilt, decision 56)
MODELS = (
    "int_usage_charges_to_date",
    "int_metric_quantities_to_date",
    "daily_usage",
    "daily_spend",
    "customer_live_spend",
    "customer_credit_balances",
)
# bookkeeping of the incremental runs: when the input rows were written, not a number of the model
BOOKKEEPING = {"source_recomputed_at"}
# a usage alert on the contract that gets late usage, so int_metric_quantities_to_date holds it too
ALERT = "al_0003_requests,ct_0003,usage,api_requests,50,"


def _late_row(event_id: str, event_type: str, occurred_at: str, **properties: object) -> dict:
    return {
        "event_id": event_id,
        "customer_id": "cus_0003",
        "event_type": event_type,
        "occurred_at": occurred_at,
        "properties": json.dumps(properties),
        "ingested_at": datetime(2026, 11, 11, 8, 0),
    }


LATE_ROWS = [
    _late_row("late_oct_request", "api_request", "2026-10-20T10:00:00Z", user_id="u_late_only"),
    _late_row("late_oct_storage", "storage_snapshot", "2026-10-21T10:00:00Z", gb=987.5),
    _late_row("late_oct_seats", "seat_count", "2026-10-22T10:00:00Z", seats=41),
]


@pytest.fixture(scope="module")
def demo_rows() -> list[dict]:
    rows = [row for _, row in generate_labelled_events() if (row["customer_id"] or "") < "cus_0030"]
    return sorted(rows, key=lambda row: row["ingested_at"])


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse("duckdb", tmp_path)
    else:
        with postgres_database() as database:
            yield Warehouse("postgres", tmp_path, pg_database=database)


def _columns(warehouse: Warehouse, model: str) -> list[str]:
    connection = warehouse.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"select * from {warehouse.schema}.{model} where 1 = 0")
        names = [column[0] for column in cursor.description]
    finally:
        connection.close()
    return [name for name in names if name not in BOOKKEEPING]


def _state(warehouse: Warehouse) -> dict[str, list[tuple]]:
    state = {}
    for model in MODELS:
        columns = ", ".join(_columns(warehouse, model))
        state[model] = warehouse.query(f"select {columns} from {{schema}}.{model} order by {columns}")
    return state


def _assert_equal_to_a_full_refresh(warehouse: Warehouse, project: Path, as_of: str) -> dict[str, list[tuple]]:
    incremental = _state(warehouse)
    warehouse.dbt("run", *USAGE_AND_SPEND, "--full-refresh", as_of=as_of, project_dir=project)
    full_refresh = _state(warehouse)
    for model in MODELS:
        assert incremental[model] == full_refresh[model], (
            f"{model} differs from a full refresh: only incremental "
            f"{sorted(set(incremental[model]) - set(full_refresh[model]))[:5]}, only full refresh "
            f"{sorted(set(full_refresh[model]) - set(incremental[model]))[:5]}"
        )
    return incremental


def _build_history(warehouse: Warehouse, project: Path, rows: list[dict]) -> None:
    land_rows(warehouse, [row for row in rows if row["ingested_at"] < CUT])
    warehouse.dbt("seed", as_of=HISTORY_AS_OF, project_dir=project)
    warehouse.dbt("run", *BILLING, as_of=HISTORY_AS_OF, project_dir=project)
    warehouse.dbt("run", *USAGE_AND_SPEND, as_of=HISTORY_AS_OF, project_dir=project)


def _land_batch(warehouse: Warehouse, project: Path, rows: list[dict]) -> None:
    land_rows(warehouse, [row for row in rows if CUT <= row["ingested_at"] < BATCH_END] + LATE_ROWS)
    warehouse.dbt("run", *BILLING, as_of=BATCH_AS_OF, project_dir=project)
    warehouse.dbt("run", *USAGE_AND_SPEND, as_of=BATCH_AS_OF, project_dir=project)


def _october_spend(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        "select metric_id, sum(amount) from {schema}.daily_spend "
        "where contract_id = 'ct_0003' and period_start = cast('2026-10-01' as timestamp) "
        "group by metric_id order by metric_id"
    )


def test_late_usage_new_days_then_a_price_edit_each_equal_a_full_refresh(
    warehouse: Warehouse, tmp_path: Path, demo_rows: list[dict]
):
    """One history for both changes (it is most of the cost): the batch of late and new usage, compared
    with a full refresh; then, on that state, a price edited in place, compared again."""
    project = copy_project(tmp_path / "project")
    append_rows(project / "seeds" / "usage_alerts.csv", ALERT)
    _build_history(warehouse, project, demo_rows)
    october_before = _october_spend(warehouse)

    _land_batch(warehouse, project, demo_rows)
    state = _assert_equal_to_a_full_refresh(warehouse, project, BATCH_AS_OF)

    # the comparison saw what it is about: the closed October changed, November has the new days
    assert _october_spend(warehouse) != october_before
    # daily_usage: customer_id, contract_id, metric_id, aggregation, dimensions, usage_date, ...
    assert ("ct_0003", "storage_gb", "2026-10-21") in {(row[1], row[2], str(row[5])) for row in state["daily_usage"]}
    november_days = {row[5] for row in state["daily_usage"] if str(row[5]) >= "2026-11-10"}
    assert november_days, "no usage on the batch's days"
    assert any(row[1] == "ct_0003" for row in state["int_metric_quantities_to_date"])

    seats_before = warehouse.query(
        "select sum(amount) from {schema}.daily_spend where metric_id = 'seats' and period_start < "
        "cast('2026-11-01' as timestamp)"
    )
    # a seat price edited in place (not end-dated): every period's seats amount changes
    prices = project / "seeds" / "prices.csv"
    text = prices.read_text()
    assert "std_seats,rc_standard,,seats,Seats,usage,seats,unit,20.00" in text
    prices.write_text(text.replace(
        "std_seats,rc_standard,,seats,Seats,usage,seats,unit,20.00",
        "std_seats,rc_standard,,seats,Seats,usage,seats,unit,21.00",
    ))
    warehouse.dbt("seed", as_of=EDIT_AS_OF, project_dir=project)
    warehouse.dbt("run", *BILLING, as_of=EDIT_AS_OF, project_dir=project)
    warehouse.dbt("run", *USAGE_AND_SPEND, as_of=EDIT_AS_OF, project_dir=project)
    _assert_equal_to_a_full_refresh(warehouse, project, EDIT_AS_OF)
    seats_after = warehouse.query(
        "select sum(amount) from {schema}.daily_spend where metric_id = 'seats' and period_start < "
        "cast('2026-11-01' as timestamp)"
    )
    assert seats_after != seats_before
