"""The Great Expectations suites of the data-quality gate, as plain data (no GX import here).

Each suite validates one *relation*: a SQL query that runs unchanged on DuckDB and Postgres and
shapes the rows so that stock GX expectations can judge them (a cross-table rule such as "an
invoice is in its contract's currency" becomes a query with both values side by side and an
``expect_column_pair_values_to_be_equal``). ``warehouse_billing.quality.runner`` runs the query
(DuckDB: read-only connection, ``.df()``, GX pandas data source; Postgres: a GX SQL data source with
a query asset) and turns the ``Expect`` records below into GX expectations;
``orchestration.quality_checks`` reports each suite as one Dagster asset check. Whether a check
blocks publication, and its parameters, come from ``warehouse_billing/quality/config.yaml``;
``defaults`` below are only the documented parameter names and types, and the values used when a
parameter is left out of that file.

What is here is what GX does better than a dbt test: shares of bad rows (``mostly``) on raw usage,
volume against earlier days, the period-over-period band, rounding error bands, an invoice's
currency against its contract and its lines. A rule that a blocking dbt test already enforces on the
same model is not repeated here: keys unique and not null, amounts not null, invoice totals equal to
the sum of their lines and never negative, known line types and each type's sign (seed
``invoice_line_types``, dbt test ``invoice_lines_follow_their_line_type``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# The landing contract (SPEC 2.1) and the provenance columns the project's loaders add (decision 50).
RAW_COLUMNS = (
    "event_id",
    "customer_id",
    "event_type",
    "occurred_at",
    "properties",
    "ingested_at",
    "load_id",
    "source_topic",
    "source_partition",
    "source_offset",
)
PERIOD_CHANGE_AMOUNTS = ("total_due", "subtotal")

@dataclass(frozen=True)
class QueryContext:
    """Where the tables are and the run's clock; everything a suite's SQL depends on."""

    models_schema: str  # `main` on DuckDB, $BILLING_PG_SCHEMA (default `analytics`) on Postgres
    raw_schema: str = "raw"
    as_of: datetime = field(default_factory=lambda: datetime(1970, 1, 1))  # naive UTC
    existing_tables: frozenset[str] = frozenset()  # model tables that exist (lower case)

    def model(self, name: str) -> str:
        return f"{quote(self.models_schema)}.{quote(name)}"

    @property
    def raw_usage(self) -> str:
        return f"{quote(self.raw_schema)}.{quote('usage_events')}"


@dataclass(frozen=True)
class Expect:
    """One GX expectation: the class name in ``great_expectations.expectations`` and its arguments."""

    type: str
    kwargs: Mapping[str, Any]
    notes: str = ""

    def label(self) -> str:
        """``ExpectColumnValuesToNotBeNull(event_id)``: short enough for a failure message."""
        columns = [str(self.kwargs[k]) for k in ("column", "column_A", "column_B") if k in self.kwargs]
        return f"{self.type}({', '.join(columns)})"


@dataclass(frozen=True)
class Suite:
    name: str  # the GX suite name and the Dagster check name
    asset: tuple[str, ...]  # the Dagster asset key the check is attached to
    description: str
    relation: Callable[[QueryContext, Mapping[str, Any]], str]
    expectations: Callable[[Mapping[str, Any]], list[Expect]]
    row_id_columns: tuple[str, ...]  # shown for each failing row (GX unexpected_index_column_names)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Dagster assets the check reads besides its own (they make the check wait for the dbt step).
    additional_deps: tuple[tuple[str, ...], ...] = ()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def timestamp_literal(moment: datetime) -> str:
    return f"cast('{moment.strftime('%Y-%m-%d %H:%M:%S')}' as timestamp)"


def date_literal(moment: datetime) -> str:
    return f"cast('{moment.strftime('%Y-%m-%d')}' as date)"


def _window(context: QueryContext, params: Mapping[str, Any]) -> str:
    """Raw rows landed in the trailing ``window_days`` up to the run's clock."""
    start = context.as_of - timedelta(days=params["window_days"])
    return f"ingested_at > {timestamp_literal(start)} and ingested_at <= {timestamp_literal(context.as_of)}"


