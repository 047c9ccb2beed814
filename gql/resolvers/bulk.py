"""Bulk create: up to ``MAX_ORDERS`` orders in one request, each validated on its own.

Valid orders are written ``CHUNK`` at a time, one transaction and a handful of
multi-row INSERTs per chunk (orders, items, events), not a round trip per order. Each
result names its input index: the created order, or the error envelope it got.
``atomic`` makes it all or nothing: any invalid or duplicate order fails the whole request
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.bulk_insert import insert_rows
from db.models import Order, OrderItem, TimelineEvent
from gql.context import RequestContext
from gql.errors import ConflictError, DomainError, ValidationError
from gql.resolvers import clock, idempotency, timeline, webhooks
from gql.resolvers.identifiers import new_reference_id
from gql.resolvers.orders import conflict_with, order_values, search_text
from gql.resolvers.validation import NewOrder, parse_new_order

MAX_ORDERS = 1000
CHUNK = 500


@dataclass(frozen=True)
class BulkResult:
    index: int
    order_id: str | None = None
    reference_id: str | None = None
    error: DomainError | None = None


@dataclass
class _Pending:
    index: int
    new: NewOrder
    values: dict[str, Any]


def _error_from(envelope: dict[str, Any]) -> DomainError:
    error = DomainError(envelope["message"], envelope.get("details"))
    error.code = envelope["code"]  # type: ignore[misc]  # rebuilt for replays only
    return error


async def bulk_create(
    ctx: RequestContext,
    orders: Any,
    *,
    atomic: bool = False,
    idempotency_key: str | None = None,
) -> idempotency.Outcome[list[BulkResult]]:
    if not isinstance(orders, list) or not orders:
        raise ValidationError("orders must be a non-empty list of orders", {"field": "orders"})
    if len(orders) > MAX_ORDERS:
        raise ValidationError(
            f"orders may hold at most {MAX_ORDERS} orders per request", {"field": "orders"}
        )
    results, pending = _validate(ctx, orders)
    if atomic and len(pending) < len(orders):
        only_conflicts = all(isinstance(r.error, ConflictError) for r in results)
        raise (ConflictError if only_conflicts else ValidationError)(
            f"{len(orders) - len(pending)} of {len(orders)} orders are invalid or duplicates; "
            "none were created (atomic)",
            {"errors": [{"index": r.index, "error": r.error.body()} for r in results if r.error]},
        )

    async def work(claim: idempotency.Claim | None) -> list[BulkResult]:
        if atomic:  # here every order is valid: ``results`` is empty
            return await _write_atomic(ctx, pending, claim)
        return await _write_chunks(ctx, pending, claim, invalid=results)

    async def recall(stored: dict[str, Any]) -> list[BulkResult]:
        return [
            BulkResult(
                index=item["index"],
                order_id=item.get("orderId"),
                reference_id=item.get("referenceId"),
                error=_error_from(item["error"]) if "error" in item else None,
            )
            for item in stored["results"]
        ]

    return await idempotency.run_once(
        ctx, idempotency_key, "bulkCreateOrders", {"orders": orders, "atomic": atomic}, work, recall
    )


def _validate(ctx: RequestContext, orders: list[Any]) -> tuple[list[BulkResult], list[_Pending]]:
    """Invalid orders become results now; valid ones wait to be written. A later order
    repeating an earlier one's referenceId or external order is a conflict."""
    at = clock.now()
    failed: list[BulkResult] = []
    pending: list[_Pending] = []
    seen: dict[tuple[str, ...], int] = {}
    pending_by_index: dict[int, _Pending] = {}
    for index, payload in enumerate(orders):
        try:
            if not isinstance(payload, dict):
                raise ValidationError(f"orders[{index}] must be a JSON object", {"index": index})
            new = parse_new_order(payload)
        except DomainError as error:
            failed.append(BulkResult(index=index, error=error))
            continue
        values = order_values(ctx.tenant_id, new, at)
        while new.reference_id is None and ("ref", values["reference_id"]) in seen:
            values["reference_id"] = new_reference_id(at)  # generated ones may clash
            values["search_text"] = search_text(SimpleNamespace(**values))
        keys = _identity_keys(values)
        clash = next((seen[key] for key in keys if key in seen), None)
        if clash is not None:
            earlier = pending_by_index[clash].values
            failed.append(
                BulkResult(
                    index=index,
                    error=ConflictError(
                        f"Order repeats the referenceId or external order of order {clash} "
                        "in this request",
                        {
                            "index": clash,
                            "orderId": earlier["id"],
                            "referenceId": earlier["reference_id"],
                        },
                    ),
                )
            )
            continue
        seen.update(dict.fromkeys(keys, index))
        pending.append(_Pending(index, new, values))
        pending_by_index[index] = pending[-1]
    return failed, pending


