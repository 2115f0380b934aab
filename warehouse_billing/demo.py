"""The one-command demo: ``python -m warehouse_billing.demo``.

Generates demo usage, lands it in a fresh DuckDB file, runs ``invoice_publication_job`` in-process
(dbt build + tests, Great Expectations checks, then publication if every blocking check passed) and
prints what came out, including each data-quality check's outcome.

Beside the generated usage the demo tells one story of corrections (SPEC 6.1), in two runs:
1. With the generated rows land a few hand-made ones: a standard-plan customer tries fine-tuning,
   which only the yen rate card prices yet, so its October invoice is held (``all_usage_priced``)
   while every other ready invoice publishes. The seed ``credit_notes`` credits two published invoices
   of a small customer in full; its November invoice then sums below zero and carries the balance.
2. A week later (as_of 2026-11-28) a batch of October API requests of a customer with a 5 % invoice
   discount arrives late, after October was published: a second run bills it on November's invoice
   under October's terms (a usage and an invoice discount adjustment).

The run covers the daily partitions of every ingestion day of the landed rows as one partition key
range, i.e. what a single-run backfill of those days launches: one dbt build whose window
(``ingested_from`` .. ``ingested_to``) holds all of the demo's raw rows. ``as_of`` stays the demo's
clock, independent of that window.

Nothing here imports Dagster: ``dbt seed`` / ``dbt parse`` and the job run go through
``orchestration`` (``resources`` and ``local_runs``, imported inside the two functions that use
them), which hands the run's outcome back as plain data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse_billing import REPO_ROOT
from warehouse_billing.dashboard_data import dashboard_copy_path

if TYPE_CHECKING:
    from orchestration.local_runs import CheckReport, JobRunOutcome

DEMO_AS_OF = "2026-11-21T00:00:00"
DEFAULT_DB = REPO_ROOT / "warehouse" / "billing.duckdb"
# The demo's generated files, beside the warehouse file (so that a demo elsewhere leaves the repo alone)
EVENTS_FILE_NAME = "demo_events.jsonl"
STORY_FILE_NAMES = ("demo_story_first_run.jsonl", "demo_story_late_batch.jsonl")
# The second run of the story: a week after the first (DEMO_AS_OF), November still open.
LATE_BATCH_AS_OF = "2026-11-28T00:00:00"
# Who the story is about (seeds/contracts.csv): ct_0093 on rc_standard (no fine-tuning price) and
# ct_0098 on rc_growth with a 5 % and, from October, a 250.00 invoice discount.
FINE_TUNING_CUSTOMER = "cus_0091"
LATE_BATCH_CUSTOMER = "cus_0097"
LATE_BATCH_REQUESTS = 30_000  # three packages of 10,000 on rc_growth


class Progress:
    """Prints ``[  12.3s] message`` lines, timed from the start of the demo."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", flush=True)


def generate(progress: Progress, scale: float, seed: int, folder: Path) -> Path:
    from warehouse_billing.demo_data import generate_events, write_events

    rows = list(generate_events(scale=scale, seed=seed))
    events_file = folder / EVENTS_FILE_NAME
    events_file.parent.mkdir(parents=True, exist_ok=True)
    write_events(events_file, rows)
    progress(f"1/5 generated {len(rows):,} demo events -> {_relative(str(events_file))}")
    return events_file


def _event(event_id: str, customer: str, event_type: str, occurred: datetime, ingested: datetime,
           properties: dict) -> dict:
    return {"event_id": event_id, "customer_id": customer, "event_type": event_type,
            "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": json.dumps(properties),
            "ingested_at": ingested}


