"""An independent, plain-Python rating of one invoice, to check the SQL against.

It shares no code with the dbt models: it reads the seed CSVs itself, takes the accepted events from
the demo generator's own labels, and applies contract §4 with Python's Decimal. It covers what the demo's
rate cards use (unit, graduated, volume, package, recurring flat; count, sum, max, unique_count and
latest metrics with one group_by key), nothing more.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _dec(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def parse_occurred_at(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def rate_invoice(customer_id: str, period_start: datetime, period_end: datetime,
                 accepted_events: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Amount per product of one customer's invoice for a full calendar period, plus 'total'."""
    contract = next(
        row for row in _seed("contracts")
        if row["customer_id"] == customer_id
        and datetime.fromisoformat(row["starts_at"]) <= period_start
        and (not row["ends_at"] or datetime.fromisoformat(row["ends_at"]) >= period_end)
    )
    metrics = {row["metric_id"]: row for row in _seed("billable_metrics")}
    prices = [row for row in _seed("prices") if row["rate_card_id"] == contract["rate_card_id"]]
    tiers = defaultdict(list)
    for row in _seed("price_tiers"):
        tiers[row["price_id"]].append(row)
    minor_units = {row["currency"]: int(row["minor_units"]) for row in _seed("currencies")}
    quantum = Decimal(1).scaleb(-minor_units[contract["currency"]])

    # metric -> dimension value -> list of (occurred_at, event_id, properties)
    usage: dict[str, dict[str | None, list]] = defaultdict(lambda: defaultdict(list))
    for event in accepted_events:
        occurred = parse_occurred_at(event["occurred_at"])
        if event["customer_id"] != customer_id or not (period_start <= occurred < period_end):
            continue
        properties = json.loads(event["properties"])
        for metric in metrics.values():
            if metric["event_type"] != event["event_type"]:
                continue
            if metric["filter"]:
                wanted = json.loads(metric["filter"])
                if any(str(properties.get(key)) not in values for key, values in wanted.items()):
                    continue
            dimension = properties.get(metric["group_by"]) if metric["group_by"] else None
            usage[metric["metric_id"]][dimension].append((occurred, event["event_id"], properties))

    def quantity(metric: dict[str, str], events: list) -> Decimal:
        aggregation, key = metric["aggregation"], metric["value_property"]
        if aggregation == "count":
            return Decimal(len(events))
        if aggregation == "sum":
            return sum((Decimal(str(p[key])) for _, _, p in events), Decimal(0))
        if aggregation == "max":
            return max(Decimal(str(p[key])) for _, _, p in events)
        if aggregation == "unique_count":
            return Decimal(len({str(p[key]) for _, _, p in events}))
        return Decimal(str(max(events, key=lambda item: (item[0], item[1]))[2][key]))  # latest

    def amount(price: dict[str, str], q: Decimal) -> Decimal:
        model = price["pricing_model"]
        free = _dec(price["free_units"])
        if model == "unit":
            return max(q - free, Decimal(0)) * _dec(price["unit_price"])
        if model == "package":
            billable = max(q - free, Decimal(0))
            packages, remainder = divmod(billable, _dec(price["package_size"]))
            if remainder and (price["package_rounding"] or "up") == "up":
                packages += 1
            return packages * _dec(price["unit_price"])
        lower, total = Decimal(0), Decimal(0)
        for tier in sorted(tiers[price["price_id"]], key=lambda row: int(row["tier"])):
            up_to = _dec(tier["up_to"]) if tier["up_to"] else None
            if model == "graduated" and (tier["tier"] == "1" or q > lower):
                top = q if up_to is None else min(q, up_to)
                total += _dec(tier["flat_fee"]) + _dec(tier["unit_price"]) * (top - lower)
            if model == "volume" and (tier["tier"] == "1" or q > lower) and (up_to is None or q <= up_to):
                return _dec(tier["flat_fee"]) + q * _dec(tier["unit_price"])
            lower = up_to if up_to is not None else lower
        return total

    lines: dict[str, Decimal] = defaultdict(Decimal)
    for price in prices:
        if price["charge_type"] == "recurring":
            lines[price["product_id"]] += _dec(price["flat_amount"])
    for product_id in {p["product_id"] for p in prices if p["charge_type"] == "usage"}:
        rows = [p for p in prices if p["product_id"] == product_id and p["charge_type"] == "usage"]
        metric = metrics[rows[0]["metric_id"]]
        groups = usage.get(metric["metric_id"], {})
        if not groups:  # zero usage on the fallback row
            fallback = next(p for p in rows if not p["dimensions"])
            lines[product_id] += amount(fallback, Decimal(0)).quantize(quantum, ROUND_HALF_UP)
            continue
        for dimension, events in groups.items():
            matching = [p for p in rows if p["dimensions"] and json.loads(p["dimensions"]).get(
                metric["group_by"]) == dimension] or [p for p in rows if not p["dimensions"]]
            lines[product_id] += amount(matching[0], quantity(metric, events)).quantize(quantum, ROUND_HALF_UP)
    lines["total"] = sum(lines.values(), Decimal(0))
    return dict(lines)


def reference_taxes(customer_id: str, period_end: datetime, amounts: dict[str, Decimal],
                    currency_minor_units: int = 2) -> dict[str, Decimal]:
    """Tax per tax_rate_id of an invoice without invoice-level discounts (SPEC 6.2), from the seeds:
    each product's amount at its own rate in force at the period's end, else the all-products rate.
    Empty for a customer without a jurisdiction or tax exempt."""
    customer = next(row for row in _seed("customers") if row["customer_id"] == customer_id)
    if not customer.get("tax_jurisdiction") or customer.get("tax_exempt") == "true":
        return {}

    def in_force(row: dict[str, str]) -> bool:
        starts = datetime.fromisoformat(row["effective_from"]) if row["effective_from"] else None
        ends = datetime.fromisoformat(row["effective_to"]) if row["effective_to"] else None
        return (starts is None or starts < period_end) and (ends is None or ends >= period_end)

    rates = [row for row in _seed("tax_rates") if row["jurisdiction"] == customer["tax_jurisdiction"] and in_force(row)]
    general = next(row for row in rates if not row["product_id"])
    bases: dict[str, Decimal] = defaultdict(Decimal, {general["tax_rate_id"]: Decimal(0)})
    rate_of = {row["tax_rate_id"]: Decimal(row["rate"]) for row in rates}
    for product_id, amount in amounts.items():
        if product_id == "total":
            continue
        own = next((row for row in rates if row["product_id"] == product_id), general)
        bases[own["tax_rate_id"]] += amount
    quantum = Decimal(1).scaleb(-currency_minor_units)
    return {rate_id: (base * rate_of[rate_id]).quantize(quantum, ROUND_HALF_UP) for rate_id, base in bases.items()}
