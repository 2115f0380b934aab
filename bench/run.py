"""Benchmark of the billing models against a hand-written floor and dataframe libraries (bench/README.md).

    python -m bench.run                      # N = 1M and 10M on DuckDB, Postgres at 1M, pandas (+ polars)
    python -m bench.run --n 1000000          # one size
    python -m bench.run --n 100000000        # the largest size, opt-in (no dataframes, no Postgres)
    python -m bench.run --postgres-10m       # Postgres at 10M too
    python -m bench.run --profile            # EXPLAIN ANALYZE of the heaviest models (slow: runs them again)

Every step runs as a subprocess (dbt, the floor, pandas, polars) and is measured the same way: wall time,
peak RSS, peak spill (DuckDB temp files), CPU. Results go to bench/results/<timestamp>.json (+ .md table, + .png chart when matplotlib is
importable); the table is printed. Work files (generated data, warehouses) live under --work-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from bench import generate as gen
from bench.measure import StepResult, run_step, wait_for_quiet

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PYTHON = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
DEFAULT_SIZES = (1_000_000, 10_000_000)
DATAFRAME_MAX_N = 10_000_000

# Issue 16's targets (the usage and spend ones are issue 13's, the pandas one an earlier issue's).
TARGETS = {
    "b_over_a": ("project full / floor full (DuckDB)", 3.0, "at 10M and 100M"),
    "c_over_a_inc": ("project incremental / floor incremental", 3.0, "at 10M and 100M"),
    "c_over_b": ("project incremental / project full", 0.05, "at 100M"),
    "c0_wall_s": ("(c0) a run with nothing new, wall s", 3.0, ""),
    "c0_less_z_s": ("(c0) less (z), dbt's own start-up, wall s", 3.0, "what the project adds"),
    "c0s_wall_s": ("(c0s) freshness sensor tick with nothing new, s", 3.0, "the run it does not start"),
    "g_freshness_s": ("(g) landed to customer_live_spend, wall s", 60.0, "at 10M"),
    "pg_d_over_floor": ("Postgres project full / Postgres floor", 2.0, "at 10M"),
    "pandas_inc_over_c": ("pandas incremental / project incremental (want >= 10)", 10.0, "at 10M, higher is better"),
    "usage_full_over_b": ("usage and spend marts, full / billing full", 0.10, "at 10M"),
    "usage_inc_over_c": ("usage and spend marts, incremental / billing incremental", 0.10, "at 10M"),
}

# (b) and (c) build the billing (raw to invoices); the usage and spend surface (tag usage_and_spend:
# daily usage and spend, live spend, credit balances, alerts, the semantic layer's time spine) is built
# right after by a second dbt run, (b+) and (c+), so that what it adds is measured on its own.
BILLING = ["--exclude", "tag:publication", "tag:usage_and_spend"]
USAGE_AND_SPEND = ["--select", "tag:usage_and_spend"]
# The hourly refresh job's dbt step (orchestration.dbt_assets.dbt_build_args), less publication.
HOURLY_BUILD = ["--exclude-resource-type", "unit_test", "--exclude", "tag:publication"]


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# --- sources of invoice totals -----------------------------------------------------------------------

Totals = dict[tuple[str, str, str], Decimal]


def totals_from_rows(rows) -> Totals:
    return {(str(c), str(p)[:10], str(prod)): Decimal(str(a)) for c, p, prod, a in rows}


PROJECT_TOTALS_SQL = """
select lines.contract_id, cast(invoices.period_start as date), lines.product_id, sum(lines.amount)
from {schema}.invoice_lines as lines
inner join {schema}.invoices as invoices on lines.invoice_id = invoices.invoice_id
where lines.line_type in ('usage', 'recurring')
group by lines.contract_id, cast(invoices.period_start as date), lines.product_id
"""
FLOOR_TOTALS_SQL = """
select contract_id, period_start, product_id, sum(amount) from fl.invoice_lines
group by contract_id, period_start, product_id
"""


def duckdb_totals(path: Path, sql: str) -> Totals:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return totals_from_rows(con.execute(sql).fetchall())
    finally:
        con.close()


def postgres_totals(database: str, sql: str) -> Totals:
    import psycopg2

    from warehouse_billing.warehouse import postgres_settings

    con = psycopg2.connect(**{**postgres_settings(), "dbname": database})
    try:
        with con.cursor() as cursor:
            cursor.execute(sql)
            return totals_from_rows(cursor.fetchall())
    finally:
        con.close()


def parquet_totals(path: Path) -> Totals:
    con = duckdb.connect()
    rows = con.execute(
        f"select contract_id, cast(period_start as date), product_id, sum(amount_cents) "
        f"from read_parquet('{path}') group by all"
    ).fetchall()
    return {(str(c), str(p), str(prod)): Decimal(int(cents)) / 100 for c, p, prod, cents in rows}


def compare(name_a: str, a: Totals, name_b: str, b: Totals) -> dict:
    keys = set(a) | set(b)
    bad = [k for k in keys if a.get(k) is None or b.get(k) is None or a[k].compare(b[k]) != 0]
    sum_a, sum_b = sum(a.values(), Decimal(0)), sum(b.values(), Decimal(0))
    result = {
        "a": name_a, "b": name_b, "keys": len(keys), "mismatches": len(bad),
        "total_a": f"{sum_a:.2f}", "total_b": f"{sum_b:.2f}", "match": not bad,
        "examples": [
            {"key": list(k), name_a: str(a.get(k)), name_b: str(b.get(k))} for k in sorted(bad)[:5]
        ],
    }
    log(f"totals {name_a} vs {name_b}: {'MATCH' if not bad else f'{len(bad)} MISMATCHES'} "
        f"({len(keys)} contract x period x product sums, total {sum_a:.2f} vs {sum_b:.2f})")
    return result


# --- the project through dbt -------------------------------------------------------------------------

class StepFailed(RuntimeError):
    """A measured step exited non-zero; carries its measurements so the report keeps them."""

    def __init__(self, name: str, result: StepResult) -> None:
        super().__init__(f"{name} failed:\n{result.tail()}")
        self.name, self.result = name, result


class Project:
    """The dbt project copy of one size, on one warehouse."""

    def __init__(self, work: Path, project_dir: Path, target: str, memory_limit: str,
                 duckdb_path: Path | None = None, pg_database: str | None = None,
                 spark_dir: Path | None = None, spark_driver_memory: str | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.work, self.project_dir, self.target = work, project_dir, target
        self.duckdb_path, self.pg_database = duckdb_path, pg_database
        self.extra_env = extra_env or {}
        self.spark_dir, self.spark_driver_memory = spark_dir, spark_driver_memory
        self.memory_limit = memory_limit
        self.target_path = work / f"dbt_target_{target}"
        self.schema = "main" if target == "duckdb" else "analytics"

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BILLING_TARGET": self.target,
            "BILLING_DUCKDB_MEMORY_LIMIT": self.memory_limit,
            "DBT_TARGET_PATH": str(self.target_path),
            "DBT_LOG_PATH": str(self.work / f"dbt_logs_{self.target}"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **self.extra_env,
        }
        if self.duckdb_path:
            env["BILLING_DUCKDB_PATH"] = str(self.duckdb_path)
        if self.pg_database:
            env["BILLING_PG_DATABASE"] = self.pg_database
        if self.spark_dir:
            env["BILLING_SPARK_DIR"] = str(self.spark_dir)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        if self.spark_driver_memory:
            env["BILLING_SPARK_DRIVER_MEMORY"] = self.spark_driver_memory
        return env

    def dbt(self, name: str, args: list[str], as_of: str, logs: Path,
            run_vars: dict[str, object] | None = None) -> StepResult:
        # The run's clock (or all of run_vars) goes in the environment, read only while dbt executes, as
        # the Dagster steps pass it (decision 59): a --vars value that changes every run would make dbt
        # parse the whole project again at every step, a cost production does not pay.
        command = [DBT, *args, "--project-dir", str(self.project_dir), "--profiles-dir", str(self.project_dir)]
        env = {**self.env, "BILLING_DBT_RUN_VARS": json.dumps(run_vars or {"as_of": as_of})}
        spill_dir = Path(f"{self.duckdb_path}.spill") if self.duckdb_path else None  # profiles.yml default
        result = run_step(name, command, env, logs / f"{name}.log", spill_dir=spill_dir)
        if not result.ok:
            raise StepFailed(name, result)
        run_results = self.target_path / "run_results.json"
        if run_results.exists():
            shutil.copy2(run_results, logs / f"{name}.run_results.json")
            result.extra["models"] = model_timings(run_results)
            result.extra["dbt_elapsed_s"] = round(json.loads(run_results.read_text()).get("elapsed_time", 0), 2)
        return result

    def totals(self) -> Totals:
        sql = PROJECT_TOTALS_SQL.format(schema=self.schema)
        if self.target == "duckdb":
            return duckdb_totals(self.duckdb_path, sql)
        if self.target == "spark":
            return self.spark_side("spark_totals", sql)
        return postgres_totals(self.pg_database, sql)

    def spark_side(self, name: str, sql: str) -> Totals:
        """Run a query in a Spark process of its own (after dbt has exited: Derby admits one process)."""
        out = self.work / f"{name}.json"
        command = [PYTHON, "-m", "bench.spark_step", "totals", "--sql", sql, "--out", str(out)]
        done = subprocess.run(command, env=self.env, cwd=str(REPO), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
        return totals_from_rows(json.loads(out.read_text()))

    def compiled_sql(self, model: str) -> str | None:
        found = list((self.target_path / "compiled").rglob(f"{model}.sql"))
        return found[0].read_text() if found else None


# (g): the events that land for the freshness measurement; an api_request feeds two metrics
# (api_requests and active_users), each counted in customer_live_spend.event_count_so_far.
FRESH_CUSTOMER = "cus_00001"
FRESH_EVENTS = 100
FRESH_EVENT_METRICS = 2


def live_spend(path: Path, customer_id: str) -> tuple[int, Decimal]:
    """(event_count_so_far, usage_amount_so_far) of a customer's open periods in customer_live_spend."""
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "select coalesce(sum(event_count_so_far), 0), coalesce(sum(usage_amount_so_far), 0) "
            "from main.customer_live_spend where customer_id = ?", [customer_id]).fetchone()
    return int(row[0]), Decimal(row[1])


