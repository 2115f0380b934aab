"""Streaming ingestion: lands a Kafka topic of usage events in raw.usage_events, each message once.

    python -m warehouse_billing.kafka_consumer [--target duckdb|postgres] [--max-batches N] [--idle-seconds S]

Every message value is one usage event as a JSON object, exactly like one line of a JSON Lines file for
the file loader (`loader.event_row` reads both, so the same event lands as the same raw row). The
consumer reads the topic in bounded batches and lands each batch in one warehouse transaction:

- the batch's rows, as one load (`loader.write_load`: raw.usage_events + its raw.usage_loads row), with
  the topic, partition and offset each row was read from;
- the messages that are not text at all (invalid UTF-8, a null value, a NUL character) in
  raw.usage_dead_letters, with their bytes in base64; text that is not a valid event (bad JSON, not an
  object, an unknown key) is still a raw row: the whole text in `properties`, every other column empty,
  so staging quarantines it (`missing_event_id`) and nothing that arrived is dropped;
- the group's next offset per partition in raw.usage_kafka_offsets.

Kafka's own offsets are committed (synchronously) only after that transaction committed. The warehouse
is the record of what landed: on partition assignment the consumer seeks to the warehouse's next offset
where it has one (Kafka's committed offset is the fallback), and messages below it are skipped, so a
redelivery after a crash between the two commits, or a batch of a consumer that lost its partitions in
a rebalance, lands nothing twice. On Postgres the offset rows are locked (`select ... for update`) for
the transaction, so two consumers that briefly hold the same partition serialize. dbt's dedupe on
event_id still catches what Kafka cannot: a producer that sent the same event twice (decision 51).

Settings come from the environment only (BILLING_KAFKA_*, see `KafkaSettings.from_environment`).
DuckDB and Postgres; on Spark, read the topic with Structured Streaming instead.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import pyarrow as pa

from warehouse_billing.loader import DATA_COLUMNS, InvalidEvent, Load, event_row, write_load
from warehouse_billing.warehouse import (
    DEAD_LETTERS_TABLE,
    KAFKA_OFFSETS_TABLE,
    TARGETS,
    check_target,
    configured_target,
    connect,
    ensure_kafka_tables,
)

log = logging.getLogger(__name__)

DEFAULT_GROUP_ID = "warehouse-billing"
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_BATCH_TIMEOUT_SECONDS = 1.0

# Environment variable -> librdkafka property; only the variables that are set are passed on.
SECURITY_VARIABLES = {
    "BILLING_KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "BILLING_KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "BILLING_KAFKA_SASL_USERNAME": "sasl.username",
    "BILLING_KAFKA_SASL_PASSWORD": "sasl.password",
    "BILLING_KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
}
SECRET_PROPERTIES = frozenset({"sasl.password"})

SPARK_UNSUPPORTED = (
    "the Kafka consumer lands into DuckDB or Postgres, not Spark: on Spark read the topic with Structured "
    "Streaming's Kafka source into raw.usage_events, or land files with "
    "`python -m warehouse_billing.loader --target spark`"
)


class KafkaSettingsError(ValueError):
    """A missing or invalid BILLING_KAFKA_* setting."""


@dataclass(frozen=True)
class KafkaSettings:
    """Where to read from and how much at a time."""

    bootstrap_servers: str
    topic: str
    group_id: str = DEFAULT_GROUP_ID
    batch_size: int = DEFAULT_BATCH_SIZE  # messages per consume(), so per warehouse transaction at most
    batch_timeout_seconds: float = DEFAULT_BATCH_TIMEOUT_SECONDS  # how long one consume() waits
    # More librdkafka properties: the security ones the environment sets (or a test's own).
    client_settings: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {
            key: "***" if key in SECRET_PROPERTIES else value for key, value in self.client_settings.items()
        }
        return (
            f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, topic={self.topic!r}, "
            f"group_id={self.group_id!r}, batch_size={self.batch_size}, "
            f"batch_timeout_seconds={self.batch_timeout_seconds}, client_settings={shown!r})"
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KafkaSettings:
        """Settings from BILLING_KAFKA_BOOTSTRAP_SERVERS, _TOPIC (both required), _GROUP_ID
        (default warehouse-billing), _BATCH_SIZE (10000), _BATCH_TIMEOUT_SECONDS (1.0) and the security
        variables of SECURITY_VARIABLES (passed only when set)."""
        environ = os.environ if environ is None else environ

        def setting(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        required = ("BILLING_KAFKA_BOOTSTRAP_SERVERS", "BILLING_KAFKA_TOPIC")
        missing = [name for name in required if not setting(name)]
        if missing:
            raise KafkaSettingsError(f"set {' and '.join(missing)} (the Kafka cluster and the topic to read)")
        try:
            batch_size = int(setting("BILLING_KAFKA_BATCH_SIZE") or DEFAULT_BATCH_SIZE)
            timeout = float(setting("BILLING_KAFKA_BATCH_TIMEOUT_SECONDS") or DEFAULT_BATCH_TIMEOUT_SECONDS)
        except ValueError as exc:
            raise KafkaSettingsError(f"BILLING_KAFKA_BATCH_SIZE / _BATCH_TIMEOUT_SECONDS: {exc}") from None
        if not 1 <= batch_size <= 1_000_000 or timeout <= 0:
            raise KafkaSettingsError(
                "BILLING_KAFKA_BATCH_SIZE must be 1..1000000 and BILLING_KAFKA_BATCH_TIMEOUT_SECONDS positive"
            )
        security = {prop: value for name, prop in SECURITY_VARIABLES.items() if (value := setting(name))}
        return cls(
            bootstrap_servers=setting("BILLING_KAFKA_BOOTSTRAP_SERVERS") or "",
            topic=setting("BILLING_KAFKA_TOPIC") or "",
            group_id=setting("BILLING_KAFKA_GROUP_ID") or DEFAULT_GROUP_ID,
            batch_size=batch_size,
            batch_timeout_seconds=timeout,
            client_settings=security,
        )

    def consumer_config(self) -> dict[str, Any]:
        """The librdkafka configuration of the consumer."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.group_id,
            # Offsets are committed by hand, after the warehouse transaction (never by a timer).
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # A group with no offsets anywhere starts at the beginning: usage is never skipped.
            "auto.offset.reset": "earliest",
            **self.client_settings,
        }


