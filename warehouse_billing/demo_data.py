"""Deterministic demo data for an AI-API company: reference seeds and raw usage events.

    python -m warehouse_billing.demo_data --out warehouse/demo_events.jsonl [--scale 1.0] [--seeds-dir seeds]

Reference data (customers, contracts and their terms: price overrides, discounts, credit grants) is
fixed: it does not depend on the events' seed, so the committed seed files always match what the
generator assumes. Events are drawn from one random stream per
customer (seeded by the seed and the customer id), so a customer's usage is the same whichever other
customers are generated with it. On top of the clean usage come duplicates, late arrivals and a few
dozen deliberately bad rows, each labelled with the kind of row it is (see KIND_OUTCOMES).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REFERENCE_SEED = 20260601
N_CUSTOMERS = 300
N_WITHOUT_CONTRACT = 10
N_UPGRADES = 5
N_ENDING = 5
N_HEAVY = 6

RATE_CARDS = {"rc_standard": "USD", "rc_growth": "USD", "rc_europe": "EUR", "rc_japan": "JPY"}
CUSTOMER_COLUMNS = ("customer_id", "name", "segment", "country", "tax_jurisdiction", "tax_exempt")
CONTRACT_COLUMNS = (
    "contract_id",
    "customer_id",
    "rate_card_id",
    "starts_at",
    "ends_at",
    "billing_period",
    "billing_anchor",
    "currency",
    "minimum_commitment",
    "payment_terms_days",
)
EVENT_COLUMNS = ("event_id", "customer_id", "event_type", "occurred_at", "properties", "ingested_at")
PRICE_OVERRIDE_COLUMNS = ("contract_id", "product_id", "multiplier", "effective_from", "effective_to")
DISCOUNT_COLUMNS = (
    "discount_id", "contract_id", "product_id", "discount_type", "value", "starts_at", "ends_at",
)  # fmt: skip
CREDIT_GRANT_COLUMNS = (
    "grant_id", "contract_id", "grant_type", "amount", "product_ids", "priority", "starts_at", "expires_at",
)  # fmt: skip

# Contract terms, so the demo shows every capability of the models. They sit on a dozen existing
# contracts (the customer id is there as a check) and change no contract's dates or customer: the
# events are drawn from the contracts' time spans only, so they are the same with or without terms.
# seeds/prices.csv holds the contract-specific prices that go with them (rows with a contract_id):
# per-period platform fees and seats for the quarterly and annual contracts (rc_* prices are
# monthly; ct_0118's platform fee stays monthly, a fee interval of its own, three lines a quarter;
# ct_0245's seats are a recurring seats price: the count at the year's start, each rise prorated;
# ct_0245's and ct_0002's platform fees are billed in advance: ct_0245's year on an opening invoice,
# ct_0002's last quarter in full and the days after its end credited on its last invoice),
# a negotiated seats price with a charge maximum (ct_0029) and requests with a charge minimum (ct_0093).
CONTRACT_TERMS: dict[str, dict[str, str]] = {
    # Ends mid-quarter (2026-11-10); its quarter 2026-08-20 .. 2026-11-20 is ready at the demo's as_of.
    "ct_0002": {"customer_id": "cus_0002", "billing_period": "quarterly", "billing_anchor": "anniversary",
                "minimum_commitment": "600.00"},
    # Starts mid-quarter: Q3 2026 prorated (ready), Q4 open.
    "ct_0118": {"customer_id": "cus_0119", "billing_period": "quarterly"},
    # Starts mid-year: 2026 is one open period, prorated from October.
    "ct_0245": {"customer_id": "cus_0250", "billing_period": "annual"},
    # The yen customer, on monthly periods from its start day (7th to 7th).
    "ct_0176": {"customer_id": "cus_0177", "rate_card_id": "rc_japan", "billing_anchor": "anniversary"},
    # A monthly commitment well above a small customer's usage.
    "ct_0115": {"customer_id": "cus_0116", "minimum_commitment": "150.00"},
}  # fmt: skip
# Rows of the three term seeds, in their columns' order. Money is in the contract's currency.
PRICE_OVERRIDES: tuple[tuple[str, ...], ...] = (
    ("ct_0118", "seats", "0.8", "2026-07-15 00:00:00", ""),  # 20 % off seats, the whole contract
    ("ct_0063", "", "0.9", "2026-10-01 00:00:00", ""),  # 10 % off every usage charge from October
)
DISCOUNTS: tuple[tuple[str, ...], ...] = (
    # Per product: a percentage for six months, and an amount under ct_0029's seats maximum.
    ("d_0001", "ct_0072", "platform_fee", "percent", "0.20", "2026-09-10 00:00:00", "2027-03-10 00:00:00"),
    ("d_0002", "ct_0029", "seats", "amount", "500.00", "", ""),
    # On the invoice: a percentage, then from October an amount (one after another by discount_id).
    ("d_0003", "ct_0098", "", "percent", "0.05", "", ""),
    ("d_0004", "ct_0098", "", "amount", "250.00", "2026-10-01 00:00:00", ""),
    # An upgrade incentive on the new contract of an upgrading customer, for three months.
    ("d_0005", "ct_0023", "", "amount", "100.00", "2026-10-14 00:00:00", "2027-01-14 00:00:00"),
)
CREDIT_GRANTS: tuple[tuple[str, ...], ...] = (
    # An upgrade credit that expires mid-contract, mostly unused (the credit ledger shows the expiry).
    ("g_0001", "ct_0014", "promotional", "1000.00", "", "1", "2026-09-15 00:00:00", "2026-10-15 00:00:00"),
    # Prepaid for seats and storage only, drawn first; a promotional grant takes the rest of the invoice.
    ("g_0002", "ct_0063", "prepaid", "1200.00", "seats,storage", "1", "2026-09-17 00:00:00", ""),
    ("g_0003", "ct_0063", "promotional", "300.00", "", "2", "2026-09-17 00:00:00", "2027-01-01 00:00:00"),
    # The annual contract's prepayment.
    ("g_0004", "ct_0245", "prepaid", "10000.00", "", "1", "2026-10-01 00:00:00", ""),
    # Yen: a welcome credit for two months.
    ("g_0005", "ct_0176", "promotional", "50000", "", "1", "2026-10-07 00:00:00", "2026-12-07 00:00:00"),
)

# What the warehouse is expected to make of each kind of generated row (contract §2.2).
KIND_OUTCOMES = {
    "valid": "accepted",
    "late": "accepted",  # arrived 1-10 days after it occurred: inside the late-arrival window
    "unicode_properties": "accepted",
    "sql_text_properties": "accepted",
    "duplicate": "duplicate",
    "conflicting_duplicate": "duplicate",
    "missing_event_id": "missing_event_id",
    "missing_customer_id": "missing_customer_id",
    "invalid_occurred_at": "invalid_occurred_at",
    "future_occurred_at": "future_occurred_at",
    "invalid_properties": "invalid_properties",
    "invalid_value": "invalid_value",
    "negative_value": "negative_value",
    "no_active_contract": "no_active_contract",  # customers without any contract
    "unknown_customer": "no_active_contract",  # a customer id that is not in the customers seed
    "outside_late_window": "outside_late_window",
}
BAD_KINDS = tuple(kind for kind, outcome in KIND_OUTCOMES.items() if outcome not in ("accepted", "duplicate"))

_EU_COUNTRIES = ("DE", "FR", "NL", "ES", "IE", "IT", "SE", "FI", "AT", "BE")
# The countries seeds/tax_rates.csv has rates for (VAT in the EU and the UK).
_TAXED_COUNTRIES = (*_EU_COUNTRIES, "GB")
_COUNTRY_WEIGHTS = {
    "US": 38, "CA": 5, "GB": 8, "DE": 8, "FR": 6, "NL": 4, "SE": 2, "ES": 3, "IE": 2, "IT": 2,
    "FI": 1, "AT": 1, "BE": 1, "JP": 4, "IN": 5, "BR": 3, "AU": 4, "SG": 3,
}  # fmt: skip
_LEGAL_SUFFIX = {
    "DE": "GmbH", "AT": "GmbH", "FR": "SAS", "NL": "B.V.", "BE": "SRL", "ES": "S.L.", "IT": "S.r.l.",
    "SE": "AB", "FI": "Oy", "GB": "Ltd", "IE": "Ltd", "JP": "K.K.", "IN": "Pvt Ltd", "BR": "Ltda",
    "AU": "Pty Ltd", "SG": "Pte Ltd",
}  # fmt: skip
_NAME_FIRST = (
    "Acme", "Apex", "Atlas", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cedar", "Cobalt", "Copper",
    "Crimson", "Delta", "Ember", "Evergreen", "Falcon", "Fjord", "Golden", "Granite", "Harbor", "Helix",
    "Indigo", "Iron", "Juniper", "Kestrel", "Lumen", "Maple", "Meridian", "Nimbus", "North", "Nova",
    "Oak", "Onyx", "Orbit", "Pine", "Polar", "Quartz", "Quill", "Raven", "Redwood", "Sable", "Silver",
    "Sol", "Summit", "Tidal", "Umber", "Vector", "Willow", "Zephyr", "Müller", "Fjäll", "O'Brien",
)  # fmt: skip
_NAME_SECOND = (
    "Analytics", "Bio", "Cloud", "Data", "Dynamics", "Forge", "Health", "Insights", "Labs", "Lattice",
    "Learning", "Logic", "Logistics", "Media", "Metrics", "Minds", "Networks", "Ops", "Pay", "Robotics",
    "Search", "Signal", "Systems", "Text", "Vision", "Voice", "Works",
)  # fmt: skip

_ENDPOINTS = (("/v1/chat", 60), ("/v1/completions", 15), ("/v1/embed", 20), ("/v1/moderations", 5))
_PAGES = ("/dashboard", "/usage", "/billing", "/settings/keys", "/docs/quickstart")
_MODELS = ("small", "medium", "large")
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 11, 11, 10, 9, 7, 5, 4, 3, 2, 2, 1)
_INVALID_TIMESTAMPS = (
    "not-a-date", "2026-13-45T25:61:00Z", "", "2026-09-31T10:00:00Z", "N/A", "2026-09-03 25:00:00",
)  # fmt: skip
_INVALID_PROPERTIES = ("[1,2]", '"oops"', '{"tokens": 12', "not json at all", "42", "null")
_UNICODE_LABELS = (
    'Café "Ünïcødé" — 日本語 テスト 🚀',
    "naïve \\ backslash and 'single' quotes",
    'emoji 🧪🔥 and "double" quotes, commas, and\nnewlines',
    "Ελληνικά / עברית / العربية",
    "tab\tséparé\tlabel ✓",
)
_SQL_LABELS = (
    "Robert'); DROP TABLE raw.usage_events;--",
    "' OR '1'='1",
    "1; delete from invoices where true; --",
    "$$; select pg_sleep(10); $$",
)


# ---------------------------------------------------------------------------------------------------
# Reference data


def _timestamp_text(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _company_names(rng: random.Random, countries: Sequence[str]) -> list[str]:
    names: list[str] = []
    used: set[str] = set()
    for country in countries:
        while True:
            base = f"{rng.choice(_NAME_FIRST)} {rng.choice(_NAME_SECOND)}"
            suffix = _LEGAL_SUFFIX.get(country, rng.choice(("Inc.", "Inc.", "LLC", "Corp.", "AI", "Labs")))
            name = f"{base} {suffix}" if not base.endswith(suffix) else base
            if name not in used:
                used.add(name)
                names.append(name)
                break
    return names


def _tax_terms(country: str, segment: str) -> dict[str, str]:
    """A customer's tax columns: the countries of seeds/tax_rates.csv are taxed there, except enterprise
    customers, who are exempt (standing in for a reverse-charge or exemption certificate); the others
    get no tax (empty jurisdiction)."""
    if country not in _TAXED_COUNTRIES:
        return {"tax_jurisdiction": "", "tax_exempt": ""}
    return {"tax_jurisdiction": country, "tax_exempt": "true" if segment == "enterprise" else "false"}


def reference_data() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The demo's customers and contracts, as seed rows (all values text, as written to the CSVs)."""
    rng = random.Random(REFERENCE_SEED)
    countries = rng.choices(list(_COUNTRY_WEIGHTS), weights=list(_COUNTRY_WEIGHTS.values()), k=N_CUSTOMERS)
    segments = rng.choices(("startup", "scaleup", "enterprise"), weights=(58, 30, 12), k=N_CUSTOMERS)
    names = _company_names(rng, countries)
    customers = [
        {
            "customer_id": f"cus_{number:04d}",
            "name": names[number - 1],
            "segment": segments[number - 1],
            "country": countries[number - 1],
            **_tax_terms(countries[number - 1], segments[number - 1]),
        }
        for number in range(1, N_CUSTOMERS + 1)
    ]

    without = set(rng.sample(range(N_CUSTOMERS), N_WITHOUT_CONTRACT))
    with_contract = [i for i in range(N_CUSTOMERS) if i not in without]
    not_eu = [i for i in with_contract if countries[i] not in _EU_COUNTRIES]
    upgrades = set(rng.sample(not_eu, N_UPGRADES))
    ending = set(rng.sample([i for i in with_contract if i not in upgrades], N_ENDING))

    rows: list[tuple[str, datetime, datetime | None, str]] = []
    for i in with_contract:
        customer_id = customers[i]["customer_id"]
        if i in upgrades:
            # rc_standard -> rc_growth, switching mid-month: the first contract ends when the second starts.
            starts = datetime(2026, 6, 1) + timedelta(days=rng.randrange(0, 75))
            switch = datetime(2026, rng.choice((9, 10)), rng.randint(12, 15))
            rows.append((customer_id, starts, switch, "rc_standard"))
            rows.append((customer_id, switch, None, "rc_growth"))
            continue
        if i in ending or rng.random() < 0.7:
            starts = datetime(2026, 6, 1) + timedelta(days=rng.randrange(0, 92))  # June to August
        else:
            starts = datetime(2026, 9, 1) + timedelta(days=rng.randrange(0, 45))  # to 2026-10-15
        ends = None
        if i in ending:
            ends = rng.choice((datetime(2026, 10, 1), datetime(2026, 11, 1))) + timedelta(
                days=rng.choice((0, 0, 9, 17))
            )
        if countries[i] in _EU_COUNTRIES:
            rate_card = "rc_europe"
        elif segments[i] != "startup" and rng.random() < 0.5:
            rate_card = "rc_growth"
        else:
            rate_card = "rc_standard"
        rows.append((customer_id, starts, ends, rate_card))

    contracts = [
        {
            "contract_id": f"ct_{number:04d}",
            "customer_id": customer_id,
            "rate_card_id": rate_card,
            "starts_at": _timestamp_text(starts),
            "ends_at": _timestamp_text(ends),
            "billing_period": "monthly",
            "billing_anchor": "calendar",
            "currency": RATE_CARDS[rate_card],
            "minimum_commitment": "",
            "payment_terms_days": "30",
        }
        for number, (customer_id, starts, ends, rate_card) in enumerate(sorted(rows, key=lambda r: r[:2]), 1)
    ]
    by_id = {contract["contract_id"]: contract for contract in contracts}
    for contract_id, terms in CONTRACT_TERMS.items():
        contract = by_id[contract_id]
        if contract["customer_id"] != terms["customer_id"]:
            raise AssertionError(f"{contract_id} is not a contract of {terms['customer_id']}")
        contract.update(terms)
        contract["currency"] = RATE_CARDS[contract["rate_card_id"]]
    return customers, contracts


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def contract_term_seeds() -> dict[str, tuple[Sequence[str], list[dict[str, str]]]]:
    """price_overrides, discounts and credit_grants seed rows (columns, rows) of the demo's contracts."""
    return {
        name: (columns, [dict(zip(columns, row, strict=True)) for row in rows])
        for name, columns, rows in (
            ("price_overrides", PRICE_OVERRIDE_COLUMNS, PRICE_OVERRIDES),
            ("discounts", DISCOUNT_COLUMNS, DISCOUNTS),
            ("credit_grants", CREDIT_GRANT_COLUMNS, CREDIT_GRANTS),
        )
    }


