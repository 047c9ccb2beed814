"""Statistics (SPEC §8): GET /v1/orders/stats and GraphQL ``orderStats``.

Every expected number is computed by hand from the orders each test creates at fixed
instants (the service clock is replaced). Asia/Kolkata is UTC+05:30 all year, so its local
midnight is 18:30 UTC of the day before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from db.engine import Database
from tests.conftest import Tenant, new_tenant
from tests.contract import BAD_END_DATE, BAD_START_DATE, START_AFTER_END, STATUSES
from tests.http_helpers import SetClock, at, clock_setter

STATS_FIELDS = {"totalOrders", "revenue", "averageOrderValue", "period", "ordersByStatus"}

TOTALS_QUERY = """
query Stats($period: StatsPeriod, $startDate: DateTime, $endDate: DateTime, $timezone: String) {
  orderStats(period: $period, startDate: $startDate, endDate: $endDate, timezone: $timezone) {
    totalOrders
    revenue
    averageOrderValue
    period { start end }
    ordersByStatus { status count }
  }
}
"""
STATS_QUERY = TOTALS_QUERY.replace(
    "ordersByStatus { status count }",
    "ordersByStatus { status count }\n    series { start totalOrders revenue }",
)

Params = dict[str, str]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_status(**counts: int) -> dict[str, int]:
    """All eight statuses with ``counts`` and 0 for the rest."""
    assert set(counts) <= set(STATUSES)
    return {status: counts.get(status, 0) for status in STATUSES}


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> SetClock:
    return clock_setter(monkeypatch)


@pytest.fixture
async def kolkata(db: Database, client: httpx.AsyncClient) -> Tenant:
    return await new_tenant(db, client, timezone="Asia/Kolkata")


async def order_at(
    tenant: Tenant,
    set_clock: SetClock,
    when: str,
    amount: str = "10.00",
    status: str = "pending",
) -> dict[str, Any]:
    """An order created at ``when`` (UTC) with ``final_amount`` ``amount`` in ``status``."""
    set_clock(at(when))
    order = await tenant.create_order(final_amount=amount, status=status)
    assert order["created_at"] == iso(at(when))
    return order


async def rest_stats(tenant: Tenant, params: Params | None = None) -> dict[str, Any]:
    """The REST statistics, numbers read as exact decimals (a float sum would show)."""
    response = await tenant.get("/v1/orders/stats", params=params or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    assert set(body) == STATS_FIELDS
    return body


async def graphql_stats(
    tenant: Tenant, *, series: bool = True, **variables: str | None
) -> dict[str, Any]:
    """GraphQL ``orderStats`` (with its ``series`` unless told otherwise); ``None``
    arguments are left out."""
    given = {name: value for name, value in variables.items() if value is not None}
    body = await tenant.graphql(STATS_QUERY if series else TOTALS_QUERY, given)
    assert "errors" not in body, body
    stats: dict[str, Any] = body["data"]["orderStats"]
    return stats


def assert_rest_totals(
    body: dict[str, Any],
    *,
    total: int,
    revenue: str,
    average: str,
    start: str | None,
    end: str | None,
    statuses: dict[str, int],
) -> None:
    assert body["totalOrders"] == total
    assert isinstance(body["totalOrders"], int)
    assert body["revenue"] == Decimal(revenue), body
    assert body["averageOrderValue"] == Decimal(average), body
    assert body["period"] == {"start": start, "end": end}
    assert body["ordersByStatus"] == statuses
    assert list(body["ordersByStatus"]) == list(STATUSES)


def assert_graphql_totals(
    stats: dict[str, Any],
    *,
    total: int,
    revenue: str,
    average: str,
    start: str | None,
    end: str | None,
    statuses: dict[str, int],
) -> None:
    assert stats["totalOrders"] == total
    assert stats["revenue"] == revenue
    assert stats["averageOrderValue"] == average
    assert stats["period"] == {"start": start, "end": end}
    counts = {entry["status"]: entry["count"] for entry in stats["ordersByStatus"]}
    assert len(stats["ordersByStatus"]) == len(STATUSES)
    assert counts == {status.upper(): count for status, count in statuses.items()}


def assert_series_adds_up(stats: dict[str, Any]) -> None:
    """The buckets' orders and revenue add up exactly to the totals."""
    series = stats["series"]
    assert sum(bucket["totalOrders"] for bucket in series) == stats["totalOrders"]
    revenue = sum((Decimal(bucket["revenue"]) for bucket in series), Decimal("0.00"))
    assert f"{revenue:.2f}" == stats["revenue"]
    starts = [bucket["start"] for bucket in series]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)


def daily_starts(first: datetime, count: int) -> list[str]:
    return [iso(first + timedelta(days=n)) for n in range(count)]


def buckets(starts: Sequence[str], found: dict[str, tuple[int, str]]) -> list[dict[str, Any]]:
    """The expected series: every start, with ``found`` (orders, revenue) or zeros."""
    assert set(found) <= set(starts)
    return [
        {
            "start": start,
            "totalOrders": found.get(start, (0, "0.00"))[0],
            "revenue": found.get(start, (0, "0.00"))[1],
        }
        for start in starts
    ]


# --- periods on hand-computed fixtures ----------------------------------------------------


