"""Creating and reading orders."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Order, OrderItem, TimelineEvent
from gql.context import RequestContext
from gql.errors import ConflictError, order_not_found
from gql.resolvers import clock, idempotency, listing, timeline, webhooks
from gql.resolvers.identifiers import is_object_id, new_object_id, new_reference_id
from gql.resolvers.validation import ItemInput, NewOrder, digits_of, parse_new_order

# Auto-generated reference ids have 36^4 suffixes per second: a clash is rare but possible.
_REFERENCE_ATTEMPTS = 5


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    total: int
    page: int
    limit: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0


async def create_order(
    ctx: RequestContext, payload: Mapping[str, Any], idempotency_key: str | None = None
) -> idempotency.Outcome[Order]:
    """Validate ``payload`` (REST field names) and store the order with its first event;
    with an idempotency key, a retry answers the order the first request created."""
    new = parse_new_order(payload)  # first: a validation failure never claims the key

    async def recall(result: dict[str, Any]) -> Order:
        return await get_order(ctx, result["orderId"])

    return await idempotency.run_once(
        ctx, idempotency_key, "createOrder", payload, lambda claim: _create(ctx, new, claim), recall
    )


async def _create(ctx: RequestContext, new: NewOrder, claim: idempotency.Claim | None) -> Order:
    for attempt in range(_REFERENCE_ATTEMPTS):
        try:
            return await _insert(ctx, new, claim)
        except IntegrityError as error:
            generated_clash = new.reference_id is None and "reference_id" in str(error.orig)
            if generated_clash and attempt + 1 < _REFERENCE_ATTEMPTS:
                continue
            # Lost a race with a concurrent create: report it like the pre-check would.
            async with ctx.db.reader() as session:
                raise await _duplicate_of(session, ctx.tenant_id, new) or error from None
    raise AssertionError("unreachable")


async def _insert(ctx: RequestContext, new: NewOrder, claim: idempotency.Claim | None) -> Order:
    at = clock.now()
    async with ctx.db.writer() as session, session.begin():
        duplicate = await _duplicate_of(session, ctx.tenant_id, new)
        if duplicate:
            raise duplicate
        order = _build(ctx.tenant_id, new, at)
        session.add(order)
        session.add(timeline.append(order, timeline.order_created(order), ctx.actor, at))
        if timeline.is_paid(order.payment_status):
            # Created already paid: the payment is part of its history from the start.
            session.add(timeline.append(order, timeline.payment_received(order), ctx.actor, at))
        await webhooks.enqueue(session, ctx.tenant_id, [order], ["order.created"])
        await idempotency.complete(session, ctx, claim, {"orderId": order.id})
    return order


def order_values(tenant_id: str, new: NewOrder, at: datetime) -> dict[str, Any]:
    """The column values of a new order (by attribute name), for one create or a bulk."""
    fields = new.fields
    values: dict[str, Any] = {
        "id": new_object_id(at),
        "tenant_id": tenant_id,
        "reference_id": new.reference_id or new_reference_id(at),
        "status": new.status,
        "mobile": new.mobile,
        "mobile_digits": digits_of(new.mobile),
        "final_amount": new.final_amount,
        "delivery_method": fields.get("delivery_method", "Local Delivery"),
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "timeline_seq": 0,
    }
    for optional in (
        "name",
        "email",
        "user_id",
        "delivery_details",
        "product_customizations",
        "payment_info",
        "payment_status",
        "external_order_source",
        "external_order_id",
        "external_order_number",
        "notes",
    ):
        values[optional] = fields.get(optional)
    values["search_text"] = search_text(SimpleNamespace(**values))
    return values


def _build(tenant_id: str, new: NewOrder, at: datetime) -> Order:
    order = Order(**order_values(tenant_id, new, at))
    order.items = build_items(new.items)
    return order


def build_items(items: list[ItemInput]) -> list[OrderItem]:
    return [
        OrderItem(
            position=position,
            product_retailer_id=item.product_retailer_id,
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            price=item.price,
        )
        for position, item in enumerate(items)
    ]


def search_text(order: Order | SimpleNamespace) -> str:
    """What ``searchTerm`` matches: the order's ids and customer fields, lower-cased."""
    parts = (
        order.id,
        order.reference_id,
        order.name,
        order.mobile,
        order.email,
        order.external_order_id,
        order.external_order_number,
        # The digits alone, so "9876543210" finds "+91 98765-43210" through the same index.
        order.mobile_digits,
    )
    return "\n".join(part.lower() for part in parts if part)