# ---------------------------------------------------------------------------------------------
# Raw usage (contract §2.2). Bad rows are expected here (staging quarantines them), so the row-level
# rules hold for a share `mostly` of the recent rows: a sender that breaks shows up, one bad row does not.
# ---------------------------------------------------------------------------------------------


def _raw_schema_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    return f"select * from {context.raw_usage} where ingested_at is null or ({_window(context, params)})"


def _raw_schema_expectations(params: Mapping[str, Any]) -> list[Expect]:
    return [
        Expect(
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(RAW_COLUMNS), "exact_match": not params["allow_extra_columns"]},
            "The landing contract of raw.usage_events (contract §2.2): a missing or renamed column means a "
            "loader changed.",
        ),
        Expect(
            "ExpectColumnValuesToNotBeNull",
            {"column": "ingested_at"},
            "The loader stamps every row; a row without ingested_at is invisible to every run "
            "(neither billed nor quarantined).",
        ),
    ]


def _raw_ids_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    return (
        "select nullif(trim(event_id), '') as event_id, nullif(trim(customer_id), '') as customer_id, "
        "nullif(trim(event_type), '') as event_type, occurred_at, ingested_at "
        f"from {context.raw_usage} where {_window(context, params)}"
    )


def _raw_ids_expectations(params: Mapping[str, Any]) -> list[Expect]:
    notes = (
        "Blank counts as missing. Such rows are quarantined, never billed; more than "
        f"{1 - params['mostly']:.2%} of them means a sender lost its ids."
    )
    return [
        Expect("ExpectColumnValuesToNotBeNull", {"column": column, "mostly": params["mostly"]}, notes)
        for column in ("event_id", "customer_id", "event_type")
    ]


def _raw_timestamps_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    # The staging view types occurred_at with the same rule that quarantines invalid_occurred_at.
    return (
        "select event_id, customer_id, occurred_at_raw, occurred_at, ingested_at, "
        "cast(extract(epoch from (ingested_at - occurred_at)) / 3600.0 as double precision)"
        " as ingestion_delay_hours "
        f"from {context.model('stg_raw__usage_events')} where {_window(context, params)}"
    )


def _raw_timestamps_expectations(params: Mapping[str, Any]) -> list[Expect]:
    mostly = params["mostly"]
    return [
        Expect(
            "ExpectColumnValuesToNotBeNull",
            {"column": "occurred_at", "mostly": mostly},
            "occurred_at parses as an ISO 8601 timestamp (null here = unparseable raw text).",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {
                "column": "ingestion_delay_hours",
                "min_value": -float(params["future_tolerance_hours"]),
                "max_value": float(params["late_arrival_window_days"] * 24),
                "mostly": mostly,
            },
            "Hours from occurred_at to ingested_at: at most future_tolerance_hours in the future and "
            "late_arrival_window_days late (contract §2.2 future_occurred_at / outside_late_window).",
        ),
    ]


def volume_day(as_of: datetime) -> datetime:
    """The last complete UTC day before the run's clock: the day whose volume is judged."""
    return datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=1)


def _raw_volume_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    day = volume_day(context.as_of)
    start = day - timedelta(days=params["trailing_days"])
    end = day + timedelta(days=1)
    day_sql = date_literal(day)
    return (
        "with daily as ("
        " select cast(ingested_at as date) as ingestion_date, count(*) as row_count"
        f" from {context.raw_usage}"
        f" where ingested_at >= {timestamp_literal(start)} and ingested_at < {timestamp_literal(end)}"
        " group by cast(ingested_at as date)"
        "), judged as ("
        f" select {day_sql} as ingestion_date,"
        f" coalesce((select sum(row_count) from daily where ingestion_date = {day_sql}), 0) as row_count,"
        f" (select avg(row_count) from daily where ingestion_date < {day_sql}) as trailing_daily_mean,"
        f" (select count(*) from daily where ingestion_date < {day_sql}) as trailing_days_with_rows"
        ") select ingestion_date, row_count,"
        " cast(trailing_daily_mean as double precision) as trailing_daily_mean, trailing_days_with_rows,"
        " cast(1.0 * row_count / nullif(trailing_daily_mean, 0) as double precision) as volume_ratio"
        " from judged"
    )


