"""The deterministic demo generator: reference seeds, event volumes and shapes, and the bad rows."""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from warehouse_billing import demo_data
from warehouse_billing.demo_data import (
    BAD_KINDS,
    CONTRACT_COLUMNS,
    KIND_OUTCOMES,
    RATE_CARDS,
    contract_term_seeds,
    generate_events,
    generate_labelled_events,
    reference_data,
    write_events,
    write_reference_seeds,
)
from warehouse_billing.loader import load_files
from warehouse_billing.warehouse import connect

REPO_ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 21)
GENERATED_SEEDS = (
    "customers.csv", "contracts.csv", "price_overrides.csv", "discounts.csv", "credit_grants.csv",
)  # fmt: skip
# tests/test_pipeline_builds.py checks these customers' October invoices by hand: no terms on them.
HAND_CHECKED_CUSTOMERS = ("cus_0178", "cus_0240")
Labelled = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def small() -> Labelled:
    return generate_labelled_events(scale=0.05)


@pytest.fixture(scope="module")
def full() -> Labelled:
    return generate_labelled_events(scale=1.0)


@pytest.fixture(scope="module")
def contracts_by_customer() -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for contract in reference_data()[1]:
        grouped[contract["customer_id"]].append(contract)
    return grouped


def occurred(row: dict[str, Any]) -> datetime | None:
    """occurred_at as a naive UTC datetime, or None when it is not an ISO 8601 timestamp."""
    try:
        moment = datetime.fromisoformat(row["occurred_at"])
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def properties(row: dict[str, Any]) -> Any:
    try:
        return json.loads(row["properties"])
    except (TypeError, ValueError):
        return None


def is_active(contracts: list[dict[str, str]], moment: datetime) -> bool:
    return any(
        datetime.fromisoformat(c["starts_at"]) <= moment
        and (not c["ends_at"] or moment < datetime.fromisoformat(c["ends_at"]))
        for c in contracts
    )


# --- determinism ------------------------------------------------------------------------------------


def test_same_arguments_give_the_same_events(small: Labelled):
    assert generate_labelled_events(scale=0.05) == small
    assert generate_events(scale=0.05) == [row for _, row in small]
    assert generate_events(scale=0.05, seed=7) != [row for _, row in small]


def test_written_files_are_identical_across_runs(tmp_path: Path):
    write_events(tmp_path / "a.jsonl", generate_events(scale=0.02))
    write_events(tmp_path / "b.jsonl", generate_events(scale=0.02))
    write_reference_seeds(tmp_path / "s1")
    write_reference_seeds(tmp_path / "s2")

    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    for name in GENERATED_SEEDS:
        assert (tmp_path / "s1" / name).read_bytes() == (tmp_path / "s2" / name).read_bytes()


def test_committed_seeds_match_the_generator(tmp_path: Path):
    assert sorted(path.name for path in write_reference_seeds(tmp_path)) == sorted(GENERATED_SEEDS)
    for name in GENERATED_SEEDS:
        assert (REPO_ROOT / "seeds" / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"seeds/{name} is stale: run python -m warehouse_billing.demo_data --seeds-dir seeds ..."
        )


# --- reference data ---------------------------------------------------------------------------------


def test_customers():
    customers, _ = reference_data()
    assert len(customers) == 300
    assert [c["customer_id"] for c in customers] == [f"cus_{n:04d}" for n in range(1, 301)]
    assert len({c["name"] for c in customers}) == 300
    assert {c["segment"] for c in customers} == {"startup", "scaleup", "enterprise"}
    assert all(re.fullmatch(r"[A-Z]{2}", c["country"]) for c in customers)


