"""GET /v1/orders: shape, pagination, validation of every parameter, filters, search, sort."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from db.engine import Database
from tests.conftest import Tenant, new_tenant
from tests.contract import STATUSES
from tests.http_helpers import SetClock, at, clock_setter

# Fields the reference document shows on an order; every one is present on every order.
DOCUMENTED_ORDER_FIELDS = {
    "_id",
    "referenceId",
    "status",
    "created_at",
    "updated_at",
    "mobile",
    "name",
    "email",
    "final_amount",
    "delivery_method",
    "payment_status",
    "delivery_details",
    "product_items",
}

Params = dict[str, str] | list[tuple[str, str]]


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> SetClock:
    return clock_setter(monkeypatch)


async def list_orders(tenant: Tenant, params: Params | None = None) -> dict[str, Any]:
    response = await tenant.get("/v1/orders", params=params or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def all_names(tenant: Tenant, params: Params) -> list[str]:
    """Names of every order matching ``params`` (one page of up to 100), sorted."""
    query = [*(params.items() if isinstance(params, dict) else params), ("limit", "100")]
    body = await list_orders(tenant, query)
    assert body["total"] == len(body["orders"])
    return sorted(order["name"] for order in body["orders"])


def assert_validation_error(response: httpx.Response, parameter: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "ValidationError"
    assert parameter in body["error"]["message"]
    assert "Traceback" not in response.text
    return body


# --- shape, defaults, pagination -------------------------------------------------------


async def test_empty_tenant_lists_no_orders(tenant: Tenant) -> None:
    body = await list_orders(tenant)
    assert body["orders"] == []
    assert body["total"] == 0
    assert body["page"] == 1
    assert body["limit"] == 10


async def test_list_has_documented_shape_and_defaults_newest_first(
    tenant: Tenant, set_clock: SetClock
) -> None:
    start = at("2024-05-01T08:00:00")
    created: list[dict[str, Any]] = []
    for index in range(12):
        set_clock(start + timedelta(minutes=index))
        created.append(await tenant.create_order(name=f"Customer {index:02d}"))

    body = await list_orders(tenant)

    assert set(body) == {"orders", "total", "totalPages", "page", "limit"}
    assert (body["total"], body["totalPages"], body["page"], body["limit"]) == (12, 2, 1, 10)
    newest_first = [order["_id"] for order in reversed(created)]
    assert [order["_id"] for order in body["orders"]] == newest_first[:10]
    for order in body["orders"]:
        assert set(order) >= DOCUMENTED_ORDER_FIELDS
    first = body["orders"][0]
    assert first["name"] == "Customer 11"
    assert first["created_at"] == "2024-05-01T08:11:00Z"
    assert first["status"] == "pending"
    assert first["final_amount"] == 10
    assert first["product_items"][0]["name"] == "Widget"

    second = await list_orders(tenant, {"page": "2"})
    assert (second["total"], second["totalPages"], second["page"], second["limit"]) == (
        12,
        2,
        2,
        10,
    )
    assert [order["_id"] for order in second["orders"]] == newest_first[10:]


async def test_pages_totals_and_page_beyond_the_end(tenant: Tenant, set_clock: SetClock) -> None:
    start = at("2024-05-02T08:00:00")
    ids: list[str] = []
    for index in range(25):
        set_clock(start + timedelta(seconds=index))
        ids.append((await tenant.create_order())["_id"])
    newest_first = ids[::-1]

    pages = [await list_orders(tenant, {"page": str(page), "limit": "10"}) for page in (1, 2, 3)]
    assert [len(page["orders"]) for page in pages] == [10, 10, 5]
    for number, page in enumerate(pages, start=1):
        assert (page["total"], page["totalPages"], page["page"], page["limit"]) == (
            25,
            3,
            number,
            10,
        )
    assert [order["_id"] for page in pages for order in page["orders"]] == newest_first

    beyond = await list_orders(tenant, {"page": "4", "limit": "10"})
    assert beyond == {"orders": [], "total": 25, "totalPages": 3, "page": 4, "limit": 10}
    far_beyond = await list_orders(tenant, {"page": "1000", "limit": "10"})
    assert far_beyond == {"orders": [], "total": 25, "totalPages": 3, "page": 1000, "limit": 10}

    by_seven = await list_orders(tenant, {"page": "4", "limit": "7"})
    assert (by_seven["total"], by_seven["totalPages"], by_seven["page"], by_seven["limit"]) == (
        25,
        4,
        4,
        7,
    )
    assert [order["_id"] for order in by_seven["orders"]] == newest_first[21:]

    everything = await list_orders(tenant, {"limit": "100"})
    assert (everything["total"], everything["totalPages"], len(everything["orders"])) == (
        25,
        1,
        25,
    )


@pytest.mark.parametrize("limit", ["1", "100"])
async def test_limit_bounds_are_accepted(tenant: Tenant, limit: str) -> None:
    await tenant.create_order()
    await tenant.create_order()

    body = await list_orders(tenant, {"limit": limit})

    assert body["limit"] == int(limit)
    assert body["total"] == 2
    assert len(body["orders"]) == min(2, int(limit))
    assert body["totalPages"] == (2 if limit == "1" else 1)


# --- bad parameters: always a 400 naming the parameter ----------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "abc"),
        ("page", "1.5"),
        ("page", "1e3"),
        ("page", "99999999999999999999"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "101"),
        ("limit", "abc"),
        ("limit", "2.5"),
        ("limit", "99999999999999999999"),
        ("startDate", "yesterday"),
        ("startDate", "2024-13-01"),
        ("startDate", "2024-06-01T25:00:00Z"),
        ("endDate", "2024-02-30"),
        ("endDate", "not-a-date"),
        ("endDate", "06/01/2024"),
        ("sortBy", "price"),
        ("sortBy", "_id; DROP TABLE orders"),
        ("sortDirection", "sideways"),
        ("sortDirection", "ascending"),
        ("searchTerm", "x" * 201),
    ],
)
async def test_bad_parameter_is_a_400_naming_it(tenant: Tenant, parameter: str, value: str) -> None:
    await tenant.create_order()
    response = await tenant.get("/v1/orders", params={parameter: value})
    assert_validation_error(response, parameter)


@pytest.mark.parametrize("value", ["lost", "pending,lost", "PENDING,,teleported"])
async def test_unknown_status_is_a_400_listing_the_allowed_ones(tenant: Tenant, value: str) -> None:
    response = await tenant.get("/v1/orders", params={"status": value})
    body = assert_validation_error(response, "status")
    message = body["error"]["message"]
    for status in STATUSES:
        assert status in message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-06-02", "2024-06-01"),
        ("2024-06-01T12:00:00Z", "2024-06-01T11:00:00Z"),
        ("2024-06-01T00:00:01Z", "2024-06-01T00:00:00Z"),
    ],
)
async def test_start_date_after_end_date_is_a_400(tenant: Tenant, start: str, end: str) -> None:
    response = await tenant.get("/v1/orders", params={"startDate": start, "endDate": end})
    body = assert_validation_error(response, "Date")
    message = body["error"]["message"]
    assert "startDate" in message or "endDate" in message


@pytest.mark.parametrize("parameter", ["sortby", "sort", "pageSize", "search"])
async def test_unknown_parameter_is_a_400_naming_it(tenant: Tenant, parameter: str) -> None:
    response = await tenant.get("/v1/orders", params={parameter: "created_at"})
    assert_validation_error(response, parameter)


async def test_search_term_of_exactly_200_characters_is_accepted(tenant: Tenant) -> None:
    await tenant.create_order(name="Someone")
    body = await list_orders(tenant, {"searchTerm": "y" * 200})
    assert (body["orders"], body["total"]) == ([], 0)


# --- status filter ---------------------------------------------------------------------


@pytest.fixture
async def orders_by_status(tenant: Tenant) -> Tenant:
    for status in ("pending", "confirmed", "shipped", "cancelled"):
        await tenant.create_order(name=f"{status}-order", status=status)
    return tenant


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "shipped"}, ["shipped"]),
        ({"status": "SHIPPED"}, ["shipped"]),
        ({"status": "Shipped"}, ["shipped"]),
        ({"status": "pending,shipped"}, ["pending", "shipped"]),
        ({"status": "Confirmed,CANCELLED"}, ["cancelled", "confirmed"]),
        (
            {"status": "pending,confirmed,shipped,cancelled"},
            ["cancelled", "confirmed", "pending", "shipped"],
        ),
        ([("status", "pending"), ("status", "cancelled")], ["cancelled", "pending"]),
        (
            [("status", "PENDING"), ("status", "shipped,confirmed")],
            ["confirmed", "pending", "shipped"],
        ),
        ({"status": "delivered"}, []),
    ],
)
async def test_status_filter(orders_by_status: Tenant, params: Params, expected: list[str]) -> None:
    query = [*(params.items() if isinstance(params, dict) else params), ("limit", "100")]
    body = await list_orders(orders_by_status, query)
    assert body["total"] == len(expected)
    assert sorted(order["status"] for order in body["orders"]) == expected
    assert sorted(order["name"] for order in body["orders"]) == [f"{s}-order" for s in expected]


# --- date filters ----------------------------------------------------------------------

# Orders around 2024-03-10 (UTC), by name.
UTC_DAY_ORDERS = {
    "A": "2024-03-09T23:59:59",
    "B": "2024-03-10T00:00:00",
    "C": "2024-03-10T12:00:00",
    "D": "2024-03-10T23:59:59",
    "E": "2024-03-11T00:00:00",
}


@pytest.fixture
async def utc_day_orders(tenant: Tenant, set_clock: SetClock) -> Tenant:
    for name, moment in UTC_DAY_ORDERS.items():
        set_clock(at(moment))
        await tenant.create_order(name=name)
    return tenant


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"startDate": "2024-03-10"}, ["B", "C", "D", "E"]),
        ({"endDate": "2024-03-10"}, ["A", "B", "C", "D"]),
        ({"startDate": "2024-03-10", "endDate": "2024-03-10"}, ["B", "C", "D"]),
        ({"startDate": "2024-03-11", "endDate": "2024-03-11"}, ["E"]),
        ({"endDate": "2024-03-09"}, ["A"]),
        ({"startDate": "2024-03-12"}, []),
        ({"startDate": "2024-03-10T12:00:00Z"}, ["C", "D", "E"]),
        ({"endDate": "2024-03-10T11:59:59Z"}, ["A", "B"]),
        ({"startDate": "2024-03-10T00:00:01Z", "endDate": "2024-03-10T23:59:58Z"}, ["C"]),
        ({"startDate": "2024-03-10T05:30:00+05:30"}, ["B", "C", "D", "E"]),
        ({"startDate": "2024-03-10T00:00:00.000Z", "endDate": "2024-03-10"}, ["B", "C", "D"]),
    ],
)
async def test_date_filters_in_utc(
    utc_day_orders: Tenant, params: dict[str, str], expected: list[str]
) -> None:
    assert await all_names(utc_day_orders, params) == expected


# The same instants seen from Asia/Kolkata (UTC+05:30).
KOLKATA_ORDERS = {
    "K1": "2024-03-09T18:29:59",  # 2024-03-09 23:59:59 in Kolkata
    "K2": "2024-03-09T18:30:00",  # 2024-03-10 00:00:00
    "K3": "2024-03-10T18:29:59",  # 2024-03-10 23:59:59
    "K4": "2024-03-10T18:30:00",  # 2024-03-11 00:00:00
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"startDate": "2024-03-10", "endDate": "2024-03-10"}, ["K2", "K3"]),
        ({"endDate": "2024-03-10"}, ["K1", "K2", "K3"]),
        ({"startDate": "2024-03-10"}, ["K2", "K3", "K4"]),
        ({"startDate": "2024-03-11"}, ["K4"]),
        ({"endDate": "2024-03-09"}, ["K1"]),
        # Date-times with an offset are absolute, whatever the tenant's zone.
        ({"startDate": "2024-03-10T00:00:00Z"}, ["K3", "K4"]),
        ({"startDate": "2024-03-09T18:30:00Z", "endDate": "2024-03-10T18:29:59Z"}, ["K2", "K3"]),
    ],
)
async def test_date_only_bounds_are_days_of_the_tenant_time_zone(
    db: Database,
    client: httpx.AsyncClient,
    set_clock: SetClock,
    params: dict[str, str],
    expected: list[str],
) -> None:
    kolkata = await new_tenant(db, client, timezone="Asia/Kolkata")
    for name, moment in KOLKATA_ORDERS.items():
        set_clock(at(moment))
        await kolkata.create_order(name=name)

    assert await all_names(kolkata, params) == expected


# --- search ----------------------------------------------------------------------------


@pytest.fixture
async def searchable(tenant: Tenant) -> dict[str, dict[str, Any]]:
    """Four orders by name; the tenant is reachable through the ``tenant`` fixture."""
    return {
        "Priya Sharma": await tenant.create_order(
            name="Priya Sharma",
            email="priya@example.com",
            mobile="+91 98765-43210",
            referenceId="WEB-ALPHA-1",
            external_order_source="shopify",
            external_order_id="SHOP-7781",
            external_order_number="#1001",
        ),
        "John Doe": await tenant.create_order(
            name="John Doe",
            email="john@mail.test",
            mobile="+44 20 7946 0958",
            external_order_source="amazon",
            external_order_id="AMZ-555",
            external_order_number="N-2002",
        ),
        "100% Cotton Fan": await tenant.create_order(name="100% Cotton Fan", mobile="+15550001111"),
        "snake_case Sam": await tenant.create_order(name="snake_case Sam", mobile="+15550002222"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("priya", ["Priya Sharma"]),
        ("PRIYA SHARMA", ["Priya Sharma"]),
        ("jOhN", ["John Doe"]),
        ("EXAMPLE.COM", ["Priya Sharma"]),
        ("Mail.Test", ["John Doe"]),
        ("web-alpha", ["Priya Sharma"]),
        ("shop-77", ["Priya Sharma"]),
        ("amz-555", ["John Doe"]),
        ("#1001", ["Priya Sharma"]),
        ("n-2002", ["John Doe"]),
        ("9876543210", ["Priya Sharma"]),
        ("919876543210", ["Priya Sharma"]),
        ("+91 98765", ["Priya Sharma"]),
        ("98765-43210", ["Priya Sharma"]),
        ("(987) 654", ["Priya Sharma"]),
        ("442079460958", ["John Doe"]),
        ("7946 0958", ["John Doe"]),
        ("+1555000", ["100% Cotton Fan", "snake_case Sam"]),
        ("%", ["100% Cotton Fan"]),
        ("100%", ["100% Cotton Fan"]),
        ("_", ["snake_case Sam"]),
        ("e_c", ["snake_case Sam"]),
        ("o%o", []),
        ("nobody-here", []),
    ],
)
async def test_search_term(
    tenant: Tenant, searchable: dict[str, dict[str, Any]], term: str, expected: list[str]
) -> None:
    assert await all_names(tenant, {"searchTerm": term}) == expected


async def test_search_by_id_is_case_insensitive_substring(
    tenant: Tenant, searchable: dict[str, dict[str, Any]]
) -> None:
    order_id: str = searchable["John Doe"]["_id"]
    assert await all_names(tenant, {"searchTerm": order_id}) == ["John Doe"]
    assert await all_names(tenant, {"searchTerm": order_id.upper()}) == ["John Doe"]
    # The last 8 characters hold the per-order counter: unique among these orders.
    assert await all_names(tenant, {"searchTerm": order_id[-8:].upper()}) == ["John Doe"]


async def test_search_by_generated_reference_id(
    tenant: Tenant, searchable: dict[str, dict[str, Any]]
) -> None:
    reference: str = searchable["snake_case Sam"]["referenceId"]
    assert reference.startswith("ORD")
    assert await all_names(tenant, {"searchTerm": reference.lower()}) == ["snake_case Sam"]


async def test_search_combines_with_status_filter(tenant: Tenant) -> None:
    await tenant.create_order(name="Asha One", status="shipped")
    await tenant.create_order(name="Asha Two", status="pending")
    await tenant.create_order(name="Ravi", status="shipped")

    names = await all_names(tenant, {"searchTerm": "asha", "status": "shipped"})
    assert names == ["Asha One"]


# --- sorting ---------------------------------------------------------------------------

# Four orders, created in this order; each field sorts them in a different order.
SORT_ORDERS: dict[str, dict[str, Any]] = {
    "O1": {
        "at": "2024-04-01T11:00:00",
        "final_amount": 1000.00,
        "name": "Chandra",
        "mobile": "+912222222222",
        "referenceId": "SORT-B",
        "status": "delivered",
    },
    "O2": {
        "at": "2024-04-01T09:00:00",
        "final_amount": 30.00,
        "name": "Dev",
        "mobile": "+911111111111",
        "referenceId": "SORT-C",
        "status": "refunded",
    },
    "O3": {
        "at": "2024-04-01T12:00:00",
        "final_amount": 5.50,
        "name": "Bruno",
        "mobile": "+914444444444",
        "referenceId": "SORT-A",
        "status": "confirmed",
    },
    "O4": {
        "at": "2024-04-01T10:00:00",
        "final_amount": 120.00,
        "name": "Alice",
        "mobile": "+913333333333",
        "referenceId": "SORT-D",
        "status": "delivered",
    },
}

# Ascending order per sortBy; descending is the exact reverse (the status tie between O1
# and O4 is broken by _id, which follows created_at: O4 before O1 ascending).
ASCENDING = {
    "created_at": ["O2", "O4", "O1", "O3"],
    "updated_at": ["O2", "O4", "O1", "O3"],
    "final_amount": ["O3", "O2", "O4", "O1"],
    "status": ["O3", "O4", "O1", "O2"],
    "name": ["O4", "O3", "O1", "O2"],
    "mobile": ["O2", "O1", "O4", "O3"],
    "referenceId": ["O3", "O1", "O2", "O4"],
}


@pytest.fixture
async def sortable(tenant: Tenant, set_clock: SetClock) -> dict[str, str]:
    """Creates SORT_ORDERS; maps each _id to its key."""
    keys: dict[str, str] = {}
    for key, fields in SORT_ORDERS.items():
        set_clock(at(fields["at"]))
        order = await tenant.create_order(
            **{name: value for name, value in fields.items() if name != "at"}
        )
        keys[order["_id"]] = key
    return keys


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", list(ASCENDING))
async def test_sort_by_each_field(
    tenant: Tenant, sortable: dict[str, str], sort_by: str, direction: str
) -> None:
    body = await list_orders(tenant, {"sortBy": sort_by, "sortDirection": direction})

    expected = ASCENDING[sort_by] if direction == "asc" else ASCENDING[sort_by][::-1]
    assert [sortable[order["_id"]] for order in body["orders"]] == expected
    assert body["total"] == 4


@pytest.mark.parametrize("sort_by", list(ASCENDING))
async def test_sort_direction_defaults_to_descending(
    tenant: Tenant, sortable: dict[str, str], sort_by: str
) -> None:
    body = await list_orders(tenant, {"sortBy": sort_by})
    assert [sortable[order["_id"]] for order in body["orders"]] == ASCENDING[sort_by][::-1]


async def test_sort_values_are_really_in_order(tenant: Tenant, sortable: dict[str, str]) -> None:
    """Cross-check the table against the returned values (amounts numerically, not as text)."""
    body = await list_orders(tenant, {"sortBy": "final_amount", "sortDirection": "asc"})
    assert [order["final_amount"] for order in body["orders"]] == [5.5, 30, 120, 1000]
    body = await list_orders(tenant, {"sortBy": "created_at", "sortDirection": "asc"})
    assert [order["created_at"] for order in body["orders"]] == [
        "2024-04-01T09:00:00Z",
        "2024-04-01T10:00:00Z",
        "2024-04-01T11:00:00Z",
        "2024-04-01T12:00:00Z",
    ]


async def test_orders_without_name_sort_after_named_ones_ascending(tenant: Tenant) -> None:
    unnamed_first = await tenant.create_order()
    await tenant.create_order(name="Bea")
    unnamed_second = await tenant.create_order()
    await tenant.create_order(name="Abe")

    body = await list_orders(tenant, {"sortBy": "name", "sortDirection": "asc"})

    assert [order["name"] for order in body["orders"]] == ["Abe", "Bea", None, None]
    unnamed = sorted([unnamed_first["_id"], unnamed_second["_id"]])
    assert [order["_id"] for order in body["orders"][2:]] == unnamed


# --- pagination under ties -------------------------------------------------------------


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", ["created_at", "final_amount"])
async def test_pages_never_overlap_or_skip_under_ties(
    tenant: Tenant, set_clock: SetClock, sort_by: str, direction: str
) -> None:
    set_clock(at("2024-07-01T10:00:00"))
    ids = [(await tenant.create_order(final_amount=99.99))["_id"] for _ in range(25)]

    seen: list[str] = []
    for page in range(1, 5):
        body = await list_orders(
            tenant,
            {"sortBy": sort_by, "sortDirection": direction, "page": str(page), "limit": "7"},
        )
        assert (body["total"], body["totalPages"], body["page"], body["limit"]) == (
            25,
            4,
            page,
            7,
        )
        assert len(body["orders"]) == (7 if page < 4 else 4)
        seen.extend(order["_id"] for order in body["orders"])

    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(ids)
    # Ties are broken by _id, in the requested direction.
    assert seen == sorted(ids, reverse=direction == "desc")
