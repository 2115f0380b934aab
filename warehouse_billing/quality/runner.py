"""Running the Great Expectations suites: the GX half of the data-quality gate, without Dagster.

``run_quality_suites`` runs the configured suites of ``warehouse_billing.quality.suites`` (all, or
the ones named) against the warehouse of the environment and returns one ``CheckOutcome`` per
suite: passed or not, the failed expectations and a sample of failing rows. With a report folder it
also writes GX data docs there (``index.html``). ``orchestration.quality_checks`` calls it from the
Dagster step ``gx_data_quality`` and reports each outcome as an asset check.

How the data is read: DuckDB through pandas (a read-only connection, ``.df()``, a GX pandas data
source); Postgres through a GX SQL data source (a query asset), as SQLAlchemy on DuckDB does not
work with GX. ``great_expectations`` is imported inside the functions that run the suites: it takes
seconds to import, and the Dagster definitions and most tests never need it.

Environment: ``BILLING_TARGET``, ``BILLING_DUCKDB_PATH``, ``BILLING_PG_*`` (as dbt), and
``BILLING_QUALITY_REPORTS_DIR`` (default ``warehouse/quality_reports``).
"""

import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from warehouse_billing import REPO_ROOT
from warehouse_billing.clock import normalize_as_of
from warehouse_billing.quality.config import CheckSettings, QualityConfig
from warehouse_billing.quality.suites import QueryContext, Suite
from warehouse_billing.warehouse import configured_target, duckdb_path, marts_schema, postgres_settings

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

REPORTS_ENV = "BILLING_QUALITY_REPORTS_DIR"
DEFAULT_REPORTS_DIR = REPO_ROOT / "warehouse" / "quality_reports"
KEEP_REPORTS = 20  # run folders kept under the reports root (each holds ~4 MB of data docs)
SAMPLE_ROWS = 10  # failing rows kept per expectation
DOCS_SITE = "run_report"


# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


@dataclass
class ExpectationOutcome:
    label: str  # e.g. ExpectColumnPairValuesToBeEqual(currency, contract_currency)
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    observed_value: Any = None
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"{self.label}: could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            share = f"{self.unexpected_count:,} of {self.element_count:,} rows"
            return f"{self.label}: {share} unexpected"
        if self.observed_value is not None:
            return f"{self.label}: observed {self.observed_value}"
        return f"{self.label}: failed"


@dataclass
class CheckOutcome:
    name: str
    asset: tuple[str, ...]
    blocking: bool
    passed: bool
    backend: str
    rows: int | None = None
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    error: str | None = None  # the suite could not run at all (query failed, ...)
    report_page: Path | None = None

    @property
    def mode(self) -> str:
        return "blocking" if self.blocking else "warning"

    @property
    def asset_name(self) -> str:
        """The asset the check is on, as Dagster writes its key (``raw/usage_events``)."""
        return "/".join(self.asset)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [expectation for expectation in self.expectations if not expectation.success]

    def summary(self) -> str:
        """One line: what happened."""
        rows = f" on {self.rows:,} rows" if self.rows is not None else ""
        if self.error:
            return f"could not run: {self.error}"
        if self.passed:
            return f"{len(self.expectations)} expectations passed{rows}"
        return f"{len(self.failed)} of {len(self.expectations)} expectations failed{rows}"

    def failure_text(self, sample_rows: int = 3) -> str:
        """Several lines: each failed expectation and a few of its failing rows."""
        lines = [f"{self.name} on {self.asset_name} ({self.mode}): {self.summary()}"]
        for expectation in self.failed:
            lines.append(f"  - {expectation.describe()}")
            lines.extend(f"      row: {_row_text(row)}" for row in expectation.sample_rows[:sample_rows])
        return "\n".join(lines)


@dataclass
class QualityRun:
    outcomes: list[CheckOutcome]
    report_index: Path | None
    backend: str

    def blocking_failures(self) -> list[CheckOutcome]:
        return [outcome for outcome in self.outcomes if outcome.blocking and not outcome.passed]

    def warnings(self) -> list[CheckOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.blocking and not outcome.passed]

    def __getitem__(self, name: str) -> CheckOutcome:
        for outcome in self.outcomes:
            if outcome.name == name:
                return outcome
        raise KeyError(name)


def _row_text(row: Mapping[str, Any]) -> str:
    def text(value: Any) -> str:
        return f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)

    return ", ".join(f"{key}={text(value)}" for key, value in row.items())


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a value GX returns (numpy scalars, Decimals, timestamps, NaN)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if hasattr(value, "isoformat"):  # pandas.Timestamp, numpy.datetime64 via pandas
        try:
            return value.isoformat()
        except ValueError:  # NaT
            return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return str(value)


