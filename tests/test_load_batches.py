"""A run never misses a load, whatever its ingested_at (issue 17, decision 50).

The loader stamps ingested_at before its transaction commits. A slow load B stamped T1 that commits
after a faster load C stamped T2 > T1 was processed by a run used to be invisible to every later run
without a window: their batches started at the newest ingested_at the models held (T2). Each load is
now recorded in raw.usage_loads in the same transaction as its rows, and a run starts its batch no
later than the first row of any load int_usage_loads_processed does not list yet.

On Postgres B really is an open transaction while C lands and a run passes; on DuckDB (one writer per
file) B lands with its earlier stamp after that run, which is what the next run sees in both cases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from support.warehouse import Warehouse, postgres_database

from warehouse_billing.loader import DATA_COLUMNS, Load, write_load
from warehouse_billing.warehouse import ensure_raw_table

pytestmark = pytest.mark.warehouse

# cus_0240 has contract ct_0236 on rc_growth (USD) from 2026-06-23; api_requests counts api_request events.
CUSTOMER = "cus_0240"


def _event(event_id: str, occurred_at: datetime) -> dict[str, str]:
    return {
        "event_id": event_id,
        "customer_id": CUSTOMER,
        "event_type": "api_request",
        "occurred_at": occurred_at.isoformat() + "Z",
        "properties": json.dumps({"user_id": "u1", "endpoint": "/v1/chat"}),
    }


def _open_load(warehouse: Warehouse, event: dict[str, str], stamp: datetime) -> Any:
    """Write one event as a load stamped `stamp`, in a transaction left open; returns the connection."""
    connection = warehouse.connect()
    ensure_raw_table(connection, warehouse.target)
    if warehouse.target == "duckdb":
        connection.begin()
    table = pa.table({column: [event[column]] for column in DATA_COLUMNS})
    write_load(connection, warehouse.target, [table], Load(source=f"test:{event['event_id']}"), stamp)
    return connection


def _land(warehouse: Warehouse, event: dict[str, str], stamp: datetime) -> None:
    connection = _open_load(warehouse, event, stamp)
    connection.commit()
    connection.close()


STATE_QUERIES = {
    "classified": (
        "select event_id, ingested_at, event_status from {schema}.int_usage_events_classified "
        "where customer_id = '" + CUSTOMER + "' order by event_id"
    ),
    "reconciliation": (
        "select ingestion_date, received_count, accepted_count, is_balanced "
        "from {schema}.usage_event_reconciliation order by ingestion_date"
    ),
    "requests": (
        "select i.period_start, l.quantity from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where i.customer_id = '" + CUSTOMER + "' and l.metric_id = 'api_requests' and l.line_type = 'usage' "
        "and i.period_start = cast('2026-09-01' as timestamp)"
    ),
}


def _state(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {name: warehouse.query(sql) for name, sql in STATE_QUERIES.items()}


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"ingested_from": start.isoformat(), "ingested_to": end.isoformat()}


# Each case: the stamps of loads A (processed first), B (slow) and C (fast), and the vars of each run.
# "watermark": runs without a window (anyone's `dbt build` on a schedule). "midnight": Dagster's daily
# partitions; B is stamped just before midnight and commits after the run of the next day began.
CASES = {
    "watermark": (
        (datetime(2026, 9, 3, 7, 31, 32), datetime(2026, 9, 3, 7, 31, 58), datetime(2026, 9, 3, 7, 32, 2)),
        lambda stamps: [None, None, None],
    ),
    "midnight": (
        (datetime(2026, 9, 3, 10, 0), datetime(2026, 9, 3, 23, 59, 58), datetime(2026, 9, 4, 0, 0, 2)),
        lambda stamps: [
            _window(datetime(2026, 9, 3), datetime(2026, 9, 4)),
            _window(datetime(2026, 9, 4), datetime(2026, 9, 5)),
            _window(datetime(2026, 9, 4), datetime(2026, 9, 5)),
        ],
    ),
}


def _overtaken_load(warehouse: Warehouse, case: str) -> None:
    (stamp_a, stamp_b, stamp_c), runs_of = CASES[case]
    first_run, second_run, third_run = runs_of((stamp_a, stamp_b, stamp_c))
    occurred = datetime(2026, 9, 3, 7, 0)

    def run(extra_vars: dict[str, str] | None) -> None:
        warehouse.dbt("run", "--exclude", "tag:publication", extra_vars=extra_vars)

    _land(warehouse, _event("evt_a", occurred), stamp_a)
    warehouse.dbt("seed")
    run(first_run)
    if warehouse.target == "postgres":
        slow = _open_load(warehouse, _event("evt_b", occurred), stamp_b)  # still open while C lands
        _land(warehouse, _event("evt_c", occurred), stamp_c)
        run(second_run)
        slow.commit()
        slow.close()
    else:
        _land(warehouse, _event("evt_c", occurred), stamp_c)
        run(second_run)
        _land(warehouse, _event("evt_b", occurred), stamp_b)
    run(third_run)

    state = _state(warehouse)
    assert [(event_id, status) for event_id, _, status in state["classified"]] == [
        ("evt_a", "accepted"),
        ("evt_b", "accepted"),
        ("evt_c", "accepted"),
    ]
    assert all(balanced for *_, balanced in state["reconciliation"]), state["reconciliation"]
    assert sum(received for _, received, _, _ in state["reconciliation"]) == 3
    assert state["requests"] == [(datetime(2026, 9, 1), 3)]
    # B's load is listed as processed, so the next run does not reach back to it again
    assert warehouse.query("select count(*) from {schema}.int_usage_loads_processed") == [(3,)]

    warehouse.dbt("run", "--exclude", "tag:publication", "--full-refresh")
    assert _state(warehouse) == state


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_load_that_commits_late_is_processed_by_the_next_run_on_duckdb(tmp_path: Path, case: str):
    _overtaken_load(Warehouse("duckdb", tmp_path), case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_load_that_commits_late_is_processed_by_the_next_run_on_postgres(tmp_path: Path, case: str):
    with postgres_database() as database:
        _overtaken_load(Warehouse("postgres", tmp_path, pg_database=database), case)


def test_a_run_of_part_of_the_usage_models_lists_no_load(tmp_path: Path):
    """A run that leaves out some model reading the batch must not mark loads as processed: the models
    it left out have not seen them."""
    warehouse = Warehouse("duckdb", tmp_path)
    _land(warehouse, _event("evt_a", datetime(2026, 9, 3, 7, 0)), datetime(2026, 9, 3, 8, 0))
    warehouse.dbt("seed")
    warehouse.dbt("run", "--exclude", "tag:publication")
    _land(warehouse, _event("evt_b", datetime(2026, 9, 3, 7, 0)), datetime(2026, 9, 3, 7, 30))
    result = warehouse.dbt("run", "--select", "stg_raw__usage_events", "int_usage_event_metric_values",
                           "int_usage_events_classified", "int_usage_loads_processed")
    assert "does not select" in result.stdout
    listed: Callable[[], list[tuple]] = lambda: warehouse.query(  # noqa: E731
        "select count(*) from {schema}.int_usage_loads_processed")
    assert listed() == [(1,)]
    warehouse.dbt("run", "--exclude", "tag:publication")
    assert listed() == [(2,)]
    assert _state(warehouse)["requests"] == [(datetime(2026, 9, 1), 2)]
