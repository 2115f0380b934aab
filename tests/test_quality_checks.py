"""The Great Expectations checks of the data-quality gate, on tiny tables.

Every check is shown to fail on a small bad table and to pass on the good one, on DuckDB (pandas
path) and on Postgres (GX SQL data source, a throwaway ``billing_gx_*`` database; the tests fail,
never skip, when the server is unreachable). Rules that GX left to a blocking dbt test (invoice
totals, negative totals, line types and their signs, keys) are shown to fail that dbt test, run by
``dbt test`` on the same bad tiny tables, with the offending rows named. Then two small Dagster runs
with stand-in dbt steps: a failing blocking GX check stops publication, the same failure configured
as a warning does not.
"""


import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    DagsterEventType,
    Definitions,
    Failure,
    MaterializeResult,
    multi_asset,
)
from support.warehouse import REPO_ROOT, Warehouse, postgres_database

from orchestration.dbt_assets import DbtRunConfig
from orchestration.jobs import (
    BILLING_STEP,
    PUBLICATION_JOB,
    PUBLICATION_STEP,
    build_publication_job,
    run_config_for,
)
from orchestration.publication import (
    check_evaluations_for_runs,
    checks_required_for_publication,
    gate_problems,
    run_lineage,
)
from orchestration.quality_checks import QUALITY_STEP, blocking_gx_check_keys, build_quality_checks
from warehouse_billing.quality.config import QualityConfig, load_quality_config, parse_quality_config
from warehouse_billing.quality.runner import run_quality_suites
from warehouse_billing.quality.suites import SUITES

AS_OF = "2026-11-21T00:00:00"
D = Decimal
BACKENDS = ["duckdb", "postgres"]
PG_SCHEMA = "analytics"


# ---------------------------------------------------------------------------------------------
# A tiny warehouse: the columns the checks read, a good data set, and its bad variants
# ---------------------------------------------------------------------------------------------


@dataclass
class Table:
    raw: bool  # in schema raw (else the models' schema)
    columns: dict[str, str]  # name -> SQL type (valid on DuckDB and Postgres)
    rows: list[dict[str, Any]]


RAW_COLUMNS = {
    "event_id": "text",
    "customer_id": "text",
    "event_type": "text",
    "occurred_at": "text",
    "properties": "text",
    "ingested_at": "timestamp",
    "load_id": "text",
    "source_topic": "text",
    "source_partition": "integer",
    "source_offset": "bigint",
}
MONEY = "decimal(38, 10)"


def _raw_rows() -> list[dict[str, Any]]:
    """Three events landed each day from 12 to 20 November at 10:00, each occurred an hour earlier."""
    rows = []
    for day in range(12, 21):
        for i in range(3):
            rows.append(
                {
                    "event_id": f"ev_{day}_{i}",
                    "customer_id": "cus_1",
                    "event_type": "api_request",
                    "occurred_at": f"2026-11-{day}T09:00:0{i}Z",
                    "properties": '{"tokens": 5}',
                    "ingested_at": datetime(2026, 11, day, 10, 0, i),
                }
            )
    return rows


def _charge(line_id: str, invoice_id: str, line_type: str, product: str, currency: str, quantity: str,
            amount: str, unrounded: str, unused_days_credit: bool = False) -> dict[str, Any]:
    return {
        "invoice_line_id": line_id, "invoice_id": invoice_id, "line_type": line_type,
        "price_id": f"p_{product}", "product_id": product,
        "pricing_model": "unit" if line_type == "usage" else "flat", "currency": currency,
        "quantity": D(quantity), "amount": D(amount), "amount_unrounded": D(unrounded),
        "is_unused_days_credit": unused_days_credit,
    }


PERIODS = {
    "inv_1": (datetime(2026, 9, 1), datetime(2026, 10, 1)),
    "inv_2": (datetime(2026, 10, 1), datetime(2026, 11, 1)),
    "inv_3": (datetime(2026, 10, 1), datetime(2026, 11, 1)),
    "inv_4": (datetime(2026, 11, 1), datetime(2026, 12, 1)),
    "inv_5": (datetime(2026, 11, 1), datetime(2026, 12, 1)),
}


def _line(line_id: str, invoice_id: str, line_type: str, product: str | None, currency: str, amount: str,
          grant_id: str | None = None) -> dict[str, Any]:
    start, end = PERIODS[invoice_id]
    return {
        "invoice_line_id": line_id, "invoice_id": invoice_id, "line_type": line_type, "product_id": product,
        "grant_id": grant_id, "currency": currency, "amount": D(amount),
        "service_period_start": start, "service_period_end": end,
    }


def _invoice(invoice_id: str, contract_id: str, customer_id: str, currency: str, status: str, subtotal: str,
             total_due: str, discount_total: str = "0", adjustment_total: str = "0",
             credits_applied: str = "0") -> dict[str, Any]:
    start, end = PERIODS[invoice_id]
    return {
        "invoice_id": invoice_id, "contract_id": contract_id, "customer_id": customer_id,
        "currency": currency, "period_start": start, "period_end": end, "status": status,
        "subtotal": D(subtotal), "discount_total": D(discount_total), "commitment_true_up": D(0),
        "adjustment_total": D(adjustment_total), "tax_total": D(0), "threshold_billed": D(0),
        "credits_applied": D(credits_applied), "total_due": D(total_due),
    }


