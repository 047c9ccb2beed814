"""Delivering the outbox: claim due deliveries, sign, POST, record, retry.

Claiming is a short transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (on
SQLite the write transaction holds the database lock), then the rows are marked
``delivering`` with a lease. Several workers or machines therefore never send one delivery
at the same time, and a delivery whose dispatcher died is taken again when its lease runs
out. A delivery is only claimed when no earlier delivery of the same order to the same
endpoint is still pending, so the events of one order arrive in order.

Signatures follow the Standard Webhooks spec: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` (two, space
separated, while a rotated secret is still valid).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
import orjson
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from db.engine import Database
from db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from gql.errors import ValidationError
from gql.resolvers import clock
from gql.resolvers.background import BackgroundLoop
from gql.resolvers.webhooks import SECRET_PREFIX, WebhookPolicy, check_destination

log = logging.getLogger("orders_api.webhooks")

# About three days of retries: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
LEASE = timedelta(minutes=2)
BATCH = 20


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(
    endpoint: WebhookEndpoint, message_id: str, timestamp: int, body: bytes
) -> str:
    signatures = [sign(endpoint.secret, message_id, timestamp, body)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > clock.now():
        signatures.append(sign(endpoint.previous_secret, message_id, timestamp, body))
    return " ".join(signatures)


@dataclass(frozen=True)
class DispatchSettings:
    policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    schedule: Sequence[float] = DEFAULT_SCHEDULE
    timeout_seconds: float = 10.0
    disable_after: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim(db: Database, limit: int = BATCH) -> list[int]:
    """Lease up to ``limit`` due deliveries to this dispatcher."""
    now = clock.now()
    earlier = aliased(WebhookDelivery)
    due = or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "delivering", WebhookDelivery.locked_until < now),
    )
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.order_id == WebhookDelivery.order_id,
        earlier.id < WebhookDelivery.id,
        earlier.status.in_(("pending", "delivering")),
    )
    async with db.writer() as session, session.begin():
        ids = list(
            await session.scalars(
                select(WebhookDelivery.id)
                .where(due, ~blocked)
                .order_by(WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        )
        if ids:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(status="delivering", locked_until=now + LEASE)
            )
    return ids


async def deliver(
    db: Database, delivery_id: int, http: httpx.AsyncClient, settings: DispatchSettings
) -> None:
    async with db.reader() as session:
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
                .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).first()
    if row is None:
        return
    delivery, message, endpoint = row
    if not endpoint.enabled:
        await _finish(
            db, delivery, endpoint, Outcome(None, "endpoint disabled"), settings, 0, False
        )
        return
    body = orjson.dumps(message.payload)
    started = time.perf_counter()
    outcome = await _post(http, endpoint, message.id, body, settings)
    latency = int((time.perf_counter() - started) * 1000)
    await _finish(db, delivery, endpoint, outcome, settings, latency, True)


async def _post(
    http: httpx.AsyncClient,
    endpoint: WebhookEndpoint,
    message_id: str,
    body: bytes,
    settings: DispatchSettings,
) -> Outcome:
    try:
        await check_destination(endpoint.url, settings.policy)  # again: DNS may have changed
    except ValidationError as refused:
        return Outcome(None, f"destination refused: {refused.message}")
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "orders-api-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(endpoint, message_id, timestamp, body),
    }
    try:
        response = await http.post(
            endpoint.url, content=body, headers=headers, timeout=settings.timeout_seconds
        )
    except httpx.TimeoutException:
        return Outcome(None, "timed out")
    except httpx.HTTPError as error:
        return Outcome(None, f"connection failed: {type(error).__name__}: {error}"[:500])
    return Outcome(response.status_code, None, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


async def _finish(
    db: Database,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcome: Outcome,
    settings: DispatchSettings,
    latency_ms: int,
    attempted: bool,
) -> None:
    now = clock.now()
    async with db.writer() as session, session.begin():
        if attempted:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    latency_ms=latency_ms,
                    error=outcome.error,
                )
            )
        attempts = delivery.attempts + (1 if attempted else 0)
        values: dict[str, object] = {
            "attempts": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "locked_until": None,
        }
        endpoint_changes: dict[str, object] = {}
        if outcome.delivered:
            values.update(status="delivered", delivered_at=now)
            endpoint_changes["failing_since"] = None
        elif outcome.status_code == 410 or not endpoint.enabled:
            values["status"] = "failed"
            if outcome.status_code == 410:
                endpoint_changes.update(enabled=False, disabled_reason="410 Gone from the receiver")
        elif attempts > len(settings.schedule):
            values["status"] = "failed"
        else:
            delay = settings.schedule[attempts - 1] * random.uniform(0.9, 1.1)  # jitter
            if outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=delay))
        if not outcome.delivered and attempted:
            failing_since = endpoint.failing_since or now
            endpoint_changes.setdefault("failing_since", failing_since)
            if now - failing_since >= settings.disable_after:
                endpoint_changes.update(
                    enabled=False,
                    disabled_reason=f"failing since {failing_since.isoformat()}",
                )
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
        )
        if endpoint_changes:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(**endpoint_changes)
            )
    if not outcome.delivered:
        log.warning(
            "webhook delivery %s to %s failed: %s",
            delivery.id,
            endpoint.url,
            outcome.error or f"HTTP {outcome.status_code}",
        )


class Dispatcher(BackgroundLoop):
    """Runs in every server process: claims and delivers until stopped."""

    name = "webhook-dispatcher"

    def __init__(self, db: Database, settings: DispatchSettings, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now (called after a request enqueued messages)."""
        self._wake.set()

    async def run_once(self, http: httpx.AsyncClient) -> int:
        ids = await claim(self.db)
        await asyncio.gather(*(deliver(self.db, i, http, self.settings) for i in ids))
        return len(ids)

    async def _run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            while True:
                try:
                    busy = await self.run_once(http)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook dispatcher pass failed; retrying")
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                self._wake.clear()


def parse_schedule(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


__all__ = ["DispatchSettings", "Dispatcher", "claim", "deliver", "parse_schedule", "sign"]
