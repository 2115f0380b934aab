"""The dashboards' page logic (decision 57), run by Streamlit's AppTest on the contract scenario.

The scenario (four customers, USD and JPY, drafts and ready invoices, credits) is copied from the shared
build, and its dashboard copy made the way the Dagster asset makes it (``refresh_dashboard_copy``).
Every figure a page shows is compared with the mart it comes from, as exact text. The same pages on
Postgres, as billing_reader and billing_customer, are tested in tests/test_access.py (they share its
build); in a browser, in tests/test_dashboards_browser.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import yaml
from support.dashboards import PAGES, run_page, table_with, texts
from support.warehouse import Warehouse, copy_duckdb

from warehouse_billing import REPO_ROOT
from warehouse_billing.dashboard_data import money_text, refresh_dashboard_copy, relations_named
from warehouse_billing.dashboard_queries import CUSTOMER, FINANCE

pytestmark = pytest.mark.warehouse

EXPOSURES = REPO_ROOT / "models" / "marts" / "_dashboards__exposures.yml"


@pytest.fixture(scope="module")
def dashboard_warehouse(scenario_build, tmp_path_factory) -> tuple[Warehouse, Path]:
    """A copy of the scenario build (this module's own) and its dashboard copy."""
    shared, _ = scenario_build
    work = tmp_path_factory.mktemp("dashboards")
    warehouse = copy_duckdb(shared, work / "warehouse")
    copy = refresh_dashboard_copy(warehouse.duckdb_path, work / "dashboard" / "warehouse.duckdb")
    return warehouse, copy


@pytest.fixture
def pages_on_duckdb(dashboard_warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    warehouse, copy = dashboard_warehouse
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_DASHBOARD_DUCKDB_PATH", str(copy))
    return warehouse


@contextmanager
def writer_holding(warehouse: Warehouse) -> Iterator[None]:
    """Another process holds the warehouse file open for writing, as a Dagster run does: DuckDB then
    refuses every other process that opens that file, so a page that did would fail."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(300)",
         warehouse.duckdb_path],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(duckdb.IOException):  # the premise: the warehouse is locked
            duckdb.connect(warehouse.duckdb_path, read_only=True)
        yield
    finally:
        holder.kill()
        holder.wait()


def test_finance_page_ties_every_invoice_out_to_its_lines(pages_on_duckdb: Warehouse) -> None:
    invoices = pages_on_duckdb.query("select invoice_id, total_due, status from {schema}.invoices")
    assert len(invoices) > 10, "the scenario has too few invoices for this test to mean anything"
    expected = pages_on_duckdb.query(
        "select currency, status, count(*), sum(total_due) from {schema}.invoices group by 1, 2")
    with writer_holding(pages_on_duckdb):
        page = run_page("finance")
    assert [message.value for message in page.success][0] == f"All {len(invoices)} invoices tie out to their lines."
    register = table_with(page, "ties_out")
    assert sorted(zip(register["invoice_id"], register["total_due"], register["status"])) == sorted(
        (invoice_id, money_text(total_due), status) for invoice_id, total_due, status in invoices)
    assert list(register["total_due"]) == list(register["sum_of_lines"])
    # totals by currency and status are the marts' sums, exactly
    totals = table_with(page, "invoices")
    assert sorted(zip(totals["currency"], totals["status"], totals["invoices"], totals["total_due"])) == sorted(
        (currency, status, count, money_text(total)) for currency, status, count, total in expected)


def test_finance_page_names_an_invoice_that_does_not_tie_out(dashboard_warehouse, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad data: one invoice's total off by a cent from its lines. The page must say which."""
    warehouse, copy = dashboard_warehouse
    broken = tmp_path / "dashboard" / copy.name
    broken.parent.mkdir()
    broken.write_bytes(copy.read_bytes())
    with duckdb.connect(str(broken)) as connection:
        invoice_id = connection.execute(
            "select min(invoice_id) from main.invoices where total_due > 0").fetchone()[0]
        connection.execute("update main.invoices set total_due = total_due + 0.01 where invoice_id = ?",
                           [invoice_id])
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_DASHBOARD_DUCKDB_PATH", str(broken))
    page = run_page("finance")
    assert not page.success or "tie out" not in page.success[0].value
    assert [message.value for message in page.error] == [
        f"1 invoice(s) do not tie out to their lines: {invoice_id}"]


@pytest.mark.parametrize("customer_id", ["cus_a", "cus_c"])
def test_customer_page_shows_that_customers_rows_only(pages_on_duckdb: Warehouse, customer_id: str) -> None:
    live = pages_on_duckdb.query(
        "select currency, amount_due_so_far, projected_period_end_amount from {schema}.customer_live_spend "
        f"where customer_id = '{customer_id}' order by period_start, contract_id")
    past = pages_on_duckdb.query(
        f"select invoice_id, total_due from {{schema}}.invoices where customer_id = '{customer_id}' "
        "and status <> 'draft'")
    others = pages_on_duckdb.query(
        f"select invoice_id from {{schema}}.invoices where customer_id <> '{customer_id}' "
        f"union all select contract_id from {{schema}}.invoices where customer_id <> '{customer_id}'")
    assert live and past and others, "the scenario must give this customer open and past invoices"
    with writer_holding(pages_on_duckdb):
        page = run_page("customer", customer_id)
    assert page.title[0].value == f"Usage and spend: {customer_id}"
    due = [metric.value for metric in page.metric if metric.label == "Amount due so far"]
    projected = [metric.value for metric in page.metric if metric.label == "Projected at period end"]
    assert due == [f"{money_text(amount)} {currency}" for currency, amount, _ in live]
    assert projected == [f"{money_text(amount)} {currency}" for currency, _, amount in live]
    shown = table_with(page, "total_due")
    assert sorted(zip(shown["invoice_id"], shown["total_due"])) == sorted(
        (invoice_id, money_text(total)) for invoice_id, total in past)
    everything = texts(page)
    leaked = {other for (other,) in others if re.search(rf"\b{re.escape(other)}\b", everything)}
    assert not leaked, f"the page of {customer_id} shows other customers' invoices or contracts: {leaked}"


def test_customer_page_without_a_known_customer_shows_nothing(pages_on_duckdb: Warehouse) -> None:
    page = run_page("customer")
    assert [message.value for message in page.info] == [
        "Open this page for one customer: /customer?customer_id=<customer id>."]
    assert not page.dataframe and not page.metric
    page = run_page("customer", "cus_nobody")
    assert "No open billing period." in [message.value for message in page.info]
    assert not page.metric
    assert all(table.value.empty for table in page.dataframe)


def test_a_missing_copy_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_DASHBOARD_DUCKDB_PATH", str(tmp_path / "nothing" / "warehouse.duckdb"))
    for page in (run_page("finance"), run_page("customer", "cus_a")):
        assert len(page.error) == 1 and "run `make demo`" in page.error[0].value


def test_pages_read_only_what_their_exposures_list() -> None:
    exposures = {exposure["name"]: exposure for exposure in yaml.safe_load(EXPOSURES.read_text())["exposures"]}

    def listed(name: str) -> set[str]:
        return {re.fullmatch(r"ref\('([a-z_]+)'\)", ref).group(1) for ref in exposures[name]["depends_on"]}

    finance = set().union(*(relations_named(sql) for sql in FINANCE.values()))
    customer = set().union(*(relations_named(sql) for sql in CUSTOMER.values()))
    assert finance == listed("finance_dashboard")
    assert customer == listed("customer_dashboard")
    # the customer page reads the views that filter on the session's customer, nothing else
    assert all(name.startswith("portal_") for name in customer)
    for name in ("finance", "customer"):
        source = (PAGES / f"{name}.py").read_text()
        assert "select " not in source.lower(), f"dashboards/{name}.py must query through dashboard_queries"


def test_the_copy_keeps_the_warehouse_file_name(tmp_path: Path) -> None:
    """The customer views name the database, which DuckDB names after its file."""
    with pytest.raises(ValueError, match="must keep the warehouse's file name"):
        refresh_dashboard_copy(tmp_path / "billing.duckdb", tmp_path / "dashboard" / "copy.duckdb")
