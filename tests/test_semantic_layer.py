"""The semantic layer (SPEC 6.3, decision 55): what `mf query` answers equals what the marts hold.

The contract scenario (USD and JPY contracts, credits, a quarterly contract, drafts and ready invoices)
is copied from the shared build; `mf` runs as a person types it, in a subprocess from the project
directory, and every figure is compared with a query written straight on the marts. `mf query` hands
back floats (MetricFlow turns the warehouse's decimals into floats before printing), which carry a
decimal of up to 15 significant digits exactly: each expected figure is checked to fit, then compared
as a Decimal, to the cent. The ratio metric is a float division by MetricFlow's own definition and is
compared with the same division.

The queries run side by side, each on its own copy of the DuckDB file (one process may write a DuckDB
file, and dbt-duckdb opens it for writing): about 7 s each, mostly importing dbt and MetricFlow.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from support.scenario import AS_OF, scenario_project
from support.warehouse import Warehouse, copy_duckdb, run_dbt_in_process

pytestmark = pytest.mark.warehouse

MF_EXECUTABLE = str(Path(sys.executable).with_name("mf"))
# The most significant digits a float carries exactly through MetricFlow's Decimal -> float -> text.
FLOAT_EXACT_DIGITS = 15

# Each query: the metrics and group-bys given to `mf query`.
QUERIES = {
    "money_by_currency_and_month": (
        "billed_revenue,invoiced_amount,usage_spend,customers_with_priced_usage,usage_spend_per_customer,"
        "credits_drawn,credits_expired",
        "invoice__currency,metric_time__month",
    ),
    "billed_revenue_by_line": (
        "billed_revenue",
        "invoice__currency,invoice_line__line_type,invoice_line__product_id",
    ),
    "usage_by_metric_customer_and_day": (
        "usage_quantity,usage_events",
        "metric,customer,metric_time__day",
    ),
    "active_customers_by_metric_and_month": (
        "active_customers",
        "metric,metric_time__month",
    ),
}


def write_semantic_manifest(warehouse: Warehouse, project: Path) -> None:
    """`dbt parse` the project copy into its own target/: mf reads target/semantic_manifest.json from the
    project directory, whatever DBT_TARGET_PATH says."""
    env = {**warehouse.env, "DBT_TARGET_PATH": str(project / "target"), "DBT_WRITE_JSON": "true"}
    result = run_dbt_in_process(["parse"], project, json.dumps({"as_of": AS_OF}), env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert (project / "target" / "semantic_manifest.json").exists()


def start_mf(warehouse: Warehouse, project: Path, work: Path, *args: str) -> subprocess.Popen[str]:
    """Start `mf <args>` from the project directory on a copy of the warehouse made in ``work``."""
    copy = copy_duckdb(warehouse, work)
    env = {**copy.env, "DBT_PROFILES_DIR": str(project), "DBT_TARGET_PATH": str(project / "target")}
    return subprocess.Popen([MF_EXECUTABLE, *args], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=180)
    return process.returncode, output


def run_queries(warehouse: Warehouse, project: Path, work: Path,
                queries: dict[str, tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Run each query with `mf query --csv`, side by side; its rows as dicts of CSV text."""
    started = {}
    for name, (metrics, group_by) in queries.items():
        started[name] = start_mf(warehouse, project, work / name, "query", "--metrics", metrics,
                                 "--group-by", group_by, "--csv", str(work / f"{name}.csv"), "--quiet")
    results = {}
    for name, process in started.items():
        returncode, output = finish(process)
        assert returncode == 0, f"mf query {name} failed:\n{output[-4000:]}"
        with open(work / f"{name}.csv", newline="") as file:
            results[name] = list(csv.DictReader(file))
    return results


@pytest.fixture(scope="module")
def semantic_layer(scenario_build, tmp_path_factory) -> dict:
    """The scenario copied, its project parsed, every query of QUERIES answered by mf, and
    `mf validate-configs` (which queries every dimension, entity, measure and metric) run beside them."""
    source, _ = scenario_build
    work = tmp_path_factory.mktemp("semantic")
    warehouse = copy_duckdb(source, work)
    project = scenario_project(work)
    write_semantic_manifest(warehouse, project)
    validation = start_mf(warehouse, project, work / "validate", "validate-configs")
    answers = run_queries(warehouse, project, work, QUERIES)
    return {"warehouse": warehouse, "project": project, "answers": answers, "validation": finish(validation)}


def mf_figures(rows: list[dict[str, str]], keys: list[str], metric: str) -> dict[tuple, Decimal]:
    """One metric's figures by group: an empty cell (no row for that group) is left out."""
    return {tuple(_key(row[key]) for key in keys): Decimal(row[metric]) for row in rows if row[metric] != ""}


