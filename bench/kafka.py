"""Streaming ingestion throughput: messages per second from a Kafka topic into raw.usage_events.

    python -m bench.kafka                  # 200k messages, DuckDB and Postgres
    python -m bench.kafka --n 50000 --no-postgres

The same N rows of the bench's generated usage (bench/generate.py) are landed twice per warehouse, each
time into an empty one, in this one process: by the file loader from a JSON Lines file (the baseline),
and by the Kafka consumer (warehouse_billing.kafka_consumer, default batch settings) from a topic of
librdkafka's mock cluster holding one message per line, produced beforehand (lz4-compressed batches:
a mock partition keeps at most 5 MB). Each step runs twice (--repeat) into a fresh warehouse and the
best run is reported. The Kafka rate counts from the consumer's start to the last row
landed, group join included; the join alone is reported too. The mock broker runs as threads of this
process, so it shares the two cores with the consumer, which a real broker would not.

Results go to bench/results/kafka-<stamp>.json and the table is printed (bench/README.md keeps one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from bench import generate as gen

BENCH = Path(__file__).resolve().parent
DEFAULT_N = 200_000
PARTITIONS = 4
TOPIC = "usage-events"


def log(message: str) -> None:
    print(f"[bench kafka {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def event_lines(n: int, work: Path) -> list[bytes]:
    """N generated raw rows as JSON texts of the five data columns (a file line = a message value)."""
    history = int(n * 1.05)  # the generator lands about the size asked for: ask a little more
    gen_path = work / f"gen_{history}.duckdb"
    gen.generate(gen_path, history)
    con = duckdb.connect(str(gen_path), read_only=True)
    rows = con.execute(
        "select event_id, customer_id, event_type, occurred_at, properties from history "
        f"order by ingested_at limit {n}"
    ).fetchall()
    con.close()
    assert len(rows) == n, f"generated {len(rows)} rows, wanted {n}"
    names = ("event_id", "customer_id", "event_type", "occurred_at", "properties")
    return [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False).encode() for row in rows]


@contextmanager
def empty_warehouse(target: str, work: Path):
    """Point the environment at an empty DuckDB file or a throwaway Postgres database."""
    saved = {name: os.environ.get(name) for name in ("BILLING_DUCKDB_PATH", "BILLING_PG_DATABASE")}
    name = f"billing_bench_kafka_{uuid.uuid4().hex[:10]}"
    admin = None
    try:
        if target == "duckdb":
            path = work / f"{name}.duckdb"
            os.environ["BILLING_DUCKDB_PATH"] = str(path)
        else:
            import psycopg2

            from warehouse_billing.warehouse import postgres_settings

            admin = psycopg2.connect(**{**postgres_settings(), "dbname": "postgres"}, connect_timeout=5)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'create database "{name}"')
            os.environ["BILLING_PG_DATABASE"] = name
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if target == "duckdb":
            for leftover in work.glob(f"{name}.duckdb*"):
                leftover.unlink()
        elif admin is not None:
            with admin.cursor() as cursor:
                cursor.execute(f'drop database if exists "{name}" with (force)')
            admin.close()


def landed_rows(target: str) -> tuple[int, int]:
    """Rows in raw.usage_events, and distinct (partition, offset) among those read from Kafka."""
    from warehouse_billing.warehouse import connect

    conn = connect(target)
    sql = ("select count(*), count(distinct case when source_topic is not null "
           "then cast(source_partition as varchar) || ':' || cast(source_offset as varchar) end) "
           "from raw.usage_events")
    try:
        if target == "duckdb":
            return conn.execute(sql).fetchone()
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        conn.close()


def measure_file(target: str, path: Path, n: int) -> dict[str, Any]:
    from warehouse_billing.loader import load_files

    started = time.perf_counter()
    results = load_files([path], target=target)
    seconds = time.perf_counter() - started
    assert all(result.ok for result in results), [result.error for result in results]
    assert landed_rows(target)[0] == n
    return {"seconds": round(seconds, 3), "rows_per_s": round(n / seconds)}


def measure_kafka(target: str, bootstrap: str, n: int) -> dict[str, Any]:
    from warehouse_billing.kafka_consumer import KafkaIngestor, KafkaSettings, consume

    settings = KafkaSettings(
        bootstrap_servers=bootstrap, topic=TOPIC, group_id=f"bench-{uuid.uuid4().hex[:8]}",
        client_settings={"log_level": "3"},
    )
    landed = [0]
    batches: list[float] = []
    started = time.monotonic()  # the clock of ingestor.assigned_at
    with KafkaIngestor(settings, target) as ingestor:
        def count(result: Any) -> None:
            landed[0] += result.rows
            batches.append(result.seconds)

        summary = consume(ingestor, max_seconds=600, should_stop=lambda: landed[0] >= n, on_batch=count)
        joined = ingestor.assigned_at
    seconds = time.monotonic() - started
    join_s = joined - started if joined else None
    rows, distinct_offsets = landed_rows(target)
    assert rows == n == distinct_offsets, (rows, distinct_offsets, n)
    return {
        "seconds": round(seconds, 3),
        "rows_per_s": round(n / seconds),
        "join_s": round(join_s, 3) if join_s is not None else None,
        "rows_per_s_after_join": round(n / (seconds - join_s)) if join_s else None,
        "batches": summary.batches,
        "batch_size": settings.batch_size,
        "median_batch_s": round(sorted(batches)[len(batches) // 2], 3) if batches else None,
    }


def produce_all(bootstrap: str, lines: list[bytes]) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": "lz4", "linger.ms": 20,
                         "batch.num.messages": 10000, "log_level": 3})
    for index, line in enumerate(lines):
        while True:
            try:
                producer.produce(TOPIC, value=line, partition=index % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if index % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe", "log_level": 3})
    for partition in range(PARTITIONS):
        low, _high = probe.get_watermark_offsets(TopicPartition(TOPIC, partition), timeout=10)
        # The mock drops a partition's oldest messages past 5 MB: the bench must read every one.
        assert low == 0, f"the mock cluster dropped messages of partition {partition} (low watermark {low})"
    probe.close()


COLUMNS = ("warehouse", "file loader (JSON Lines)", "Kafka consumer", "Kafka / file", "group join",
           "Kafka after the join")
HEADER = "| " + " | ".join(COLUMNS) + " |"


def table(report: dict) -> str:
    lines = [
        (
            f"{report['n']:,} messages, {report['partitions']} partitions, batches of "
            f"{report['batch_size']:,}, best of {report['repeat']} runs (commit {report['commit']}, "
            f"{report['date']}, load average {report['load_before']} before)"
        ),
        "",
        HEADER,
        "|---|---|---|---|---|---|",
    ]
    for target, result in report["targets"].items():
        file, kafka = result["file"], result["kafka"]
        lines.append(
            f"| {target} | {file['rows_per_s']:,} rows/s ({file['seconds']:.1f} s) | "
            f"{kafka['rows_per_s']:,} msg/s ({kafka['seconds']:.1f} s) | "
            f"{kafka['rows_per_s'] / file['rows_per_s']:.2f} | {kafka['join_s']} s | "
            f"{kafka['rows_per_s_after_join']:,} msg/s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N)
    parser.add_argument("--work-dir", default=os.environ.get("BENCH_WORK_DIR", "/tmp/billing_bench"))
    parser.add_argument("--results-dir", default=str(BENCH / "results"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each step; the best is reported")
    args = parser.parse_args(argv)

    from warehouse_billing.kafka_consumer import DEFAULT_BATCH_SIZE
    from warehouse_billing.kafka_mock import MockKafkaCluster

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    log(f"generating {args.n:,} events")
    lines = event_lines(args.n, work)
    jsonl = work / f"kafka_bench_{args.n}.jsonl"
    jsonl.write_bytes(b"".join(line + b"\n" for line in lines))
    targets = ["duckdb"] + ([] if args.no_postgres else ["postgres"])
    report: dict[str, Any] = {
        "n": args.n, "partitions": PARTITIONS, "batch_size": DEFAULT_BATCH_SIZE, "repeat": args.repeat,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "commit": os.popen("git rev-parse --short HEAD 2>/dev/null").read().strip() or "?",
        "load_before": round(os.getloadavg()[0], 2), "targets": {},
    }
    with MockKafkaCluster() as cluster:
        cluster.create_topic(TOPIC, PARTITIONS)
        log(f"producing {args.n:,} messages to the mock cluster ({PARTITIONS} partitions, lz4)")
        produce_all(cluster.bootstrap_servers, lines)
        for target in targets:
            result: dict[str, Any] = {"file_runs": [], "kafka_runs": []}
            for run in range(1, args.repeat + 1):  # the best of each: the first run also pays warm-up
                with empty_warehouse(target, work):
                    log(f"{target}: file loader (run {run})")
                    result["file_runs"].append(measure_file(target, jsonl, args.n))
                with empty_warehouse(target, work):
                    log(f"{target}: Kafka consumer (run {run})")
                    result["kafka_runs"].append(measure_kafka(target, cluster.bootstrap_servers, args.n))
            result["file"] = min(result["file_runs"], key=lambda run: run["seconds"])
            result["kafka"] = min(result["kafka_runs"], key=lambda run: run["seconds"])
            report["targets"][target] = result
            log(f"{target}: file {result['file']['rows_per_s']:,} rows/s, "
                f"Kafka {result['kafka']['rows_per_s']:,} msg/s")
    jsonl.unlink()
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (results / f"kafka-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
