"""A catalogue of bad input: every raw row ends accepted, duplicate or quarantined with its reason.

The rows are landed through the loader (JSON Lines, values kept as text) next to the contract scenario
and built on DuckDB and Postgres. The run succeeds with the bad rows quarantined, nothing is lost
(received = accepted + duplicates + quarantined per ingestion day), and each row's outcome is the one
contract §2.2 gives.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from support.scenario import built_scenario
from support.warehouse import Warehouse

pytestmark = pytest.mark.warehouse

INGESTED = datetime(2026, 3, 20, 12, 0)
GOOD_TOKENS = '{"tokens": 5, "model": "small"}'


def _row(event_id, properties=GOOD_TOKENS, *, customer_id="cus_a", event_type="tokens",
         occurred_at="2026-03-20T11:00:00Z", ingested_at=INGESTED) -> dict:
    return {"event_id": event_id, "customer_id": customer_id, "event_type": event_type,
            "occurred_at": occurred_at, "properties": properties, "ingested_at": ingested_at}


# (row, expected status, expected quarantine reason)
CATALOGUE = [
    (_row(None), "quarantined", "missing_event_id"),
    (_row("   "), "quarantined", "missing_event_id"),
    (_row("no-customer", customer_id=None), "quarantined", "missing_customer_id"),
    (_row("blank-customer", customer_id=""), "quarantined", "missing_customer_id"),
    (_row("not-a-date", occurred_at="not a date"), "quarantined", "invalid_occurred_at"),
    (_row("impossible-date", occurred_at="2026-13-45T00:00:00Z"), "quarantined", "invalid_occurred_at"),
    (_row("word-now", occurred_at="now"), "quarantined", "invalid_occurred_at"),
    (_row("epoch-number", occurred_at="1774000000"), "quarantined", "invalid_occurred_at"),
    (_row("future", occurred_at="2026-03-23T12:00:00Z"), "quarantined", "future_occurred_at"),
    (_row("too-late", occurred_at="2026-02-01T00:00:00Z", ingested_at=datetime(2026, 3, 20)),
     "quarantined", "outside_late_window"),
    (_row("array-properties", "[1, 2]"), "quarantined", "invalid_properties"),
    (_row("string-properties", '"tokens"'), "quarantined", "invalid_properties"),
    (_row("broken-json", "{tokens: 5"), "quarantined", "invalid_properties"),
    (_row("null-properties", None), "quarantined", "invalid_properties"),
    (_row("string-number", '{"tokens": "12", "model": "small"}'), "quarantined", "invalid_value"),
    (_row("missing-value", '{"model": "small"}'), "quarantined", "invalid_value"),
    (_row("huge-value", '{"tokens": 1e40, "model": "small"}'), "quarantined", "invalid_value"),
    (_row("huge-plain-value", '{"tokens": 123456789012345678901234567890, "model": "small"}'),
     "quarantined", "invalid_value"),
    (_row("long-fraction", '{"tokens": 5.123456789012345, "model": "small"}'), "accepted", None),
    (_row("negative-value", '{"tokens": -5, "model": "small"}'), "quarantined", "negative_value"),
    (_row("unknown-customer", customer_id="cus_zzz"), "quarantined", "no_active_contract"),
    (_row("before-contract", customer_id="cus_b", occurred_at="2026-01-05T00:00:00Z"),
     "quarantined", "no_active_contract"),
    (_row("several-faults", "[1]", customer_id=None, occurred_at="garbage"), "quarantined", "missing_customer_id"),
    (_row("unicode", '{"tokens": 5, "model": "small", "note": "naïve \\"quoted\\" \'single\' ✓ 東京"}'),
     "accepted", None),
    (_row("sql-text", '{"tokens": 5, "model": "small\'; drop table raw.usage_events; --"}'), "accepted", None),
    (_row("offset-time", occurred_at="2026-03-20T13:00:00+02:00"), "accepted", None),
    (_row("unmetered", "{}", event_type="page_view"), "accepted", None),
    (_row("count-needs-no-value", "{}", event_type="api_call"), "accepted", None),
    (_row("dup"), "accepted", None),
    (_row("dup", ingested_at=datetime(2026, 3, 20, 13, 0)), "duplicate", None),
    (_row("dup", '{"tokens": 6, "model": "small"}', ingested_at=datetime(2026, 3, 21)), "duplicate", None),
    (_row("resent", '{"tokens": -1, "model": "small"}'), "quarantined", "negative_value"),
    (_row("resent", ingested_at=datetime(2026, 3, 20, 14, 0)), "accepted", None),
]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def catalogue_build(request, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp(f"catalogue_{request.param}")
    with built_scenario(request.param, work, [row for row, _, _ in CATALOGUE]) as warehouse:
        yield warehouse


def test_each_bad_row_gets_its_outcome(catalogue_build: Warehouse):
    rows = catalogue_build.query(
        "select event_id, properties_raw, occurred_at_raw, event_status, quarantine_reason "
        "from {schema}.int_usage_events_classified"
    )
    expected = Counter(
        (row["event_id"], row["properties"], row["occurred_at"], status, reason)
        for row, status, reason in CATALOGUE
    )
    assert Counter(rows) == expected


def test_every_raw_row_is_accounted_for(catalogue_build: Warehouse):
    received, accepted, duplicates, quarantined, conflicting, unmetered, unbalanced = catalogue_build.query(
        "select sum(received_count), sum(accepted_count), sum(duplicate_count), sum(quarantined_count), "
        "sum(conflicting_duplicate_count), sum(unmetered_count), "
        "sum(case when is_balanced then 0 else 1 end) from {schema}.usage_event_reconciliation"
    )[0]
    assert received == len(CATALOGUE)
    assert received == accepted + duplicates + quarantined
    assert (duplicates, conflicting, unbalanced) == (2, 1, 0)
    assert unmetered == 1
    quarantined_rows = catalogue_build.query("select count(*) from {schema}.quarantined_usage_events")[0][0]
    assert quarantined_rows == quarantined == sum(1 for _, status, _ in CATALOGUE if status == "quarantined")
