"""The same dbt project on Apache Spark gives DuckDB's invoices, row for row (SPEC §6.5).

Spark runs in this process (``support.spark``): one session for dbt, the loader and the queries. Two
data sets are built on it, each compared with a DuckDB build of the same rows, mart by mart:

- the contract scenario, landed in two loads and built incrementally (the second load adds rows to
  a day the first one already holds, re-sends an event, brings a late event for an older day and two
  bad rows), with every dbt unit test run on Spark in the first build; then published;
- a deterministic sample of the demo data (all 300 customers at 5 % of their usage, about 10,400
  events), built in one full run.

DuckDB's full builds are the reference: a Spark incremental build equal to them is equal to a Spark
full refresh too, which the sample shows. The Spark part of the suite takes about six minutes on two
cores, most of it dbt's per-model round trips to Spark.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from support.scenario import AS_OF, scenario_events, scenario_project
from support.spark import SparkWarehouse
from support.warehouse import DEMO_AS_OF, Warehouse, land_rows
from warehouse_billing.demo_data import generate_events

pytestmark = pytest.mark.warehouse

# Every mart the billing build writes; the published ones are compared after a publication.
BILLING_MARTS = (
    "invoices",
    "invoice_lines",
    "credit_ledger",
    "quarantined_usage_events",
    "usage_event_reconciliation",
)
BUILD_WITHOUT_PUBLICATION = ("build", "--exclude", "tag:publication", "test_type:unit")
# Spark answers each dbt node in about a second: the data tests run on Spark once, in the scenario's
# first build (with the dbt unit tests); the other Spark builds load seeds and build models only.
BUILD_MODELS_ONLY = ("build", "--exclude", "tag:publication", "test_type:unit", "test_type:data")
SECOND_LOAD_STARTS = datetime(2026, 2, 12, 9, 30)


def scenario_loads() -> tuple[list[dict], list[dict]]:
    """The scenario's rows split into two loads, the second with the rows that test a batch's edges."""
    rows = scenario_events()
    first = [row for row in rows if row["ingested_at"] < SECOND_LOAD_STARTS]
    second = [row for row in rows if row["ingested_at"] >= SECOND_LOAD_STARTS]
    assert first and second
    # cus_a's tokens of 2026-02-12 10:00 land on the day the first load's newest rows (09:01) are on
    newest_of_first = max(row["ingested_at"] for row in first)
    assert any(row["ingested_at"].date() == newest_of_first.date() for row in second)
    second += [
        dict(first[0], ingested_at=datetime(2026, 2, 12, 10, 30)),  # re-sent: a duplicate
        {
            "event_id": "late-cus_c-1", "customer_id": "cus_c", "event_type": "api_call",
            "occurred_at": "2026-01-25T09:00:00Z", "properties": "{}",
            "ingested_at": datetime(2026, 2, 12, 10, 40),  # 18 days after it occurred
        },
        {
            "event_id": "bad-json-1", "customer_id": "cus_a", "event_type": "api_call",
            "occurred_at": "2026-02-12T10:00:00Z", "properties": "{not json",
            "ingested_at": datetime(2026, 2, 12, 10, 50),
        },
        {
            "event_id": "bad-time-1", "customer_id": "cus_a", "event_type": "api_call",
            "occurred_at": "yesterday", "properties": "{}",
            "ingested_at": datetime(2026, 2, 12, 10, 50),
        },
    ]
    return first, second


def column_names(warehouse, mart: str) -> list[str]:
    if warehouse.target == "spark":
        return list(warehouse.session.table(f"{warehouse.schema}.{mart}").columns)
    connection = warehouse.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(f"select * from {warehouse.schema}.{mart} limit 0")
        return [description[0] for description in cursor.description]
    finally:
        connection.close()


def assert_same_marts(spark: SparkWarehouse, duckdb: Warehouse, marts=BILLING_MARTS) -> None:
    """Same columns (Spark stores a partition column last, so compared by name) and same rows."""
    for mart in marts:
        columns = column_names(duckdb, mart)
        assert sorted(column_names(spark, mart)) == sorted(columns), mart
        select = f"select {', '.join(columns)} from {{schema}}.{mart}"
        spark_rows = sorted(spark.query(select), key=repr)
        duckdb_rows = sorted(duckdb.query(select), key=repr)
        assert spark_rows, f"{mart} is empty: the comparison would prove nothing"
        missing = [row for row in duckdb_rows if row not in spark_rows]
        extra = [row for row in spark_rows if row not in duckdb_rows]
        assert spark_rows == duckdb_rows, f"{mart}: only on DuckDB {missing[:3]}, only on Spark {extra[:3]}"


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    warehouse = SparkWarehouse(tmp_path_factory.mktemp("spark"))
    yield warehouse
    warehouse.session.stop()


@pytest.fixture(scope="module")
def scenario_on_duckdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, object]:
    work = tmp_path_factory.mktemp("scenario_duckdb")
    project = scenario_project(work)
    first, second = scenario_loads()
    warehouse = Warehouse("duckdb", work)
    land_rows(warehouse, first + second)
    warehouse.dbt(*BUILD_WITHOUT_PUBLICATION, as_of=AS_OF, project_dir=project)
    return warehouse, project


@pytest.fixture(scope="module")
def scenario_on_spark(spark: SparkWarehouse, tmp_path_factory: pytest.TempPathFactory):
    project = scenario_project(tmp_path_factory.mktemp("scenario_spark"))
    first, second = scenario_loads()
    spark.reset()
    spark.land_rows(first)
    # the first build also runs every dbt unit test on Spark
    spark.dbt("build", "--exclude", "tag:publication", as_of=AS_OF, project_dir=project)
    spark.land_rows(second)
    spark.dbt(*BUILD_MODELS_ONLY, as_of=AS_OF, project_dir=project)
    return spark, project


def test_scenario_loaded_twice_and_built_incrementally_on_spark_equals_duckdb(scenario_on_spark, scenario_on_duckdb):
    spark, _ = scenario_on_spark
    duckdb, _ = scenario_on_duckdb
    assert_same_marts(spark, duckdb)
    statuses = dict(spark.query(
        "select event_status, count(*) from {schema}.int_usage_events_classified group by event_status"))
    assert statuses["duplicate"] == 1 and statuses["quarantined"] == 2, statuses


def test_spark_overwrites_partitions_of_the_usage_models(scenario_on_spark):
    """The second build replaced whole days (insert_overwrite on partitions), not the whole table."""
    spark, _ = scenario_on_spark
    for model, column in (("int_usage_events_classified", "ingestion_date"),
                          ("int_usage_daily_aggregates", "usage_date"),
                          ("usage_event_reconciliation", "ingestion_date")):
        partitions = spark.query(f"show partitions {{schema}}.{model}")
        assert len(partitions) > 1, f"{model} is not partitioned by {column}"
    classified_on_shared_day = spark.query(
        "select count(*) from {schema}.int_usage_events_classified where ingestion_date = date'2026-02-12'")
    rows_of_shared_day = [row for load in scenario_loads() for row in load
                          if row["ingested_at"].date().isoformat() == "2026-02-12"]
    assert classified_on_shared_day == [(len(rows_of_shared_day),)]


def test_scenario_publication_on_spark_equals_duckdb(scenario_on_spark, scenario_on_duckdb):
    spark, spark_project = scenario_on_spark
    duckdb, duckdb_project = scenario_on_duckdb
    spark.dbt("run", "--select", "tag:publication", as_of=AS_OF, project_dir=spark_project, publish=True)
    duckdb.dbt("run", "--select", "tag:publication", as_of=AS_OF, project_dir=duckdb_project, publish=True)
    assert_same_marts(spark, duckdb, ("published_invoices", "published_invoice_lines"))
    numbers = [number for (number,) in spark.query(
        "select invoice_number from {schema}.published_invoices order by invoice_number")]
    assert numbers == list(range(1, len(numbers) + 1))


def test_exact_decimal_arithmetic_runs_in_every_spark_build(scenario_on_spark):
    """The singular test exact_decimal_arithmetic_at_its_limits (decision 40) ran in the scenario's
    first build on Spark, which would have failed on a lost digit; here it runs once more on its own."""
    spark, project = scenario_on_spark
    result = spark.dbt("test", "--select", "exact_decimal_arithmetic_at_its_limits", as_of=AS_OF, project_dir=project)
    assert "exact_decimal_arithmetic_at_its_limits: pass" in result.stdout


def test_decimal_overflow_on_spark_is_null_never_a_wrong_number(scenario_on_spark):
    """Beyond 38 digits Spark gives NULL (dbt-spark keeps ANSI mode off, which would raise): the
    not_null tests on invoice_lines.amount and invoices.total_due turn that into a failed build."""
    spark, project = scenario_on_spark
    result = spark.dbt(
        "show", "--inline",
        "select cast(99999999999999999.9 as decimal(38, 10)) * cast(99999999999999999.9 as decimal(38, 10)) as value",
        as_of=AS_OF, project_dir=project,
    )
    assert result.show_rows == [(None,)]


# The demo sample comes last: it empties the Spark warehouse the scenario tests above read.
DEMO_SAMPLE_SCALE = 0.05


@pytest.fixture(scope="module")
def demo_sample() -> list[dict]:
    return generate_events(scale=DEMO_SAMPLE_SCALE)


def test_demo_sample_full_build_on_spark_equals_duckdb(spark: SparkWarehouse, demo_sample, tmp_path_factory):
    duckdb = Warehouse("duckdb", tmp_path_factory.mktemp("demo_duckdb"))
    land_rows(duckdb, demo_sample)
    duckdb.dbt(*BUILD_WITHOUT_PUBLICATION, as_of=DEMO_AS_OF)

    spark.reset()
    spark.land_rows(demo_sample)
    spark.dbt(*BUILD_MODELS_ONLY, as_of=DEMO_AS_OF)

    assert_same_marts(spark, duckdb)
    (invoices,) = spark.query("select count(*) from {schema}.invoices")
    assert invoices[0] > 500, "the sample should bill most of the demo's contracts"
