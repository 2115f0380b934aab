"""Alert delivery to a webhook on 127.0.0.1: each notification arrives once, signed; failures are retried
with backoff and logged; a receiver that hangs holds back only its own notification.

The notifications are rows of alert_notifications written here with the mart's columns (the mart itself
is tested in test_alert_notifications.py). The clock is injected: backoff is checked without sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import DefaultSensorStatus, build_sensor_context
from support.warehouse import postgres_database

from orchestration.alert_sensor import ALERT_SENSOR, alert_sensors, build_alert_sensor
from warehouse_billing.alert_delivery import AlertDelivery, WebhookSettings, marts_schema, retry_delay
from warehouse_billing.warehouse import connect

SECRET = "whsec_" + base64.b64encode(b"a test signing key of 32 bytes!!").decode()
START = datetime(2026, 2, 11, 0, 5)
NOTIFICATION_IDS = ("n_calls", "n_credit", "n_spend")


class Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first `failures` requests of each notification, then 204; never answers `hang_for`."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: WebhookServer = self.server  # type: ignore[assignment]
        headers = {name.lower(): value for name, value in self.headers.items()}  # names are case-insensitive
        key = headers["idempotency-key"]
        with server.lock:
            server.requests.append((headers, body))
            count = sum(1 for seen, _ in server.requests if seen["idempotency-key"] == key)
        if key in server.hang_for:
            # a receiver that never answers: it holds the connection past the sender's timeout and then
            # drops it, accepting nothing (recording an acceptance after the sleep made the test depend
            # on how fast a loaded machine ran the rest of it)
            time.sleep(server.hang_seconds)
            return
        if server.probe_duckdb:
            server.probes.append(_open_from_another_process(server.probe_duckdb))
        status = 500 if count <= server.failures else 204
        if status == 204:
            with server.lock:
                server.accepted.append(key)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, failures: int = 0, hang_for: tuple[str, ...] = (), hang_seconds: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), Receiver)
        self.failures = failures
        self.hang_for = hang_for
        self.hang_seconds = hang_seconds
        self.lock = threading.Lock()
        self.requests: list[tuple[dict, bytes]] = []
        self.accepted: list[str] = []
        # a DuckDB file to open from another process while each request waits for its answer
        self.probe_duckdb: str | None = None
        self.probes: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"


@pytest.fixture
def webhook_server(request) -> Iterator[WebhookServer]:
    server = WebhookServer(**getattr(request, "param", {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """A warehouse holding three notifications; the environment points warehouse_billing.connect at it."""
    monkeypatch.setenv("BILLING_TARGET", request.param)
    if request.param == "duckdb":
        monkeypatch.setenv("BILLING_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
        _write_notifications(request.param)
        yield request.param
    else:
        with postgres_database() as database:
            monkeypatch.setenv("BILLING_PG_DATABASE", database)
            _write_notifications(request.param)
            yield request.param


NOTIFICATION_TABLE = """
create table {schema}.alert_notifications (
    notification_id varchar, alert_id varchar, alert_type varchar, contract_id varchar,
    customer_id varchar, invoice_id varchar, period_start timestamp, period_end timestamp,
    metric_id varchar, grant_id varchar, crossing_number integer, crossed_on date,
    crossed_value decimal(38,10), threshold decimal(38,10), currency varchar, as_of timestamp
)
"""
FEBRUARY = ("2026-02-01", "2026-03-01")
NOTIFICATIONS = (
    ("n_calls", "a_calls", "usage", "c_alpha", "cus_a", "i1", *FEBRUARY, "api_calls", None, 1, "2026-02-10",
     1000, 500, None),
    ("n_credit", "a_credit", "credit_balance", "c_alpha", "cus_a", "i1", *FEBRUARY, None, "g_promo", 1, None,
     100, 150, "USD"),
    ("n_spend", "a_spend", "spend", "c_beta", "cus_b", "i2", *FEBRUARY, None, None, 1, None, 85, 80, "USD"),
)


def _write_notifications(target: str) -> None:
    schema = marts_schema(target)
    placeholder = "?" if target == "duckdb" else "%s"
    conn = connect(target)
    try:
        cursor = conn.cursor()
        cursor.execute(f"create schema if not exists {schema}")
        cursor.execute(NOTIFICATION_TABLE.format(schema=schema))
        for row in NOTIFICATIONS:
            cursor.execute(
                f"insert into {schema}.alert_notifications values ({', '.join([placeholder] * 16)})",
                (*row, "2026-02-11 00:00:00"),
            )
        conn.commit()
    finally:
        conn.close()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _deliveries(target: str) -> list[tuple]:
    conn = connect(target)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "select notification_id, attempt, attempted_at, http_status, error, delivered_at, next_attempt_at"
            " from raw.alert_deliveries order by notification_id, attempt"
        )
        return cursor.fetchall()
    finally:
        conn.close()


def _pass(target: str, server: WebhookServer, clock: Clock, timeout: float = 5.0) -> list:
    """One delivery pass; the connection is closed before the test reads the warehouse (one writer)."""
    with AlertDelivery(WebhookSettings(server.url, SECRET, timeout), target, clock=clock) as delivery:
        return delivery.deliver_due()


def _open_from_another_process(path: str) -> str:
    """Open the DuckDB file for writing from another process (as a Dagster run would): "" or the error."""
    probe = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", path],
                           capture_output=True, text=True, check=False)
    return probe.stderr.strip().splitlines()[-1] if probe.returncode else ""


@pytest.mark.parametrize("webhook_server", [{}], indirect=True)
def test_the_duckdb_file_is_free_while_a_receiver_answers(tmp_path: Path, monkeypatch,
                                                          webhook_server: WebhookServer):
    """DuckDB has one writer per file: a pass must not hold it while a receiver takes its time."""
    path = str(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("BILLING_DUCKDB_PATH", path)
    _write_notifications("duckdb")
    webhook_server.probe_duckdb = path
    attempts = _pass("duckdb", webhook_server, Clock(START), timeout=30.0)
    assert [attempt.delivered for attempt in attempts] == [True, True, True]
    assert webhook_server.probes == ["", "", ""], webhook_server.probes


def _verify(headers: dict, body: bytes) -> bool:
    """What a receiver does (Standard Webhooks): HMAC-SHA256 of id.timestamp.body under the decoded secret."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.removeprefix("v1,") for part in headers["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(expected, value) for value in offered)


