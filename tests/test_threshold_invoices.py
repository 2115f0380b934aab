"""Progressive (threshold) billing, end to end on the contract scenario (SPEC 6.2, decision 66).

Theta Tools (cus_t, taxed in NL at 21 %) has contract c_theta on the scenario's USD rate card from
2026-03-01: API calls at 0.01 (minimum 5.00) and the platform fee of 100.00. Its billing thresholds:
10.00 once, and every 25.00. The running amount is usage after charge terms only (the platform fee
does not count). March's calls, each landing a minute after it happened:

- Mar 3 09:00, 800 calls: 8.00, no level.
- Mar 10 09:00, 500 calls: the 200th makes 10.00, the one-shot level: threshold invoice 1 at 09:01,
  calls 10.00 + tax 2.10 = 12.10.
- Mar 20 09:00, 2,000 calls: the 1,200th makes 25.00: threshold invoice 2 at 09:01, 25.00 - 10.00 =
  15.00 + 3.15 = 18.15.
- Mar 31 23:59, 2,000 calls, landed Apr 1 00:00 (after the period's end, before its close on Apr 2):
  the 1,700th makes 50.00: threshold invoice 3 at Apr 1 00:00, 25.00 + 5.25 = 30.25.
- Mar 31 22:00, 100 calls landed Apr 2 06:00, after the close: no threshold invoice; billed late.

March's period invoice rates the whole month, calls 5,300 x 0.01 = 53.00 and platform 100.00
(subtotal 153.00), subtracts the 50.00 its threshold invoices billed (a threshold_billed line, taxed
at the all-products rate), and taxes 21 % of 103.00 = 21.63: total 124.63.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from support.corrections import api_calls
from support.publishing import append_rows, build, publish, publish_built, seed_row
from support.scenario import AS_OF, SCENARIO_SEEDS, scenario_events, scenario_project
from support.warehouse import Warehouse, land_rows, postgres_database

pytestmark = pytest.mark.warehouse

THETA_SEEDS = {
    "customers.csv": [seed_row("customers", SCENARIO_SEEDS, customer_id="cus_t", name="Theta Tools",
                               tax_jurisdiction="NL", tax_exempt="false")],
    "contracts.csv": ["c_theta,cus_t,rc_usd,2026-03-01 00:00:00,,monthly,calendar,USD,,15"],
    "billing_thresholds.csv": ["c_theta,10.00,false", "c_theta,25.00,true"],
}
MID_MARCH = "2026-03-15T00:00:00"
AFTER_LATE_CALLS = "2026-04-10T00:00:00"

INVOICE_COLUMNS = ("invoice_kind, threshold_sequence, subtotal, threshold_billed, tax_total, total_due, "
                   "status, issued_at, due_at")
LINE_COLUMNS = "line_type, product_id, tax_rate_id, amount"


def theta_calls() -> list[dict]:
    return [
        *api_calls("cus_t", "2026-03-03 09:00:00", 800),
        *api_calls("cus_t", "2026-03-10 09:00:00", 500),
        *api_calls("cus_t", "2026-03-20 09:00:00", 2000),
        *api_calls("cus_t", "2026-03-31 23:59:00", 2000),
        *api_calls("cus_t", "2026-03-31 22:00:00", 100, ingested=datetime(2026, 4, 2, 6, 0), tag="late"),
    ]


def theta_project(destination: Path) -> Path:
    project = scenario_project(destination)
    for seed, rows in THETA_SEEDS.items():
        append_rows(project / "seeds" / seed, *rows)
    return project


def theta_invoices(warehouse: Warehouse, table: str = "invoices") -> list[tuple]:
    return warehouse.query(
        f"select {INVOICE_COLUMNS} from {{schema}}.{table} "
        "where contract_id = 'c_theta' and period_start = cast('2026-03-01' as timestamp) "
        "order by issued_at"
    )


def theta_lines(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query(
        f"select invoices.invoice_kind, invoices.threshold_sequence, {LINE_COLUMNS} "
        "from {schema}.invoice_lines as lines "
        "inner join {schema}.invoices as invoices on lines.invoice_id = invoices.invoice_id "
        "where invoices.contract_id = 'c_theta' and invoices.period_start = cast('2026-03-01' as timestamp) "
        "order by invoices.issued_at, line_type, product_id, tax_rate_id"
    )


THRESHOLD_1 = ("threshold", 1, D("10.00"), D("0"), D("2.10"), D("12.10"), "ready",
               datetime(2026, 3, 10, 9, 1), datetime(2026, 3, 25, 9, 1))
THRESHOLD_2 = ("threshold", 2, D("15.00"), D("0"), D("3.15"), D("18.15"), "ready",
               datetime(2026, 3, 20, 9, 1), datetime(2026, 4, 4, 9, 1))
THRESHOLD_3 = ("threshold", 3, D("25.00"), D("0"), D("5.25"), D("30.25"), "ready",
               datetime(2026, 4, 1), datetime(2026, 4, 16))
MARCH = ("period", None, D("153.00"), D("50.00"), D("21.63"), D("124.63"), "ready",
         datetime(2026, 4, 2), datetime(2026, 4, 17))

MARCH_LINES = [
    ("threshold", 1, "tax", None, "nl_standard_2019", D("2.10")),
    ("threshold", 1, "threshold_usage", "calls", None, D("10.00")),
    ("threshold", 2, "tax", None, "nl_standard_2019", D("3.15")),
    ("threshold", 2, "threshold_usage", "calls", None, D("15.00")),
    ("threshold", 3, "tax", None, "nl_standard_2019", D("5.25")),
    ("threshold", 3, "threshold_usage", "calls", None, D("25.00")),
    ("period", None, "recurring", "platform", None, D("100.00")),
    ("period", None, "tax", None, "nl_standard_2019", D("21.63")),
    ("period", None, "tax", None, "nl_tokens_reduced", D("0.00")),
    ("period", None, "threshold_billed", "calls", None, D("-50.00")),
    ("period", None, "usage", "calls", None, D("53.00")),
    ("period", None, "usage", "tokens", None, D("0.00")),
]


@pytest.fixture(scope="module")
def published_across_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """DuckDB, published mid-March (threshold invoice 1 only), at the March close, again at the close
    (a rerun), and on Apr 10 after the late calls; each run's view of c_theta's March."""
    folder = tmp_path_factory.mktemp("thresholds")
    warehouse, project = Warehouse("duckdb", folder / "duckdb"), theta_project(folder / "duckdb")
    land_rows(warehouse, [*scenario_events(), *theta_calls()])
    runs: dict = {"warehouse": warehouse}
    publish(warehouse, project, MID_MARCH)
    runs["mid_march"] = theta_invoices(warehouse), theta_invoices(warehouse, "published_invoices")
    publish(warehouse, project, AS_OF)
    runs["close"] = theta_invoices(warehouse), theta_lines(warehouse)
    runs["published_at_close"] = warehouse.query(
        "select invoice_number, invoice_kind, threshold_sequence, total_due from {schema}.published_invoices "
        "where contract_id = 'c_theta' order by invoice_number")
    publish_built(warehouse, project, AS_OF)
    runs["published_after_rerun"] = warehouse.query(
        "select invoice_number, invoice_kind, threshold_sequence, total_due from {schema}.published_invoices "
        "where contract_id = 'c_theta' order by invoice_number")
    build(warehouse, project, AFTER_LATE_CALLS)
    runs["later"] = theta_invoices(warehouse)
    runs["later_adjustments"] = warehouse.query(
        "select invoices.period_start, lines.line_type, lines.product_id, lines.amount "
        "from {schema}.invoice_lines as lines "
        "inner join {schema}.invoices as invoices on lines.invoice_id = invoices.invoice_id "
        "where invoices.contract_id = 'c_theta' and lines.line_type = 'adjustment'")
    return runs


def test_a_run_mid_period_issues_the_threshold_invoice_already_reached(published_across_runs):
    """On Mar 15 the period holds 13.00 of calls: one level, one threshold invoice (ready a day after
    its issue, so published), and March's draft so far: 113.00 less the 10.00 billed, 21 % of 103.00."""
    invoices, published = published_across_runs["mid_march"]
    march_so_far = ("period", None, D("113.00"), D("10.00"), D("21.63"), D("124.63"), "draft",
                    datetime(2026, 4, 2), datetime(2026, 4, 17))
    assert invoices == [THRESHOLD_1, march_so_far]
    assert published == [THRESHOLD_1]


