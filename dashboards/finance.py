"""Finance page: the invoice register tied out to its lines, holds, quarantine, reconciliation and
spend by product. Reads the marts (as billing_reader on Postgres); every amount is a mart column or a
sum of one (decision 57)."""

import streamlit as st

from warehouse_billing.dashboard_data import DashboardSource, frame
from warehouse_billing.dashboard_queries import FINANCE

MONEY = ("subtotal", "discount_total", "commitment_true_up", "adjustment_total", "tax_total",
         "threshold_billed", "credits_applied", "total_due", "sum_of_lines", "amount")


def load(name: str):
    try:
        columns, rows = DashboardSource.finance().query(FINANCE[name])
    except FileNotFoundError as missing:  # no warehouse copy yet: say what to run
        st.error(str(missing))
        st.stop()
    return frame(columns, rows, money=MONEY), rows


st.title("Finance: invoices and usage")

totals, _ = load("invoice_totals")
register, register_rows = load("invoice_register")

st.header("Invoice register")
if register.empty:
    st.info("No invoices yet.")
else:
    mismatched = [row[0] for row in register_rows if not row[-1]]
    if mismatched:
        st.error(f"{len(mismatched)} invoice(s) do not tie out to their lines: {', '.join(mismatched[:20])}")
    else:
        st.success(f"All {len(register_rows)} invoices tie out to their lines.")
    st.subheader("Totals by currency and status")
    st.dataframe(totals, hide_index=True)
    statuses = sorted(register["status"].unique())
    chosen = st.multiselect("Status", statuses, default=statuses)
    currencies = sorted(register["currency"].unique())
    currency = st.selectbox("Currency", ["all", *currencies])
    shown = register[register["status"].isin(chosen)]
    if currency != "all":
        shown = shown[shown["currency"] == currency]
    st.dataframe(shown, hide_index=True)

st.header("Held back from publication")
holds, _ = load("invoice_holds")
if holds.empty:
    st.success("No ready invoice is held back.")
else:
    st.warning(f"{holds['invoice_id'].nunique()} invoice(s) held back.")
    st.dataframe(holds, hide_index=True)

st.header("Quarantined usage")
by_reason, _ = load("quarantine_by_reason")
if by_reason.empty:
    st.success("No raw usage row is in quarantine.")
else:
    st.dataframe(by_reason, hide_index=True)
    with st.expander("Latest quarantined rows"):
        latest, _ = load("quarantine_latest")
        st.dataframe(latest, hide_index=True)

st.header("Raw rows reconciliation by ingestion day")
reconciliation, reconciliation_rows = load("reconciliation")
unbalanced = [row[0] for row in reconciliation_rows if not row[-1]]
if unbalanced:
    st.error(f"{len(unbalanced)} ingestion day(s) do not balance: {', '.join(map(str, unbalanced[:20]))}")
elif reconciliation_rows:
    st.success(f"Every raw row of {len(reconciliation_rows)} ingestion day(s) is accounted for.")
st.dataframe(reconciliation, hide_index=True)

st.header("Spend by product")
st.caption("Every invoice line (drafts included) by billing period and product.")
spend, _ = load("spend_by_product")
st.dataframe(spend, hide_index=True)
