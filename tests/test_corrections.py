"""Corrections without surprises (SPEC 6.1): late usage is billed under its period's terms, one bad
invoice holds only itself, and a negative remainder is carried to the customer's next invoice instead
of stopping publication.

Each starts from the contract scenario (tests/scenarios/contracts), on DuckDB; the same corrections on
Postgres are compared with DuckDB's in test_corrections_across_warehouses.py.

Held invoice: Gamma Games sends tokens on its JPY contract, whose rate card has no token price. Its
first JPY invoice (2026-02-15 .. 03-15, ready at the scenario's as_of) fails the per-invoice check
all_usage_priced: it is held with that reason, the nine other ready invoices are published numbered
1..9, and once a token price is added the held invoice is published as number 10.

Carried balance (worked by hand): Epsilon has one volume price on API calls, 0.01 a call up to 1,000
calls a month and 0.005 a call for every call beyond. February: 900 calls = 9.00, published. A late
batch of 200 February calls arrives in April: February re-rated is 1,100 x 0.005 = 5.50, an adjustment
of -3.50 on the next unpublished invoice, April's. April's own 100 calls are 1.00, so April sums to
-2.50: a balance_carried line of +2.50 makes its total 0. May's 300 calls (3.00) draw the 2.50 first
(a balance_applied line) and May's total is 0.50. Every total is >= 0, and the sum of Epsilon's
published totals (9.00 + 0 + 0 + 0 + 0.50 = 9.50) equals everything rated
(9.00 + 0 + 0 - 3.50 + 1.00 + 3.00 = 9.50).

Late usage under the contract's terms (worked by hand): four customers on one rate card (API calls
0.10 a call; tokens 0.001 a token with a 10.00 maximum per period), March published, then late March
usage arrives in April and is billed on April's invoice:
- Override (c_ovr, calls x 0.8): March 100 calls = 10.00, override -2.00, published 8.00. Late 50
  calls: usage +5.00 and override -1.00 (15.00 x 0.8 = 12.00 against 8.00): pays 4.00, 80 %.
- Discount (c_disc, 25 % off the invoice): March 10.00 - 2.50 = 7.50. Late 50 calls: usage +5.00 and
  invoice discount -1.25 (25 % of 15.00 = 3.75 against 2.50): pays 3.75.
- Cap reached (c_cap): March 12,000 tokens = 12.00, cap -2.00, published 10.00. Late 3,000 tokens:
  usage +3.00 and cap -3.00 (15.00 capped at 10.00: -5.00 against -2.00): pays nothing more.
- Commitment true-up (c_commit, 50.00 a month): March 100 calls = 10.00 + true-up 40.00 = 50.00. Late
  500 calls: usage +50.00 and true-up -40.00 (60.00 now fills the commitment): pays 10.00.
The April invoices carry exactly these eight adjustment lines, each naming the March line it corrects;
published in May they are billed once, and March as published plus its adjustments equals March as
rated now (12.00, 11.25, 10.00, 60.00).

A late seat rise (worked by hand in its test) is billed the same way: an adjustment of the published
quarter on the next invoice, taxed there.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.corrections import (
    EPSILON_SEEDS, JPY_TOKENS_ROW, TERMS_SEEDS, api_calls, small_model_tokens, usage_event,
)
from support.publishing import append_rows, build, publish
from support.scenario import AS_OF, scenario_events, scenario_project
from support.warehouse import Warehouse, copy_duckdb, land_rows

pytestmark = pytest.mark.warehouse

def test_one_invoice_failing_a_check_is_held_and_the_others_publish(tmp_path: Path):
    project = scenario_project(tmp_path)
    warehouse = Warehouse("duckdb", tmp_path)
    land_rows(warehouse, [*scenario_events(),
                          usage_event("gamma-jpy-tokens", "cus_c", "tokens", "2026-02-20 09:00:00",
                                 properties='{"tokens": 700, "model": "small"}')])
    publish(warehouse, project, AS_OF)

    held = warehouse.query(
        "select h.contract_id, h.period_start, h.check_name, h.reason, h.first_held_at "
        "from {schema}.invoice_holds as h"
    )
    assert held == [("c_gamma_jpy", datetime(2026, 2, 15), "all_usage_priced",
                     '1 event(s) of metric tokens with dimensions {"model": "small"} '
                     "match no price", datetime(2026, 4, 2))]
    published = warehouse.query(
        "select contract_id, period_start, invoice_number from {schema}.published_invoices order by invoice_number"
    )
    assert [number for *_, number in published] == list(range(1, 10))
    assert ("c_gamma_jpy", datetime(2026, 2, 15)) not in {(c, p) for c, p, _ in published}

    # the fix: a token price on the JPY rate card; the next run publishes the held invoice, number 10
    append_rows(project / "seeds" / "prices.csv",
            JPY_TOKENS_ROW)
    later = "2026-04-02T01:00:00"
    publish(warehouse, project, later)
    assert warehouse.query("select count(*) from {schema}.invoice_holds") == [(0,)]
    released = warehouse.query(
        "select invoice_number, total_due from {schema}.published_invoices "
        "where contract_id = 'c_gamma_jpy' and period_start = cast('2026-02-15' as timestamp)"
    )
    assert released == [(10, Decimal(10000 + 3 * 1000 + 700))]  # platform, 1,000 calls at 3, 700 tokens at 1
    # the hold's history keeps when it was first held
    assert warehouse.query("select check_name, first_held_at from {schema}.int_invoice_first_holds") == [
        ("all_usage_priced", datetime(2026, 4, 2))]


def test_a_negative_remainder_is_carried_to_the_next_invoice(tmp_path: Path):
    project = scenario_project(tmp_path)
    for seed, rows in EPSILON_SEEDS.items():
        append_rows(project / "seeds" / seed, *rows)
    warehouse = Warehouse("duckdb", tmp_path)
    land_rows(warehouse, [*scenario_events(), *api_calls("cus_e", "2026-02-10 09:00:00", 900)])
    publish(warehouse, project, AS_OF)  # January, February and March are published

    # late February calls, then April's and May's own usage
    land_rows(warehouse, [*api_calls("cus_e", "2026-02-28 09:00:00", 200, ingested=datetime(2026, 4, 3), tag="late"),
                          *api_calls("cus_e", "2026-04-10 09:00:00", 100)])
    publish(warehouse, project, "2026-05-03T00:00:00")  # April is ready and published
    land_rows(warehouse, api_calls("cus_e", "2026-05-10 09:00:00", 300))
    publish(warehouse, project, "2026-06-03T00:00:00")  # May

    invoices = warehouse.query(
        "select period_start, total_due from {schema}.published_invoices "
        "where contract_id = 'c_epsilon' order by period_start"
    )
    assert invoices == [
        (datetime(2026, 1, 1), Decimal(0)), (datetime(2026, 2, 1), Decimal(9)), (datetime(2026, 3, 1), Decimal(0)),
        (datetime(2026, 4, 1), Decimal(0)), (datetime(2026, 5, 1), Decimal("0.5")),
    ]
    lines = warehouse.query(
        "select i.period_start, l.line_type, l.amount from {schema}.published_invoice_lines as l "
        "inner join {schema}.published_invoices as i on l.invoice_id = i.invoice_id "
        "where i.contract_id = 'c_epsilon' and i.period_start >= cast('2026-04-01' as timestamp) "
        "order by i.period_start, l.line_order"
    )
    assert lines == [
        (datetime(2026, 4, 1), "usage", Decimal(1)),
        (datetime(2026, 4, 1), "adjustment", Decimal("-3.5")),
        (datetime(2026, 4, 1), "balance_carried", Decimal("2.5")),
        (datetime(2026, 5, 1), "usage", Decimal(3)),
        (datetime(2026, 5, 1), "balance_applied", Decimal("-2.5")),
    ]
    # nothing lost, nothing negative: over every published invoice of every customer
    assert warehouse.query("select count(*) from {schema}.published_invoices where total_due < 0") == [(0,)]
    rated, due = warehouse.query(
        "select sum(case when line_type in ('balance_carried', 'balance_applied') then 0 else amount end), "
        "sum(amount) from {schema}.published_invoice_lines where customer_id = 'cus_e'"
    )[0]
    assert rated == due == Decimal("9.5")
    assert warehouse.query("select count(*) from {schema}.invoice_holds") == [(0,)]


def test_late_usage_is_billed_under_its_periods_terms(tmp_path: Path):
    project = scenario_project(tmp_path)
    for seed, rows in TERMS_SEEDS.items():
        append_rows(project / "seeds" / seed, *rows)
    warehouse = Warehouse("duckdb", tmp_path)
    march = "2026-03-10 09:00:00"
    land_rows(warehouse, [*scenario_events(), *api_calls("cus_ovr", march, 100), *api_calls("cus_disc", march, 100),
                          small_model_tokens("cus_cap", march, 12000), *api_calls("cus_commit", march, 100)])
    publish(warehouse, project, AS_OF)
    contracts = "('c_ovr', 'c_disc', 'c_cap', 'c_commit')"
    published_march = (
        "select contract_id, total_due from {schema}.published_invoices "
        f"where contract_id in {contracts} and period_start = cast('2026-03-01' as timestamp) order by contract_id"
    )
    before = warehouse.query(published_march)
    assert before == [("c_cap", Decimal(10)), ("c_commit", Decimal(50)), ("c_disc", Decimal("7.5")),
                      ("c_ovr", Decimal(8))]

    late, ingested = "2026-03-25 09:00:00", datetime(2026, 4, 5, 12, 0)
    land_rows(warehouse, [*api_calls("cus_ovr", late, 50, ingested, tag="late"),
                          *api_calls("cus_disc", late, 50, ingested, tag="late"),
                          small_model_tokens("cus_cap", late, 3000, ingested),
                          *api_calls("cus_commit", late, 500, ingested, tag="late")])
    build(warehouse, project, "2026-04-06T00:00:00")

    adjustments = warehouse.query(
        "select l.contract_id, i.period_start, l.product_name, l.quantity, l.amount, corrected.line_type, "
        "l.adjusts_invoice_id = corrected.invoice_id, l.service_period_start "
        "from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "inner join {schema}.published_invoice_lines as corrected "
        "on l.adjusts_invoice_line_id = corrected.invoice_line_id "
        f"where l.line_type = 'adjustment' and l.contract_id in {contracts} order by l.contract_id, l.line_order, "
        "l.amount desc"
    )
    april, march_start = datetime(2026, 4, 1), datetime(2026, 3, 1)
    assert adjustments == [
        ("c_cap", april, "Tokens", Decimal(3000), Decimal(3), "usage", True, march_start),
        ("c_cap", april, "Tokens (Maximum cap)", None, Decimal(-3), "maximum_cap", True, march_start),
        ("c_commit", april, "API calls", Decimal(500), Decimal(50), "usage", True, march_start),
        ("c_commit", april, "Minimum commitment true-up", None, Decimal(-40), "commitment_true_up", True,
         march_start),
        ("c_disc", april, "API calls", Decimal(50), Decimal(5), "usage", True, march_start),
        ("c_disc", april, "Invoice discount", None, Decimal("-1.25"), "discount", True, march_start),
        ("c_ovr", april, "API calls", Decimal(50), Decimal(5), "usage", True, march_start),
        ("c_ovr", april, "API calls (Price override)", None, Decimal(-1), "override", True, march_start),
    ]

    publish(warehouse, project, "2026-05-03T00:00:00")
    billed = warehouse.query(
        "select contract_id, sum(amount) from {schema}.published_invoice_lines "
        f"where line_type = 'adjustment' and contract_id in {contracts} group by contract_id order by contract_id"
    )
    assert billed == [("c_cap", Decimal(0)), ("c_commit", Decimal(10)), ("c_disc", Decimal("3.75")),
                      ("c_ovr", Decimal(4))]
    assert warehouse.query(published_march) == before, "a published invoice changed"
    # billed once: the next run finds nothing left to adjust
    build(warehouse, project, "2026-05-03T01:00:00")
    assert warehouse.query("select count(*) from {schema}.invoice_lines where line_type = 'adjustment'") == [(0,)]
    # nothing lost: March as published plus its adjustments is March as rated now
    rated_now = warehouse.query(
        "select contract_id, total_due from {schema}.invoices "
        f"where contract_id in {contracts} and period_start = cast('2026-03-01' as timestamp) order by contract_id"
    )
    assert rated_now == [("c_cap", Decimal(10)), ("c_commit", Decimal(60)), ("c_disc", Decimal("11.25")),
                         ("c_ovr", Decimal(12))]


def test_a_late_seat_rise_is_billed_on_the_next_invoice(published_scenario: Warehouse, tmp_path: Path):
    """Delta's first quarter is published with its seats (4 from the start, +2 on Feb 10: 15.33). An
    event that landed on Apr 5 says the count went to 9 on Mar 2: a rise of 3 against the 6 before it,
    for the 30 days left of the quarter's 90, 3 x 3.00 x 30/90 = 3.00. It is billed once, as an
    adjustment on the second quarter's invoice, taxed there at 21 % ((130.00 + 3.00) x 0.21 = 27.93),
    and the fall to 5 on Mar 5 still credits nothing, so the second quarter's own seats stay
    5 x 3.00 = 15.00."""
    warehouse = copy_duckdb(published_scenario, tmp_path / "warehouse")
    project = scenario_project(tmp_path)
    land_rows(warehouse, [usage_event("cus_d-late-seats", "cus_d", "seats", "2026-03-02 09:00:00",
                                      datetime(2026, 4, 5, 12, 0), properties='{"seats": 9}')])
    build(warehouse, project, "2026-04-06T00:00:00")
    assert warehouse.query(
        "select i.period_start, l.product_id, l.amount, l.service_period_start, "
        "l.adjusts_invoice_id = published.invoice_id "
        "from {schema}.invoice_lines as l inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "inner join {schema}.published_invoices as published "
        "on published.contract_id = 'c_delta' and published.period_start = cast('2026-01-01' as timestamp) "
        "where l.contract_id = 'c_delta' and l.line_type = 'adjustment'"
    ) == [(datetime(2026, 4, 1), "seats", Decimal(3), datetime(2026, 1, 1), True)]
    assert warehouse.query(
        "select l.product_id, l.service_period_start, l.amount from {schema}.invoice_lines as l "
        "inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        "where l.contract_id = 'c_delta' and i.period_start = cast('2026-04-01' as timestamp) "
        "and l.line_type in ('recurring', 'tax') order by l.line_type, l.product_id, l.amount"
    ) == [("platform", datetime(2026, 4, 1), Decimal(100)), ("seats", datetime(2026, 4, 1), Decimal(15)),
          ("support", datetime(2026, 4, 1), Decimal(10)), (None, datetime(2026, 4, 1), Decimal(0)),
          (None, datetime(2026, 4, 1), Decimal("27.93"))]

    publish(warehouse, project, "2026-07-03T00:00:00")
    assert warehouse.query(
        "select sum(amount) from {schema}.published_invoice_lines "
        "where contract_id = 'c_delta' and line_type = 'adjustment' and product_id = 'seats'"
    ) == [(Decimal(3),)]
