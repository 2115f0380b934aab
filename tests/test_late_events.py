"""Late events after publication are billed by delta rating on the next invoice (contract §7.3).

Uses the contract scenario: c_alpha's March invoice is published with 500 small-model tokens on a
graduated price (tier 1: up to 1000 at 0.002, then 0.001). A late event of 1000 tokens for March
then arrives. Re-rated, March's token line is 1000 x 0.002 + 500 x 0.001 = 2.50 against 1.00
published: the adjustment is +1.50, not the late quantity times a price (1000 x 0.002 = 2.00).
March is re-rated under its own terms (SPEC 6.1): its 10 % invoice discount grows by 0.15 (-10.75
against -10.60) and, c_alpha's 150.00 commitment not being met, its true-up shrinks by the remaining
1.35 (53.25 against 54.60): three adjustment lines that sum to 0. April's token grant draws the +1.50
token line (as it drew March's tokens), so April's total falls by 1.50: what March would have cost had
the event been on time (147.50 against 149.00 published).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from support.publishing import build, publish
from support.scenario import AS_OF
from support.warehouse import Warehouse, copy_duckdb, land_rows

# The second test continues from the state the first leaves: they run in this order, in one process
# (make test distributes whole files, pytest-xdist's --dist loadfile).
pytestmark = pytest.mark.warehouse

PUBLISHED_COLUMNS = "invoice_id, invoice_number, total_due, published_at"
PUBLISHED_LINE_COLUMNS = "invoice_line_id, invoice_id, line_type, amount, invoice_number"


def _published(warehouse: Warehouse) -> tuple[list, list]:
    return (
        warehouse.query(f"select {PUBLISHED_COLUMNS} from {{schema}}.published_invoices order by invoice_number"),
        warehouse.query(
            f"select {PUBLISHED_LINE_COLUMNS} from {{schema}}.published_invoice_lines order by invoice_line_id"
        ),
    )


@pytest.fixture(scope="module")
def published_scenario(tmp_path_factory: pytest.TempPathFactory, scenario_build):
    """The scenario published at AS_OF, from a copy of the run's shared build (landed, seeded, built)."""
    shared, project = scenario_build
    warehouse = copy_duckdb(shared, tmp_path_factory.mktemp("late_events"))
    publish(warehouse, project, AS_OF)
    return warehouse, project


def test_late_event_is_billed_as_a_graduated_delta_on_the_next_invoice(published_scenario):
    warehouse, project = published_scenario
    before = _published(warehouse)
    march = warehouse.query(
        "select invoice_id from {schema}.published_invoices "
        "where contract_id = 'c_alpha' and period_start = cast('2026-03-01' as timestamp)"
    )
    assert len(march) == 1, "March must have been published before the late event arrives"

    land_rows(warehouse, [{
        "event_id": "late-march-tokens",
        "customer_id": "cus_a",
        "event_type": "tokens",
        "occurred_at": "2026-03-20T09:00:00Z",
        "properties": '{"tokens": 1000, "model": "small"}',
        "ingested_at": datetime(2026, 4, 5, 12, 0),
    }])
    build(warehouse, project, "2026-04-06T00:00:00")

    adjustments = warehouse.query(
        "select i.contract_id, i.period_start, l.product_id, l.dimensions, l.quantity, l.amount, "
        "l.adjusts_invoice_id, l.service_period_start "
        "from {schema}.invoice_lines as l inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where l.line_type = 'adjustment'"
    )
    april_start, march_start = datetime(2026, 4, 1), datetime(2026, 3, 1)
    assert sorted(adjustments, key=lambda row: -row[5]) == [
        ("c_alpha", april_start, "tokens", '{"model": "small"}', Decimal(1000), Decimal("1.5"), march[0][0],
         march_start),
        ("c_alpha", april_start, None, "{}", None, Decimal("-0.15"), march[0][0], march_start),
        ("c_alpha", april_start, None, "{}", None, Decimal("-1.35"), march[0][0], march_start),
    ]
    # the token grant (scoped to tokens) draws the token adjustment, as it drew March's tokens
    april = warehouse.query(
        "select adjustment_total, credits_applied, total_due, status from {schema}.invoices "
        "where contract_id = 'c_alpha' and period_start = cast('2026-04-01' as timestamp)"
    )
    assert april == [(Decimal(0), Decimal("1.5"), Decimal("148.5"), "draft")]
    assert _published(warehouse) == before, "a published invoice changed"


def test_an_adjustment_is_billed_once(published_scenario):
    warehouse, project = published_scenario
    publish(warehouse, project, "2026-05-03T00:00:00")
    published_adjustments = warehouse.query(
        "select amount from {schema}.published_invoice_lines where line_type = 'adjustment' order by amount"
    )
    assert published_adjustments == [(Decimal("-1.35"),), (Decimal("-0.15"),), (Decimal("1.5"),)]
    build(warehouse, project, "2026-05-03T00:00:00")
    still_open = warehouse.query(
        "select count(*) from {schema}.invoice_lines where line_type = 'adjustment'"
    )
    assert still_open == [(0,)]
    numbers = [row[1] for row in _published(warehouse)[0]]
    assert numbers == list(range(1, len(numbers) + 1))
