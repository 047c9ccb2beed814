"""Sales statistics (SPEC §8), aggregated in SQL over an index range of ``created_at``.

A window is resolved in the tenant's (or the asked) time zone: ``daily`` is today,
``weekly`` the current ISO week from Monday, ``monthly`` the current month; explicit
``startDate``/``endDate`` follow the list filters' rules; nothing at all means all time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, select, type_coerce

from db.models import Order
from db.types import Money
from gql.context import RequestContext
from gql.errors import ValidationError
from gql.resolvers import clock
from gql.resolvers.statuses import STATUSES
from gql.resolvers.timestamps import parse_date_or_datetime, window_end, window_start, zone

PERIODS = ("daily", "weekly", "monthly")
STATS_PARAMS = frozenset({"period", "startDate", "endDate", "timezone"})
# Orders in these statuses count as orders but bring no revenue.
NON_REVENUE_STATUSES = ("cancelled", "refunded")
CENT = Decimal("0.01")
# Longer explicit ranges are charted per month instead of per day.
MAX_DAILY_BUCKETS = 62
MAX_MONTHLY_BUCKETS = 1200

Granularity = Literal["day", "month"]


@dataclass(frozen=True)
class StatsWindow:
    start: datetime | None  # inclusive, UTC; None: since the beginning
    end: datetime | None  # exclusive, UTC; None: until now and beyond
    tz: ZoneInfo


@dataclass(frozen=True)
class StatsSummary:
    window: StatsWindow
    total_orders: int
    revenue: Decimal
    average_order_value: Decimal
    orders_by_status: dict[str, int]


@dataclass(frozen=True)
class StatsBucket:
    start: datetime
    total_orders: int
    revenue: Decimal


def parse_stats_params(params: Mapping[str, str]) -> dict[str, Any]:
    """REST query parameters as keyword arguments of ``resolve_window``."""
    unknown = sorted(set(params) - STATS_PARAMS)
    if unknown:
        raise ValidationError(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            {"fields": unknown, "allowed": sorted(STATS_PARAMS)},
        )
    dates = {
        key: parse_date_or_datetime(params[name], name)
        for key, name in (("start", "startDate"), ("end", "endDate"))
        if params.get(name, "").strip()
    }
    return {"period": params.get("period") or None, "timezone": params.get("timezone"), **dates}


def resolve_window(
    ctx: RequestContext,
    *,
    period: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    timezone: str | None = None,
) -> StatsWindow:
    tz = zone(timezone.strip() if timezone and timezone.strip() else ctx.principal.tenant_timezone)
    if period is not None:
        kind = period.strip().lower()
        if kind not in PERIODS:
            raise ValidationError(
                f"Invalid period {period!r}. Allowed: {', '.join(PERIODS)}",
                {"field": "period", "allowed": list(PERIODS)},
            )
        if start is not None or end is not None:
            raise ValidationError(
                "Give either period or startDate/endDate, not both", {"field": "period"}
            )
        return _current_period(kind, tz)
    window = StatsWindow(
        start=window_start(start, tz) if start is not None else None,
        end=window_end(end, tz) if end is not None else None,
        tz=tz,
    )
    if window.start and window.end and window.start >= window.end:
        raise ValidationError("startDate must be before endDate", {"field": "startDate"})
    return window


def _current_period(kind: str, tz: ZoneInfo) -> StatsWindow:
    today = clock.now().astimezone(tz).date()
    if kind == "daily":
        first, after = today, today + timedelta(days=1)
    elif kind == "weekly":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = _next_month(first)
    return StatsWindow(start=_midnight(first, tz), end=_midnight(after, tz), tz=tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _conditions(tenant_id: str, window: StatsWindow) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Order.tenant_id == tenant_id]
    if window.start is not None:
        conditions.append(Order.created_at >= window.start)
    if window.end is not None:
        conditions.append(Order.created_at < window.end)
    return conditions


def revenue_sum() -> ColumnElement[Decimal]:
    earning = case((Order.status.in_(NON_REVENUE_STATUSES), 0), else_=Order.final_amount)
    return type_coerce(func.coalesce(func.sum(earning), 0), Money())


async def order_stats(ctx: RequestContext, window: StatsWindow) -> StatsSummary:
    """Totals for the window: one grouped query, exact integer sums."""
    statement = (
        select(Order.status, func.count(), revenue_sum())
        .where(and_(*_conditions(ctx.tenant_id, window)))
        .group_by(Order.status)
    )
    async with ctx.db.reader() as session:
        rows = (await session.execute(statement)).all()
    by_status = dict.fromkeys(STATUSES, 0)
    revenue = Decimal("0.00")
    for status, count, earned in rows:
        by_status[status] = count
        revenue += earned
    total = sum(by_status.values())
    earning_orders = total - sum(by_status[status] for status in NON_REVENUE_STATUSES)
    average = (
        (revenue / earning_orders).quantize(CENT, ROUND_HALF_UP) if earning_orders else CENT * 0
    )
    return StatsSummary(
        window=window,
        total_orders=total,
        revenue=revenue.quantize(CENT),
        average_order_value=average,
        orders_by_status=by_status,
    )


async def stats_series(ctx: RequestContext, window: StatsWindow) -> list[StatsBucket]:
    """Per-day (or, for ranges over ``MAX_DAILY_BUCKETS`` days, per-month) buckets of the
    window in its time zone, empty ones included, so that they add up to the totals."""
    start, end = window.start, window.end
    all_time = start is None and end is None
    if start is None or end is None:
        first, last = await _span(ctx, window)
        if first is None or last is None:
            return []
        start = start or _midnight(first.astimezone(window.tz).date().replace(day=1), window.tz)
        end = end or last + timedelta(microseconds=1)
    starts = _bucket_starts(start, end, window.tz, by_month=all_time)
    bucket: ColumnElement[int] = (
        case(
            *((Order.created_at < bound, index) for index, bound in enumerate(starts[1:])),
            else_=len(starts) - 1,
        )
        if len(starts) > 1
        else literal(0)  # CASE needs at least one WHEN
    )
    statement = (
        select(bucket.label("bucket"), func.count(), revenue_sum())
        .where(and_(*_conditions(ctx.tenant_id, StatsWindow(start, end, window.tz))))
        .group_by(bucket)
    )
    async with ctx.db.reader() as session:
        found = {
            index: (count, earned) for index, count, earned in await session.execute(statement)
        }
    return [
        StatsBucket(
            start=moment,
            total_orders=found.get(index, (0, 0))[0],
            revenue=Decimal(found.get(index, (0, Decimal(0)))[1]).quantize(CENT),
        )
        for index, moment in enumerate(starts)
    ]


async def _span(
    ctx: RequestContext, window: StatsWindow
) -> tuple[datetime | None, datetime | None]:
    statement = select(func.min(Order.created_at), func.max(Order.created_at)).where(
        and_(*_conditions(ctx.tenant_id, window))
    )
    async with ctx.db.reader() as session:
        first, last = (await session.execute(statement)).one()
    return first, last


def _bucket_starts(
    start: datetime, end: datetime, tz: ZoneInfo, *, by_month: bool = False
) -> list[datetime]:
    """UTC instants where each bucket begins: local midnights (or month starts)."""
    first_day = start.astimezone(tz).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    short = (last_day - first_day).days < MAX_DAILY_BUCKETS
    granularity: Granularity = "day" if short and not by_month else "month"
    months = (last_day.year - first_day.year) * 12 + last_day.month - first_day.month + 1
    if granularity == "month" and months > MAX_MONTHLY_BUCKETS:
        # One bucket is one CASE branch: the request must not choose the query's size.
        raise ValidationError(
            f"A series covers at most {MAX_MONTHLY_BUCKETS // 12} years; narrow startDate/endDate",
            {"field": "startDate"},
        )
    starts = [start]
    day = first_day.replace(day=1) if granularity == "month" else first_day
    while True:
        try:
            day = _next_month(day) if granularity == "month" else day + timedelta(days=1)
            moment = _midnight(day, tz)
        except (ValueError, OverflowError):  # past year 9999: the window ends there
            return starts
        if moment >= end:
            return starts
        starts.append(moment)
