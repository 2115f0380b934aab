"""Run the floor SQL (bench/floor_duckdb.sql or bench/floor_postgres.sql) as one measured process.

    python -m bench.floor --target duckdb --db FILE --step full|incremental --as-of TS --seeds DIR
    python -m bench.floor --target postgres --pg-database NAME --step full --as-of TS --seeds DIR

Writes a JSON file (--timings) with the seconds of every statement, for profiling the floor itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEP_SECTIONS = {
    "full": ("reference", "full", "rate"),
    "incremental": ("reference", "incremental", "rate"),
}


def sections(path: Path) -> dict[str, list[str]]:
    """Statements of each `-- @section NAME` of a SQL file."""
    result: dict[str, list[str]] = {}
    current = None
    buffer: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"--\s*@section\s+(\w+)", line)
        if match:
            current = match.group(1)
            buffer[current] = []
            continue
        if current is not None:
            buffer[current].append(line)
    for name, lines in buffer.items():
        text = "\n".join(lines)
        statements = [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE)]
        result[name] = [s for s in statements if s and not all(
            part.strip().startswith("--") or not part.strip() for part in s.splitlines()
        )]
    return result


def run(target: str, step: str, as_of: str, seeds: str, db: str | None, pg_database: str | None,
        memory_limit: str) -> list[dict]:
    sql_file = HERE / ("floor_duckdb.sql" if target == "duckdb" else "floor_postgres.sql")
    parts = sections(sql_file)
    params = {"as_of": f"timestamp '{as_of.replace('T', ' ').replace('Z', '')}'", "seeds": seeds}
    timings: list[dict] = []
    if target == "duckdb":
        import duckdb

        con = duckdb.connect(db)
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")

        def execute(sql: str) -> None:
            con.execute(sql)

        def finish() -> None:
            con.close()
    else:
        import psycopg2

        from warehouse_billing.warehouse import postgres_settings

        con = psycopg2.connect(**{**postgres_settings(), "dbname": pg_database})
        con.autocommit = True
        cursor = con.cursor()
        cursor.execute("set time zone 'UTC'")

        def execute(sql: str) -> None:
            cursor.execute(sql)

        def finish() -> None:
            con.close()

        seeds_sql = load_seed_tables_postgres(cursor, Path(seeds))
        timings.append(seeds_sql)
    for section in STEP_SECTIONS[step]:
        for statement in parts[section]:
            sql = statement.format(**params)
            start = time.perf_counter()
            try:
                execute(sql)
            except Exception:
                print(f"failed statement of section {section}:\n{sql}", file=sys.stderr)
                raise
            first_line = next(
                (line.strip() for line in sql.splitlines() if line.strip() and not line.strip().startswith("--")),
                "",
            )
            timings.append({"section": section, "statement": first_line[:100],
                            "seconds": round(time.perf_counter() - start, 3)})
    finish()
    return timings


def load_seed_tables_postgres(cursor, seeds: Path) -> dict:
    """Postgres cannot read a CSV file from the client side in SQL: load the three seeds as text tables."""
    start = time.perf_counter()
    cursor.execute("create schema if not exists fl")
    for name in ("contracts", "prices", "price_tiers"):
        path = seeds / f"{name}.csv"
        header = path.read_text().splitlines()[0].split(",")
        cursor.execute(f"drop table if exists fl.seed_{name}")
        cursor.execute(f"create table fl.seed_{name} ({', '.join(f'{c} text' for c in header)})")
        with open(path) as handle:
            cursor.copy_expert(f"copy fl.seed_{name} from stdin with (format csv, header true)", handle)
    return {"section": "reference", "statement": "copy seeds", "seconds": round(time.perf_counter() - start, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--db")
    parser.add_argument("--pg-database")
    parser.add_argument("--step", choices=tuple(STEP_SECTIONS), required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--timings")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    timings = run(args.target, args.step, args.as_of, args.seeds, args.db, args.pg_database, args.memory_limit)
    total = time.perf_counter() - start
    if args.timings:
        Path(args.timings).write_text(json.dumps({"seconds": round(total, 3), "statements": timings}, indent=1))
    print(f"floor {args.target} {args.step}: {total:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