def test_threshold_invoices_and_the_period_invoice_at_the_close(published_across_runs):
    invoices, lines = published_across_runs["close"]
    assert invoices == [THRESHOLD_1, THRESHOLD_2, THRESHOLD_3, MARCH]
    assert lines == MARCH_LINES


def test_threshold_invoices_are_published_once_in_issue_order(published_across_runs):
    published = published_across_runs["published_at_close"]
    assert [(kind, sequence, total) for _, kind, sequence, total in published] == [
        ("threshold", 1, D("12.10")), ("threshold", 2, D("18.15")), ("threshold", 3, D("30.25")),
        ("period", None, D("124.63"))]
    numbers = [number for number, *_ in published]
    assert numbers == sorted(numbers)
    assert published_across_runs["published_after_rerun"] == published


def test_usage_landed_after_the_close_issues_no_threshold_invoice(published_across_runs):
    """The 100 calls landed after the close change no threshold invoice; the published March invoice
    gets a late adjustment of 1.00 on April's invoice, like any late usage."""
    later = published_across_runs["later"]
    assert later[:3] == [THRESHOLD_1, THRESHOLD_2, THRESHOLD_3]
    assert published_across_runs["later_adjustments"] == [
        (datetime(2026, 4, 1), "adjustment", "calls", D("1.00"))]


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Warehouse]:
    with postgres_database() as database:
        yield Warehouse("postgres", tmp_path / "postgres", pg_database=database)


def test_threshold_invoices_are_the_same_on_postgres(tmp_path: Path, postgres: Warehouse):
    project = theta_project(tmp_path / "postgres")
    land_rows(postgres, [*scenario_events(), *theta_calls()])
    build(postgres, project, AS_OF)
    assert theta_invoices(postgres) == [THRESHOLD_1, THRESHOLD_2, THRESHOLD_3, MARCH]
    assert theta_lines(postgres) == MARCH_LINES