def test_contracts_follow_the_contract(contracts_by_customer: dict[str, list[dict[str, str]]]):
    customers, contracts = reference_data()
    with (REPO_ROOT / "seeds" / "contracts.csv").open(newline="") as handle:
        assert tuple(next(csv.reader(handle))) == CONTRACT_COLUMNS

    assert len({c["contract_id"] for c in contracts}) == len(contracts)
    for contract in contracts:
        assert contract["rate_card_id"] in RATE_CARDS
        assert contract["currency"] == RATE_CARDS[contract["rate_card_id"]]
        assert contract["billing_period"] in ("monthly", "quarterly", "annual")
        assert contract["billing_anchor"] in ("calendar", "anniversary")
        assert re.fullmatch(r"(\d+\.\d\d)?", contract["minimum_commitment"])
        assert contract["payment_terms_days"] == "30"
        assert "2026-06-01 00:00:00" <= contract["starts_at"] <= "2026-10-15 00:00:00"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", contract["starts_at"])
        assert contract["ends_at"] == "" or contract["ends_at"] > contract["starts_at"]

    without = [c for c in customers if c["customer_id"] not in contracts_by_customer]
    assert 8 <= len(without) <= 12

    upgrades = 0
    for own in contracts_by_customer.values():
        own = sorted(own, key=lambda c: c["starts_at"])
        for first, second in itertools.pairwise(own):
            assert first["ends_at"] and first["ends_at"] <= second["starts_at"], "overlapping contracts"
        if len(own) == 2:
            first, second = own
            assert first["ends_at"] == second["starts_at"]
            assert (first["rate_card_id"], second["rate_card_id"]) == ("rc_standard", "rc_growth")
            assert first["billing_period"] == second["billing_period"] == "monthly"
            assert 10 <= int(second["starts_at"][8:10]) <= 20  # mid-month
            upgrades += 1
    assert 4 <= upgrades <= 6

    single_endings = [
        own[0]["ends_at"] for own in contracts_by_customer.values() if len(own) == 1 and own[0]["ends_at"]
    ]
    assert 3 <= len(single_endings) <= 7
    assert all(ends[:7] in ("2026-10", "2026-11") for ends in single_endings)


# --- contract terms ---------------------------------------------------------------------------------


