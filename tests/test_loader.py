"""The raw usage loader: formats, byte-exact values, all-or-nothing files, ingested_at, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse_billing.loader import DATA_COLUMNS, RAW_COLUMNS, load_files
from warehouse_billing.warehouse import connect

REPO_ROOT = Path(__file__).resolve().parents[1]

# Values that break naive loaders: unicode, quotes, SQL, separators, newlines, COPY's end marker, the
# text "NULL", an empty string (which is not NULL) and real NULLs.
TRICKY_ROWS: list[dict[str, str | None]] = [
    {
        "event_id": "evt_001",
        "customer_id": "cus_0001",
        "event_type": "tokens",
        "occurred_at": "2026-09-03T14:05:22Z",
        "properties": '{"tokens": 1200, "model": "large", "direction": "input", "region": "eu"}',
    },
    {
        "event_id": "evt_002",
        "customer_id": "cus_0002",
        "event_type": "api_request",
        "occurred_at": "2026-09-03T16:05:22+02:00",
        "properties": '{"note": "Café \\"Ünïcødé\\" — 日本語 🚀", "who": "it\'s me"}',
    },
    {
        "event_id": "evt_003",
        "customer_id": "cus_0003",
        "event_type": "api_request",
        "occurred_at": "2026-09-04T00:00:00Z",
        "properties": '{"user_id": "Robert\'); DROP TABLE raw.usage_events;--"}',
    },
    {
        "event_id": "evt_004",
        "customer_id": "",
        "event_type": "page_view",
        "occurred_at": "not-a-date",
        "properties": '  {"spaces" :  1 }  ',
    },
    {"event_id": "evt_005", "customer_id": None, "event_type": None, "occurred_at": None, "properties": None},
    {
        "event_id": "evt_006",
        "customer_id": "cus,0006",
        "event_type": "tokens",
        "occurred_at": "2026-09-05T10:00:00.123Z",
        "properties": 'line1\nline2\r\n,"quoted",\ttab \\ backslash',
    },
    {
        "event_id": "evt_007",
        "customer_id": "NULL",
        "event_type": "x",
        "occurred_at": "",
        "properties": "NULL",
    },
    {"event_id": "evt_008", "customer_id": "\\N", "event_type": "x", "occurred_at": "x", "properties": "\\."},
    {"event_id": "evt_009", "customer_id": "c", "event_type": "x", "occurred_at": "x", "properties": "[1,2]"},
]


def raw_rows(target: str) -> list[tuple[Any, ...]]:
    """All rows of raw.usage_events, ordered by event_id."""
    conn = connect(target)
    try:
        sql = "select event_id, customer_id, event_type, occurred_at, properties, ingested_at from raw.usage_events"
        if target == "duckdb":
            return conn.execute(sql + " order by event_id").fetchall()
        with conn.cursor() as cur:
            cur.execute(sql + " order by event_id")
            return cur.fetchall()
    finally:
        conn.close()


def data_values(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row[:5] for row in rows]


def expected(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(row.get(name) for name in DATA_COLUMNS) for row in rows)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """The raw columns the rows carry, in table order (all five data columns for no rows)."""
    return [name for name in RAW_COLUMNS if any(name in row for row in rows)] or list(DATA_COLUMNS)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """CSV as Postgres writes it: every value quoted, NULL as an unquoted empty field."""
    columns = columns_of(rows)

    def field(value: Any) -> str:
        return "" if value is None else '"' + str(value).replace('"', '""') + '"'

    lines = [",".join(columns)] + [",".join(field(row.get(name)) for name in columns) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = columns_of(rows)
    table = pa.table({name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns})
    pq.write_table(table, path)
    return path


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


def good_rows(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}_{n:03d}",
            "customer_id": "cus_0001",
            "event_type": "tokens",
            "occurred_at": f"2026-09-03T14:{n % 60:02d}:00Z",
            "properties": json.dumps({"tokens": n, "model": "small"}),
        }
        for n in range(count)
    ]


# --- formats and values -----------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_each_format_keeps_every_row_and_value_as_text(
    warehouse_target: str, tmp_path: Path, file_format: str
):
    path = WRITERS[file_format](tmp_path / f"events.{file_format}", TRICKY_ROWS)
    [result] = load_files([path], target=warehouse_target)

    assert result.ok, result.error
    assert result.rows == len(TRICKY_ROWS)
    assert data_values(raw_rows(warehouse_target)) == expected(TRICKY_ROWS)


def test_jsonl_json_values_are_stored_as_their_json_text(warehouse_target: str, tmp_path: Path):
    lines = [
        # an object: compact JSON text, unicode kept, numbers exactly as sent (12.50 is not 12.5)
        (
            '{"event_id": "a", "properties": {"gb": 12.50, "f": 0.1, "big": 123456789012345678901234567890,'
            ' "s": "Ünï \\"q\\" \'x\'", "nested": {"list": [1, true, null]}}}'
        ),
        # numbers and booleans at the top level: their JSON text; null or a missing key: NULL
        '{"event_id": 42, "customer_id": true, "event_type": null, "occurred_at": 1.50, "properties": [1, 2]}',
        # a repeated key inside properties is kept rather than silently collapsed
        '{"event_id": "c", "properties": {"tokens": 1, "tokens": 2}}',
        # a JSON string holding JSON text is stored as that text, byte for byte
        '{"event_id": "d", "properties": "{\\"tokens\\":  7 }"}',
    ]
    path = tmp_path / "typed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [result] = load_files([path], target=warehouse_target)

    assert result.ok, result.error
    properties_a = (
        '{"gb":12.50,"f":0.1,"big":123456789012345678901234567890,"s":"Ünï \\"q\\" \'x\'",'
        '"nested":{"list":[1,true,null]}}'
    )
    assert data_values(raw_rows(warehouse_target)) == [
        ("42", "true", None, "1.50", "[1,2]"),
        ("a", None, None, None, properties_a),
        ("c", None, None, None, '{"tokens":1,"tokens":2}'),
        ("d", None, None, None, '{"tokens":  7 }'),
    ]


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_missing_optional_columns_are_null(duckdb_warehouse: str, tmp_path: Path, file_format: str):
    rows = [{"event_id": "only_id", "properties": "{}"}]
    path = WRITERS[file_format](tmp_path / f"few.{file_format}", rows)
    [result] = load_files([path])

    assert result.ok, result.error
    assert data_values(raw_rows("duckdb")) == [("only_id", None, None, None, "{}")]


def test_csv_with_plain_unquoted_values_and_a_bom(duckdb_warehouse: str, tmp_path: Path):
    path = tmp_path / "plain.csv"
    path.write_bytes(
        "\ufeffevent_id,customer_id,event_type,occurred_at,properties\n"
        'e1,cus_1,tokens,2026-09-03T14:05:22Z,"{""tokens"": 5}"\n'
        "e2,,page_view,2026-09-03T14:05:22Z,\n".encode()
    )
    [result] = load_files([path])

    assert result.ok, result.error
    assert data_values(raw_rows("duckdb")) == [
        ("e1", "cus_1", "tokens", "2026-09-03T14:05:22Z", '{"tokens": 5}'),
        ("e2", None, "page_view", "2026-09-03T14:05:22Z", None),
    ]


def test_parquet_typed_columns_are_rendered_as_text(duckdb_warehouse: str, tmp_path: Path):
    path = tmp_path / "typed.parquet"
    table = pa.table(
        {
            "event_id": pa.array([1, 2], pa.int64()),
            "occurred_at": pa.array(
                [datetime(2026, 9, 3, 14, 5, 22, tzinfo=UTC), None], pa.timestamp("ms", tz="UTC")
            ),
            "properties": pa.array([{"tokens": 5, "model": "small"}, None]),
        }
    )
    pq.write_table(table, path)
    [result] = load_files([path])

    assert result.ok, result.error
    assert data_values(raw_rows("duckdb")) == [
        ("1", None, None, "2026-09-03T14:05:22.000Z", '{"tokens":5,"model":"small"}'),
        ("2", None, None, None, None),
    ]


def test_a_large_file_loads_in_several_batches(duckdb_warehouse: str, tmp_path: Path):
    rows = good_rows("big", 2_500)
    [result] = load_files([write_jsonl(tmp_path / "big.jsonl", rows)], batch_rows=1_000)

    assert result.ok, result.error
    assert result.rows == 2_500
    assert data_values(raw_rows("duckdb")) == expected(rows)


# --- rejected files ---------------------------------------------------------------------------------


def test_malformed_file_is_rejected_whole_and_a_good_file_still_loads(warehouse_target: str, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps(row) for row in good_rows("bad", 5)]
    lines[2] = '{"event_id": "bad_002", "properties": {"tokens": 1'  # line 3 of 5 is cut off
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good_data = good_rows("good", 4)
    good = write_jsonl(tmp_path / "good.jsonl", good_data)

    bad_result, good_result = load_files([bad, good], target=warehouse_target, batch_rows=2)

    assert not bad_result.ok
    assert str(bad) in bad_result.error and "line 3" in bad_result.error
    assert bad_result.rows == 0
    assert good_result.ok and good_result.rows == 4
    # batch_rows=2 means lines 1-2 were already inserted when line 3 failed: the rollback removed them.
    assert data_values(raw_rows(warehouse_target)) == expected(good_data)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("not_json.jsonl", '{"event_id": "a"}\n{"event_id": "b"}\nnot json\n', "line 3: not valid JSON"),
        ("array.jsonl", '{"event_id": "a"}\n[1, 2]\n', "line 2: valid JSON but an array, not an object"),
        ("scalar.jsonl", '{"event_id": "a"}\n"text"\n', "line 2: valid JSON but the value"),
        ("unknown.jsonl", '{"event_id": "a", "tenant": "x"}\n', "line 1: unknown column 'tenant'"),
        ("twice.jsonl", '{"event_id": "a", "event_id": "b"}\n', "line 1: key 'event_id' appears twice"),
        ("nul.jsonl", '{"event_id": "a\\u0000b"}\n', "line 1: a value contains a NUL character"),
        ("surrogate.jsonl", '{"event_id": "a"}\n{"event_id": "a\\ud800"}\n',
         "line 2: a value holds an unpaired surrogate"),
        ("nested_surrogate.jsonl", '{"properties": {"k": "\\udfff"}}\n',
         "line 1: a value holds an unpaired surrogate"),
        ("no_header.csv", "e1,cus_1,tokens,2026-09-03T14:05:22Z,{}\n", "unknown column 'e1'"),
        ("unknown.csv", "event_id,tenant\ne1,x\n", "unknown column 'tenant'"),
        ("ragged.csv", 'event_id,properties\ne1,"{}"\ne2,"{}",extra\n', "row 2 (line 3): 3 fields"),
        ("events.txt", '{"event_id": "a"}\n', "unsupported file type '.txt'"),
        ("corrupt.parquet", "PAR1 this is not parquet at all", "not a readable Parquet file"),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_error(
    duckdb_warehouse: str, tmp_path: Path, name: str, content: str, message: str
):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    [result] = load_files([path])

    assert not result.ok
    assert result.error.startswith(str(path))
    assert message in result.error
    assert raw_rows("duckdb") == []


def test_invalid_utf8_is_rejected_with_its_line(duckdb_warehouse: str, tmp_path: Path):
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes(b'{"event_id": "a"}\n{"event_id": "caf\xe9"}\n')
    csv_file = tmp_path / "latin1.csv"
    csv_file.write_bytes(b'event_id\n"a"\n"caf\xe9"\n')

    jsonl_result, csv_result = load_files([jsonl, csv_file])

    assert "line 2: not valid UTF-8" in jsonl_result.error
    assert "line 3: not valid UTF-8" in csv_result.error
    assert raw_rows("duckdb") == []


def test_parquet_with_an_unknown_column_is_rejected(duckdb_warehouse: str, tmp_path: Path):
    path = tmp_path / "extra.parquet"
    pq.write_table(pa.table({"event_id": ["a"], "tenant": ["x"]}), path)
    [result] = load_files([path])

    assert not result.ok and "unknown column 'tenant'" in result.error
    assert raw_rows("duckdb") == []


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_empty_files_load_zero_rows(warehouse_target: str, tmp_path: Path, file_format: str):
    empty = tmp_path / f"empty.{file_format}"
    empty.write_bytes(b"")
    header_only = WRITERS[file_format](tmp_path / f"header_only.{file_format}", [])

    results = load_files([empty, header_only], target=warehouse_target)

    assert [(r.ok, r.rows) for r in results] == [(True, 0), (True, 0)], [r.error for r in results]
    assert raw_rows(warehouse_target) == []


# --- ingested_at ------------------------------------------------------------------------------------


def test_default_ingested_at_is_now_and_one_value_per_file(warehouse_target: str, tmp_path: Path):
    before = datetime.now(UTC).replace(tzinfo=None)
    first = write_jsonl(tmp_path / "first.jsonl", good_rows("first", 3))
    second = write_csv(tmp_path / "second.csv", good_rows("second", 3))
    results = load_files([first, second], target=warehouse_target)
    after = datetime.now(UTC).replace(tzinfo=None)

    rows = raw_rows(warehouse_target)
    for result in results:
        stamps = {row[5] for row in rows if row[0].startswith(Path(result.path).stem)}
        assert stamps == {result.ingested_at}
        assert before <= result.ingested_at <= after  # UTC wall-clock, no time zone


def test_a_caller_can_pin_ingested_at(duckdb_warehouse: str, tmp_path: Path):
    pinned = datetime(2026, 11, 20, 23, 0, tzinfo=timezone(timedelta(hours=2)))
    load_files([write_jsonl(tmp_path / "a.jsonl", good_rows("a", 2))], ingested_at=pinned)

    assert {row[5] for row in raw_rows("duckdb")} == {datetime(2026, 11, 20, 21, 0)}


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_keep_ingested_at_keeps_the_files_values(warehouse_target: str, tmp_path: Path, file_format: str):
    rows = good_rows("kept", 3)
    stamps = ["2026-09-03 14:05:30.123456", "2026-09-04T08:00:00Z", "2026-09-05T10:00:00+02:00"]
    for row, stamp in zip(rows, stamps, strict=True):
        row["ingested_at"] = stamp
    path = WRITERS[file_format](tmp_path / f"replay.{file_format}", rows)

    [result] = load_files([path], target=warehouse_target, keep_ingested_at=True)

    assert result.ok, result.error
    assert [row[5] for row in raw_rows(warehouse_target)] == [
        datetime(2026, 9, 3, 14, 5, 30, 123456),
        datetime(2026, 9, 4, 8, 0),
        datetime(2026, 9, 5, 8, 0),  # converted to UTC
    ]


def test_keep_ingested_at_accepts_parquet_timestamps(duckdb_warehouse: str, tmp_path: Path):
    path = tmp_path / "typed_stamps.parquet"
    stamp = datetime(2026, 9, 3, 14, 5, 30, 123456)
    pq.write_table(pa.table({"event_id": ["a"], "ingested_at": pa.array([stamp], pa.timestamp("us"))}), path)
    [result] = load_files([path], keep_ingested_at=True)

    assert result.ok, result.error
    assert raw_rows("duckdb") == [("a", None, None, None, None, stamp)]


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_keep_ingested_at_rejects_a_file_with_a_row_lacking_it(
    duckdb_warehouse: str, tmp_path: Path, file_format: str
):
    rows = good_rows("kept", 3)
    rows[0]["ingested_at"] = "2026-09-03 14:05:30"
    rows[1]["ingested_at"] = None
    rows[2]["ingested_at"] = "2026-09-03 14:05:31"
    path = WRITERS[file_format](tmp_path / f"replay.{file_format}", rows)
    no_column = WRITERS[file_format](tmp_path / f"no_column.{file_format}", good_rows("x", 1))

    with_gap, without_column = load_files([path, no_column], keep_ingested_at=True)

    assert not with_gap.ok and "ingested_at is missing" in with_gap.error
    assert ("line 2" if file_format == "jsonl" else "row 2") in with_gap.error
    assert not without_column.ok and "ingested_at" in without_column.error
    assert raw_rows("duckdb") == []


def test_keep_ingested_at_rejects_an_unparseable_value(duckdb_warehouse: str, tmp_path: Path):
    rows = good_rows("kept", 1)
    rows[0]["ingested_at"] = "yesterday"
    [result] = load_files([write_jsonl(tmp_path / "r.jsonl", rows)], keep_ingested_at=True)

    assert not result.ok and "line 1: ingested_at 'yesterday' is not an ISO 8601 timestamp" in result.error


def test_ingested_at_in_a_file_is_ignored_without_the_flag(duckdb_warehouse: str, tmp_path: Path):
    rows = good_rows("r", 1)
    rows[0]["ingested_at"] = "2020-01-01 00:00:00"
    [result] = load_files([write_jsonl(tmp_path / "r.jsonl", rows)])

    assert result.ok and "ignored" in result.note
    assert raw_rows("duckdb")[0][5] == result.ingested_at


# --- CLI --------------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warehouse_billing.loader", *args],
        check=False,
        cwd=REPO_ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exits_non_zero_on_a_bad_file_and_reports_both(duckdb_warehouse: str, tmp_path: Path):
    good = write_jsonl(tmp_path / "good.jsonl", good_rows("g", 2))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id": "x"}\n{oops\n', encoding="utf-8")

    completed = run_cli(
        "--target", "duckdb", str(good), str(bad), env={"BILLING_DUCKDB_PATH": duckdb_warehouse}
    )

    assert completed.returncode == 1
    assert f"loaded 2 rows from {good} into duckdb" in completed.stdout
    assert f"REJECTED {bad}" in completed.stderr and "line 2" in completed.stderr
    assert "1 file(s) loaded" in completed.stderr and "1 rejected" in completed.stderr
    assert len(raw_rows("duckdb")) == 2


def test_cli_loads_into_postgres_with_kept_ingested_at(postgres_warehouse: str, tmp_path: Path):
    rows = good_rows("p", 2)
    for row in rows:
        row["ingested_at"] = "2026-09-03 14:05:30.000001"
    path = write_jsonl(tmp_path / "replay.jsonl", rows)

    completed = run_cli(
        "--target",
        "postgres",
        "--keep-ingested-at",
        str(path),
        env={"BILLING_PG_DATABASE": postgres_warehouse},
    )

    assert completed.returncode == 0, completed.stderr
    assert "loaded 2 rows" in completed.stdout and "into postgres" in completed.stdout
    assert {row[5] for row in raw_rows("postgres")} == {datetime(2026, 9, 3, 14, 5, 30, 1)}