@pytest.mark.parametrize("webhook_server", [{"failures": 2}], indirect=True)
def test_each_notification_arrives_once_signed_after_two_failures(warehouse: str,
                                                                  webhook_server: WebhookServer):
    clock = Clock(START)
    first = _pass(warehouse, webhook_server, clock)
    assert [(a.notification_id, a.attempt, a.http_status, a.delivered) for a in first] == [
        (nid, 1, 500, False) for nid in NOTIFICATION_IDS
    ]
    # backoff: nothing is due one second before the first retry (1 minute after the attempt)
    clock.now = START + retry_delay(1) - timedelta(seconds=1)
    assert _pass(warehouse, webhook_server, clock) == []
    assert len(webhook_server.requests) == 3
    clock.now = START + retry_delay(1)
    second = _pass(warehouse, webhook_server, clock)
    assert [(a.attempt, a.http_status) for a in second] == [(2, 500)] * 3
    # the second retry waits twice as long
    clock.now = START + retry_delay(1) + retry_delay(2) - timedelta(seconds=1)
    assert _pass(warehouse, webhook_server, clock) == []
    clock.now = START + retry_delay(1) + retry_delay(2)
    third = _pass(warehouse, webhook_server, clock)
    assert [(a.notification_id, a.attempt, a.http_status, a.delivered) for a in third] == [
        (nid, 3, 204, True) for nid in NOTIFICATION_IDS
    ]
    # delivered notifications are never sent again, however late the next pass
    clock.now = START + timedelta(days=30)
    assert _pass(warehouse, webhook_server, clock) == []

    assert sorted(webhook_server.accepted) == list(NOTIFICATION_IDS)  # each arrived (was accepted) once
    assert len(webhook_server.requests) == 9
    for headers, body in webhook_server.requests:
        assert _verify(headers, body), f"bad signature on {headers['idempotency-key']}"
        document = json.loads(body)
        assert headers["idempotency-key"] == headers["webhook-id"] == document["notification_id"]
    tampered_headers, tampered_body = webhook_server.requests[0]
    assert not _verify(tampered_headers, tampered_body.replace(b"1000", b"9999"))  # the check can fail
    spend = next(json.loads(body) for headers, body in webhook_server.requests
                 if headers["webhook-id"] == "n_spend")
    assert spend["crossed_value"] == "85" and spend["threshold"] == "80" and spend["currency"] == "USD"
    assert spend["type"] == "billing.alert.spend" and spend["period_start"] == "2026-02-01T00:00:00Z"

    log = _deliveries(warehouse)
    assert [(row[0], row[1], row[3]) for row in log] == [
        (nid, attempt, status)
        for nid in NOTIFICATION_IDS
        for attempt, status in ((1, 500), (2, 500), (3, 204))
    ]
    for notification_id, attempt, attempted_at, status, error, delivered_at, next_attempt_at in log:
        if status == 204:
            assert delivered_at == attempted_at and next_attempt_at is None and error is None
        else:
            assert delivered_at is None and next_attempt_at == attempted_at + retry_delay(attempt)
            assert error.startswith("HTTP 500")