def sensor_run_vars(as_of: str, partition_key: str) -> dict[str, object]:
    """The dbt vars of a freshness sensor's run labelled with the daily partition ``partition_key``, as
    the billing step passes them (orchestration/dbt_assets.py): the new rows only, and the data tests on
    per-row records reading that day's rows."""
    from orchestration.dbt_assets import dbt_vars
    from orchestration.partitions import DAILY_INGESTION_PARTITIONS
    from warehouse_billing.clock import normalize_as_of

    day = DAILY_INGESTION_PARTITIONS.time_window_for_partition_key(partition_key)
    return dbt_vars(normalize_as_of(as_of), tests_window=day)


def model_timings(run_results: Path) -> list[dict]:
    data = json.loads(run_results.read_text())
    rows = []
    for result in data.get("results", []):
        # model.<project>.<name>, seed..., test.<project>.<name>.<hash>: the name is the third part
        rows.append({"model": result["unique_id"].split(".")[2], "status": result.get("status"),
                     "seconds": round(result.get("execution_time") or 0, 2)})
    return sorted(rows, key=lambda row: -row["seconds"])


def explain_analyze_duckdb(path: Path, sql: str, memory_limit: str) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        rows = con.execute("explain analyze " + sql).fetchall()
        return "\n".join(str(row[-1]) for row in rows)
    finally:
        con.close()


