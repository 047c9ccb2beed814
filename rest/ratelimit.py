"""Per-tenant rate limits with the ``limits`` library (async API, moving window).

The counters live in ``RATE_LIMIT_STORAGE_URI``: ``memory://`` (one process) or Redis
(shared by every worker and machine). If Redis stops answering the service fails open: it
logs an error and counts in process memory until Redis is back, rather than refusing
every request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql.context import Principal
from gql.errors import RateLimitError
from rest.errors import error_response

log = logging.getLogger("orders_api.ratelimit")

T = TypeVar("T")
# After a storage failure, stay on the in-memory fallback this long before retrying it.
RETRY_STORAGE_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


@lru_cache(maxsize=256)
def parse_limit(text: str) -> RateLimitItem:
    return parse(text)


def _async_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    """The limiter the middleware consults; one per application, made in its lifespan."""

    def __init__(self, storage_uri: str, default_limit: str, auth_failure_limit: str) -> None:
        uri = _async_uri(storage_uri)
        options: dict[str, float | str | bool] = {}
        if "redis" in uri.split("://", 1)[0]:
            # Fail fast: a slow Redis must not hold every request up.
            options = {"connect_timeout": 0.5, "stream_timeout": 0.5}
        self.storage_uri = storage_uri
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
        assert isinstance(storage, Storage), "an async+ URI always gives an async storage"
        self.storage = storage
        self.primary = MovingWindowRateLimiter(self.storage)
        self.fallback = MovingWindowRateLimiter(MemoryStorage())
        self.default_limit = parse_limit(default_limit)
        self.auth_failure_limit = parse_limit(auth_failure_limit)
        self._primary_down_until = 0.0

    async def close(self) -> None:
        """Close the Redis connections (``limits`` has no public close: its Redis bridge
        keeps the client in ``bridge.storage``)."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    def limit_for(self, principal: Principal) -> RateLimitItem:
        return parse_limit(principal.rate_limit) if principal.rate_limit else self.default_limit

    async def _run(self, action: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        if time.monotonic() >= self._primary_down_until:
            try:
                return await action(self.primary)
            except Exception as error:  # any storage failure: fail open, loudly
                self._primary_down_until = time.monotonic() + RETRY_STORAGE_AFTER_SECONDS
                log.error(
                    "rate-limit storage %s failed (%s); counting in process memory for %ss",
                    self.storage_uri,
                    error,
                    RETRY_STORAGE_AFTER_SECONDS,
                )
        return await action(self.fallback)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> Decision:
        async def consume(limiter: MovingWindowRateLimiter) -> Decision:
            allowed = await limiter.hit(item, *identifiers)
            reset_at, remaining = await limiter.get_window_stats(item, *identifiers)
            return Decision(allowed, item.amount, remaining, reset_at)

        return await self._run(consume)

    async def allows(self, item: RateLimitItem, *identifiers: str) -> Decision:
        """Whether one more hit would pass, without consuming it."""

        async def peek(limiter: MovingWindowRateLimiter) -> Decision:
            allowed = await limiter.test(item, *identifiers)
            reset_at, remaining = await limiter.get_window_stats(item, *identifiers)
            return Decision(allowed, item.amount, remaining, reset_at)

        return await self._run(peek)


def too_many_requests(decision: Decision, what: str) -> RateLimitError:
    return RateLimitError(
        f"Rate limit exceeded: {decision.limit} {what}. Retry in {decision.retry_after} s.",
        {"limit": decision.limit, "retryAfter": decision.retry_after},
    )


class RateLimitMiddleware:
    """Counts every authenticated request (REST and GraphQL share one budget per tenant),
    adds the X-RateLimit-* headers, and answers 429 past the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("state", {}).get("principal")
        if scope["type"] != "http" or principal is None:
            await self.app(scope, receive, send)
            return
        limiter: RateLimiter = scope["app"].state.rate_limiter
        item = limiter.limit_for(principal)
        decision = await limiter.hit(item, "tenant", principal.tenant_id)
        if not decision.allowed:
            scope["app"].state.metrics.rate_limited("tenant")
            error = too_many_requests(decision, f"requests per {_per(item)} for this tenant")
            headers = {**decision.headers(), "Retry-After": str(decision.retry_after)}
            await error_response(error, headers=headers)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in decision.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _per(item: RateLimitItem) -> str:
    granularity = item.GRANULARITY.name
    return granularity if item.multiples == 1 else f"{item.multiples} {granularity}s"