def _identity_keys(values: dict[str, Any]) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = [("ref", values["reference_id"])]
    if values["external_order_source"] is not None and values["external_order_id"] is not None:
        keys.append(("ext", values["external_order_source"], values["external_order_id"]))
    return keys


async def _existing(
    session: AsyncSession, ctx: RequestContext, chunk: Sequence[_Pending]
) -> dict[tuple[str, ...], tuple[str, str]]:
    """Which identity keys of ``chunk`` are already taken, and by which order."""
    references = [p.values["reference_id"] for p in chunk]
    externals = [
        (p.values["external_order_source"], p.values["external_order_id"])
        for p in chunk
        if p.values["external_order_source"] is not None
        and p.values["external_order_id"] is not None
    ]
    columns = (Order.id, Order.reference_id, Order.external_order_source, Order.external_order_id)
    # Two index lookups rather than one OR of two IN lists, which PostgreSQL answers with
    # a scan of the tenant's orders.
    rows = list(
        await session.execute(
            select(*columns).where(
                Order.tenant_id == ctx.tenant_id, Order.reference_id.in_(references)
            )
        )
    )
    if externals:
        wanted = set(externals)
        candidates = await session.execute(
            select(*columns).where(
                Order.tenant_id == ctx.tenant_id,
                Order.external_order_source.in_({source for source, _ in externals}),
                Order.external_order_id.in_([external_id for _, external_id in externals]),
            )
        )
        rows.extend(row for row in candidates if (row[2], row[3]) in wanted)
    taken: dict[tuple[str, ...], tuple[str, str]] = {}
    for order_id, reference_id, source, external_id in rows:
        taken[("ref", reference_id)] = (order_id, reference_id)
        if source is not None and external_id is not None:
            taken[("ext", source, external_id)] = (order_id, reference_id)
    return taken


async def _taken(
    session: AsyncSession, ctx: RequestContext, chunk: Sequence[_Pending]
) -> dict[tuple[str, ...], tuple[str, str]]:
    """``_existing``, after giving any *generated* referenceId that is taken a new one."""
    for _ in range(5):
        taken = await _existing(session, ctx, chunk)
        clashing = [
            p
            for p in chunk
            if p.new.reference_id is None and ("ref", p.values["reference_id"]) in taken
        ]
        if not clashing:
            return taken
        for pending in clashing:
            pending.values["reference_id"] = new_reference_id(clock.now())
            pending.values["search_text"] = search_text(SimpleNamespace(**pending.values))
    return taken


def _duplicate(
    pending: _Pending, taken: dict[tuple[str, ...], tuple[str, str]]
) -> BulkResult | None:
    for key in _identity_keys(pending.values):
        if key in taken:
            order_id, reference_id = taken[key]
            if key[0] == "ref":
                error = conflict_with(order_id, reference_id, reference_id=key[1])
            else:
                error = conflict_with(order_id, reference_id, external=(key[1], key[2]))
            return BulkResult(index=pending.index, error=error)
    return None


async def _insert(session: AsyncSession, ctx: RequestContext, chunk: Sequence[_Pending]) -> None:
    """Three multi-row INSERTs for the whole chunk."""
    at = clock.now()
    orders: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for pending in chunk:
        values = dict(pending.values)
        # The same event builders as a single create; a plain namespace, because mapped
        # instances cost ~0.1 ms each to build and these are never persisted.
        order = cast(Order, SimpleNamespace(**values))
        first = [timeline.order_created(order)]
        if timeline.is_paid(order.payment_status):
            first.append(timeline.payment_received(order))
        for seq, event in enumerate(first, start=1):
            events.append(
                {
                    "order_id": order.id,
                    "seq": seq,
                    "title": event.title,
                    "description": event.description,
                    "type": event.type,
                    "metadata_": event.metadata,
                    "actor": ctx.actor,
                    "status": event.status,
                    "created_at": at,
                }
            )
        values["timeline_seq"] = len(first)
        orders.append(values)
        items.extend(
            {
                "order_id": values["id"],
                "position": position,
                "product_retailer_id": item.product_retailer_id,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "price": item.price,
            }
            for position, item in enumerate(pending.new.items)
        )
    # Straight to the driver (attribute names as keys): the ORM bulk path asks for generated
    # keys back, and Core's executemany re-processes every parameter; see db.bulk_insert.
    await insert_rows(session, Order, orders)
    await insert_rows(session, OrderItem, items)
    await insert_rows(session, TimelineEvent, events)
    await webhooks.enqueue(session, ctx.tenant_id, _as_orders(chunk), ["order.created"])


