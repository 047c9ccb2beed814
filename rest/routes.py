"""The route table. ``/v1/orders/stats``, ``/bulk`` and ``/export`` must stay above
``/v1/orders/{order_id}``: Starlette takes the first route that matches."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from rest import health
from rest.endpoints import (
    OrderBulk,
    OrderCollection,
    OrderExport,
    OrderResource,
    OrderStats,
    OrderStatus,
    OrderTimeline,
    WebhookCollection,
    WebhookDeliveries,
    WebhookRedelivery,
    WebhookResource,
    WebhookSecret,
    WebhookTest,
)

ROUTES: list[BaseRoute] = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/v1/orders", OrderCollection),
    Route("/v1/orders/stats", OrderStats),
    Route("/v1/orders/bulk", OrderBulk),
    Route("/v1/orders/export", OrderExport),
    Route("/v1/orders/{order_id}", OrderResource),
    Route("/v1/orders/{order_id}/status", OrderStatus),
    Route("/v1/orders/{order_id}/timeline", OrderTimeline),
    Route("/v1/webhooks", WebhookCollection),
    Route("/v1/webhooks/{webhook_id}", WebhookResource),
    Route("/v1/webhooks/{webhook_id}/rotate-secret", WebhookSecret),
    Route("/v1/webhooks/{webhook_id}/test", WebhookTest),
    Route("/v1/webhooks/{webhook_id}/deliveries", WebhookDeliveries),
    Route("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", WebhookRedelivery),
]
