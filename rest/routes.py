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
]