def _raw_volume_expectations(params: Mapping[str, Any]) -> list[Expect]:
    return [
        Expect(
            "ExpectColumnValuesToBeBetween",
            {
                "column": "volume_ratio",
                "min_value": float(params["min_ratio"]),
                "max_value": float(params["max_ratio"]),
            },
            "Rows landed on the last complete UTC day / mean rows per day over the "
            f"{params['trailing_days']} days before it (days without rows left out of the mean; no "
            "history = nothing to compare).",
        )
    ]


# ---------------------------------------------------------------------------------------------
# Rated usage: int_charges_rated (usage and recurring charges) and the mart invoice_lines.
# ---------------------------------------------------------------------------------------------


def _rated_charges_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    return (
        "select c.invoice_line_id, c.invoice_id, c.line_type, c.price_id, c.product_id, c.pricing_model,"
        # an unused-days credit of an advance fee (SPEC 6.2) is a negative recurring line by design: its
        # sign is reversed here, so that the same expectations say it never adds to an invoice
        " c.currency, c.is_unused_days_credit,"
        " case when c.is_unused_days_credit then -c.quantity else c.quantity end as quantity,"
        " case when c.is_unused_days_credit then -c.amount else c.amount end as amount,"
        " c.amount_unrounded, cur.minor_units,"
        " cast(abs(c.amount - c.amount_unrounded) as double precision) * power(10, cur.minor_units)"
        " as rounding_error_minor_units"
        f" from {context.model('int_charges_rated')} as c"
        f" left join {context.model('stg_seed__currencies')} as cur on cur.currency = c.currency"
    )


def _rated_charges_expectations(params: Mapping[str, Any]) -> list[Expect]:
    # invoice_line_id (unique, not null) and amount (not null) are dbt tests of int_charges_rated.
    return [
        Expect("ExpectColumnValuesToNotBeNull", {"column": "invoice_id"}),
        Expect("ExpectColumnValuesToNotBeNull", {"column": "product_id"}),
        Expect("ExpectColumnValuesToBeInSet", {"column": "line_type", "value_set": ["usage", "recurring"]}),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "quantity", "min_value": 0},
            "Usage quantities and recurring proration factors are never negative (an unused-days credit's never"
            " positive).",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "amount", "min_value": 0},
            "Every pricing model gives a non-negative amount for a non-negative quantity (contract §4); an"
            " unused-days credit is never positive.",
        ),
        Expect(
            "ExpectColumnValuesToNotBeNull",
            {"column": "minor_units"},
            "The charge's currency is in the currencies seed.",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {
                "column": "rounding_error_minor_units",
                "min_value": 0,
                "max_value": params["max_rounding_error"],
            },
            "|amount - amount_unrounded| in minor units: each line is rounded once, to the currency's minor "
            "units (at most half a minor unit away).",
        ),
    ]


def _invoice_lines_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    return (
        "select invoice_line_id, invoice_id, line_type, product_id, grant_id, currency, amount,"
        " service_period_start, service_period_end"
        f" from {context.model('invoice_lines')}"
    )


