"""Daily ingestion partitions of the dbt assets.

A partition is one UTC day of *ingestion* (``raw.usage_events.ingested_at``), not of usage: a run of
partition ``2026-04-05`` makes the incremental dbt models re-process the raw rows ingested on that
day (dbt vars ``ingested_from`` / ``ingested_to``). A partition key range is one run over the
window from the first day's start to the last day's end, which is what a single-run backfill gives.

The run's clock ``as_of`` is independent of the window: it stays the configured value or the run's
creation time, so the invoices a run builds and publishes are those ready at ``as_of``, whatever
raw rows the window re-processed.

Ordering caveat: re-processing a partition after later partitions were processed does not
re-classify the rows of those later days (e.g. as duplicates of a re-processed row); to repair a
past day, run the range from that day up to today.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition, PartitionKeyRange, TimeWindow

# Not exported by dagster: the run tags by which a run covers a partition key range (what a
# single-run backfill launches); imported rather than spelled out so a rename fails loudly.
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

PARTITIONS_START = "2026-01-01"
# end_offset=1: today's partition exists, so the hourly refresh can work on the day still in progress.
DAILY_INGESTION_PARTITIONS = DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
# A backfill over many days is one run and one dbt build over the whole window, not one run per day:
# per-day runs would each pay a full dbt build, and could run out of order (see the caveat above).
SINGLE_RUN_BACKFILL = BackfillPolicy.single_run()
# The hourly tick at T works on the day of T minus this lag, so the 00:00 tick finishes yesterday.
REFRESH_LAG = timedelta(hours=1)


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, like every timestamp in this project."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """ISO 8601 text in UTC without an offset, as the dbt vars expect (``2026-04-05T00:00:00``)."""
    return _utc(moment).replace(tzinfo=None).isoformat()


def window_vars(window: TimeWindow) -> dict[str, str]:
    """The dbt vars that make the incremental models re-process ``start <= ingested_at < end``."""
    return {"ingested_from": utc_text(window.start), "ingested_to": utc_text(window.end)}


def partition_for(moment: datetime) -> str:
    """The key of the daily partition that contains ``moment``."""
    return DAILY_INGESTION_PARTITIONS.get_partition_key_for_timestamp(_utc(moment).timestamp())


def refresh_partition_for_tick(tick: datetime) -> str:
    """The partition the hourly refresh at ``tick`` works on: the day that holds the last hour.

    The 00:00 tick re-processes yesterday once more, so rows ingested in its last hour are not left
    to the next day's partition; the 01:00 tick is the first of the new day.
    """
    return partition_for(_utc(tick) - REFRESH_LAG)


def partition_range_for(ingested_at: Iterable[datetime]) -> PartitionKeyRange:
    """The smallest range of partitions that covers every given ingestion time."""
    moments = [_utc(moment) for moment in ingested_at]
    if not moments:
        raise ValueError("no ingestion times given: nothing to cover")
    first, last = partition_for(min(moments)), partition_for(max(moments))
    for key in (first, last):
        if not DAILY_INGESTION_PARTITIONS.has_partition_key(key):
            raise ValueError(
                f"ingestion day {key} is outside the partitions "
                f"({PARTITIONS_START} .. today); the raw rows' ingested_at must lie in that span"
            )
    return PartitionKeyRange(first, last)


def partition_range_tags(key_range: PartitionKeyRange) -> dict[str, str]:
    """Run tags that make one run cover ``key_range``, as a single-run backfill of it does."""
    return {ASSET_PARTITION_RANGE_START_TAG: key_range.start, ASSET_PARTITION_RANGE_END_TAG: key_range.end}
