"""Helpers of the webhook tests: a real HTTP receiver on 127.0.0.1, an app with the
dispatcher running, polling helpers and database read-outs."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import orjson
from sqlalchemy import select
from starlette.applications import Starlette

from db.engine import Database
from db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from rest.app import create_app
from tests.conftest import make_settings
from tests.http_helpers import lifespan_client

T = TypeVar("T")

FAST_DISPATCH: dict[str, Any] = {
    "webhook_dispatcher": True,
    "webhook_allow_private_networks": True,
    "webhook_poll_seconds": 0.05,
    "webhook_retry_schedule": "0.2,0.2,0.2",
    "webhook_timeout_seconds": 3.0,
}


@dataclass(frozen=True)
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    retry_after: str | None = None
    location: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Receipt:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    received_at: float  # time.monotonic()
    answered: int  # the status the receiver answered with

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value


ReplyRule = Callable[["Receiver", "Receipt"], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: dispatchers open more connections than that at
    # once, and an overflowing accept queue surfaces as a ReadError and a second attempt.
    request_queue_size = 128


@dataclass
class Receiver:
    """A webhook receiver: records every request to its own path and answers as told
    (``rule`` decides per request; otherwise ``reply``)."""

    port: int = 0
    reply: Reply = field(default_factory=Reply)
    rule: ReplyRule | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _all: list[Receipt] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return f"/hooks/{self.token}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def receipts(self) -> list[Receipt]:
        """Requests this receiver's endpoints made (other tests' leftovers filtered out)."""
        with self._lock:
            return [r for r in self._all if r.path.startswith(self.path)]

    @property
    def everything(self) -> list[Receipt]:
        with self._lock:
            return list(self._all)

    def receipts_of(self, webhook_id: str) -> list[Receipt]:
        return [r for r in self.receipts if r.webhook_id == webhook_id]

    def accepted(self) -> list[Receipt]:
        return [r for r in self.receipts if 200 <= r.answered < 300]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                provisional = Receipt(self.command, self.path, headers, body, time.monotonic(), 0)
                with receiver._lock:
                    rule = receiver.rule
                    answer = rule(receiver, provisional) if rule else receiver.reply
                if answer.delay:
                    time.sleep(answer.delay)
                with receiver._lock:
                    receiver._all.append(
                        Receipt(
                            self.command,
                            self.path,
                            headers,
                            body,
                            provisional.received_at,
                            answer.status,
                        )
                    )
                self.send_response(answer.status)
                if answer.retry_after is not None:
                    self.send_header("Retry-After", answer.retry_after)
                if answer.location is not None:
                    self.send_header("Location", answer.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def fail_first_attempt(status: int = 500) -> ReplyRule:
    """Answer ``status`` to the first request of every message, 200 to the repeats."""

    def rule(receiver: Receiver, receipt: Receipt) -> Reply:
        seen = receiver.receipts_of(receipt.headers.get("webhook-id", ""))
        return Reply(status) if not seen else Reply(200)

    return rule


async def wait_for(
    check: Callable[[], T], what: str, within: float = 5.0, interval: float = 0.02
) -> T:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` otherwise."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_for_async(
    check: Callable[[], Awaitable[T]], what: str, within: float = 5.0, interval: float = 0.02
) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running_app(
    database_url: str, **overrides: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app (lifespan running: with the fast test dispatcher unless overridden) and a
    client for it."""
    settings = make_settings(database_url, **{**FAST_DISPATCH, **overrides})
    app = create_app(settings)
    async with lifespan_client(app) as http:
        yield app, http


async def deliveries_of(db: Database, endpoint_id: str) -> list[WebhookDelivery]:
    async with db.reader() as session:
        return list(
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id)
            )
        )


async def attempts_of(db: Database, delivery_id: int) -> list[WebhookAttempt]:
    async with db.reader() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.id)
            )
        )


async def messages_of_order(db: Database, order_id: str) -> list[WebhookMessage]:
    async with db.reader() as session:
        return list(
            await session.scalars(
                select(WebhookMessage)
                .where(WebhookMessage.order_id == order_id)
                .order_by(WebhookMessage.created_at, WebhookMessage.id)
            )
        )


async def endpoint_row(db: Database, endpoint_id: str) -> WebhookEndpoint | None:
    async with db.reader() as session:
        return await session.get(WebhookEndpoint, endpoint_id)