def explain_analyze_postgres(database: str, sql: str) -> str:
    import psycopg2

    from warehouse_billing.warehouse import postgres_settings

    con = psycopg2.connect(**{**postgres_settings(), "dbname": database})
    try:
        with con.cursor() as cursor:
            cursor.execute("set search_path = analytics, public")
            cursor.execute("explain (analyze, buffers) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        con.close()


# --- Postgres helpers --------------------------------------------------------------------------------

def pg_admin():
    import psycopg2

    from warehouse_billing.warehouse import postgres_settings

    con = psycopg2.connect(**{**postgres_settings(), "dbname": "postgres"}, connect_timeout=5)
    con.autocommit = True
    return con


def pg_settings() -> dict:
    try:
        con = pg_admin()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"error": str(exc)}
    with con.cursor() as cursor:
        cursor.execute("select version()")
        settings = {"version": cursor.fetchone()[0]}
        for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "max_parallel_workers_per_gather",
                     "effective_cache_size"):
            cursor.execute(f"show {name}")
            settings[name] = cursor.fetchone()[0]
    con.close()
    return settings


def pg_load_raw(database: str, gen_path: Path, table: str, csv_dir: Path) -> int:
    import psycopg2

    from warehouse_billing.warehouse import RAW_TABLE_DDL, postgres_settings

    csv_path = csv_dir / f"{table}.csv"
    con = duckdb.connect(str(gen_path), read_only=True)
    con.execute("set enable_progress_bar = false")
    con.execute(f"copy (select {gen.RAW_COLUMNS} from {table}) to '{csv_path}' (header false)")
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.close()
    pg = psycopg2.connect(**{**postgres_settings(), "dbname": database})
    with pg.cursor() as cursor:
        cursor.execute("create schema if not exists raw")
        cursor.execute(RAW_TABLE_DDL)
        with open(csv_path) as handle:
            cursor.copy_expert(f"copy raw.usage_events ({gen.RAW_COLUMNS}) from stdin with (format csv)", handle)
    pg.commit()
    pg.autocommit = True
    with pg.cursor() as cursor:
        cursor.execute("vacuum analyze raw.usage_events")
    pg.close()
    csv_path.unlink()
    return rows


# --- one size ------------------------------------------------------------------------------------------