def sql_figures(warehouse: Warehouse, sql: str) -> dict[tuple, Decimal]:
    """A query's figures by group: every column but the last is the group, the last the figure; a
    null figure is left out. Each figure must fit in a float exactly for the comparison to be exact."""
    figures = {}
    for *group, figure in warehouse.query(sql):
        if figure is None:
            continue
        figure = Decimal(figure)
        assert len(figure.normalize().as_tuple().digits) <= FLOAT_EXACT_DIGITS, figure
        figures[tuple(_key(value) for value in group)] = figure
    return figures


def _key(value: object) -> str:
    """Group values as text both sides agree on: a day as YYYY-MM-DD, no value as ''."""
    if value is None:
        return ""
    return str(value)[:10] if str(value)[:4].isdigit() and str(value)[4:5] == "-" else str(value)


def differences(expected: dict[tuple, Decimal], answered: dict[tuple, Decimal]) -> list[str]:
    """Each group whose figure differs, or that one side has and the other has not."""
    return [f"{group}: marts {expected.get(group)}, mf {answered.get(group)}"
            for group in sorted(set(expected) | set(answered)) if expected.get(group) != answered.get(group)]


# Straight from the marts, the way a reader of the marts would write them (DuckDB SQL). The currency is
# each mart's own column where it has one, not MetricFlow's join to invoices.
LINES_BY_CURRENCY_AND_MONTH = """
    select lines.currency, cast(date_trunc('month', lines.service_period_start) as date), sum(lines.amount)
    from {schema}.invoice_lines as lines
    inner join {schema}.invoices as invoices on lines.invoice_id = invoices.invoice_id
    where invoices.status in ({statuses})
    group by 1, 2
"""
SPEND_BY_CURRENCY_AND_MONTH = """
    select currency, cast(date_trunc('month', usage_date) as date), {figure}
    from {schema}.daily_spend group by 1, 2
"""
CREDITS_BY_CURRENCY_AND_MONTH = """
    select invoices.currency, cast(date_trunc('month', ledger.period_start) as date), sum(ledger.{column})
    from {schema}.credit_ledger as ledger
    inner join {schema}.invoices as invoices on ledger.invoice_id = invoices.invoice_id
    group by 1, 2
"""
MONTH_KEYS = ["invoice__currency", "metric_time__month"]


def test_money_metrics_by_currency_and_month_equal_the_marts(semantic_layer) -> None:
    warehouse, rows = semantic_layer["warehouse"], semantic_layer["answers"]["money_by_currency_and_month"]
    expected = {
        "billed_revenue": LINES_BY_CURRENCY_AND_MONTH.replace("{statuses}", "'ready'"),
        "invoiced_amount": LINES_BY_CURRENCY_AND_MONTH.replace("{statuses}", "'ready', 'draft'"),
        "usage_spend": SPEND_BY_CURRENCY_AND_MONTH.replace("{figure}", "sum(amount)"),
        "customers_with_priced_usage": SPEND_BY_CURRENCY_AND_MONTH.replace(
            "{figure}", "count(distinct case when event_count > 0 then customer_id end)"),
        "credits_drawn": CREDITS_BY_CURRENCY_AND_MONTH.replace("{column}", "drawn_amount"),
        "credits_expired": CREDITS_BY_CURRENCY_AND_MONTH.replace("{column}", "expired_amount"),
    }
    for metric, sql in expected.items():
        marts = sql_figures(warehouse, sql)
        assert marts, f"{metric}: the scenario has no rows for it"
        assert differences(marts, mf_figures(rows, MONTH_KEYS, metric)) == [], metric
    # both currencies, ready and draft periods: the figures above are not one group each
    currencies = {row["invoice__currency"] for row in rows}
    assert currencies == {"USD", "JPY"}
    assert mf_figures(rows, MONTH_KEYS, "invoiced_amount") != mf_figures(rows, MONTH_KEYS, "billed_revenue")


def test_usage_spend_per_customer_is_the_ratio_of_its_parts(semantic_layer) -> None:
    """A float division (MetricFlow's CAST AS DOUBLE): the same division of the marts' exact figures."""
    warehouse, rows = semantic_layer["warehouse"], semantic_layer["answers"]["money_by_currency_and_month"]
    spend = sql_figures(warehouse, SPEND_BY_CURRENCY_AND_MONTH.replace("{figure}", "sum(amount)"))
    customers = sql_figures(warehouse, SPEND_BY_CURRENCY_AND_MONTH.replace(
        "{figure}", "count(distinct case when event_count > 0 then customer_id end)"))
    ratio = "usage_spend_per_customer"
    answered = {(row["invoice__currency"], row["metric_time__month"][:10]): float(row[ratio])
                for row in rows if row[ratio] != ""}
    expected = {group: float(spend[group]) / float(count) for group, count in customers.items() if count}
    assert answered == expected
    # a month with spend rows but no priced event has no ratio (no division by zero)
    assert any(count == 0 for count in customers.values())


