"""The Kafka sensor: each tick lands the topic's new usage, and asks for a refresh run when rows landed.

Part of the Definitions only when ``BILLING_KAFKA_TOPIC`` is set (the other BILLING_KAFKA_* settings as
``warehouse_billing.kafka_consumer`` reads them). STOPPED until someone turns it on, like the schedules.

Each tick joins the consumer group, consumes bounded batches for at most ``BILLING_KAFKA_SENSOR_SECONDS``
(default 5; it stops sooner once a second passes without a message), each batch landed in one
warehouse transaction exactly as the standalone consumer does, then leaves the group. When rows landed,
it requests one run of ``billing_refresh_job`` over the ingestion day(s) of those rows, with as_of = the
tick's end (not before the rows' ingested_at, so the run sees them) and a run key made of the landed
loads' ids: the same loads never launch two runs, and new loads always get a new key.

On DuckDB the tick and a run cannot hold the file together (one writer): a tick that finds it locked
skips, and the messages land on the next tick.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from orchestration.jobs import BILLING_STEP, run_config_for
from orchestration.partitions import partition_range_for, partition_range_tags
from warehouse_billing.clock import normalize_as_of
from warehouse_billing.kafka_consumer import KafkaIngestor, KafkaSettings, RunSummary, consume
from warehouse_billing.warehouse import configured_target, warehouse_busy

if TYPE_CHECKING:  # not exported by dagster; the type define_asset_job returns
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

KAFKA_SENSOR = "kafka_usage_sensor"
DEFAULT_TICK_SECONDS = 5.0
# A tick stops early once the topic is drained: this long without a message.
TICK_IDLE_SECONDS = 1.0
MINIMUM_INTERVAL_SECONDS = 30


def kafka_enabled() -> bool:
    """True when the environment names a topic to consume (BILLING_KAFKA_TOPIC)."""
    return bool((os.environ.get("BILLING_KAFKA_TOPIC") or "").strip())


def tick_seconds() -> float:
    """How long one tick may consume (BILLING_KAFKA_SENSOR_SECONDS, default 5)."""
    return float(os.environ.get("BILLING_KAFKA_SENSOR_SECONDS") or DEFAULT_TICK_SECONDS)


def loads_run_key(load_ids: list[str]) -> str:
    """A run key that names exactly these loads (each a fresh uuid), in any order."""
    digest = hashlib.sha256(",".join(sorted(load_ids)).encode()).hexdigest()[:20]
    return f"kafka-loads-{digest}"


def refresh_request_for_loads(summary: RunSummary, tick_end: datetime) -> RunRequest:
    """One run of the refresh job over the ingestion day(s) of the landed rows, as_of = the tick's end."""
    landed_last = max(summary.ingested_at)
    moment = max(tick_end.astimezone(UTC).replace(tzinfo=None) if tick_end.tzinfo else tick_end, landed_last)
    as_of = normalize_as_of(moment.isoformat())
    days = partition_range_for(summary.ingested_at)
    tags = {
        "billing/as_of": as_of,
        "billing/kafka_loads": str(len(summary.load_ids)),
        "billing/kafka_rows": str(summary.rows),
    }
    run_config = run_config_for(as_of, (BILLING_STEP,))
    run_key = loads_run_key(summary.load_ids)
    if days.start == days.end:
        return RunRequest(run_key=run_key, run_config=run_config, partition_key=days.start, tags=tags)
    # A tick across midnight: one run over both days, as a single-run backfill of them would be.
    return RunRequest(run_key=run_key, run_config=run_config, tags={**tags, **partition_range_tags(days)})


def build_kafka_sensor(
    job: UnresolvedAssetJobDefinition,
    *,
    settings: Callable[[], KafkaSettings] = KafkaSettings.from_environment,
    target: Callable[[], str] = configured_target,
    clock: Callable[[], datetime] | None = None,
    seconds: Callable[[], float] = tick_seconds,
) -> SensorDefinition:
    """The sensor for `job` (the refresh job). The callables are read at each tick (tests pass their
    own): the Kafka settings, the warehouse target, the clock stamping ingested_at, the tick's budget."""

    @sensor(
        name=KAFKA_SENSOR,
        job=job,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            "Lands new usage events from the Kafka topic (BILLING_KAFKA_TOPIC) in raw.usage_events, each "
            "message once, and requests a refresh run when rows landed."
        ),
    )
    def kafka_usage_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
        options = {"clock": clock} if clock is not None else {}
        try:
            ingestor = KafkaIngestor(settings(), target(), **options)
        except Exception as error:
            if warehouse_busy(error):
                return SkipReason(f"the warehouse is busy ({error}); the next tick lands the messages")
            raise
        with ingestor:
            summary = consume(ingestor, max_seconds=seconds(), idle_seconds=TICK_IDLE_SECONDS)
        context.log.info(
            f"{summary.batches} batches, {summary.messages} messages: {summary.rows} rows landed, "
            f"{summary.dead_letters} dead letters, {summary.skipped} skipped ({summary.stopped_because})"
        )
        if not summary.load_ids:
            return SkipReason(
                f"no new usage rows ({summary.messages} messages, {summary.dead_letters} dead letters)"
            )
        return refresh_request_for_loads(summary, datetime.now(UTC))

    return kafka_usage_sensor


def kafka_sensors(job: UnresolvedAssetJobDefinition) -> list[SensorDefinition]:
    """The sensors of the Definitions: the Kafka sensor for `job` when a topic is configured, else none
    (the default demo and the tests never reach for a Kafka cluster)."""
    return [build_kafka_sensor(job)] if kafka_enabled() else []
