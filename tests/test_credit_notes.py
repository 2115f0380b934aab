"""Credit notes (SPEC 6.1): finance corrects a published invoice without changing it.

Both tests start from a copy of the contract scenario (tests/scenarios/contracts) published at its
as_of on DuckDB (conftest published_scenario); credit notes on Postgres are compared with DuckDB's in
test_corrections_across_warehouses.py.

Alpha's March invoice (total_due 149.00) and Gamma's first JPY invoice (13,000) are published at the
scenario's as_of (2026-04-02). Finance then issues cn_1, 10.00 off Alpha's March: the next publication
(2026-05-03) publishes it as credit note number 1 and Alpha's April invoice carries a credit_note line
of -10.00 naming March (adjusts_invoice_id) and cn_1 (adjusts_invoice_line_id); March's published rows
are unchanged. cn_2 credits the whole of Gamma's JPY invoice (amount empty = its total_due, 13,000):
number 2 on 2026-06-03, a credit_note line of -13,000 on Gamma's next JPY invoice (04-15 .. 05-15),
which then sums below zero, so a balance_carried line brings its total_due to 0. A rerun adds nothing;
a bare publish run (no approval) publishes no credit note. A credit note for more than what is left of
its invoice (1.00 then 148.01 on a 149.00 invoice) fails the build naming that row, and only that row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.publishing import append_rows, build, publish
from support.scenario import scenario_project
from support.warehouse import Warehouse, copy_duckdb

pytestmark = pytest.mark.warehouse

HEADER = "credit_note_id,invoice_number,amount,reason,approved_by,issued_at"

def _invoice(warehouse: Warehouse, contract: str, period_start: str) -> tuple[str, int, Decimal]:
    return warehouse.query(
        "select invoice_id, invoice_number, total_due from {schema}.published_invoices "
        f"where contract_id = '{contract}' and period_start = cast('{period_start}' as timestamp)"
    )[0]


def _published_rows(warehouse: Warehouse, invoice_id: str) -> tuple[list, list]:
    invoice = warehouse.query(f"select * from {{schema}}.published_invoices where invoice_id = '{invoice_id}'")
    lines = warehouse.query(
        f"select * from {{schema}}.published_invoice_lines where invoice_id = '{invoice_id}' order by invoice_line_id"
    )
    return invoice, lines


def _credit_note_lines(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        "select i.period_start, l.amount, l.adjusts_invoice_id, l.adjusts_invoice_line_id "
        "from {schema}.published_invoice_lines as l "
        "inner join {schema}.published_invoices as i on l.invoice_id = i.invoice_id "
        "where l.line_type = 'credit_note' order by i.period_start, l.adjusts_invoice_line_id"
    )


def test_credit_notes_are_published_numbered_and_credited_on_the_next_invoice(published_scenario: Warehouse,
                                                                              tmp_path: Path):
    project = scenario_project(tmp_path)
    credit_notes = project / "seeds" / "credit_notes.csv"
    assert credit_notes.read_text().strip() == HEADER
    warehouse = copy_duckdb(published_scenario, tmp_path / "warehouse")  # January to March published
    march_id, march_number, march_total = _invoice(warehouse, "c_alpha", "2026-03-01")
    jpy_id, jpy_number, jpy_total = _invoice(warehouse, "c_gamma_jpy", "2026-02-15")
    assert march_total == Decimal(149) and jpy_total == Decimal(13000)
    march_before = _published_rows(warehouse, march_id)
    jpy_before = _published_rows(warehouse, jpy_id)
    assert march_before[1] and jpy_before[1]

    # cn_1: 10.00 off Alpha's March invoice, credited on April's
    append_rows(credit_notes, f"cn_1,{march_number},10.00,Duplicate usage,finance lead,2026-04-10 00:00:00")
    publish(warehouse, project, "2026-05-03T00:00:00")  # April (and Gamma's JPY invoice to 04-15)
    assert warehouse.query(
        "select credit_note_id, credit_note_number, invoice_number, amount, invoice_id, customer_id, currency, "
        "reason, approved_by, published_at from {schema}.published_credit_notes"
    ) == [("cn_1", 1, march_number, Decimal(10), march_id, "cus_a", "USD", "Duplicate usage", "finance lead",
           datetime(2026, 5, 3))]
    assert _published_rows(warehouse, march_id) == march_before
    assert _credit_note_lines(warehouse) == [(datetime(2026, 4, 1), Decimal(-10), march_id, "cn_1")]
    assert warehouse.query(
        "select adjustment_total from {schema}.published_invoices "
        "where contract_id = 'c_alpha' and period_start = cast('2026-04-01' as timestamp)"
    ) == [(Decimal(-10),)]

    # cn_2: the whole of Gamma's first JPY invoice (amount empty), on its next unpublished JPY invoice;
    # what it takes below zero is carried (balance_carried) to the one after
    append_rows(credit_notes, f"cn_2,{jpy_number},,Wrong price,finance lead,2026-05-10 00:00:00")
    publish(warehouse, project, "2026-06-03T00:00:00")
    assert warehouse.query(
        "select credit_note_id, credit_note_number, amount, invoice_id, currency from {schema}.published_credit_notes "
        "order by credit_note_number"
    ) == [("cn_1", 1, Decimal(10), march_id, "USD"), ("cn_2", 2, Decimal(13000), jpy_id, "JPY")]
    assert _credit_note_lines(warehouse) == [
        (datetime(2026, 4, 1), Decimal(-10), march_id, "cn_1"),
        (datetime(2026, 4, 15), Decimal(-13000), jpy_id, "cn_2"),
    ]
    credited_lines = warehouse.query(
        "select l.line_type, l.amount from {schema}.published_invoice_lines as l "
        "inner join {schema}.published_invoices as i on l.invoice_id = i.invoice_id "
        "where i.contract_id = 'c_gamma_jpy' and i.period_start = cast('2026-04-15' as timestamp)"
    )
    credited_total = _invoice(warehouse, "c_gamma_jpy", "2026-04-15")[2]
    before_carry = sum(amount for line_type, amount in credited_lines if line_type != "balance_carried")
    assert before_carry < 0
    assert sorted(amount for line_type, amount in credited_lines if line_type == "balance_carried") == [-before_carry]
    assert credited_total == 0
    assert _published_rows(warehouse, march_id) == march_before
    assert _published_rows(warehouse, jpy_id) == jpy_before

    # a rerun adds nothing
    counts = ("select (select count(*) from {schema}.published_credit_notes), "
              "(select count(*) from {schema}.published_invoice_lines where line_type = 'credit_note')")
    assert warehouse.query(counts) == [(2, 2)]
    publish(warehouse, project, "2026-06-03T00:00:00")
    assert warehouse.query(counts) == [(2, 2)]

    # a bare publish run (no approval) publishes no credit note, even a new one of a published invoice
    append_rows(credit_notes, f"cn_3,{march_number},1.00,Goodwill,finance lead,2026-06-10 00:00:00")
    publish(warehouse, project, "2026-07-03T00:00:00", approve=False)
    assert warehouse.query(counts) == [(2, 2)]


def test_a_credit_note_above_the_invoice_total_fails_the_build_naming_the_row(published_scenario: Warehouse,
                                                                              tmp_path: Path):
    project = scenario_project(tmp_path)
    credit_notes = project / "seeds" / "credit_notes.csv"
    warehouse = copy_duckdb(published_scenario, tmp_path / "warehouse")
    _, march_number, march_total = _invoice(warehouse, "c_alpha", "2026-03-01")
    assert march_total == Decimal(149)
    # two credit notes on Alpha's March: the first fits, the second takes the total beyond total_due
    append_rows(credit_notes,
            f"cn_fits,{march_number},1.00,Goodwill,finance lead,2026-04-10 00:00:00",
            f"cn_too_much,{march_number},148.01,Goodwill,finance lead,2026-04-11 00:00:00")
    result = build(warehouse, project, "2026-05-03T00:00:00", check=False)
    assert result.returncode != 0
    assert "credit_notes row cn_too_much" in result.stdout
    assert "credit_notes row cn_fits" not in result.stdout