async def seed_june(tenant: Tenant, set_clock: SetClock) -> None:
    """June 2024 (UTC): three revenue orders (100.00 + 50.00 + 33.33), one cancelled and
    one refunded, and an order on each side of the month that must not count."""
    await order_at(tenant, set_clock, "2024-05-31T23:59:59", "1000.00")
    await order_at(tenant, set_clock, "2024-06-01T00:00:00", "100.00")
    await order_at(tenant, set_clock, "2024-06-05T09:00:00", "500.00", "cancelled")
    await order_at(tenant, set_clock, "2024-06-10T12:00:00", "50.00", "completed")
    await order_at(tenant, set_clock, "2024-06-12T08:00:00", "70.00", "refunded")
    await order_at(tenant, set_clock, "2024-06-30T23:59:59", "33.33", "delivered")
    await order_at(tenant, set_clock, "2024-07-01T00:00:00", "2000.00")


JUNE_STATUSES = by_status(pending=1, cancelled=1, completed=1, refunded=1, delivered=1)


async def test_monthly_rest_counts_cancelled_and_refunded_but_excludes_their_revenue(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_june(tenant, set_clock)
    set_clock(at("2024-06-15T12:00:00"))

    body = await rest_stats(tenant, {"period": "monthly"})

    # revenue 100.00 + 50.00 + 33.33 = 183.33 over 3 revenue orders = 61.11
    assert_rest_totals(
        body,
        total=5,
        revenue="183.33",
        average="61.11",
        start="2024-06-01T00:00:00Z",
        end="2024-06-30T23:59:59Z",
        statuses=JUNE_STATUSES,
    )


async def test_monthly_graphql_totals_and_a_bucket_per_day(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_june(tenant, set_clock)
    set_clock(at("2024-06-15T12:00:00"))

    stats = await graphql_stats(tenant, period="MONTHLY")

    assert_graphql_totals(
        stats,
        total=5,
        revenue="183.33",
        average="61.11",
        start="2024-06-01T00:00:00Z",
        end="2024-06-30T23:59:59Z",
        statuses=JUNE_STATUSES,
    )
    starts = daily_starts(at("2024-06-01T00:00:00"), 30)
    assert stats["series"] == buckets(
        starts,
        {
            "2024-06-01T00:00:00Z": (1, "100.00"),
            "2024-06-05T00:00:00Z": (1, "0.00"),
            "2024-06-10T00:00:00Z": (1, "50.00"),
            "2024-06-12T00:00:00Z": (1, "0.00"),
            "2024-06-30T00:00:00Z": (1, "33.33"),
        },
    )
    assert_series_adds_up(stats)


async def test_no_parameters_is_all_time_with_null_period(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_june(tenant, set_clock)
    set_clock(at("2024-06-15T12:00:00"))

    body = await rest_stats(tenant)

    # 1000.00 + 100.00 + 50.00 + 33.33 + 2000.00 = 3183.33 over 5 revenue orders = 636.67
    assert_rest_totals(
        body,
        total=7,
        revenue="3183.33",
        average="636.67",
        start=None,
        end=None,
        statuses={**JUNE_STATUSES, "pending": 3},
    )


async def test_all_time_graphql_series_is_per_month_from_first_to_last_order(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_june(tenant, set_clock)
    set_clock(at("2024-09-15T12:00:00"))

    stats = await graphql_stats(tenant)

    assert_graphql_totals(
        stats,
        total=7,
        revenue="3183.33",
        average="636.67",
        start=None,
        end=None,
        statuses={**JUNE_STATUSES, "pending": 3},
    )
    assert stats["series"] == [
        {"start": "2024-05-01T00:00:00Z", "totalOrders": 1, "revenue": "1000.00"},
        {"start": "2024-06-01T00:00:00Z", "totalOrders": 5, "revenue": "183.33"},
        {"start": "2024-07-01T00:00:00Z", "totalOrders": 1, "revenue": "2000.00"},
    ]
    assert_series_adds_up(stats)


async def test_all_time_series_months_start_at_local_midnight_and_include_empty_months(
    kolkata: Tenant, set_clock: SetClock
) -> None:
    # 2024-01-31T18:29Z is Jan 31 23:59 in Kolkata; 18:30Z is Feb 1 00:00 there.
    await order_at(kolkata, set_clock, "2024-01-31T18:29:00", "1.00")
    await order_at(kolkata, set_clock, "2024-01-31T18:30:00", "2.00")
    await order_at(kolkata, set_clock, "2024-04-10T10:00:00", "4.00")

    stats = await graphql_stats(kolkata)

    assert stats["period"] == {"start": None, "end": None}
    assert stats["series"] == [
        {"start": "2023-12-31T18:30:00Z", "totalOrders": 1, "revenue": "1.00"},
        {"start": "2024-01-31T18:30:00Z", "totalOrders": 1, "revenue": "2.00"},
        {"start": "2024-02-29T18:30:00Z", "totalOrders": 0, "revenue": "0.00"},
        {"start": "2024-03-31T18:30:00Z", "totalOrders": 1, "revenue": "4.00"},
    ]
    assert_series_adds_up(stats)


async def seed_kolkata_midnights(kolkata: Tenant, set_clock: SetClock) -> None:
    """Orders a minute before and at local midnight, twice (Mar 9/10 and Mar 10/11)."""
    await order_at(kolkata, set_clock, "2024-03-09T18:29:00", "40.00")  # Mar 9 23:59 IST
    await order_at(kolkata, set_clock, "2024-03-09T18:30:00", "10.00")  # Mar 10 00:00 IST
    await order_at(kolkata, set_clock, "2024-03-10T18:29:00", "20.00", "confirmed")  # 23:59
    await order_at(kolkata, set_clock, "2024-03-10T18:30:00", "80.00")  # Mar 11 00:00 IST


@pytest.mark.parametrize(
    ("now", "total", "revenue", "average", "start", "end", "statuses"),
    [
        pytest.param(
            "2024-03-09T12:00:00",  # Mar 9, 17:30 in Kolkata
            1,
            "40.00",
            "40.00",
            "2024-03-08T18:30:00Z",
            "2024-03-09T18:29:59Z",
            by_status(pending=1),
            id="day-before",
        ),
        pytest.param(
            "2024-03-10T12:00:00",  # Mar 10, 17:30 in Kolkata
            2,
            "30.00",
            "15.00",
            "2024-03-09T18:30:00Z",
            "2024-03-10T18:29:59Z",
            by_status(pending=1, confirmed=1),
            id="the-day",
        ),
        pytest.param(
            "2024-03-10T18:30:00",  # Mar 11, 00:00 in Kolkata: a new day
            1,
            "80.00",
            "80.00",
            "2024-03-10T18:30:00Z",
            "2024-03-11T18:29:59Z",
            by_status(pending=1),
            id="day-after",
        ),
    ],
)
async def test_daily_is_the_tenants_local_day(
    kolkata: Tenant,
    set_clock: SetClock,
    now: str,
    total: int,
    revenue: str,
    average: str,
    start: str,
    end: str,
    statuses: dict[str, int],
) -> None:
    await seed_kolkata_midnights(kolkata, set_clock)
    set_clock(at(now))

    body = await rest_stats(kolkata, {"period": "daily"})
    stats = await graphql_stats(kolkata, series=False, period="DAILY")

    expected: dict[str, Any] = {
        "total": total,
        "revenue": revenue,
        "average": average,
        "start": start,
        "end": end,
        "statuses": statuses,
    }
    assert_rest_totals(body, **expected)
    assert_graphql_totals(stats, **expected)


@pytest.mark.parametrize(
    ("timezone", "bucket"),
    [
        pytest.param(
            None,
            {"start": "2024-03-09T18:30:00Z", "totalOrders": 2, "revenue": "30.00"},
            id="tenant-timezone",
        ),
        pytest.param(
            "UTC",
            {"start": "2024-03-10T00:00:00Z", "totalOrders": 2, "revenue": "100.00"},
            id="utc",
        ),
    ],
)
async def test_daily_series_is_one_bucket_from_local_midnight(
    kolkata: Tenant, set_clock: SetClock, timezone: str | None, bucket: dict[str, Any]
) -> None:
    await seed_kolkata_midnights(kolkata, set_clock)
    set_clock(at("2024-03-10T12:00:00"))

    stats = await graphql_stats(kolkata, period="DAILY", timezone=timezone)

    assert stats["series"] == [bucket]
    assert_series_adds_up(stats)


async def test_timezone_parameter_overrides_the_tenants(
    kolkata: Tenant, set_clock: SetClock
) -> None:
    await seed_kolkata_midnights(kolkata, set_clock)
    set_clock(at("2024-03-10T12:00:00"))

    # The UTC day of March 10 holds the 18:29 and 18:30 orders (20.00 + 80.00).
    body = await rest_stats(kolkata, {"period": "daily", "timezone": "UTC"})
    stats = await graphql_stats(kolkata, series=False, period="DAILY", timezone="UTC")

    expected: dict[str, Any] = {
        "total": 2,
        "revenue": "100.00",
        "average": "50.00",
        "start": "2024-03-10T00:00:00Z",
        "end": "2024-03-10T23:59:59Z",
        "statuses": by_status(pending=1, confirmed=1),
    }
    assert_rest_totals(body, **expected)
    assert_graphql_totals(stats, **expected)


async def test_timezone_parameter_applies_to_a_utc_tenant(
    tenant: Tenant, set_clock: SetClock
) -> None:
    # The same instants seen from Kolkata: Mar 10 local holds the 18:30 and next 18:29.
    await seed_kolkata_midnights(tenant, set_clock)
    set_clock(at("2024-03-10T12:00:00"))

    body = await rest_stats(tenant, {"period": "daily", "timezone": "Asia/Kolkata"})

    assert_rest_totals(
        body,
        total=2,
        revenue="30.00",
        average="15.00",
        start="2024-03-09T18:30:00Z",
        end="2024-03-10T18:29:59Z",
        statuses=by_status(pending=1, confirmed=1),
    )


async def seed_kolkata_week(kolkata: Tenant, set_clock: SetClock) -> None:
    """Around the ISO week Mon 2024-06-10 .. Sun 2024-06-16 in Kolkata."""
    await order_at(kolkata, set_clock, "2024-06-09T18:29:00", "1.00")  # Sun Jun 9 23:59
    await order_at(kolkata, set_clock, "2024-06-09T18:30:00", "2.00")  # Mon Jun 10 00:00
    await order_at(kolkata, set_clock, "2024-06-12T10:00:00", "4.00", "cancelled")  # Wed
    await order_at(kolkata, set_clock, "2024-06-16T18:29:00", "8.00", "shipped")  # Sun 23:59
    await order_at(kolkata, set_clock, "2024-06-16T18:30:00", "16.00")  # Mon Jun 17 00:00


async def test_weekly_is_the_local_iso_week_from_monday_midnight(
    kolkata: Tenant, set_clock: SetClock
) -> None:
    await seed_kolkata_week(kolkata, set_clock)
    set_clock(at("2024-06-16T18:00:00"))  # Sunday 23:30 in Kolkata

    body = await rest_stats(kolkata, {"period": "weekly"})
    stats = await graphql_stats(kolkata, period="WEEKLY")

    # Mon 00:00 (2.00), Wed cancelled (4.00), Sun 23:59 (8.00): revenue 10.00 over 2.
    expected: dict[str, Any] = {
        "total": 3,
        "revenue": "10.00",
        "average": "5.00",
        "start": "2024-06-09T18:30:00Z",
        "end": "2024-06-16T18:29:59Z",
        "statuses": by_status(pending=1, cancelled=1, shipped=1),
    }
    assert_rest_totals(body, **expected)
    assert_graphql_totals(stats, **expected)
    starts = daily_starts(at("2024-06-09T18:30:00"), 7)
    assert stats["series"] == buckets(
        starts,
        {
            "2024-06-09T18:30:00Z": (1, "2.00"),
            "2024-06-11T18:30:00Z": (1, "0.00"),
            "2024-06-15T18:30:00Z": (1, "8.00"),
        },
    )
    assert_series_adds_up(stats)


@pytest.mark.parametrize(
    ("now", "total", "revenue", "start", "end"),
    [
        pytest.param(
            "2024-06-09T18:29:59",  # Sun Jun 9 23:59:59 in Kolkata: the week before
            1,
            "1.00",
            "2024-06-02T18:30:00Z",
            "2024-06-09T18:29:59Z",
            id="sunday-last-second",
        ),
        pytest.param(
            "2024-06-16T18:30:00",  # Mon Jun 17 00:00 in Kolkata: a new week
            1,
            "16.00",
            "2024-06-16T18:30:00Z",
            "2024-06-23T18:29:59Z",
            id="monday-midnight",
        ),
    ],
)
async def test_monday_midnight_starts_a_new_week(
    kolkata: Tenant,
    set_clock: SetClock,
    now: str,
    total: int,
    revenue: str,
    start: str,
    end: str,
) -> None:
    await seed_kolkata_week(kolkata, set_clock)
    set_clock(at(now))

    body = await rest_stats(kolkata, {"period": "weekly"})

    assert_rest_totals(
        body,
        total=total,
        revenue=revenue,
        average=revenue,
        start=start,
        end=end,
        statuses=by_status(pending=1),
    )


@pytest.mark.parametrize(
    ("timezone", "before", "after", "june_start", "june_end", "july_start", "july_end"),
    [
        pytest.param(
            "UTC",
            "2024-06-30T23:59:59",
            "2024-07-01T00:00:00",
            "2024-06-01T00:00:00Z",
            "2024-06-30T23:59:59Z",
            "2024-07-01T00:00:00Z",
            "2024-07-31T23:59:59Z",
            id="utc",
        ),
        pytest.param(
            "Asia/Kolkata",
            "2024-06-30T18:29:59",
            "2024-06-30T18:30:00",
            "2024-05-31T18:30:00Z",
            "2024-06-30T18:29:59Z",
            "2024-06-30T18:30:00Z",
            "2024-07-31T18:29:59Z",
            id="kolkata",
        ),
    ],
)
async def test_last_second_of_a_month_and_first_of_the_next(
    db: Database,
    client: httpx.AsyncClient,
    set_clock: SetClock,
    timezone: str,
    before: str,
    after: str,
    june_start: str,
    june_end: str,
    july_start: str,
    july_end: str,
) -> None:
    shop = await new_tenant(db, client, timezone=timezone)
    await order_at(shop, set_clock, before, "5.00")
    await order_at(shop, set_clock, after, "7.00", "completed")

    set_clock(at(before))
    june = await rest_stats(shop, {"period": "monthly"})
    june_graphql = await graphql_stats(shop, period="MONTHLY")
    set_clock(at(after))
    july = await rest_stats(shop, {"period": "monthly"})

    assert_rest_totals(
        june,
        total=1,
        revenue="5.00",
        average="5.00",
        start=june_start,
        end=june_end,
        statuses=by_status(pending=1),
    )
    # The order in the last second of June is in the bucket of June 30 (local midnight).
    june_days = daily_starts(datetime.fromisoformat(june_start), 30)
    assert june_graphql["series"] == buckets(june_days, {june_days[-1]: (1, "5.00")})
    assert_rest_totals(
        july,
        total=1,
        revenue="7.00",
        average="7.00",
        start=july_start,
        end=july_end,
        statuses=by_status(completed=1),
    )


@pytest.mark.parametrize(
    ("params", "now", "start", "end"),
    [
        pytest.param(
            {"period": "daily"},
            "2024-06-15T12:00:00",
            "2024-06-15T00:00:00Z",
            "2024-06-15T23:59:59Z",
            id="daily",
        ),
        pytest.param(
            {"period": "weekly"},
            "2024-06-10T00:00:00",  # a Monday, first second
            "2024-06-10T00:00:00Z",
            "2024-06-16T23:59:59Z",
            id="weekly-monday",
        ),
        pytest.param(
            {"period": "weekly"},
            "2024-06-16T23:59:59",  # the Sunday after, last second
            "2024-06-10T00:00:00Z",
            "2024-06-16T23:59:59Z",
            id="weekly-sunday",
        ),
        pytest.param(
            {"period": "weekly"},
            "2025-01-01T12:00:00",  # ISO week 1 of 2025 starts Monday 2024-12-30
            "2024-12-30T00:00:00Z",
            "2025-01-05T23:59:59Z",
            id="weekly-across-new-year",
        ),
        pytest.param(
            {"period": "monthly"},
            "2024-12-15T12:00:00",
            "2024-12-01T00:00:00Z",
            "2024-12-31T23:59:59Z",
            id="monthly-december",
        ),
        pytest.param(
            {"period": "monthly"},
            "2024-02-10T12:00:00",
            "2024-02-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            id="monthly-leap-february",
        ),
        pytest.param(
            {"period": "daily", "timezone": "America/New_York"},
            "2024-03-10T17:00:00",  # the 23-hour day clocks go forward in New York
            "2024-03-10T05:00:00Z",
            "2024-03-11T03:59:59Z",
            id="daily-dst-change",
        ),
        pytest.param(
            {"period": "monthly", "timezone": "Asia/Kolkata"},
            "2024-06-30T19:00:00",  # July 1, 00:30 in Kolkata
            "2024-06-30T18:30:00Z",
            "2024-07-31T18:29:59Z",
            id="monthly-kolkata",
        ),
        pytest.param(
            {"startDate": "2024-06-01", "endDate": "2024-06-01"},
            "2024-09-01T00:00:00",
            "2024-06-01T00:00:00Z",
            "2024-06-01T23:59:59Z",
            id="one-whole-day",
        ),
        pytest.param(
            {"startDate": "2024-06-01", "endDate": "2024-06-01", "timezone": "Asia/Kolkata"},
            "2024-09-01T00:00:00",
            "2024-05-31T18:30:00Z",
            "2024-06-01T18:29:59Z",
            id="one-whole-local-day",
        ),
        pytest.param(
            {"startDate": "2024-06-01T00:00:00+05:30", "endDate": "2024-06-02T10:15:30Z"},
            "2024-09-01T00:00:00",
            "2024-05-31T18:30:00Z",
            "2024-06-02T10:15:30Z",
            id="date-times-with-offsets",
        ),
        pytest.param(
            {"startDate": "2024-06-01"},
            "2024-09-01T00:00:00",
            "2024-06-01T00:00:00Z",
            None,
            id="open-end",
        ),
        pytest.param(
            {"endDate": "2024-06-30"},
            "2024-09-01T00:00:00",
            None,
            "2024-06-30T23:59:59Z",
            id="open-start",
        ),
    ],
)
async def test_period_window_in_utc(
    tenant: Tenant,
    set_clock: SetClock,
    params: Params,
    now: str,
    start: str | None,
    end: str | None,
) -> None:
    set_clock(at(now))

    body = await rest_stats(tenant, params)
    variables = {key: value.upper() if key == "period" else value for key, value in params.items()}
    stats = await graphql_stats(tenant, series=False, **variables)

    assert body["period"] == {"start": start, "end": end}
    assert stats["period"] == {"start": start, "end": end}
    assert (body["totalOrders"], stats["totalOrders"]) == (0, 0)


# --- explicit dates ----------------------------------------------------------------------


async def seed_first_days_of_june(tenant: Tenant, set_clock: SetClock) -> None:
    await order_at(tenant, set_clock, "2024-05-31T23:59:59", "1.00")
    await order_at(tenant, set_clock, "2024-06-01T00:00:00", "2.00")
    await order_at(tenant, set_clock, "2024-06-03T23:59:59", "4.00", "confirmed")
    await order_at(tenant, set_clock, "2024-06-04T00:00:00", "8.00")


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"startDate": "2024-06-01", "endDate": "2024-06-03"}, id="dates"),
        pytest.param(
            {"startDate": "2024-06-01T00:00:00Z", "endDate": "2024-06-03T23:59:59Z"},
            id="date-times",
        ),
    ],
)
async def test_explicit_range_date_only_end_includes_the_whole_day(
    tenant: Tenant, set_clock: SetClock, params: Params
) -> None:
    await seed_first_days_of_june(tenant, set_clock)
    set_clock(at("2024-08-01T00:00:00"))

    body = await rest_stats(tenant, params)
    stats = await graphql_stats(tenant, startDate=params["startDate"], endDate=params["endDate"])

    expected: dict[str, Any] = {
        "total": 2,
        "revenue": "6.00",
        "average": "3.00",
        "start": "2024-06-01T00:00:00Z",
        "end": "2024-06-03T23:59:59Z",
        "statuses": by_status(pending=1, confirmed=1),
    }
    assert_rest_totals(body, **expected)
    assert_graphql_totals(stats, **expected)
    assert stats["series"] == [
        {"start": "2024-06-01T00:00:00Z", "totalOrders": 1, "revenue": "2.00"},
        {"start": "2024-06-02T00:00:00Z", "totalOrders": 0, "revenue": "0.00"},
        {"start": "2024-06-03T00:00:00Z", "totalOrders": 1, "revenue": "4.00"},
    ]


