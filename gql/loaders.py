"""Per-request DataLoaders: a page of orders loads its items, history and timelines in
one query each, whatever the page size."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from db.models import OrderItem, TimelineEvent
from gql.resolvers import timeline

if TYPE_CHECKING:
    from gql.context import RequestContext

Row = TypeVar("Row")


async def items_of(session: AsyncSession, order_ids: list[str]) -> dict[str, list[OrderItem]]:
    grouped: dict[str, list[OrderItem]] = {order_id: [] for order_id in order_ids}
    rows = await session.scalars(
        select(OrderItem)
        .where(OrderItem.order_id.in_(order_ids))
        .order_by(OrderItem.order_id, OrderItem.position)
    )
    for row in rows:
        grouped[row.order_id].append(row)
    return grouped


class Loaders:
    def __init__(self, ctx: RequestContext) -> None:
        self.items: DataLoader[str, list[OrderItem]] = self._grouped(ctx, items_of)
        self.history: DataLoader[str, list[TimelineEvent]] = self._grouped(ctx, timeline.history_of)
        self.timeline: DataLoader[str, list[TimelineEvent]] = self._grouped(ctx, timeline.events_of)

    @staticmethod
    def _grouped(
        ctx: RequestContext,
        fetch: Callable[[AsyncSession, list[str]], Awaitable[dict[str, list[Row]]]],
    ) -> DataLoader[str, list[Row]]:
        async def batch(order_ids: Sequence[str]) -> list[list[Row]]:
            # Each batch gets its own session: sibling fields resolve concurrently.
            async with ctx.db.reader() as session:
                grouped = await fetch(session, list(order_ids))
            return [grouped[order_id] for order_id in order_ids]

        return DataLoader(load_fn=batch)