class SizeRun:
    def __init__(self, n: int, args: argparse.Namespace, results_dir: Path) -> None:
        self.n, self.args = n, args
        self.work = Path(args.work_dir) / f"n{n}"
        self.logs = results_dir / f"n{n}"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.memory_limit = args.memory_limit
        self.steps: dict[str, dict] = {}
        self.checks: list[dict] = []
        self.notes: list[str] = []
        self.profiles: dict[str, str] = {}

    def record(self, key: str, label: str, result: StepResult, rows: int, extra: dict | None = None) -> None:
        entry = {
            "label": label, "wall_s": result.wall_s, "rows": rows,
            "events_per_s": round(rows / result.wall_s) if result.wall_s else None,
            "peak_rss_mb": result.peak_rss_mb, "peak_tree_rss_mb": result.peak_tree_rss_mb,
            "peak_spill_mb": result.peak_spill_mb,
            "cpu_s": result.cpu_s, "foreign_cpu_s": result.foreign_cpu_s, "load_before": result.load_before,
            **result.extra, **(extra or {}),
        }
        self.steps[key] = entry
        log(f"{label}: {result.wall_s:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB, "
            f"spilled {result.peak_spill_mb:.0f} MB, other CPU meanwhile {result.foreign_cpu_s:.1f} s")

    def measured(self, name: str, command: list[str], env: dict | None = None,
                 spill_dir: Path | None = None) -> StepResult:
        waited = wait_for_quiet(self.args.quiet_wait)
        result = run_step(name, command, env or {**os.environ}, self.logs / f"{name}.log", cwd=str(REPO),
                          spill_dir=spill_dir)
        result.extra["waited_for_quiet_s"] = waited
        if not result.ok:
            raise StepFailed(name, result)
        return result

    def record_failure(self, failure: StepFailed) -> None:
        """Keep what a failed step cost (time, memory) in the report: a failure is a result too."""
        self.record(f"failed_{failure.name}", f"{failure.name} FAILED", failure.result, 0)

    def outcome(self) -> dict:
        return {
            "n": self.n, "history_rows": getattr(self, "history_rows", None),
            "new_day_rows": getattr(self, "new_day_rows", None), "steps": self.steps, "checks": self.checks,
            "notes": self.notes, "ratios": self.ratios(), "profiles": self.profiles,
        }

    def run(self) -> dict:
        n = self.n
        log(f"=== N = {n:,}: generating (cached when unchanged)")
        generated = gen.generate(self.work / "gen.duckdb", n, self.args.customers, self.memory_limit,
                                 force=self.args.regenerate)
        self.history_rows, self.new_day_rows = generated["history_rows"], generated["new_day_rows"]
        log(f"history {self.history_rows:,} raw rows, new day {self.new_day_rows:,}")
        project_dir = gen.make_project_copy(REPO, self.work / "project", self.args.customers)
        self.seeds = project_dir / "seeds"
        if not self.args.skip_duckdb:
            self.run_duckdb(project_dir)
        if not self.args.no_dataframes and n <= DATAFRAME_MAX_N:
            self.run_dataframes()
        if not self.args.no_postgres and (n <= 1_000_000 or (n <= 10_000_000 and self.args.postgres_10m)):
            self.run_postgres(project_dir)
        if not self.args.no_spark and n <= self.args.spark_max_n:
            self.run_spark(project_dir)
        return self.outcome()

    # (a), (a'), (b), (c)
    def run_duckdb(self, project_dir: Path) -> None:
        project_db, floor_db = self.work / "project.duckdb", self.work / "floor.duckdb"
        for path in (project_db, floor_db):
            for suffix in ("", ".wal"):
                Path(str(path) + suffix).unlink(missing_ok=True)

        # The floor's two steps run first, so its warehouse can be deleted before the project's
        # build: at 100M events the disk holds either one or the other, with room to spill.
        gen.copy_raw(floor_db, self.work / "gen.duckdb", "history", self.memory_limit)
        floor = self.floor_step("floor_full_duckdb", "duckdb", "full", gen.T0, db=floor_db)
        self.record("a_floor_full", "(a) floor full build, DuckDB", floor, self.history_rows,
                    {"statements": self.floor_statements("floor_full_duckdb")})
        floor_full = duckdb_totals(floor_db, FLOOR_TOTALS_SQL)
        self.floor_full = floor_full
        gen.copy_raw(floor_db, self.work / "gen.duckdb", "new_day", self.memory_limit)
        floor_inc = self.floor_step("floor_incremental_duckdb", "duckdb", "incremental", gen.T1, db=floor_db)
        self.record("a_floor_incremental", "(a') floor incremental step, DuckDB", floor_inc, self.new_day_rows,
                    {"statements": self.floor_statements("floor_incremental_duckdb")})
        self.floor_inc = duckdb_totals(floor_db, FLOOR_TOTALS_SQL)
        if not self.args.keep_work:
            floor_db.unlink(missing_ok=True)

        gen.copy_raw(project_db, self.work / "gen.duckdb", "history", self.memory_limit)
        project = Project(self.work, project_dir, "duckdb", self.memory_limit, duckdb_path=project_db)
        seed = project.dbt("dbt_seed_duckdb", ["seed", "--full-refresh"], gen.T0, self.logs)
        log(f"dbt seed: {seed.wall_s:.1f} s (not timed as part of the build)")
        waited = wait_for_quiet(self.args.quiet_wait)
        full = project.dbt("project_full_duckdb", ["run", "--full-refresh", *BILLING], gen.T0, self.logs)
        full.extra["waited_for_quiet_s"] = waited
        self.record("b_project_full", "(b) project full build (dbt run), DuckDB", full, self.history_rows)
        waited = wait_for_quiet(self.args.quiet_wait)
        usage_full = project.dbt("usage_and_spend_full_duckdb", ["run", "--full-refresh", *USAGE_AND_SPEND],
                                 gen.T0, self.logs)
        usage_full.extra["waited_for_quiet_s"] = waited
        self.record("b_usage_and_spend_full", "(b+) usage and spend marts after (b), DuckDB", usage_full,
                    self.history_rows)
        self.project_full = project.totals()
        self.checks.append(compare("project_full_duckdb", self.project_full, "floor_full_duckdb", floor_full))
        if self.args.profile:
            self.profile_duckdb(project, project_db, full, "full")

        gen.copy_raw(project_db, self.work / "gen.duckdb", "new_day", self.memory_limit)
        waited = wait_for_quiet(self.args.quiet_wait)
        inc = project.dbt("project_incremental_duckdb", ["run", *BILLING], gen.T1, self.logs)
        inc.extra["waited_for_quiet_s"] = waited
        self.record("c_project_incremental", "(c) project incremental build (dbt run), DuckDB", inc,
                    self.new_day_rows)
        waited = wait_for_quiet(self.args.quiet_wait)
        usage_inc = project.dbt("usage_and_spend_incremental_duckdb", ["run", *USAGE_AND_SPEND], gen.T1, self.logs)
        usage_inc.extra["waited_for_quiet_s"] = waited
        self.record("c_usage_and_spend_incremental", "(c+) usage and spend marts after (c), DuckDB", usage_inc,
                    self.new_day_rows)
        self.project_inc = project.totals()
        self.checks.append(compare("project_incremental_duckdb", self.project_inc,
                                   "floor_incremental_duckdb", self.floor_inc))
        if self.args.profile:
            self.profile_duckdb(project, project_db, inc, "incremental")

        # The same run once more with nothing new: what an incremental run costs whatever its data
        # (dbt's start-up and compilation, the watermark queries, the rated tables rebuilt).
        waited = wait_for_quiet(self.args.quiet_wait)
        noop = project.dbt("project_noop_duckdb", ["run", *BILLING], gen.T1, self.logs)
        noop.extra["waited_for_quiet_s"] = waited
        self.record("c0_project_noop", "(c0) project run with nothing new (fixed cost), DuckDB", noop, 0)
        self.checks.append(compare("project_noop_duckdb", project.totals(),
                                   "floor_incremental_duckdb", self.floor_inc))

        # (z) what any dbt run pays before its first model: Python importing dbt, the (partial) parse,
        # the connection and the project's on-run-start and on-run-end hooks. One view, nothing else.
        waited = wait_for_quiet(self.args.quiet_wait)
        startup = project.dbt("dbt_startup_duckdb", ["run", "--select", "stg_seed__currencies"], gen.T1,
                              self.logs)
        startup.extra["waited_for_quiet_s"] = waited
        self.record("z_dbt_startup", "(z) dbt start-up: dbt run of one view, DuckDB", startup, 0)
        # (c0b) what the refresh job's dbt step runs with nothing new: `dbt build` (seeds, models, data
        # tests; no unit tests), billing and the usage and spend surface, no publication; with the run
        # vars of a freshness sensor's run started by the clock (its tests read the tick's day's rows).
        waited = wait_for_quiet(self.args.quiet_wait)
        try:
            from orchestration.partitions import refresh_partition_for_tick

            clock_run = sensor_run_vars(gen.T1, refresh_partition_for_tick(datetime.fromisoformat(gen.T1)))
            build = project.dbt("project_noop_build_duckdb", ["build", *HOURLY_BUILD], gen.T1, self.logs,
                                clock_run)
        except StepFailed as failure:  # a failing data test: keep its cost, go on with the other steps
            self.record_failure(failure)
            self.notes.append(f"(c0b) dbt build failed (a data test?): see {failure.result.stdout_path}")
        else:
            build.extra["waited_for_quiet_s"] = waited
            self.record("c0b_project_noop_build",
                        "(c0b) dbt build (seeds, models, data tests) with nothing new, DuckDB", build, 0)
        self.sensor_tick_duckdb(project)
        self.freshness_duckdb(project)
        if not self.args.keep_work:
            project_db.unlink(missing_ok=True)

    def sensor_tick_duckdb(self, project: Project) -> None:
        """(c0s) A tick of the freshness sensor with nothing new (decision 68): what deciding not to start
        dbt costs. Timed inside the process (bench/sensor_tick.py), as the Dagster daemon pays it: its
        imports, paid once per code server, are reported apart."""
        ticked = self.measured("sensor_tick_duckdb",
                               [PYTHON, "-m", "bench.sensor_tick", str(project.project_dir)], env=project.env)
        report = json.loads(Path(ticked.stdout_path).read_text().strip().splitlines()[-1])
        process_wall_s = ticked.wall_s
        ticked.wall_s = report["tick_s"]
        self.record("c0s_sensor_tick", "(c0s) freshness sensor tick with nothing new (starts no run), DuckDB",
                    ticked, 0, {"process_wall_s": process_wall_s, "import_s": report["import_s"],
                                "skip_message": report["message"]})

    def freshness_duckdb(self, project: Project) -> None:
        """(g) Freshness, end to end: FRESH_EVENTS api_request events of one customer land through the
        project's loader (half an hour after T1) and the refresh job's dbt step (dbt build of billing
        and the usage and spend surface with their data tests, as_of an hour after T1, the new rows
        only: what a run of the freshness sensor does) makes them show in customer_live_spend. Wall time
        from the loader's start to the mart read back; the sensor's wait for its next tick (at most
        10 s) and Dagster's start of the run come on top."""
        landed_at = datetime.fromisoformat(gen.T1) + timedelta(minutes=30)
        as_of = (landed_at + timedelta(minutes=30)).isoformat(sep=" ")
        events = self.work / "fresh_events.jsonl"
        with open(events, "w") as handle:
            for i in range(FRESH_EVENTS):
                handle.write(json.dumps({
                    "event_id": f"fresh_{i:05d}", "customer_id": FRESH_CUSTOMER, "event_type": "api_request",
                    "occurred_at": (landed_at - timedelta(minutes=5)).isoformat() + "Z",
                    "properties": json.dumps({"user_id": f"fresh_user_{i}", "endpoint": "/v1/chat"}),
                    "ingested_at": landed_at.isoformat(),
                }) + "\n")
        before = live_spend(project.duckdb_path, FRESH_CUSTOMER)
        waited = wait_for_quiet(self.args.quiet_wait)
        load = run_step("freshness_load_duckdb",
                        [PYTHON, "-m", "warehouse_billing.loader", "--target", "duckdb", "--keep-ingested-at",
                         str(events)], project.env, self.logs / "freshness_load_duckdb.log", cwd=str(REPO))
        if not load.ok:
            raise StepFailed("freshness_load_duckdb", load)
        try:
            from orchestration.partitions import partition_for

            refresh = project.dbt("freshness_refresh_duckdb", ["build", *HOURLY_BUILD], as_of, self.logs,
                                  sensor_run_vars(as_of, partition_for(landed_at)))
        except StepFailed as failure:  # a failing data test: its models' dependants were skipped
            self.record_failure(failure)
            self.notes.append(f"(g) dbt build failed (a data test?): see {failure.result.stdout_path}")
            return
        started = time.monotonic()
        after = live_spend(project.duckdb_path, FRESH_CUSTOMER)
        read_s = time.monotonic() - started
        seen = after[0] - before[0]
        refresh.wall_s = round(load.wall_s + refresh.wall_s + read_s, 2)
        refresh.cpu_s = round(load.cpu_s + refresh.cpu_s, 2)
        refresh.foreign_cpu_s = round(load.foreign_cpu_s + refresh.foreign_cpu_s, 2)
        refresh.peak_tree_rss_mb = max(load.peak_tree_rss_mb, refresh.peak_tree_rss_mb)
        refresh.extra["waited_for_quiet_s"] = waited
        self.record("g_freshness",
                    f"(g) {FRESH_EVENTS} events landed to customer_live_spend (load + dbt build), DuckDB",
                    refresh, FRESH_EVENTS,
                    {"load_wall_s": load.wall_s, "read_s": round(read_s, 3), "events_seen": seen,
                     "usage_amount_before": str(before[1]), "usage_amount_after": str(after[1])})
        if seen != FRESH_EVENTS * FRESH_EVENT_METRICS:
            self.notes.append(f"(g): customer_live_spend of {FRESH_CUSTOMER} counted {seen} new metric "
                              f"events, expected {FRESH_EVENTS * FRESH_EVENT_METRICS}")

    def floor_step(self, name: str, target: str, step: str, as_of: str, db: Path | None = None,
                   pg_database: str | None = None) -> StepResult:
        command = [PYTHON, "-m", "bench.floor", "--target", target, "--step", step, "--as-of", as_of,
                   "--seeds", str(self.seeds), "--memory-limit", self.memory_limit,
                   "--timings", str(self.logs / f"{name}.timings.json")]
        command += ["--db", str(db)] if db else ["--pg-database", pg_database]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        spill_dir = Path(f"{db}.tmp") if db else None  # DuckDB's default temp_directory for a database file
        return self.measured(name, command, env, spill_dir)

    def floor_statements(self, name: str) -> list[dict]:
        path = self.logs / f"{name}.timings.json"
        if not path.exists():
            return []
        statements = json.loads(path.read_text())["statements"]
        return sorted(statements, key=lambda s: -s["seconds"])[:6]

    def profile_duckdb(self, project: Project, db: Path, result: StepResult, mode: str) -> None:
        models = [m for m in result.extra.get("models", []) if m["seconds"] > 0][: self.args.profile_models]
        for model in models:
            sql = project.compiled_sql(model["model"])
            if not sql or (mode == "incremental" and "incremental" in sql[:400] and "config(" in sql):
                continue
            log(f"EXPLAIN ANALYZE {model['model']} ({mode}, {model['seconds']} s in the run)")
            try:
                text = explain_analyze_duckdb(db, sql, self.memory_limit)
            except duckdb.Error as exc:
                text = f"failed: {exc}"
            out = self.logs / f"explain_{mode}_{model['model']}.txt"
            out.write_text(text)
            self.profiles[f"{mode}:{model['model']}"] = str(out)

    # (e)
    def run_dataframes(self) -> None:
        from bench.dataframes import polars_available

        history, new_day = gen.export_parquet(self.work / "gen.duckdb", self.work)
        libraries = ["pandas"]
        version = polars_available()
        if version:
            libraries.append("polars")
        else:
            note = ("polars is not importable in this environment: skipped (it installs from the registry: "
                    "pin polars==2.1.0, which brings polars-runtime-32==2.1.0)")
            self.notes.append(note)
            log(note)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        for lib in libraries:
            state = self.work / f"{lib}_state"
            for step, raw, as_of, rows in (("full", history, gen.T0, self.history_rows),
                                           ("incremental", new_day, gen.T1, self.new_day_rows)):
                name = f"{lib}_{step}"
                command = [PYTHON, "-m", "bench.dataframes", "--lib", lib, "--step", step, "--raw", str(raw),
                           "--state", str(state), "--seeds", str(self.seeds), "--as-of", as_of]
                result = self.measured(name, command, env)
                self.record(f"e_{lib}_{step}", f"(e) {lib} {step}", result, rows)
                reference = self.floor_full if step == "full" else self.floor_inc
                if reference is not None:
                    self.checks.append(compare(name, parquet_totals(state / "lines.parquet"),
                                               f"floor_{step}_duckdb", reference))
            if not self.args.keep_work:
                shutil.rmtree(state, ignore_errors=True)

    floor_full = None
    floor_inc = None
    project_full = None
    project_inc = None

    # (f)
    def run_spark(self, project_dir: Path) -> None:
        """The project on Spark in local mode (dbt-spark session method), on the data DuckDB billed."""
        spark_dir = self.work / "spark"
        shutil.rmtree(spark_dir, ignore_errors=True)
        spark_dir.mkdir(parents=True)
        history, new_day = gen.export_parquet(self.work / "gen.duckdb", self.work)
        project = Project(self.work, project_dir, "spark", self.memory_limit, spark_dir=spark_dir,
                          spark_driver_memory=self.args.spark_driver_memory)
        env = project.env
        try:
            landed = self.measured("spark_land_history", [PYTHON, "-m", "bench.spark_step", "land", "--parquet",
                                                          str(history)], env)
            log(f"Spark: history landed in raw.usage_events ({landed.wall_s:.1f} s, not part of the build)")
            seed = project.dbt("dbt_seed_spark", ["seed", "--full-refresh"], gen.T0, self.logs)
            log(f"dbt seed on Spark: {seed.wall_s:.1f} s (not timed as part of the build)")
            waited = wait_for_quiet(self.args.quiet_wait)
            full = project.dbt("project_full_spark", ["run", "--full-refresh", *BILLING],
                               gen.T0, self.logs)
            full.extra["waited_for_quiet_s"] = waited
            self.record("f_project_full_spark", "(f) project full build (dbt run), Spark local", full,
                        self.history_rows)
            spark_full = project.totals()
            if self.project_full is not None:
                self.checks.append(compare("project_full_spark", spark_full, "project_full_duckdb",
                                           self.project_full))

            self.measured("spark_land_new_day", [PYTHON, "-m", "bench.spark_step", "land", "--parquet",
                                                 str(new_day)], env)
            waited = wait_for_quiet(self.args.quiet_wait)
            inc = project.dbt("project_incremental_spark", ["run", *BILLING], gen.T1,
                              self.logs)
            inc.extra["waited_for_quiet_s"] = waited
            self.record("f_project_incremental_spark", "(f') project incremental build (dbt run), Spark local",
                        inc, self.new_day_rows)
            spark_inc = project.totals()
            if self.project_inc is not None:
                self.checks.append(compare("project_incremental_spark", spark_inc,
                                           "project_incremental_duckdb", self.project_inc))
        finally:
            if not self.args.keep_work:
                shutil.rmtree(spark_dir, ignore_errors=True)

    # (d)
    def run_postgres(self, project_dir: Path) -> None:
        database = f"billing_bench_{self.n}_{uuid.uuid4().hex[:6]}"
        try:
            admin = pg_admin()
        except Exception as exc:  # noqa: BLE001
            note = f"Postgres unreachable, (d) skipped: {exc}"
            self.notes.append(note)
            log(note)
            return
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{database}"')
        try:
            log(f"Postgres: loading {self.history_rows:,} raw rows into {database}")
            pg_load_raw(database, self.work / "gen.duckdb", "history", self.work)
            project = Project(self.work, project_dir, "postgres", self.memory_limit, pg_database=database)
            project.dbt("dbt_seed_postgres", ["seed", "--full-refresh"], gen.T0, self.logs)
            floor = self.floor_step("floor_full_postgres", "postgres", "full", gen.T0, pg_database=database)
            self.record("d_floor_full_postgres", "(d) floor full build, Postgres", floor, self.history_rows,
                        {"statements": self.floor_statements("floor_full_postgres")})
            floor_totals = postgres_totals(database, FLOOR_TOTALS_SQL)
            waited = wait_for_quiet(self.args.quiet_wait)
            full = project.dbt("project_full_postgres", ["run", "--full-refresh", *BILLING],
                               gen.T0, self.logs)
            full.extra["waited_for_quiet_s"] = waited
            self.record("d_project_full_postgres", "(d) project full build (dbt run), Postgres", full,
                        self.history_rows)
            self.checks.append(compare("project_full_postgres", project.totals(), "floor_full_postgres",
                                       floor_totals))
            if self.floor_full is not None:
                self.checks.append(compare("floor_full_postgres", floor_totals, "floor_full_duckdb", self.floor_full))
            if self.args.postgres_jit:
                self.postgres_without_jit(project, database, floor_totals)
            if self.args.profile:
                for model in full.extra.get("models", [])[:2]:
                    sql = project.compiled_sql(model["model"])
                    if sql:
                        log(f"EXPLAIN ANALYZE {model['model']} on Postgres")
                        try:
                            text = explain_analyze_postgres(database, sql)
                        except Exception as exc:  # noqa: BLE001
                            text = f"failed: {exc}"
                        out = self.logs / f"explain_postgres_{model['model']}.txt"
                        out.write_text(text)
                        self.profiles[f"postgres:{model['model']}"] = str(out)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'drop database if exists "{database}" with (force)')
            admin.close()

    def postgres_without_jit(self, project: Project, database: str, floor_totals: Totals) -> None:
        """(d0) and (dj): whether the project should run on Postgres without JIT compilation (the test
        suite does: on its small tables compiling cost more than running). The same database, the same
        dbt commands, with and without ``PGOPTIONS=-c jit=off`` in dbt's environment: a run with nothing
        new (what a refresh run of a few rows costs) each way, then a second full build without JIT,
        against (d) with it. Only with --postgres-jit."""
        no_jit = Project(self.work, project.project_dir, "postgres", self.memory_limit, pg_database=database,
                         extra_env={"PGOPTIONS": "-c jit=off"})
        for key, label, which in (("d0_project_noop_postgres", "(d0) project run with nothing new, Postgres",
                                   project),
                                  ("d0_project_noop_postgres_jit_off",
                                   "(d0) project run with nothing new, Postgres without JIT", no_jit)):
            waited = wait_for_quiet(self.args.quiet_wait)
            result = which.dbt(key, ["run", *BILLING], gen.T0, self.logs)
            result.extra["waited_for_quiet_s"] = waited
            self.record(key, label, result, 0)
        waited = wait_for_quiet(self.args.quiet_wait)
        full = no_jit.dbt("project_full_postgres_jit_off", ["run", "--full-refresh", *BILLING], gen.T0, self.logs)
        full.extra["waited_for_quiet_s"] = waited
        self.record("dj_project_full_postgres_jit_off", "(dj) project full build (dbt run), Postgres without JIT",
                    full, self.history_rows)
        self.checks.append(compare("project_full_postgres_jit_off", no_jit.totals(), "floor_full_postgres",
                                   floor_totals))

    def ratios(self) -> dict:
        s = {key: step["wall_s"] for key, step in self.steps.items()}

        def ratio(a: str, b: str) -> float | None:
            return round(s[a] / s[b], 3) if a in s and b in s and s[b] else None

        out = {
            "b_over_a": ratio("b_project_full", "a_floor_full"),
            "c_over_a_inc": ratio("c_project_incremental", "a_floor_incremental"),
            "c_over_b": ratio("c_project_incremental", "b_project_full"),
            "c0_over_c": ratio("c0_project_noop", "c_project_incremental"),
            "c0_wall_s": s.get("c0_project_noop"),
            "c0_less_z_s": (round(s["c0_project_noop"] - s["z_dbt_startup"], 2)
                            if "c0_project_noop" in s and "z_dbt_startup" in s else None),
            "g_freshness_s": s.get("g_freshness"),
            "c0b_wall_s": s.get("c0b_project_noop_build"),
            "c0s_wall_s": s.get("c0s_sensor_tick"),
            "usage_full_over_b": ratio("b_usage_and_spend_full", "b_project_full"),
            "usage_inc_over_c": ratio("c_usage_and_spend_incremental", "c_project_incremental"),
            "pg_d_over_floor": ratio("d_project_full_postgres", "d_floor_full_postgres"),
            "pg_full_jit_off_over_on": ratio("dj_project_full_postgres_jit_off", "d_project_full_postgres"),
            "pg_noop_jit_off_over_on": ratio("d0_project_noop_postgres_jit_off", "d0_project_noop_postgres"),
            "spark_f_over_b": ratio("f_project_full_spark", "b_project_full"),
            "spark_f_inc_over_c": ratio("f_project_incremental_spark", "c_project_incremental"),
            "pandas_full_over_b": ratio("e_pandas_full", "b_project_full"),
            "pandas_inc_over_c": ratio("e_pandas_incremental", "c_project_incremental"),
            "polars_full_over_b": ratio("e_polars_full", "b_project_full"),
            "polars_inc_over_c": ratio("e_polars_incremental", "c_project_incremental"),
            "pandas_full_over_c": ratio("e_pandas_full", "c_project_incremental"),
        }
        return {key: value for key, value in out.items() if value is not None}


