"""The alert sensor: each tick sends the due alert notifications to the webhook (alert_delivery).

Part of the Definitions only when ``BILLING_ALERT_WEBHOOK_URL`` is set (``BILLING_ALERT_WEBHOOK_SECRET``
too: without it a tick fails rather than send unsigned). STOPPED until someone turns it on, like the
schedules. It requests no run: the notifications come from the hourly refresh's dbt build
(alert_notifications), and each tick only delivers and logs (raw.alert_deliveries).

On DuckDB the tick and a run cannot hold the file together (one writer): a tick that finds it locked
skips, and the notifications go out on the next tick.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dagster import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from warehouse_billing.alert_delivery import URL_VARIABLE, WebhookSettings, deliver_alerts
from warehouse_billing.warehouse import configured_target, warehouse_busy

ALERT_SENSOR = "alert_webhook_sensor"
MINIMUM_INTERVAL_SECONDS = 60


def alerts_enabled() -> bool:
    """True when the environment names a webhook (BILLING_ALERT_WEBHOOK_URL)."""
    return bool((os.environ.get(URL_VARIABLE) or "").strip())


def build_alert_sensor(
    *,
    settings: Callable[[], WebhookSettings] = WebhookSettings.from_environment,
    target: Callable[[], str] = configured_target,
) -> SensorDefinition:
    """The sensor; `settings` and `target` are read at each tick (tests pass their own)."""

    @sensor(
        name=ALERT_SENSOR,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            "Sends each new alert notification (alert_notifications) once to the webhook "
            "(BILLING_ALERT_WEBHOOK_URL), signed, retried with backoff; every attempt is logged in "
            "raw.alert_deliveries."
        ),
    )
    def alert_webhook_sensor(context: SensorEvaluationContext) -> SkipReason:
        try:
            attempts = deliver_alerts(settings(), target())
        except Exception as error:
            if warehouse_busy(error):
                return SkipReason(f"the warehouse is busy ({error}); the next tick delivers")
            raise
        delivered = sum(attempt.delivered for attempt in attempts)
        failed = len(attempts) - delivered
        context.log.info(f"{len(attempts)} attempts: {delivered} delivered, {failed} to retry")
        return SkipReason(f"{delivered} notifications delivered, {failed} attempts failed")

    return alert_webhook_sensor


def alert_sensors() -> list[SensorDefinition]:
    """The alert sensor when a webhook is configured, else none."""
    return [build_alert_sensor()] if alerts_enabled() else []
