"""Access on Postgres (SPEC 6.4, decision 53): what each billing role may and may not do.

One contract-scenario build on a throwaway Postgres database, made the way production makes it: the
loader lands the raw rows, an admin runs ``dbt run-operation create_billing_roles``, and dbt builds as
``billing_transformer`` (profiles.yml ``role``). Each test then takes one role with ``set role`` inside
a superuser's connection (the roles are NOLOGIN groups) and tries what the role must and must not do.
Every connection is rolled back, so the tests share the build without changing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
from support.dashboards import run_page, table_with
from support.publishing import append_rows
from support.scenario import AS_OF, scenario_events, scenario_project
from support.warehouse import Warehouse, copy_duckdb, land_rows, postgres_database

from warehouse_billing.dashboard_data import DashboardSource, money_text

pytestmark = pytest.mark.warehouse

# Each customer view and the mart it shows one customer's rows of.
PORTAL_VIEWS = {
    "portal_invoices": "invoices",
    "portal_daily_usage": "daily_usage",
    "portal_daily_spend": "daily_spend",
    "portal_live_spend": "customer_live_spend",
    "portal_credit_balances": "customer_credit_balances",
    "portal_alert_notifications": "alert_notifications",
}
SCENARIO_CUSTOMERS = ("cus_a", "cus_b", "cus_c", "cus_d")
ACCESS_ALERTS = ("acc_alpha_spend,c_alpha,spend,,1.00,USD", "acc_delta_spend,c_delta,spend,,1.00,USD")
MARTS_SCHEMA = "analytics"
PORTAL_SCHEMA = "analytics_customer_portal"
RAW_INSERT = (
    "insert into raw.usage_events (event_id, customer_id, event_type, occurred_at, properties, ingested_at) "
    "values ('access-test', 'cus_a', 'api_call', '2026-03-01T00:00:00Z', '{}', now())"
)
RAW_LOAD_INSERT = (
    "insert into raw.usage_loads (load_id, ingestion_date, source, row_count, loaded_at) "
    "values ('access-test', current_date, 'access-test', 1, now())"
)
MART_INSERT = f"insert into {MARTS_SCHEMA}.invoices (invoice_id) values ('access-test')"


@pytest.fixture(scope="module")
def access_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The scenario landed, the roles created, and the project built as billing_transformer."""
    work = tmp_path_factory.mktemp("access")
    project = scenario_project(work)
    # spend alerts that the April drafts of two customers cross, so that the alerts view has rows to hide
    append_rows(project / "seeds" / "usage_alerts.csv", *ACCESS_ALERTS)
    with postgres_database() as database:
        warehouse = Warehouse("postgres", work, pg_database=database)
        land_rows(warehouse, scenario_events())
        warehouse.dbt("run-operation", "create_billing_roles", project_dir=project)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("BILLING_PG_ROLE", "billing_transformer")
            warehouse.dbt("build", "--exclude", "tag:publication", "test_type:unit", as_of=AS_OF,
                          project_dir=project)
        yield warehouse


def as_role(warehouse: Warehouse, role: str, sql: str, customer_id: str | None = None) -> list[tuple]:
    """Rows of ``sql`` run as ``role`` (and, with ``customer_id``, the session's customer); rolled back."""
    connection = warehouse.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"set role {role}")
        if customer_id is not None:
            cursor.execute("select set_config('billing.customer_id', %s, false)", [customer_id])
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        connection.rollback()
        connection.close()


