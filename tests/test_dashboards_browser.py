"""The dashboards as a person sees them (decision 57): `make dashboard`, its pages in headless Chromium.

`make dashboard` runs here as the README tells a newcomer to run it, with the warehouse and its
dashboard copy in a scratch folder. The warehouse is the contract scenario (four customers, USD and
JPY, ready and draft invoices, a hold, credits), built once and copied the way the Dagster asset copies
it (``refresh_dashboard_copy``): `make dashboard` finds that copy and only starts Streamlit. Not the
demo: its 81 daily partitions cost about 7 minutes on 2 cores, and more than 15 beside `make test` in
CI, almost all of it Dagster recording each partition of each asset; `make demo` then `make dashboard`
is the README's path, tried by hand on a fresh clone before each release note. Headless Chromium then
opens each page over the DevTools protocol, waits for the figures the marts hold, reads the rendered
text and saves a screenshot (``target/screenshots/``, or ``$BILLING_SCREENSHOT_DIR``).

Marker ``browser``: `make test-browser` (Chromium from Debian, `make browser`), beside `make test` in
`make test-all`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support.browser import chromium, look_at
from support.warehouse import copy_duckdb

from warehouse_billing import REPO_ROOT
from warehouse_billing.dashboard_data import money_text, refresh_dashboard_copy

pytestmark = [pytest.mark.browser, pytest.mark.warehouse]

SCREENSHOTS = Path(os.environ.get("BILLING_SCREENSHOT_DIR") or REPO_ROOT / "target" / "screenshots")
SERVER_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(scenario_build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`make dashboard` on a copy of the scenario warehouse; yields its URL and the dashboard copy."""
    shared, _ = scenario_build
    work = tmp_path_factory.mktemp("dashboard")
    warehouse = copy_duckdb(shared, work / "warehouse")
    # where make dashboard looks for the copy: dashboard/<the warehouse's file name> beside it
    copy = refresh_dashboard_copy(warehouse.duckdb_path, work / "warehouse" / "dashboard" / "warehouse.duckdb")
    port = free_port()
    env = {
        **os.environ,
        "BILLING_TARGET": "duckdb",
        "BILLING_DUCKDB_PATH": warehouse.duckdb_path,
        "DASHBOARD_PORT": str(port),
    }
    log = work / "make_dashboard.log"
    with open(log, "w") as output:
        server = subprocess.Popen(["make", "--no-print-directory", "dashboard"], cwd=REPO_ROOT, env=env,
                                  stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise AssertionError(f"make dashboard exited with {server.returncode}:\n{log.read_text()[-5000:]}")
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"make dashboard did not serve within {SERVER_TIMEOUT_S} s:\n"
                                     f"{log.read_text()[-5000:]}")
            time.sleep(1)
        assert "running make demo" not in log.read_text(), "make dashboard did not find the copy"
        yield url, copy
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def mart_rows(copy: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(copy), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def rendered_tables(browser) -> int:
    """How many tables the page drew. Streamlit draws a table's cells on a canvas, so their text is not
    in the page's text: the figures in them are checked by tests/test_dashboards.py (AppTest)."""
    return browser.evaluate("document.querySelectorAll('[data-testid=\"stDataFrame\"]').length")


def test_both_pages_show_the_marts_figures(dashboard: tuple[str, Path]) -> None:
    url, copy = dashboard
    invoices = mart_rows(copy, "select count(*) from main.invoices")[0][0]
    holds = mart_rows(copy, "select count(distinct invoice_id) from main.invoice_holds")[0][0]
    days = mart_rows(copy, "select count(*) from main.usage_event_reconciliation")[0][0]
    quarantined = mart_rows(copy, "select count(*) from main.quarantined_usage_events")[0][0]
    customer_id, currency, amount_due, projected = mart_rows(
        copy, "select customer_id, currency, amount_due_so_far, projected_period_end_amount "
              "from main.customer_live_spend order by amount_due_so_far desc, customer_id limit 1")[0]
    with chromium() as browser:
        finance = look_at(browser, f"{url}/finance",
                          [f"All {invoices} invoices tie out to their lines.", "Spend by product"],
                          SCREENSHOTS / "finance.png")
        finance_tables = rendered_tables(browser)
        customer = look_at(browser, f"{url}/customer?customer_id={customer_id}",
                           [f"Usage and spend: {customer_id}", "Past invoices"],
                           SCREENSHOTS / "customer.png")
        customer_tables = rendered_tables(browser)
    assert (f"{holds} invoice(s) held back." if holds else "No ready invoice is held back.") in finance
    assert f"Every raw row of {days} ingestion day(s) is accounted for." in finance
    assert "Page not found" not in finance + customer
    # totals, register, reconciliation and spend by product; holds and quarantine when there are any
    assert finance_tables == 4 + (holds > 0) + (quarantined > 0)
    assert f"Amount due so far\n\n{money_text(amount_due)} {currency}" in customer
    assert f"Projected at period end\n\n{money_text(projected)} {currency}" in customer
    assert "Daily usage" in customer and "Credits" in customer and "Alerts" in customer
    assert customer_tables >= 3  # daily usage, daily spend, past invoices (credits and alerts if any)
    for name in ("finance", "customer"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 20_000, f"{name}.png looks empty"