def good_data() -> dict[str, Table]:
    """Five invoices that pass every check.

    cus_1 (USD, ct_1): Sep 200 usage - 20 credit = 180 (already published), Oct 250 (+39 %), Nov draft 30.
    cus_2 (EUR, ct_2): Oct 50 usage + 10 recurring - 5 invoice discount = 55; Nov draft: 10 usage and a
    -15 late adjustment, total -5, explained by the adjustment.
    """
    charges = [
        _charge("l_1", "inv_1", "usage", "api", "USD", "2000", "200.00", "200.004"),
        _charge("l_2", "inv_2", "usage", "api", "USD", "2500", "250.00", "249.996"),
        _charge("l_3", "inv_3", "usage", "storage", "EUR", "10", "50.00", "50"),
        _charge("l_4", "inv_3", "recurring", "platform", "EUR", "1", "10.00", "10"),
        _charge("l_5", "inv_4", "usage", "api", "USD", "300", "30.00", "30.001"),
        _charge("l_6", "inv_5", "usage", "storage", "EUR", "2", "10.00", "10"),
    ]
    lines = [
        _line(c["invoice_line_id"], c["invoice_id"], c["line_type"], c["product_id"], c["currency"],
              str(c["amount"]))
        for c in charges
    ] + [
        _line("l_7", "inv_1", "credit", None, "USD", "-20.00", grant_id="g_1"),
        _line("l_8", "inv_3", "discount", None, "EUR", "-5.00"),
        _line("l_9", "inv_5", "adjustment", "storage", "EUR", "-15.00"),
    ]
    invoices = [
        _invoice("inv_1", "ct_1", "cus_1", "USD", "ready", "200", "180", credits_applied="20"),
        _invoice("inv_2", "ct_1", "cus_1", "USD", "ready", "250", "250"),
        _invoice("inv_3", "ct_2", "cus_2", "EUR", "ready", "60", "55", discount_total="5"),
        _invoice("inv_4", "ct_1", "cus_1", "USD", "draft", "30", "30"),
        _invoice("inv_5", "ct_2", "cus_2", "EUR", "draft", "10", "-5", adjustment_total="-15"),
    ]
    return {
        "usage_events": Table(True, dict(RAW_COLUMNS), _raw_rows()),
        "stg_seed__currencies": Table(False, {"currency": "text", "minor_units": "integer"},
                                      [{"currency": c, "minor_units": m} for c, m in (("USD", 2), ("EUR", 2),
                                                                                       ("JPY", 0))]),
        "stg_seed__contracts": Table(False, {"contract_id": "text", "currency": "text"},
                                     [{"contract_id": "ct_1", "currency": "USD"},
                                      {"contract_id": "ct_2", "currency": "EUR"}]),
        "int_charges_rated": Table(False, {
            "invoice_line_id": "text", "invoice_id": "text", "line_type": "text", "price_id": "text",
            "product_id": "text", "pricing_model": "text", "currency": "text", "quantity": MONEY,
            "amount": MONEY, "amount_unrounded": "decimal(38, 20)", "is_unused_days_credit": "boolean"}, charges),
        "invoice_lines": Table(False, {
            "invoice_line_id": "text", "invoice_id": "text", "line_type": "text", "product_id": "text",
            "grant_id": "text", "currency": "text", "amount": MONEY, "service_period_start": "timestamp",
            "service_period_end": "timestamp"}, lines),
        "invoices": Table(False, {
            "invoice_id": "text", "contract_id": "text", "customer_id": "text", "currency": "text",
            "period_start": "timestamp", "period_end": "timestamp", "status": "text", "subtotal": MONEY,
            "discount_total": MONEY, "commitment_true_up": MONEY, "adjustment_total": MONEY, "tax_total": MONEY,
            "threshold_billed": MONEY, "credits_applied": MONEY, "total_due": MONEY}, invoices),
        "published_invoices": Table(False, {"invoice_id": "text"}, [{"invoice_id": "inv_1"}]),
        "invoice_line_types": _line_types_seed(),
    }


def _line_types_seed() -> Table:
    """The seed invoice_line_types as dbt seeds it (the dbt test of line types and signs reads it)."""
    with open(REPO_ROOT / "seeds" / "invoice_line_types.csv", encoding="utf-8", newline="") as file:
        rows = [{**row, "display_order": int(row["display_order"])} for row in csv.DictReader(file)]
    columns = {name: "text" for name in rows[0]} | {"display_order": "integer"}
    return Table(False, columns, rows)


def _parse_occurred_at(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) if text else None
    except ValueError:
        return None


def _with_staging(data: dict[str, Table]) -> dict[str, Table]:
    """Add stg_raw__usage_events as the dbt view would show it: typed, rows landed by as_of."""
    as_of = datetime.fromisoformat(AS_OF)
    rows = [
        {
            "event_id": row.get("event_id"), "customer_id": row.get("customer_id"),
            "event_type": row.get("event_type"), "occurred_at_raw": row.get("occurred_at"),
            "ingested_at": row.get("ingested_at"), "occurred_at": _parse_occurred_at(row.get("occurred_at")),
        }
        for row in data["usage_events"].rows
        if row.get("ingested_at") is not None and row["ingested_at"] <= as_of
    ]
    columns = {"event_id": "text", "customer_id": "text", "event_type": "text", "occurred_at_raw": "text",
               "ingested_at": "timestamp", "occurred_at": "timestamp"}
    return {**data, "stg_raw__usage_events": Table(False, columns, rows)}


def _statements(data: dict[str, Table], models_schema: str) -> Iterator[tuple[str, list[list[Any]]]]:
    for name, table in _with_staging(data).items():
        qualified = f"{'raw' if table.raw else models_schema}.{name}"
        columns = ", ".join(f'"{column}" {kind}' for column, kind in table.columns.items())
        yield f"create table {qualified} ({columns})", []
        if table.rows:
            placeholders = ", ".join(["{p}"] * len(table.columns))
            values = [[row.get(column) for column in table.columns] for row in table.rows]
            yield f"insert into {qualified} values ({placeholders})", values