# ---------------------------------------------------------------------------------------------
# Where the data comes from
# ---------------------------------------------------------------------------------------------


class _DuckDBSource:
    """DuckDB through pandas: one read-only connection, each relation read with ``.df()``."""

    backend = "pandas (DuckDB)"

    def __init__(self, context: "AbstractDataContext", path: str) -> None:
        import duckdb

        self.connection = duckdb.connect(path, read_only=True)
        self.datasource = context.data_sources.add_pandas("duckdb")

    def existing_tables(self, schema: str) -> frozenset[str]:
        sql = "select lower(table_name) from information_schema.tables where table_schema = ?"
        return frozenset(name for (name,) in self.connection.execute(sql, [schema]).fetchall())

    def batch(self, name: str, sql: str) -> tuple[Any, dict[str, Any] | None, list[str], int | None]:
        frame = self.connection.execute(sql).df()
        asset = self.datasource.add_dataframe_asset(name)
        definition = asset.add_batch_definition_whole_dataframe("all_rows")
        return definition, {"dataframe": frame}, [str(c) for c in frame.columns], len(frame)

    def close(self) -> None:
        self.connection.close()


class _PostgresSource:
    """Postgres through a GX SQL data source: each relation is a query asset."""

    backend = "SQL (Postgres)"

    def __init__(self, context: "AbstractDataContext") -> None:
        import psycopg2

        settings = postgres_settings()
        self.connection = psycopg2.connect(**settings, connect_timeout=10)
        self.connection.autocommit = True
        password = f":{quote_plus(settings['password'])}" if settings["password"] else ""
        url = (
            f"postgresql+psycopg2://{quote_plus(settings['user'])}{password}@{settings['host']}:"
            f"{settings['port']}/{quote_plus(settings['dbname'])}"
        )
        self.datasource = context.data_sources.add_postgres("postgres", connection_string=url)

    def existing_tables(self, schema: str) -> frozenset[str]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "select lower(table_name) from information_schema.tables where table_schema = %s", [schema]
            )
            return frozenset(name for (name,) in cursor.fetchall())

    def batch(self, name: str, sql: str) -> tuple[Any, dict[str, Any] | None, list[str], int | None]:
        with self.connection.cursor() as cursor:  # fails here, with the database's message, on bad SQL
            cursor.execute(f"select count(*) from ({sql}) as relation")
            (rows,) = cursor.fetchone()
            cursor.execute(f"select * from ({sql}) as relation limit 0")
            columns = [column.name for column in cursor.description]
        # GX wants a query that starts with SELECT: a relation with a CTE becomes a subquery.
        asset = self.datasource.add_query_asset(name, query=f"select * from ({sql}) as relation")
        return asset.add_batch_definition_whole_table("all_rows"), None, columns, rows

    def close(self) -> None:
        self.connection.close()
        try:
            self.datasource.get_engine().dispose()
        except Exception:  # noqa: BLE001 - an engine never created needs no disposing
            pass


# ---------------------------------------------------------------------------------------------
# Running the suites
# ---------------------------------------------------------------------------------------------


def _gx_context(report_dir: Path | None) -> "AbstractDataContext":
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if report_dir is not None:
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(report_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
            },
        )
    return context


