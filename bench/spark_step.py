"""The bench's Spark side steps, each in a process of its own (one Spark session, one Derby metastore user).

    python -m bench.spark_step land --parquet history.parquet     # append to raw.usage_events
    python -m bench.spark_step totals --sql "..." --out totals.json

BILLING_SPARK_DIR names the warehouse folder (as for dbt's `spark` target): the embedded Derby metastore
admits one process at a time, so landing, dbt and the totals query run one after another, never together.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.generate import RAW_COLUMNS
from warehouse_billing.warehouse import RAW_SCHEMA, RAW_TABLE_DDL_SPARK, spark_session


def land(parquet: Path) -> int:
    """Append one generated Parquet file to raw.usage_events, as the loader's staged insert does."""
    spark = spark_session()
    spark.sql(f"create schema if not exists {RAW_SCHEMA}")
    spark.sql(RAW_TABLE_DDL_SPARK)
    staged = spark.read.parquet(str(parquet))
    staged.createOrReplaceTempView("bench_landing")
    spark.sql(
        f"insert into {RAW_SCHEMA}.usage_events ({RAW_COLUMNS}) "
        f"select event_id, customer_id, event_type, occurred_at, properties, cast(ingested_at as timestamp) "
        f"from bench_landing"
    )
    return staged.count()


def totals(sql: str) -> list[list[str]]:
    """Rows of `sql` as text (decimals keep every digit: str of a Python Decimal)."""
    spark = spark_session()
    return [[None if value is None else str(value) for value in row] for row in spark.sql(sql).collect()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    landing = sub.add_parser("land")
    landing.add_argument("--parquet", required=True)
    query = sub.add_parser("totals")
    query.add_argument("--sql", required=True)
    query.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "land":
        print(f"landed {land(Path(args.parquet)):,} rows")
    else:
        rows = totals(args.sql)
        Path(args.out).write_text(json.dumps(rows))
        print(f"{len(rows):,} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