def assert_denied(warehouse: Warehouse, role: str, sql: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(warehouse, role, sql)


def test_transformer_builds_and_owns_the_marts_and_views(access_warehouse: Warehouse) -> None:
    owners = access_warehouse.query(
        "select schemaname, tablename, tableowner from pg_tables where schemaname = '{schema}' "
        "and tablename in ('invoices', 'daily_usage', 'stg_seed__customers') "
        f"union all select schemaname, viewname, viewowner from pg_views where schemaname = '{PORTAL_SCHEMA}'"
    )
    assert len(owners) == 2 + len(PORTAL_VIEWS)  # stg_seed__customers is a view: not in pg_tables
    assert {owner for _, _, owner in owners} == {"billing_transformer"}
    # what dbt reads, the transformer may read; what it did not build, it may not change
    assert as_role(access_warehouse, "billing_transformer", "select count(*) from raw.usage_events")[0][0] > 0
    assert_denied(access_warehouse, "billing_transformer", RAW_INSERT)


def test_loader_inserts_raw_rows_and_nothing_else(access_warehouse: Warehouse) -> None:
    as_role(access_warehouse, "billing_loader", RAW_INSERT)
    as_role(access_warehouse, "billing_loader", RAW_LOAD_INSERT)
    assert_denied(access_warehouse, "billing_loader", "select count(*) from raw.usage_events")
    assert_denied(access_warehouse, "billing_loader", "delete from raw.usage_events")
    assert_denied(access_warehouse, "billing_loader", f"select count(*) from {MARTS_SCHEMA}.invoices")
    assert_denied(access_warehouse, "billing_loader", MART_INSERT)


def test_reader_reads_the_marts_only(access_warehouse: Warehouse) -> None:
    for mart in {*PORTAL_VIEWS.values(), "invoice_lines"}:
        as_role(access_warehouse, "billing_reader", f"select count(*) from {MARTS_SCHEMA}.{mart}")
    assert as_role(access_warehouse, "billing_reader", f"select count(*) from {MARTS_SCHEMA}.invoices")[0][0] > 0
    assert_denied(access_warehouse, "billing_reader", "select count(*) from raw.usage_events")
    assert_denied(access_warehouse, "billing_reader", f"select count(*) from {MARTS_SCHEMA}.stg_raw__usage_events")
    assert_denied(access_warehouse, "billing_reader", MART_INSERT)
    assert_denied(access_warehouse, "billing_reader", f"select count(*) from {PORTAL_SCHEMA}.portal_invoices")


@pytest.mark.parametrize("view", PORTAL_VIEWS)
def test_customer_sees_only_its_own_rows(access_warehouse: Warehouse, view: str) -> None:
    mart = PORTAL_VIEWS[view]
    counts = dict(access_warehouse.query(f"select customer_id, count(*) from {{schema}}.{mart} group by 1"))
    assert counts, f"{mart} is empty: the test would prove nothing"
    for customer_id in SCENARIO_CUSTOMERS:
        seen = as_role(access_warehouse, "billing_customer",
                       f"select customer_id, count(*) from {PORTAL_SCHEMA}.{view} group by 1", customer_id)
        assert seen == ([(customer_id, counts[customer_id])] if customer_id in counts else [])
    # no customer named (never set, or reset to ''), or one that does not exist: nothing
    for customer_id in (None, "", "cus_nobody"):
        assert as_role(access_warehouse, "billing_customer", f"select * from {PORTAL_SCHEMA}.{view}",
                       customer_id) == []


def test_customer_cannot_read_marts_or_raw(access_warehouse: Warehouse) -> None:
    for relation in (f"{MARTS_SCHEMA}.invoices", f"{MARTS_SCHEMA}.daily_spend", "raw.usage_events"):
        assert_denied(access_warehouse, "billing_customer", f"select count(*) from {relation}")


def test_customer_views_filter_before_any_function_of_the_caller(access_warehouse: Warehouse) -> None:
    """A function the caller puts in its own where clause sees only the session customer's rows.

    Without the security barrier, the planner runs the cheapest condition first, the caller's
    function, and its notices would show every customer's ids."""
    connection = access_warehouse.connect()
    try:
        cursor = connection.cursor()
        cursor.execute("set role billing_customer")
        cursor.execute("set billing.customer_id = 'cus_a'")
        cursor.execute(
            "create function pg_temp.peek(value text) returns boolean language plpgsql cost 0.0000001 "
            "as $$ begin raise notice 'peek %', value; return true; end $$"
        )
        cursor.execute(f"select count(*) from {PORTAL_SCHEMA}.portal_invoices where pg_temp.peek(customer_id)")
        assert cursor.fetchone()[0] > 0
        peeked = {notice.strip().removeprefix("NOTICE:  peek ") for notice in connection.notices}
    finally:
        connection.rollback()
        connection.close()
    assert peeked == {"cus_a"}


def test_roles_macro_is_safe_to_repeat(access_warehouse: Warehouse) -> None:
    access_warehouse.dbt("run-operation", "create_billing_roles",
                         project_dir=access_warehouse.work_dir / "project")
    roles = access_warehouse.query(
        "select rolname, rolcanlogin from pg_roles where rolname like 'billing\\_%' order by 1")
    assert ("billing_customer", False) in roles and len([r for r in roles if r[0] in (
        "billing_loader", "billing_transformer", "billing_reader", "billing_customer")]) == 4


def test_duckdb_portal_views_follow_the_session_variable(scenario_build: tuple[Warehouse, Path],
                                                         tmp_path: Path) -> None:
    """The DuckDB demo keeps the views: keyed on a session variable, empty until one is set."""
    warehouse = copy_duckdb(scenario_build[0], tmp_path / "duckdb")
    connection = warehouse.connect()
    try:
        view = "main_customer_portal.portal_invoices"
        assert connection.execute(f"select count(*) from {view}").fetchone()[0] == 0
        connection.execute("set variable billing_customer_id = 'cus_b'")
        assert connection.execute(f"select distinct customer_id from {view}").fetchall() == [("cus_b",)]
    finally:
        connection.close()


@pytest.fixture
def pages_on_postgres(access_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """The dashboards pointed at the access build (decision 57), logged in as the superuser, which
    the pages leave for their own role."""
    for key, value in access_warehouse.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BILLING_TARGET", "postgres")
    return access_warehouse


def test_finance_dashboard_reads_as_billing_reader(pages_on_postgres: Warehouse) -> None:
    source = DashboardSource.finance()
    assert source.query("select current_user")[1] == [("billing_reader",)]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        source.query("select count(*) from raw.usage_events")
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):  # read-only even where the role may write
        source.query("create temporary table dashboard_probe (x int)")
    invoices = pages_on_postgres.query("select count(*) from {schema}.invoices")[0][0]
    page = run_page("finance")
    assert [message.value for message in page.success][0] == f"All {invoices} invoices tie out to their lines."


def test_customer_dashboard_reads_as_billing_customer_its_own_rows(pages_on_postgres: Warehouse) -> None:
    source = DashboardSource.customer("cus_a")
    assert source.query("select current_user, current_setting('billing.customer_id')")[1] == [
        ("billing_customer", "cus_a")]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        source.query("select count(*) from {invoices}")  # the marts stay closed to the customer page
    past = pages_on_postgres.query(
        "select invoice_id, total_due from {schema}.invoices where customer_id = 'cus_a' and status <> 'draft'")
    alerts = pages_on_postgres.query(
        "select alert_id from {schema}.alert_notifications where customer_id = 'cus_a'")
    assert past and alerts == [("acc_alpha_spend",)]
    page = run_page("customer", "cus_a")
    shown = table_with(page, "total_due")
    assert sorted(zip(shown["invoice_id"], shown["total_due"])) == sorted(
        (invoice_id, money_text(total)) for invoice_id, total in past)
    assert list(table_with(page, "alert_id")["alert_id"]) == ["acc_alpha_spend"]  # not cus_d's


def test_customer_views_leave_out_the_incremental_bookkeeping(access_warehouse: Warehouse) -> None:
    columns = access_warehouse.query(
        "select table_name, column_name from information_schema.columns "
        f"where table_schema = '{PORTAL_SCHEMA}' and column_name in ('source_recomputed_at', 'reference_fingerprint')")
    assert columns == []
    marts = access_warehouse.query(
        "select count(*) from information_schema.columns where table_schema = '{schema}' "
        "and table_name = 'daily_spend' and column_name in ('source_recomputed_at', 'reference_fingerprint')")
    assert marts == [(2,)], "the premise: the mart has them"