def story_events() -> tuple[list[dict], list[dict]]:
    """The hand-made rows of the corrections story: (landed with the first run, the late batch)."""
    fine_tuning = [
        _event(f"story-fine-tuning-{day}", FINE_TUNING_CUSTOMER, "fine_tuning_job", occurred,
               occurred + timedelta(minutes=3), {"hours": hours, "base_model": "small"})
        for day, hours in ((14, 2.5), (21, 4), (28, 1.5))
        for occurred in [datetime(2026, 10, day, 15, 0)]
    ]
    late_arrival = datetime(2026, 11, 27, 8, 0)
    late_batch = [
        _event(f"story-late-request-{index:05d}", LATE_BATCH_CUSTOMER, "api_request",
               datetime(2026, 10, 30, 9, 0) + timedelta(seconds=index), late_arrival,
               {"endpoint": "/v1/chat", "user_id": f"late-user-{index % 7}"})
        for index in range(LATE_BATCH_REQUESTS)
    ]
    return fine_tuning, late_batch


def story_files(folder: Path) -> tuple[Path, Path]:
    first, late = STORY_FILE_NAMES
    return folder / first, folder / late


def write_story_files(folder: Path) -> tuple[Path, Path]:
    from warehouse_billing.demo_data import write_events

    paths = story_files(folder)
    for path, rows in zip(paths, story_events(), strict=True):
        write_events(path, rows)
    return paths


def land(progress: Progress, events_file: Path, db_path: Path) -> tuple[datetime, datetime]:
    """Land the events and the story's first rows; returns the first and last ``ingested_at``."""
    from warehouse_billing.loader import load_files

    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    first_story_file, _ = write_story_files(db_path.parent)
    results = load_files([events_file, first_story_file], target="duckdb", keep_ingested_at=True)
    for result in results:
        if not result.ok:
            raise SystemExit(f"loading {result.path} failed: {result.error}")
    first, last = ingestion_span(db_path)
    progress(
        f"2/5 landed {sum(result.rows for result in results):,} rows in raw.usage_events of {db_path}, "
        f"ingested {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
    )
    return first, last


def land_late_batch(progress: Progress, folder: Path) -> tuple[datetime, datetime]:
    """The story's second act: October requests that arrive after October was published."""
    from warehouse_billing.loader import load_files

    _, late_file = story_files(folder)
    (result,) = load_files([late_file], target="duckdb", keep_ingested_at=True)
    if not result.ok:
        raise SystemExit(f"loading {late_file} failed: {result.error}")
    arrived = story_events()[1][0]["ingested_at"]
    progress(f"   landed {result.rows:,} late October requests of {LATE_BATCH_CUSTOMER}, arrived {arrived:%Y-%m-%d %H:%M}")
    return arrived, arrived


def ingestion_span(db_path: Path) -> tuple[datetime, datetime]:
    """The first and last ``ingested_at`` in the raw table of a DuckDB warehouse."""
    from warehouse_billing.warehouse import RAW_TABLE

    con = duckdb.connect(os.fspath(db_path), read_only=True)
    try:
        first, last = con.execute(f"select min(ingested_at), max(ingested_at) from {RAW_TABLE}").fetchone()
    finally:
        con.close()
    if first is None:
        raise SystemExit(f"{RAW_TABLE} of {db_path} is empty: no partition to run")
    return first, last


def seed_and_parse(progress: Progress) -> None:
    from orchestration.resources import build_dbt_project, build_dbt_resource, prepare_manifest

    project = build_dbt_project()
    build_dbt_resource(project).cli(["seed"], target_path=project.target_path).wait()
    prepare_manifest(project, force=True)
    progress("3/5 dbt seed + dbt parse done")


def publish(progress: Progress, as_of: str, ingested: tuple[datetime, datetime]) -> JobRunOutcome:
    """Run the publication job over every ingestion day (Dagster, through orchestration.local_runs)."""
    from orchestration.jobs import PUBLICATION_JOB
    from orchestration.local_runs import run_publication_job

    first, last = ingested
    progress(
        f"4/5 running {PUBLICATION_JOB} with as_of {as_of} over the partitions {first:%Y-%m-%d} .. "
        f"{last:%Y-%m-%d} as one run (dbt output follows)"
    )
    outcome = run_publication_job(as_of, ingested, progress)
    status = "succeeded" if outcome.success else "FAILED"
    progress(
        f"4/5 {outcome.job_name} {status} (run {outcome.run_id}); "
        f"failed checks: {outcome.failed_checks() or 'none'}"
    )
    return outcome


