"""The one-command demo: ``python -m orchestration.demo``.

Generates demo usage, lands it in a fresh DuckDB file, runs ``invoice_publication_job`` in-process
(dbt build + tests, Great Expectations checks, then publication if every blocking check passed) and
prints what came out, including each data-quality check's outcome.

The run covers the daily partitions of every ingestion day of the landed rows as one partition key
range, i.e. what a single-run backfill of those days launches: one dbt build whose window
(``ingested_from`` .. ``ingested_to``) holds all of the demo's raw rows. ``as_of`` stays the demo's
clock, independent of that window.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    PartitionKeyRange,
    logger,
)

from orchestration.resources import REPO_ROOT

DEMO_AS_OF = "2026-11-21T00:00:00"
DEFAULT_DB = REPO_ROOT / "warehouse" / "billing.duckdb"
EVENTS_FILE = REPO_ROOT / "warehouse" / "demo_events.jsonl"
# dagster-dbt's housekeeping lines, left out of the demo's progress (they stay in the Dagster logs).
QUIET_PREFIXES = (
    "A dbt subsetted execution",
    "Copying `",
    "Finished dbt command",
)
STEP_EVENTS = {
    DagsterEventType.STEP_START: "started",
    DagsterEventType.STEP_SUCCESS: "succeeded",
    DagsterEventType.STEP_FAILURE: "FAILED",
    DagsterEventType.STEP_SKIPPED: "skipped (an upstream step failed)",
}


class Progress:
    """Prints ``[  12.3s] message`` lines, timed from the start of the demo."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", flush=True)


