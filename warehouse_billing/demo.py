"""The one-command demo: ``python -m warehouse_billing.demo``.

Generates demo usage, lands it in a fresh DuckDB file, runs ``invoice_publication_job`` in-process
(dbt build + tests, Great Expectations checks, then publication if every blocking check passed) and
prints what came out, including each data-quality check's outcome.

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
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse_billing import REPO_ROOT

if TYPE_CHECKING:
    from orchestration.local_runs import CheckReport, JobRunOutcome

DEMO_AS_OF = "2026-11-21T00:00:00"
DEFAULT_DB = REPO_ROOT / "warehouse" / "billing.duckdb"
EVENTS_FILE = REPO_ROOT / "warehouse" / "demo_events.jsonl"


class Progress:
    """Prints ``[  12.3s] message`` lines, timed from the start of the demo."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", flush=True)


def generate(progress: Progress, scale: float, seed: int) -> Path:
    from warehouse_billing.demo_data import generate_events, write_events

    rows = list(generate_events(scale=scale, seed=seed))
    EVENTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    write_events(EVENTS_FILE, rows)
    progress(f"1/5 generated {len(rows):,} demo events -> {EVENTS_FILE.relative_to(REPO_ROOT)}")
    return EVENTS_FILE


def land(progress: Progress, events_file: Path, db_path: Path) -> tuple[datetime, datetime]:
    """Land the events; returns the first and last ``ingested_at`` of the raw table."""
    from warehouse_billing.loader import load_files

    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    (result,) = load_files([events_file], target="duckdb", keep_ingested_at=True)
    if not result.ok:
        raise SystemExit(f"loading {events_file} failed: {result.error}")
    first, last = ingestion_span(db_path)
    progress(
        f"2/5 landed {result.rows:,} rows in raw.usage_events of {db_path}, "
        f"ingested {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
    )
    return first, last


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
        print("  grand total per currency:")
        for currency, total in _rows(
            con, "select currency, sum(total_due) from published_invoices group by 1 order by 1"
        ):
            print(f"    {currency:<5}{total:>16,.2f}")

        print("\n== Corrections (invoice_holds, balance lines) ==")
        holds = _rows(
            con, "select contract_id, period_start, check_name, reason from invoice_holds order by 1, 2, 3"
        )
        print(f"  held invoices (not published; the others were): {len(holds):,}")
        for contract, period_start, check, reason in holds[:5]:
            print(f"    {contract} {str(period_start)[:10]} {check}: {reason[:90]}")
        for line_type, count, total in _rows(
            con,
            "select line_type, count(*), sum(amount) from invoice_lines"
            " where line_type in ('balance_carried', 'balance_applied') group by 1 order by 1",
        ):
            print(f"  {line_type} lines: {count:,}, total {total:,.2f}")
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
    print("                 invoice_holds, quarantined_usage_events, usage_event_reconciliation")
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
    events_file = generate(progress, args.scale, args.seed)
    ingested = land(progress, events_file, db_path)
    seed_and_parse(progress)
    outcome = publish(progress, args.as_of, ingested)
    succeeded = outcome.success
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