def print_checks(checks: Sequence[CheckReport]) -> None:
    """Every Great Expectations check (passed/failed, blocking/warning) and the dbt tests in sum."""
    from warehouse_billing.quality.config import load_quality_config

    print("\n== Data-quality checks ==")
    by_name = {check.name: check for check in checks}
    config = load_quality_config()
    gx_names = config.names()
    reports = {by_name[name].report for name in gx_names if name in by_name}
    report = next(iter(reports), "")
    print(f"  Great Expectations ({_relative(report) if report else 'no report: the checks did not run'}):")
    for settings in config:
        check = by_name.get(settings.name)
        if check is None:
            outcome, detail = "not run", "(an upstream step failed)"
        else:
            outcome = "passed" if check.passed else "FAILED"
            detail = check.summary
        asset = "/".join(settings.suite.asset)
        print(f"    {settings.name:<28}{asset:<19}{settings.mode:<10}{outcome:<8}{detail}")
    dbt_tests = [check for check in checks if check.name not in gx_names]
    failed = [check for check in dbt_tests if not check.passed]
    blocking = sum(1 for check in dbt_tests if check.blocking)
    print(
        f"  dbt tests: {len(dbt_tests)} evaluated ({blocking} blocking, "
        f"{len(dbt_tests) - blocking} warning): {len(dbt_tests) - len(failed)} passed, {len(failed)} failed"
    )
    for check in failed:
        mode = "blocking" if check.blocking else "warning"
        print(f"    FAILED {mode:<9}{check.key}")


def _relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return path


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    sql = "select column_name from information_schema.columns where table_name = ? order by ordinal_position"
    return [name for (name,) in con.execute(sql, [table]).fetchall()]