@dataclass
class BatchResult:
    """What one batch did."""

    messages: int = 0  # messages consumed (not counting Kafka's error events)
    rows: int = 0  # rows landed in raw.usage_events, malformed ones included
    malformed: int = 0  # of which: text that is not a usage event, stored whole in `properties`
    dead_letters: int = 0  # messages that are not text, in raw.usage_dead_letters
    skipped: int = 0  # messages that had landed already (below the warehouse's next offset)
    load_id: str | None = None  # the raw.usage_loads row of the batch; None when no row landed
    ingested_at: datetime | None = None  # the batch's load time, stamped on its rows
    next_offsets: dict[int, int] = field(default_factory=dict)  # partition -> next offset now recorded
    kafka_commit_error: str | None = None  # the Kafka commit failed (harmless: the warehouse has them)
    seconds: float = 0.0

    @property
    def landed(self) -> bool:
        """True when the batch wrote anything to the warehouse."""
        return bool(self.rows or self.dead_letters)

    def summary(self) -> str:
        parts = [f"{self.messages} messages: {self.rows} rows landed"]
        if self.malformed:
            parts.append(f"{self.malformed} of them malformed (quarantined by staging)")
        if self.dead_letters:
            parts.append(f"{self.dead_letters} dead letters")
        if self.skipped:
            parts.append(f"{self.skipped} skipped (landed before)")
        line = ", ".join(parts) + f" in {self.seconds:.2f}s"
        if self.load_id:
            line += f" (load {self.load_id})"
        if self.kafka_commit_error:
            line += f"; Kafka offset commit failed ({self.kafka_commit_error}), the warehouse has them"
        return line


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _base64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _dead_letter_error(value: bytes | None) -> str:
    """Why a message value cannot be a raw row (it is not text a warehouse column can hold)."""
    if value is None:
        return "null value (a tombstone, or a message without a value)"
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"value is not valid UTF-8 (byte {exc.start})"
    return "value contains a NUL character, which warehouse text cannot hold"


