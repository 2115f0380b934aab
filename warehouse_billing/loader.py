"""Raw usage loader: appends JSON Lines, CSV or Parquet files to raw.usage_events.

    python -m warehouse_billing.loader [--target duckdb|postgres|spark] [--keep-ingested-at] FILE...

The raw table is the system of record, so the loader never drops, fixes or retypes a value: everything
is stored as text the way it arrived, and typing and validation happen in staging. A file that cannot be
read faithfully (bad JSON, an unknown column, a corrupt Parquet file, ...) is rejected as a whole: each
file loads in one transaction, all or nothing, and other files of the same call are not affected.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from warehouse_billing.warehouse import (
    LOADS_TABLE,
    RAW_TABLE,
    TARGETS,
    check_target,
    connect,
    ensure_raw_table,
    spark_session,
)

DATA_COLUMNS = ("event_id", "customer_id", "event_type", "occurred_at", "properties")
RAW_COLUMNS = (*DATA_COLUMNS, "ingested_at")
KNOWN_COLUMNS = frozenset(RAW_COLUMNS)
# What a loader may write besides the data: the load (every row) and, for a Kafka message, where it was
# read (warehouse.RAW_PROVENANCE_COLUMNS).
PROVENANCE_COLUMNS = ("load_id", "source_topic", "source_partition", "source_offset")

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)

# Rows per insert/COPY batch. A file is still one transaction; batching only bounds memory.
DEFAULT_BATCH_ROWS = 100_000

_TIMESTAMP = pa.timestamp("us")
_UTF8_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n"  # JSON's whitespace


@dataclass
class _ReadOptions:
    keep_ingested_at: bool
    batch_rows: int
    ignored_ingested_at: bool = False  # set by a reader that met an ingested_at column it did not keep


class FileRejected(Exception):
    """A file that cannot be loaded faithfully; the message says where (line or row) and why."""


@dataclass
class LoadResult:
    """Outcome of loading one file."""

    path: str
    target: str
    rows: int = 0
    error: str | None = None
    ingested_at: datetime | None = None  # the load time stamped on every row; None when kept from the file
    seconds: float = 0.0
    note: str | None = None
    load_id: str | None = None  # the row of raw.usage_loads this file became (None when rejected or empty)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """One human-readable line for the CLI."""
        if not self.ok:
            return f"REJECTED {self.error} (nothing loaded from this file)"
        stamp = (
            "ingested_at kept from file" if self.ingested_at is None else f"ingested_at {self.ingested_at}"
        )
        line = (
            f"loaded {self.rows} rows from {self.path} into {self.target} {RAW_TABLE} "
            f"({stamp}) in {self.seconds:.2f}s"
        )
        return f"{line}; {self.note}" if self.note else line


# ---------------------------------------------------------------------------------------------------
# JSON values -> text


class _DuplicateKeyObject:
    """A JSON object with a repeated key. dict() would keep only the last value, losing data."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def _object_pairs(pairs: list[tuple[str, Any]]) -> Any:
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else _DuplicateKeyObject(pairs)


# Decimal keeps a number's digits as sent (12.50 stays 12.50, no binary float rounding).
_decoder = json.JSONDecoder(object_pairs_hook=_object_pairs, parse_float=Decimal)


def _json_text(value: Any) -> str:
    """Compact JSON text of a decoded value (separators ',' ':', non-ASCII kept as is)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # a Decimal or a duplicate-key object inside: the slow, exact path
        return _json_text_exact(value)


def _json_text_exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, _DuplicateKeyObject):
        items = value.pairs
    elif isinstance(value, list):
        return "[" + ",".join(_json_text_exact(v) for v in value) + "]"
    else:
        return json.dumps(value, ensure_ascii=False)
    return (
        "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text_exact(v) for k, v in items) + "}"
    )


def _value_text(value: Any) -> str | None:
    """Text stored for one top-level JSON value: strings as themselves, anything else as its JSON text."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return _json_text(value)


# ---------------------------------------------------------------------------------------------------
# Timestamps for --keep-ingested-at