async def test_explicit_range_with_only_one_bound(tenant: Tenant, set_clock: SetClock) -> None:
    await seed_first_days_of_june(tenant, set_clock)
    set_clock(at("2024-08-01T00:00:00"))

    since = await rest_stats(tenant, {"startDate": "2024-06-01"})
    until = await rest_stats(tenant, {"endDate": "2024-06-03"})

    assert_rest_totals(
        since,
        total=3,
        revenue="14.00",
        average="4.67",
        start="2024-06-01T00:00:00Z",
        end=None,
        statuses=by_status(pending=2, confirmed=1),
    )
    assert_rest_totals(
        until,
        total=3,
        revenue="7.00",
        average="2.33",
        start=None,
        end="2024-06-03T23:59:59Z",
        statuses=by_status(pending=2, confirmed=1),
    )


async def test_explicit_local_dates_follow_the_tenants_timezone(
    kolkata: Tenant, set_clock: SetClock
) -> None:
    await seed_kolkata_midnights(kolkata, set_clock)
    set_clock(at("2024-08-01T00:00:00"))

    body = await rest_stats(kolkata, {"startDate": "2024-03-10", "endDate": "2024-03-10"})

    assert_rest_totals(
        body,
        total=2,
        revenue="30.00",
        average="15.00",
        start="2024-03-09T18:30:00Z",
        end="2024-03-10T18:29:59Z",
        statuses=by_status(pending=1, confirmed=1),
    )


