"""The run's clock ``as_of`` as text: ISO 8601, in UTC, without an offset (what the dbt vars expect)."""

from __future__ import annotations

from datetime import UTC, datetime


def normalize_as_of(value: str) -> str:
    """ISO 8601 text in UTC without an offset, e.g. ``2026-11-21T00:00:00``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValueError(f"as_of must be an ISO 8601 timestamp, got {value!r}") from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()
