"""Corrections give the same rows on Postgres as on DuckDB (SPEC 6.1).

test_corrections.py, test_credit_notes.py and test_rebilling.py prove each correction against figures
worked by hand, on DuckDB. Here one sequence uses them all, on the contract scenario with the extra
customers of test_corrections.py, and runs on both warehouses; every published table and billing mart
must then hold the same rows on each. Publications, months apart:

- 2026-04-02: Gamma's first JPY invoice is held (tokens, which its rate card does not price); Epsilon's
  February (900 calls on a volume price) and the four term customers' March are published.
- 2026-05-03, after the fixes and the corrections of April: a token price on the JPY rate card (the
  held invoice is released), an in-place edit of the USD call price (0.01 to 0.02: published invoices
  change, held for approval), credit note cn_1 on Alpha's March, late February calls for Epsilon (a
  negative remainder, carried) and late March usage for the term customers (adjustments under each
  term).
- 2026-06-03: the rebill of Alpha's February approved (billed on its next invoice), credit note cn_2
  for the whole of Gamma's first JPY invoice, May usage for Epsilon (the carried balance applied); then
  a rerun of the publication, which adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.corrections import (
    EPSILON_SEEDS, JPY_TOKENS_ROW, TERMS_SEEDS, api_calls, small_model_tokens, usage_event,
)
from support.publishing import append_rows, edit_rows, publish, publish_built, seed_row
from support.scenario import AS_OF, scenario_events, scenario_project
from support.warehouse import Warehouse, land_rows, postgres_database

pytestmark = pytest.mark.warehouse

# Every table a correction writes to or reads from, compared whole.
COMPARED = (
    "published_invoices",
    "published_invoice_lines",
    "published_credit_notes",
    "published_invoice_reference_data",
    "invoices",
    "invoice_lines",
    "invoice_holds",
    "int_invoice_first_holds",
    "rebilling_preview",
    "credit_ledger",
)
USD_CALLS_ROW = seed_row("prices", price_id="p_calls", rate_card_id="rc_usd", product_id="calls",
                         product_name="API calls", charge_type="usage", metric_id="api_calls", pricing_model="unit",
                         unit_price="0.01", minimum_amount="5.00")


def _invoice_number(warehouse: Warehouse, contract: str, period_start: str) -> int:
    return warehouse.query(
        "select invoice_number from {schema}.published_invoices "
        f"where contract_id = '{contract}' and period_start = cast('{period_start}' as timestamp)"
    )[0][0]


def _run_corrections(warehouse: Warehouse, project: Path) -> Warehouse:
    """The sequence of the module docstring, on ``warehouse``."""
    for seeds in (EPSILON_SEEDS, TERMS_SEEDS):
        for seed, rows in seeds.items():
            append_rows(project / "seeds" / seed, *rows)
    march = "2026-03-10 09:00:00"
    land_rows(warehouse, [
        *scenario_events(),
        usage_event("gamma-jpy-tokens", "cus_c", "tokens", "2026-02-20 09:00:00",
                    properties='{"tokens": 700, "model": "small"}'),
        *api_calls("cus_e", "2026-02-10 09:00:00", 900),
        *api_calls("cus_ovr", march, 100), *api_calls("cus_disc", march, 100),
        small_model_tokens("cus_cap", march, 12000), *api_calls("cus_commit", march, 100),
    ])
    publish(warehouse, project, AS_OF)

    seeds = project / "seeds"
    append_rows(seeds / "prices.csv", JPY_TOKENS_ROW)
    edit_rows(seeds / "prices.csv", USD_CALLS_ROW, USD_CALLS_ROW.replace(",unit,0.01,", ",unit,0.02,"))
    alpha_march = _invoice_number(warehouse, "c_alpha", "2026-03-01")
    append_rows(seeds / "credit_notes.csv", f"cn_1,{alpha_march},10.00,Duplicate usage,finance lead,2026-04-10 00:00:00")
    late, late_arrival = "2026-03-25 09:00:00", datetime(2026, 4, 5, 12, 0)
    land_rows(warehouse, [
        *api_calls("cus_e", "2026-02-28 09:00:00", 200, ingested=datetime(2026, 4, 3), tag="late"),
        *api_calls("cus_e", "2026-04-10 09:00:00", 100),
        *api_calls("cus_ovr", late, 50, late_arrival, tag="late"),
        *api_calls("cus_disc", late, 50, late_arrival, tag="late"),
        small_model_tokens("cus_cap", late, 3000, late_arrival),
        *api_calls("cus_commit", late, 500, late_arrival, tag="late"),
    ])
    publish(warehouse, project, "2026-05-03T00:00:00")

    append_rows(seeds / "rebill_approvals.csv", "c_alpha,2026-02-01 00:00:00,finance lead,USD calls repriced")
    gamma_jpy = _invoice_number(warehouse, "c_gamma_jpy", "2026-02-15")
    append_rows(seeds / "credit_notes.csv", f"cn_2,{gamma_jpy},,Wrong price,finance lead,2026-05-10 00:00:00")
    land_rows(warehouse, api_calls("cus_e", "2026-05-10 09:00:00", 300))
    publish(warehouse, project, "2026-06-03T00:00:00")
    publish_built(warehouse, project, "2026-06-03T00:00:00")  # a rerun adds nothing
    return warehouse


def _rows(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {table: sorted(warehouse.query(f"select * from {{schema}}.{table}"), key=repr) for table in COMPARED}


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Warehouse]:
    """A throwaway Postgres warehouse that outlives the test's body (the data tests run after it)."""
    with postgres_database() as database:
        yield Warehouse("postgres", tmp_path / "postgres", pg_database=database)


def test_a_sequence_of_corrections_gives_the_same_rows_on_postgres_as_on_duckdb(tmp_path: Path, postgres: Warehouse):
    duckdb = _run_corrections(Warehouse("duckdb", tmp_path / "duckdb"), scenario_project(tmp_path / "duckdb"))
    on_duckdb = _rows(duckdb)
    on_postgres = _rows(_run_corrections(postgres, scenario_project(tmp_path / "postgres")))

    # the sequence did what it says, so that equal tables prove something
    line_types = {line_type for (line_type,) in duckdb.query(
        "select distinct line_type from {schema}.published_invoice_lines")}
    assert {"adjustment", "credit_note", "balance_carried", "balance_applied", "override", "discount",
            "maximum_cap", "commitment_true_up", "tax"} <= line_types, line_types
    assert duckdb.query("select credit_note_id from {schema}.published_credit_notes order by 1") == [
        ("cn_1",), ("cn_2",)]
    assert duckdb.query("select count(*) from {schema}.int_invoice_first_holds") == [(1,)]
    assert duckdb.query("select count(*) from {schema}.invoice_holds") == [(0,)]
    assert duckdb.query(
        "select count(*) from {schema}.published_invoice_lines where line_type = 'adjustment' "
        "and contract_id = 'c_alpha' and product_id = 'calls'") != [(0,)], "the approved rebill was not billed"
    assert on_duckdb["rebilling_preview"], "the call price edit should leave invoices awaiting approval"
    for table in COMPARED:
        only_duckdb = [row for row in on_duckdb[table] if row not in on_postgres[table]]
        only_postgres = [row for row in on_postgres[table] if row not in on_duckdb[table]]
        assert on_postgres[table] == on_duckdb[table], (
            f"{table}: only on DuckDB {only_duckdb[:3]}, only on Postgres {only_postgres[:3]}")