def _placeholders(target: str, count: int) -> str:
    return ", ".join(["?" if target == "duckdb" else "%s"] * count)


class KafkaIngestor:
    """One consumer of the group, landing batches into one warehouse (a DB-API connection it owns).

    `consume_batch()` is the unit the CLI loop and the Dagster sensor repeat. The hooks are seams for
    failure injection in tests: `after_offsets_read(partitions)` runs inside the warehouse transaction
    once the offset rows are read (and, on Postgres, locked); `between_commits(result)` runs after the
    warehouse commit and before the Kafka commit. `clock` gives the batch's ingested_at (UTC).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        target: str | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        after_offsets_read: Callable[[list[int]], None] | None = None,
        between_commits: Callable[[BatchResult], None] | None = None,
    ) -> None:
        from confluent_kafka import Consumer

        self.target = check_target(target or configured_target())
        if self.target == "spark":
            raise ValueError(SPARK_UNSUPPORTED)
        self.settings = settings
        self.clock = clock
        self.after_offsets_read = after_offsets_read
        self.between_commits = between_commits
        self.assigned: set[int] = set()  # partitions this consumer holds now
        self.assigned_at: float | None = None  # monotonic time of the last assignment
        self.conn = connect(self.target)
        try:
            ensure_kafka_tables(self.conn, self.target)
            config = {**settings.consumer_config(), "error_cb": self._on_error}
            self.consumer = Consumer(config)
        except BaseException:
            self.conn.close()
            raise
        self.consumer.subscribe(
            [settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )

    # -- rebalance callbacks (run inside consume(), never inside a warehouse transaction) -------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Start each partition at the warehouse's next offset where it has one (else Kafka's committed
        offset, else the beginning)."""
        recorded = self.recorded_offsets([partition.partition for partition in partitions])
        for partition in partitions:
            if partition.partition in recorded:
                partition.offset = recorded[partition.partition]
        consumer.assign(partitions)
        if recorded:
            # Bring Kafka's committed offsets up to the warehouse's (after a crash between the two commits
            # they lag behind), so that lag monitoring and a fallback start agree with what landed.
            from confluent_kafka import TopicPartition

            topic = self.settings.topic
            consumer.commit(
                offsets=[TopicPartition(topic, partition, offset) for partition, offset in recorded.items()],
                asynchronous=True,
            )
        self.assigned = {partition.partition for partition in partitions}
        self.assigned_at = time.monotonic()
        log.info("assigned %s partitions %s (warehouse offsets: %s)", self.settings.topic,
                 sorted(self.assigned), recorded or "none recorded")

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self.assigned -= {partition.partition for partition in partitions}

    def _on_error(self, error: Any) -> None:
        log.warning("Kafka: %s", error)

    # -- warehouse -----------------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", "?") if self.target == "duckdb" else statement

    def _execute(self, statement: str, parameters: Iterable[Any] = ()) -> list[tuple]:
        if self.target == "duckdb":
            return self.conn.execute(self._sql(statement), list(parameters)).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(statement, list(parameters))
            return cur.fetchall() if cur.description else []

    def recorded_offsets(self, partitions: list[int]) -> dict[int, int]:
        """The warehouse's next offset of each given partition that has one (a read of its own)."""
        if not partitions:
            return {}
        rows = self._execute(
            f"select partition, next_offset from {KAFKA_OFFSETS_TABLE} "
            "where consumer_group = %s and topic = %s "
            f"and partition in ({_placeholders(self.target, len(partitions))})",
            [self.settings.group_id, self.settings.topic, *partitions],
        )
        if self.target == "postgres":
            self.conn.rollback()  # end the read's transaction: nothing may stay open between batches
        return {partition: offset for partition, offset in rows if offset >= 0}

    def _lock_offsets(self, partitions: list[int], now: datetime) -> dict[int, int]:
        """Inside the batch's transaction: the recorded next offsets, with their rows locked on Postgres.

        A partition without a row gets one first (next_offset -1: none recorded; it only commits with
        the batch's real offset), so that there is a row to lock: two consumers landing the same
        partition's first messages queue on the insert instead of both landing them.
        """
        ordered = sorted(partitions)  # one locking order for every consumer: no deadlock
        group, topic = self.settings.group_id, self.settings.topic
        insert = self._sql(
            f"insert into {KAFKA_OFFSETS_TABLE} (consumer_group, topic, partition, next_offset, updated_at) "
            f"values (%s, %s, %s, -1, %s) on conflict (consumer_group, topic, partition) do nothing"
        )
        select = (
            f"select partition, next_offset from {KAFKA_OFFSETS_TABLE} "
            "where consumer_group = %s and topic = %s "
            f"and partition in ({_placeholders(self.target, len(ordered))}) "
            "order by partition"
        )
        if self.target == "duckdb":  # one writer per file: nothing to lock against
            self.conn.executemany(insert, [[group, topic, partition, now] for partition in ordered])
            rows = self.conn.execute(self._sql(select), [group, topic, *ordered]).fetchall()
        else:
            with self.conn.cursor() as cur:
                cur.executemany(insert, [(group, topic, partition, now) for partition in ordered])
                cur.execute(select + " for update", [group, topic, *ordered])
                rows = cur.fetchall()
        return {partition: offset for partition, offset in rows if offset >= 0}

    def _record_offsets(self, next_offsets: dict[int, int], load_id: str, now: datetime) -> None:
        statement = self._sql(
            f"update {KAFKA_OFFSETS_TABLE} set next_offset = %s, load_id = %s, updated_at = %s "
            "where consumer_group = %s and topic = %s and partition = %s"
        )
        parameters = [
            [offset, load_id, now, self.settings.group_id, self.settings.topic, partition]
            for partition, offset in sorted(next_offsets.items())
        ]
        if self.target == "duckdb":
            self.conn.executemany(statement, parameters)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(statement, parameters)

    def _write_dead_letters(self, dead_letters: list[tuple]) -> None:
        columns = (
            "source_topic, source_partition, source_offset, message_key_base64, message_value_base64, "
            "error, received_at, load_id"
        )
        statement = f"insert into {DEAD_LETTERS_TABLE} ({columns}) values ({_placeholders(self.target, 8)})"
        if self.target == "duckdb":
            self.conn.executemany(statement, dead_letters)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(statement, dead_letters)

    # -- one batch -----------------------------------------------------------------------------------

    def fetch(self) -> list[Any]:
        """Up to batch_size messages (waiting at most batch_timeout_seconds); Kafka's error events are
        logged and left out, and a fatal one raises."""
        from confluent_kafka import KafkaException

        messages = self.consumer.consume(self.settings.batch_size, self.settings.batch_timeout_seconds)
        kept = []
        for message in messages:
            error = message.error()
            if error is None:
                kept.append(message)
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("Kafka: %s", error)
        return kept

    def land(self, messages: list[Any]) -> BatchResult:
        """Land `messages` in one warehouse transaction (rows, dead letters, next offsets) and commit it.

        Messages below the warehouse's next offset of their partition are skipped. On any error the
        transaction is rolled back and the error raised; nothing of the batch stays.
        """
        started = time.perf_counter()
        result = BatchResult(messages=len(messages))
        if not messages:
            return result
        topic = self.settings.topic
        stamp = self.clock()
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
        rows: list[list[Any]] = []  # the five data values, then partition and offset
        dead_letters: list[tuple] = []
        first_landed: dict[int, int] = {}  # partition -> first offset this batch lands
        load = Load(source="")

        if self.target == "duckdb":
            self.conn.begin()  # psycopg2 opens its transaction implicitly
        try:
            recorded = self._lock_offsets(sorted({message.partition() for message in messages}), stamp)
            if self.after_offsets_read is not None:
                self.after_offsets_read(sorted(recorded))
            next_offsets = dict(recorded)
            for message in messages:
                partition, offset = message.partition(), message.offset()
                if offset < next_offsets.get(partition, 0):
                    result.skipped += 1  # landed before (a redelivery, or a repeat within the batch)
                    continue
                next_offsets[partition] = offset + 1
                if partition not in first_landed:
                    first_landed[partition] = offset
                value = message.value()
                try:
                    text = value.decode("utf-8")
                except (AttributeError, UnicodeDecodeError):  # a null value, or not UTF-8
                    text = None
                if text is None or "\x00" in text:
                    dead_letters.append((topic, partition, offset, _base64(message.key()), _base64(value),
                                         _dead_letter_error(value), stamp, load.load_id))
                    continue
                try:
                    values = event_row(text)
                except InvalidEvent as exc:
                    log.warning("%s[%d] offset %d is not a usage event (%s): stored as raw text, "
                                "staging quarantines it", topic, partition, offset, exc)
                    values = [None, None, None, None, text]
                    result.malformed += 1
                values.append(partition)
                values.append(offset)
                rows.append(values)

            load.source = ", ".join(
                f"{topic}:{partition}:{first}-{next_offsets[partition] - 1}"
                for partition, first in sorted(first_landed.items())
            )
            if rows:
                columns = list(zip(*rows, strict=True))
                table = pa.Table.from_arrays(
                    [pa.array(values, pa.string()) for values in columns[: len(DATA_COLUMNS)]]
                    + [
                        pa.array([topic] * len(rows), pa.string()),
                        pa.array(columns[-2], pa.int32()),
                        pa.array(columns[-1], pa.int64()),
                    ],
                    names=[*DATA_COLUMNS, "source_topic", "source_partition", "source_offset"],
                )
                write_load(self.conn, self.target, [table], load, stamp)
            if dead_letters:
                self._write_dead_letters(dead_letters)
            advanced = {p: o for p, o in next_offsets.items() if o != recorded.get(p)}
            if advanced:
                self._record_offsets(advanced, load.load_id, stamp)
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

        result.rows = load.rows
        result.dead_letters = len(dead_letters)
        result.load_id = load.load_id if load.rows else None
        result.ingested_at = stamp if load.rows else None
        result.next_offsets = next_offsets
        result.seconds = time.perf_counter() - started
        return result

    def commit_kafka(self, messages: list[Any], result: BatchResult) -> None:
        """Commit the batch's offsets to Kafka (synchronously): the warehouse's next offset, or past
        the last message consumed. A failure (the partitions moved to another consumer meanwhile) is
        logged and noted in `result`: the warehouse already has the batch and decides on restart."""
        from confluent_kafka import KafkaException, TopicPartition

        consumed: dict[int, int] = {}
        for message in messages:
            consumed[message.partition()] = max(consumed.get(message.partition(), 0), message.offset() + 1)
        offsets = [
            TopicPartition(
                self.settings.topic, partition, max(position, result.next_offsets.get(partition, 0))
            )
            for partition, position in sorted(consumed.items())
        ]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            result.kafka_commit_error = str(exc.args[0] if exc.args else exc)
            log.warning("Kafka offset commit failed after the warehouse commit (harmless): %s", exc)

    def consume_batch(self) -> BatchResult:
        """Consume up to one bounded batch, land it in one warehouse transaction, then commit the
        offsets to Kafka. Returns what it did (an empty result when no message came)."""
        started = time.perf_counter()
        messages = self.fetch()
        if not messages:
            return BatchResult()
        try:
            result = self.land(messages)
        except BaseException:
            self._rewind(messages)
            raise
        if self.between_commits is not None:
            self.between_commits(result)
        self.commit_kafka(messages, result)
        result.seconds = time.perf_counter() - started
        return result

    def _rewind(self, messages: list[Any]) -> None:
        """After a failed landing, seek back to the batch's first messages, so that a caller that goes
        on consuming reads them again rather than past them."""
        from confluent_kafka import KafkaException, TopicPartition

        first: dict[int, int] = {}
        for message in messages:
            partition, offset = message.partition(), message.offset()
            first[partition] = min(first.get(partition, offset), offset)
        for partition, offset in first.items():
            try:
                self.consumer.seek(TopicPartition(self.settings.topic, partition, offset))
            except KafkaException as exc:  # the partition is no longer ours: its next owner reads it
                log.warning("cannot rewind %s[%d] to %d: %s", self.settings.topic, partition, offset, exc)

    def close(self) -> None:
        """Leave the group (nothing is committed here) and close the warehouse connection."""
        try:
            self.consumer.close()
        finally:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class RunSummary:
    """What a run of several batches did."""

    batches: int = 0  # batches that consumed at least one message
    messages: int = 0
    rows: int = 0
    malformed: int = 0
    dead_letters: int = 0
    skipped: int = 0
    load_ids: list[str] = field(default_factory=list)
    ingested_at: list[datetime] = field(default_factory=list)
    seconds: float = 0.0
    stopped_because: str = ""

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.messages += result.messages
        self.rows += result.rows
        self.malformed += result.malformed
        self.dead_letters += result.dead_letters
        self.skipped += result.skipped
        if result.load_id:
            self.load_ids.append(result.load_id)
        if result.ingested_at:
            self.ingested_at.append(result.ingested_at)