def summarize(db_path: Path) -> None:
    con = duckdb.connect(os.fspath(db_path), read_only=True)
    try:
        print("\n== Events (usage_event_reconciliation, quarantined_usage_events) ==")
        counts = [c for c in _columns(con, "usage_event_reconciliation") if c.endswith("_count")]
        sums = _rows(con, f"select {', '.join(f'sum({c})' for c in counts)} from usage_event_reconciliation")[
            0
        ]
        for name, value in zip(counts, sums, strict=True):
            print(f"  {name.removesuffix('_count'):<28}{int(value or 0):>12,}")
        for reason, count in _rows(
            con, "select reason, count(*) from quarantined_usage_events group by 1 order by 2 desc, 1"
        ):
            print(f"    quarantined {reason:<28}{count:>8,}")

        print("\n== Invoices (invoices, published_invoices) ==")
        for status, count in _rows(con, "select status, count(*) from invoices group by 1 order by 1"):
            print(f"  {status} invoices: {count:,}")
        count, first, last = _rows(
            con, "select count(*), min(invoice_number), max(invoice_number) from published_invoices"
        )[0]
        print(f"  {count:,} invoices published, numbers {first} .. {last}")
        print("  top 5 customers by total published, per currency:")
        for currency, customer, name, total in _rows(
            con,
            "select currency, customer_id, name, total from ("
            " select p.currency, p.customer_id, coalesce(any_value(c.name), '') as name,"
            " sum(p.total_due) as total,"
            " row_number() over (partition by p.currency order by sum(p.total_due) desc, p.customer_id) as rank"
            " from published_invoices as p left join customers as c on c.customer_id = p.customer_id"
            " group by p.currency, p.customer_id) as ranked"
            " where rank <= 5 order by currency, total desc, customer_id",
        ):
            print(f"    {currency:<5}{customer:<12}{name[:30]:<32}{total:>16,.2f}")
        print("  by kind (SPEC 6.2; an opening invoice bills a contract's first period's fees in advance,"
              " a threshold invoice the usage so far when it reached a billing threshold):")
        for kind, status, count in _rows(
            con, "select invoice_kind, status, count(*) from invoices group by 1, 2 order by 1, 2"
        ):
            print(f"    {kind:<10}{status:<7}{count:>6,}")
        for number, contract, issued, subtotal, total in _rows(
            con,
            "select invoice_number, contract_id, issued_at, subtotal, total_due from published_invoices"
            " where invoice_kind = 'opening' order by invoice_number limit 3",
        ):
            print(f"    opening invoice #{number} of {contract}, issued {issued:%Y-%m-%d %H:%M}: "
                  f"subtotal {subtotal:,.2f}, total due {total:,.2f}")
        for number, contract, sequence, issued, subtotal, total in _rows(
            con,
            "select invoice_number, contract_id, threshold_sequence, issued_at, subtotal, total_due"
            " from published_invoices where invoice_kind = 'threshold' order by invoice_number limit 3",
        ):
            print(f"    threshold invoice #{number} of {contract} (the period's no. {sequence}), issued "
                  f"{issued:%Y-%m-%d %H:%M}: usage so far {subtotal:,.2f}, total due {total:,.2f}")
        for number, contract, period_start, subtotal, billed, total in _rows(
            con,
            "select invoice_number, contract_id, period_start, subtotal, threshold_billed, total_due"
            " from published_invoices where threshold_billed > 0 order by invoice_number limit 1",
        ):
            print(f"    period invoice #{number} of {contract} for {period_start:%Y-%m}: subtotal {subtotal:,.2f},"
                  f" less {billed:,.2f} billed on threshold invoices, total due {total:,.2f}")
        print("  grand total per currency:")
        for currency, total in _rows(
            con, "select currency, sum(total_due) from published_invoices group by 1 order by 1"
        ):
            print(f"    {currency:<5}{total:>16,.2f}")

        print("\n== Taxes (tax lines of published invoices, seeds tax_rates and customers) ==")
        for tax_rate_id, currency, invoices, base, tax in _rows(
            con,
            "select l.tax_rate_id, p.currency, count(distinct l.invoice_id), sum(l.quantity), sum(l.amount)"
            " from published_invoice_lines as l"
            " inner join published_invoices as p on l.invoice_id = p.invoice_id"
            " where l.line_type = 'tax' group by 1, 2 order by 1, 2",
        ):
            print(f"    {tax_rate_id:<30}{currency:<5}{invoices:>5} invoices, "
                  f"base {base:>14,.2f}, tax {tax:>12,.2f}")
        example = _rows(
            con,
            "select p.invoice_number, p.customer_id, p.currency, p.subtotal, p.tax_total, p.total_due"
            " from published_invoices as p where p.tax_total > 0"
            " and (select count(*) from published_invoice_lines as l"
            "      where l.invoice_id = p.invoice_id and l.line_type = 'tax' and l.amount <> 0) > 1"
            " order by p.invoice_number limit 1",
        )
        for number, customer, currency, subtotal, tax_total, total_due in example:
            print(f"  invoice {number} of {customer} ({currency}): subtotal {subtotal:,.2f}, "
                  f"tax {tax_total:,.2f} on two rates, total due {total_due:,.2f}")
        exempt = _rows(con, "select count(*) from customers where tax_exempt")[0][0]
        print(f"  tax-exempt customers: {exempt}; those without a tax_jurisdiction are not taxed by the project")

        print("\n== Corrections (invoice_holds, published_credit_notes, adjustment and balance lines) ==")
        holds = _rows(
            con, "select contract_id, period_start, check_name, reason from invoice_holds order by 1, 2, 3"
        )
        print(f"  held invoices (not published; the others were): {len(holds):,}")
        for contract, period_start, check, reason in holds[:5]:
            print(f"    {contract} {str(period_start)[:10]} {check}: {reason[:90]}")
        notes = _rows(
            con,
            "select credit_note_number, invoice_number, customer_id, currency, amount, reason"
            " from published_credit_notes order by credit_note_number",
        )
        print(f"  credit notes published: {len(notes):,}")
        for number, invoice_number, customer, currency, amount, reason in notes[:5]:
            print(f"    number {number}: invoice {invoice_number} of {customer}, {currency} {amount:,.2f} ({reason})")
        adjustments = _rows(
            con,
            "select l.contract_id, i.period_start, l.service_period_start, l.product_name, l.amount, i.status"
            " from invoice_lines as l inner join invoices as i on l.invoice_id = i.invoice_id"
            " where l.line_type = 'adjustment' order by 1, 2, l.line_order, l.amount desc",
        )
        print(f"  late-usage adjustment lines on open invoices (under the corrected period's terms): {len(adjustments):,}")
        for contract, period_start, corrected, product, amount, status in adjustments[:8]:
            print(
                f"    {contract} {str(period_start)[:10]} ({status}) corrects {str(corrected)[:10]}: "
                f"{product:<32}{amount:>12,.2f}"
            )
        balance_lines = _rows(
            con,
            "select l.line_type, l.contract_id, i.period_start, i.status, l.amount, i.total_due"
            " from invoice_lines as l inner join invoices as i on l.invoice_id = i.invoice_id"
            " where l.line_type in ('credit_note', 'balance_carried', 'balance_applied')"
            " order by 2, 3, l.line_order, l.amount",
        )
        print(f"  credit note and balance lines: {len(balance_lines):,}")
        for line_type, contract, period_start, status, amount, total_due in balance_lines[:8]:
            print(
                f"    {contract} {str(period_start)[:10]} ({status}, total_due {total_due:,.2f}): "
                f"{line_type:<32}{amount:>12,.2f}"
            )
    finally:
        con.close()


