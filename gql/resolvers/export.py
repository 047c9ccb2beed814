"""CSV export (SPEC §9): the list's filters and sort, streamed from the database in
chunks so memory stays flat however many orders match."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, select

from db.models import Order
from gql.context import RequestContext
from gql.resolvers import clock, listing
from gql.resolvers.timestamps import format_utc, zone

HEADER = (
    "Order ID",
    "Reference ID",
    "Customer Name",
    "Mobile",
    "Status",
    "Amount",
    "Created Date",
    "Updated Date",
)
CHUNK_ROWS = 1000

# A cell a spreadsheet would run as a formula starts with one of these...
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is a plain number, such as the mobile "+919876543210" or "-12.50".
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def safe_cell(value: str) -> str:
    """``value`` with a leading ``'`` if a spreadsheet would otherwise run it as a formula."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def export_filename(ctx: RequestContext) -> str:
    today: date = clock.now().astimezone(zone(ctx.principal.tenant_timezone)).date()
    return f"orders-{today.isoformat()}.csv"


def _row(order: Any) -> list[str]:
    return [
        order.id,
        safe_cell(order.reference_id),
        safe_cell(order.name or ""),
        safe_cell(order.mobile),
        order.status,
        f"{order.final_amount:.2f}",
        format_utc(order.created_at),
        format_utc(order.updated_at),
    ]


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def export_csv(ctx: RequestContext, query: listing.OrderListQuery) -> AsyncIterator[str]:
    """The CSV text, header first, one chunk of ``CHUNK_ROWS`` orders at a time.

    Filters are checked before the first chunk is produced, so a bad parameter is still an
    ordinary 400. Rows come through a server-side cursor (``yield_per``) as plain tuples:
    nothing accumulates in an identity map.
    """
    conditions = listing.filters(
        ctx.tenant_id, query, ctx.principal.tenant_timezone, ctx.db.dialect
    )
    statement = (
        select(
            Order.id,
            Order.reference_id,
            Order.name,
            Order.mobile,
            Order.status,
            Order.final_amount,
            Order.created_at,
            Order.updated_at,
        )
        .where(and_(*conditions))
        .order_by(*listing.ordering(query))
        .execution_options(yield_per=CHUNK_ROWS)
    )

    async def chunks() -> AsyncIterator[str]:
        yield _csv_text([list(HEADER)])
        async with ctx.db.reader() as session:
            result = await session.stream(statement)
            async for partition in result.partitions(CHUNK_ROWS):
                yield _csv_text(_row(order) for order in partition)

    return chunks()