def build_warehouse(target: str, data: dict[str, Table]) -> None:
    """Write ``data`` to the warehouse of the environment (a fresh DuckDB file / fresh schemas)."""
    if target == "duckdb":
        from warehouse_billing.warehouse import duckdb_path

        Path(duckdb_path()).unlink(missing_ok=True)
        con = duckdb.connect(duckdb_path())
        try:
            con.execute("create schema raw")
            for sql, values in _statements(data, "main"):
                if values:
                    con.executemany(sql.replace("{p}", "?"), values)
                else:
                    con.execute(sql)
        finally:
            con.close()
        return
    from warehouse_billing.warehouse import postgres_settings

    con = psycopg2.connect(**postgres_settings())
    try:
        with con.cursor() as cur:
            cur.execute(f"drop schema if exists raw cascade; drop schema if exists {PG_SCHEMA} cascade")
            cur.execute(f"create schema raw; create schema {PG_SCHEMA}")
            for sql, values in _statements(data, PG_SCHEMA):
                if values:
                    cur.executemany(sql.replace("{p}", "%s"), values)
                else:
                    cur.execute(sql)
        con.commit()
    finally:
        con.close()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with postgres_database(prefix="billing_gx_") as name:
        yield name


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where each test builds its tiny tables: a DuckDB file, or the throwaway Postgres database."""
    monkeypatch.setenv("BILLING_TARGET", request.param)
    monkeypatch.setenv("BILLING_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("BILLING_PG_SCHEMA", PG_SCHEMA)
    if request.param == "postgres":
        monkeypatch.setenv("BILLING_PG_DATABASE", request.getfixturevalue("pg_database"))
    return request.param


@pytest.fixture(scope="module")
def config() -> QualityConfig:
    return load_quality_config()


def _check(target: str, config: QualityConfig, name: str, data: dict[str, Table], **params: Any):
    """Build ``data``, run one check, return its outcome."""
    if params:
        config = config.with_check(name, **params)
    build_warehouse(target, data)
    run = run_quality_suites(config, as_of=AS_OF, report_dir=None, names=[name], target=target)
    (outcome,) = run.outcomes
    return outcome


def _assert_fails(outcome, *labels: str, row_value: str | None = None) -> None:
    assert not outcome.passed, outcome.summary()
    assert outcome.error is None, outcome.error
    failed = {expectation.label for expectation in outcome.failed}
    assert set(labels) <= failed, failed
    if row_value is not None:
        text = outcome.failure_text(sample_rows=10)
        assert row_value in text, text


def _assert_passes(outcome) -> None:
    assert outcome.passed, outcome.failure_text()
    assert outcome.expectations and all(e.success for e in outcome.expectations)


@pytest.fixture(scope="module")
def dbt_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's folders for the module, one warehouse and target path per backend: the profile stays the
    same from one dbt run to the next, so dbt parses the project once and partially after that."""
    return tmp_path_factory.mktemp("dbt_runs")


def _dbt_test_failures(target: str, data: dict[str, Table], dbt_runs: Path, monkeypatch: pytest.MonkeyPatch,
                       *tests: str) -> dict[str, list[dict[str, Any]]]:
    """Build ``data``, run the project's dbt tests named ``tests`` on it (``dbt test --store-failures``:
    the models are not built, their refs read the tiny tables) and return each test's failing rows.

    A named test that the project no longer has fails the calling test: the rule would be unchecked."""
    work_dir = dbt_runs / target
    work_dir.mkdir(exist_ok=True)
    pg_database = os.environ.get("BILLING_PG_DATABASE") if target == "postgres" else None
    warehouse = Warehouse(target, work_dir, pg_database)
    monkeypatch.setenv("BILLING_DUCKDB_PATH", warehouse.duckdb_path)
    build_warehouse(target, data)
    run_results = work_dir / "dbt_target" / "run_results.json"
    run_results.unlink(missing_ok=True)  # never read the results of an earlier run
    run = warehouse.dbt("test", "--select", *tests, "--store-failures", "--write-json", check=False)
    assert run_results.exists(), run.stdout[-4000:]
    results = {result["unique_id"].split(".")[2]: result
               for result in json.loads(run_results.read_text(encoding="utf-8"))["results"]}
    missing = sorted(set(tests) - set(results))
    assert not missing, f"no such dbt test in the project: {missing}\n{run.stdout[-4000:]}"
    failures: dict[str, list[dict[str, Any]]] = {}
    for name in tests:
        result = results[name]
        # "warn": a test on one invoice's rule fails with severity warn (its invoice is held instead)
        assert result["status"] in ("pass", "fail", "warn"), f"{name}: {result['status']}: {result['message']}"
        failing = result["status"] in ("fail", "warn")
        failures[name] = _rows_of(warehouse, result["relation_name"]) if failing else []
    return failures


def _rows_of(warehouse: Warehouse, relation: str) -> list[dict[str, Any]]:
    connection = warehouse.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"select * from {relation}")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _values(rows: list[dict[str, Any]], column: str) -> set[Any]:
    return {row[column] for row in rows}


# ---------------------------------------------------------------------------------------------
# One test per check: a bad tiny table fails it, the good one passes
# ---------------------------------------------------------------------------------------------


