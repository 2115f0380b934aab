"""Connection helpers shared by the loader, the demo and the Dagster code.

Settings come from environment variables only (the same ones profiles.yml reads), so a developer,
CI and a deployment point the Python code and dbt at the same warehouse without editing files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TARGETS = ("duckdb", "postgres", "spark")
DEFAULT_TARGET = "duckdb"

RAW_SCHEMA = "raw"
RAW_TABLE = "raw.usage_events"

# Everything is text except ingested_at: the raw layer keeps values as they arrived and staging types them.
# The provenance columns after ingested_at are written by this project's loaders (decision 50): the load
# a row arrived in (load_id, one row of raw.usage_loads) and, for a Kafka message, where it was read.
# Rows landed by other tools leave them empty.
RAW_TABLE_DDL = """
create table if not exists raw.usage_events (
    event_id text,
    customer_id text,
    event_type text,
    occurred_at text,
    properties text,
    ingested_at timestamp,
    load_id text,
    source_topic text,
    source_partition integer,
    source_offset bigint
)
"""

# The columns added to raw.usage_events after its first release, with their type on each warehouse: a
# raw table created before them gains them (empty on its old rows) the next time a loader starts.
RAW_PROVENANCE_COLUMNS = {
    "load_id": ("text", "string"),
    "source_topic": ("text", "string"),
    "source_partition": ("integer", "int"),
    "source_offset": ("bigint", "bigint"),
}

# One row per load and ingestion day (a replay of archived rows spans many days; a file or a Kafka batch
# stamped at its load time has one): written by the loader in the same transaction as the load's rows,
# so a run of dbt sees a load whole or not at all, and can tell which loads it has not processed yet
# whatever their ingested_at (macros/usage_batches.sql, decision 50). Per day, because Dagster processes
# one ingestion day per partition: a replay is processed day by day, like any other rows.
LOADS_TABLE = "raw.usage_loads"
LOADS_TABLE_DDL = """
create table if not exists raw.usage_loads (
    load_id text not null,
    ingestion_date date not null,
    source text not null,
    row_count bigint not null,
    first_ingested_at timestamp,
    last_ingested_at timestamp,
    loaded_at timestamp not null
)
"""

# Spark has no `text` type, and its tables name a file format: Parquet, which every Spark reads.
RAW_TABLE_DDL_SPARK = """
create table if not exists raw.usage_events (
    event_id string,
    customer_id string,
    event_type string,
    occurred_at string,
    properties string,
    ingested_at timestamp,
    load_id string,
    source_topic string,
    source_partition int,
    source_offset bigint
) using parquet
"""

LOADS_TABLE_DDL_SPARK = """
create table if not exists raw.usage_loads (
    load_id string,
    ingestion_date date,
    source string,
    row_count bigint,
    first_ingested_at timestamp,
    last_ingested_at timestamp,
    loaded_at timestamp
) using parquet
"""


def configured_target() -> str:
    """The warehouse the environment names (BILLING_TARGET, as profiles.yml reads it; default duckdb)."""
    return os.environ.get("BILLING_TARGET") or DEFAULT_TARGET


def duckdb_path() -> str:
    """Path of the DuckDB warehouse file (BILLING_DUCKDB_PATH, default /tmp/warehouse_billing.duckdb)."""
    return os.environ.get("BILLING_DUCKDB_PATH") or "/tmp/warehouse_billing.duckdb"


def postgres_settings() -> dict[str, Any]:
    """psycopg2.connect() keyword arguments built from the BILLING_PG_* environment variables."""
    return {
        "host": os.environ.get("BILLING_PG_HOST") or "127.0.0.1",
        "port": int(os.environ.get("BILLING_PG_PORT") or 5432),
        "user": os.environ.get("BILLING_PG_USER") or "postgres",
        "password": os.environ.get("BILLING_PG_PASSWORD", ""),
        "dbname": os.environ.get("BILLING_PG_DATABASE") or "billing",
    }


def marts_schema(target: str) -> str:
    """The schema dbt builds the marts in (profiles.yml): main on DuckDB, BILLING_PG_SCHEMA (default
    analytics) on Postgres."""
    return "main" if target == "duckdb" else os.environ.get("BILLING_PG_SCHEMA") or "analytics"


def spark_dir() -> str:
    """Folder of the local Spark warehouse and its metastore (BILLING_SPARK_DIR, as profiles.yml reads it)."""
    return os.environ.get("BILLING_SPARK_DIR") or "/tmp/warehouse_billing_spark"


def spark_settings() -> dict[str, str]:
    """The Spark session settings of the `spark` target in profiles.yml, for Python in the same process.

    dbt-spark's session method calls SparkSession.builder.getOrCreate(): the first caller in a process
    starts Spark with its settings and every later caller (dbt, the loader, a test) shares that session.
    """
    folder = spark_dir()
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": f"{folder}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.driver.memory": os.environ.get("BILLING_SPARK_DRIVER_MEMORY") or "4g",
        "spark.sql.shuffle.partitions": os.environ.get("BILLING_SPARK_SHUFFLE_PARTITIONS") or "4",
        "spark.sql.decimalOperations.allowPrecisionLoss": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def spark_session() -> Any:
    """The process's Spark session (with Hive metastore support, as dbt-spark opens it)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_settings().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def check_target(target: str) -> str:
    """Return `target` if it is a supported warehouse, else raise ValueError."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    return target


def connect(target: str) -> Any:
    """Open a DB-API connection to the DuckDB file or the Postgres database of the environment.

    Spark has no DB-API connection here: its callers use spark_session().
    """
    check_target(target)
    if target == "spark":
        raise ValueError("Spark is reached through spark_session(), not a DB-API connection")
    if target == "duckdb":
        import duckdb

        path = duckdb_path()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(path)

    import psycopg2

    conn = psycopg2.connect(**postgres_settings())
    conn.set_client_encoding("UTF8")
    # Plain `timestamp` columns hold UTC wall-clock time; make the session agree so now() and casts do too.
    with conn.cursor() as cur:
        cur.execute("set time zone 'UTC'")
    conn.commit()
    return conn


def warehouse_busy(error: Exception) -> bool:
    """Whether ``error`` is DuckDB refusing a file another process holds (a run writing it): the
    sensors then skip their tick and try again at the next one."""
    return "duckdb" in type(error).__module__ and "lock" in str(error).lower()


def ensure_raw_table(conn: Any, target: str) -> None:
    """Create schema `raw`, table `raw.usage_events` and table `raw.usage_loads` if they do not exist
    yet, and add the provenance columns to a raw table created before them (committed).

    On Spark `conn` is the Spark session.
    """
    check_target(target)
    if target == "spark":
        conn.sql(f"create database if not exists {RAW_SCHEMA}")
        conn.sql(RAW_TABLE_DDL_SPARK)
        conn.sql(LOADS_TABLE_DDL_SPARK)
        present = {field.name.lower() for field in conn.table(RAW_TABLE).schema.fields}
        missing = [f"{name} {types[1]}" for name, types in RAW_PROVENANCE_COLUMNS.items() if name not in present]
        if missing:
            conn.sql(f"alter table {RAW_TABLE} add columns ({', '.join(missing)})")
        return
    # Only what is missing is created or added, read from the catalog first: ALTER TABLE takes an
    # exclusive lock even when it has nothing to do (every loader start would queue behind any open
    # load), and Postgres refuses `create schema if not exists` to a loader role without CREATE on the
    # database even when the schema exists (billing_loader, decision 53).
    catalog = (
        "select table_name, column_name from information_schema.columns "
        f"where table_schema = '{RAW_SCHEMA}' and table_name in ('usage_events', 'usage_loads')"
    )
    if target == "duckdb":
        for statement in _missing_raw_statements(conn.execute(catalog).fetchall()):
            conn.execute(statement)
        return
    with conn.cursor() as cur:
        cur.execute(catalog)
        for statement in _missing_raw_statements(cur.fetchall()):
            cur.execute(statement)
    conn.commit()


def _missing_raw_statements(catalog_rows: list[tuple[str, str]]) -> list[str]:
    """The statements that create what the catalog rows (table, column) of schema raw lack."""
    tables: dict[str, set[str]] = {}
    for table, column in catalog_rows:
        tables.setdefault(table, set()).add(column)
    statements = []
    if not tables:
        statements.append(f"create schema if not exists {RAW_SCHEMA}")
    if "usage_events" not in tables:
        statements.append(RAW_TABLE_DDL)
    if "usage_loads" not in tables:
        statements.append(LOADS_TABLE_DDL)
    return statements + _missing_column_statements(tables.get("usage_events", set(RAW_PROVENANCE_COLUMNS)))


def _missing_column_statements(present: set[str]) -> list[str]:
    return [
        f"alter table {RAW_TABLE} add column {name} {types[0]}"
        for name, types in RAW_PROVENANCE_COLUMNS.items()
        if name not in present
    ]


# The Kafka consumer's own tables (warehouse_billing.kafka_consumer, decision 51). Written in the same
# transaction as the batch's raw rows: the offsets say which messages already landed (the warehouse, not
# Kafka, is the record of that), the dead letters keep the messages that are not text at all.
KAFKA_OFFSETS_TABLE = "raw.usage_kafka_offsets"
KAFKA_OFFSETS_TABLE_DDL = """
create table if not exists raw.usage_kafka_offsets (
    consumer_group text not null,
    topic text not null,
    partition integer not null,
    next_offset bigint not null,
    load_id text,
    updated_at timestamp not null,
    primary key (consumer_group, topic, partition)
)
"""
DEAD_LETTERS_TABLE = "raw.usage_dead_letters"
DEAD_LETTERS_TABLE_DDL = """
create table if not exists raw.usage_dead_letters (
    source_topic text not null,
    source_partition integer not null,
    source_offset bigint not null,
    message_key_base64 text,
    message_value_base64 text,
    error text not null,
    received_at timestamp not null,
    load_id text not null
)
"""


def ensure_kafka_tables(conn: Any, target: str) -> None:
    """Create the raw tables (ensure_raw_table) and the Kafka consumer's offsets and dead-letter tables
    if they do not exist yet (committed). DuckDB and Postgres only: the consumer does not land on Spark."""
    check_target(target)
    if target == "spark":
        raise ValueError(
            "the Kafka consumer lands into DuckDB or Postgres, not Spark: on Spark read the topic with "
            "Structured Streaming's Kafka source into raw.usage_events, or land files with "
            "`python -m warehouse_billing.loader --target spark`"
        )
    ensure_raw_table(conn, target)
    if target == "duckdb":
        for statement in (KAFKA_OFFSETS_TABLE_DDL, DEAD_LETTERS_TABLE_DDL):
            conn.execute(statement)
        return
    with conn.cursor() as cur:
        for statement in (KAFKA_OFFSETS_TABLE_DDL, DEAD_LETTERS_TABLE_DDL):
            cur.execute(statement)
    conn.commit()

