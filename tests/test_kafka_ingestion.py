"""Streaming ingestion from Kafka (warehouse_billing.kafka_consumer) on librdkafka's mock cluster.

Each message lands once: batches land in one warehouse transaction with their offsets, Kafka's offsets
are committed after it, a consumer starts at the warehouse's offsets and skips what landed already.
Each guarantee has a test that fails when it is broken (the mutations tried are in decision 51). The
last test proves "billed once" end to end: the contract scenario streamed through Kafka, with producer
re-sends, a malformed message and a crash between the two commits, then one dbt build: every event is
accepted once and the invoices bill exactly the events' quantities. Only that test builds the dbt
project (marker `warehouse`); the others need the mock cluster and a warehouse's raw tables only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_INVALID, Producer, TopicPartition
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context
from support.scenario import AS_OF, scenario_events, scenario_project
from support.warehouse import Warehouse

from warehouse_billing.kafka_consumer import BatchResult, KafkaIngestor, KafkaSettings, consume
from warehouse_billing.kafka_mock import MockKafkaCluster
from warehouse_billing.loader import DATA_COLUMNS, load_files
from warehouse_billing.warehouse import connect

# Short group timings, so a rebalance takes half a second on the mock (it waits session timeout - 1 s).
# An empty fetch waits fetch.wait.max.ms on the mock: keep it short too.
TEST_CLIENT_SETTINGS = {
    "session.timeout.ms": "1500", "heartbeat.interval.ms": "100", "fetch.wait.max.ms": "100",
    "log_level": "3",
}


# A process that opens a DuckDB file read-write and keeps it, as a Dagster run writing it would.
HOLD_DUCKDB_FILE = (
    "import duckdb, sys, time; connection = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
    "time.sleep(60)"
)


class Crash(Exception):
    """A consumer dying between the warehouse commit and the Kafka commit."""


@pytest.fixture(scope="module")
def kafka() -> Iterator[MockKafkaCluster]:
    with MockKafkaCluster() as cluster:
        yield cluster


def new_topic(kafka: MockKafkaCluster, partitions: int) -> str:
    name = f"usage-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(name, partitions)
    return name


def settings_for(
    kafka: MockKafkaCluster, topic: str, group: str | None = None, batch_size: int = 1000
) -> KafkaSettings:
    """Settings of a consumer of `topic`, in the group `group` (default: one named after the topic)."""
    return KafkaSettings(
        bootstrap_servers=kafka.bootstrap_servers, topic=topic, group_id=group or f"billing-{topic}",
        batch_size=batch_size, batch_timeout_seconds=0.2, client_settings=TEST_CLIENT_SETTINGS,
    )


def produce(kafka: MockKafkaCluster, topic: str, values: list[bytes | None], partitions: int,
            keys: list[bytes | None] | None = None) -> list[tuple[int, int]]:
    """Send `values` round-robin over the partitions; returns each one's (partition, offset)."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 5, "log_level": 3})
    placed: dict[int, tuple[int, int]] = {}

    def delivered(index: int):
        def report(error: Any, message: Any) -> None:
            assert error is None, error
            placed[index] = (message.partition(), message.offset())
        return report

    for index, value in enumerate(values):
        key = keys[index] if keys else None
        producer.produce(topic, value=value, key=key, partition=index % partitions,
                         on_delivery=delivered(index))
    assert producer.flush(10) == 0
    return [placed[index] for index in range(len(values))]


def event(number: int, prefix: str = "evt") -> dict[str, Any]:
    return {
        "event_id": f"{prefix}_{number:05d}",
        "customer_id": f"cus_{number % 7}",
        "event_type": "tokens",
        "occurred_at": "2026-11-03T10:00:00Z",
        "properties": {"tokens": number, "price": 12.50, "note": "Café 日本"},
    }


def event_text(number: int, prefix: str = "evt") -> bytes:
    # Hand-written JSON: digits as sent (12.50), non-ASCII raw, as a producer would send it.
    return (
        f'{{"event_id": "{prefix}_{number:05d}", "customer_id": "cus_{number % 7}", "event_type": "tokens", '
        f'"occurred_at": "2026-11-03T10:00:00Z", "properties": {{"tokens": {number}, "price": 12.50, '
        f'"note": "Café 日本"}}}}'
    ).encode()


