"""Webhook endpoints and the transactional outbox.

A change to an order and the messages announcing it are written in one transaction
(``enqueue``); ``gql.resolvers.dispatch`` delivers them later, from any worker. Endpoints
are checked against server-side request forgery here, at registration, and again by the
dispatcher before every attempt.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.bulk_insert import insert_rows
from db.models import Order, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from gql.context import RequestContext
from gql.errors import NotFoundError, ValidationError
from gql.resolvers import clock
from gql.resolvers.shapes import json_default, order_json
from gql.resolvers.timestamps import format_utc
from gql.resolvers.validation import reject_unknown

EVENT_TYPES = (
    "order.created",
    "order.updated",
    "order.status_changed",
    "order.timeline_event_added",
)
ALL_EVENTS = "*"
TEST_EVENT = "webhook.test"
SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class WebhookPolicy:
    """Where endpoints may point: private networks only where allowed (tests, on-premise);
    HTTPS only in production."""

    allow_private_networks: bool = False
    require_https: bool = False


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


# --- destinations ----------------------------------------------------------------------


async def check_destination(url: str, policy: WebhookPolicy) -> None:
    """Refuse URLs that are not http(s), or whose host resolves to a loopback, private,
    link-local (cloud metadata), multicast, reserved or unspecified address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url must be an http:// or https:// URL", {"field": "url"})
    if policy.require_https and parts.scheme != "https":
        raise ValidationError("url must use https in production", {"field": "url"})
    if policy.allow_private_networks:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port)
    except OSError:
        raise ValidationError(
            f"url host {parts.hostname} does not resolve", {"field": "url"}
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise ValidationError(
                f"url resolves to {address}, a private, loopback, link-local or reserved "
                "address; webhooks may only call public addresses",
                {"field": "url"},
            )


def _event_types(value: Any) -> list[str]:
    if value is None:
        return [ALL_EVENTS]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in (*EVENT_TYPES, ALL_EVENTS) for v in value)
    ):
        raise ValidationError(
            f"event_types must be a non-empty list of: {', '.join((*EVENT_TYPES, ALL_EVENTS))}",
            {"field": "event_types", "allowed": [*EVENT_TYPES, ALL_EVENTS]},
        )
    return sorted(set(value))


async def _url(value: Any, policy: WebhookPolicy) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL_LENGTH:
        raise ValidationError(
            f"url is required: an http(s) URL of at most {MAX_URL_LENGTH} characters",
            {"field": "url"},
        )
    await check_destination(value.strip(), policy)
    return value.strip()


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false", {"field": name})
    return value


WEBHOOK_FIELDS = ("url", "event_types", "enabled")


def _webhook_fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    reject_unknown(data, dict.fromkeys(WEBHOOK_FIELDS), "")
    return data


# --- endpoints -------------------------------------------------------------------------


async def create_endpoint(ctx: RequestContext, data: Any) -> CreatedEndpoint:
    data = _webhook_fields(data)
    now = clock.now()
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id="whk_" + secrets.token_hex(8),
        tenant_id=ctx.tenant_id,
        url=await _url(data.get("url"), ctx.webhook_policy),
        event_types=_event_types(data.get("event_types")),
        enabled=_flag(data.get("enabled", True), "enabled"),
        secret=secret,
        created_at=now,
        updated_at=now,
    )
    async with ctx.db.writer() as session, session.begin():
        session.add(endpoint)
    return CreatedEndpoint(endpoint, secret)


async def list_endpoints(ctx: RequestContext) -> list[WebhookEndpoint]:
    async with ctx.db.reader() as session:
        return list(
            await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.tenant_id == ctx.tenant_id)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            )
        )


def _not_found(endpoint_id: str) -> NotFoundError:
    return NotFoundError(f"Webhook not found: {endpoint_id}", {"webhookId": endpoint_id})


async def _owned(session: AsyncSession, ctx: RequestContext, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == ctx.tenant_id, WebhookEndpoint.id == endpoint_id
        )
    )
    if endpoint is None:
        raise _not_found(endpoint_id)
    return endpoint


async def get_endpoint(ctx: RequestContext, endpoint_id: str) -> WebhookEndpoint:
    async with ctx.db.reader() as session:
        return await _owned(session, ctx, endpoint_id)


async def update_endpoint(ctx: RequestContext, endpoint_id: str, data: Any) -> WebhookEndpoint:
    data = _webhook_fields(data)
    url = await _url(data["url"], ctx.webhook_policy) if "url" in data else None
    async with ctx.db.writer() as session, session.begin():
        endpoint = await _owned(session, ctx, endpoint_id)
        if url is not None:
            endpoint.url = url
        if "event_types" in data:
            endpoint.event_types = _event_types(data["event_types"])
        if "enabled" in data:
            endpoint.enabled = _flag(data["enabled"], "enabled")
            if endpoint.enabled:
                endpoint.disabled_reason = None
                endpoint.failing_since = None
        endpoint.updated_at = clock.now()
    return endpoint


async def delete_endpoint(ctx: RequestContext, endpoint_id: str) -> None:
    async with ctx.db.writer() as session, session.begin():
        await session.delete(await _owned(session, ctx, endpoint_id))