def test_raw_usage_schema(target: str, config: QualityConfig) -> None:
    name = "gx_raw_usage_schema"
    _assert_passes(_check(target, config, name, good_data()))

    bad = good_data()
    raw = bad["usage_events"]
    raw.columns["loaded_by"] = "text"  # a loader added a column
    raw.rows.append({**raw.rows[-1], "event_id": "ev_no_ingested_at", "ingested_at": None})
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectTableColumnsToMatchSet()", "ExpectColumnValuesToNotBeNull(ingested_at)",
                  row_value="event_id=ev_no_ingested_at")


def _only_extra_column() -> dict[str, Table]:
    data = good_data()
    data["usage_events"].columns["loaded_by"] = "text"
    return data


def test_raw_usage_schema_allows_extra_columns_when_configured(target: str, config: QualityConfig) -> None:
    outcome = _check(target, config, "gx_raw_usage_schema", _only_extra_column(), allow_extra_columns=True)
    _assert_passes(outcome)


def test_raw_usage_ids(target: str, config: QualityConfig) -> None:
    name = "gx_raw_usage_ids"
    _assert_passes(_check(target, config, name, good_data()))

    bad = good_data()
    rows = bad["usage_events"].rows
    rows[-1]["event_id"] = None
    rows[-2]["event_id"] = "   "  # blank counts as missing
    rows[-3]["customer_id"] = ""
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectColumnValuesToNotBeNull(event_id)",
                  "ExpectColumnValuesToNotBeNull(customer_id)", row_value="event_id=ev_20_0")
    # 18 of the 21 rows of the window have every id: enough at mostly = 0.85.
    _assert_passes(_check(target, config, name, bad, mostly=0.85))


def test_raw_usage_timestamps(target: str, config: QualityConfig) -> None:
    name = "gx_raw_usage_timestamps"
    _assert_passes(_check(target, config, name, good_data()))

    bad = good_data()
    rows = bad["usage_events"].rows
    rows[-1]["occurred_at"] = "yesterday"  # does not parse
    rows[-2]["occurred_at"] = "2026-09-01T00:00:00Z"  # 80 days before it landed
    rows[-4]["occurred_at"] = "2026-11-25T00:00:00Z"  # four days after it landed
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectColumnValuesToNotBeNull(occurred_at)",
                  "ExpectColumnValuesToBeBetween(ingestion_delay_hours)", row_value="event_id=ev_20_1")
    assert "event_id=ev_19_2" in outcome.failure_text(sample_rows=10)
    assert "occurred_at_raw=yesterday" in outcome.failure_text(sample_rows=10)


def test_raw_usage_volume(target: str, config: QualityConfig) -> None:
    name = "gx_raw_usage_volume"
    _assert_passes(_check(target, config, name, good_data()))

    stopped = good_data()  # nothing landed on the 20th, the last complete day before as_of
    stopped["usage_events"].rows = [r for r in stopped["usage_events"].rows if r["ingested_at"].day != 20]
    outcome = _check(target, config, name, stopped)
    _assert_fails(outcome, "ExpectColumnValuesToBeBetween(volume_ratio)", row_value="row_count=0")
    assert not outcome.blocking, "volume is a warning by default"

    spike = good_data()  # ten times the usual volume
    template = spike["usage_events"].rows[-1]
    spike["usage_events"].rows += [{**template, "event_id": f"ev_spike_{i}"} for i in range(27)]
    _assert_fails(_check(target, config, name, spike), "ExpectColumnValuesToBeBetween(volume_ratio)",
                  row_value="row_count=30")


def test_rated_charges(target: str, config: QualityConfig) -> None:
    name = "gx_rated_charges"
    _assert_passes(_check(target, config, name, good_data()))

    # an advance fee's unused days, credited on a contract's last invoice (SPEC 6.2): negative by design
    credited = good_data()
    credited["int_charges_rated"].rows.append(
        _charge("l_10", "inv_3", "recurring", "platform", "EUR", "-0.5", "-5.00", "-5", unused_days_credit=True))
    _assert_passes(_check(target, config, name, credited))
    credited["int_charges_rated"].rows[-1].update(quantity=D("0.5"), amount=D("5.00"), amount_unrounded=D(5))
    _assert_fails(_check(target, config, name, credited), "ExpectColumnValuesToBeBetween(amount)",
                  row_value="invoice_line_id=l_10")

    bad = good_data()
    charges = bad["int_charges_rated"].rows
    charges[0].update(amount=D("-200.00"), amount_unrounded=D("-200.00"))  # a negative charge
    charges[1]["amount_unrounded"] = D("250.0149")  # rounded to 250.00: 1.49 cents off
    charges[2]["currency"] = "XXX"  # not in the currencies seed
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectColumnValuesToBeBetween(amount)",
                  "ExpectColumnValuesToBeBetween(rounding_error_minor_units)",
                  "ExpectColumnValuesToNotBeNull(minor_units)", row_value="invoice_line_id=l_1")
    assert "invoice_line_id=l_2" in outcome.failure_text(sample_rows=10)


def _bad_invoice_lines() -> dict[str, Table]:
    bad = good_data()
    lines = {row["invoice_line_id"]: row for row in bad["invoice_lines"].rows}
    lines["l_7"]["amount"] = D("20.00")  # a credit that adds to the invoice
    lines["l_8"]["line_type"] = "refund"  # not a line type
    lines["l_3"]["service_period_end"] = lines["l_3"]["service_period_start"]  # empty service period
    return bad


def test_invoice_lines(target: str, config: QualityConfig) -> None:
    name = "gx_invoice_lines"
    _assert_passes(_check(target, config, name, good_data()))

    outcome = _check(target, config, name, _bad_invoice_lines())
    _assert_fails(outcome,
                  "ExpectColumnPairValuesAToBeGreaterThanB(service_period_end, service_period_start)",
                  row_value="invoice_line_id=l_3")


