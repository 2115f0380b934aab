"""Rows the correction tests add to the contract scenario: usage events written in a line, and the
extra customers, contracts and prices of two worked examples (test_corrections.py tells them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from support.publishing import seed_row
from support.scenario import SCENARIO_SEEDS


def usage_event(event_id: str, customer: str, event_type: str, when: str, ingested: datetime | None = None,
                properties: str = "{}") -> dict:
    """One raw usage row; it arrives a minute after it occurred unless ``ingested`` says when."""
    moment = datetime.fromisoformat(when)
    return {"event_id": event_id, "customer_id": customer, "event_type": event_type,
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": properties,
            "ingested_at": ingested or moment + timedelta(minutes=1)}


def api_calls(customer: str, when: str, count: int, ingested: datetime | None = None, tag: str = "") -> list[dict]:
    """``count`` API calls of one customer at one moment (``tag`` keeps the ids of a second batch apart)."""
    return [usage_event(f"{customer}-{when}-{tag}{index}", customer, "api_call", when, ingested)
            for index in range(count)]


def small_model_tokens(customer: str, when: str, tokens: int, ingested: datetime | None = None) -> dict:
    """One tokens event of the small model."""
    return usage_event(f"{customer}-{when}-tokens", customer, "tokens", when, ingested,
                       properties=f'{{"tokens": {tokens}, "model": "small"}}')


# Epsilon: one volume price on API calls (0.01 a call up to 1,000 calls a month, 0.005 beyond).
EPSILON_SEEDS = {
    "customers.csv": [seed_row("customers", SCENARIO_SEEDS, customer_id="cus_e", name="Epsilon Edge")],  # not taxed
    "rate_cards.csv": ["rc_volume,Scenario volume,USD"],
    "contracts.csv": ["c_epsilon,cus_e,rc_volume,2026-01-01 00:00:00,,monthly,calendar,USD,,30"],
    "prices.csv": [seed_row("prices", SCENARIO_SEEDS, price_id="p_volume_calls", rate_card_id="rc_volume", product_id="calls",
                            product_name="API calls", charge_type="usage", metric_id="api_calls",
                            pricing_model="volume")],
    "price_tiers.csv": ["p_volume_calls,1,1000,0.01,0", "p_volume_calls,2,,0.005,0"],
}


def _terms_price(price_id: str, product: str, name: str, metric: str, unit_price: str, maximum: str = "") -> str:
    """A usage price row of the scenario's prices.csv on rc_terms: unit pricing, an optional maximum_amount."""
    return seed_row("prices", SCENARIO_SEEDS, price_id=price_id, rate_card_id="rc_terms", product_id=product, product_name=name,
                    charge_type="usage", metric_id=metric, pricing_model="unit", unit_price=unit_price,
                    maximum_amount=maximum)


# Four customers on one rate card from March 2026 (API calls 0.10 a call; tokens 0.001 a token with a
# 10.00 maximum per period), each with one term: an override, an invoice discount, the cap, a commitment.
TERMS_SEEDS = {
    "customers.csv": [seed_row("customers", SCENARIO_SEEDS, customer_id=customer, name=name)  # not taxed
                      for customer, name in [("cus_ovr", "Override Oy"), ("cus_disc", "Discount GmbH"),
                                             ("cus_cap", "Capped Co"), ("cus_commit", "Committed Corp")]],
    "rate_cards.csv": ["rc_terms,Scenario terms,USD"],
    "contracts.csv": [f"{contract},{customer},rc_terms,2026-03-01 00:00:00,,monthly,calendar,USD,{commitment},30"
                      for contract, customer, commitment in [("c_ovr", "cus_ovr", ""), ("c_disc", "cus_disc", ""),
                                                             ("c_cap", "cus_cap", ""),
                                                             ("c_commit", "cus_commit", "50.00")]],
    "prices.csv": [_terms_price("p_terms_calls", "calls", "API calls", "api_calls", "0.10"),
                   _terms_price("p_terms_tokens", "tokens", "Tokens", "tokens", "0.001", maximum="10.00")],
    "price_overrides.csv": ["c_ovr,calls,0.8,2026-03-01 00:00:00,"],
    "discounts.csv": ["d_disc_invoice,c_disc,,percent,0.25,2026-03-01 00:00:00,"],
}


# A yen token price (1 a token) on the scenario's yen rate card.
JPY_TOKENS_ROW = seed_row("prices", SCENARIO_SEEDS, price_id="p_jpy_tokens", rate_card_id="rc_jpy", product_id="tokens",
                          product_name="Tokens", charge_type="usage", metric_id="tokens", pricing_model="unit",
                          unit_price="1")
