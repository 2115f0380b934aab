"""Reference-data edits never rebill a published invoice silently (SPEC 6.1, decision 49).

Every test starts from the contract scenario (tests/scenarios/contracts) published at its as_of
(2026-04-02), on DuckDB: a copy of the run's one build and publication (conftest published_scenario). A rebill on Postgres is
compared with DuckDB's in test_corrections_across_warehouses.py.

Worked by hand, Gamma Games' first JPY invoice (contract c_gamma_jpy, 2026-02-15 .. 03-15, JPY has no
minor units): platform 10,000 and 1,000 API calls (500 on 02-20, 500 on 03-10) at 3 = 3,000; no
override, discount, minimum or commitment; published at 2026-04-02 with total_due 13,000.

In-place edit: the price row p_jpy_calls keeps its id and gets unit_price 4.
- Rebuilt, rebilling_preview has one row: c_gamma_jpy, 2026-02-15 .. 03-15, calls, published 3,000,
  under today's reference data 1,000 x 4 = 4,000, difference +1,000, 'awaiting approval'. Nothing
  else changes: no other published invoice uses p_jpy_calls.
- Published at 2026-04-16, Gamma's next JPY invoice (03-15 .. 04-15: platform 10,000 and 7 calls on
  03-20, now at 4 = 28) carries no adjustment: total_due 10,028.
- finance approves (rebill_approvals: c_gamma_jpy, 2026-02-15): rebuilt at 2026-05-16 the preview
  says 'approved, billed on the next invoice' with the approver and reason, and the next unpublished
  JPY invoice (04-15 .. 05-15: platform 10,000, no calls) carries one adjustment of +1,000 naming the
  February invoice; published, its total_due is 11,000. Rebuilt, the preview is empty (billed 3,000
  + 1,000 = 4,000 = today's amount). A rerun of the publication adds nothing.
- A second edit (unit_price 5) needs a new approval: rebuilt at 2026-06-16 the preview shows
  February: published 4,000 (3,000 + the 1,000 adjustment), now 1,000 x 5 = 5,000, +1,000; and
  03-15 .. 04-15, published with 7 x 4 = 28, now 7 x 5 = 35, +7; both awaiting approval. 04-15 ..
  05-15 has no calls: no row. The publication at 2026-06-16 adds no adjustment.

The right way to change the price (end-date p_jpy_calls on 2026-04-15, a new row at 4 from that day)
holds nothing: no published invoice's fingerprint changes, the preview stays empty, and a late batch
of 10 February calls (occurred 03-10, arrived 04-10) is billed at the period's price as usual: +30 on
the 03-15 invoice, which itself bills its 7 calls at 3 (21).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support.publishing import append_rows, build, edit_rows, publish, publish_built, seed_row
from support.scenario import AS_OF, scenario_project
from support.warehouse import Warehouse, copy_duckdb, land_rows

pytestmark = pytest.mark.warehouse

PREVIEW = (
    "select contract_id, period_start, period_end, product_id, product_name, published_amount, "
    "current_amount, difference, status, approved_by, reason from {schema}.rebilling_preview "
    "order by period_start, product_id"
)
ADJUSTMENTS = (
    "select i.period_start, l.amount, l.adjusts_invoice_id, l.adjusts_invoice_line_id "
    "from {schema}.published_invoice_lines as l "
    "inner join {schema}.published_invoices as i on l.invoice_id = i.invoice_id "
    "where i.contract_id = 'c_gamma_jpy' and l.line_type = 'adjustment' order by i.period_start"
)


def _price_row(unit_price: str, price_id: str = "p_jpy_calls", effective_from: str = "",
               effective_to: str = "") -> str:
    """The scenario's yen API-call price (3 a call), or a row like it."""
    return seed_row("prices", price_id=price_id, rate_card_id="rc_jpy", product_id="calls", product_name="API calls",
                    charge_type="usage", metric_id="api_calls", pricing_model="unit", unit_price=unit_price,
                    effective_from=effective_from, effective_to=effective_to)