def _invoice_lines_expectations(params: Mapping[str, Any]) -> list[Expect]:
    # Keys, amounts, known line types and each type's sign (seed invoice_line_types) are dbt tests of
    # invoice_lines (unique, not_null, invoice_lines_follow_their_line_type).
    return [
        Expect("ExpectColumnValuesToNotBeNull", {"column": "currency"}),
        Expect(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "service_period_end", "column_B": "service_period_start", "or_equal": False},
            "Every line covers a non-empty service period (end exclusive).",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Invoices (contract §6).
# ---------------------------------------------------------------------------------------------


def _invoice_currency_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    return (
        "with line_stats as ("
        " select l.invoice_id, count(distinct l.currency) as line_currency_count,"
        " sum(case when l.currency = i.currency then 0 else 1 end) as lines_in_other_currency"
        f" from {context.model('invoice_lines')} as l"
        f" inner join {context.model('invoices')} as i on i.invoice_id = l.invoice_id"
        " group by l.invoice_id"
        ") select i.invoice_id, i.contract_id, i.customer_id, i.currency, c.currency as contract_currency,"
        " cur.minor_units as currency_minor_units,"
        " coalesce(s.line_currency_count, 0) as line_currency_count,"
        " coalesce(s.lines_in_other_currency, 0) as lines_in_other_currency"
        f" from {context.model('invoices')} as i"
        f" left join {context.model('stg_seed__contracts')} as c on c.contract_id = i.contract_id"
        f" left join {context.model('stg_seed__currencies')} as cur on cur.currency = i.currency"
        " left join line_stats as s on s.invoice_id = i.invoice_id"
    )


def _invoice_currency_expectations(params: Mapping[str, Any]) -> list[Expect]:
    # invoices.currency not null is a dbt test.
    return [
        Expect(
            "ExpectColumnValuesToNotBeNull",
            {"column": "currency_minor_units"},
            "The invoice's currency is in the currencies seed.",
        ),
        Expect(
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "currency", "column_B": "contract_currency", "ignore_row_if": "neither"},
            "An invoice is in its contract's currency (a missing contract fails too).",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "line_currency_count", "min_value": 0, "max_value": 1},
            "One currency per invoice: its lines never mix currencies.",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "lines_in_other_currency", "min_value": 0, "max_value": 0},
            "Every line is in the invoice's currency.",
        ),
    ]


def _period_change_relation(context: QueryContext, params: Mapping[str, Any]) -> str:
    amount = params["amount_column"]
    unpublished = "1"
    if params["only_unpublished"] and "published_invoices" in context.existing_tables:
        unpublished = (
            "case when i.invoice_id in (select invoice_id from "
            f"{context.model('published_invoices')}) then 0 else 1 end"
        )
    return (
        "with per_period as ("
        " select i.customer_id, i.currency, i.period_start, count(*) as invoice_count,"
        f" sum(i.{amount}) as amount,"
        " sum(case when i.status = 'ready' then 1 else 0 end) as ready_count,"
        f" sum(case when i.status = 'ready' then {unpublished} else 0 end) as unpublished_ready_count"
        f" from {context.model('invoices')} as i"
        " group by i.customer_id, i.currency, i.period_start"
        "), compared as ("
        " select per_period.*,"
        " lag(amount) over (partition by customer_id, currency order by period_start) as previous_amount,"
        " lag(period_start) over (partition by customer_id, currency order by period_start)"
        " as previous_period_start"
        " from per_period"
        ") select customer_id, currency, period_start, previous_period_start, amount, previous_amount,"
        " cast(1.0 * amount / previous_amount - 1 as double precision) as change_ratio"
        " from compared where ready_count = invoice_count and unpublished_ready_count > 0"
        f" and previous_amount >= {float(params['min_previous_amount'])}"
    )


def _period_change_expectations(params: Mapping[str, Any]) -> list[Expect]:
    band = float(params["band"])
    return [
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "change_ratio", "min_value": -band, "max_value": band},
            f"Per customer and currency: this period's {params['amount_column']} / the previous "
            f"period's - 1, within +-{band:.0%}. Rows: the ready periods not yet published whose "
            f"previous period's amount is at least {params['min_previous_amount']}.",
        )
    ]