def _as_orders(chunk: Sequence[_Pending]) -> Iterator[Order]:
    """Read-only stand-ins with the attributes the REST shape reads (webhook payloads),
    built only if the tenant has a webhook endpoint to send them to."""
    for p in chunk:
        # ItemInput has the attributes item_json reads
        yield cast(Order, SimpleNamespace(**p.values, items=p.new.items))


def _created(chunk: Sequence[_Pending]) -> list[BulkResult]:
    return [
        BulkResult(p.index, order_id=p.values["id"], reference_id=p.values["reference_id"])
        for p in chunk
    ]


def _stored(results: list[BulkResult]) -> dict[str, Any]:
    return {
        "results": [
            {"index": r.index, "error": r.error.body()}
            if r.error
            else {"index": r.index, "orderId": r.order_id, "referenceId": r.reference_id}
            for r in results
        ]
    }


async def _write_atomic(
    ctx: RequestContext, pending: list[_Pending], claim: idempotency.Claim | None
) -> list[BulkResult]:
    async with ctx.db.writer() as session, session.begin():
        taken: dict[tuple[str, ...], tuple[str, str]] = {}
        for start in range(0, len(pending), CHUNK):
            taken.update(await _taken(session, ctx, pending[start : start + CHUNK]))
        conflicts = [d for p in pending if (d := _duplicate(p, taken))]
        if conflicts:
            raise ConflictError(
                f"{len(conflicts)} orders already exist; none were created (atomic)",
                {
                    "errors": [
                        {"index": c.index, "error": c.error.body()} for c in conflicts if c.error
                    ]
                },
            )
        for start in range(0, len(pending), CHUNK):
            await _insert(session, ctx, pending[start : start + CHUNK])
        created = _created(pending)
        await idempotency.complete(session, ctx, claim, _stored(created))
    return created


async def _write_chunks(
    ctx: RequestContext,
    pending: list[_Pending],
    claim: idempotency.Claim | None,
    invalid: list[BulkResult],
) -> list[BulkResult]:
    """Write chunk by chunk, one transaction each; the answer holds every index, the
    invalid orders' errors included.

    With an idempotency key every chunk goes into ONE transaction with the key's
    completion: a retry after a failure half-way must find either nothing written or
    everything written, never some chunks without the key that would replay them.
    """
    results = list(invalid)
    if claim is None:
        for start in range(0, len(pending), CHUNK):
            results.extend(await _write_chunk(ctx, pending[start : start + CHUNK]))
    else:
        try:
            async with ctx.db.writer() as session, session.begin():
                for start in range(0, len(pending), CHUNK):
                    chunk = pending[start : start + CHUNK]
                    taken = await _taken(session, ctx, chunk)
                    duplicates = [d for p in chunk if (d := _duplicate(p, taken))]
                    clashing = {d.index for d in duplicates}
                    fresh = [p for p in chunk if p.index not in clashing]
                    if fresh:
                        await _insert(session, ctx, fresh)
                    results.extend([*duplicates, *_created(fresh)])
                results.sort(key=lambda result: result.index)
                await idempotency.complete(session, ctx, claim, _stored(results))
        except IntegrityError:
            raise ConflictError(
                "An order clashed with a concurrent write; nothing was created. Retry."
            ) from None
    results.sort(key=lambda result: result.index)
    return results


async def _write_chunk(ctx: RequestContext, chunk: list[_Pending]) -> list[BulkResult]:
    try:
        async with ctx.db.writer() as session, session.begin():
            taken = await _taken(session, ctx, chunk)
            duplicates = [d for p in chunk if (d := _duplicate(p, taken))]
            fresh = [p for p in chunk if not any(d.index == p.index for d in duplicates)]
            if fresh:
                await _insert(session, ctx, fresh)
        return [*duplicates, *_created(fresh)]
    except IntegrityError:
        # A concurrent writer took an id between our check and our insert (PostgreSQL):
        # write this chunk one order at a time, so only the clashing ones fail.
        if len(chunk) == 1:
            async with ctx.db.reader() as session:
                taken = await _existing(session, ctx, chunk)
            return [
                _duplicate(chunk[0], taken)
                or BulkResult(
                    chunk[0].index,
                    error=ConflictError("The order clashed with a concurrent write; retry it"),
                )
            ]
        results: list[BulkResult] = []
        for pending in chunk:
            results.extend(await _write_chunk(ctx, [pending]))
        return results
