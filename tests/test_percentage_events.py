"""Percentage prices rate each event (contract §4), so they take the per-event path
(int_percentage_usage_events) while everything else is rated from daily aggregates. Neither the demo
nor the contract scenario has a percentage price; this test adds one to a copy of the project with the
scenario's seeds (five contracts: the demo's three hundred made the test take minutes) and checks the
line by hand, after incremental runs and after a full refresh."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support.publishing import seed_row
from support.scenario import AS_OF, scenario_project
from support.spend import assert_daily_spend_ties_out
from support.warehouse import Warehouse, land_rows

pytestmark = pytest.mark.warehouse

# 1 % of the tokens plus 0.05 per event; the first event of the period (by occurred_at) is free.
PERCENTAGE_PRICE = seed_row("prices", price_id="p_token_fee", rate_card_id="rc_usd", product_id="token_fee",
                            product_name="Token fee", charge_type="usage", metric_id="tokens",
                            pricing_model="percentage", free_units="1", percentage_rate="0.01",
                            fixed_fee_per_event="0.05")


def _project_with_percentage_price(destination: Path) -> Path:
    project = scenario_project(destination)
    prices = project / "seeds" / "prices.csv"
    prices.write_text(prices.read_text().rstrip("\n") + "\n" + PERCENTAGE_PRICE + "\n")
    return project


def _tokens(event_id: str, occurred_at: datetime, tokens: int, model: str) -> dict:
    # cus_a has the scenario's contract c_alpha on rc_usd (USD, monthly) from 2026-01-01; only these
    # events are landed, so its February holds nothing else
    return {
        "event_id": event_id,
        "customer_id": "cus_a",
        "event_type": "tokens",
        "occurred_at": occurred_at.isoformat() + "Z",
        "properties": json.dumps({"tokens": tokens, "model": model}),
        "ingested_at": occurred_at + timedelta(minutes=1),
    }


def test_percentage_line_is_rated_per_event(tmp_path: Path):
    project = _project_with_percentage_price(tmp_path)
    warehouse = Warehouse("duckdb", tmp_path)
    first_days = [
        _tokens("tok_free", datetime(2026, 2, 2, 8), 1000, "large"),  # first of the period: bills 0
        _tokens("tok_a", datetime(2026, 2, 2, 9), 2000, "large"),  # 20.00 + 0.05
    ]
    later = [_tokens("tok_b", datetime(2026, 2, 20, 9), 500, "small")]  # 5.00 + 0.05, another day and group
    land_rows(warehouse, first_days)
    warehouse.dbt("seed", project_dir=project, as_of=AS_OF)
    warehouse.dbt("run", "--exclude", "tag:publication", project_dir=project, as_of=AS_OF)
    land_rows(warehouse, later)
    warehouse.dbt("run", "--exclude", "tag:publication", project_dir=project, as_of=AS_OF)

    query = (
        "select l.dimensions, l.quantity, l.amount from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where i.customer_id = 'cus_a' and i.period_start = cast('2026-02-01' as timestamp) "
        "and l.product_id = 'token_fee' order by l.dimensions"
    )
    lines = warehouse.query(query)
    # One line per dimension group; free_units count events per line (decision 17), so each group's
    # first event is free: large bills tok_a only, small's only event tok_b is its first and free.
    assert lines == [
        ('{"model": "large"}', Decimal(3000), Decimal("20.05")),
        ('{"model": "small"}', Decimal(500), Decimal(0)),
    ]
    warehouse.dbt("run", "--exclude", "tag:publication", "--full-refresh", project_dir=project, as_of=AS_OF)
    assert warehouse.query(query) == lines
    # daily spend: the percentage fee rated event by event still sums to its line, and the dbt check
    # that says so fails once a day's amount is off by a cent
    assert_daily_spend_ties_out(warehouse)
    passing = warehouse.dbt("test", "--select", "daily_spend_ties_out_to_usage_lines", project_dir=project,
                            as_of=AS_OF)
    assert "WARN=0" in passing.stdout, passing.stdout[-2000:]
    warehouse.execute("update {schema}.daily_spend set amount = amount + 0.01 "
                      "where usage_date = cast('2026-02-20' as date)")
    result = warehouse.dbt("test", "--select", "daily_spend_ties_out_to_usage_lines", project_dir=project,
                           as_of=AS_OF)
    assert "WARN=1" in result.stdout, result.stdout[-2000:]
