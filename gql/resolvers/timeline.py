"""The append-only timeline: every automatic event is built here, in one function per kind,
and written in the same transaction as the change it records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Order, TimelineEvent

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


def append_to_new_order(order: Order, event: NewEvent, actor: str, at: datetime) -> TimelineEvent:
    """The first events of an order still being inserted: numbering starts at 1."""
    order.timeline_seq = (order.timeline_seq or 0) + 1
    return _row(order.id, order.timeline_seq, event, actor, at)


async def append(
    session: AsyncSession, order_id: str, event: NewEvent, actor: str, at: datetime
) -> TimelineEvent:
    """Add an event to an existing order inside the caller's transaction.

    The sequence number is taken with an atomic ``UPDATE ... RETURNING`` on the order
    row, which also locks that row until commit: concurrent writers to one order queue
    up there, so event ids stay unique and gapless.
    """
    seq = await session.scalar(
        update(Order)
        .where(Order.id == order_id)
        .values(timeline_seq=Order.timeline_seq + 1)
        .returning(Order.timeline_seq)
    )
    assert seq is not None, "append() needs an existing order"
    row = _row(order_id, seq, event, actor, at)
    session.add(row)
    return row


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
