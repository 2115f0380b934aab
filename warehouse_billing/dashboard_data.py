"""Where the dashboards (``dashboards/``) read from, and as whom (README "Dashboards", decision 57).

The pages only select from marts: every amount they show is a column of a mart, or a sum of one for a
total (no rating, no rounding, no tax). Two sources, chosen like every other entry point by
``BILLING_TARGET``:

- DuckDB: a read-only copy of the warehouse (``refresh_dashboard_copy``), refreshed by the Dagster asset
  ``dashboard_copy`` after each run. DuckDB allows one writing process or several reading ones, never
  both, so the pages never open the file Dagster writes.
- Postgres: the warehouse itself, on a read-only session that takes the page's role: ``billing_reader``
  for the finance page, ``billing_customer`` with ``billing.customer_id`` set for the customer page
  (SPEC 6.4). The login (``BILLING_DASHBOARD_PG_USER``, default ``BILLING_PG_USER``) must be a member of
  that role.

The customer page reads only the ``portal_*`` views, which filter on the session's customer: the
database, not the page, keeps other customers' rows out. Who the customer is must come from the
application that embeds the page (its own login); the page takes it from the URL for the demo.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from warehouse_billing.warehouse import configured_target, duckdb_path, marts_schema, postgres_settings

FINANCE_ROLE = "billing_reader"
CUSTOMER_ROLE = "billing_customer"
# How long a refresh waits for another process that holds the warehouse for writing.
COPY_LOCK_WAIT_S = 120.0


def dashboard_copy_path(source: str | os.PathLike[str] | None = None) -> Path:
    """The read-only copy the pages open: ``BILLING_DASHBOARD_DUCKDB_PATH``, or ``dashboard/<same name>``
    beside the warehouse file. The copy keeps the warehouse's file name because DuckDB names a database
    after its file, and the customer views refer to the marts by that name."""
    configured = os.environ.get("BILLING_DASHBOARD_DUCKDB_PATH")
    if configured:
        return Path(configured)
    warehouse = Path(source or duckdb_path())
    return warehouse.parent / "dashboard" / warehouse.name


def refresh_dashboard_copy(source: str | os.PathLike[str] | None = None,
                           copy: str | os.PathLike[str] | None = None,
                           wait_s: float = COPY_LOCK_WAIT_S) -> Path:
    """Copy the DuckDB warehouse to the dashboards' file, whole and consistent, then swap it in.

    The warehouse is opened read-only, so that other readers go on; DuckDB copies it (``COPY FROM DATABASE``) into a new file beside the copy, and a
    rename replaces the copy at once: a page reads the old copy or the new one, never half of one. While
    another process writes the warehouse (a sensor logging a delivery, a loader) DuckDB refuses to open
    it: this waits up to ``wait_s`` seconds for it to finish, then raises.
    The copy's file name must match the warehouse's (see ``dashboard_copy_path``).
    """
    import duckdb

    source_path = Path(source or duckdb_path())
    target = Path(copy) if copy else dashboard_copy_path(source_path)
    if target.name != source_path.name:
        raise ValueError(
            f"the dashboard copy must keep the warehouse's file name ({source_path.name}, not "
            f"{target.name}): DuckDB names a database after its file and the customer views name it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.stem}.refreshing.duckdb"
    deadline = time.monotonic() + wait_s
    while True:
        staging.unlink(missing_ok=True)
        try:
            with duckdb.connect() as connection:
                connection.execute(f"attach '{source_path}' as \"{source_path.stem}\" (read_only)")
                connection.execute(f"attach '{staging}' as dashboard_copy_refresh")
                connection.execute(f'copy from database "{source_path.stem}" to dashboard_copy_refresh')
                connection.execute("detach dashboard_copy_refresh")
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(1)
    os.replace(staging, target)
    return target


@dataclass(frozen=True)
class DashboardSource:
    """One page's connection: the warehouse of ``BILLING_TARGET``, as the page's role (Postgres), and for
    the customer page, the customer its views show."""

    target: str
    role: str
    customer_id: str | None = None

    @classmethod
    def finance(cls) -> DashboardSource:
        return cls(_dashboard_target(), FINANCE_ROLE)

    @classmethod
    def customer(cls, customer_id: str) -> DashboardSource:
        if not customer_id:
            raise ValueError("the customer page needs a customer id")
        return cls(_dashboard_target(), CUSTOMER_ROLE, customer_id)

    def relation(self, name: str) -> str:
        """A mart (``invoices``) or a customer view (``portal_invoices``), schema-qualified."""
        schema = marts_schema(self.target)
        if name.startswith("portal_"):
            schema = f"{schema}_customer_portal"
        return f"{schema}.{name}"

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run one select; ``{name}`` placeholders in ``sql`` become relations (see ``relation``)."""
        text = _with_relations(sql, self)
        if self.target == "duckdb":
            return self._query_duckdb(text, params)
        return self._query_postgres(text, params)

    def _query_duckdb(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        import duckdb

        path = dashboard_copy_path()
        if not path.exists():
            raise FileNotFoundError(
                f"no dashboard copy at {path}: run `make demo` (or a Dagster job) to build the warehouse "
                "and its copy"
            )
        with duckdb.connect(os.fspath(path), read_only=True) as connection:
            if self.role == CUSTOMER_ROLE:
                connection.execute("set variable billing_customer_id = ?", [self.customer_id])
            cursor = connection.execute(sql, list(params))
            return [column[0] for column in cursor.description], cursor.fetchall()

    def _query_postgres(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        import psycopg2

        settings = postgres_settings()
        settings["user"] = os.environ.get("BILLING_DASHBOARD_PG_USER") or settings["user"]
        if "BILLING_DASHBOARD_PG_PASSWORD" in os.environ:
            settings["password"] = os.environ["BILLING_DASHBOARD_PG_PASSWORD"]
        connection = psycopg2.connect(**settings)
        try:
            connection.set_session(readonly=True)
            with connection.cursor() as cursor:
                cursor.execute(f"set role {self.role}")
                cursor.execute("set time zone 'UTC'")
                if self.role == CUSTOMER_ROLE:
                    cursor.execute("select set_config('billing.customer_id', %s, false)", [self.customer_id])
                if params:
                    cursor.execute(sql.replace("?", "%s"), list(params))
                else:  # no parameters: psycopg2 leaves the text alone (a % stays a %)
                    cursor.execute(sql)
                return [column.name for column in cursor.description], cursor.fetchall()
        finally:
            connection.rollback()
            connection.close()


def _dashboard_target() -> str:
    target = configured_target()
    if target not in ("duckdb", "postgres"):
        raise ValueError(f"the dashboards read DuckDB or Postgres, not {target!r} (BILLING_TARGET)")
    return target


def _with_relations(sql: str, source: DashboardSource) -> str:
    """Replace each ``{name}`` with its relation; the names a page may read are the ones its dbt exposure
    lists (tests/test_dashboards.py holds the pages to that)."""
    return re.sub(r"\{([a-z_]+)\}", lambda match: source.relation(match.group(1)), sql)


def relations_named(sql: str) -> set[str]:
    """The ``{name}`` placeholders of a page's query: the marts and views it reads."""
    return set(re.findall(r"\{([a-z_]+)\}", sql))


def money_text(value: Decimal | None) -> str:
    """An amount as exact text: at least two decimals, more only where the value has them (12.5 ->
    12.50, 0.0125 -> 0.0125), with thousands separators. Never through a float."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    normalized = value.normalize()
    places = max(2, -normalized.as_tuple().exponent) if normalized.as_tuple().exponent < 0 else 2
    return f"{value:,.{places}f}"



def quantity_text(value: Decimal | None) -> str:
    """A quantity as exact text, without trailing zeros (1000000.0000000000 -> 1,000,000)."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    normalized = value.normalize()
    places = -normalized.as_tuple().exponent if normalized.as_tuple().exponent < 0 else 0
    return f"{value:,.{places}f}"


def frame(columns: Sequence[str], rows: Sequence[tuple], money: Sequence[str] = ()) -> Any:
    """A pandas DataFrame for display: the ``money`` columns as exact text (``money_text``), other
    decimals as exact quantities (``quantity_text``). Pandas would otherwise turn them into floats."""
    import pandas as pd

    table = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for column in table.columns:
        if column in money:
            table[column] = table[column].map(money_text)
        elif any(isinstance(value, Decimal) for value in table[column]):
            table[column] = table[column].map(quantity_text)
    return table