@pytest.mark.parametrize("webhook_server", [{"hang_for": ("n_credit",), "hang_seconds": 3.0}], indirect=True)
def test_a_receiver_that_never_answers_leaves_its_notification_pending(warehouse: str,
                                                                        webhook_server: WebhookServer):
    clock = Clock(START)
    started = time.monotonic()
    attempts = _pass(warehouse, webhook_server, clock, timeout=0.5)
    assert time.monotonic() - started < 2.5, "the pass waited for the hanging receiver beyond its timeout"
    assert [(a.notification_id, a.delivered) for a in attempts] == [
        ("n_calls", True), ("n_credit", False), ("n_spend", True)
    ]
    clock.now = START + retry_delay(1)
    retried = _pass(warehouse, webhook_server, clock, timeout=0.5)
    assert [(a.notification_id, a.attempt, a.delivered) for a in retried] == [("n_credit", 2, False)]

    log = _deliveries(warehouse)
    hanging = [row for row in log if row[0] == "n_credit"]
    assert [(row[1], row[3], row[5]) for row in hanging] == [(1, None, None), (2, None, None)]
    assert all("timed out" in row[4].lower() for row in hanging), hanging
    assert hanging[-1][6] == START + retry_delay(1) + retry_delay(2)
    with AlertDelivery(WebhookSettings(webhook_server.url, SECRET), warehouse, clock=clock) as delivery:
        assert delivery.pending() == ["n_credit"]  # nothing dropped
    assert sorted(webhook_server.accepted) == ["n_calls", "n_spend"]


@pytest.mark.parametrize("webhook_server", [{}], indirect=True)
def test_the_sensor_is_registered_only_with_a_webhook_and_delivers_on_a_tick(webhook_server: WebhookServer,
                                                                            tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BILLING_ALERT_WEBHOOK_URL", raising=False)
    assert alert_sensors() == []
    monkeypatch.setenv("BILLING_ALERT_WEBHOOK_URL", webhook_server.url)
    monkeypatch.setenv("BILLING_ALERT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("BILLING_TARGET", "duckdb")
    monkeypatch.setenv("BILLING_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    [registered] = alert_sensors()
    assert registered.name == ALERT_SENSOR
    assert registered.default_status == DefaultSensorStatus.STOPPED
    _write_notifications("duckdb")
    result = build_alert_sensor()(build_sensor_context())
    assert "3 notifications delivered" in str(result.skip_message)
    assert sorted(webhook_server.accepted) == list(NOTIFICATION_IDS)
    monkeypatch.delenv("BILLING_ALERT_WEBHOOK_SECRET")
    with pytest.raises(Exception, match="BILLING_ALERT_WEBHOOK_SECRET is not set"):
        build_alert_sensor()(build_sensor_context())
