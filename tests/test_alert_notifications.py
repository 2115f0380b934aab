"""alert_notifications on the contract scenario: each crossing once, stamped by the run that saw it.

Alerts added to the scenario's seeds (tests/scenarios/contracts; usage is in support/scenario.py):

- ``a_alpha_calls`` (c_alpha, usage, api_calls >= 500): February's 1000 calls arrive on 2026-02-10,
  so at 2026-02-11 the period's count is 1000: crossed on 2026-02-10, value 1000.
- ``a_alpha_tokens`` (c_alpha, usage, tokens >= 3500): no February tokens by 2026-02-11 (not crossed);
  on 2026-02-12 2 x 1500 small (09:00) and 1000 large (10:00) make 4000: crossed on 2026-02-12 in the
  run at 12:00, value 4000.
- ``a_beta_80`` (c_beta, spend >= 80 USD): February's draft at 2026-02-11 is platform 100.00 - 20.00
  discount + 150 calls 1.50 + calls minimum true-up 3.50 = 85.00 (commitment 62 below it): crossed,
  value 85.00. At 2026-02-12 12:00 the 100 large tokens add 0.50 (85.50): the row keeps 85.00.
- ``a_beta_90`` (c_beta, spend >= 90 USD): 85.00, then 85.50: never crossed.
- ``a_alpha_credit`` (c_alpha, credit_balance <= 150 USD): g_alpha_promo closes January at 250 (above)
  and February's draft at 100 (platform 100 + calls 10.00 x 0.8 = 8.00, commitment 42.00: 150.00, all
  drawn from its 250): crossed in February, value 100. g_alpha_tokens stays at 200: not crossed.

Runs: as_of 2026-02-11 (three rows), the same again (same rows), a full refresh (same rows: the model
is never rebuilt), then as_of 2026-02-12 12:00 (the tokens row added; the three keep 2026-02-11).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.publishing import BILLING_ONLY, append_rows
from support.scenario import build_scenario, scenario_events, scenario_project
from support.warehouse import Warehouse, postgres_database

pytestmark = pytest.mark.warehouse

FIRST_AS_OF = "2026-02-11T00:00:00"
LATER_AS_OF = "2026-02-12T12:00:00"
ALERTS = (
    "a_alpha_calls,c_alpha,usage,api_calls,500,",
    "a_alpha_tokens,c_alpha,usage,tokens,3500,",
    "a_beta_80,c_beta,spend,,80.00,USD",
    "a_beta_90,c_beta,spend,,90.00,USD",
    "a_alpha_credit,c_alpha,credit_balance,,150.00,USD",
)
D = Decimal
# alert_id, period_start, grant_id, crossing_number, crossed_on, crossed_value, currency, as_of
FIRST_ROWS = [
    ("a_alpha_calls", "2026-02-01", None, 1, "2026-02-10", D(1000), None, "2026-02-11 00:00"),
    ("a_alpha_credit", "2026-02-01", "g_alpha_promo", 1, None, D(100), "USD", "2026-02-11 00:00"),
    ("a_beta_80", "2026-02-01", None, 1, None, D(85), "USD", "2026-02-11 00:00"),
]
LATER_ROWS = sorted([
    *FIRST_ROWS,
    ("a_alpha_tokens", "2026-02-01", None, 1, "2026-02-12", D(4000), None, "2026-02-12 12:00"),
])
# everything but the usage and spend marts this module reads (and the publication, the unit tests)
ALERT_BUILD = tuple(name for name in BILLING_ONLY if name != "tag:usage_and_spend")


def _notifications(warehouse: Warehouse) -> list[tuple]:
    rows = warehouse.query(
        "select alert_id, period_start, grant_id, crossing_number, crossed_on, crossed_value, currency,"
        " as_of, notification_id from {schema}.alert_notifications order by alert_id, period_start, grant_id"
    )
    ids = [row[-1] for row in rows]
    assert len(ids) == len(set(ids)), f"a notification_id repeats: {ids}"
    return [
        (alert, _day(start), grant, number, _day(crossed_on) if crossed_on else None, D(value), currency,
         as_of.strftime("%Y-%m-%d %H:%M"))
        for alert, start, grant, number, crossed_on, value, currency, as_of, _ in rows
    ]


def _day(value) -> str:
    return value.strftime("%Y-%m-%d")


def _runs(warehouse: Warehouse, project: Path) -> dict[str, list[tuple]]:
    """Build at the first as_of (with the data tests), rerun and full-refresh the notifications (nothing
    they read changed at the same as_of: test_pipeline_builds.py reruns the whole project), then run
    everything later (the models only: _notifications checks the key the data test checks); the rows
    after each run."""
    seen = {}
    build_scenario(warehouse, project, scenario_events(), as_of=FIRST_AS_OF, usage_and_spend=True)
    seen["first"] = _notifications(warehouse)
    warehouse.dbt("run", "--select", "alert_notifications", as_of=FIRST_AS_OF, project_dir=project)
    seen["rerun"] = _notifications(warehouse)
    warehouse.dbt("run", "--select", "alert_notifications", "--full-refresh", as_of=FIRST_AS_OF,
                  project_dir=project)
    seen["full_refresh"] = _notifications(warehouse)
    warehouse.dbt("run", *ALERT_BUILD, as_of=LATER_AS_OF, project_dir=project)
    seen["later"] = _notifications(warehouse)
    return seen


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def runs(request, tmp_path_factory) -> Iterator[dict[str, list[tuple]]]:
    work = tmp_path_factory.mktemp(f"alerts_{request.param}")
    project = scenario_project(work)
    append_rows(project / "seeds" / "usage_alerts.csv", *ALERTS)
    if request.param == "duckdb":
        yield _runs(Warehouse("duckdb", work), project)
    else:
        with postgres_database() as database:
            yield _runs(Warehouse("postgres", work, pg_database=database), project)


def test_first_run_records_the_crossed_thresholds_only(runs):
    assert runs["first"] == FIRST_ROWS


def test_a_rerun_and_a_full_refresh_add_nothing(runs):
    assert runs["rerun"] == FIRST_ROWS
    assert runs["full_refresh"] == FIRST_ROWS


def test_a_later_run_adds_the_new_crossing_and_keeps_the_first_as_of(runs):
    assert runs["later"] == LATER_ROWS


BAD_ALERTS = {
    "bad_metric,c_alpha,usage,storage_gb,10,":
        "usage_alerts row bad_metric: metric_id storage_gb is not in billable_metrics",
    "bad_zero,c_alpha,spend,,0,USD": "usage_alerts row bad_zero: threshold must be set and greater than 0",
    "bad_negative,c_alpha,usage,api_calls,-5,":
        "usage_alerts row bad_negative: threshold must be set and greater than 0",
    "bad_currency,c_gamma_jpy,spend,,100,USD":
        "usage_alerts row bad_currency: currency USD differs from contract c_gamma_jpy currency JPY",
    "bad_no_currency,c_alpha,credit_balance,,10,":
        "usage_alerts row bad_no_currency: a credit_balance alert needs",
    "bad_type,c_alpha,overage,,10,USD":
        "usage_alerts row bad_type: alert_type must be spend, usage or credit_balance",
    "bad_no_metric,c_alpha,usage,,10,": "usage_alerts row bad_no_metric: a usage alert needs a metric_id",
    "bad_extra_metric,c_alpha,spend,api_calls,10,USD":
        "usage_alerts row bad_extra_metric: a spend alert has no metric_id, got api_calls",
    "bad_contract,c_nobody,spend,,10,USD":
        "usage_alerts row bad_contract: contract_id c_nobody is not in contracts",
    "a_twice,c_alpha,spend,,10,USD\na_twice,c_alpha,spend,,20,USD":
        "usage_alerts row a_twice: alert_id appears 2 times",
}


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_bad_alerts_fail_the_build_naming_each_row(tmp_path: Path, target: str):
    project = scenario_project(tmp_path)
    append_rows(project / "seeds" / "usage_alerts.csv", *ALERTS, *BAD_ALERTS)

    def check(warehouse: Warehouse) -> None:
        result = warehouse.dbt("build", "--select", "+int_reference_data_errors", "--indirect-selection",
                               "cautious", check=False, project_dir=project)
        assert result.returncode != 0, "the build passed with bad alerts"
        missing = [message for message in BAD_ALERTS.values() if message not in result.stdout]
        assert not missing, f"not named in the error: {missing}\n{result.stdout[-4000:]}"
        # the good alerts are not reported
        assert "row a_alpha_calls" not in result.stdout and "row a_beta_80" not in result.stdout

    if target == "duckdb":
        check(Warehouse("duckdb", tmp_path))
    else:
        with postgres_database() as database:
            check(Warehouse("postgres", tmp_path, pg_database=database))
