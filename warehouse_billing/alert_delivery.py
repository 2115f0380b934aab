"""Delivers alert_notifications to a webhook: each one until an attempt is accepted, then never again.

Settings from the environment: ``BILLING_ALERT_WEBHOOK_URL`` (where to POST) and
``BILLING_ALERT_WEBHOOK_SECRET`` (the signing secret); ``BILLING_ALERT_WEBHOOK_TIMEOUT`` (seconds a
receiver may take, default 5).

Each POST carries the notification as JSON and the Standard Webhooks headers (the scheme Svix uses, which
receivers' libraries verify): ``webhook-id`` (the notification_id), ``webhook-timestamp`` (Unix seconds)
and ``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where the key
is the secret's bytes (a ``whsec_`` secret is base64-decoded first, as Standard Webhooks secrets are).
``Idempotency-Key`` repeats the notification_id for receivers that deduplicate on that header.

Every attempt is a row of ``raw.alert_deliveries``, which this module owns: the attempt's number, time,
HTTP status or error, ``delivered_at`` when the receiver answered 2xx, else ``next_attempt_at``, after
an exponential backoff (1 min, 2, 4, ... at most 1 h). A notification is due while it has no delivered
attempt and its last attempt's next_attempt_at has passed; a receiver that fails or hangs (bounded by
the timeout) only pushes its own notification back, and the others go out in the same pass.

Delivery is at least once: a crash between the receiver's 2xx and the log row sends that notification
again on the next pass, with the same ``webhook-id`` and ``Idempotency-Key``, so a receiver that
remembers them sees it once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from warehouse_billing.warehouse import RAW_SCHEMA, check_target, configured_target, connect, marts_schema

log = logging.getLogger(__name__)

URL_VARIABLE = "BILLING_ALERT_WEBHOOK_URL"
SECRET_VARIABLE = "BILLING_ALERT_WEBHOOK_SECRET"
TIMEOUT_VARIABLE = "BILLING_ALERT_WEBHOOK_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 5.0
FIRST_RETRY_DELAY = timedelta(minutes=1)
LONGEST_RETRY_DELAY = timedelta(hours=1)
# At most this many notifications per pass: with the timeout, bounds how long one pass (a sensor tick) takes.
DEFAULT_BATCH_SIZE = 50

DELIVERIES_TABLE = f"{RAW_SCHEMA}.alert_deliveries"
DELIVERIES_TABLE_DDL = f"""
create table if not exists {DELIVERIES_TABLE} (
    notification_id text not null,
    attempt integer not null,
    attempted_at timestamp not null,
    http_status integer,
    error text,
    delivered_at timestamp,
    next_attempt_at timestamp
)
"""

NOTIFICATION_COLUMNS = (
    "notification_id", "alert_id", "alert_type", "contract_id", "customer_id", "invoice_id", "period_start",
    "period_end", "metric_id", "grant_id", "crossing_number", "crossed_on", "crossed_value", "threshold",
    "currency", "as_of",
)


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __repr__(self) -> str:  # never print the secret
        return f"WebhookSettings(url={self.url!r}, timeout_seconds={self.timeout_seconds})"

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> WebhookSettings:
        environ = dict(os.environ if environ is None else environ)
        url = (environ.get(URL_VARIABLE) or "").strip()
        secret = environ.get(SECRET_VARIABLE) or ""
        if not url:
            raise ValueError(f"{URL_VARIABLE} is not set")
        if not secret:
            raise ValueError(f"{SECRET_VARIABLE} is not set: notifications are never sent unsigned")
        timeout = float(environ.get(TIMEOUT_VARIABLE) or DEFAULT_TIMEOUT_SECONDS)
        return cls(url=url, secret=secret, timeout_seconds=timeout)


@dataclass(frozen=True)
class Attempt:
    notification_id: str
    attempt: int
    http_status: int | None
    error: str | None
    delivered: bool


def signing_key(secret: str) -> bytes:
    """The HMAC key: a Standard Webhooks secret (``whsec_`` + base64) decoded, else the UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: v1, then base64 HMAC-SHA256 over "<id>.<timestamp>.<body>"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_delay(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, ...): 1 min, doubling, 1 h at most."""
    return min(FIRST_RETRY_DELAY * (2 ** (attempt - 1)), LONGEST_RETRY_DELAY)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def payload(notification: dict[str, Any]) -> bytes:
    """The JSON body: every column of the notification; decimals as strings (exact), times in UTC."""
    document = {"type": f"billing.alert.{notification['alert_type']}"}
    document.update({name: _json_value(notification[name]) for name in NOTIFICATION_COLUMNS})
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AlertDelivery:
    """One pass over the due notifications of one warehouse.

    It holds no connection while it waits for a receiver: each read, and each attempt's log row, opens
    its own and closes it. A DuckDB file has one writer, and a receiver may take the whole timeout,
    so a connection held through a pass would block the Dagster run that writes the file for up to
    the batch size times the timeout.
    """

    def __init__(self, settings: WebhookSettings, target: str | None = None, *,
                 clock: Callable[[], datetime] = _utc_now,
                 opener: Callable[..., Any] = urllib.request.urlopen) -> None:
        self.target = check_target(target or configured_target())
        if self.target == "spark":
            raise ValueError("alert delivery reads DuckDB or Postgres, not Spark")
        self.settings = settings
        self.clock = clock
        self.opener = opener
        self._ensure_log_table()

    def __enter__(self) -> AlertDelivery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: no connection outlives the statements it ran."""

    # -- warehouse ------------------------------------------------------------------------------------

    def _execute(self, *statements: str, parameters: tuple = ()) -> list[tuple]:
        """Run the statements in one short transaction of a connection of their own, committed;
        the last one's rows."""
        conn = connect(self.target)
        try:
            rows: list[tuple] = []
            for statement in statements:
                if self.target == "duckdb":
                    cursor = conn.execute(statement.replace("%s", "?"), list(parameters))
                    rows = cursor.fetchall() if cursor.description else []
                else:
                    with conn.cursor() as cur:
                        cur.execute(statement, parameters)
                        rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def _ensure_log_table(self) -> None:
        """Create the delivery log (and schema raw) only when missing, read from the catalog first:
        Postgres refuses `create schema if not exists` to a role without CREATE on the database even
        when the schema exists, and every pass would otherwise ask (as ensure_raw_table does)."""
        table = DELIVERIES_TABLE.split(".")[-1]
        present = self._execute(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
            parameters=(RAW_SCHEMA, table),
        )
        if present[0][0]:
            return
        schema_exists = self._execute(
            "select count(*) from information_schema.schemata where schema_name = %s", parameters=(RAW_SCHEMA,)
        )[0][0]
        statements = ([] if schema_exists else [f"create schema if not exists {RAW_SCHEMA}"]) + [DELIVERIES_TABLE_DDL]
        self._execute(*statements)

    def _notifications_exist(self) -> bool:
        schema = marts_schema(self.target)
        rows = self._execute(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
            parameters=(schema, "alert_notifications"),
        )
        return rows[0][0] > 0

    def due(self, limit: int = DEFAULT_BATCH_SIZE) -> list[dict[str, Any]]:
        """Notifications never delivered whose next attempt is due at the clock, oldest first, with
        the number of attempts made so far (attempts_made)."""
        if not self._notifications_exist():
            return []
        columns = ", ".join(f"notifications.{name}" for name in NOTIFICATION_COLUMNS)
        rows = self._execute(
            f"""
            with attempts as (
                select
                    notification_id,
                    max(attempt) as attempts_made,
                    max(delivered_at) as delivered_at,
                    max(next_attempt_at) as next_attempt_at
                from {DELIVERIES_TABLE}
                group by notification_id
            )
            select {columns}, coalesce(attempts.attempts_made, 0)
            from {marts_schema(self.target)}.alert_notifications as notifications
            left join attempts on notifications.notification_id = attempts.notification_id
            where
                attempts.delivered_at is null
                and (attempts.next_attempt_at is null or attempts.next_attempt_at <= %s)
            order by coalesce(attempts.next_attempt_at, notifications.as_of), notifications.notification_id
            limit {int(limit)}
            """,
            parameters=(self.clock(),),
        )
        return [
            {**dict(zip(NOTIFICATION_COLUMNS, row[:-1], strict=True)), "attempts_made": row[-1]}
            for row in rows
        ]

    def pending(self) -> list[str]:
        """Ids of every notification not delivered yet, due or waiting for its backoff."""
        if not self._notifications_exist():
            return []
        rows = self._execute(
            f"""
            select notification_id from {marts_schema(self.target)}.alert_notifications as notifications
            where not exists (
                select 1 from {DELIVERIES_TABLE} as deliveries
                where deliveries.notification_id = notifications.notification_id
                and deliveries.delivered_at is not null
            )
            order by notification_id
            """
        )
        return [row[0] for row in rows]

    def _record(self, attempt: Attempt, attempted_at: datetime) -> None:
        delivered_at = attempted_at if attempt.delivered else None
        next_attempt_at = None if attempt.delivered else attempted_at + retry_delay(attempt.attempt)
        self._execute(
            f"insert into {DELIVERIES_TABLE} (notification_id, attempt, attempted_at, http_status, error,"
            " delivered_at, next_attempt_at) values (%s, %s, %s, %s, %s, %s, %s)",
            parameters=(attempt.notification_id, attempt.attempt, attempted_at, attempt.http_status,
                        attempt.error, delivered_at, next_attempt_at),
        )

    # -- webhook --------------------------------------------------------------------------------------

    def _post(self, notification: dict[str, Any], attempted_at: datetime) -> tuple[int | None, str | None]:
        body = payload(notification)
        message_id = notification["notification_id"]
        timestamp = int(attempted_at.replace(tzinfo=UTC).timestamp())
        request = urllib.request.Request(
            self.settings.url, data=body, method="POST",
            headers={
                "Content-Type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature(self.settings.secret, message_id, timestamp, body),
                "Idempotency-Key": message_id,
            },
        )
        try:
            with self.opener(request, timeout=self.settings.timeout_seconds) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            return error.code, f"HTTP {error.code} {error.reason}"
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            return None, f"{type(reason).__name__}: {reason}"

    def deliver(self, notification: dict[str, Any]) -> Attempt:
        """One attempt for one notification, logged (committed) before the next one starts."""
        attempted_at = self.clock()
        status, error = self._post(notification, attempted_at)
        delivered = status is not None and 200 <= status < 300
        attempt = Attempt(notification["notification_id"], notification["attempts_made"] + 1, status,
                          error, delivered)
        self._record(attempt, attempted_at)
        if not delivered:
            log.warning("alert notification %s attempt %s failed: %s",
                        attempt.notification_id, attempt.attempt, error or status)
        return attempt

    def deliver_due(self, limit: int = DEFAULT_BATCH_SIZE) -> list[Attempt]:
        """One pass: an attempt for each due notification (at most `limit`)."""
        return [self.deliver(notification) for notification in self.due(limit)]


def deliver_alerts(settings: WebhookSettings | None = None, target: str | None = None,
                   **options: Any) -> list[Attempt]:
    """One pass with the environment's settings and warehouse (what the Dagster sensor runs each tick)."""
    with AlertDelivery(settings or WebhookSettings.from_environment(), target, **options) as delivery:
        return delivery.deliver_due()
