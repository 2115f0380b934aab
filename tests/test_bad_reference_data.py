"""Bad reference data fails the build with an error that names the offending row (contract §3).

Each case breaks one seed of the contract scenario in a copy of the project and builds the reference
data check (`dbt build --select +int_reference_data_errors`, seeds included).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.publishing import seed_row
from support.scenario import SCENARIO_SEEDS, scenario_project
from support.warehouse import Warehouse, postgres_database

pytestmark = pytest.mark.warehouse


def _price(price_id: str, product_id: str, **values: str) -> str:
    """A unit price row of the scenario's USD rate card (0.004 a token unless ``values`` say otherwise)."""
    row = {"rate_card_id": "rc_usd", "product_name": "Tokens", "charge_type": "usage", "metric_id": "tokens",
           "pricing_model": "unit", "unit_price": "0.004", **values}
    return seed_row("prices", SCENARIO_SEEDS, price_id=price_id, product_id=product_id, **row)


def _append(line: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n" + line + "\n"


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"the scenario seed no longer contains {old!r}"
        return text.replace(old, new)

    return edit


CASES = {
    "tier bounds do not increase": (
        "price_tiers.csv",
        _replace("p_tokens,2,,0.001,0", "p_tokens,2,900,0.001,0\np_tokens,3,,0.0005,0"),
        "price_tiers row p_tokens tier 2: up_to must be strictly greater",
    ),
    "gap in tier numbering": (
        "price_tiers.csv",
        _replace("p_tokens,2,,0.001,0", "p_tokens,3,,0.001,0"),
        "price_tiers row p_tokens tier 3: tiers must be numbered 1, 2, 3",
    ),
    "usage price without a metric": (
        "prices.csv",
        _replace("p_calls,rc_usd,,calls,API calls,usage,api_calls,", "p_calls,rc_usd,,calls,API calls,usage,,"),
        "prices row p_calls: a usage charge needs a metric_id",
    ),
    "two rows match the same usage equally": (
        "prices.csv",
        _append(_price("p_tokens_large_2", "tokens", dimensions='{"model": "large"}')),
        "prices row p_tokens_large: matches the same usage as p_tokens_large_2",
    ),
    "dimensions that are not JSON": (
        "prices.csv",
        _append(_price("p_tokens_typo", "tokens_typo", dimensions="{model: large}")),
        "prices row p_tokens_typo: dimensions must be a JSON object whose keys are group_by keys of the metric",
    ),
    "dimensions with a repeated key": (
        "prices.csv",
        _append(_price("p_tokens_twice", "tokens_twice", dimensions='{"model": "large", "model": "small"}')),
        "prices row p_tokens_twice: dimensions must be a JSON object whose keys are group_by keys of the metric",
    ),
    "override of an unknown contract": (
        "price_overrides.csv",
        _append("c_nobody,calls,0.5,2026-01-01 00:00:00,"),
        "price_overrides row c_nobody calls: contract_id c_nobody is not in contracts",
    ),
    "override of an unknown product": (
        "price_overrides.csv",
        _append("c_alpha,storage,0.5,2026-01-01 00:00:00,"),
        "price_overrides row c_alpha storage: product_id storage has no price",
    ),
    "grant for an unknown contract": (
        "credit_grants.csv",
        _append("g_lost,c_nobody,prepaid,10.00,,1,2026-01-01 00:00:00,"),
        "credit_grants row g_lost: contract_id c_nobody is not in contracts",
    ),
    "grant for an unknown product": (
        "credit_grants.csv",
        _append("g_storage,c_alpha,prepaid,10.00,storage,1,2026-01-01 00:00:00,"),
        "credit_grants row g_storage: product_ids names storage, which has no price",
    ),
    "overlapping contracts in different currencies": (
        "contracts.csv",
        _append("c_alpha_jpy,cus_a,rc_jpy,2026-02-01 00:00:00,,monthly,calendar,JPY,,30"),
        "contracts row c_alpha: overlaps contract c_alpha_jpy of the same customer",
    ),
    "contract currency differs from its rate card": (
        "contracts.csv",
        _replace("c_delta,cus_d,rc_usd,2026-01-01 00:00:00,,quarterly,calendar,USD",
                 "c_delta,cus_d,rc_usd,2026-01-01 00:00:00,,quarterly,calendar,JPY"),
        "contracts row c_delta: currency JPY differs from rate card rc_usd currency USD",
    ),
    "negative payment terms": (
        "contracts.csv",
        _replace("c_alpha,cus_a,rc_usd,2026-01-01 00:00:00,,monthly,calendar,USD,150.00,30",
                 "c_alpha,cus_a,rc_usd,2026-01-01 00:00:00,,monthly,calendar,USD,150.00,-30"),
        "contracts row c_alpha: payment_terms_days must not be negative",
    ),
    "negative discount": (
        "discounts.csv",
        _replace("d_beta_platform,c_beta,platform,amount,20.00", "d_beta_platform,c_beta,platform,amount,-20.00"),
        "discounts row d_beta_platform: value must be set and not negative",
    ),
    "negative grant": (
        "credit_grants.csv",
        _replace("g_alpha_tokens,c_alpha,prepaid,200.00", "g_alpha_tokens,c_alpha,prepaid,-200.00"),
        "credit_grants row g_alpha_tokens: amount must be set and not negative",
    ),
    "price change in the middle of a day": (
        "prices.csv",
        _append(_price("p_calls_noon", "calls_noon", product_name="API calls", metric_id="api_calls",
                        unit_price="0.02", effective_from="2026-03-01 12:00:00")),
        "prices row p_calls_noon: effective_from and effective_to must be whole UTC days",
    ),
    "fee interval that is not month, quarter or year": (
        "prices.csv",
        _append(_price("p_support_weekly", "support", product_name="Support", charge_type="recurring",
                       metric_id="", pricing_model="flat", unit_price="", flat_amount="10.00", interval="week")),
        "prices row p_support_weekly: interval must be month, quarter or year (empty: the billing period), got week",
    ),
    "fee interval on a usage charge": (
        "prices.csv",
        _append(_price("p_tokens_monthly", "tokens_monthly", interval="month")),
        "prices row p_tokens_monthly: interval is only for recurring flat fees",
    ),
    "billing timing that is not arrears or advance": (
        "prices.csv",
        _append(_price("p_support_upfront", "support", product_name="Support", charge_type="recurring",
                       metric_id="", pricing_model="flat", unit_price="", flat_amount="10.00", prorate="true",
                       billing_timing="upfront")),
        "prices row p_support_upfront: billing_timing must be arrears or advance (empty: arrears), got upfront",
    ),
    "usage billed in advance": (
        "prices.csv",
        _append(_price("p_tokens_advance", "tokens_advance", billing_timing="advance")),
        "prices row p_tokens_advance: billing_timing advance is only for recurring fees",
    ),
    "advance fee without prorate": (
        "prices.csv",
        _append(_price("p_support_advance", "support", product_name="Support", charge_type="recurring",
                       metric_id="", pricing_model="flat", unit_price="", flat_amount="10.00",
                       billing_timing="advance")),
        "prices row p_support_advance: an advance fee must set prorate",
    ),
    "threshold that is not above zero": (
        "billing_thresholds.csv",
        _append("c_alpha,0,false"),
        "billing_thresholds row c_alpha: amount_due must be greater than 0, got 0.0000",
    ),
    "threshold listed twice": (
        "billing_thresholds.csv",
        _append("c_delta,250.00,true\nc_delta,250.00,true"),
        "billing_thresholds row c_delta: the threshold of 250.0000 is listed 2 times",
    ),
    "threshold of an unknown contract": (
        "billing_thresholds.csv",
        _append("c_nobody,500.00,true"),
        "billing_thresholds row c_nobody: contract_id is not in contracts",
    ),
    "seats price on a metric that is not latest": (

        "prices.csv",
        _append(_price("p_seats_sum", "seats_sum", product_name="Seats", charge_type="recurring", unit_price="10.00")),
        "prices row p_seats_sum: a seats price needs a latest metric; metric_id tokens is aggregated by sum",
    ),
    "seats price beside a usage price of the same product": (
        "prices.csv",
        _append(_price("p_calls_seats", "calls", product_name="API calls", charge_type="recurring",
                       metric_id="seats", unit_price="1.00")),
        "prices row p_calls_seats: a seats price and the usage price p_calls bill product calls at the same time",
    ),
    "seats price that is not unit priced": (
        "prices.csv",
        _append(_price("p_seats_flat", "seats_flat", product_name="Seats", charge_type="recurring", metric_id="tokens",
                       pricing_model="flat", unit_price="", flat_amount="10.00")),
        "prices row p_seats_flat: a seats price (recurring, with a metric_id) must use pricing_model unit",
    ),
    "negative unit price": (
        "prices.csv",
        _replace("p_jpy_calls,rc_jpy,,calls,API calls,usage,api_calls,unit,3,",
                 "p_jpy_calls,rc_jpy,,calls,API calls,usage,api_calls,unit,-3,"),
        "prices row p_jpy_calls: amounts, rates and free_units must not be negative",
    ),
    "filter on more than three properties": (
        "billable_metrics.csv",
        _append('big_filter,tokens,sum,tokens,"{""a"": [""1""], ""b"": [""1""], ""c"": [""1""], ""d"": [""1""]}",,tokens'),
        "billable_metrics row big_filter: filter has more than 3 properties",
    ),
    "currency with more than four minor units": (
        "currencies.csv",
        _append("BTC,8"),
        "currencies row BTC: minor_units must be between 0 and 4",
    ),
    "grant finer than its currency's minor units": (
        "credit_grants.csv",
        _append("g_gamma_half_yen,c_gamma_jpy,prepaid,100.5,,1,2026-02-15 00:00:00,"),
        "credit_grants row g_gamma_half_yen: amount must be a whole number of JPY minor units",
    ),
    "tax rate that is not a fraction": (
        "tax_rates.csv",
        _append("nl_calls_typo,NL,calls,21,2026-01-01 00:00:00,"),
        "tax_rates row nl_calls_typo: rate must be a fraction from 0 to 1",
    ),
    "two tax rates of a jurisdiction in force at once": (
        "tax_rates.csv",
        _append("nl_standard_2026,NL,,0.22,2026-03-01 00:00:00,"),
        "tax_rates row nl_standard_2019: in force at the same time as nl_standard_2026 for jurisdiction NL"
        " and all products",
    ),
    "tax rate for a product without a price": (
        "tax_rates.csv",
        _append("nl_storage,NL,storage,0.09,2026-01-01 00:00:00,"),
        "tax_rates row nl_storage: product_id storage has no price",
    ),
    "taxed customer whose jurisdiction has no rate": (
        "customers.csv",
        _append("cus_e,Epsilon Energy,BE,false"),
        "customers row cus_e: tax_jurisdiction BE has no all-products rate in tax_rates",
    ),
}


def _broken_build(tmp_path: Path, seed: str, edit: Callable[[str], str], warehouse: Warehouse | None = None):
    project = scenario_project(tmp_path)
    seed_path = project / "seeds" / seed
    seed_path.write_text(edit(seed_path.read_text()))
    warehouse = warehouse or Warehouse("duckdb", tmp_path)
    return warehouse.dbt(
        "build", "--select", "+int_reference_data_errors", "--indirect-selection", "cautious",
        check=False, project_dir=project,
    )


# Two cases edit the same tier row; every other case can share one build, which then has to name
# every broken row in its error (the check lists every problem).
SEPARATE_BUILDS = ("tier bounds do not increase",)


def _edits_by_seed(cases: list[str]) -> dict[str, list[Callable[[str], str]]]:
    edits: dict[str, list[Callable[[str], str]]] = {}
    for case in cases:
        seed, edit, _ = CASES[case]
        edits.setdefault(seed, []).append(edit)
    return edits


def _apply_all(edits: list[Callable[[str], str]]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for one in edits:
            text = one(text)
        return text

    return edit


@pytest.mark.parametrize("group", ["together", *SEPARATE_BUILDS])
def test_bad_reference_data_fails_the_build_naming_the_row(tmp_path: Path, group: str):
    cases = [group] if group in SEPARATE_BUILDS else [case for case in CASES if case not in SEPARATE_BUILDS]
    project = scenario_project(tmp_path)
    for seed, edits in _edits_by_seed(cases).items():
        seed_path = project / "seeds" / seed
        seed_path.write_text(_apply_all(edits)(seed_path.read_text()))
    result = Warehouse("duckdb", tmp_path).dbt(
        "build", "--select", "+int_reference_data_errors", "--indirect-selection", "cautious",
        check=False, project_dir=project,
    )
    assert result.returncode != 0, f"the build passed with bad reference data ({cases})"
    assert "Bad reference data" in result.stdout
    missing = [case for case in cases if CASES[case][2] not in result.stdout]
    assert not missing, f"not named in the error: {missing}\n{result.stdout[-4000:]}"


def test_the_unbroken_scenario_passes_the_same_check(tmp_path: Path):
    result = _broken_build(tmp_path, "currencies.csv", lambda text: text)
    assert result.returncode == 0, result.stdout[-3000:]


def test_bad_reference_data_fails_on_postgres_too(tmp_path: Path):
    seed, edit, message = CASES["two rows match the same usage equally"]
    with postgres_database() as database:
        result = _broken_build(tmp_path, seed, edit, Warehouse("postgres", tmp_path, pg_database=database))
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
