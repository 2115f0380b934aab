"""Running the dashboard pages (``dashboards/``) in Streamlit's AppTest, and reading what they show."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from warehouse_billing import REPO_ROOT

PAGES = REPO_ROOT / "dashboards"
PAGE_TIMEOUT_S = 60


def run_page(name: str, customer_id: str | None = None) -> AppTest:
    """Run ``dashboards/<name>.py`` once (with ``?customer_id=``) and fail on any exception it raised."""
    page = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=PAGE_TIMEOUT_S)
    if customer_id is not None:
        page.query_params["customer_id"] = customer_id
    page.run()
    assert not page.exception, [exception.value for exception in page.exception]
    return page


def texts(page: AppTest) -> str:
    """Everything the page wrote: titles, headers, messages, metrics and every table cell."""
    parts = [element.value for kind in ("title", "header", "subheader", "caption", "success", "info",
                                        "warning", "error") for element in getattr(page, kind)]
    parts += [f"{metric.label}: {metric.value}" for metric in page.metric]
    parts += [table.value.to_csv(index=False) for table in page.dataframe]
    return "\n".join(str(part) for part in parts)


def table_with(page: AppTest, column: str):
    """The first table the page shows that has ``column``."""
    for table in page.dataframe:
        if column in table.value.columns:
            return table.value
    raise AssertionError(f"no table with a {column} column")