async def rotate_secret(ctx: RequestContext, endpoint_id: str) -> CreatedEndpoint:
    """A new secret; the old one keeps signing (second signature) for 24 hours."""
    secret = new_secret()
    async with ctx.db.writer() as session, session.begin():
        endpoint = await _owned(session, ctx, endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = clock.now() + ROTATION_OVERLAP
        endpoint.secret = secret
        endpoint.updated_at = clock.now()
    return CreatedEndpoint(endpoint, secret)


# --- the outbox ------------------------------------------------------------------------


def _message(
    tenant_id: str, type_: str, data: dict[str, Any], order_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": "msg_" + secrets.token_hex(12),
        "tenant_id": tenant_id,
        "order_id": order_id,
        "type": type_,
        # Plain JSON now (amounts as numbers, like the REST answers), kept as sent.
        "payload": orjson.loads(
            orjson.dumps(
                {"type": type_, "timestamp": format_utc(now), "data": data}, default=json_default
            )
        ),
        "created_at": now,
    }


async def _subscribers(session: AsyncSession, tenant_id: str) -> list[WebhookEndpoint]:
    return list(
        await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    )


async def enqueue(
    session: AsyncSession,
    tenant_id: str,
    orders: Iterable[Order],
    types: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> None:
    """Outbox messages for ``orders`` (each announced as every type in ``types``), written
    in the caller's transaction, with one delivery per subscribed endpoint. Nothing is
    written when the tenant has no endpoints, and ``orders`` is then not even iterated
    (bulk create passes a generator of stand-ins it need not build)."""
    endpoints = await _subscribers(session, tenant_id)
    if not endpoints:
        return
    messages: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    now = clock.now()  # one moment for the whole transaction: converted once when stored
    for order in orders:
        body = {"order": order_json(order), **(extra or {})}
        for type_ in types:
            wanted = [e for e in endpoints if ALL_EVENTS in e.event_types or type_ in e.event_types]
            if not wanted:
                continue
            message = _message(tenant_id, type_, body, order.id, now)
            messages.append(message)
            deliveries.extend(_delivery(message, endpoint.id) for endpoint in wanted)
    if messages:
        await insert_rows(session, WebhookMessage, messages)
        await insert_rows(session, WebhookDelivery, deliveries)


def _delivery(message: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    return {
        "tenant_id": message["tenant_id"],
        "message_id": message["id"],
        "endpoint_id": endpoint_id,
        "order_id": message["order_id"],
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": message["created_at"],
        "created_at": message["created_at"],
    }


async def send_test(ctx: RequestContext, endpoint_id: str) -> WebhookDelivery:
    """A ``webhook.test`` ping to one endpoint, delivered like any other message."""
    async with ctx.db.writer() as session, session.begin():
        endpoint = await _owned(session, ctx, endpoint_id)
        message = _message(ctx.tenant_id, TEST_EVENT, {"webhookId": endpoint.id}, None, clock.now())
        await session.execute(insert(WebhookMessage), [message])
        delivery = WebhookDelivery(**_delivery(message, endpoint.id))
        session.add(delivery)
    return delivery


async def redeliver(ctx: RequestContext, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
    """Send a message again (same ``webhook-id``, so receivers can de-duplicate)."""
    async with ctx.db.writer() as session, session.begin():
        await _owned(session, ctx, endpoint_id)
        # Locked: housekeeping deletes a message once it has no delivery left, so the copy
        # must be added while the delivery it copies still exists (PostgreSQL; SQLite's
        # writers are serialised anyway).
        old = await session.scalar(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.tenant_id == ctx.tenant_id,
            )
            .with_for_update()
        )
        if old is None:
            raise NotFoundError(f"Delivery not found: {delivery_id}", {"deliveryId": delivery_id})
        now = clock.now()
        delivery = WebhookDelivery(
            tenant_id=ctx.tenant_id,
            message_id=old.message_id,
            endpoint_id=endpoint_id,
            order_id=old.order_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
    return delivery


async def message_type(ctx: RequestContext, message_id: str) -> str:
    async with ctx.db.reader() as session:
        found = await session.scalar(
            select(WebhookMessage.type).where(
                WebhookMessage.id == message_id, WebhookMessage.tenant_id == ctx.tenant_id
            )
        )
    return found or ""


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    message_type: str
    attempts: list[WebhookAttempt]


async def list_deliveries(
    ctx: RequestContext, endpoint_id: str, page: int = 1, limit: int = 20
) -> tuple[list[DeliveryRecord], int]:
    """An endpoint's deliveries, newest first, each with its attempts (the delivery log)."""
    if page < 1 or not 1 <= limit <= 100:
        raise ValidationError("page must be ≥ 1 and limit 1-100", {"field": "limit"})
    async with ctx.db.reader() as session:
        await _owned(session, ctx, endpoint_id)
        mine = (WebhookDelivery.endpoint_id == endpoint_id) & (
            WebhookDelivery.tenant_id == ctx.tenant_id
        )
        total = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(mine))
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookMessage.type)
                .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
                .where(mine)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
                .offset((page - 1) * limit)
            )
        ).all()
        ids = [row[0].id for row in rows]
        attempts: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
        if ids:
            for attempt in await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(ids))
                .order_by(WebhookAttempt.id)
            ):
                attempts[attempt.delivery_id].append(attempt)
    records = [DeliveryRecord(row[0], row[1], attempts[row[0].id]) for row in rows]
    return records, total or 0