def cpu_ratios(run: dict) -> dict:
    """The same ratios on the CPU seconds of the measured process (robust to other jobs on the machine;
    not meaningful for Postgres, whose work happens in the server)."""
    s = {key: step.get("cpu_s") for key, step in run["steps"].items()}

    def ratio(a: str, b: str) -> float | None:
        return round(s[a] / s[b], 3) if s.get(a) and s.get(b) else None

    out = {
        "b_over_a": ratio("b_project_full", "a_floor_full"),
        "c_over_a_inc": ratio("c_project_incremental", "a_floor_incremental"),
        "c_over_b": ratio("c_project_incremental", "b_project_full"),
        "usage_full_over_b": ratio("b_usage_and_spend_full", "b_project_full"),
        "usage_inc_over_c": ratio("c_usage_and_spend_incremental", "c_project_incremental"),
        "pandas_inc_over_c": ratio("e_pandas_incremental", "c_project_incremental"),
        "polars_inc_over_c": ratio("e_polars_incremental", "c_project_incremental"),
    }
    return {key: value for key, value in out.items() if value is not None}


# --- report --------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    for module in ("pandas", "pyarrow", "numpy", "pyspark"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    from bench.dataframes import polars_available

    versions["polars"] = polars_available() or "not installed"
    try:
        out = subprocess.run([DBT, "--version"], capture_output=True, text=True, check=False).stdout
        installed = [line.split(":", 1)[1].strip() for line in out.splitlines() if "installed:" in line]
        plugins = [line.strip(" -") for line in out.splitlines() if line.strip().startswith("- duckdb")
                   or line.strip().startswith("- postgres")]
        versions["dbt"] = ", ".join([f"core {installed[0]}" if installed else "core ?"]
                                    + [p.split(" - ")[0] for p in plugins])
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "versions": versions}


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty_models": git("status", "--porcelain", "models", "macros", "dbt_project.yml", "seeds")}


