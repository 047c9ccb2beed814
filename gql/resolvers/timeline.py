"""The append-only timeline: every automatic event is built here, in one function per kind,
and written in the same transaction as the change it records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Order, TimelineEvent
from gql.errors import ValidationError
from gql.resolvers.statuses import EVENT_TYPE_FOR_STATUS
from gql.resolvers.validation import json_object, reject_unknown, text

EVENT_TYPES = ("success", "pending", "error", "info")
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class NewEvent:
    title: str
    type: str = "info"
    description: str | None = None
    metadata: dict[str, Any] | None = None
    status: str | None = None


def order_created(order: Order) -> NewEvent:
    metadata: dict[str, Any] = {"status": order.status, "referenceId": order.reference_id}
    if order.external_order_source:
        metadata["source"] = order.external_order_source
    return NewEvent(
        title="Order Created",
        description=f"Order {order.reference_id} created",
        type="info",
        metadata=metadata,
        status=order.status,
    )


def status_changed(current: str, target: str, note: str | None) -> NewEvent:
    metadata: dict[str, Any] = {"from": current, "to": target}
    if note:
        metadata["note"] = note
    return NewEvent(
        title=f"Order {target.capitalize()}",
        description=note or f"Status changed from {current} to {target}",
        type=EVENT_TYPE_FOR_STATUS[target],
        metadata=metadata,
        status=target,
    )


def is_paid(payment_status: str | None) -> bool:
    return (payment_status or "").strip().lower() == "paid"


def payment_received(order: Order) -> NewEvent:
    metadata: dict[str, Any] = {"payment_status": order.payment_status}
    for key in ("amount", "currency", "payment_id", "method"):
        if order.payment_info and order.payment_info.get(key) is not None:
            metadata[key] = order.payment_info[key]
    if "amount" in metadata:
        # Stored as exact text in payment_info; event metadata is plain JSON, where
        # amounts are numbers (two decimals print back exactly).
        metadata["amount"] = float(Decimal(metadata["amount"]))
    return NewEvent(
        title="Payment Received",
        description="Payment status changed to paid",
        type="success",
        metadata=metadata,
    )


def order_updated(fields: list[str]) -> NewEvent:
    return NewEvent(
        title="Order Updated",
        description=f"Updated {', '.join(fields)}",
        type="info",
        metadata={"fields": fields},
    )


def custom(data: Any) -> NewEvent:
    """A custom event from ``{title, description?, type?, metadata?}``."""
    if not isinstance(data, Mapping):
        raise ValidationError("event must be a JSON object with at least a title")
    reject_unknown(data, dict.fromkeys(("title", "description", "type", "metadata")), "event")
    title = data.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        raise ValidationError("Event title is required", {"field": "event.title"})
    kind = data.get("type") or "info"
    if not isinstance(kind, str) or kind.lower() not in EVENT_TYPES:
        raise ValidationError(
            f"Invalid event.type {kind!r}. Allowed: {', '.join(EVENT_TYPES)}",
            {"field": "event.type", "allowed": list(EVENT_TYPES)},
        )
    description = data.get("description")
    metadata = data.get("metadata")
    return NewEvent(
        title=text(title, "event.title", 200),
        description=None if description is None else text(description, "event.description", 5000),
        type=kind.lower(),
        metadata=None if metadata is None else json_object(metadata, "event.metadata"),
    )


def append(order: Order, event: NewEvent, actor: str, at: datetime) -> TimelineEvent:
    """The next event of ``order``, to be added in the transaction that changed it.

    ``order`` must be new in this transaction or locked by it (``SELECT ... FOR UPDATE``;
    on SQLite every write transaction holds the database lock): concurrent writers to one
    order then queue up, and event ids stay unique and gapless.
    """
    order.timeline_seq = (order.timeline_seq or 0) + 1
    return _row(order.id, order.timeline_seq, event, actor, at)


def _row(order_id: str, seq: int, event: NewEvent, actor: str, at: datetime) -> TimelineEvent:
    return TimelineEvent(
        order_id=order_id,
        seq=seq,
        title=event.title,
        description=event.description,
        type=event.type,
        metadata_=event.metadata,
        actor=actor,
        status=event.status,
        created_at=at,
    )


async def events_of(session: AsyncSession, order_ids: list[str]) -> dict[str, list[TimelineEvent]]:
    """All events of these orders, oldest first, in one query."""
    grouped: dict[str, list[TimelineEvent]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.order_id.in_(order_ids))
            .order_by(TimelineEvent.order_id, TimelineEvent.seq)
        )
        for row in rows:
            grouped[row.order_id].append(row)
    return grouped


async def history_of(session: AsyncSession, order_ids: list[str]) -> dict[str, list[TimelineEvent]]:
    """The status changes of these orders (the creation event included), oldest first."""
    grouped: dict[str, list[TimelineEvent]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.order_id.in_(order_ids), TimelineEvent.status.is_not(None))
            .order_by(TimelineEvent.order_id, TimelineEvent.seq)
        )
        for row in rows:
            grouped[row.order_id].append(row)
    return grouped
