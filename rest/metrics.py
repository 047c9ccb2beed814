"""Prometheus metrics at ``/metrics``: requests by route and status, a latency histogram,
and rate-limit rejections. Each application has its own registry; with several worker
processes each process reports its own counters (scrape them per process or sum them)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "orders_api_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "orders_api_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.rejections = Counter(
            "orders_api_rate_limited",
            "Requests refused with 429, by limit (tenant, auth_failures).",
            ["limit"],
            registry=self.registry,
        )

    def rate_limited(self, limit: str) -> None:
        self.rejections.labels(limit).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            metrics: Metrics = scope["app"].state.metrics
            template = _route_template(scope)
            metrics.requests.labels(template, scope["method"], str(status)).inc()
            metrics.latency.labels(template).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    """The route's path template, never the raw path: order ids must not become labels."""
    route = scope.get("route")
    if route is None:
        # Answered before routing (401, 413, 429): name the route it was meant for, chosen
        # as the router would (a full match first, else one that differs by method).
        matches = [(r.matches(scope)[0], r) for r in scope["app"].routes]
        route = next((r for m, r in matches if m is Match.FULL), None) or next(
            (r for m, r in matches if m is Match.PARTIAL), None
        )
    return getattr(route, "path", None) or "unmatched"


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