def fmt_s(value: float | None) -> str:
    return "" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def table(report: dict) -> str:
    lines = ["| N | step | wall s | events/s | CPU s | peak RSS MB (tree) | peak spill MB | other CPU s | totals |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for run in report["runs"]:
        matches = {}
        for check in run["checks"]:
            for side in (check["a"], check["b"]):
                matches.setdefault(side, []).append(check["match"])
        names = {
            "a_floor_full": "floor_full_duckdb", "b_project_full": "project_full_duckdb",
            "a_floor_incremental": "floor_incremental_duckdb", "c_project_incremental": "project_incremental_duckdb",
            "d_floor_full_postgres": "floor_full_postgres", "d_project_full_postgres": "project_full_postgres",
            "dj_project_full_postgres_jit_off": "project_full_postgres_jit_off",
            "e_pandas_full": "pandas_full", "e_pandas_incremental": "pandas_incremental",
            "e_polars_full": "polars_full", "e_polars_incremental": "polars_incremental",
            "f_project_full_spark": "project_full_spark", "f_project_incremental_spark": "project_incremental_spark",
        }
        for key, step in run["steps"].items():
            checked = matches.get(names.get(key, ""), [])
            verdict = "" if not checked else ("match" if all(checked) else "MISMATCH")
            lines.append(
                f"| {run['n']:,} | {step['label']} | {fmt_s(step['wall_s'])} | {step['events_per_s'] or 0:,} | "
                f"{fmt_s(step['cpu_s'])} | {step['peak_tree_rss_mb']:.0f} | {step.get('peak_spill_mb', 0):.0f} | "
                f"{step['foreign_cpu_s']:.1f} | {verdict} |")
    lines += ["", "| N | ratio (wall time) | value | on CPU s | target | met (wall) |", "|---:|---|---:|---:|---:|---|"]
    for run in report["runs"]:
        by_cpu = cpu_ratios(run)
        for key, value in run["ratios"].items():
            cpu = by_cpu.get(key)
            cpu_text = f"{cpu:.2f}" if cpu is not None else ""
            if key in TARGETS:
                label, target, scope = TARGETS[key]
                higher = key == "pandas_inc_over_c"
                met = value >= target if higher else value <= target
                lines.append(f"| {run['n']:,} | {label} | {value:.2f} | {cpu_text} | {'>=' if higher else '<='} "
                             f"{target}{' (' + scope + ')' if scope else ''} | {'yes' if met else 'NO'} |")
            else:
                lines.append(f"| {run['n']:,} | {key.replace('_', ' ')} | {value:.2f} | {cpu_text} | | |")
    return "\n".join(lines)


def chart(report: dict, path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not importable here: chart skipped (the JSON and the table have every number)"
    series: dict[str, list[tuple[int, float]]] = {}
    for run in report["runs"]:
        for key, step in run["steps"].items():
            series.setdefault(step["label"], []).append((run["n"], step["wall_s"]))
    fig, ax = plt.subplots(figsize=(9, 6))
    for label, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("events in the history (N)")
    ax.set_ylabel("wall time (s)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="history size (repeatable); default 1M and 10M")
    parser.add_argument("--customers", type=int, default=gen.DEFAULT_CUSTOMERS)
    parser.add_argument("--work-dir", default=os.environ.get("BENCH_WORK_DIR", "/tmp/billing_bench"))
    parser.add_argument("--results-dir", default=str(BENCH / "results"))
    parser.add_argument("--memory-limit", default=os.environ.get("BILLING_DUCKDB_MEMORY_LIMIT", "3.5GB"),
                        help="DuckDB memory_limit for the project and the floor (BILLING_DUCKDB_MEMORY_LIMIT)")
    parser.add_argument("--postgres-10m", action="store_true", help="also run Postgres at 10M")
    parser.add_argument("--postgres-jit", action="store_true",
                        help="also measure the Postgres project without JIT (a run with nothing new, a full build)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-dataframes", action="store_true")
    parser.add_argument("--no-spark", action="store_true", help="leave out (f), the project on Spark local")
    parser.add_argument("--spark-max-n", type=int, default=10_000_000,
                        help="largest size built on Spark (default 10M)")
    parser.add_argument("--spark-driver-memory", default=os.environ.get("BILLING_SPARK_DRIVER_MEMORY", "6g"),
                        help="Spark driver memory in local mode (BILLING_SPARK_DRIVER_MEMORY)")
    parser.add_argument("--skip-duckdb", action="store_true", help="debugging: only dataframes/Postgres")
    parser.add_argument("--profile", action="store_true", help="EXPLAIN ANALYZE the heaviest models")
    parser.add_argument("--profile-models", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true", help="regenerate the cached synthetic data")
    parser.add_argument("--keep-work", action="store_true", help="keep the warehouses after the run")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds to wait, before each timed step, for other jobs on the machine to finish")
    parser.add_argument("--report", help="print the table of an existing results JSON and exit")
    args = parser.parse_args(argv)
    if args.report:
        print(table(json.loads(Path(args.report).read_text())))
        return 0
    sizes = args.n or list(DEFAULT_SIZES)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = Path(args.results_dir)
    run_dir = results_dir / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "started_at": stamp, "machine": machine(), "git": git_state(),
        "config": {"sizes": sizes, "customers": args.customers, "duckdb_memory_limit": args.memory_limit,
                   "duckdb_threads": os.cpu_count(), "dbt_threads": 2, "as_of_full": gen.T0,
                   "as_of_incremental": gen.T1, "postgres": pg_settings() if not args.no_postgres else None},
        "runs": [], "notes": [],
    }
    started = time.perf_counter()
    try:
        for n in sizes:
            size_run = SizeRun(n, args, run_dir)
            try:
                report["runs"].append(size_run.run())
            except Exception as exc:
                # keep the steps measured before the failure, then stop: later sizes would fail too
                if isinstance(exc, StepFailed):
                    size_run.record_failure(exc)
                size_run.notes.append(f"stopped: {str(exc).strip().splitlines()[-1][:300]}")
                report["runs"].append(size_run.outcome())
                raise
    finally:
        report["seconds"] = round(time.perf_counter() - started, 1)
        note = chart(report, results_dir / f"{stamp}.png")
        if note:
            report["notes"].append(note)
        (results_dir / f"{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
        text = table(report)
        (results_dir / f"{stamp}.md").write_text(text + "\n")
        print()
        print(text)
        for run in report["runs"]:
            for note in run["notes"]:
                print(f"note (N={run['n']:,}): {note}")
        for note in report["notes"]:
            print(f"note: {note}")
        print(f"\nresults: {results_dir / (stamp + '.json')} (logs, run_results and profiles in {run_dir})")
    failed = [c for run in report["runs"] for c in run["checks"] if not c["match"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
