"""How good is customer_live_spend's projection? Measured on the closed periods of a built warehouse.

    python -m bench.projection_accuracy [--duckdb warehouse/billing.duckdb] [--days 7 15 22]

customer_live_spend projects a period's usage spend as the spend so far at its run rate over the
covered hours for charges that accumulate (count, sum), and keeps the rest as they stand
(models/marts/usage_and_spend/customer_live_spend.sql). For every closed period with usage spend, this replays that
formula at midnight a few days into the period from int_usage_charges_to_date (each charge as it stood
before that midnight), and compares it with what the period's usage lines came to. It reads the built
warehouse only: run it after `make demo`.
"""

from __future__ import annotations

import argparse
import os
import statistics
from decimal import Decimal

import duckdb

REPLAY = """
with closed as (
    select invoice_id, period_start, period_end, sum(amount) as actual_usage_amount
    from daily_spend
    where period_end <= (select max(as_of) from customer_credit_balances)
    group by invoice_id, period_start, period_end
    having sum(amount) > 0 and date_diff('hour', period_start, period_end) > $day * 24
),
final_charges as (
    select invoice_id, price_id, dimensions, max_by(amount_to_date, usage_date) as final_amount
    from int_usage_charges_to_date group by invoice_id, price_id, dimensions
),
-- the usage lines of charges without events: billed from the period's first day
fixed as (
    select closed.invoice_id, closed.actual_usage_amount - coalesce(sum(final_charges.final_amount), 0) as amount
    from closed left join final_charges on closed.invoice_id = final_charges.invoice_id
    group by closed.invoice_id, closed.actual_usage_amount
),
charges_at_checkpoint as (
    select charges.invoice_id, charges.aggregation,
           max_by(charges.amount_to_date, charges.usage_date) as amount_so_far,
           any_value(date_diff('hour', closed.period_start, closed.period_end)) as covered_hours
    from int_usage_charges_to_date as charges
    inner join closed on charges.invoice_id = closed.invoice_id
    where charges.usage_date < cast(closed.period_start as date) + $day
    group by charges.invoice_id, charges.price_id, charges.dimensions, charges.aggregation
)
select closed.invoice_id, closed.actual_usage_amount,
       fixed.amount + coalesce(sum(
           case when charges_at_checkpoint.aggregation in ('count', 'sum')
                then charges_at_checkpoint.amount_so_far * charges_at_checkpoint.covered_hours / ($day * 24)
                else charges_at_checkpoint.amount_so_far end
       ), 0) as projected
from closed
inner join fixed on closed.invoice_id = fixed.invoice_id
left join charges_at_checkpoint on closed.invoice_id = charges_at_checkpoint.invoice_id
group by closed.invoice_id, closed.actual_usage_amount, fixed.amount
"""


def measure(path: str, days: list[int]) -> list[tuple[int, int, float, float, float]]:
    """Per checkpoint day: periods, median absolute error, share within 10 % and within 25 %."""
    connection = duckdb.connect(path, read_only=True)
    results = []
    try:
        for day in days:
            rows = connection.execute(REPLAY, {"day": day}).fetchall()
            errors = [abs(Decimal(str(projected)) / actual - 1) for _, actual, projected in rows]
            if not errors:
                continue
            results.append((
                day,
                len(errors),
                float(statistics.median(errors)),
                sum(error <= Decimal("0.10") for error in errors) / len(errors),
                sum(error <= Decimal("0.25") for error in errors) / len(errors),
            ))
    finally:
        connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", default=os.environ.get("BILLING_DUCKDB_PATH", "warehouse/billing.duckdb"))
    parser.add_argument("--days", type=int, nargs="+", default=[7, 15, 22])
    args = parser.parse_args()
    print("| day of the period | closed periods | median abs. error | within 10 % | within 25 % |")
    print("|---:|---:|---:|---:|---:|")
    for day, count, median, within_10, within_25 in measure(args.duckdb, args.days):
        print(f"| {day} | {count} | {median:.1%} | {within_10:.0%} | {within_25:.0%} |")


if __name__ == "__main__":
    main()