JPY_CALLS_ROW = _price_row("3")


@pytest.fixture
def started(published_scenario: Warehouse, tmp_path: Path) -> tuple[Warehouse, Path]:
    """A copy of the published scenario and a project copy of its own to edit."""
    return copy_duckdb(published_scenario, tmp_path / "warehouse"), scenario_project(tmp_path)


def _invoice(warehouse: Warehouse, period_start: str) -> tuple[str, Decimal]:
    return warehouse.query(
        "select invoice_id, total_due from {schema}.published_invoices "
        f"where contract_id = 'c_gamma_jpy' and period_start = cast('{period_start}' as timestamp)"
    )[0]


def test_an_in_place_price_edit_is_held_until_approved_then_billed_once(started):
    warehouse, project = started
    prices = project / "seeds" / "prices.csv"
    february_id, february_total = _invoice(warehouse, "2026-02-15")
    assert february_total == Decimal(13000)
    assert warehouse.query("select count(*) from {schema}.rebilling_preview") == [(0,)]

    # the edit: same price_id, new unit price
    edit_rows(prices, JPY_CALLS_ROW, _price_row("4"))
    build(warehouse, project, "2026-04-02T01:00:00")
    assert warehouse.query(PREVIEW) == [
        ("c_gamma_jpy", datetime(2026, 2, 15), datetime(2026, 3, 15), "calls", "API calls",
         Decimal(3000), Decimal(4000), Decimal(1000), "awaiting approval", None, None),
    ]
    assert warehouse.query(
        "select count(*) from {schema}.invoice_lines where line_type = 'adjustment' "
        f"and adjusts_invoice_id = '{february_id}'"
    ) == [(0,)]
    assert warehouse.query("select invoice_id from {schema}.int_rebill_pending_invoices") == [(february_id,)]
    publish(warehouse, project, "2026-04-16T00:00:00")  # 03-15 .. 04-15 is ready: published, no adjustment
    assert _invoice(warehouse, "2026-03-15")[1] == Decimal(10028)
    assert warehouse.query(ADJUSTMENTS) == []

    # finance approves: the difference goes on the next unpublished invoice, once
    append_rows(project / "seeds" / "rebill_approvals.csv",
            "c_gamma_jpy,2026-02-15 00:00:00,finance lead,JPY calls repriced from 3 to 4")
    build(warehouse, project, "2026-05-16T00:00:00")
    assert warehouse.query(PREVIEW) == [
        ("c_gamma_jpy", datetime(2026, 2, 15), datetime(2026, 3, 15), "calls", "API calls",
         Decimal(3000), Decimal(4000), Decimal(1000), "approved, billed on the next invoice", "finance lead",
         "JPY calls repriced from 3 to 4"),
    ]
    assert warehouse.query("select count(*) from {schema}.int_rebill_pending_invoices") == [(0,)]
    publish_built(warehouse, project, "2026-05-16T00:00:00")
    adjustments = warehouse.query(ADJUSTMENTS)
    assert [(period, amount, invoice) for period, amount, invoice, _ in adjustments] == [
        (datetime(2026, 4, 15), Decimal(1000), february_id)]
    assert _invoice(warehouse, "2026-04-15")[1] == Decimal(11000)
    publish_built(warehouse, project, "2026-05-16T00:00:00")  # a rerun adds nothing
    build(warehouse, project, "2026-05-16T00:00:00")  # and, rebuilt, billed means no preview
    assert warehouse.query(ADJUSTMENTS) == adjustments
    assert warehouse.query(PREVIEW) == []
    assert warehouse.query(
        "select count(*) from {schema}.published_invoices where contract_id = 'c_gamma_jpy'") == [(3,)]

    # a second edit is not covered by the first approval: held again
    edit_rows(prices, _price_row("4"), _price_row("5"))
    build(warehouse, project, "2026-06-16T00:00:00")
    assert warehouse.query(PREVIEW) == [
        ("c_gamma_jpy", datetime(2026, 2, 15), datetime(2026, 3, 15), "calls", "API calls",
         Decimal(4000), Decimal(5000), Decimal(1000), "awaiting approval", None, None),
        ("c_gamma_jpy", datetime(2026, 3, 15), datetime(2026, 4, 15), "calls", "API calls",
         Decimal(28), Decimal(35), Decimal(7), "awaiting approval", None, None),
    ]
    publish_built(warehouse, project, "2026-06-16T00:00:00")
    assert warehouse.query(ADJUSTMENTS) == adjustments