class _StepHandler(logging.Handler):
    """Turns Dagster's log records into one progress line per step event and per failed check."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(level=logging.DEBUG)  # Dagster logs its step events at DEBUG
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or "run"
        if event is None:
            message = meta.get("orig_message", record.getMessage())
            quiet = record.levelno < logging.WARNING and message.startswith(QUIET_PREFIXES)
            if record.levelno >= logging.INFO and not quiet:
                self.progress(f"  {step}: {message}")
        elif event.event_type in STEP_EVENTS:
            self.progress(f"  step {step} {STEP_EVENTS[event.event_type]}")
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                self.progress(f"  check FAILED: {evaluation.asset_check_key.to_user_string()}")


def _demo_logger(progress: Progress):
    @logger(description="Step-level progress lines for the demo.")
    def demo_progress(_init_context) -> logging.Logger:
        log = logging.getLogger("billing-demo")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.handlers = [_StepHandler(progress)]
        return log

    return demo_progress


def generate(progress: Progress, scale: float, seed: int) -> Path:
    from orchestration.demo_data import generate_events, write_events

    rows = list(generate_events(scale=scale, seed=seed))
    EVENTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    write_events(EVENTS_FILE, rows)
    progress(f"1/5 generated {len(rows):,} demo events -> {EVENTS_FILE.relative_to(REPO_ROOT)}")
    return EVENTS_FILE


def land(progress: Progress, events_file: Path, db_path: Path) -> PartitionKeyRange:
    """Land the events; returns the partition range of their ingestion days."""
    from orchestration.loader import load_files
    from orchestration.partitions import partition_range_for

    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    (result,) = load_files([events_file], target="duckdb", keep_ingested_at=True)
    if not result.ok:
        raise SystemExit(f"loading {events_file} failed: {result.error}")
    first, last = ingestion_span(db_path)
    days = partition_range_for([first, last])
    progress(
        f"2/5 landed {result.rows:,} rows in raw.usage_events of {db_path}, "
        f"ingested {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
    )
    return days


def ingestion_span(db_path: Path) -> tuple[datetime, datetime]:
    """The first and last ``ingested_at`` in the raw table of a DuckDB warehouse."""
    from orchestration.warehouse import RAW_TABLE

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


def publish(progress: Progress, as_of: str, days: PartitionKeyRange) -> ExecuteInProcessResult:
    from orchestration.definitions import defs
    from orchestration.jobs import PUBLICATION_JOB, run_config_for
    from orchestration.partitions import partition_range_tags

    job = defs.resolve_job_def(PUBLICATION_JOB).with_logger_defs({"progress": _demo_logger(progress)})
    progress(
        f"4/5 running {PUBLICATION_JOB} with as_of {as_of} over the partitions {days.start} .. {days.end} "
        "as one run (dbt output follows)"
    )
    with _dagster_instance() as instance:
        result = job.execute_in_process(
            run_config={**run_config_for(as_of), "loggers": {"progress": {}}},
            instance=instance,
            tags=partition_range_tags(days),
            raise_on_error=False,
        )
    failed_checks = [
        evaluation.asset_check_key.to_user_string()
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    status = "succeeded" if result.success else "FAILED"
    progress(
        f"4/5 {PUBLICATION_JOB} {status} (run {result.run_id}); failed checks: {failed_checks or 'none'}"
    )
    return result


def _metadata_text(evaluation: AssetCheckEvaluation, key: str) -> str:
    value = evaluation.metadata.get(key)
    return str(getattr(value, "value", value) or "") if value is not None else ""


def print_checks(evaluations: list[AssetCheckEvaluation]) -> None:
    """Every Great Expectations check (passed/failed, blocking/warning) and the dbt tests in sum."""
    from orchestration.quality_config import load_quality_config

    print("\n== Data-quality checks ==")
    by_name = {e.check_name: e for e in evaluations}
    config = load_quality_config()
    gx_names = config.names()
    reports = {_metadata_text(by_name[name], "report") for name in gx_names if name in by_name}
    report = next(iter(reports), "")
    print(f"  Great Expectations ({_relative(report) if report else 'no report: the checks did not run'}):")
    for settings in config:
        evaluation = by_name.get(settings.name)
        if evaluation is None:
            outcome, detail = "not run", "(an upstream step failed)"
        else:
            outcome = "passed" if evaluation.passed else "FAILED"
            detail = _metadata_text(evaluation, "summary")
        asset = "/".join(settings.suite.asset)
        print(f"    {settings.name:<28}{asset:<19}{settings.mode:<10}{outcome:<8}{detail}")
    dbt_tests = [e for e in evaluations if e.check_name not in gx_names]
    failed = [e for e in dbt_tests if not e.passed]
    blocking = sum(1 for e in dbt_tests if e.severity == AssetCheckSeverity.ERROR)
    print(
        f"  dbt tests: {len(dbt_tests)} evaluated ({blocking} blocking, "
        f"{len(dbt_tests) - blocking} warning): {len(dbt_tests) - len(failed)} passed, {len(failed)} failed"
    )
    for evaluation in failed:
        mode = "blocking" if evaluation.severity == AssetCheckSeverity.ERROR else "warning"
        print(f"    FAILED {mode:<9}{evaluation.asset_check_key.to_user_string()}")


def _relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return path


def _dagster_instance() -> DagsterInstance:
    """The instance in $DAGSTER_HOME (so the run shows in the UI), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


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
    finally:
        con.close()


def where_next(db_path: Path) -> None:
    print("\n== Where to look next ==")
    print(f"  DuckDB file:   {db_path}")
    print("  Dagster UI:    make dagster-ui   (assets, asset checks, the run above if DAGSTER_HOME was set)")
    from orchestration.quality_checks import reports_root

    reports = _relative(str(reports_root()))
    print(f"  GX reports:    {reports}/<run id>/index.html (Great Expectations data docs)")
    print("  Marts:         invoices, invoice_lines, published_invoices, published_invoice_lines,")
    print("                 quarantined_usage_events, usage_event_reconciliation")
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
    days = land(progress, events_file, db_path)
    seed_and_parse(progress)
    result = publish(progress, args.as_of, days)
    succeeded = result.success
    progress("5/5 summary")
    print_checks(list(result.get_asset_check_evaluations()))
    try:
        summarize(db_path)
    except duckdb.Error as error:
        print(f"  (no summary: {error})")
    where_next(db_path)
    progress("demo succeeded" if succeeded else "demo FAILED: the publication job did not succeed")
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