def consume(
    ingestor: KafkaIngestor,
    *,
    max_batches: int | None = None,
    idle_seconds: float | None = None,
    max_seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> RunSummary:
    """Repeat `consume_batch` until `max_batches` batches with messages, `idle_seconds` without a
    message (counted from the start, the last message or the last assignment, whichever is latest),
    `max_seconds` in all, or `should_stop()`; with none of them, forever."""
    summary = RunSummary()
    started = last_activity = time.monotonic()
    while True:
        now = time.monotonic()
        if should_stop():
            summary.stopped_because = "asked to stop"
        elif max_batches is not None and summary.batches >= max_batches:
            summary.stopped_because = f"{max_batches} batches"
        elif max_seconds is not None and now - started >= max_seconds:
            summary.stopped_because = f"{max_seconds:g} s elapsed"
        elif idle_seconds is not None and now - max(last_activity, ingestor.assigned_at or 0) >= idle_seconds:
            summary.stopped_because = f"no message for {idle_seconds:g} s"
        if summary.stopped_because:
            break
        result = ingestor.consume_batch()
        if result.messages:
            last_activity = time.monotonic()
            summary.add(result)
            if on_batch is not None:
                on_batch(result)
    summary.seconds = time.monotonic() - started
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse_billing.kafka_consumer",
        description="Land the usage events of a Kafka topic (BILLING_KAFKA_* settings) in raw.usage_events, "
        "each message once. Runs until stopped unless --max-batches or --idle-seconds says otherwise.",
    )
    parser.add_argument("--target", choices=TARGETS, default=configured_target(),
                        help="warehouse to land into: duckdb or postgres "
                        "(default: $BILLING_TARGET or duckdb)")
    parser.add_argument("--max-batches", type=int, help="stop after this many batches with messages")
    parser.add_argument("--idle-seconds", type=float, help="stop after this long without a message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    if args.target == "spark":
        print(f"error: {SPARK_UNSUPPORTED}", file=sys.stderr)
        return 2
    try:
        settings = KafkaSettings.from_environment()
    except KafkaSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True  # the batch in hand still lands (or rolls back) whole
        log.info("signal %d: stopping after the current batch", signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("consuming %s as group %s from %s into %s", settings.topic, settings.group_id,
             settings.bootstrap_servers, args.target)
    try:
        with KafkaIngestor(settings, args.target) as ingestor:
            summary = consume(
                ingestor,
                max_batches=args.max_batches,
                idle_seconds=args.idle_seconds,
                should_stop=lambda: stop_requested,
                on_batch=lambda result: log.info("%s", result.summary()),
            )
    except Exception as exc:  # noqa: BLE001 - any error stops the consumer: the batch in hand rolled back
        log.error("stopped: %s", exc)
        return 1
    print(
        f"{summary.batches} batches, {summary.messages} messages: {summary.rows} rows landed "
        f"({summary.malformed} malformed), {summary.dead_letters} dead letters, {summary.skipped} skipped; "
        f"stopped after {summary.stopped_because} ({summary.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