def _to_utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _parse_ingested_at(value: Any, where: str) -> datetime:
    if value is None:
        raise FileRejected(f"{where}: ingested_at is missing (--keep-ingested-at needs it on every row)")
    if not isinstance(value, str):
        raise FileRejected(f"{where}: ingested_at {value!r} is not a timestamp string")
    try:
        return _to_utc_naive(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise FileRejected(f"{where}: ingested_at {value!r} is not an ISO 8601 timestamp") from None


# ---------------------------------------------------------------------------------------------------
# Readers: each yields pyarrow tables with the five data columns as strings, plus `ingested_at`
# (timestamp, never null) when the file's values are kept.


def _batch(columns: dict[str, pa.Array], rows: int, ingested: pa.Array | None) -> pa.Table:
    arrays = [columns.get(name, pa.nulls(rows, pa.string())) for name in DATA_COLUMNS]
    names = list(DATA_COLUMNS)
    if ingested is not None:
        arrays.append(ingested)
        names.append("ingested_at")
    return pa.Table.from_arrays(arrays, names=names)


def _check_columns(names: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name not in KNOWN_COLUMNS:
            raise FileRejected(
                f"{where}: unknown column {name!r} (expected some of {', '.join(RAW_COLUMNS)})"
            )
        if name in seen:
            raise FileRejected(f"{where}: column {name!r} appears twice")
        seen.add(name)


class InvalidEvent(ValueError):
    """A JSON text that is not one usage event; the message says why (without saying where)."""


def _event_record(text: str) -> dict[str, Any]:
    """Decode one JSON text into an event object, or raise InvalidEvent (the JSON Lines rules)."""
    try:
        record = _decoder.decode(text)
    except ValueError as exc:
        raise InvalidEvent(f"not valid JSON ({exc})") from None
    if type(record) is not dict:
        if isinstance(record, _DuplicateKeyObject):
            keys = [key for key, _ in record.pairs]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            raise InvalidEvent(f"key {repeated[0]!r} appears twice")
        kind = "an array" if isinstance(record, list) else f"the value {text.strip()[:40]}"
        raise InvalidEvent(f"valid JSON but {kind}, not an object")
    if not KNOWN_COLUMNS.issuperset(record):
        unknown = next(name for name in record if name not in KNOWN_COLUMNS)
        raise InvalidEvent(f"unknown column {unknown!r} (expected some of {', '.join(RAW_COLUMNS)})")
    return record


def _event_values(record: dict[str, Any], text: str) -> list[str | None]:
    """The five data columns of a decoded event, as stored: strings as is, other values as JSON text."""
    values = [value if type(value) is str else _value_text(value) for value in map(record.get, DATA_COLUMNS)]
    # A NUL character cannot be stored in Postgres text; refuse it on every target so both warehouses
    # always hold the same rows. (Only an escape can produce one: checked on the text first, for speed.)
    if "\\u0000" in text and any(value is not None and "\x00" in value for value in values):
        raise InvalidEvent("a value contains a NUL character (\\u0000)")
    # An unpaired surrogate escape (\ud800) decodes to a string no warehouse can store as UTF-8 text.
    if "\\u" in text and not _is_storable(values):
        raise InvalidEvent("a value holds an unpaired surrogate escape (such as \\ud800)")
    return values


def _is_storable(values: Iterable[str | None]) -> bool:
    """False when a value holds a lone surrogate: it cannot be encoded as UTF-8."""
    try:
        for value in values:
            if value is not None:
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def event_row(text: str) -> list[str | None]:
    """One usage event given as JSON text -> its five data columns (DATA_COLUMNS) as stored text.

    The rules of a JSON Lines line: an object whose keys are among RAW_COLUMNS (an `ingested_at` key is
    not returned: the loader stamps its own), string values kept as they are, numbers, booleans, arrays
    and objects as their JSON text (digits as sent), null and missing keys as None. Anything else raises
    InvalidEvent: not JSON, not an object, a key twice, an unknown key, a NUL character or an unpaired
    surrogate escape in a value.
    The Kafka consumer lands each message through this, so a message and a file line of the same event
    become the same raw row.
    """
    return _event_values(_event_record(text), text)


def _read_jsonl(path: Path, options: _ReadOptions) -> Iterator[pa.Table]:
    keep_ingested_at, batch_rows = options.keep_ingested_at, options.batch_rows
    columns: dict[str, list[str | None]] = {name: [] for name in DATA_COLUMNS}
    appenders = [columns[name].append for name in DATA_COLUMNS]
    ingested: list[datetime] = []
    rows = 0

    def flush() -> pa.Table:
        arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
        stamps = pa.array(ingested, _TIMESTAMP) if keep_ingested_at else None
        table = _batch(arrays, rows, stamps)
        for values in columns.values():
            values.clear()
        ingested.clear()
        return table

    with path.open("rb") as handle:
        # Iterating over a binary file splits on b"\n" only, unlike str.splitlines (which would also
        # split inside values on U+2028 and friends).
        for line_number, raw in enumerate(handle, start=1):
            if line_number == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            if not raw.strip(_BLANK):
                continue
            where = f"line {line_number}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileRejected(f"{where}: not valid UTF-8 (byte {exc.start})") from None
            try:
                record = _event_record(text)
                values = _event_values(record, text)
            except InvalidEvent as exc:
                raise FileRejected(f"{where}: {exc}") from None
            for append, value in zip(appenders, values):
                append(value)
            if keep_ingested_at:
                ingested.append(_parse_ingested_at(record.get("ingested_at"), where))
            elif "ingested_at" in record:
                options.ignored_ingested_at = True
            rows += 1
            if rows == batch_rows:
                yield flush()
                rows = 0
    if rows:
        yield flush()


def _csv_text_options(names: list[str], read: list[str]) -> dict[str, Any]:
    return {
        "read_options": pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=8 << 20),
        "parse_options": pa_csv.ParseOptions(newlines_in_values=True),
        # Postgres COPY semantics: an unquoted empty field is NULL, a quoted "" is an empty string.
        "convert_options": pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=read,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    }


def _locate_csv_problem(path: Path, width: int) -> str | None:
    """Find the line of a CSV problem pyarrow reported without one (a ragged row or bad UTF-8)."""
    csv.field_size_limit(2**31 - 1)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for row_number, row in enumerate(reader, start=1):
                if row and len(row) != width:
                    return f"row {row_number} (line {reader.line_num}): {len(row)} fields, the header has {width}"
    except UnicodeDecodeError:
        with path.open("rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return f"line {line_number}: not valid UTF-8 (byte {exc.start})"
    except csv.Error as exc:
        return str(exc)
    return None


def _read_csv(path: Path, options: _ReadOptions) -> Iterator[pa.Table]:
    keep_ingested_at, batch_rows = options.keep_ingested_at, options.batch_rows
    with path.open("rb") as handle:
        first_line = handle.readline().removeprefix(_UTF8_BOM)
        if not first_line.strip(_BLANK):
            if all(not line.strip(_BLANK) for line in handle):
                return  # an empty file: nothing to load, successfully
            raise FileRejected("line 1: the CSV header is empty")
    try:
        header = next(csv.reader([first_line.decode("utf-8")]), [])
    except UnicodeDecodeError:
        raise FileRejected("line 1: the header is not valid UTF-8") from None
    try:
        _check_columns(header, "line 1 (header)")
    except FileRejected as exc:
        raise FileRejected(f"{exc}; a CSV file needs a header row naming its columns") from None
    if keep_ingested_at and "ingested_at" not in header:
        raise FileRejected("line 1 (header): no ingested_at column (--keep-ingested-at needs one)")
    options.ignored_ingested_at = not keep_ingested_at and "ingested_at" in header
    read = [name for name in header if name in DATA_COLUMNS or keep_ingested_at]

    first_row = 1
    try:
        reader = pa_csv.open_csv(path, **_csv_text_options(header, read))
        for record_batch in reader:
            for start in range(0, record_batch.num_rows, batch_rows):
                chunk = record_batch.slice(start, batch_rows)
                yield _arrow_batch(chunk, keep_ingested_at, first_row, "row")
                first_row += chunk.num_rows
    except pa.ArrowInvalid as exc:
        where = _locate_csv_problem(path, len(header))
        raise FileRejected(where or f"near row {first_row}: {exc}") from None


def _arrow_text(array: pa.Array) -> pa.Array:
    """Render an Arrow column as text: strings as is, numbers/booleans as JSON-like text, nested as JSON."""
    kind = array.type
    if pa.types.is_string(kind):
        return array
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_null(kind):
        return array.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return array.cast(pa.string())  # fails on invalid UTF-8, which rejects the file
    if pa.types.is_timestamp(kind):
        # ISO 8601; a zoned timestamp is stored in UTC, so its wall-clock value gets a "Z".
        naive = array.cast(pa.timestamp(kind.unit)) if kind.tz else array
        text = pc.strftime(naive, format="%Y-%m-%dT%H:%M:%S")
        return pc.binary_join_element_wise(text, pa.scalar("Z"), pa.scalar("")) if kind.tz else text
    if pa.types.is_dictionary(kind):
        return _arrow_text(array.dictionary_decode())
    if pa.types.is_nested(kind):
        return pa.array(
            [None if value is None else _json_text(value) for value in array.to_pylist()], pa.string()
        )
    return array.cast(pa.string())


def _arrow_ingested_at(array: pa.Array, first_row: int, unit: str) -> pa.Array:
    if array.null_count:
        missing = pc.index(pc.is_null(array), True).as_py()
        raise FileRejected(
            f"{unit} {first_row + missing}: ingested_at is missing (--keep-ingested-at needs it on every row)"
        )
    kind = array.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            array = pc.cast(array, pa.timestamp(kind.unit))  # drops the zone, keeping UTC wall-clock time
        return array.cast(_TIMESTAMP)
    if pa.types.is_date(kind):
        return array.cast(_TIMESTAMP)
    text = _arrow_text(array)
    return pa.array(
        [_parse_ingested_at(value, f"{unit} {first_row + i}") for i, value in enumerate(text.to_pylist())],
        _TIMESTAMP,
    )


def _arrow_batch(batch: pa.RecordBatch, keep_ingested_at: bool, first_row: int, unit: str) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name in batch.schema.names:
        if name in DATA_COLUMNS:
            text = _arrow_text(batch.column(name))
            has_nul = pc.any(pc.match_substring(text, "\x00")).as_py()
            if has_nul:
                position = pc.index(pc.fill_null(pc.match_substring(text, "\x00"), False), True).as_py()
                raise FileRejected(f"{unit} {first_row + position}: {name} contains a NUL character")
            columns[name] = text
    ingested = None
    if keep_ingested_at:
        ingested = _arrow_ingested_at(batch.column("ingested_at"), first_row, unit)
    return _batch(columns, batch.num_rows, ingested)


def _read_parquet(path: Path, options: _ReadOptions) -> Iterator[pa.Table]:
    keep_ingested_at, batch_rows = options.keep_ingested_at, options.batch_rows
    if path.stat().st_size == 0:
        return  # an empty file: nothing to load, successfully
    first_row = 1
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        _check_columns(names, "schema")
        if keep_ingested_at and "ingested_at" not in names:
            raise FileRejected("schema: no ingested_at column (--keep-ingested-at needs one)")
        options.ignored_ingested_at = not keep_ingested_at and "ingested_at" in names
        read = [name for name in names if name in DATA_COLUMNS or keep_ingested_at]
        for record_batch in parquet.iter_batches(batch_size=batch_rows, columns=read):
            yield _arrow_batch(record_batch, keep_ingested_at, first_row, "row")
            first_row += record_batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"not a readable Parquet file (near row {first_row}): {exc}") from None


def _reader(path: Path) -> Any:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return _read_jsonl
    if name.endswith(CSV_SUFFIXES):
        return _read_csv
    if name.endswith(PARQUET_SUFFIXES):
        return _read_parquet
    supported = ", ".join(JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise FileRejected(f"unsupported file type {path.suffix or '(no extension)'!r}; expected {supported}")


# ---------------------------------------------------------------------------------------------------
# Writers


@dataclass
class Load:
    """One load: the rows one transaction appends, and its rows of raw.usage_loads (decision 50)."""

    source: str  # where the rows came from: a file path, or topic:partition:first-last for Kafka
    load_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rows: int = 0
    # per UTC day of ingested_at: [row_count, first_ingested_at, last_ingested_at]
    days: dict[date, list[Any]] = field(default_factory=dict)

    @property
    def first_ingested_at(self) -> datetime | None:
        return min((day[1] for day in self.days.values()), default=None)

    @property
    def last_ingested_at(self) -> datetime | None:
        return max((day[2] for day in self.days.values()), default=None)

    def landing_table(self, table: pa.Table, stamp: datetime | None) -> pa.Table:
        """The batch as it lands: with ingested_at (the file's own values or the load time) and load_id,
        counted into this load."""
        if stamp is not None:
            table = table.append_column("ingested_at", pa.repeat(pa.scalar(stamp, _TIMESTAMP), table.num_rows))
        table = table.append_column("load_id", pa.repeat(pa.scalar(self.load_id, pa.string()), table.num_rows))
        stamps = table.select(["ingested_at"]).append_column(
            "ingestion_date", pc.cast(table.column("ingested_at"), pa.date32())
        )
        per_day = stamps.group_by("ingestion_date").aggregate(
            [("ingested_at", "count"), ("ingested_at", "min"), ("ingested_at", "max")]
        )
        for day, count, low, high in zip(
            *(per_day.column(name).to_pylist() for name in
              ("ingestion_date", "ingested_at_count", "ingested_at_min", "ingested_at_max")),
            strict=True,
        ):
            if day is None:  # rows without ingested_at cannot be placed on a day (rejected by the readers)
                continue
            known = self.days.setdefault(day, [0, low, high])
            known[0] += count
            known[1], known[2] = min(known[1], low), max(known[2], high)
        self.rows += table.num_rows
        return table


def _columns(table: pa.Table) -> str:
    return ", ".join(table.column_names)


def _insert_duckdb(conn: Any, batches: Iterable[pa.Table], stamp: datetime | None, load: Load) -> None:
    for batch in batches:
        table = load.landing_table(batch, stamp)
        conn.register("_usage_events_batch", table)
        try:
            columns = _columns(table)
            conn.execute(f"insert into {RAW_TABLE} ({columns}) select {columns} from _usage_events_batch")
        finally:
            conn.unregister("_usage_events_batch")


def _copy_postgres(conn: Any, batches: Iterable[pa.Table], stamp: datetime | None, load: Load) -> None:
    # Quote every non-null value so that COPY reads an empty string as '' and only the unquoted
    # empty field as NULL.
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    with conn.cursor() as cur:
        for batch in batches:
            table = load.landing_table(batch, stamp)
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, options)
            buffer.seek(0)
            cur.copy_expert(f"copy {RAW_TABLE} ({_columns(table)}) from stdin with (format csv)", buffer)


def _insert_spark(session: Any, batches: Iterable[pa.Table], stamp: datetime | None, load: Load) -> None:
    """All or nothing without transactions: the file is read and checked whole into a Parquet file of
    its own first (a bad row raises before Spark sees anything), then appended by one INSERT, whose
    job commit makes its output files visible only when every task has succeeded."""
    with tempfile.TemporaryDirectory(prefix="usage_events_load_") as staging:
        staged = Path(staging) / "batch.parquet"
        writer = None
        columns = ""
        try:
            for batch in batches:
                table = load.landing_table(batch, stamp)
                if writer is None:
                    columns = _columns(table)
                    writer = pq.ParquetWriter(staged, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        if load.rows == 0:
            return
        session.read.parquet(str(staged)).createOrReplaceTempView("usage_events_load")
        try:
            session.sql(f"insert into {RAW_TABLE} ({columns}) select {columns} from usage_events_load")
        finally:
            session.catalog.dropTempView("usage_events_load")


def _record_load(conn: Any, target: str, load: Load) -> None:
    """Write the load's rows of raw.usage_loads (in the caller's transaction on DuckDB and Postgres)."""
    loaded_at = _to_utc_naive(datetime.now(UTC))
    values = [
        (load.load_id, day, load.source, count, first, last, loaded_at)
        for day, (count, first, last) in sorted(load.days.items())
    ]
    columns = "load_id, ingestion_date, source, row_count, first_ingested_at, last_ingested_at, loaded_at"
    if target == "spark":
        # After the rows (Spark has no transaction): a load row always means its rows are there. If the
        # process dies in between, the rows are still processed, by the ingested_at watermark.
        schema = (
            "load_id string, ingestion_date date, source string, row_count bigint, "
            "first_ingested_at timestamp, last_ingested_at timestamp, loaded_at timestamp"
        )
        conn.createDataFrame(values, schema).write.insertInto(LOADS_TABLE)
    elif target == "duckdb":
        conn.executemany(f"insert into {LOADS_TABLE} ({columns}) values (?, ?, ?, ?, ?, ?, ?)", values)
    else:
        with conn.cursor() as cur:
            cur.executemany(f"insert into {LOADS_TABLE} ({columns}) values (%s, %s, %s, %s, %s, %s, %s)", values)


def write_load(
    conn: Any, target: str, batches: Iterable[pa.Table], load: Load, stamp: datetime | None = None
) -> Load:
    """Append `batches` to raw.usage_events as one load and record it in raw.usage_loads; commits nothing.

    Each batch holds DATA_COLUMNS as strings, `ingested_at` unless `stamp` gives it, and optionally
    source_topic, source_partition and source_offset; `load_id` is added here. On DuckDB and Postgres the
    caller owns the transaction: commit once, after this returns, and the load lands whole or not at all
    (the Kafka consumer writes its offsets in the same transaction). A load of zero rows records nothing.
    """
    writers = {"duckdb": _insert_duckdb, "postgres": _copy_postgres, "spark": _insert_spark}
    writers[target](conn, batches, stamp, load)
    if load.rows:
        _record_load(conn, target, load)
    return load


def _load_one(conn: Any, target: str, path: Path, options: _ReadOptions, stamp: datetime | None) -> Load:
    """Load one file in one transaction; any error rolls it back whole."""
    if not path.is_file():
        raise FileRejected("no such file")
    batches = _reader(path)(path, options)
    load = Load(source=str(path))
    if target == "spark":
        return write_load(conn, target, batches, load, stamp)
    if target == "duckdb":
        conn.begin()  # psycopg2 opens its transaction implicitly
    try:
        write_load(conn, target, batches, load, stamp)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return load


def _database_errors() -> tuple[type[Exception], ...]:
    import duckdb
    import psycopg2

    errors: tuple[type[Exception], ...] = (duckdb.Error, psycopg2.Error)
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pyspark is only needed on the spark target
        return errors
    return (*errors, PySparkException)


def load_files(
    paths: Iterable[str | os.PathLike[str]],
    target: str = "duckdb",
    keep_ingested_at: bool = False,
    ingested_at: datetime | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> list[LoadResult]:
    """Append each file to raw.usage_events on `target`, each file in its own transaction.

    A rejected file loads nothing and does not stop the others: check `LoadResult.ok`. `ingested_at`
    pins the load time (UTC; an aware value is converted) for every file; by default each file gets the
    current UTC time. With `keep_ingested_at` the value of the file's own `ingested_at` column is kept.
    Connection problems raise.
    """
    check_target(target)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if keep_ingested_at and ingested_at is not None:
        raise ValueError("give either keep_ingested_at or ingested_at, not both")
    database_errors = _database_errors()
    results: list[LoadResult] = []
    conn = spark_session() if target == "spark" else connect(target)
    try:
        ensure_raw_table(conn, target)
        for raw_path in paths:
            path = Path(raw_path)
            stamp = None
            if not keep_ingested_at:
                stamp = _to_utc_naive(ingested_at or datetime.now(UTC))
            options = _ReadOptions(keep_ingested_at=keep_ingested_at, batch_rows=batch_rows)
            result = LoadResult(path=str(path), target=target, ingested_at=stamp)
            started = time.perf_counter()
            try:
                load = _load_one(conn, target, path, options, stamp)
                result.rows = load.rows
                result.load_id = load.load_id if load.rows else None
            except (FileRejected, OSError, pa.ArrowException) as exc:
                result.error = f"{path}: {exc}"
            except database_errors as exc:  # a value the warehouse refuses
                result.error = f"{path}: {target} refused the data: {str(exc).strip()}"
            result.seconds = time.perf_counter() - started
            if result.ok and options.ignored_ingested_at:
                result.note = "the file's ingested_at column was ignored (use --keep-ingested-at to keep it)"
            results.append(result)
    finally:
        if target != "spark":  # the Spark session is the process's, shared with dbt
            conn.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse_billing.loader",
        description="Append JSON Lines, CSV or Parquet usage files to raw.usage_events.",
    )
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default=os.environ.get("BILLING_TARGET") or "duckdb",
        help="warehouse to load into (default: $BILLING_TARGET or duckdb)",
    )
    parser.add_argument(
        "--keep-ingested-at",
        action="store_true",
        help="keep each row's ingested_at from the file (replaying archived raw rows)",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)

    try:
        results = load_files(args.files, target=args.target, keep_ingested_at=args.keep_ingested_at)
    except (ValueError, OSError, *_database_errors()) as exc:
        print(f"error: cannot load into {args.target}: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    rejected = [result for result in results if not result.ok]
    if rejected:
        loaded = [result.path for result in results if result.ok]
        print(
            f"{len(loaded)} file(s) loaded ({', '.join(loaded) or 'none'}); "
            f"{len(rejected)} rejected ({', '.join(result.path for result in rejected)})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
