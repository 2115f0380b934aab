"""A run never misses a load, whatever its ingested_at (issue 17, decision 50).

The loader stamps ingested_at before its transaction commits. A slow load B stamped T1 that commits
after a faster load C stamped T2 > T1 was processed by a run used to be invisible to every later run
without a window: their batches started at the newest ingested_at the models held (T2). Each load is
now recorded in raw.usage_loads in the same transaction as its rows, and a run starts its batch no
later than the first row of any load int_usage_loads_processed does not list yet.

On Postgres B really is an open transaction while C lands and a run passes, so that is where the test
runs. (On DuckDB, one writer per file, B could only land with its earlier stamp after that run, which
is what the next run sees in both cases: the same models and macros, shown on DuckDB by
test_a_run_of_part_of_the_usage_models_lists_no_load and the incremental window tests.)
"""

from __future__ import annotations

import json
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


def _run(warehouse: Warehouse, extra_vars: dict[str, str] | None = None) -> None:
    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", extra_vars=extra_vars)


def _slow_load_overtaken(warehouse: Warehouse, slow: tuple[str, datetime], fast: tuple[str, datetime],
                         extra_vars: dict[str, str] | None) -> None:
    """Load `slow` stays open while `fast` lands and a run passes; then `slow` commits."""
    occurred = datetime(2026, 9, 3, 7, 0)
    connection = _open_load(warehouse, _event(slow[0], occurred), slow[1])
    _land(warehouse, _event(fast[0], occurred), fast[1])
    _run(warehouse, extra_vars)
    connection.commit()
    connection.close()


def _check_every_row_processed(warehouse: Warehouse, event_ids: list[str]) -> dict[str, list[tuple]]:
    state = _state(warehouse)
    assert [(event_id, status) for event_id, _, status in state["classified"]] == [
        (event_id, "accepted") for event_id in event_ids
    ]
    assert all(balanced for *_, balanced in state["reconciliation"]), state["reconciliation"]
    assert sum(received for _, received, _, _ in state["reconciliation"]) == len(event_ids)
    assert state["requests"] == [(datetime(2026, 9, 1), len(event_ids))]
    # every load is listed as processed, so later runs do not reach back to it again
    assert warehouse.query("select count(*) from {schema}.int_usage_loads_processed") == [(len(event_ids),)]
    return state


def _overtaken_loads(warehouse: Warehouse) -> None:
    """Runs without a window (anyone's `dbt build` on a schedule), then Dagster's daily partitions with
    a load stamped just before midnight that commits after the next day's run began."""
    _land(warehouse, _event("evt_a", datetime(2026, 9, 3, 7, 0)), datetime(2026, 9, 3, 7, 31, 32))
    warehouse.dbt("seed")
    _run(warehouse)
    _slow_load_overtaken(warehouse, ("evt_b", datetime(2026, 9, 3, 7, 31, 58)),
                         ("evt_c", datetime(2026, 9, 3, 7, 32, 2)), None)
    _run(warehouse)
    _check_every_row_processed(warehouse, ["evt_a", "evt_b", "evt_c"])

    next_day = _window(datetime(2026, 9, 4), datetime(2026, 9, 5))
    _slow_load_overtaken(warehouse, ("evt_d", datetime(2026, 9, 3, 23, 59, 58)),
                         ("evt_e", datetime(2026, 9, 4, 0, 0, 2)), next_day)
    _run(warehouse, next_day)  # the next hourly run of the same partition
    state = _check_every_row_processed(warehouse, ["evt_a", "evt_b", "evt_c", "evt_d", "evt_e"])

    warehouse.dbt("run", "--exclude", "tag:publication", "tag:usage_and_spend", "--full-refresh")
    assert _state(warehouse) == state


def test_a_load_that_commits_late_is_processed_by_the_next_run_on_postgres(tmp_path: Path):
    with postgres_database() as database:
        _overtaken_loads(Warehouse("postgres", tmp_path, pg_database=database))


def test_a_run_of_part_of_the_usage_models_lists_no_load(tmp_path: Path):
    """A run that leaves out some model reading the batch must not mark loads as processed: the models
    it left out have not seen them."""
    warehouse = Warehouse("duckdb", tmp_path)
    _land(warehouse, _event("evt_a", datetime(2026, 9, 3, 7, 0)), datetime(2026, 9, 3, 8, 0))
    warehouse.dbt("seed")
    _run(warehouse)
    _land(warehouse, _event("evt_b", datetime(2026, 9, 3, 7, 0)), datetime(2026, 9, 3, 7, 30))
    result = warehouse.dbt("run", "--select", "stg_raw__usage_events", "int_usage_event_metric_values",
                           "int_usage_events_classified", "int_usage_loads_processed")
    assert "does not select" in result.stdout
    listed = "select count(*) from {schema}.int_usage_loads_processed"
    assert warehouse.query(listed) == [(1,)]
    _run(warehouse)
    assert warehouse.query(listed) == [(2,)]
    assert _state(warehouse)["requests"] == [(datetime(2026, 9, 1), 2)]
