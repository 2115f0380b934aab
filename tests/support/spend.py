"""Checks of the usage and spend marts (SPEC 6.3) shared by the scenario tests."""

from __future__ import annotations

from typing import Any

# Per invoice and metric: the usage lines' amount and daily_spend's, where they differ (what the dbt
# singular test daily_spend_ties_out_to_usage_lines warns about).
SPEND_MISMATCHES = """
with daily as (
    select invoice_id, metric_id, sum(amount) as daily_amount
    from {schema}.daily_spend group by invoice_id, metric_id
),
lines as (
    select invoice_id, metric_id, sum(amount) as line_amount
    from {schema}.invoice_lines where line_type = 'usage' group by invoice_id, metric_id
)
select coalesce(lines.invoice_id, daily.invoice_id), coalesce(lines.metric_id, daily.metric_id),
       lines.line_amount, daily.daily_amount
from lines full outer join daily on lines.invoice_id = daily.invoice_id and lines.metric_id = daily.metric_id
where coalesce(lines.line_amount, 0) <> coalesce(daily.daily_amount, 0)
"""


def assert_daily_spend_ties_out(warehouse: Any) -> None:
    """Every invoice's days in daily_spend sum to its usage lines, metric by metric, to the cent."""
    (usage_lines,) = warehouse.query(
        "select count(*) from {schema}.invoice_lines where line_type = 'usage' and amount <> 0"
    )
    assert usage_lines[0] > 0, "no usage line with an amount: the comparison would prove nothing"
    assert warehouse.query(SPEND_MISMATCHES) == []
