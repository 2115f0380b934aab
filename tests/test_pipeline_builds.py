"""The whole dbt pipeline on the demo data set, on DuckDB and on Postgres.

One module-scoped build per warehouse keeps the suite fast: the demo events are generated once,
landed in both warehouses through the loader, and built with the same as_of.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.publishing import BILLING_ONLY
from support.reference_rating import rate_invoice, reference_taxes
from support.warehouse import DEMO_AS_OF, REPO_ROOT, Warehouse, land_rows, postgres_database

from warehouse_billing.demo_data import KIND_OUTCOMES, generate_labelled_events

pytestmark = pytest.mark.warehouse

INVOICE_COLUMNS = (
    "invoice_id, contract_id, customer_id, period_start, period_end, currency, subtotal, discount_total, "
    "commitment_true_up, adjustment_total, tax_total, credits_applied, total_due, status, issued_at, due_at, computed_at"
)
LINE_COLUMNS = (
    "invoice_line_id, invoice_id, line_type, product_id, product_name, metric_id, dimensions, quantity, "
    "unit_price, amount, service_period_start, service_period_end, grant_id, tax_rate_id"
)


@pytest.fixture(scope="module")
def labelled_demo_rows() -> list[tuple[str, dict]]:
    return generate_labelled_events()


def _build(warehouse: Warehouse, rows: list[dict]) -> Warehouse:
    land_rows(warehouse, rows)
    warehouse.dbt("build", "--exclude", "tag:publication")  # seeds included
    return warehouse


@pytest.fixture(scope="module")
def duckdb_demo(tmp_path_factory: pytest.TempPathFactory, labelled_demo_rows) -> Warehouse:
    warehouse = Warehouse("duckdb", tmp_path_factory.mktemp("duckdb_demo"))
    return _build(warehouse, [row for _, row in labelled_demo_rows])


@pytest.fixture(scope="module")
def postgres_demo(tmp_path_factory: pytest.TempPathFactory, labelled_demo_rows):
    with postgres_database() as database:
        warehouse = Warehouse("postgres", tmp_path_factory.mktemp("postgres_demo"), pg_database=database)
        yield _build(warehouse, [row for _, row in labelled_demo_rows])


def _marts(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {
        "invoices": warehouse.query(f"select {INVOICE_COLUMNS} from {{schema}}.invoices order by invoice_id"),
        "invoice_lines": warehouse.query(
            f"select {LINE_COLUMNS} from {{schema}}.invoice_lines order by invoice_line_id"
        ),
        "quarantined": warehouse.query(
            "select raw_row_key, event_id, reason from {schema}.quarantined_usage_events order by raw_row_key"
        ),
        "reconciliation": warehouse.query(
            "select * from {schema}.usage_event_reconciliation order by ingestion_date"
        ),
    }


def test_demo_invoices_are_identical_on_duckdb_and_postgres(duckdb_demo: Warehouse, postgres_demo: Warehouse):
    duck, pg = _marts(duckdb_demo), _marts(postgres_demo)
    assert len(duck["invoices"]) > 500
    assert len(duck["invoice_lines"]) > 5000
    for mart in duck:
        assert duck[mart] == pg[mart], f"{mart} differs between DuckDB and Postgres"


def test_every_raw_row_is_accounted_for(duckdb_demo: Warehouse, labelled_demo_rows):
    expected: dict[str, int] = {}
    for kind, _ in labelled_demo_rows:
        outcome = KIND_OUTCOMES[kind]
        key = outcome if outcome in ("accepted", "duplicate") else "quarantined"
        expected[key] = expected.get(key, 0) + 1
    (received, accepted, duplicates, quarantined, balanced_days, days) = duckdb_demo.query(
        "select sum(received_count), sum(accepted_count), sum(duplicate_count), sum(quarantined_count), "
        "sum(case when is_balanced then 1 else 0 end), count(*) from {schema}.usage_event_reconciliation"
    )[0]
    assert received == len(labelled_demo_rows)
    assert (accepted, duplicates, quarantined) == (expected["accepted"], expected["duplicate"], expected["quarantined"])
    assert balanced_days == days


def test_quarantine_reasons_match_the_generator_labels(duckdb_demo: Warehouse, labelled_demo_rows):
    expected: dict[str, int] = {}
    for kind, _ in labelled_demo_rows:
        if KIND_OUTCOMES[kind] not in ("accepted", "duplicate"):
            expected[KIND_OUTCOMES[kind]] = expected.get(KIND_OUTCOMES[kind], 0) + 1
    actual = dict(duckdb_demo.query(
        "select reason, count(*) from {schema}.quarantined_usage_events group by reason"
    ))
    assert actual == expected


# Checked by hand (and by tests/support/reference_rating.py, which shares no code with the models):
# cus_0178, rc_europe, October 2026 (EUR): platform fee 45.00; input tokens large 56,239 x 0.0000027
# = 0.15, medium+small on the unit fallback 0.12 + 0.26; output tokens 0.06 + 0.15 + 0.23 = 0.44;
# seats latest 10, 1 free, 9 x 18.00 = 162.00; 307 requests and 8 users within free units: 0.00;
# no storage snapshot in October: a zero-usage line of 0.00. Total 207.97 before tax. The customer is
# taxed in DE (seeds/tax_rates.csv): 19 % of 162.97 = 30.96 and 7 % of the 45.00 platform fee = 3.15,
# total due 242.08 (reference_taxes computes the same from the seeds).
# cus_0240, rc_growth, October 2026 (USD): platform fee 499.00; seats latest 473, 5 free,
# 468 x 15.00 = 7,020.00; input tokens on the volume price, one line per model, each in tier 1
# (0.000002 per token + 10.00 flat fee): 10.02 + 10.16 + 10.13 = 30.31; output tokens 0.04 + 0.21
# + 0.08 = 0.33; storage 498.08 GB inside the free first tier, requests and users free: 0.00.
# Total 7,549.64. The assertion below also compares every product line with the reference.
HAND_CHECKED_OCTOBER_TOTALS = {
    "cus_0178": Decimal("207.97"),
    "cus_0240": Decimal("7549.64"),
}


@pytest.mark.parametrize("customer_id", sorted(HAND_CHECKED_OCTOBER_TOTALS))
def test_hand_checked_invoice_totals(duckdb_demo: Warehouse, labelled_demo_rows, customer_id: str):
    accepted = [row for kind, row in labelled_demo_rows if KIND_OUTCOMES[kind] == "accepted"]
    reference = rate_invoice(customer_id, datetime(2026, 10, 1), datetime(2026, 11, 1), accepted)
    assert reference["total"] == HAND_CHECKED_OCTOBER_TOTALS[customer_id]

    rows = duckdb_demo.query(
        "select l.product_id, sum(l.amount), max(i.total_due), max(i.status) "
        "from {schema}.invoice_lines as l inner join {schema}.invoices as i on l.invoice_id = i.invoice_id "
        f"where i.customer_id = '{customer_id}' and i.period_start = cast('2026-10-01' as timestamp) "
        "group by l.product_id"
    )
    by_product = {product: amount for product, amount, _, _ in rows}
    expected = {product: amount for product, amount in reference.items() if product != "total"}
    # a customer taxed in its country (SPEC 6.2): the tax lines, without a product, at the seeds' rates
    taxes = reference_taxes(customer_id, datetime(2026, 11, 1), reference)
    if taxes:
        expected[None] = sum(taxes.values())
    assert expected == by_product
    assert {total for _, _, total, _ in rows} == {HAND_CHECKED_OCTOBER_TOTALS[customer_id] + sum(taxes.values())}
    assert {status for _, _, _, status in rows} == {"ready"}


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_rebuild_with_the_same_as_of_changes_nothing(request: pytest.FixtureRequest, target: str):
    warehouse: Warehouse = request.getfixturevalue(f"{target}_demo")
    before = _marts(warehouse)
    warehouse.dbt("run", *BILLING_ONLY, as_of=DEMO_AS_OF)
    assert _marts(warehouse) == before


def test_postgres_tables_have_planner_statistics(postgres_demo: Warehouse):
    """Every table a model built on Postgres was analyzed by the build itself (macros/postgres_statistics.sql),
    not left to autovacuum: without statistics Postgres chose nested loops over 200k rows."""
    seeds = {path.stem for path in (REPO_ROOT / "seeds").rglob("*.csv")}
    tables = postgres_demo.query(
        "select relname, last_analyze is not null from pg_stat_user_tables where schemaname = '{schema}'"
    )
    # seeds and snapshots (the seeds' history, read once a build) are dbt's own materializations
    model_tables = {name: analyzed for name, analyzed in tables
                    if name not in seeds and not name.endswith("_snapshot")}
    assert len(model_tables) > 30
    not_analyzed = [name for name, analyzed in model_tables.items() if not analyzed]
    assert not_analyzed == [], f"built without statistics: {not_analyzed}"