@pytest.mark.warehouse  # runs dbt (seconds per test)
def test_invoice_line_types_and_signs_are_a_dbt_test(
    target: str, dbt_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known line types and each type's sign (seed invoice_line_types) were GX expectations on
    invoice_lines; the dbt test invoice_lines_follow_their_line_type reports them now (a warning: the
    per-invoice check line_types holds the invoice)."""
    test = "invoice_lines_follow_their_line_type"
    (passing,) = _dbt_test_failures(target, good_data(), dbt_runs, monkeypatch, test).values()
    assert passing == []

    rows = _dbt_test_failures(target, _bad_invoice_lines(), dbt_runs, monkeypatch, test)[test]
    problems = {row["invoice_line_id"]: row["problem"] for row in rows}
    assert problems == {
        "l_7": "positive amount on a line type that only subtracts",  # the credit that adds
        "l_8": "line type not in invoice_line_types for its scope",  # refund
    }


@pytest.mark.warehouse  # runs dbt (seconds per test)
def test_invoice_totals_are_a_dbt_test(target: str, dbt_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """total_due = the sum of the lines = subtotal - discounts + true-up + adjustments - credits was the
    GX check gx_invoice_totals; the dbt test invoice_totals_equal_sum_of_lines reports it now (a warning:
    the per-invoice check total_equals_lines holds the invoice)."""
    test = "invoice_totals_equal_sum_of_lines"
    (passing,) = _dbt_test_failures(target, good_data(), dbt_runs, monkeypatch, test).values()
    assert passing == []

    bad = good_data()
    bad["invoices"].rows[1]["total_due"] = D("251.00")  # lines say 250.00
    rows = _dbt_test_failures(target, bad, dbt_runs, monkeypatch, test)[test]
    assert _values(rows, "invoice_id") == {"inv_2"}
    (row,) = rows
    assert (D(row["total_due"]), D(row["sum_of_lines"])) == (D("251.00"), D("250.00"))


@pytest.mark.warehouse  # runs dbt (seconds per test)
def test_negative_invoice_totals_are_a_dbt_test(
    target: str, dbt_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A negative total_due was the GX check gx_invoice_negative_totals (allowed when credit or
    adjustment lines explained it); the dbt test ``total_due >= 0`` on invoices is stricter and reports
    it now: no invoice total is negative, explained or not (a warning: the per-invoice check
    no_negative_total holds the invoice, and balance_carried lines keep totals at 0 or more)."""
    test = "expression_is_true_invoices_total_due__total_due_0"
    bad = good_data()
    bad["invoices"].rows[3]["total_due"] = D("-30.00")  # inv_4 has one 30.00 usage line and no credit
    rows = _dbt_test_failures(target, bad, dbt_runs, monkeypatch, test)[test]
    # inv_4, and inv_5 (-5.00): its -15.00 adjustment no longer excuses a negative total.
    assert _values(rows, "invoice_id") == {"inv_4", "inv_5"}
    assert {row["invoice_id"]: D(row["total_due"]) for row in rows} == {"inv_4": D("-30"), "inv_5": D("-5")}


# The data tests on per-row records that the freshness sensor's runs scope to their days (decision 69).
PER_ROW_KEY_TESTS = (
    "unique_int_usage_events_classified_raw_row_key",
    "unique_int_usage_event_metric_values_raw_row_key_metric_id",
    "accepted_event_ids_are_unique",
)


def _per_row_records() -> dict[str, Table]:
    """int_usage_events_classified and int_usage_event_metric_values with rows ingested on 19 and 20
    November, each day with a repeated raw_row_key (k_1, k_3) and a twice-accepted event_id (ev_1,
    ev_3), and ev_2 accepted on the 19th and again on the 20th."""
    day19, day20 = datetime(2026, 11, 19, 10), datetime(2026, 11, 20, 10)
    rows = [("k_1", "ev_1", day19), ("k_1", "ev_1", day19), ("k_2", "ev_2", day19),
            ("k_3", "ev_3", day20), ("k_3", "ev_3", day20), ("k_4", "ev_4", day20), ("k_5", "ev_2", day20)]
    classified = [{"raw_row_key": key, "event_id": event, "event_status": "accepted", "ingested_at": at}
                  for key, event, at in rows]
    metric_values = [{"raw_row_key": key, "metric_id": "api_calls", "ingested_at": at} for key, _, at in rows]
    return {
        **good_data(),
        "int_usage_events_classified": Table(False, {
            "raw_row_key": "text", "event_id": "text", "event_status": "text", "ingested_at": "timestamp"},
            classified),
        "int_usage_event_metric_values": Table(False, {
            "raw_row_key": "text", "metric_id": "text", "ingested_at": "timestamp"}, metric_values),
    }


@pytest.mark.warehouse  # runs dbt (seconds per test)
def test_sensor_runs_test_the_per_row_records_of_their_days(
    target: str, dbt_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated raw_row_keys, (raw_row_key, metric_id) pairs and accepted event_ids fail the three tests
    on every row; a freshness sensor's run for 20 November (run vars tests_ingested_from / _to) reads
    that day's rows: it fails on the repeats among them, an event_id first accepted on the 19th
    included, and not on those of the 19th (left to the daily job, which tests every row)."""
    def failing(run_vars: dict[str, str]) -> list[set[str]]:
        monkeypatch.setenv("BILLING_DBT_RUN_VARS", json.dumps(run_vars))
        failures = _dbt_test_failures(target, _per_row_records(), dbt_runs, monkeypatch, *PER_ROW_KEY_TESTS)
        return [_values(failures[name], "event_id" if "event_ids" in name else "raw_row_key")
                for name in PER_ROW_KEY_TESTS]

    assert failing({}) == [{"k_1", "k_3"}, {"k_1", "k_3"}, {"ev_1", "ev_2", "ev_3"}]
    day_20 = {"tests_ingested_from": "2026-11-20T00:00:00", "tests_ingested_to": "2026-11-21T00:00:00"}
    assert failing(day_20) == [{"k_3"}, {"k_3"}, {"ev_2", "ev_3"}]


# GX expectations that repeated a blocking dbt test on the same model, and that dbt test.
RULES_LEFT_TO_DBT = {
    ("gx_rated_charges", "ExpectColumnValuesToNotBeNull(invoice_line_id)"):
        "not_null_int_charges_rated_invoice_line_id",
    ("gx_rated_charges", "ExpectColumnValuesToBeUnique(invoice_line_id)"):
        "unique_int_charges_rated_invoice_line_id",
    ("gx_rated_charges", "ExpectColumnValuesToNotBeNull(amount)"): "not_null_int_charges_rated_amount",
    ("gx_invoice_lines", "ExpectColumnValuesToNotBeNull(invoice_line_id)"):
        "not_null_invoice_lines_invoice_line_id",
    ("gx_invoice_lines", "ExpectColumnValuesToBeUnique(invoice_line_id)"):
        "unique_invoice_lines_invoice_line_id",
    ("gx_invoice_lines", "ExpectColumnValuesToNotBeNull(invoice_id)"): "not_null_invoice_lines_invoice_id",
    ("gx_invoice_lines", "ExpectColumnValuesToNotBeNull(amount)"): "not_null_invoice_lines_amount",
    ("gx_invoice_lines", "ExpectColumnValuesToBeInSet(line_type)"): "invoice_lines_follow_their_line_type",
    ("gx_invoice_lines", "ExpectColumnValuesToBeBetween(amount_in_line_direction)"):
        "invoice_lines_follow_their_line_type",
    ("gx_invoice_totals", "ExpectColumnValuesToNotBeNull(invoice_id)"): "not_null_invoices_invoice_id",
    ("gx_invoice_totals", "ExpectColumnValuesToBeUnique(invoice_id)"): "unique_invoices_invoice_id",
    ("gx_invoice_totals", "ExpectColumnValuesToNotBeNull(total_due)"): "not_null_invoices_total_due",
    ("gx_invoice_totals", "ExpectColumnPairValuesToBeEqual(total_due, lines_total)"):
        "invoice_totals_equal_sum_of_lines",
    ("gx_invoice_totals", "ExpectColumnPairValuesToBeEqual(total_due, components_total)"):
        "invoice_totals_equal_sum_of_lines",
    ("gx_invoice_negative_totals", "ExpectColumnValuesToBeBetween(total_before_explaining_lines)"):
        "expression_is_true_invoices_total_due__total_due_0",
    ("gx_invoice_currency", "ExpectColumnValuesToNotBeNull(currency)"): "not_null_invoices_currency",
}


# Rules about one invoice (SPEC 6.1): a failure holds that invoice (int_invoice_check_failures ->
# invoice_holds) instead of blocking every publication, so their dbt tests warn.
PER_INVOICE_RULES = {
    "invoice_lines_follow_their_line_type": "line_types",
    "invoice_totals_equal_sum_of_lines": "total_equals_lines",
    "expression_is_true_invoices_total_due__total_due_0": "no_negative_total",
}


def test_rules_left_to_dbt_are_dbt_tests_and_not_gx_expectations(config: QualityConfig) -> None:
    from orchestration.resources import build_dbt_project, prepare_manifest

    manifest = json.loads(prepare_manifest(build_dbt_project()).read_text(encoding="utf-8"))
    severities = {node["name"]: node["config"]["severity"].lower()
                  for node in manifest["nodes"].values() if node["resource_type"] == "test"}
    checks_sql = (REPO_ROOT / "models" / "intermediate" / "int_invoice_check_failures.sql").read_text()
    for (suite, label), test in RULES_LEFT_TO_DBT.items():
        if test in PER_INVOICE_RULES:
            assert severities.get(test) == "warn", f"{suite} {label}: dbt test {test} must exist and warn"
            assert f"'{PER_INVOICE_RULES[test]}'" in checks_sql, f"{test}: no per-invoice hold"
        else:
            assert severities.get(test) == "error", f"{suite} {label}: dbt test {test} must exist and block"
    labels = {(settings.name, expect.label())
              for settings in config for expect in settings.suite.expectations(settings.params)}
    assert not labels & set(RULES_LEFT_TO_DBT), "a rule a blocking dbt test holds is checked twice"
    assert not {"gx_invoice_totals", "gx_invoice_negative_totals"} & set(config.names())


def test_invoice_currency(target: str, config: QualityConfig) -> None:
    name = "gx_invoice_currency"
    _assert_passes(_check(target, config, name, good_data()))

    bad = good_data()
    bad["invoices"].rows[2]["currency"] = "USD"  # inv_3's contract ct_2 is in EUR
    bad["invoice_lines"].rows[6]["currency"] = "EUR"  # inv_1's credit line; its usage line is in USD
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectColumnPairValuesToBeEqual(currency, contract_currency)",
                  "ExpectColumnValuesToBeBetween(line_currency_count)",
                  "ExpectColumnValuesToBeBetween(lines_in_other_currency)", row_value="invoice_id=inv_3")
    assert "invoice_id=inv_1" in outcome.failure_text(sample_rows=10)
    assert not outcome.blocking, "currency is a per-invoice check: the dbt check holds the invoice, GX reports"


def test_invoice_period_change(target: str, config: QualityConfig) -> None:
    name = "gx_invoice_period_change"
    good = _check(target, config, name, good_data())
    _assert_passes(good)
    assert good.rows == 1, "inv_1 is published, inv_4 and inv_5 are drafts, inv_3 has no previous period"

    bad = good_data()
    bad["invoices"].rows[1]["total_due"] = D("2500.00")  # cus_1: 180.00 in September, 2,500.00 in October
    outcome = _check(target, config, name, bad)
    _assert_fails(outcome, "ExpectColumnValuesToBeBetween(change_ratio)", row_value="customer_id=cus_1")
    assert not outcome.blocking, "the period-over-period band is a warning by default"
    _assert_passes(_check(target, config, name, bad, band=15.0))


# ---------------------------------------------------------------------------------------------
# The whole gate on the good data, with its HTML report; failures that are not GX's
# ---------------------------------------------------------------------------------------------


def test_every_check_passes_on_good_data_and_writes_a_report(
    target: str, config: QualityConfig, tmp_path: Path
) -> None:
    build_warehouse(target, good_data())
    report_dir = tmp_path / "report"
    run = run_quality_suites(config, as_of=AS_OF, report_dir=report_dir, target=target, run_name="test-run")
    assert [o.name for o in run.outcomes] == [suite.name for suite in SUITES]
    assert all(o.passed for o in run.outcomes), "\n".join(o.failure_text() for o in run.outcomes)
    assert run.backend.startswith("pandas" if target == "duckdb" else "SQL")
    assert run.report_index == report_dir / "index.html" and run.report_index.exists()
    index = run.report_index.read_text(encoding="utf-8")
    for outcome in run.outcomes:
        assert outcome.name in index
        assert outcome.report_page is not None and outcome.report_page.exists()


def test_a_missing_table_fails_the_check_with_the_database_error(target: str, config: QualityConfig) -> None:
    data = good_data()
    del data["invoice_lines"]
    outcome = _check(target, config, "gx_invoice_currency", data)
    assert not outcome.passed
    assert outcome.error and "invoice_lines" in outcome.error
    assert "could not run" in outcome.failure_text()


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_config_lists_every_check_with_its_mode(config: QualityConfig) -> None:
    assert config.names() == [suite.name for suite in SUITES]
    modes = {settings.name: settings.mode for settings in config}
    assert modes["gx_invoice_lines"] == "blocking"
    # per-invoice rules warn in GX: the dbt checks of int_invoice_check_failures hold the invoice
    assert modes["gx_raw_usage_volume"] == modes["gx_invoice_period_change"] == modes["gx_invoice_currency"] \
        == "warning"
    assert config["gx_invoice_period_change"].params["band"] == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["checks"].pop("gx_invoice_lines"), "not listed"),
        (lambda d: d["checks"].__setitem__("gx_typo", {"blocking": True}), "unknown checks"),
        (lambda d: d["checks"]["gx_invoice_lines"].pop("blocking"), "needs `blocking"),
        (lambda d: d["checks"]["gx_invoice_period_change"].__setitem__("bandwidth", 1), "no parameter"),
        (lambda d: d["checks"]["gx_invoice_period_change"].__setitem__("band", "wide"), "must be a float"),
        (lambda d: d["checks"]["gx_raw_usage_ids"].__setitem__("mostly", 1.5), "mostly must be"),
        (lambda d: d["checks"]["gx_invoice_period_change"].__setitem__("amount_column", "x"),
         "amount_column"),
    ],
)
def test_config_errors_are_reported(change, message: str) -> None:
    import yaml

    text = (REPO_ROOT / "warehouse_billing" / "quality" / "config.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    change(document)
    with pytest.raises(ValueError, match=message):
        parse_quality_config(document)


def test_config_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO_ROOT / "warehouse_billing" / "quality" / "config.yaml").read_text(encoding="utf-8")
    path = tmp_path / "quality.yaml"
    old, new = "  gx_invoice_lines:\n    blocking: true", "  gx_invoice_lines:\n    blocking: false"
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("BILLING_QUALITY_CONFIG", str(path))
    assert load_quality_config()["gx_invoice_lines"].blocking is False


def test_great_expectations_is_imported_only_when_checks_run() -> None:
    code = (
        "import sys\n"
        "import warehouse_billing.demo, orchestration.jobs, orchestration.publication\n"
        "import warehouse_billing.quality.runner\n"
        "from orchestration.quality_checks import build_quality_checks\n"
        "build_quality_checks()\n"
        "assert 'great_expectations' not in sys.modules, 'GX imported outside the check functions'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# ---------------------------------------------------------------------------------------------
# Dagster: the GX step between stand-in billing and publication steps, with the real gate and job
# ---------------------------------------------------------------------------------------------

BILLING_KEYS = {
    "stg_raw__usage_events": [AssetKey(["raw", "usage_events"])],
    "int_charges_rated": [],
    "invoice_lines": [AssetKey("int_charges_rated")],
    "invoices": [AssetKey("invoice_lines")],
}


def _stand_in_definitions(
    data: dict[str, Table], quality_config: QualityConfig, published: list[str]
) -> Definitions:
    """The real GX checks, gate and job builder around stand-ins for the two dbt steps (same names, deps)."""

    @multi_asset(name=BILLING_STEP, specs=[AssetSpec(k, deps=deps) for k, deps in BILLING_KEYS.items()])
    def billing(context: AssetExecutionContext, config: DbtRunConfig):
        build_warehouse("duckdb", data)
        for key in BILLING_KEYS:
            yield MaterializeResult(asset_key=key)

    quality = build_quality_checks(quality_config)
    gate = checks_required_for_publication(billing, blocking_gx_check_keys(quality_config))

    @multi_asset(
        name=PUBLICATION_STEP,
        specs=[
            AssetSpec("published_invoices", deps=["invoices"]),
            AssetSpec("published_invoice_lines", deps=["published_invoices", "invoice_lines"]),
        ],
    )
    def publication(context: AssetExecutionContext, config: DbtRunConfig):
        lineage = run_lineage(context.instance, context.run.run_id)
        evaluations = check_evaluations_for_runs(context.instance, lineage)
        problems = gate_problems(gate, evaluations)
        if problems:
            raise Failure(f"Publication blocked: {problems}")
        published.append(context.run.run_id)
        yield MaterializeResult(asset_key="published_invoices")
        yield MaterializeResult(asset_key="published_invoice_lines")

    return Definitions(
        assets=[AssetSpec(["raw", "usage_events"]), billing, publication],
        asset_checks=[quality],
        jobs=[build_publication_job(billing, publication, quality)],
    )


def _bad_currency() -> dict[str, Table]:
    data = good_data()
    data["invoices"].rows[2]["currency"] = "USD"  # inv_3's contract ct_2 is in EUR
    return data


def _bad_ids() -> dict[str, Table]:
    data = good_data()
    for row in data["usage_events"].rows[-3:]:
        row["event_id"] = None
    return data


@pytest.fixture
def dagster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("BILLING_QUALITY_REPORTS_DIR", str(tmp_path / "reports"))
    return tmp_path / "reports"


def _step_events(result, event_type: DagsterEventType) -> dict[str, Any]:
    return {event.step_key: event for event in result.all_events if event.event_type == event_type}


@pytest.mark.parametrize(
    ("check", "data", "row"),
    [
        ("gx_invoice_lines", _bad_invoice_lines, "invoice_line_id=l_3"),  # on invoice_lines (Dagster-blocking)
        # on raw usage: not Dagster-blocking (see quality_checks.check_specs); the step failure gates it
        ("gx_raw_usage_ids", _bad_ids, "occurred_at=2026-11-20T09:00:02Z"),
    ],
)
def test_a_failing_blocking_gx_check_stops_publication(
    dagster_env: Path, config: QualityConfig, check: str, data, row: str
) -> None:
    published: list[str] = []
    defs = _stand_in_definitions(data(), config, published)
    job = defs.resolve_job_def(PUBLICATION_JOB)
    result = job.execute_in_process(run_config=run_config_for(AS_OF), raise_on_error=False)

    assert not result.success
    assert not published
    started = _step_events(result, DagsterEventType.STEP_START)
    assert BILLING_STEP in started and QUALITY_STEP in started and PUBLICATION_STEP not in started
    failure = _step_events(result, DagsterEventType.STEP_FAILURE)[QUALITY_STEP]
    message = failure.event_specific_data.error.message
    assert check in message and row in message, message

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(config.names()), "every GX check is reported, failed or not"
    evaluation = evaluations[check]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    key, value = row.split("=")
    failing_rows = [r for rows in evaluation.metadata["failing_rows"].value.values() for r in rows]
    assert any(r.get(key) == value for r in failing_rows), failing_rows
    report = Path(evaluation.metadata["report"].value)
    assert report == dagster_env / result.run_id / "index.html" and report.exists()
    assert all(e.passed for name, e in evaluations.items() if name != check)


def test_a_failing_warning_gx_check_does_not_stop_publication(
    dagster_env: Path, config: QualityConfig
) -> None:
    published: list[str] = []
    assert not config["gx_invoice_currency"].blocking, "currency is a warning by default (per invoice)"
    defs = _stand_in_definitions(_bad_currency(), config, published)
    result = defs.resolve_job_def(PUBLICATION_JOB).execute_in_process(
        run_config=run_config_for(AS_OF), raise_on_error=False
    )

    assert result.success
    assert published == [result.run_id]
    evaluations = result.get_asset_check_evaluations()
    evaluation = next(e for e in evaluations if e.check_name == "gx_invoice_currency")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert "invoice_id=inv_3" in (evaluation.description or "")


def test_the_gate_requires_the_blocking_gx_checks_only(config: QualityConfig) -> None:
    published: list[str] = []
    defs = _stand_in_definitions(good_data(), config, published)
    job = defs.resolve_job_def(PUBLICATION_JOB)
    upstream = job.graph.dependency_structure.input_to_upstream_outputs_for_node(PUBLICATION_STEP)
    upstream_nodes = {output.node_name for outputs in upstream.values() for output in outputs}
    assert upstream_nodes == {BILLING_STEP, QUALITY_STEP}

    keys = {key.name for key in blocking_gx_check_keys(config)}
    assert keys == {settings.name for settings in config if settings.blocking}
    assert "gx_invoice_lines" in keys and "gx_invoice_period_change" not in keys
    assert "gx_invoice_currency" not in keys
    modified = config.with_check("gx_invoice_lines", blocking=False)
    assert "gx_invoice_lines" not in {key.name for key in blocking_gx_check_keys(modified)}


def test_stale_reports_are_pruned(tmp_path: Path) -> None:
    import os
    import time

    from warehouse_billing.quality.runner import prune_reports

    now = time.time()
    for age in range(5):
        folder = tmp_path / f"run{age}"
        folder.mkdir()
        os.utime(folder, (now - age, now - age))
    prune_reports(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run0", "run1", "run2"]

