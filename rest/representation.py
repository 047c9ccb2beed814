"""REST answers that only the REST layer gives: statistics and bulk results. Orders and
events have their shape in ``gql.resolvers.shapes`` (webhooks use it too)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from gql.resolvers.bulk import BulkResult
from gql.resolvers.stats import StatsSummary, StatsWindow
from gql.resolvers.timestamps import format_utc
from rest.errors import envelope


def period_json(window: StatsWindow) -> dict[str, str | None]:
    """The window in UTC; ``end`` is its last second, as in the reference document
    (``2023-06-30T23:59:59Z``). ``null`` bounds: all time."""
    return {
        "start": format_utc(window.start) if window.start else None,
        "end": format_utc(window.end - timedelta(seconds=1)) if window.end else None,
    }


def stats_json(summary: StatsSummary) -> dict[str, Any]:
    return {
        "totalOrders": summary.total_orders,
        "revenue": summary.revenue,
        "averageOrderValue": summary.average_order_value,
        "period": period_json(summary.window),
        "ordersByStatus": summary.orders_by_status,
    }


def bulk_result_json(result: BulkResult) -> dict[str, Any]:
    if result.error is not None:
        return {"index": result.index, "success": False, **envelope(result.error)}
    return {
        "index": result.index,
        "success": True,
        "_id": result.order_id,
        "referenceId": result.reference_id,
    }


def webhook_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": format_utc(endpoint.failing_since) if endpoint.failing_since else None,
        "created_at": format_utc(endpoint.created_at),
        "updated_at": format_utc(endpoint.updated_at),
    }
    if secret is not None:
        body["secret"] = secret  # only when created or rotated: shown once
    return body


def _when(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None


def delivery_json(
    delivery: WebhookDelivery, event_type: str, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "event_type": event_type,
        "order_id": delivery.order_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _when(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": format_utc(delivery.created_at),
        "delivered_at": _when(delivery.delivered_at),
        "attempt_log": [
            {
                "attempted_at": format_utc(attempt.attempted_at),
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "error": attempt.error,
            }
            for attempt in attempts
        ],
    }