def _seed_rows(name: str) -> list[dict[str, str]]:
    with (REPO_ROOT / "seeds" / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _contract_specific_prices() -> list[dict[str, str]]:
    return [row for row in _seed_rows("prices") if row["contract_id"]]


# Priced on the yen rate card only: the demo's story (warehouse_billing/demo.py) has a standard-plan
# customer use it, and its invoice is held as unpriced. The generated events never use it.
FINE_TUNING = "fine_tuning_hours"


def test_rate_cards_match_the_seed_and_price_every_metric():
    assert {row["rate_card_id"]: row["currency"] for row in _seed_rows("rate_cards")} == RATE_CARDS
    metrics = {row["metric_id"] for row in _seed_rows("billable_metrics")} - {FINE_TUNING}
    prices = [row for row in _seed_rows("prices") if row["metric_id"] != FINE_TUNING]
    for rate_card in RATE_CARDS:
        own = [row for row in prices if row["rate_card_id"] == rate_card]
        # A row without dimensions per metric: usage of any dimension value is priced, never unpriced.
        usage = [row for row in own if row["charge_type"] == "usage"]
        assert {row["metric_id"] for row in usage if not row["dimensions"]} == metrics
        assert any(row["product_id"] == "platform_fee" for row in own)
    japan = [row for row in prices if row["rate_card_id"] == "rc_japan"]
    standard = [row for row in prices if row["rate_card_id"] == "rc_standard"]
    assert all(row["price_id"].startswith("jp_") for row in japan)
    shape = ("product_id", "charge_type", "metric_id", "pricing_model", "dimensions", "free_units")
    assert sorted(tuple(r[c] for c in shape) for r in japan) == sorted(
        tuple(r[c] for c in shape) for r in standard
    )
    tiers = Counter(row["price_id"] for row in _seed_rows("price_tiers"))
    for row in standard:
        assert tiers[row["price_id"].replace("std_", "jp_", 1)] == tiers[row["price_id"]]


def test_contract_terms_refer_to_existing_contracts_within_their_time():
    _, contracts = reference_data()
    by_id = {contract["contract_id"]: contract for contract in contracts}
    terms = contract_term_seeds()
    rows = [row for _, seed_rows in terms.values() for row in seed_rows] + _contract_specific_prices()
    assert all(row["contract_id"] in by_id for row in rows)
    for row in rows:
        contract = by_id[row["contract_id"]]
        starts = row.get("starts_at") or row.get("effective_from") or ""
        assert not starts or starts >= contract["starts_at"], row
        assert by_id[row["contract_id"]]["customer_id"] not in HAND_CHECKED_CUSTOMERS
    with_terms = {row["contract_id"] for row in rows} | {
        c["contract_id"]
        for c in contracts
        if (c["billing_period"], c["billing_anchor"], c["minimum_commitment"]) != ("monthly", "calendar", "")
        or c["rate_card_id"] == "rc_japan"
    }
    assert 5 <= len(with_terms) <= 15
    assert not {by_id[c]["customer_id"] for c in with_terms} & set(HAND_CHECKED_CUSTOMERS)
    for name, (columns, _) in terms.items():
        with (REPO_ROOT / "seeds" / f"{name}.csv").open(newline="") as handle:
            assert tuple(next(csv.reader(handle))) == tuple(columns)


def test_every_capability_is_in_the_demo():
    _, contracts = reference_data()
    assert {c["billing_period"] for c in contracts} == {"monthly", "quarterly", "annual"}
    assert {(c["billing_period"], c["billing_anchor"]) for c in contracts} >= {
        ("monthly", "calendar"), ("monthly", "anniversary"), ("quarterly", "calendar"),
        ("quarterly", "anniversary"), ("annual", "calendar"),
    }  # fmt: skip
    long_periods = [c for c in contracts if c["billing_period"] != "monthly"]
    assert any(c["ends_at"] for c in long_periods), "a quarterly or annual contract ending mid-period"
    assert any(c["starts_at"][5:10] not in ("01-01", "04-01", "07-01", "10-01") for c in long_periods)
    assert [c["currency"] for c in contracts if c["rate_card_id"] == "rc_japan"] == ["JPY"]
    assert sum(bool(c["minimum_commitment"]) for c in contracts) >= 2

    terms = {name: rows for name, (_, rows) in contract_term_seeds().items()}
    overrides = terms["price_overrides"]
    assert {bool(row["product_id"]) for row in overrides} == {True, False}
    discounts = terms["discounts"]
    assert {(row["discount_type"], bool(row["product_id"])) for row in discounts} == {
        ("percent", True), ("amount", True), ("percent", False), ("amount", False),
    }  # fmt: skip
    grants = terms["credit_grants"]
    assert {row["grant_type"] for row in grants} == {"prepaid", "promotional"}
    assert any(row["product_ids"] for row in grants)
    ends = {c["contract_id"]: c["ends_at"] for c in contracts}
    assert any(
        row["expires_at"] and (not ends[row["contract_id"]] or row["expires_at"] < ends[row["contract_id"]])
        for row in grants
    ), "a grant that expires while its contract runs"

    prices = _contract_specific_prices()
    assert any(row["minimum_amount"] for row in prices) and any(row["maximum_amount"] for row in prices)
    # a monthly fee on a quarterly contract: three lines a quarter (SPEC 6.2 fee intervals)
    periods = {c["contract_id"]: c["billing_period"] for c in contracts}
    assert any(row["interval"] == "month" and periods[row["contract_id"]] == "quarterly" for row in prices)
    # seats billed as a recurring charge: the count at the period's start, rises prorated (SPEC 6.2)
    assert any(row["charge_type"] == "recurring" and row["metric_id"] == "seats" for row in prices)
    # a fee billed in advance on an opening invoice, and one whose contract ends mid-period: its unused
    # days are credited on its last invoice (SPEC 6.2 billing_timing)
    advance = [row for row in prices if row["billing_timing"] == "advance"]
    assert any(ends[row["contract_id"]] for row in advance) and any(not ends[row["contract_id"]] for row in advance)
    rate_cards = {c["contract_id"]: c["rate_card_id"] for c in contracts}
    card_products = {(row["rate_card_id"], row["product_id"]) for row in _seed_rows("prices")}
    for row in prices:
        assert not row["rate_card_id"]
        # it replaces a price of the contract's rate card
        assert (rate_cards[row["contract_id"]], row["product_id"]) in card_products


def test_terms_leave_the_events_unchanged(monkeypatch: pytest.MonkeyPatch):
    """Terms change no contract's time span, so every customer's usage is the same without them."""
    customers = sorted(
        {c["customer_id"] for c in reference_data()[1] if c["contract_id"] in demo_data.CONTRACT_TERMS}
    )
    with_terms = generate_events(customers=customers, scale=0.2)
    monkeypatch.setattr(demo_data, "CONTRACT_TERMS", {})
    assert generate_events(customers=customers, scale=0.2) == with_terms
    assert {c["rate_card_id"] for c in reference_data()[1]} == {"rc_standard", "rc_growth", "rc_europe"}


# --- volumes ----------------------------------------------------------------------------------------


def test_volume_at_full_scale(full: Labelled):
    assert 150_000 <= len(full) <= 250_000
    by_type = Counter(row["event_type"] for _, row in full)
    assert by_type.most_common(1)[0][0] == "tokens"
    assert set(by_type) == {"tokens", "api_request", "storage_snapshot", "seat_count", "page_view"}
    assert by_type["page_view"] < 0.05 * len(full)

    # Varied usage: a long tail of small customers and a few crossing millions of tokens a month.
    monthly_input: Counter[tuple[str, str]] = Counter()
    for kind, row in full:
        props = properties(row)
        if kind == "valid" and row["event_type"] == "tokens" and props["direction"] == "input":
            monthly_input[row["customer_id"], occurred(row).strftime("%Y-%m")] += props["tokens"]
    october = sorted(total for (_, month), total in monthly_input.items() if month == "2026-10")
    assert october[len(october) // 2] < 100_000
    assert sum(total > 5_000_000 for total in october) >= 3


def test_scale_multiplies_volume(small: Labelled, full: Labelled):
    assert 0.03 * len(full) <= len(small) <= 0.08 * len(full)


def test_about_one_percent_duplicates(small: Labelled, full: Labelled):
    for labelled in (small, full):
        first_seen: dict[str, dict[str, Any]] = {}
        duplicates = Counter()
        for kind, row in labelled:  # arrival order
            if kind in ("duplicate", "conflicting_duplicate"):
                original = first_seen[row["event_id"]]
                assert (
                    timedelta(minutes=1) < row["ingested_at"] - original["ingested_at"] <= timedelta(days=3)
                )
                same_payload = {**row, "ingested_at": None} == {**original, "ingested_at": None}
                assert same_payload == (kind == "duplicate")
                duplicates[kind] += 1
            elif row["event_id"] is not None:
                assert row["event_id"] not in first_seen, "only generated duplicates re-use an event_id"
                first_seen[row["event_id"]] = row
        share = sum(duplicates.values()) / len(first_seen)
        assert 0.008 <= share <= 0.012
        assert 2 <= duplicates["conflicting_duplicate"] <= 0.05 * sum(duplicates.values()) + 2


# --- row kinds --------------------------------------------------------------------------------------


def check_kind(kind: str, row: dict[str, Any], contracts: dict[str, list[dict[str, str]]]) -> None:
    """Assert that a row is what its kind says, and (for bad rows) fails that one rule only."""
    moment, props, ingested = occurred(row), properties(row), row["ingested_at"]
    if kind == "missing_event_id":
        assert row["event_id"] is None
    else:
        assert row["event_id"]
    if kind == "missing_customer_id":
        assert row["customer_id"] is None
        return
    if kind == "invalid_occurred_at":
        assert moment is None
        return
    assert moment is not None
    if kind == "future_occurred_at":
        assert moment - ingested > timedelta(hours=24)
        return
    assert moment <= ingested
    if kind == "invalid_properties":
        assert not isinstance(props, dict)
        return
    assert isinstance(props, dict)
    if kind == "invalid_value":
        assert not isinstance(props.get("tokens"), int)
        return
    if kind == "negative_value":
        assert props["tokens"] < 0
        return
    own = contracts.get(row["customer_id"], [])
    if kind == "unknown_customer":
        assert row["customer_id"] not in {c["customer_id"] for c in reference_data()[0]}
        return
    if kind == "no_active_contract":
        assert not own
        return
    assert is_active(own, moment)
    if kind == "outside_late_window":
        assert ingested - moment > timedelta(days=35)
        return
    if kind == "late":
        assert timedelta(days=1) <= ingested - moment <= timedelta(days=10)
    else:
        assert ingested - moment < timedelta(days=4)
    if kind == "unicode_properties":
        assert not row["properties"].isascii()
    if kind == "sql_text_properties":
        assert re.search(r"(?i)drop|delete|select|' or '", props["label"])
    check_shape(row["event_type"], props, allow_label=kind in ("unicode_properties", "sql_text_properties"))


def check_shape(event_type: str, props: dict[str, Any], allow_label: bool) -> None:
    keys = set(props) - ({"label"} if allow_label else set())
    if event_type == "tokens":
        assert keys == {"tokens", "model", "direction", "region"}
        assert isinstance(props["tokens"], int) and props["tokens"] > 0
        assert props["model"] in ("small", "medium", "large")
        assert props["direction"] in ("input", "output")
        assert props["region"] in ("us", "eu")
    elif event_type == "api_request":
        assert keys == {"endpoint", "user_id"}
        assert props["endpoint"].startswith("/v1/") and re.fullmatch(r"u_\d+", props["user_id"])
    elif event_type == "storage_snapshot":
        assert keys == {"gb"} and props["gb"] > 0
    elif event_type == "seat_count":
        assert keys == {"seats"} and isinstance(props["seats"], int) and props["seats"] > 0
    else:
        assert event_type == "page_view"


@pytest.mark.parametrize("which", ["small", "full"])
def test_every_row_is_what_its_kind_says(request: pytest.FixtureRequest, which: str, contracts_by_customer):
    labelled: Labelled = request.getfixturevalue(which)
    kinds = Counter(kind for kind, _ in labelled)

    assert set(kinds) == set(KIND_OUTCOMES)
    for kind in BAD_KINDS:
        if kind != "no_active_contract":
            assert 2 <= kinds[kind] <= 12, kind  # a few of each, whatever the scale
    assert 0.002 * len(labelled) <= kinds["late"] <= 0.01 * len(labelled)
    for kind, row in labelled:
        if kind not in ("duplicate", "conflicting_duplicate"):
            check_kind(kind, row, contracts_by_customer)


def test_nothing_arrives_after_end_and_rows_come_in_arrival_order(full: Labelled):
    stamps = [row["ingested_at"] for _, row in full]
    assert all(isinstance(s, datetime) and s.tzinfo is None for s in stamps)
    assert max(stamps) < END
    assert stamps == sorted(stamps)


def test_event_text_formats(full: Labelled):
    valid = [row for kind, row in full if kind == "valid"]
    formats = Counter("Z" if row["occurred_at"].endswith("Z") else row["occurred_at"][-6:] for row in valid)
    assert set(formats) == {"Z", "+02:00"} and formats["+02:00"] < 0.05 * len(valid)
    assert all(
        re.fullmatch(r'\{"gb": \d+\.\d\d\}', r["properties"])
        for r in valid
        if r["event_type"] == "storage_snapshot"
    )


def test_output_tokens_are_fewer_than_input(small: Labelled):
    totals: Counter[tuple[str, str]] = Counter()
    for kind, row in small:
        if KIND_OUTCOMES[kind] == "accepted" and row["event_type"] == "tokens":
            props = properties(row)
            totals[row["customer_id"], props["direction"]] += props["tokens"]
    customers = {customer for customer, _ in totals}
    assert all(totals[c, "output"] < totals[c, "input"] for c in customers)


def test_customers_subset(contracts_by_customer):
    rows = generate_events(customers=["cus_0001", "cus_0002"], scale=0.2)
    assert {row["customer_id"] for row in rows} <= {
        "cus_0001",
        "cus_0002",
        None,
        "cus_9999",
        "cus_0000",
        "cus_10001",
    }
    assert {row["customer_id"] for row in rows} >= {"cus_0001", "cus_0002"}


# --- end to end -------------------------------------------------------------------------------------


def test_cli_writes_a_file_the_loader_replays(duckdb_warehouse: str, tmp_path: Path):
    out = tmp_path / "demo" / "events.jsonl"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "warehouse_billing.demo_data",
            "--out",
            str(out),
            "--scale",
            "0.05",
            "--seeds-dir",
            str(tmp_path / "seeds"),
        ],
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    expected = generate_events(scale=0.05)
    assert f"wrote {len(expected)} events" in completed.stdout
    for kind in ("duplicate", "conflicting_duplicate", "missing_event_id", "outside_late_window"):
        assert kind in completed.stdout
    for name in GENERATED_SEEDS:
        assert (tmp_path / "seeds" / name).is_file()

    [result] = load_files([out], keep_ingested_at=True)
    assert result.ok, result.error
    assert result.rows == len(expected)
    conn = connect("duckdb")
    try:
        stored = conn.execute(
            "select event_id, customer_id, event_type, occurred_at, properties, ingested_at from raw.usage_events"
        ).fetchall()
    finally:
        conn.close()
    key = lambda r: (r[5], r[0] or "", r[4] or "")
    assert sorted(stored, key=key) == sorted(
        (tuple(row[name] for name in demo_data.EVENT_COLUMNS) for row in expected), key=key
    )