def where_next(db_path: Path) -> None:
    print("\n== Where to look next ==")
    print(f"  DuckDB file:   {db_path}")
    print("  Dagster UI:    make dagster-ui   (assets, asset checks, the run above if DAGSTER_HOME was set)")
    from warehouse_billing.quality.runner import reports_root

    reports = _relative(str(reports_root()))
    print(f"  GX reports:    {reports}/<run id>/index.html (Great Expectations data docs)")
    print("  Marts:         invoices, invoice_lines, published_invoices, published_invoice_lines,")
    print("                 invoice_holds, published_credit_notes, quarantined_usage_events,")
    print("                 usage_event_reconciliation, rebilling_preview, credit_ledger")
    print("  Usage, spend:  daily_usage, daily_spend, customer_live_spend, customer_credit_balances,")
    print("                 alert_notifications")
    print(f"  Dashboards:    make dashboard   (finance and customer pages on the copy in {_relative(str(dashboard_copy_path(db_path)))})")
    print(
        '  Example:       .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{db_path}', read_only=True).sql('select * from published_invoices limit 5'))\""
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--as-of", default=DEMO_AS_OF, help="the run's clock (UTC), default %(default)s")
    parser.add_argument("--scale", type=float, default=1.0, help="demo data volume factor")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the demo data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    db_path = Path(os.environ.get("BILLING_DUCKDB_PATH") or DEFAULT_DB).resolve()
    os.environ["BILLING_DUCKDB_PATH"] = os.fspath(db_path)
    os.environ["BILLING_TARGET"] = "duckdb"
    events_file = generate(progress, args.scale, args.seed, db_path.parent)
    ingested = land(progress, events_file, db_path)
    seed_and_parse(progress)
    outcome = publish(progress, args.as_of, ingested)
    succeeded = outcome.success
    if succeeded:
        late = land_late_batch(progress, db_path.parent)
        late_outcome = publish(progress, LATE_BATCH_AS_OF, late)
        succeeded = late_outcome.success
    progress("5/5 summary")
    print_checks(outcome.checks)
    try:
        summarize(db_path)
    except duckdb.Error as error:
        print(f"  (no summary: {error})")
    where_next(db_path)
    progress("demo succeeded" if succeeded else "demo FAILED: the publication job did not succeed")
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