def query(target: str, sql: str, parameters: tuple = ()) -> list[tuple]:
    conn = connect(target)
    try:
        if target == "duckdb":
            return conn.execute(sql.replace("%s", "?"), list(parameters)).fetchall()
        with conn.cursor() as cur:
            cur.execute(sql, parameters)
            return cur.fetchall()
    finally:
        conn.close()


def kafka_rows(target: str, topic: str) -> list[tuple]:
    """(partition, offset) of every raw row read from `topic`."""
    return query(target, "select source_partition, source_offset from raw.usage_events "
                         "where source_topic = %s order by 1, 2", (topic,))


def committed(ingestor: KafkaIngestor, partitions: int) -> dict[int, int]:
    topic = ingestor.settings.topic
    found = ingestor.consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    return {tp.partition: tp.offset for tp in found}


def drain(ingestor: KafkaIngestor, results: list[BatchResult] | None = None, messages: int = 0) -> None:
    """Consume until `messages` messages came, then until the topic has been quiet for a moment (so a
    message landed twice would show)."""
    seen: list[BatchResult] = []

    def keep(result: BatchResult) -> None:
        seen.append(result)
        if results is not None:
            results.append(result)

    consume(ingestor, max_seconds=20, on_batch=keep,
            should_stop=lambda: sum(result.messages for result in seen) >= messages)
    consume(ingestor, idle_seconds=0.3, max_seconds=20, on_batch=keep)


# --- landing -----------------------------------------------------------------------------------------