def test_end_dating_a_price_and_adding_a_new_row_holds_nothing(started):
    warehouse, project = started
    february_id, _ = _invoice(warehouse, "2026-02-15")
    fingerprints_before = warehouse.query(
        "select invoice_id, reference_fingerprint from {schema}.int_invoice_reference_fingerprints")
    edit_rows(project / "seeds" / "prices.csv", JPY_CALLS_ROW,
          _price_row("3", effective_to="2026-04-15 00:00:00") + "\n"
          + _price_row("4", price_id="p_jpy_calls_2", effective_from="2026-04-15 00:00:00"))
    late = datetime(2026, 3, 10, 9)
    land_rows(warehouse, [
        {"event_id": f"gamma-late-{index}", "customer_id": "cus_c", "event_type": "api_call",
         "occurred_at": late.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": "{}",
         "ingested_at": datetime(2026, 4, 10) + timedelta(seconds=index)}
        for index in range(10)
    ])
    publish(warehouse, project, "2026-04-16T00:00:00")
    assert [(period, amount, invoice) for period, amount, invoice, _ in warehouse.query(ADJUSTMENTS)] == [
        (datetime(2026, 3, 15), Decimal(30), february_id)]
    assert _invoice(warehouse, "2026-03-15")[1] == Decimal(10000 + 7 * 3 + 30)
    assert warehouse.query("select count(*) from {schema}.rebilling_preview") == [(0,)]
    assert warehouse.query("select count(*) from {schema}.int_rebill_changed_invoices") == [(0,)]
    fingerprints_after = dict(warehouse.query(
        "select invoice_id, reference_fingerprint from {schema}.int_invoice_reference_fingerprints"))
    published = {invoice for invoice, in warehouse.query(
        "select invoice_id from {schema}.published_invoice_reference_data where recorded_at < "
        "cast('2026-04-16' as timestamp)")}
    assert published and all(fingerprints_after[invoice] == fingerprint
                             for invoice, fingerprint in fingerprints_before if invoice in published)


def test_bad_rebill_approvals_fail_the_build_naming_the_row(tmp_path: Path):
    project = scenario_project(tmp_path)
    append_rows(project / "seeds" / "rebill_approvals.csv",
            "c_nobody,2026-02-01 00:00:00,finance lead,typo",
            "c_gamma_jpy,2026-02-01 00:00:00,finance lead,not a period start",
            "c_alpha,2026-02-01 00:00:00,,nobody approved")
    result = Warehouse("duckdb", tmp_path).dbt(
        "build", "--select", "+int_reference_errors__rebill_approvals", "--exclude", "test_type:unit",
        check=False, project_dir=project, as_of=AS_OF,
    )
    assert result.returncode != 0
    for message in (
        "rebill_approvals row c_nobody 2026-02-01 00:00:00: contract_id c_nobody is not in contracts",
        "rebill_approvals row c_gamma_jpy 2026-02-01 00:00:00: period_start is not the start of a billing "
        "period of contract c_gamma_jpy",
        "rebill_approvals row c_alpha 2026-02-01 00:00:00: approved_by must be set",
    ):
        assert message in result.stdout, result.stdout[-3000:]
    assert "rebill_approvals row c_alpha 2026-02-01 00:00:00: period_start" not in result.stdout
