"""A catalogue of bad input: every raw row ends accepted, duplicate or quarantined with its reason.

The rows are landed through the loader (JSON Lines, values kept as text) next to the contract scenario
and built on DuckDB and Postgres. The run succeeds with the bad rows quarantined, nothing is lost
(received = accepted + duplicates + quarantined per ingestion day), and each row's outcome is the one
contract §2.2 gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime

import pytest
from support.scenario import built_scenario
from support.warehouse import Warehouse

pytestmark = pytest.mark.warehouse

WAREHOUSES = ("duckdb", "postgres")
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


def _props(tokens: str = "5", model: str = '"small"', extra: str = "") -> str:
    return '{"tokens": %s, "model": %s%s}' % (tokens, model, extra)


# One JSON grammar on every warehouse (decision 46): RFC 8259, no repeated top-level key, no \u0000,
# no unpaired surrogate, and the limits of the tightest engine. Each text below was probed on DuckDB,
# Postgres and Spark; the comment says where the warehouses disagreed before decision 46.
STRICT_JSON = [
    # tokens only DuckDB's parser (yyjson) accepted: it billed them as invalid_value, Postgres refused the text
    ("json-nan", _props("NaN"), "invalid_properties"),
    ("json-infinity", _props("Infinity"), "invalid_properties"),
    ("json-minus-infinity", _props("-Infinity"), "invalid_properties"),
    ("json-lowercase-inf", _props("-inf"), "invalid_properties"),
    ("json-trailing-comma", '{"tokens": 5, "model": "small",}', "invalid_properties"),
    ("json-trailing-comma-in-array", _props(extra=', "a": [1, 2,]'), "invalid_properties"),
    # DuckDB and Spark accepted \u0000, Postgres refused it
    ("json-escaped-nul", _props(model='"sm\\u0000all"'), "invalid_properties"),
    ("json-escaped-nul-nested", _props(extra=', "n": {"x": "\\u0000"}'), "invalid_properties"),
    # every warehouse accepted a repeated key; DuckDB read the first value, Postgres and Spark the last
    ("json-duplicate-value-key", '{"tokens": 1, "tokens": 2, "model": "small"}', "invalid_properties"),
    ("json-duplicate-escaped-key", '{"tokens": 1, "tok\\u0065ns": 2, "model": "small"}', "invalid_properties"),
    ("json-duplicate-dimension-key", _props(extra=', "model": "large"'), "invalid_properties"),
    ("json-duplicate-other-key", _props(extra=', "x": 1, "x": 2'), "invalid_properties"),
    # Spark's parser ignored text after the first value
    ("json-two-objects", _props() + "{}", "invalid_properties"),
    ("json-extra-brace", _props() + "}", "invalid_properties"),
    ("json-text-then-brace", _props() + " x}", "invalid_properties"),
    # limits: Spark's parser refuses more than 1,000 levels, a number of more than 1,000 digits and a key of
    # more than 50,000 characters, Postgres 20,000 levels (stack depth); DuckDB took them all. The bounds
    # of decision 46 sit inside every engine's: 1,000 brackets and 50,001 characters were accepted everywhere
    ("json-999-levels", _props(extra=', "d": ' + "[" * 998 + "]" * 998), "accepted"),
    ("json-1000-brackets", _props(extra=', "d": ' + "[" * 999 + "]" * 999), "invalid_properties"),
    ("json-20000-levels", _props(extra=', "d": ' + "[" * 20000 + "]" * 20000), "invalid_properties"),
    ("json-1000-digits", _props(extra=', "n": 1' + "0" * 999), "accepted"),
    ("json-1001-digits", _props(extra=', "n": 1' + "0" * 1000), "invalid_properties"),
    ("json-long-key", _props(extra=', "' + "k" * 50001 + '": 1'), "invalid_properties"),
    ("json-50000-characters", _props(extra=', "s": "' + "x" * (50000 - len(_props(extra=', "s": ""'))) + '"'),
     "accepted"),
    ("json-50001-characters", _props(extra=', "s": "' + "x" * (50001 - len(_props(extra=', "s": ""'))) + '"'),
     "invalid_properties"),
    # Postgres's numeric refuses an exponent from about 131,072 (DuckDB and Spark read a double); decision 46
    # stops at 1000, which Postgres took too
    ("json-exponent-200000", _props(extra=', "n": 1e200000'), "invalid_properties"),
    ("json-exponent-1001", _props(extra=', "n": 1e1001'), "invalid_properties"),
    ("json-exponent-1000", _props("1e1000"), "invalid_value"),
    ("json-exponent-like-string", _props(extra=', "note": "release e12345"'), "accepted"),
    # Spark refused JSON whitespace after the object (its check trimmed spaces only)
    ("json-whitespace-around", " \t\r\n" + _props() + " \n\t", "accepted"),
    # every warehouse agreed already; kept so that a change of engine or version shows
    ("json-plus-sign", _props("+1"), "invalid_properties"),
    ("json-leading-zero", _props("01"), "invalid_properties"),
    ("json-bare-fraction", _props(".5"), "invalid_properties"),
    ("json-trailing-dot", _props("5."), "invalid_properties"),
    ("json-hex", _props("0x10"), "invalid_properties"),
    ("json-single-quoted-value", _props(model="'small'"), "invalid_properties"),
    ("json-single-quoted-key", "{'tokens': 5, \"model\": \"small\"}", "invalid_properties"),
    ("json-unquoted-key", '{tokens: 5, "model": "small"}', "invalid_properties"),
    ("json-line-comment", '{"tokens": 5, // five\n "model": "small"}', "invalid_properties"),
    ("json-block-comment", '{"tokens": /* five */ 5, "model": "small"}', "invalid_properties"),
    ("json-raw-tab", _props(model='"sm\tall"'), "invalid_properties"),
    ("json-raw-newline", _props(model='"sm\nall"'), "invalid_properties"),
    ("json-raw-control", _props(model='"sm\x01all"'), "invalid_properties"),
    ("json-escape-x", _props(model='"\\x41"'), "invalid_properties"),
    ("json-escape-a", _props(model='"\\a"'), "invalid_properties"),
    ("json-lone-high-surrogate", _props(extra=', "note": "\\ud800"'), "invalid_properties"),
    ("json-lone-low-surrogate", _props(extra=', "note": "\\udc00"'), "invalid_properties"),
    ("json-surrogate-pair", _props(extra=', "note": "\\ud83d\\ude00"'), "accepted"),
    ("json-escaped-backslash-u0000", _props(extra=', "note": "\\\\u0000"'), "accepted"),
    ("json-escaped-key", '{"tok\\u0065ns": 5, "model": "small"}', "accepted"),
    ("json-nested-duplicate", _props(extra=', "n": {"a": 1, "a": 2}'), "accepted"),
    ("json-delete-character", _props(extra=', "note": "a\x7fb"'), "accepted"),
    ("json-exponent-value", _props("1.5E+3"), "accepted"),
    ("json-negative-zero", _props("-0"), "accepted"),
    ("json-byte-order-mark", "\ufeff" + _props(), "invalid_properties"),
    ("json-vertical-tab", "\x0b" + _props(), "invalid_properties"),
    ("json-form-feed", _props("\x0c5"), "invalid_properties"),
    ("json-no-break-space", _props("\u00a05"), "invalid_properties"),
    ("json-text-after", _props() + " x", "invalid_properties"),
    ("json-uppercase-true", _props(model="TRUE"), "invalid_properties"),
    ("json-empty-text", "", "invalid_properties"),
    ("json-only-whitespace", " \n\t ", "invalid_properties"),
    ("json-boolean-value", _props("true"), "invalid_value"),
    ("json-object-value", _props("{}"), "invalid_value"),
    ("json-null-value", _props("null"), "invalid_value"),
]
CATALOGUE += [
    (_row(event_id, properties), "accepted", None) if outcome == "accepted"
    else (_row(event_id, properties), "quarantined", outcome)
    for event_id, properties, outcome in STRICT_JSON
]



@pytest.fixture(scope="module")
def catalogue_builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Warehouse]]:
    """The catalogue built once on each warehouse, both kept for the module (decision 46 compares them)."""
    with ExitStack() as stack:
        yield {
            target: stack.enter_context(
                built_scenario(target, tmp_path_factory.mktemp(f"catalogue_{target}"), [row for row, _, _ in CATALOGUE])
            )
            for target in WAREHOUSES
        }


@pytest.fixture(params=WAREHOUSES)
def catalogue_build(request, catalogue_builds: dict[str, Warehouse]) -> Warehouse:
    return catalogue_builds[request.param]


def test_each_bad_row_gets_its_outcome(catalogue_build: Warehouse):
    rows = catalogue_build.query(
        "select event_id, properties_raw, occurred_at_raw, event_status, quarantine_reason "
        "from {schema}.int_usage_events_classified"
    )
    expected = Counter(
        (row["event_id"], row["properties"], row["occurred_at"], status, reason)
        for row, status, reason in CATALOGUE
    )
    unexpected, missing = Counter(rows) - expected, expected - Counter(rows)
    assert (unexpected, missing) == (Counter(), Counter()), "\n".join(
        f"{'got' if side is unexpected else 'expected'}: {row[0]} {row[3]} {row[4]}"
        for side in (unexpected, missing) for row in sorted(side, key=repr)
    )


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


def test_every_warehouse_gives_each_row_the_same_outcome(catalogue_builds: dict[str, Warehouse]):
    """The same raw row gets the same outcome on every warehouse, whatever odd text it holds (SPEC §6.1)."""
    outcomes = {
        target: sorted(
            warehouse.query(
                "select event_id, coalesce(properties_raw, ''), ingested_at, event_status, quarantine_reason "
                "from {schema}.int_usage_events_classified"
            ),
            key=repr,
        )
        for target, warehouse in catalogue_builds.items()
    }
    duckdb_rows, postgres_rows = outcomes["duckdb"], outcomes["postgres"]
    assert len(duckdb_rows) == len(postgres_rows) == len(CATALOGUE)
    differing = [
        (duck[0], duck[3:], pg[3:]) for duck, pg in zip(duckdb_rows, postgres_rows, strict=True) if duck != pg
    ]
    assert differing == [], "event_id, (status, reason) on DuckDB, on Postgres"