def test_messages_land_once_like_file_rows_with_offsets_and_one_load_per_batch(
    warehouse_target: str, kafka: MockKafkaCluster, tmp_path: Path
) -> None:
    topic, count = new_topic(kafka, 3), 150
    placed = produce(kafka, topic, [event_text(n) for n in range(count)], partitions=3)
    results: list[BatchResult] = []
    with KafkaIngestor(settings_for(kafka, topic, batch_size=40), warehouse_target) as ingestor:
        drain(ingestor, results, messages=count)
        assert committed(ingestor, 3) == {p: count // 3 for p in range(3)}

    assert kafka_rows(warehouse_target, topic) == sorted(placed)
    assert sum(result.rows for result in results) == count and len(results) >= 4  # batches of at most 40
    # One raw.usage_loads row per batch, counting exactly that batch's rows.
    loads = query(warehouse_target, "select l.load_id, l.row_count, count(e.load_id) "
                                    "from raw.usage_loads as l left join raw.usage_events as e "
                                    "on e.load_id = l.load_id group by 1, 2")
    assert sorted(load_id for load_id, _, _ in loads) == sorted(result.load_id for result in results)
    assert all(row_count == landed for _, row_count, landed in loads)
    assert dict(query(warehouse_target, "select partition, next_offset from raw.usage_kafka_offsets "
                                        "where topic = %s", (topic,))) == {
        p: count // 3 for p in range(3)
    }
    # A message and a file line of the same event land as the same row.
    path = tmp_path / "same_events.jsonl"
    path.write_bytes(b"".join(event_text(n) + b"\n" for n in range(count)))
    assert all(result.ok for result in load_files([path], target=warehouse_target))
    columns = ", ".join(DATA_COLUMNS)
    from_kafka = query(warehouse_target, f"select {columns} from raw.usage_events where source_topic = %s "
                                         "order by event_id", (topic,))
    from_file = query(warehouse_target, f"select {columns} from raw.usage_events where source_topic is null "
                                        "order by event_id")
    assert from_kafka == from_file
    assert from_kafka[0][4] == '{"tokens":0,"price":12.50,"note":"Café 日本"}'


def test_a_crash_between_the_warehouse_and_kafka_commits_lands_nothing_twice(
    warehouse_target: str, kafka: MockKafkaCluster
) -> None:
    topic, count = new_topic(kafka, 3), 90
    placed = produce(kafka, topic, [event_text(n) for n in range(count)], partitions=3)

    def crash(result: BatchResult) -> None:
        raise Crash(f"killed after landing load {result.load_id}")

    first = KafkaIngestor(settings_for(kafka, topic, batch_size=30), warehouse_target, between_commits=crash)
    with pytest.raises(Crash):
        consume(first, max_seconds=10)
    landed_before = len(kafka_rows(warehouse_target, topic))
    assert landed_before == 30
    assert set(committed(first, 3).values()) == {OFFSET_INVALID}  # Kafka never heard of that batch
    first.close()

    results: list[BatchResult] = []
    with KafkaIngestor(settings_for(kafka, topic, batch_size=30), warehouse_target) as second:
        drain(second, results, messages=count - landed_before)
        assert committed(second, 3) == {p: count // 3 for p in range(3)}, [
            (r.messages, r.next_offsets, r.kafka_commit_error) for r in results]
    assert kafka_rows(warehouse_target, topic) == sorted(placed)
    # The new consumer started at the warehouse's offsets: it never even read the crashed batch again.
    assert sum(result.messages for result in results) == count - landed_before
    assert sum(result.skipped for result in results) == 0


def test_a_late_batch_of_a_consumer_that_lost_its_partitions_is_skipped(
    warehouse_target: str, kafka: MockKafkaCluster
) -> None:
    topic, count = new_topic(kafka, 2), 40
    produce(kafka, topic, [event_text(n) for n in range(count)], partitions=2)
    zombie = KafkaIngestor(settings_for(kafka, topic), warehouse_target)
    stale_batch = []
    deadline = time.monotonic() + 10
    while len(stale_batch) < count and time.monotonic() < deadline:
        stale_batch += zombie.fetch()
    assert len(stale_batch) == count
    zombie.consumer.close()  # it stalls, the group moves on without it; its warehouse connection stays

    with KafkaIngestor(settings_for(kafka, topic), warehouse_target) as successor:
        drain(successor, messages=count)
    late = zombie.land(stale_batch)  # it wakes up and lands what it read before the rebalance
    zombie.conn.close()
    assert (late.rows, late.skipped, late.load_id) == (0, count, None)
    assert len(kafka_rows(warehouse_target, topic)) == count


def test_two_consumers_landing_the_same_messages_at_once_serialize_on_the_offset_rows(
    postgres_warehouse: str, kafka: MockKafkaCluster
) -> None:
    topic = new_topic(kafka, 1)
    produce(kafka, topic, [event_text(n) for n in range(20)], partitions=1)
    reader = KafkaIngestor(settings_for(kafka, topic), "postgres")
    messages = []
    deadline = time.monotonic() + 10
    while len(messages) < 20 and time.monotonic() < deadline:
        messages += reader.fetch()
    reader.close()
    earlier, overlap = messages[:10], messages[10:]

    # Both consumers reach their read of the offsets together, unless the first one's lock holds the
    # second back (then the first waits here in vain for a moment, and lands alone).
    both_read = threading.Barrier(2, timeout=1.0)

    def meet(_partitions: list[int]) -> None:
        try:
            both_read.wait()
        except threading.BrokenBarrierError:
            pass

    landers = [
        KafkaIngestor(settings_for(kafka, topic), "postgres", after_offsets_read=meet) for _ in range(2)
    ]
    try:
        landers[0].after_offsets_read = None
        landers[0].land(earlier)  # the partition's offset row exists from now on
        landers[0].after_offsets_read = meet
        outcomes: list[BatchResult] = []
        threads = [threading.Thread(target=lambda lander=lander: outcomes.append(lander.land(overlap)))
                   for lander in landers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for lander in landers:
            lander.close()
    assert sorted((outcome.rows, outcome.skipped) for outcome in outcomes) == [(0, 10), (10, 0)]
    assert len(kafka_rows("postgres", topic)) == 20


def test_two_consumers_in_one_group_split_the_partitions(
    postgres_warehouse: str, kafka: MockKafkaCluster
) -> None:
    topic, count = new_topic(kafka, 4), 200
    first = KafkaIngestor(settings_for(kafka, topic, batch_size=25), "postgres")
    second = KafkaIngestor(settings_for(kafka, topic, batch_size=25), "postgres")
    try:
        # Both join: one assignment, then rebalances that split it. Wait until the split holds still.
        deadline, unchanged, seen = time.monotonic() + 15, 0, None
        while unchanged < 3 and time.monotonic() < deadline:
            first.consume_batch()
            second.consume_batch()
            split = (frozenset(first.assigned), frozenset(second.assigned))
            unchanged = unchanged + 1 if split == seen and all(split) else 0
            seen = split
        assert first.assigned and second.assigned and not first.assigned & second.assigned
        assert first.assigned | second.assigned == {0, 1, 2, 3}

        placed = produce(kafka, topic, [event_text(n) for n in range(count)], partitions=4)
        landed = {id(first): 0, id(second): 0}
        deadline = time.monotonic() + 20
        while sum(landed.values()) < count and time.monotonic() < deadline:
            for ingestor in (first, second):
                landed[id(ingestor)] += ingestor.consume_batch().rows
        assert all(landed.values()), "each consumer landed the messages of its own partitions"
        owners = {id(first): set(first.assigned), id(second): set(second.assigned)}
    finally:
        first.close()
        second.close()
    assert kafka_rows("postgres", topic) == sorted(placed)
    partitions_of_each_load = (
        "select load_id, array_agg(distinct source_partition) from raw.usage_events "
        "where source_topic = %s group by load_id"
    )
    rows_by_load = query("postgres", partitions_of_each_load, (topic,))
    assert all(set(partitions) <= owners[id(first)] or set(partitions) <= owners[id(second)]
               for _, partitions in rows_by_load)


def test_a_consumer_starting_while_a_run_reads_the_raw_table_does_not_wait_for_it(
    postgres_warehouse: str,
) -> None:
    """`add column if not exists` locks the raw table exclusively even when the column exists: a sensor
    tick must not queue behind a dbt run's reads (and the run's next reads behind the tick)."""
    from warehouse_billing.warehouse import ensure_kafka_tables

    setup = connect("postgres")
    ensure_kafka_tables(setup, "postgres")
    setup.close()
    run = connect("postgres")  # a dbt run in the middle of reading raw.usage_events
    starting = connect("postgres")
    try:
        with run.cursor() as cursor:
            cursor.execute("select count(*) from raw.usage_events")
        with starting.cursor() as cursor:
            cursor.execute("set lock_timeout = '1s'")
        starting.commit()
        ensure_kafka_tables(starting, "postgres")  # raises LockNotAvailable if it asks for the lock
    finally:
        run.rollback()
        run.close()
        starting.close()


def test_the_command_line_consumer(
    duckdb_warehouse: str, kafka: MockKafkaCluster, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from warehouse_billing.kafka_consumer import main

    topic = new_topic(kafka, 2)
    produce(kafka, topic, [event_text(n) for n in range(12)], partitions=2)
    monkeypatch.setenv("BILLING_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    assert main(["--target", "spark"]) == 2
    assert "Structured Streaming" in capsys.readouterr().err
    monkeypatch.delenv("BILLING_KAFKA_TOPIC", raising=False)
    assert main([]) == 2
    assert "BILLING_KAFKA_TOPIC" in capsys.readouterr().err

    environment = {**os.environ, "BILLING_KAFKA_TOPIC": topic, "BILLING_KAFKA_GROUP_ID": f"cli-{topic}",
                   "BILLING_KAFKA_BATCH_TIMEOUT_SECONDS": "0.2"}
    command = [sys.executable, "-m", "warehouse_billing.kafka_consumer", "--idle-seconds", "0.5"]
    drained = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    assert drained.returncode == 0, drained.stderr
    assert "12 messages: 12 rows landed" in drained.stdout
    assert len(kafka_rows("duckdb", topic)) == 12


# --- what is not an event ----------------------------------------------------------------------------


def test_poison_messages_go_to_dead_letters_and_malformed_text_lands_as_a_raw_row(
    warehouse_target: str, kafka: MockKafkaCluster
) -> None:
    topic = new_topic(kafka, 1)
    values: list[bytes | None] = [
        event_text(1),
        b"\xff\xfe not UTF-8",  # poison: not text
        None,  # poison: a tombstone
        b'{"event_id": "nul\x00"}',  # poison: text no warehouse column can hold
        b'{"event_id": "cut off", ',  # malformed JSON
        b"[1, 2]",  # JSON, not an object
        b'{"event_id": "e", "tenant": "x"}',  # an unknown key
        b'{"event_id": "e", "customer_id": "\\ud800"}',  # a lone surrogate escape
        event_text(2),
    ]
    keys = [None, b"key-1", b"key-2", None, None, None, None, None, None]
    produce(kafka, topic, values, partitions=1, keys=keys)
    with KafkaIngestor(settings_for(kafka, topic), warehouse_target) as ingestor:
        drain(ingestor, messages=len(values))

    dead = query(warehouse_target, "select source_offset, message_key_base64, message_value_base64, error "
                                   "from raw.usage_dead_letters where source_topic = %s order by 1", (topic,))
    assert [(offset, key, value) for offset, key, value, _ in dead] == [
        (1, base64.b64encode(b"key-1").decode(), base64.b64encode(b"\xff\xfe not UTF-8").decode()),
        (2, base64.b64encode(b"key-2").decode(), None),
        (3, None, base64.b64encode(b'{"event_id": "nul\x00"}').decode()),
    ]
    assert [error.split(" ")[0] for *_, error in dead] == ["value", "null", "value"]
    rows = query(warehouse_target, "select source_offset, event_id, customer_id, event_type, occurred_at, "
                                   "properties from raw.usage_events where source_topic = %s order by 1",
                 (topic,))
    assert [row[0] for row in rows] == [0, 4, 5, 6, 7, 8]  # nothing dropped: rows + dead letters = 9
    assert rows[1:5] == [(offset, None, None, None, None, values[offset].decode()) for offset in (4, 5, 6, 7)]
    assert (rows[0][1], rows[5][1]) == ("evt_00001", "evt_00002")
    assert query(warehouse_target, "select next_offset from raw.usage_kafka_offsets where topic = %s",
                 (topic,)) == [(9,)]


# --- the Dagster sensor ------------------------------------------------------------------------------


def test_the_sensor_exists_only_when_a_topic_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.kafka_sensor import kafka_sensors

    monkeypatch.delenv("BILLING_KAFKA_TOPIC", raising=False)
    assert kafka_sensors(_refresh_job()) == []
    monkeypatch.setenv("BILLING_KAFKA_TOPIC", "usage-events")
    assert [sensor.name for sensor in kafka_sensors(_refresh_job())] == ["kafka_usage_sensor"]


def test_the_sensor_lands_each_tick_and_requests_one_refresh_per_new_loads(
    duckdb_warehouse: str, kafka: MockKafkaCluster
) -> None:
    from orchestration.jobs import BILLING_STEP, REFRESH_JOB
    from orchestration.kafka_sensor import build_kafka_sensor
    from orchestration.partitions import partition_for

    topic = new_topic(kafka, 2)
    job = _refresh_job()
    kafka_sensor = build_kafka_sensor(
        job, settings=lambda: settings_for(kafka, topic), target=lambda: "duckdb", seconds=lambda: 5.0
    )
    produce(kafka, topic, [event_text(n) for n in range(30)], partitions=2)
    with DagsterInstance.ephemeral() as instance:
        first = kafka_sensor(build_sensor_context(instance=instance))
        assert isinstance(first, RunRequest) and first.job_name in (None, REFRESH_JOB)
        assert first.partition_key == partition_for(datetime.now())
        as_of = first.run_config["ops"][BILLING_STEP]["config"]["as_of"]
        assert as_of >= query("duckdb", "select max(ingested_at) from raw.usage_events")[0][0].isoformat()
        assert len(kafka_rows("duckdb", topic)) == 30

        quiet = kafka_sensor(build_sensor_context(instance=instance))
        assert isinstance(quiet, SkipReason)

        produce(kafka, topic, [event_text(n, "more") for n in range(10)], partitions=2)
        second = kafka_sensor(build_sensor_context(instance=instance))
        assert isinstance(second, RunRequest) and second.run_key != first.run_key
        assert len(kafka_rows("duckdb", topic)) == 40

        # A run holding the DuckDB file: the tick skips, and the messages wait for the next one.
        produce(kafka, topic, [event_text(n, "later") for n in range(4)], partitions=2)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_DUCKDB_FILE, duckdb_warehouse],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "holding"
            busy = kafka_sensor(build_sensor_context(instance=instance))
        finally:
            holder.kill()
            holder.wait()
        assert isinstance(busy, SkipReason) and "busy" in busy.skip_message
        assert isinstance(kafka_sensor(build_sensor_context(instance=instance)), RunRequest)
        assert len(kafka_rows("duckdb", topic)) == 44


def _refresh_job():
    """A job named like the refresh job: the sensor only needs a target, not the dbt assets."""
    from dagster import define_asset_job

    from orchestration.jobs import REFRESH_JOB

    return define_asset_job(REFRESH_JOB)


# --- billed once -------------------------------------------------------------------------------------


@pytest.mark.warehouse
def test_the_scenario_streamed_with_resends_and_a_crash_bills_every_event_once(
    kafka: MockKafkaCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event of the contract scenario through Kafka, with one event in twenty sent twice by the
    producer, a malformed message, and a consumer killed between the two commits of its first batch;
    then one dbt build: each event is accepted once, and the invoices bill exactly the events'
    quantities (api calls counted, tokens summed), not one re-sent or redelivered copy more."""
    warehouse = Warehouse("duckdb", tmp_path)
    project = scenario_project(tmp_path)
    monkeypatch.setenv("BILLING_DUCKDB_PATH", warehouse.duckdb_path)
    topic = new_topic(kafka, 3)
    events = scenario_events()
    texts = []
    for index, row in enumerate(events):
        text = json.dumps({name: row[name] for name in DATA_COLUMNS}, ensure_ascii=False).encode()
        texts += [text, text] if index % 20 == 0 else [text]  # a producer retry: the same event twice
    texts.append(b"this is not an event")
    resent = len(texts) - len(events) - 1
    produce(kafka, topic, texts, partitions=3)

    # Everything lands at the end of March, after the scenario's last event and before its as_of.
    settings = settings_for(kafka, topic, batch_size=500)

    def at_month_end() -> datetime:
        return datetime(2026, 3, 31, 12)

    crashed: list[BatchResult] = []

    def crash(result: BatchResult) -> None:
        crashed.append(result)
        raise Crash("killed between the commits")

    first = KafkaIngestor(settings, "duckdb", clock=at_month_end, between_commits=crash)
    with pytest.raises(Crash):
        consume(first, max_seconds=10)
    first.close()
    with KafkaIngestor(settings, "duckdb", clock=at_month_end) as second:
        drain(second, messages=len(texts) - crashed[0].messages)
    assert crashed[0].rows > 0
    assert len(kafka_rows("duckdb", topic)) == len(texts)

    # The models the checks read and what they need (seeds included), without the data tests: those
    # are other files' business. January's events arrive over 35 days late here: widen the window.
    warehouse.dbt("build", "--select", "+invoice_lines", "+usage_event_reconciliation",
                  "+quarantined_usage_events", "--exclude", "resource_type:test", "resource_type:unit_test",
                  "tag:publication", as_of=AS_OF, project_dir=project,
                  extra_vars={"late_arrival_window_days": 90})
    received, accepted, duplicates, quarantined = warehouse.query(
        "select sum(received_count), sum(accepted_count), sum(duplicate_count), sum(quarantined_count) "
        "from {schema}.usage_event_reconciliation"
    )[0]
    assert (received, accepted, duplicates, quarantined) == (len(texts), len(events), resent, 1)
    assert warehouse.query("select reason from {schema}.quarantined_usage_events") == [("missing_event_id",)]
    assert sorted(warehouse.query(
        "select event_id from {schema}.int_usage_events_classified where event_status = 'accepted'"
    )) == sorted((row["event_id"],) for row in events)
    billed = dict(warehouse.query(
        "select product_id, sum(quantity) from {schema}.invoice_lines where line_type = 'usage' group by 1"
    ))
    assert billed == {
        "calls": sum(1 for row in events if row["event_type"] == "api_call"),
        "tokens": sum(
            json.loads(row["properties"])["tokens"] for row in events if row["event_type"] == "tokens"
        ),
    }
