"""Customer page: one customer's live usage and spend, commitment and credits, alerts and past invoices.

Reads only the portal_* views, which show the rows of the customer the session names (as
billing_customer on Postgres, SPEC 6.4): the database keeps every other customer's rows out. The
customer comes from the URL (``?customer_id=``) or ``BILLING_DASHBOARD_CUSTOMER_ID``; an application
that embeds the page must set it from its own login (decision 57).
"""

import os

import streamlit as st

from warehouse_billing.dashboard_data import DashboardSource, frame, money_text
from warehouse_billing.dashboard_queries import CUSTOMER

MONEY = ("usage_amount_so_far", "amount_due_so_far", "projected_period_end_amount", "commitment_true_up",
         "credits_applied", "amount", "granted_amount", "drawn_amount", "expired_amount",
         "remaining_balance", "total_due")

customer_id = st.query_params.get("customer_id") or os.environ.get("BILLING_DASHBOARD_CUSTOMER_ID", "")
if not customer_id:
    st.title("Usage and spend")
    st.info("Open this page for one customer: /customer?customer_id=<customer id>.")
    st.stop()

source = DashboardSource.customer(customer_id)


def load(name: str):
    try:
        columns, rows = source.query(CUSTOMER[name])
    except FileNotFoundError as missing:  # no warehouse copy yet: say what to run
        st.error(str(missing))
        st.stop()
    return frame(columns, rows, money=MONEY), rows


st.title(f"Usage and spend: {customer_id}")

live, live_rows = load("live_spend")
st.header("This billing period")
if live.empty:
    st.info("No open billing period.")
for row in live_rows:
    (invoice_id, contract_id, currency, period_start, period_end, events, usage_so_far, due_so_far,
     projected, commitment_true_up, credits_applied, last_usage_date, as_of) = row
    st.subheader(f"{contract_id}: {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}")
    first, second, third, fourth = st.columns(4)
    first.metric("Amount due so far", f"{money_text(due_so_far)} {currency}")
    second.metric("Projected at period end", f"{money_text(projected)} {currency}")
    third.metric("Usage so far", f"{money_text(usage_so_far)} {currency}")
    fourth.metric("Credits applied", f"{money_text(credits_applied)} {currency}")
    if commitment_true_up:
        st.caption(f"Your minimum commitment adds {money_text(commitment_true_up)} {currency} so far.")
    st.caption(f"{events:,} events; last usage {last_usage_date or 'none'}; as of {as_of:%Y-%m-%d %H:%M} UTC.")

usage, usage_rows = load("daily_usage")
st.header("Daily usage")
if usage.empty:
    st.info("No usage in the open period yet.")
else:
    metrics = sorted({metric_id for _, metric_id, _, _, _ in usage_rows})
    metric = st.selectbox("Metric", metrics)
    by_day: dict = {}
    for usage_date, metric_id, _dimensions, quantity, _events in usage_rows:
        if metric_id == metric:  # a chart's scale, not a figure anyone reads: floats are fine here
            by_day[usage_date] = by_day.get(usage_date, 0.0) + float(quantity)
    st.bar_chart({"usage_date": list(by_day), metric: list(by_day.values())}, x="usage_date", y=metric)
    st.dataframe(usage, hide_index=True)

spend, _ = load("daily_spend")
st.header("Daily spend")
st.dataframe(spend, hide_index=True)

for panel, title, when_empty in (("credit_balances", "Credits", "No credit grants."),
                                 ("alerts", "Alerts", "No alert threshold crossed."),
                                 ("past_invoices", "Past invoices", "No invoices yet.")):
    table, _ = load(panel)
    st.header(title)
    if table.empty:
        st.info(when_empty)
    else:
        st.dataframe(table, hide_index=True)