SUITES: tuple[Suite, ...] = (
    Suite(
        name="gx_raw_usage_schema",
        asset=("raw", "usage_events"),
        description="raw.usage_events keeps the landing contract: its six columns and the loaders' provenance "
        "columns, ingested_at on every row.",
        relation=_raw_schema_relation,
        expectations=_raw_schema_expectations,
        row_id_columns=("event_id", "customer_id", "occurred_at"),
        defaults={"window_days": 7, "allow_extra_columns": False},
        additional_deps=(("stg_raw__usage_events",),),
    ),
    Suite(
        name="gx_raw_usage_ids",
        asset=("raw", "usage_events"),
        description="Recent raw rows carry an event_id, a customer_id and an event_type (share `mostly`).",
        relation=_raw_ids_relation,
        expectations=_raw_ids_expectations,
        row_id_columns=("event_id", "customer_id", "event_type", "occurred_at", "ingested_at"),
        defaults={"window_days": 7, "mostly": 0.99},
        additional_deps=(("stg_raw__usage_events",),),
    ),
    Suite(
        name="gx_raw_usage_timestamps",
        asset=("raw", "usage_events"),
        description=(
            "Recent raw rows have a parseable occurred_at within the accepted range around ingested_at "
            "(share `mostly`)."
        ),
        relation=_raw_timestamps_relation,
        expectations=_raw_timestamps_expectations,
        row_id_columns=("event_id", "customer_id", "occurred_at_raw", "ingested_at"),
        defaults={
            "window_days": 7,
            "mostly": 0.99,
            "future_tolerance_hours": 24,
            "late_arrival_window_days": 35,
        },
        additional_deps=(("stg_raw__usage_events",),),
    ),
    Suite(
        name="gx_raw_usage_volume",
        asset=("raw", "usage_events"),
        description="Rows landed on the last complete day, against the mean of the trailing days.",
        relation=_raw_volume_relation,
        expectations=_raw_volume_expectations,
        row_id_columns=("ingestion_date", "row_count", "trailing_daily_mean"),
        defaults={"trailing_days": 7, "min_ratio": 0.3, "max_ratio": 3.0},
        additional_deps=(("stg_raw__usage_events",),),
    ),
    Suite(
        name="gx_rated_charges",
        asset=("int_charges_rated",),
        description=(
            "Rated usage and recurring charges: an invoice and a product, non-negative quantities and "
            "amounts, a known currency, rounded once to its minor units."
        ),
        relation=_rated_charges_relation,
        expectations=_rated_charges_expectations,
        row_id_columns=("invoice_line_id", "invoice_id", "product_id", "currency"),
        defaults={"max_rounding_error": 0.500001},
    ),
    Suite(
        name="gx_invoice_lines",
        asset=("invoice_lines",),
        description="Invoice lines: a currency on every line, non-empty service periods.",
        relation=_invoice_lines_relation,
        expectations=_invoice_lines_expectations,
        row_id_columns=("invoice_line_id", "invoice_id", "line_type", "product_id"),
        defaults={},
    ),
    Suite(
        name="gx_invoice_currency",
        asset=("invoices",),
        description="One known currency per invoice, equal to its contract's, on every line.",
        relation=_invoice_currency_relation,
        expectations=_invoice_currency_expectations,
        row_id_columns=("invoice_id", "contract_id", "customer_id"),
        defaults={},
    ),
    Suite(
        name="gx_invoice_period_change",
        asset=("invoices",),
        description="Per customer, a ready period's amount stays within a band of the previous period's.",
        relation=_period_change_relation,
        expectations=_period_change_expectations,
        row_id_columns=("customer_id", "currency", "period_start", "amount", "previous_amount"),
        defaults={
            "band": 1.0,
            "min_previous_amount": 100.0,
            "amount_column": "total_due",
            "only_unpublished": True,
        },
    ),
)

SUITES_BY_NAME: Mapping[str, Suite] = {suite.name: suite for suite in SUITES}


def validate_params(suite: Suite, params: Mapping[str, Any]) -> None:
    """Raise ValueError for a value a suite cannot use (the loader checks names and types)."""
    if "mostly" in params and not 0 < params["mostly"] <= 1:
        raise ValueError(f"{suite.name}: mostly must be in (0, 1], got {params['mostly']}")
    for key in ("window_days", "trailing_days"):
        if key in params and params[key] < 1:
            raise ValueError(f"{suite.name}: {key} must be at least 1, got {params[key]}")
    if "min_ratio" in params and not 0 <= params["min_ratio"] <= params["max_ratio"]:
        raise ValueError(f"{suite.name}: need 0 <= min_ratio <= max_ratio")
    if "band" in params and params["band"] < 0:
        raise ValueError(f"{suite.name}: band must not be negative")
    if "amount_column" in params and params["amount_column"] not in PERIOD_CHANGE_AMOUNTS:
        raise ValueError(f"{suite.name}: amount_column must be one of {', '.join(PERIOD_CHANGE_AMOUNTS)}")
