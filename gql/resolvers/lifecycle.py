"""Changing orders: field updates, status transitions and custom timeline events.

Each function locks the order, applies the change and appends its timeline events in one
transaction: a change is never stored without its event, nor an event without its change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Order, OrderItem, TimelineEvent
from gql.context import RequestContext
from gql.errors import ConflictError, PreconditionFailedError, order_not_found
from gql.resolvers import clock, idempotency, timeline, webhooks
from gql.resolvers.orders import build_items, by_id_or_reference, duplicate_of, search_text
from gql.resolvers.shapes import event_json
from gql.resolvers.statuses import check_transition, parse_status
from gql.resolvers.validation import ItemInput, digits_of, note, parse_updates, sum_items


async def update_order(
    ctx: RequestContext,
    order_id: str,
    updates: Mapping[str, Any],
    expected_version: int | None = None,
) -> Order:
    """Apply ``updates`` (REST field names). A status among them follows the same
    transition rules as ``change_status``."""
    changes = parse_updates(updates)
    try:
        async with ctx.db.writer() as session, session.begin():
            order = await _locked(session, ctx, order_id, expected_version)
            await _apply(session, ctx, order, changes, note=None, at=clock.now())
    except IntegrityError:
        # A concurrent request took the same external order id after our check.
        raise ConflictError("Another order already has this external order id") from None
    return order


async def change_status(
    ctx: RequestContext,
    order_id: str,
    status: Any,
    note_text: Any = None,
    expected_version: int | None = None,
) -> Order:
    target = parse_status(status)
    reason = note(note_text)
    async with ctx.db.writer() as session, session.begin():
        order = await _locked(session, ctx, order_id, expected_version)
        await _apply(session, ctx, order, {"status": target}, note=reason, at=clock.now())
    return order


async def add_timeline_event(
    ctx: RequestContext, order_id: str, event: Any, idempotency_key: str | None = None
) -> idempotency.Outcome[TimelineEvent]:
    new = timeline.custom(event)  # first: a validation failure never claims the key

    async def add(claim: idempotency.Claim | None) -> TimelineEvent:
        async with ctx.db.writer() as session, session.begin():
            order = await _locked(session, ctx, order_id, None)
            row = timeline.append(order, new, ctx.actor, clock.now())
            session.add(row)
            await webhooks.enqueue(
                session,
                ctx.tenant_id,
                [order],
                ["order.timeline_event_added"],
                {"event": event_json(row)},
            )
            await idempotency.complete(session, ctx, claim, {"orderId": order.id, "seq": row.seq})
        return row

    async def recall(result: dict[str, Any]) -> TimelineEvent:
        async with ctx.db.reader() as session:
            row = await session.scalar(
                select(TimelineEvent).where(
                    TimelineEvent.order_id == result["orderId"],
                    TimelineEvent.seq == result["seq"],
                )
            )
        assert row is not None, "timeline events are never deleted"
        return row

    data = {"orderId": order_id, "event": event}
    return await idempotency.run_once(ctx, idempotency_key, "addTimelineEvent", data, add, recall)


async def order_timeline(ctx: RequestContext, order_id: str) -> list[TimelineEvent]:
    async with ctx.db.reader() as session:
        found = await session.scalar(
            select(Order.id).where(by_id_or_reference(ctx.tenant_id, order_id))
        )
        if found is None:
            raise order_not_found(order_id)
        return (await timeline.events_of(session, [found]))[found]


async def _locked(
    session: AsyncSession,
    ctx: RequestContext,
    order_id: str,
    expected_version: int | None,
    *,
    with_items: bool = True,
) -> Order:
    """The order, locked for this transaction (``FOR UPDATE``; on SQLite the write
    transaction already holds the database lock), checked against ``expected_version``."""
    statement = select(Order).where(by_id_or_reference(ctx.tenant_id, order_id)).with_for_update()
    if with_items:
        statement = statement.options(selectinload(Order.items))
    order = await session.scalar(statement)
    if order is None:
        raise order_not_found(order_id)
    if expected_version is not None and expected_version != order.version:
        raise PreconditionFailedError(
            f"Order has changed: it is at version {order.version}, not {expected_version}. "
            "Fetch it again and retry.",
            {"expected": expected_version, "current": order.version},
        )
    return order


async def _apply(
    session: AsyncSession,
    ctx: RequestContext,
    order: Order,
    changes: dict[str, Any],
    *,
    note: str | None,
    at: datetime,
) -> None:
    events: list[timeline.NewEvent] = []
    target = changes.pop("status", order.status)
    if target != order.status:
        check_transition(order.status, target)
        events.append(timeline.status_changed(order.status, target, note))
        order.status = target

    was_paid = timeline.is_paid(order.payment_status)
    changed = await _assign(session, order, changes)
    if "mobile" in changed:
        order.mobile_digits = digits_of(order.mobile)
    if not was_paid and timeline.is_paid(order.payment_status):
        events.append(timeline.payment_received(order))
        changed.discard("payment_status")
    if changed & {"external_order_source", "external_order_id"}:
        with session.no_autoflush:  # ask before the new values reach the unique index
            duplicate = await duplicate_of(
                session,
                ctx.tenant_id,
                external=(order.external_order_source, order.external_order_id),
                other_than=order.id,
            )
        if duplicate:
            raise duplicate
    if changed:
        events.append(timeline.order_updated(sorted(changed)))

    if events:
        order.search_text = search_text(order)
        order.version += 1
        order.updated_at = at
        for event in events:
            session.add(timeline.append(order, event, ctx.actor, at))
        announced = [
            *(["order.status_changed"] if any(e.status for e in events) else []),
            *(["order.updated"] if any(not e.status for e in events) else []),
        ]
        await webhooks.enqueue(session, ctx.tenant_id, [order], announced)


async def _assign(session: AsyncSession, order: Order, changes: dict[str, Any]) -> set[str]:
    """Set the changed fields on ``order``; returns the names of those that differ."""
    changed: set[str] = set()

    def put(field: str, value: Any) -> None:
        if getattr(order, field) != value:
            setattr(order, field, value)
            changed.add(field)

    for field, value in changes.items():
        if field == "product_items":
            if _item_values(value) != [_stored_values(item) for item in order.items]:
                # Delete the old rows first: inserting the new ones before would clash
                # on (order_id, position).
                for old in order.items:
                    await session.delete(old)
                await session.flush()
                order.items = build_items(value)
                changed.add(field)
            if "final_amount" not in changes:
                put("final_amount", sum_items(value))
        elif field in ("delivery_details", "payment_info") and value is not None:
            merged = dict(getattr(order, field) or {})
            for key, item in value.items():
                if item is None:
                    merged.pop(key, None)
                else:
                    merged[key] = item
            put(field, merged or None)
            if field == "payment_info" and "status" in value and "payment_status" not in changes:
                put("payment_status", value["status"])
        else:
            put(field, value)
    return changed


def _item_values(items: list[ItemInput]) -> list[tuple[Any, ...]]:
    return [(i.product_retailer_id, i.sku, i.name, i.quantity, i.price) for i in items]


def _stored_values(item: OrderItem) -> tuple[Any, ...]:
    return (item.product_retailer_id, item.sku, item.name, item.quantity, item.price)
