"""Deterministic synthetic usage, generated inside DuckDB, and the bench's own customers and contracts.

The data (all valid, so every implementation bills the same events):

- `customers` customers (default 5,000), cus_00001.., each with one contract starting 2026-01-01, monthly,
  calendar-anchored, USD, no end; 70 % on rc_standard, 30 % on rc_growth (the project's rate cards).
- Events occur uniformly over 36 days from 2026-03-01; customers are skewed (customer k has a share
  proportional to sqrt(k) - sqrt(k-1), so the largest customers cross tier boundaries at every N).
- Mix: 70 % `tokens` ({"tokens", "model": large/small/medium, "direction": input/output}),
  25 % `api_request` ({"user_id", "endpoint"}), 3 % `storage_snapshot` ({"gb": one decimal}),
  2 % `seat_count` ({"seats"}): all six billable metrics of the project's seeds.
- Each event lands 0-10 min after it occurred. 1 % of events are sent again: 80 % of the re-sends land
  within 6 hours, 20 % between 6 hours and 5 days later; one re-send in ten carries a different payload
  (a conflicting duplicate: the first copy must win).
- The raw stream is split by ingested_at: `history` is everything landed up to T0 = 2026-04-05 00:00
  (the full build's as_of), `new_day` everything landed in the next 24 hours (the incremental step's
  as_of is T1 = 2026-04-06 00:00). Rows are stored in ingested_at order, as a loader appends them.

The number of unique events is chosen so that `history` holds about N raw rows.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb

START = "2026-03-01 00:00:00"
TOTAL_DAYS = 36
T0 = "2026-04-05 00:00:00"  # as_of of the full build: end of the history
T1 = "2026-04-06 00:00:00"  # as_of of the incremental step: one more day landed
CONTRACT_START = "2026-01-01 00:00:00"
DEFAULT_CUSTOMERS = 5000
GENERATOR_VERSION = 3  # bump when the generated data change, so cached files are rebuilt

RAW_COLUMNS = "event_id, customer_id, event_type, occurred_at, properties, ingested_at"


def unique_events_for(n_history: int) -> int:
    # history ~ unique * 35/36 (events of the first 35 days) * 1.01 (re-sends)
    return max(1, round(n_history * TOTAL_DAYS / (TOTAL_DAYS - 1) / 1.01))


def generation_sql(n_history: int, customers: int) -> list[str]:
    unique = unique_events_for(n_history)
    span_us = TOTAL_DAYS * 86_400_000_000
    return [
        f"""
        create or replace table unique_events as
        select
            i,
            timestamp '{START}' + to_microseconds(cast((hash(i, 1) % {span_us // 1000}) * 1000 as bigint))
                as occurred_at,
            1 + cast(floor({customers} * pow((hash(i, 2) % 1000000) / 1000000.0, 2)) as integer) as customer_idx,
            cast(hash(i, 3) % 1000 as integer) as type_roll,
            hash(i, 4) as h4,
            to_microseconds(cast(hash(i, 5) % 600000000 as bigint)) as ingest_delay,
            md5(cast(i as varchar) || '-bench') as id_hash
        from range({unique}) as t (i)
        """,
        f"""
        create or replace table typed_rows as
        with originals as (
            select *, ingest_delay as landing_delay, 0 as variant from unique_events
        ),
        resends as (
            select
                *,
                ingest_delay + case
                    when hash(i, 7) % 100 < 80
                        then to_microseconds(cast(60000000 + hash(i, 8) % (6 * 3600000000) as bigint))
                    else to_microseconds(cast(6 * 3600000000 + hash(i, 8) % (114 * 3600000000) as bigint))
                end as landing_delay,
                case when hash(i, 9) % 10 = 0 then 1 else 0 end as variant
            from unique_events
            where hash(i, 6) % 100 = 0
        ),
        all_rows as (
            select * exclude (landing_delay), occurred_at + landing_delay as ingested_at from originals
            union all
            select * exclude (landing_delay), occurred_at + landing_delay as ingested_at from resends
        )
        select
            i,
            variant,
            customer_idx,
            occurred_at,
            ingested_at,
            id_hash,
            case
                when type_roll < 700 then 'tokens'
                when type_roll < 950 then 'api_request'
                when type_roll < 980 then 'storage_snapshot'
                else 'seat_count'
            end as event_type,
            h4
        from all_rows
        where ingested_at <= timestamp '{T1}'
        """,
        f"""
        create or replace table raw_all as
        select
            substr(id_hash, 1, 8) || '-' || substr(id_hash, 9, 4) || '-' || substr(id_hash, 13, 4) || '-'
                || substr(id_hash, 17, 4) || '-' || substr(id_hash, 21, 12) as event_id,
            'cus_' || lpad(cast(customer_idx as varchar), 5, '0') as customer_id,
            event_type,
            strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%gZ') as occurred_at,
            case event_type
                when 'tokens' then
                    '{{"tokens": ' || cast(1 + h4 % 4000 + variant * 1000 as varchar)
                    || ', "model": "' || case
                        when (h4 >> 20) % 10 < 4 then 'large'
                        when (h4 >> 20) % 10 < 8 then 'small'
                        else 'medium'
                    end
                    || '", "direction": "' || case when (h4 >> 32) % 10 < 6 then 'input' else 'output' end
                    || '"}}'
                when 'api_request' then
                    '{{"user_id": "u_' || cast((h4 >> 8) % (20 + customer_idx % 180) + variant as varchar)
                    || '", "endpoint": "/v1/complete"}}'
                when 'storage_snapshot' then
                    '{{"gb": ' || cast(cast((h4 >> 8) % 20000 + variant * 10 as decimal(18, 0)) / 10
                        as decimal(18, 1)) || '}}'
                else '{{"seats": ' || cast(1 + (h4 >> 8) % 50 + variant as varchar) || '}}'
            end as properties,
            ingested_at
        from typed_rows
        order by ingested_at
        """,
        f"create or replace table history as select * from raw_all where ingested_at <= timestamp '{T0}'",
        f"create or replace table new_day as select * from raw_all where ingested_at > timestamp '{T0}'",
        "drop table unique_events",
        "drop table typed_rows",
        "drop table raw_all",
        f"""
        create or replace table generation_info as
        select {GENERATOR_VERSION} as version, {n_history} as n_requested, {customers} as customers,
               (select count(*) from history) as history_rows,
               (select count(*) from new_day) as new_day_rows
        """,
    ]


def generate(path: Path, n_history: int, customers: int = DEFAULT_CUSTOMERS, memory_limit: str = "4GB",
             force: bool = False) -> dict:
    """Write the generated raw rows to the DuckDB file at `path` (tables history, new_day); cached."""
    if path.exists() and not force:
        try:
            con = duckdb.connect(str(path), read_only=True)
            row = con.execute(
                "select version, n_requested, customers, history_rows, new_day_rows from generation_info"
            ).fetchone()
            con.close()
            if row and row[0] == GENERATOR_VERSION and row[1] == n_history and row[2] == customers:
                return {"history_rows": row[3], "new_day_rows": row[4], "cached": True}
        except duckdb.Error:
            pass
    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    for statement in generation_sql(n_history, customers):
        con.execute(statement)
    history_rows, new_day_rows = con.execute(
        "select history_rows, new_day_rows from generation_info"
    ).fetchone()
    con.close()
    return {"history_rows": history_rows, "new_day_rows": new_day_rows, "cached": False}


def export_parquet(gen_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """history.parquet and new_day.parquet next to the generated file (for the dataframe libraries)."""
    history, new_day = out_dir / "history.parquet", out_dir / "new_day.parquet"
    if history.exists() and new_day.exists() and history.stat().st_mtime >= gen_path.stat().st_mtime:
        return history, new_day
    con = duckdb.connect(str(gen_path), read_only=True)
    con.execute("set enable_progress_bar = false")
    con.execute(f"copy (select * from history) to '{history}' (format parquet, row_group_size 1000000)")
    con.execute(f"copy (select * from new_day) to '{new_day}' (format parquet, row_group_size 1000000)")
    con.close()
    return history, new_day


def copy_raw(target_duckdb: Path, gen_path: Path, table: str, memory_limit: str = "4GB") -> int:
    """Append the generated `table` (history or new_day) to raw.usage_events of a DuckDB file."""
    con = duckdb.connect(str(target_duckdb))
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set enable_progress_bar = false")
    con.execute(f"attach '{gen_path}' as gen (read_only)")
    con.execute("create schema if not exists raw")
    con.execute(
        "create table if not exists raw.usage_events (event_id text, customer_id text, event_type text, "
        "occurred_at text, properties text, ingested_at timestamp)"
    )
    con.execute(f"insert into raw.usage_events ({RAW_COLUMNS}) select {RAW_COLUMNS} from gen.{table}")
    rows = con.execute(f"select count(*) from gen.{table}").fetchone()[0]
    con.execute("checkpoint")
    con.close()
    return rows


# --- reference data: a copy of the dbt project with the bench's customers and contracts -------------

PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests/dbt")
EMPTIED_SEEDS = ("discounts.csv", "price_overrides.csv", "credit_grants.csv", "billing_thresholds.csv",
                 "credit_notes.csv", "rebill_approvals.csv")
# Threshold invoices on every THRESHOLD_EVERY-th contract (recurring, every THRESHOLD_AMOUNT of usage),
# so that the replay of their events in ingestion order is part of what the bench measures.
THRESHOLD_EVERY = 20
THRESHOLD_AMOUNT = "500.00"


def rate_card_of(customer_idx: int) -> str:
    return "rc_standard" if customer_idx % 10 < 7 else "rc_growth"


def make_project_copy(repo: Path, dest: Path, customers: int = DEFAULT_CUSTOMERS) -> Path:
    """Copy the dbt project to `dest` and replace its customer-level seeds with the bench's."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(repo / name, dest / name)
    for name in PROJECT_DIRS:
        if (repo / name).exists():
            shutil.copytree(repo / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    seeds = dest / "seeds"
    with open(seeds / "customers.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "name", "segment", "country", "tax_jurisdiction", "tax_exempt"])
        for k in range(1, customers + 1):
            writer.writerow([f"cus_{k:05d}", f"Bench customer {k}", "bench", "US", "", ""])
    with open(seeds / "contracts.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["contract_id", "customer_id", "rate_card_id", "starts_at", "ends_at", "billing_period",
                         "billing_anchor", "currency", "minimum_commitment", "payment_terms_days"])
        for k in range(1, customers + 1):
            writer.writerow([f"ct_{k:05d}", f"cus_{k:05d}", rate_card_of(k), CONTRACT_START, "", "monthly",
                             "calendar", "USD", "", 30])
    # Alerts on the bench's contracts, so that the alert mart has real work: a spend alert on every
    # contract and a usage alert on input tokens on every third one (thresholds the larger customers cross).
    with open(seeds / "usage_alerts.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["alert_id", "contract_id", "alert_type", "metric_id", "threshold", "currency"])
        for k in range(1, customers + 1):
            writer.writerow([f"al_{k:05d}_spend", f"ct_{k:05d}", "spend", "", "100.00", "USD"])
            if k % 3 == 0:
                writer.writerow([f"al_{k:05d}_tokens", f"ct_{k:05d}", "usage", "input_tokens", "1000000", ""])
    # contract-level reference data of the demo would name contracts (and invoices) that do not exist here
    for name in EMPTIED_SEEDS:
        path = seeds / name
        if path.exists():
            header = path.read_text().splitlines()[0]
            path.write_text(header + "\n")
    with open(seeds / "billing_thresholds.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["contract_id", "amount_due", "recurring"])
        for k in range(THRESHOLD_EVERY, customers + 1, THRESHOLD_EVERY):
            writer.writerow([f"ct_{k:05d}", THRESHOLD_AMOUNT, "true"])
    prices = seeds / "prices.csv"
    with open(prices, newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else []
    if rows:
        kept = [row for row in rows if not row.get("contract_id")]
        with open(prices, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
        kept_ids = {row["price_id"] for row in kept}
        tiers = seeds / "price_tiers.csv"
        with open(tiers, newline="") as handle:
            tier_rows = list(csv.DictReader(handle))
            tier_fields = list(tier_rows[0].keys()) if tier_rows else []
        if tier_rows:
            with open(tiers, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=tier_fields)
                writer.writeheader()
                writer.writerows([row for row in tier_rows if row["price_id"] in kept_ids])
    return dest