def write_reference_seeds(seed_dir: str | Path) -> tuple[Path, ...]:
    """Write customers, contracts, price_overrides, discounts and credit_grants CSVs into `seed_dir`.

    Returns their paths. Rate cards and prices are hand-written seeds, not generated.
    """
    seed_dir = Path(seed_dir)
    seed_dir.mkdir(parents=True, exist_ok=True)
    customers, contracts = reference_data()
    customers_path, contracts_path = seed_dir / "customers.csv", seed_dir / "contracts.csv"
    _write_csv(customers_path, CUSTOMER_COLUMNS, customers)
    _write_csv(contracts_path, CONTRACT_COLUMNS, contracts)
    paths = [customers_path, contracts_path]
    for name, (columns, rows) in contract_term_seeds().items():
        path = seed_dir / f"{name}.csv"
        _write_csv(path, columns, rows)
        paths.append(path)
    return tuple(paths)


# ---------------------------------------------------------------------------------------------------
# Events


def _parse_day(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        )
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(value)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _iso(moment: datetime, rng: random.Random, eu: bool) -> str:
    """occurred_at text as SDKs send it: mostly `...Z`, some EU clients with +02:00, a few with millis."""
    draw = rng.random()
    if eu and draw < 0.04:
        return (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
    if draw > 0.99:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_id(rng: random.Random) -> str:
    return f"evt_{rng.getrandbits(64):016x}"


def _arrival_delay(rng: random.Random) -> timedelta:
    draw = rng.random()
    if draw < 0.70:
        seconds = rng.uniform(0.5, 30)
    elif draw < 0.95:
        seconds = rng.uniform(30, 300)
    else:
        seconds = rng.uniform(300, 1800)
    return timedelta(microseconds=int(seconds * 1_000_000))


class _Profile:
    """How one customer uses the product; drawn from the customer's own random stream."""

    def __init__(self, rng: random.Random, segment: str, heavy: bool, eu: bool) -> None:
        median_calls = {"startup": 0.45, "scaleup": 2.2, "enterprise": 6.0}[segment]
        median_tokens = {"startup": 600, "scaleup": 1200, "enterprise": 2000}[segment]
        users = {"startup": (1, 3), "scaleup": (3, 12), "enterprise": (8, 40)}[segment]
        self.calls_per_day = rng.lognormvariate(math.log(median_calls), 0.8)
        self.tokens_mu = math.log(median_tokens)
        if heavy:
            self.calls_per_day = rng.uniform(30, 55)
            self.tokens_mu = math.log(rng.uniform(6000, 10000))
            users = (30, 80)
        self.growth = rng.uniform(-0.2, 0.6)
        self.users = [f"u_{n}" for n in range(1, rng.randint(*users) + 1)]
        self.user_weights = [1 / n for n in range(1, len(self.users) + 1)]
        self.model_weights = [rng.uniform(1, 6), rng.uniform(0.5, 4), rng.uniform(0, 2)]
        self.region_eu = 0.9 if eu else 0.08
        self.storage_gb: Decimal | None = None  # a quarter of the customers store nothing
        if rng.random() < 0.75:
            median_gb = {"startup": 5, "scaleup": 60, "enterprise": 400}[segment]
            self.storage_gb = Decimal(f"{rng.lognormvariate(math.log(median_gb), 1):.2f}")
        self.seats = {
            "startup": rng.randint(1, 5),
            "scaleup": rng.randint(5, 40),
            "enterprise": rng.randint(30, 500),
        }[segment]
        self.seat_weekday = rng.randrange(7)
        self.page_views_per_day = rng.uniform(0.05, 0.5)


def _active_windows(
    contracts: list[dict[str, str]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    windows = []
    for contract in contracts:
        lo = max(start, datetime.fromisoformat(contract["starts_at"]))
        hi = min(end, datetime.fromisoformat(contract["ends_at"])) if contract["ends_at"] else end
        if lo < hi:
            windows.append((lo, hi))
    return windows


def _stochastic_round(rng: random.Random, value: float) -> int:
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


def _customer_events(
    customer: dict[str, str],
    windows: list[tuple[datetime, datetime]],
    heavy: bool,
    end: datetime,
    scale: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Clean usage of one customer inside its active windows (rows with a `_kind` of `valid`)."""
    rng = random.Random(f"{seed}:{customer['customer_id']}")
    eu = customer["country"] in _EU_COUNTRIES
    profile = _Profile(rng, customer["segment"], heavy, eu)
    customer_id = customer["customer_id"]
    events: list[dict[str, Any]] = []
    hours = list(range(24))

    def emit(event_type: str, moment: datetime, properties: str) -> None:
        """Add one event if it falls inside the window being generated (the loop below sets it)."""
        ingested = moment + _arrival_delay(rng)
        # A row that would arrive at or after `end` does not exist yet at the demo's as_of.
        if window_start <= moment < window_end and ingested < end:
            events.append(
                {
                    "event_id": _event_id(rng),
                    "customer_id": customer_id,
                    "event_type": event_type,
                    "occurred_at": _iso(moment, rng, eu),
                    "properties": properties,
                    "ingested_at": ingested,
                    "_occurred": moment,
                    "_kind": "valid",
                }
            )

    def moment_in(day: datetime) -> datetime:
        hour = rng.choices(hours, weights=_HOUR_WEIGHTS)[0]
        return day + timedelta(hours=hour, seconds=rng.randrange(3600), microseconds=rng.randrange(1_000_000))

    total_days = max(1, (end - min(w[0] for w in windows)).days) if windows else 1
    seats = profile.seats
    for window_start, window_end in windows:
        day = window_start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < window_end:
            progress = (day - windows[0][0]).days / total_days
            weekend = day.weekday() >= 5
            rate = profile.calls_per_day * (1 + profile.growth * progress) * (0.4 if weekend else 1.0) * scale
            for _ in range(_poisson(rng, rate)):
                when = moment_in(day)
                endpoint = rng.choices(_ENDPOINTS, weights=[w for _, w in _ENDPOINTS])[0][0]
                user = rng.choices(profile.users, weights=profile.user_weights)[0]
                emit("api_request", when, json.dumps({"endpoint": endpoint, "user_id": user}))
                if endpoint == "/v1/moderations":
                    continue
                model = (
                    "small"
                    if endpoint == "/v1/embed"
                    else rng.choices(_MODELS, weights=profile.model_weights)[0]
                )
                region = "eu" if rng.random() < profile.region_eu else "us"
                tokens_in = max(1, int(rng.lognormvariate(profile.tokens_mu, 0.8)))
                props = {"tokens": tokens_in, "model": model, "direction": "input", "region": region}
                emit("tokens", when + timedelta(milliseconds=rng.randrange(50, 900)), json.dumps(props))
                if endpoint != "/v1/embed":
                    props = {
                        **props,
                        "tokens": max(1, int(tokens_in * rng.uniform(0.05, 0.6))),
                        "direction": "output",
                    }
                    emit("tokens", when + timedelta(seconds=rng.uniform(1, 20)), json.dumps(props))

            if profile.storage_gb is not None:
                for _ in range(_stochastic_round(rng, rng.choice((2, 2, 3)) * scale)):
                    drift = Decimal(str(round(math.exp(rng.gauss(0.004, 0.01)), 6)))
                    profile.storage_gb = max(
                        Decimal("0.01"), (profile.storage_gb * drift).quantize(Decimal("0.01"))
                    )
                    emit("storage_snapshot", moment_in(day), f'{{"gb": {profile.storage_gb:.2f}}}')

            if day.weekday() == profile.seat_weekday or day == window_start:
                for _ in range(_stochastic_round(rng, scale)):
                    if rng.random() < 0.15:
                        seats = max(1, seats + rng.choice((-2, -1, 1, 1, 2, 3)))
                    emit("seat_count", moment_in(day), json.dumps({"seats": seats}))

            for _ in range(_poisson(rng, profile.page_views_per_day * scale)):
                user = rng.choices(profile.users, weights=profile.user_weights)[0]
                emit("page_view", moment_in(day), json.dumps({"path": rng.choice(_PAGES), "user_id": user}))
            day += timedelta(days=1)
    return events


def _bad_count(rng: random.Random, base: int, scale: float) -> int:
    return max(2, round(base * scale * rng.uniform(0.8, 1.2)))


def _tamper(rng: random.Random, template: dict[str, Any], kind: str, end: datetime) -> dict[str, Any]:
    """A copy of a valid tokens event broken (or decorated) in the way `kind` names."""
    row = {**template, "event_id": _event_id(rng), "_kind": kind}
    props = json.loads(template["properties"])
    if kind == "missing_event_id":
        row["event_id"] = None
    elif kind == "missing_customer_id":
        row["customer_id"] = None
    elif kind == "invalid_occurred_at":
        row["occurred_at"] = rng.choice(_INVALID_TIMESTAMPS)
    elif kind == "future_occurred_at":
        future = row["ingested_at"] + timedelta(days=rng.uniform(2, 20))
        row["occurred_at"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif kind == "invalid_properties":
        row["properties"] = rng.choice(_INVALID_PROPERTIES)
    elif kind == "invalid_value":
        if rng.random() < 0.5:
            props["tokens"] = str(props["tokens"])  # "12": a string, not a number
        else:
            del props["tokens"]
        row["properties"] = json.dumps(props)
    elif kind == "negative_value":
        props["tokens"] = -props["tokens"]
        row["properties"] = json.dumps(props)
    elif kind == "unknown_customer":
        row["customer_id"] = rng.choice(("cus_9999", "cus_0000", "cus_10001"))
    elif kind == "outside_late_window":
        arrival = template["_occurred"] + timedelta(days=rng.uniform(36, 45))
        row["ingested_at"] = min(arrival, end - timedelta(minutes=rng.randint(5, 600)))
    elif kind == "unicode_properties":
        props["label"] = rng.choice(_UNICODE_LABELS)
        row["properties"] = json.dumps(props, ensure_ascii=False)
    elif kind == "sql_text_properties":
        props["label"] = rng.choice(_SQL_LABELS)
        row["properties"] = json.dumps(props)
    else:
        raise ValueError(kind)
    return row


def _generate(
    start: str | date | datetime,
    end: str | date | datetime,
    customers: Iterable[str] | None,
    scale: float,
    seed: int,
) -> list[dict[str, Any]]:
    start_at, end_at = _parse_day(start), _parse_day(end)
    if not start_at < end_at:
        raise ValueError("start must be before end")
    reference_customers, contracts = reference_data()
    wanted = None if customers is None else set(customers)
    by_customer: dict[str, list[dict[str, str]]] = {}
    for contract in contracts:
        by_customer.setdefault(contract["customer_id"], []).append(contract)
    # The heavy users: long-standing enterprise customers, picked the same way for every seed.
    heavy = set(
        random.Random(REFERENCE_SEED).sample(
            sorted(
                c["customer_id"]
                for c in reference_customers
                if c["segment"] == "enterprise"
                and len(by_customer.get(c["customer_id"], [])) == 1
                and by_customer[c["customer_id"]][0]["starts_at"] < "2026-09-01"
                and not by_customer[c["customer_id"]][0]["ends_at"]
            ),
            N_HEAVY,
        )
    )

    events: list[dict[str, Any]] = []
    for customer in reference_customers:
        customer_id = customer["customer_id"]
        if wanted is not None and customer_id not in wanted:
            continue
        own = by_customer.get(customer_id)
        if own:
            windows = _active_windows(own, start_at, end_at)
            events.extend(_customer_events(customer, windows, customer_id in heavy, end_at, scale, seed))
        else:
            # Usage without a contract (e.g. a trial key left on): quarantined as no_active_contract.
            rows = _customer_events(
                {**customer, "segment": "startup"}, [(start_at, end_at)], False, end_at, scale, seed
            )
            for row in rows:
                row["_kind"] = "no_active_contract"
            events.extend(rows)

    rng = random.Random(seed)
    valid = [e for e in events if e["_kind"] == "valid"]
    tokens = [e for e in valid if e["event_type"] == "tokens"]

    # Late but acceptable: 1-10 days after they occurred.
    for row in rng.sample(valid, min(len(valid), round(len(valid) * 0.005))):
        arrival = row["_occurred"] + timedelta(days=rng.uniform(1, 10))
        if arrival < end_at:
            row["ingested_at"] = arrival
            row["_kind"] = "late"

    extra: list[dict[str, Any]] = []
    if tokens:
        early = [e for e in tokens if e["_occurred"] < end_at - timedelta(days=37)] or tokens
        for kind, base in (
            ("missing_event_id", 6),
            ("missing_customer_id", 5),
            ("invalid_occurred_at", 6),
            ("future_occurred_at", 5),
            ("invalid_properties", 6),
            ("invalid_value", 6),
            ("negative_value", 4),
            ("unknown_customer", 3),
            ("outside_late_window", 5),
            ("unicode_properties", 5),
            ("sql_text_properties", 4),
        ):
            pool = early if kind == "outside_late_window" else tokens
            for _ in range(_bad_count(rng, base, scale)):
                extra.append(_tamper(rng, rng.choice(pool), kind, end_at))

    # About 1 % re-sent: same event_id, minutes to ~3 days later; a few with a changed payload.
    candidates = [e for e in valid if e["_kind"] == "valid"]
    n_duplicates = round(len(candidates) * 0.01)
    n_conflicting = max(2, round(n_duplicates * 0.01)) if n_duplicates else 0
    made = conflicting = 0
    # Twice as many candidates as needed: a re-send that would arrive after `end` is skipped.
    for original in rng.sample(candidates, min(len(candidates), n_duplicates * 2)):
        if made == n_duplicates:
            break
        draw = rng.random()
        if draw < 0.7:
            delay = timedelta(minutes=rng.uniform(2, 30))
        elif draw < 0.95:
            delay = timedelta(hours=rng.uniform(0.5, 24))
        else:
            delay = timedelta(hours=rng.uniform(24, 72))
        if original["ingested_at"] + delay >= end_at:
            continue
        copy = {**original, "ingested_at": original["ingested_at"] + delay, "_kind": "duplicate"}
        if conflicting < n_conflicting and original["event_type"] == "tokens":
            props = json.loads(original["properties"])
            props["tokens"] += rng.randint(1, 500)  # the sender re-counted
            copy["properties"] = json.dumps(props)
            copy["_kind"] = "conflicting_duplicate"
            conflicting += 1
        extra.append(copy)
        made += 1

    rows = events + extra
    # Arrival order, as a loader would see the rows; the sort is stable, so ties keep generation order.
    rows.sort(key=lambda e: e["ingested_at"])
    return rows


def generate_labelled_events(
    start: str | date | datetime = "2026-09-01",
    end: str | date | datetime = "2026-11-21",
    customers: Iterable[str] | None = None,
    scale: float = 1.0,
    seed: int = 42,
) -> list[tuple[str, dict[str, Any]]]:
    """Like generate_events, with each row's kind (a key of KIND_OUTCOMES) alongside it."""
    return [
        (row["_kind"], {name: row[name] for name in EVENT_COLUMNS})
        for row in _generate(start, end, customers, scale, seed)
    ]


def generate_events(
    start: str | date | datetime = "2026-09-01",
    end: str | date | datetime = "2026-11-21",
    customers: Iterable[str] | None = None,
    scale: float = 1.0,
    seed: int = 42,
) -> list[dict[str, Any]]:
    """Raw usage rows in arrival order, identical for identical arguments.

    `customers` limits generation to those customer ids (default: all of the reference customers).
    Every row has the keys of raw.usage_events; `ingested_at` is a naive UTC datetime before `end`.
    """
    return [row for _, row in generate_labelled_events(start, end, customers, scale, seed)]


def write_events(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON Lines, `ingested_at` as `YYYY-MM-DD HH:MM:SS.ffffff`; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            record = {name: row.get(name) for name in EVENT_COLUMNS}
            if isinstance(record["ingested_at"], datetime):
                record["ingested_at"] = record["ingested_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse_billing.demo_data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="JSON Lines file to write")
    parser.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1.0)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2026-09-01")
    parser.add_argument("--end", default="2026-11-21", help="no row is ingested at or after this (the as_of)")
    parser.add_argument(
        "--seeds-dir",
        help="also write customers, contracts, price_overrides, discounts and credit_grants CSVs here",
    )
    args = parser.parse_args(argv)

    if args.seeds_dir:
        for path in write_reference_seeds(args.seeds_dir):
            print(f"wrote {path}")
    labelled = generate_labelled_events(args.start, args.end, scale=args.scale, seed=args.seed)
    count = write_events(args.out, (row for _, row in labelled))
    print(
        f"wrote {count} events to {args.out} (ingested {args.start} .. {args.end}, scale {args.scale}, seed {args.seed})"
    )
    by_type = Counter(row["event_type"] for _, row in labelled)
    print(
        "by event_type: "
        + ", ".join(f"{name} {n}" for name, n in sorted(by_type.items(), key=lambda x: -x[1]))
    )
    by_kind = Counter(kind for kind, _ in labelled)
    print("by kind (expected outcome):")
    for kind, outcome in KIND_OUTCOMES.items():
        if by_kind[kind]:
            print(f"  {kind:<22} {by_kind[kind]:>8}  -> {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