# --- money -------------------------------------------------------------------------------


async def test_revenue_is_exact_decimal_not_float(tenant: Tenant, set_clock: SetClock) -> None:
    for minute in range(3):
        await order_at(tenant, set_clock, f"2024-06-10T10:0{minute}:00", "0.10")
    set_clock(at("2024-06-10T12:00:00"))

    response = await tenant.get("/v1/orders/stats", params={"period": "daily"})
    stats = await graphql_stats(tenant, period="WEEKLY")

    assert response.status_code == 200
    assert "0.30000000000000004" not in response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["revenue"] == Decimal("0.30")
    assert body["averageOrderValue"] == Decimal("0.10")
    assert stats["revenue"] == "0.30"
    assert stats["averageOrderValue"] == "0.10"
    assert stats["series"] == buckets(
        daily_starts(at("2024-06-10T00:00:00"), 7), {"2024-06-10T00:00:00Z": (3, "0.30")}
    )


@pytest.mark.parametrize(
    ("amounts", "revenue", "average"),
    [
        pytest.param(["3.33", "3.33", "3.34"], "10.00", "3.33", id="10.00/3"),
        pytest.param(["6.67", "6.67", "6.66"], "20.00", "6.67", id="20.00/3-rounds-up"),
        pytest.param(["10.00", "0.00", "0.00"], "10.00", "3.33", id="zero-amount-orders-count"),
        pytest.param(["100.00", "50.00", "33.33"], "183.33", "61.11", id="61.11"),
        pytest.param(["0.01", "0.01", "0.00"], "0.02", "0.01", id="cents"),
    ],
)
async def test_average_order_value_is_rounded_to_two_decimals(
    tenant: Tenant, set_clock: SetClock, amounts: list[str], revenue: str, average: str
) -> None:
    for minute, amount in enumerate(amounts):
        await order_at(tenant, set_clock, f"2024-06-10T10:0{minute}:00", amount)
    # A cancelled and a refunded order count as orders but not in the average.
    await order_at(tenant, set_clock, "2024-06-10T11:00:00", "999.99", "cancelled")
    await order_at(tenant, set_clock, "2024-06-10T11:01:00", "888.88", "refunded")
    set_clock(at("2024-06-10T12:00:00"))

    body = await rest_stats(tenant, {"period": "daily"})
    stats = await graphql_stats(tenant, series=False, period="DAILY")

    assert body["totalOrders"] == len(amounts) + 2
    assert body["revenue"] == Decimal(revenue)
    assert body["averageOrderValue"] == Decimal(average)
    assert (stats["revenue"], stats["averageOrderValue"]) == (revenue, average)


