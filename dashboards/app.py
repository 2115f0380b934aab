"""The dashboards' entry point: ``make dashboard`` (README "Dashboards").

Two pages, each reading only marts (decision 57): ``/finance`` for finance and BI, ``/customer`` for one
customer of the company (``/customer?customer_id=...``). The root shows where they are (Streamlit serves
its default page at the root only, so neither page is the default).
"""

import streamlit as st

st.set_page_config(page_title="Usage billing", layout="wide")


def home() -> None:
    st.title("Usage billing dashboards")
    st.page_link(FINANCE, label="Finance: invoice register, holds, quarantine, reconciliation, spend by product")
    st.markdown("Customer usage and spend: open `/customer?customer_id=<customer id>`.")


FINANCE = st.Page("finance.py", title="Finance", url_path="finance")
CUSTOMER = st.Page("customer.py", title="Customer usage and spend", url_path="customer")

st.navigation([st.Page(home, title="Dashboards", default=True), FINANCE, CUSTOMER]).run()
