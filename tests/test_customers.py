"""Customers: orders linked by the digits of their mobile number.

GraphQL ``customer(mobile:)``, the REST list's ``mobile=`` filter and GraphQL
``orders(filter: {mobile:})``. One customer is every order whose mobile has the same
digits, whatever the punctuation ("+91 98765 43210" = "919876543210"); a number that
merely contains those digits is somebody else (unlike ``searchTerm``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Tenant
from tests.contract import MOBILE_MESSAGE
from tests.http_helpers import SetClock, clock_setter, order_at

CUSTOMER_QUERY = """
query Customer($mobile: String!, $page: Int! = 1, $limit: Int! = 10) {
  customer(mobile: $mobile) {
    mobile
    name
    email
    orderCount
    totalSpent
    firstOrderAt
    lastOrderAt
    orders(page: $page, limit: $limit) {
      total
      totalPages
      page
      limit
      orders { id mobile status }
    }
  }
}
"""

ORDERS_QUERY = """
query Orders($filter: OrderFilter, $limit: Int! = 100) {
  orders(filter: $filter, limit: $limit) {
    total
    orders { id }
  }
}
"""


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> SetClock:
    return clock_setter(monkeypatch)


@dataclass(frozen=True)
class Shop:
    """Asha's four orders (oldest first) under three spellings of one number, plus
    orders of two other customers whose numbers contain or are contained in hers."""

    asha: list[str]
    shorter_number: str
    longer_number: str


@pytest.fixture
async def shop(tenant: Tenant, other_tenant: Tenant, set_clock: SetClock) -> Shop:
    first = await order_at(
        tenant,
        set_clock,
        "2024-05-01T09:00:00",
        mobile="+91 98765 43210",
        name="Asha",
        email="asha@old.example",
        final_amount=100.00,
    )
    second = await order_at(
        tenant,
        set_clock,
        "2024-05-02T09:00:00",
        mobile="919876543210",
        name="Asha Patel",
        final_amount=250.50,
        status="cancelled",
    )
    third = await order_at(
        tenant,
        set_clock,
        "2024-05-03T09:00:00",
        mobile="+91-98765-43210",
        email="asha@new.example",
        final_amount=40.00,
        status="refunded",
    )
    fourth = await order_at(
        tenant,
        set_clock,
        "2024-05-04T09:00:00",
        mobile="(+91) 98765 43210",
        final_amount=9.50,
        status="completed",
    )
    shorter = await order_at(
        tenant, set_clock, "2024-05-05T09:00:00", mobile="9876543210", name="Ravi"
    )
    longer = await order_at(
        tenant, set_clock, "2024-05-06T09:00:00", mobile="+91 98765 432101", name="Meera"
    )
    # Another tenant's customer with exactly the same number.
    await order_at(
        other_tenant,
        set_clock,
        "2024-05-07T09:00:00",
        mobile="+919876543210",
        name="Intruder",
        email="intruder@example.com",
        final_amount=1000.00,
    )
    return Shop(
        asha=[first["_id"], second["_id"], third["_id"], fourth["_id"]],
        shorter_number=shorter["_id"],
        longer_number=longer["_id"],
    )


async def customer(tenant: Tenant, mobile: str, **variables: int) -> dict[str, Any] | None:
    body = await tenant.graphql(CUSTOMER_QUERY, {"mobile": mobile, **variables})
    assert "errors" not in body, body
    found: dict[str, Any] | None = body["data"]["customer"]
    return found


async def rest_ids(tenant: Tenant, params: dict[str, str]) -> list[str]:
    response = await tenant.get("/v1/orders", params={**params, "limit": "100"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["orders"])
    return [order["_id"] for order in body["orders"]]


async def graphql_ids(tenant: Tenant, filter: dict[str, Any]) -> list[str]:
    body = await tenant.graphql(ORDERS_QUERY, {"filter": filter})
    assert "errors" not in body, body
    page = body["data"]["orders"]
    assert page["total"] == len(page["orders"])
    return [order["id"] for order in page["orders"]]


# --- GraphQL customer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mobile", ["+91 98765 43210", "919876543210", "+91-98765-43210", "+919876543210"]
)
async def test_customer_links_orders_by_mobile_digits(
    tenant: Tenant, shop: Shop, mobile: str
) -> None:
    found = await customer(tenant, mobile)

    assert found is not None
    assert found == {
        # As given on the latest order.
        "mobile": "(+91) 98765 43210",
        # The newest order that has a name (the two later ones have none).
        "name": "Asha Patel",
        # The newest order that has an email.
        "email": "asha@new.example",
        "orderCount": 4,
        # 100.00 + 9.50; the cancelled 250.50 and the refunded 40.00 are not spent.
        "totalSpent": "109.50",
        "firstOrderAt": "2024-05-01T09:00:00Z",
        "lastOrderAt": "2024-05-04T09:00:00Z",
        "orders": {
            "total": 4,
            "totalPages": 1,
            "page": 1,
            "limit": 10,
            "orders": [
                {"id": shop.asha[3], "mobile": "(+91) 98765 43210", "status": "COMPLETED"},
                {"id": shop.asha[2], "mobile": "+91-98765-43210", "status": "REFUNDED"},
                {"id": shop.asha[1], "mobile": "919876543210", "status": "CANCELLED"},
                {"id": shop.asha[0], "mobile": "+91 98765 43210", "status": "PENDING"},
            ],
        },
    }


async def test_customer_orders_are_paginated_newest_first(tenant: Tenant, shop: Shop) -> None:
    first = await customer(tenant, "919876543210", page=1, limit=3)
    second = await customer(tenant, "919876543210", page=2, limit=3)
    beyond = await customer(tenant, "919876543210", page=3, limit=3)

    assert first is not None
    assert second is not None
    assert beyond is not None
    pages = [found["orders"] for found in (first, second, beyond)]
    assert [(p["total"], p["totalPages"], p["page"], p["limit"]) for p in pages] == [
        (4, 2, 1, 3),
        (4, 2, 2, 3),
        (4, 2, 3, 3),
    ]
    assert [order["id"] for order in pages[0]["orders"]] == shop.asha[:0:-1]
    assert [order["id"] for order in pages[1]["orders"]] == shop.asha[:1]
    assert pages[2]["orders"] == []


async def test_customer_orders_with_bad_limit_is_a_validation_error(
    tenant: Tenant, shop: Shop
) -> None:
    body = await tenant.graphql(CUSTOMER_QUERY, {"mobile": "919876543210", "limit": 101})

    # ``orders`` is non-null, so the error nulls the (nullable) customer.
    assert body["data"] == {"customer": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["ValidationError"]
    assert body["errors"][0]["message"] == "limit must be a whole number between 1 and 100"


async def test_a_number_that_contains_the_digits_is_another_customer(
    tenant: Tenant, shop: Shop
) -> None:
    shorter = await customer(tenant, "98765 43210")
    longer = await customer(tenant, "+91 98765 432101")

    assert shorter is not None
    assert longer is not None
    assert (shorter["name"], shorter["orderCount"], shorter["totalSpent"]) == ("Ravi", 1, "10.00")
    assert [order["id"] for order in shorter["orders"]["orders"]] == [shop.shorter_number]
    assert (longer["name"], longer["orderCount"]) == ("Meera", 1)
    assert [order["id"] for order in longer["orders"]["orders"]] == [shop.longer_number]
    assert (shorter["email"], longer["email"]) == (None, None)


async def test_unknown_customer_is_null(tenant: Tenant, shop: Shop) -> None:
    body = await tenant.graphql(CUSTOMER_QUERY, {"mobile": "+1 555 0100"})

    assert body == {"data": {"customer": None}}


async def test_another_tenants_orders_with_the_same_mobile_are_never_included(
    tenant: Tenant, other_tenant: Tenant, shop: Shop
) -> None:
    ours = await customer(tenant, "+919876543210")
    theirs = await customer(other_tenant, "+91 98765 43210")

    assert ours is not None
    assert theirs is not None
    assert (ours["orderCount"], ours["totalSpent"], ours["name"]) == (4, "109.50", "Asha Patel")
    assert ours["lastOrderAt"] == "2024-05-04T09:00:00Z"
    assert theirs["orderCount"] == 1
    assert theirs["totalSpent"] == "1000.00"
    assert (theirs["name"], theirs["email"]) == ("Intruder", "intruder@example.com")
    assert theirs["firstOrderAt"] == theirs["lastOrderAt"] == "2024-05-07T09:00:00Z"
    assert theirs["orders"]["total"] == 1
    assert theirs["orders"]["orders"][0]["id"] not in shop.asha


async def test_customer_with_only_cancelled_orders_has_spent_nothing(
    tenant: Tenant, set_clock: SetClock
) -> None:
    await order_at(
        tenant, set_clock, "2024-05-01T09:00:00", mobile="+44 7700 900123", status="cancelled"
    )

    found = await customer(tenant, "447700900123")

    assert found is not None
    assert (found["orderCount"], found["totalSpent"]) == (1, "0.00")
    assert (found["name"], found["email"]) == (None, None)


async def test_customer_follows_a_changed_mobile(tenant: Tenant, set_clock: SetClock) -> None:
    order = await order_at(tenant, set_clock, "2024-05-01T09:00:00", mobile="+91 90000 00001")
    response = await tenant.put(
        f"/v1/orders/{order['_id']}", json={"updates": {"mobile": "+91 90000 00002"}}
    )
    assert response.status_code == 200, response.text

    old = await customer(tenant, "919000000001")
    new = await customer(tenant, "919000000002")

    assert old is None
    assert new is not None
    assert (new["mobile"], new["orderCount"]) == ("+91 90000 00002", 1)


@pytest.mark.parametrize("mobile", ["abc", "", "+-() ", "1" * 41])
async def test_customer_with_bad_mobile_is_a_validation_error(tenant: Tenant, mobile: str) -> None:
    body = await tenant.graphql(CUSTOMER_QUERY, {"mobile": mobile})

    assert body["data"] == {"customer": None}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == MOBILE_MESSAGE
    assert body["errors"][0]["extensions"] == {
        "code": "ValidationError",
        "details": {"field": "mobile"},
    }


# --- REST list: mobile= ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "mobile", ["919876543210", "+919876543210", "+91 98765 43210", "+91-98765-43210"]
)
async def test_rest_mobile_filter_is_one_exact_customer(
    tenant: Tenant, shop: Shop, mobile: str
) -> None:
    ids = await rest_ids(tenant, {"mobile": mobile})

    assert ids == shop.asha[::-1]


async def test_rest_mobile_filter_does_not_match_numbers_containing_the_digits(
    tenant: Tenant, shop: Shop
) -> None:
    exact = await rest_ids(tenant, {"mobile": "9876543210"})
    searched = await rest_ids(tenant, {"searchTerm": "9876543210"})

    assert exact == [shop.shorter_number]
    # searchTerm is a substring search: every number containing the digits.
    assert searched == [shop.longer_number, shop.shorter_number, *shop.asha[::-1]]


async def test_rest_mobile_filter_combines_with_status_and_sort(tenant: Tenant, shop: Shop) -> None:
    active = await rest_ids(tenant, {"mobile": "919876543210", "status": "pending,completed"})
    oldest_first = await rest_ids(
        tenant, {"mobile": "919876543210", "sortBy": "created_at", "sortDirection": "asc"}
    )
    none = await rest_ids(tenant, {"mobile": "919876543210", "status": "shipped"})

    assert active == [shop.asha[3], shop.asha[0]]
    assert oldest_first == shop.asha
    assert none == []


async def test_rest_mobile_filter_never_shows_another_tenants_orders(
    other_tenant: Tenant, shop: Shop
) -> None:
    response = await other_tenant.get("/v1/orders", params={"mobile": "919876543210"})

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    assert body["orders"][0]["name"] == "Intruder"


async def test_rest_mobile_filter_with_no_orders_is_an_empty_page(
    tenant: Tenant, shop: Shop
) -> None:
    response = await tenant.get("/v1/orders", params={"mobile": "+1 555 0100"})

    assert response.status_code == 200
    assert response.json() == {"orders": [], "total": 0, "totalPages": 0, "page": 1, "limit": 10}


@pytest.mark.parametrize("mobile", ["abc", "+-() ", "1" * 41])
async def test_rest_bad_mobile_filter_is_a_400(tenant: Tenant, mobile: str) -> None:
    await tenant.create_order()

    response = await tenant.get("/v1/orders", params={"mobile": mobile})

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "code": "ValidationError",
            "message": MOBILE_MESSAGE,
            "details": {"field": "mobile"},
        }
    }


# --- GraphQL orders(filter: {mobile}) ---------------------------------------------------------


@pytest.mark.parametrize("mobile", ["919876543210", "+91-98765-43210", "(+91) 98765 43210"])
async def test_graphql_mobile_filter_is_one_exact_customer(
    tenant: Tenant, shop: Shop, mobile: str
) -> None:
    ids = await graphql_ids(tenant, {"mobile": mobile})

    assert ids == shop.asha[::-1]


async def test_graphql_mobile_filter_combines_with_status_and_excludes_longer_numbers(
    tenant: Tenant, shop: Shop
) -> None:
    refunded = await graphql_ids(tenant, {"mobile": "919876543210", "status": ["REFUNDED"]})
    shorter = await graphql_ids(tenant, {"mobile": "9876543210"})

    assert refunded == [shop.asha[2]]
    assert shorter == [shop.shorter_number]


async def test_graphql_bad_mobile_filter_is_a_validation_error(tenant: Tenant) -> None:
    body = await tenant.graphql(ORDERS_QUERY, {"filter": {"mobile": "abc"}})

    assert body["data"] is None
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == MOBILE_MESSAGE
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"


async def test_customer_and_rest_filter_agree(tenant: Tenant, shop: Shop) -> None:
    found = await customer(tenant, "+91 98765 43210")
    listed = await tenant.get("/v1/orders", params={"mobile": "919876543210"})

    assert found is not None
    assert listed.status_code == 200
    assert found["orderCount"] == listed.json()["total"]