async def test_only_cancelled_and_refunded_orders_give_zero_revenue_and_average(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await order_at(tenant, set_clock, "2024-06-10T10:00:00", "120.00", "cancelled")
    await order_at(tenant, set_clock, "2024-06-10T10:01:00", "80.00", "refunded")
    set_clock(at("2024-06-10T12:00:00"))

    body = await rest_stats(tenant, {"period": "daily"})
    stats = await graphql_stats(tenant, period="WEEKLY")

    expected: dict[str, Any] = {
        "total": 2,
        "revenue": "0.00",
        "average": "0.00",
        "start": "2024-06-10T00:00:00Z",
        "statuses": by_status(cancelled=1, refunded=1),
    }
    assert_rest_totals(body, end="2024-06-10T23:59:59Z", **expected)
    assert_graphql_totals(stats, end="2024-06-16T23:59:59Z", **expected)
    assert stats["series"] == buckets(
        daily_starts(at("2024-06-10T00:00:00"), 7), {"2024-06-10T00:00:00Z": (2, "0.00")}
    )


async def test_an_order_moved_to_cancelled_leaves_the_revenue(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await order_at(tenant, set_clock, "2024-06-10T10:00:00", "30.00")
    cancelled = await order_at(tenant, set_clock, "2024-06-10T10:01:00", "70.00", "confirmed")
    set_clock(at("2024-06-10T12:00:00"))
    before = await rest_stats(tenant, {"period": "daily"})

    response = await tenant.put(
        f"/v1/orders/{cancelled['_id']}/status", json={"status": "cancelled"}
    )
    assert response.status_code == 200, response.text
    after = await rest_stats(tenant, {"period": "daily"})

    assert (before["totalOrders"], before["revenue"]) == (2, Decimal("100.00"))
    assert before["averageOrderValue"] == Decimal("50.00")
    assert (after["totalOrders"], after["revenue"]) == (2, Decimal("30.00"))
    assert after["averageOrderValue"] == Decimal("30.00")
    assert after["ordersByStatus"] == by_status(pending=1, cancelled=1)


# --- empty and other tenants ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "start", "end"),
    [
        pytest.param({}, None, None, id="all-time"),
        pytest.param(
            {"period": "monthly"}, "2024-06-01T00:00:00Z", "2024-06-30T23:59:59Z", id="monthly"
        ),
    ],
)
async def test_empty_tenant_has_all_zeros(
    tenant: Tenant, set_clock: SetClock, params: Params, start: str | None, end: str | None
) -> None:
    set_clock(at("2024-06-15T12:00:00"))

    response = await tenant.get("/v1/orders/stats", params=params)

    assert response.status_code == 200
    assert response.json() == {
        "totalOrders": 0,
        "revenue": 0,
        "averageOrderValue": 0,
        "period": {"start": start, "end": end},
        "ordersByStatus": by_status(),
    }


@pytest.mark.parametrize("period", [None, "DAILY", "WEEKLY", "MONTHLY"])
async def test_empty_tenant_graphql_has_all_zeros(
    tenant: Tenant, set_clock: SetClock, period: str | None
) -> None:
    set_clock(at("2024-06-15T12:00:00"))

    stats = await graphql_stats(tenant, series=False, period=period)

    assert (stats["totalOrders"], stats["revenue"], stats["averageOrderValue"]) == (
        0,
        "0.00",
        "0.00",
    )
    assert stats["ordersByStatus"] == [
        {"status": status.upper(), "count": 0} for status in STATUSES
    ]


async def test_empty_tenant_series_has_empty_buckets(tenant: Tenant, set_clock: SetClock) -> None:
    set_clock(at("2024-06-15T12:00:00"))

    all_time = await graphql_stats(tenant)
    weekly = await graphql_stats(tenant, period="WEEKLY")
    monthly = await graphql_stats(tenant, period="MONTHLY")
    daily = await graphql_stats(tenant, period="DAILY")

    assert all_time["period"] == {"start": None, "end": None}
    assert all_time["series"] == []
    assert weekly["series"] == buckets(daily_starts(at("2024-06-10T00:00:00"), 7), {})
    assert monthly["series"] == buckets(daily_starts(at("2024-06-01T00:00:00"), 30), {})
    assert daily["series"] == [
        {"start": "2024-06-15T00:00:00Z", "totalOrders": 0, "revenue": "0.00"}
    ]


async def test_another_tenants_orders_are_never_counted(
    tenant: Tenant, other_tenant: Tenant, set_clock: SetClock
) -> None:
    await order_at(tenant, set_clock, "2024-06-10T10:00:00", "25.00")
    await order_at(other_tenant, set_clock, "2024-06-10T10:00:00", "1000.00")
    await order_at(other_tenant, set_clock, "2024-06-10T11:00:00", "500.00", "cancelled")
    await order_at(other_tenant, set_clock, "2024-05-01T11:00:00", "700.00")
    set_clock(at("2024-06-10T12:00:00"))

    for params in ({}, {"period": "daily"}, {"period": "monthly"}):
        body = await rest_stats(tenant, params)
        assert (body["totalOrders"], body["revenue"]) == (1, Decimal("25.00")), params
        assert body["ordersByStatus"] == by_status(pending=1)
    stats = await graphql_stats(tenant, period="MONTHLY")
    assert stats["series"] == buckets(
        daily_starts(at("2024-06-01T00:00:00"), 30), {"2024-06-10T00:00:00Z": (1, "25.00")}
    )
    others = await rest_stats(other_tenant)
    assert (others["totalOrders"], others["revenue"]) == (3, Decimal("1700.00"))
    assert others["averageOrderValue"] == Decimal("850.00")
    assert others["ordersByStatus"] == by_status(pending=2, cancelled=1)


# --- series over explicit ranges -------------------------------------------------------------


async def seed_first_quarter(tenant: Tenant, set_clock: SetClock) -> None:
    await order_at(tenant, set_clock, "2024-01-01T00:00:00", "1.00")
    await order_at(tenant, set_clock, "2024-02-15T12:00:00", "2.00")
    await order_at(tenant, set_clock, "2024-03-02T23:59:59", "4.00")
    await order_at(tenant, set_clock, "2024-03-03T10:00:00", "8.00", "refunded")


async def test_series_is_per_day_for_an_explicit_range_of_62_days(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_first_quarter(tenant, set_clock)
    set_clock(at("2024-06-01T00:00:00"))

    # Jan 1 .. Mar 2, 2024: 31 + 29 + 2 = 62 days.
    stats = await graphql_stats(tenant, startDate="2024-01-01", endDate="2024-03-02")

    assert (stats["totalOrders"], stats["revenue"]) == (3, "7.00")
    assert stats["series"] == buckets(
        daily_starts(at("2024-01-01T00:00:00"), 62),
        {
            "2024-01-01T00:00:00Z": (1, "1.00"),
            "2024-02-15T00:00:00Z": (1, "2.00"),
            "2024-03-02T00:00:00Z": (1, "4.00"),
        },
    )
    assert_series_adds_up(stats)


async def test_series_is_per_month_for_an_explicit_range_over_62_days(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_first_quarter(tenant, set_clock)
    set_clock(at("2024-06-01T00:00:00"))

    # Jan 1 .. Mar 3: 63 days.
    stats = await graphql_stats(tenant, startDate="2024-01-01", endDate="2024-03-03")

    assert (stats["totalOrders"], stats["revenue"]) == (4, "7.00")
    assert stats["series"] == [
        {"start": "2024-01-01T00:00:00Z", "totalOrders": 1, "revenue": "1.00"},
        {"start": "2024-02-01T00:00:00Z", "totalOrders": 1, "revenue": "2.00"},
        {"start": "2024-03-01T00:00:00Z", "totalOrders": 2, "revenue": "4.00"},
    ]
    assert_series_adds_up(stats)


async def test_monthly_series_of_a_range_starts_at_the_range_start(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await seed_first_quarter(tenant, set_clock)
    set_clock(at("2024-06-01T00:00:00"))

    stats = await graphql_stats(tenant, startDate="2024-01-15", endDate="2024-04-10")

    assert stats["period"] == {"start": "2024-01-15T00:00:00Z", "end": "2024-04-10T23:59:59Z"}
    assert stats["series"] == [
        {"start": "2024-01-15T00:00:00Z", "totalOrders": 0, "revenue": "0.00"},
        {"start": "2024-02-01T00:00:00Z", "totalOrders": 1, "revenue": "2.00"},
        {"start": "2024-03-01T00:00:00Z", "totalOrders": 2, "revenue": "4.00"},
        {"start": "2024-04-01T00:00:00Z", "totalOrders": 0, "revenue": "0.00"},
    ]
    assert_series_adds_up(stats)


async def test_series_of_a_local_range_starts_at_local_midnights(
    kolkata: Tenant, set_clock: SetClock
) -> None:
    await seed_kolkata_midnights(kolkata, set_clock)
    set_clock(at("2024-08-01T00:00:00"))

    stats = await graphql_stats(kolkata, startDate="2024-03-09", endDate="2024-03-11")

    assert stats["series"] == [
        {"start": "2024-03-08T18:30:00Z", "totalOrders": 1, "revenue": "40.00"},
        {"start": "2024-03-09T18:30:00Z", "totalOrders": 2, "revenue": "30.00"},
        {"start": "2024-03-10T18:30:00Z", "totalOrders": 1, "revenue": "80.00"},
    ]
    assert_series_adds_up(stats)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"period": "yearly"},
            "Invalid period 'yearly'. Allowed: daily, weekly, monthly",
            id="unknown-period",
        ),
        pytest.param(
            {"timezone": "Mars/Olympus_Mons"},
            "Unknown timezone 'Mars/Olympus_Mons': use an IANA name such as UTC or Asia/Kolkata",
            id="bad-timezone",
        ),
        pytest.param(
            {"startDate": "2024-02-30"},
            BAD_START_DATE,
            id="bad-start-date",
        ),
        pytest.param(
            {"endDate": "tomorrow"},
            BAD_END_DATE,
            id="bad-end-date",
        ),
        pytest.param(
            {"startDate": "2024-06-05", "endDate": "2024-06-01"},
            START_AFTER_END,
            id="start-after-end",
        ),
        pytest.param(
            {"period": "daily", "startDate": "2024-06-01"},
            "Give either period or startDate/endDate, not both",
            id="period-and-dates",
        ),
        pytest.param(
            {"periods": "daily"}, "Unknown query parameter: periods", id="unknown-parameter"
        ),
        pytest.param(
            {"page": "1", "limit": "10"},
            "Unknown query parameters: limit, page",
            id="list-parameters",
        ),
    ],
)
async def test_bad_parameters_are_a_400_naming_the_problem(
    tenant: Tenant, params: Params, message: str
) -> None:
    response = await tenant.get("/v1/orders/stats", params=params)

    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "ValidationError"
    assert body["error"]["message"] == message