def run_quality_suites(
    config: QualityConfig,
    *,
    as_of: str | datetime,
    report_dir: Path | None,
    names: Iterable[str] | None = None,
    target: str | None = None,
    models_schema: str | None = None,
    raw_schema: str = "raw",
    run_name: str | None = None,
) -> QualityRun:
    """Run the configured suites (all, or ``names``) against the warehouse of the environment.

    Writes GX data docs to ``report_dir/index.html`` when ``report_dir`` is given. A suite that
    cannot run (a missing table, a SQL error) is a failed check, not an exception.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    target = target or configured_target()
    if isinstance(as_of, str):
        as_of = datetime.fromisoformat(normalize_as_of(as_of))
    selected = [settings for settings in config if names is None or settings.name in set(names)]
    context = _gx_context(report_dir)
    run_id = RunIdentifier(run_name=run_name or f"as_of {as_of.isoformat()}")
    if target == "duckdb":
        source: _DuckDBSource | _PostgresSource = _DuckDBSource(context, duckdb_path())
    elif target == "postgres":
        source = _PostgresSource(context)
    else:
        raise ValueError(f"unknown target {target!r}; expected duckdb or postgres")
    schema = models_schema or marts_schema(target)
    outcomes = []
    try:
        query_context = QueryContext(
            models_schema=schema,
            raw_schema=raw_schema,
            as_of=as_of,
            existing_tables=source.existing_tables(schema),
        )
        for settings in selected:
            outcomes.append(_run_suite(gx, context, source, settings, query_context, run_id))
    finally:
        source.close()
    report_index = None
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        context.build_data_docs(site_names=[DOCS_SITE])
        report_index = report_dir / "index.html"
        for outcome in outcomes:
            pages = sorted((report_dir / "validations" / outcome.name).rglob("*.html"))
            outcome.report_page = pages[-1] if pages else None
    return QualityRun(outcomes=outcomes, report_index=report_index, backend=source.backend)


def _run_suite(
    gx: Any,
    context: "AbstractDataContext",
    source: _DuckDBSource | _PostgresSource,
    settings: CheckSettings,
    query_context: QueryContext,
    run_id: Any,
) -> CheckOutcome:
    suite_def: Suite = settings.suite
    outcome = CheckOutcome(
        name=settings.name,
        asset=suite_def.asset,
        blocking=settings.blocking,
        passed=False,
        backend=source.backend,
    )
    expectations = suite_def.expectations(settings.params)
    try:
        sql = suite_def.relation(query_context, settings.params)
        batch_definition, batch_parameters, columns, outcome.rows = source.batch(settings.name, sql)
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=settings.name,
                meta={"notes": f"{suite_def.description} Mode: {settings.mode}. Parameters: "
                      f"{json.dumps(settings.params, sort_keys=True)}"},
            )
        )
        for expect in expectations:
            expectation_class = getattr(gx.expectations, expect.type)
            suite.add_expectation(expectation_class(**expect.kwargs, notes=expect.notes or None))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=settings.name, data=batch_definition, suite=suite)
        )
        result_format = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": SAMPLE_ROWS,
            "unexpected_index_column_names": [c for c in suite_def.row_id_columns if c in columns],
        }
        result = validation.run(batch_parameters=batch_parameters, result_format=result_format, run_id=run_id)
    except Exception as error:  # noqa: BLE001 - reported as a failed check, with the message
        outcome.error = f"{type(error).__name__}: {error}".strip()[:2000]
        return outcome
    ordered = _ordered_results(expectations, result.results)
    for expect, expectation_result in zip(expectations, ordered, strict=True):
        outcome.expectations.append(
            _expectation_outcome(expect, expectation_result, suite_def.row_id_columns)
        )
    outcome.passed = bool(result.success) and all(e.success for e in outcome.expectations)
    return outcome


def _ordered_results(expectations: list[Any], results: list[Any]) -> list[Any]:
    """GX may return results in another order than the suite's: match them back by type and kwargs."""
    remaining = list(results)
    ordered = []
    for expect in expectations:
        wanted_type = _snake(expect.type)
        for index, candidate in enumerate(remaining):
            config = candidate.expectation_config
            same_columns = all(
                config.kwargs.get(key) == expect.kwargs.get(key) for key in ("column", "column_A", "column_B")
            )
            if config.type == wanted_type and same_columns:
                ordered.append(remaining.pop(index))
                break
        else:
            raise RuntimeError(f"no GX result for {expect.label()}")
    return ordered


def _ids_first(row: Mapping[str, Any], row_id_columns: Iterable[str]) -> dict[str, Any]:
    """The row with its identifying columns first, then the tested values."""
    ordered = {key: row[key] for key in row_id_columns if key in row}
    ordered.update((key, value) for key, value in row.items() if key not in ordered)
    return ordered


def _snake(class_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in class_name).lstrip("_")


def _expectation_outcome(expect: Any, result: Any, row_id_columns: Iterable[str] = ()) -> ExpectationOutcome:
    details = result.result or {}
    exception = result.exception_info or {}
    error = None
    if isinstance(exception, Mapping) and exception.get("raised_exception"):
        error = str(exception.get("exception_message") or "exception")[:500]
    elif not result.success and not details:
        error = "GX returned no result (incompatible column type?)"
    rows = details.get("partial_unexpected_index_list")
    if not rows and details.get("partial_unexpected_list"):
        rows = [{"value": value} for value in details["partial_unexpected_list"]]
    observed = details.get("observed_value")
    if observed is not None and "details" in details:
        observed = {"observed": observed, **details["details"]}
    return ExpectationOutcome(
        label=expect.label(),
        success=bool(result.success),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        observed_value=_plain(observed),
        sample_rows=[_plain(_ids_first(row, row_id_columns)) for row in (rows or [])[:SAMPLE_ROWS]],
        error=error,
    )


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------


def reports_root() -> Path:
    return Path(os.environ.get(REPORTS_ENV) or DEFAULT_REPORTS_DIR).resolve()


def prune_reports(root: Path, keep: int = KEEP_REPORTS) -> None:
    """Delete all but the ``keep`` newest run folders under ``root``."""
    if not root.is_dir():
        return
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in folders[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