def test_billed_revenue_by_line_type_and_product_adds_up_to_ready_invoice_totals(semantic_layer) -> None:
    warehouse, rows = semantic_layer["warehouse"], semantic_layer["answers"]["billed_revenue_by_line"]
    keys = ["invoice__currency", "invoice_line__line_type", "invoice_line__product_id"]
    by_line = mf_figures(rows, keys, "billed_revenue")
    marts = sql_figures(warehouse, """
        select lines.currency, lines.line_type, lines.product_id, sum(lines.amount)
        from {schema}.invoice_lines as lines
        inner join {schema}.invoices as invoices on lines.invoice_id = invoices.invoice_id
        where invoices.status = 'ready'
        group by 1, 2, 3
    """)
    assert differences(marts, by_line) == []
    assert {line_type for _, line_type, _ in by_line} >= {"usage", "recurring", "credit"}
    # the split adds up, per currency, to what the ready invoices say is due
    totals: dict[tuple, Decimal] = {}
    for (currency, _, _), amount in by_line.items():
        totals[(currency,)] = totals.get((currency,), Decimal(0)) + amount
    due = sql_figures(warehouse, "select currency, sum(total_due) from {schema}.invoices "
                                 "where status = 'ready' group by 1")
    assert differences(due, totals) == []


def test_usage_metrics_equal_daily_usage(semantic_layer) -> None:
    warehouse, answers = semantic_layer["warehouse"], semantic_layer["answers"]
    daily = answers["usage_by_metric_customer_and_day"]
    day_keys = ["metric", "customer", "metric_time__day"]
    for metric, column in (("usage_quantity", "quantity"), ("usage_events", "event_count")):
        marts = sql_figures(warehouse, f"select metric_id, customer_id, usage_date, sum({column}) "
                                       "from {schema}.daily_usage group by 1, 2, 3")
        assert len(marts) > 10
        assert differences(marts, mf_figures(daily, day_keys, metric)) == [], metric
    monthly = answers["active_customers_by_metric_and_month"]
    marts = sql_figures(warehouse, "select metric_id, cast(date_trunc('month', usage_date) as date), "
                                   "count(distinct customer_id) from {schema}.daily_usage group by 1, 2")
    answered = mf_figures(monthly, ["metric", "metric_time__month"], "active_customers")
    assert differences(marts, answered) == []
    # a distinct count over the month, not a sum of days: some customer used a metric on two days of one month
    day_counts = sql_figures(warehouse, "select metric_id, cast(date_trunc('month', usage_date) as date), "
                                        "count(*) from (select distinct metric_id, customer_id, usage_date "
                                        "from {schema}.daily_usage) as days group by 1, 2")
    assert any(day_counts[group] > answered[group] for group in answered)


def test_validate_configs_passes_against_the_warehouse(semantic_layer) -> None:
    returncode, output = semantic_layer["validation"]
    assert returncode == 0, output[-4000:]
    assert "Successfully validated metrics against data warehouse" in output


def test_a_wrong_definition_is_caught(semantic_layer, tmp_path: Path) -> None:
    """Two mistakes in a project copy. A dimension on a column the mart does not have: `dbt parse`
    accepts it (it never reads the warehouse), `mf validate-configs` fails and names it. And
    billed_revenue that forgets its filter on ready invoices: mf answers, and the comparison with the
    ready invoices' totals fails."""
    warehouse = semantic_layer["warehouse"]
    project = scenario_project(tmp_path)
    usage_model = project / "models" / "semantic" / "daily_usage.yml"
    usage_model.write_text(_replace_once(usage_model.read_text(), "expr: dimensions\n",
                                         "expr: dimension_json\n"))
    metrics = project / "models" / "semantic" / "_semantic__metrics.yml"
    metrics.write_text(_replace_once(metrics.read_text(), "{{ Dimension('invoice__status') }} = 'ready'",
                                     "{{ Dimension('invoice__status') }} in ('ready', 'draft')"))
    write_semantic_manifest(warehouse, project)

    validation = start_mf(warehouse, project, tmp_path / "validate", "validate-configs")
    answers = run_queries(warehouse, project, tmp_path, {"billed": ("billed_revenue", "invoice__currency")})
    returncode, output = finish(validation)
    assert returncode != 0
    assert 'Referenced column "dimension_json" not found' in output
    assert "semantic model `daily_usage`" in output

    due = sql_figures(warehouse, "select currency, sum(total_due) from {schema}.invoices "
                                 "where status = 'ready' group by 1")
    assert differences(due, mf_figures(answers["billed"], ["invoice__currency"], "billed_revenue")) != []


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)