async def test_unknown_period_lists_the_allowed_periods_in_details(tenant: Tenant) -> None:
    response = await tenant.get("/v1/orders/stats", params={"period": "hourly"})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "field": "period",
        "allowed": ["daily", "weekly", "monthly"],
    }


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        pytest.param(
            {"timezone": "Not/AZone"},
            "Unknown timezone 'Not/AZone': use an IANA name such as UTC or Asia/Kolkata",
            id="bad-timezone",
        ),
        pytest.param(
            {"startDate": "2024-06-05", "endDate": "2024-06-01"},
            START_AFTER_END,
            id="start-after-end",
        ),
        pytest.param(
            {"period": "DAILY", "endDate": "2024-06-01"},
            "Give either period or startDate/endDate, not both",
            id="period-and-dates",
        ),
    ],
)
async def test_graphql_bad_arguments_are_validation_errors(
    tenant: Tenant, variables: dict[str, str], message: str
) -> None:
    body = await tenant.graphql(STATS_QUERY, variables)

    assert body["data"] is None
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"


async def test_graphql_unknown_period_is_a_validation_error(tenant: Tenant) -> None:
    body = await tenant.graphql(STATS_QUERY, {"period": "YEARLY"})

    assert "data" not in body or body["data"] is None
    assert len(body["errors"]) == 1
    assert "StatsPeriod" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"


# --- routing -------------------------------------------------------------------------------


async def test_stats_path_is_never_taken_for_an_order_id(tenant: Tenant) -> None:
    await tenant.create_order()

    stats = await tenant.get("/v1/orders/stats")
    put = await tenant.put("/v1/orders/stats", json={"updates": {"name": "x"}})
    reserved = await tenant.post(
        "/v1/orders",
        json={
            "mobile": "+919876543210",
            "referenceId": "stats",
            "product_items": [{"name": "Widget", "quantity": 1, "price": 10}],
        },
    )

    assert stats.status_code == 200
    assert set(stats.json()) == STATS_FIELDS
    assert stats.json()["totalOrders"] == 1
    assert put.status_code == 405
    assert put.json()["error"]["code"] == "MethodNotAllowedError"
    assert reserved.status_code == 400
    assert reserved.json()["error"]["code"] == "ValidationError"
    assert "reserved" in reserved.json()["error"]["message"]