async def _duplicate_of(
    session: AsyncSession, tenant_id: str, new: NewOrder
) -> ConflictError | None:
    return await duplicate_of(
        session,
        tenant_id,
        reference_id=new.reference_id,
        external=(new.fields.get("external_order_source"), new.fields.get("external_order_id")),
    )


async def duplicate_of(
    session: AsyncSession,
    tenant_id: str,
    *,
    reference_id: str | None = None,
    external: tuple[str | None, str | None] = (None, None),
    other_than: str | None = None,
) -> ConflictError | None:
    """A 409 naming the existing order (other than ``other_than``) that already has this
    referenceId or this (external_order_source, external_order_id)."""
    source, external_id = external
    clauses: list[ColumnElement[bool]] = []
    if reference_id:
        clauses.append(Order.reference_id == reference_id)
    if source is not None and external_id is not None:
        clauses.append(
            (Order.external_order_source == source) & (Order.external_order_id == external_id)
        )
    if not clauses:
        return None
    statement = select(Order.id, Order.reference_id).where(
        Order.tenant_id == tenant_id, or_(*clauses)
    )
    if other_than is not None:
        statement = statement.where(Order.id != other_than)
    existing = (await session.execute(statement.limit(1))).first()
    if existing is None:
        return None
    if reference_id and existing.reference_id == reference_id:
        return conflict_with(existing.id, existing.reference_id, reference_id=reference_id)
    return conflict_with(existing.id, existing.reference_id, external=(source, external_id))


def conflict_with(
    order_id: str,
    existing_reference: str,
    *,
    reference_id: str | None = None,
    external: tuple[Any, Any] | None = None,
) -> ConflictError:
    """The 409 for an order that repeats ``order_id``'s referenceId or external order."""
    what = (
        f"referenceId {reference_id}"
        if reference_id
        else f"external order {external[0]}/{external[1]}"
        if external
        else "these identifiers"
    )
    return ConflictError(
        f"An order with {what} already exists",
        {"orderId": order_id, "referenceId": existing_reference},
    )


def by_id_or_reference(tenant_id: str, order_id: str) -> ColumnElement[bool]:
    # referenceIds can never look like an _id (see validation.reference_id), so at most
    # one order matches.
    if "\x00" in order_id:
        return false()  # no order id holds NUL (and PostgreSQL would refuse the parameter)
    match = Order.reference_id == order_id
    if is_object_id(order_id):
        match = or_(Order.id == order_id, match)
    return (Order.tenant_id == tenant_id) & match


async def find_order(ctx: RequestContext, order_id: str) -> Order | None:
    """The tenant's order by ``_id`` or ``referenceId``, with its items; None if absent."""
    async with ctx.db.reader() as session:
        return await session.scalar(
            select(Order)
            .options(selectinload(Order.items))
            .where(by_id_or_reference(ctx.tenant_id, order_id))
        )


async def get_order(ctx: RequestContext, order_id: str) -> Order:
    order = await find_order(ctx, order_id)
    if order is None:
        raise order_not_found(order_id)
    return order


async def get_order_with_history(
    ctx: RequestContext, order_id: str
) -> tuple[Order, list[TimelineEvent]]:
    """The order, its items and its status history, read in one session (one snapshot)."""
    async with ctx.db.reader() as session:
        order = await session.scalar(
            select(Order)
            .options(selectinload(Order.items))
            .where(by_id_or_reference(ctx.tenant_id, order_id))
        )
        if order is None:
            raise order_not_found(order_id)
        return order, (await timeline.history_of(session, [order.id]))[order.id]


async def order_history(ctx: RequestContext, order_id: str) -> list[TimelineEvent]:
    async with ctx.db.reader() as session:
        return (await timeline.history_of(session, [order_id]))[order_id]


async def list_orders(
    ctx: RequestContext, query: listing.OrderListQuery, *, with_items: bool = True
) -> OrderPage:
    conditions = listing.filters(
        ctx.tenant_id, query, ctx.principal.tenant_timezone, ctx.db.dialect
    )
    statement = listing.page_statement(conditions, query)
    if with_items:
        statement = statement.options(selectinload(Order.items))
    async with ctx.db.reader() as session:
        orders = list(await session.scalars(statement))
        if len(orders) < query.limit and (orders or query.page == 1):
            # The last page tells the total without counting again.
            total = query.offset + len(orders)
        else:
            total = await session.scalar(listing.count_statement(conditions)) or 0
    return OrderPage(orders=orders, total=total, page=query.page, limit=query.limit)
