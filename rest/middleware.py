"""Cross-cutting HTTP concerns, applied once for REST and GraphQL alike. Pure ASGI
middleware (no per-request task hopping) because every request pays for it.

Order, outermost first: request id + error envelope + access log, metrics, body size
limit, authentication (with failed-attempt throttling), the tenant's rate limit
(``rest/ratelimit.py``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.engine import Database
from gql.context import Principal
from gql.errors import AuthenticationError, DomainError, PayloadTooLargeError, unavailable
from orders_api import tenants
from rest.errors import error_response
from rest.ratelimit import RateLimiter, too_many_requests

log = logging.getLogger("orders_api.access")
errors_log = logging.getLogger("orders_api.errors")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestIdMiddleware:
    """Gives every response an ``X-Request-ID`` (the client's, if it sent a sane one),
    turns any exception into the error envelope, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                errors_log.exception("error after the response started [%s]", request_id)
                raise
            if isinstance(exc, DomainError):
                response = error_response(exc)
            elif service_error := unavailable(exc):
                errors_log.error("database unavailable [%s]: %s", request_id, exc)
                response = error_response(service_error)
            else:
                errors_log.exception("unhandled error [%s]", request_id)
                response = error_response(DomainError("Internal server error"))
            await response(scope, receive, send_with_id)
        finally:
            principal = scope["state"].get("principal")
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "tenant": principal.tenant_id if principal else None,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body is larger than {self.max_bytes} bytes",
            {"maxBytes": self.max_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(self._too_large())(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)


Authenticator = Callable[[Database, str], Awaitable[Principal | None]]


class AuthMiddleware:
    """Resolves ``x-tenant-api-key`` to a principal in ``scope["state"]["principal"]``.

    Successful look-ups are cached for ``cache_seconds`` per process, so a revoked key
    stops working within that time on every worker. Failed attempts are counted per
    client address; past the limit an address gets 429 before its key is even looked up,
    so keys cannot be guessed at speed.
    """

    def __init__(
        self,
        app: ASGIApp,
        cache_seconds: float = 5.0,
        authenticate: Authenticator = tenants.authenticate,
        graphiql_public: bool = True,
    ) -> None:
        self.app = app
        self.graphiql_public = graphiql_public
        self.cache_seconds = cache_seconds
        self.authenticate = authenticate
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope, self.graphiql_public):
            await self.app(scope, receive, send)
            return
        presented = Headers(scope=scope).get("x-tenant-api-key", "").strip()
        cache_key = hashlib.sha256(presented.encode()).hexdigest()
        principal = self._cached(cache_key)
        if principal is None:
            limiter: RateLimiter = scope["app"].state.rate_limiter
            address = scope["client"][0] if scope.get("client") else "unknown"
            failures = limiter.auth_failure_limit
            decision = await limiter.allows(failures, "auth_failures", address)
            if not decision.allowed:
                scope["app"].state.metrics.rate_limited("auth_failures")
                error = too_many_requests(decision, "failed authentications per address")
                headers = {"Retry-After": str(decision.retry_after)}
                await error_response(error, headers=headers)(scope, receive, send)
                return
            if presented:
                principal = await self._lookup(scope["app"].state.db, presented, cache_key)
            if principal is None:
                await limiter.hit(failures, "auth_failures", address)
                await error_response(AuthenticationError())(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _cached(self, cache_key: str) -> Principal | None:
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    async def _lookup(self, db: Database, presented: str, cache_key: str) -> Principal | None:
        now = time.monotonic()
        principal = await self.authenticate(db, presented)
        if principal is not None and self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now + self.cache_seconds, principal)
        return principal


def _is_public(scope: Scope, graphiql_public: bool) -> bool:
    path: str = scope["path"]
    if path in PUBLIC_PATHS:
        return True
    # The GraphiQL page itself (a browser GET without a query) needs no key; the
    # operations it then sends do.
    if (
        graphiql_public
        and path == "/graphql"
        and scope["method"] == "GET"
        and not scope.get("query_string")
    ):
        return "text/html" in Headers(scope=scope).get("accept", "")
    return False
