"""GraphQL orders: ``createOrder``, ``order`` and ``orders`` (SPEC §5, §11), their parity
with the REST layer, and the fixed SQL cost of a page of orders (DataLoaders)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette

from gql.context import Principal, RequestContext
from gql.resolvers.orders import create_order as resolve_create_order
from tests.conftest import Tenant
from tests.contract import (
    GENERATED_REFERENCE_ID,
    ITEM_FIELDS_REQUIRED,
    ITEMS_REQUIRED,
    MOBILE_REQUIRED,
    OBJECT_ID,
    UTC_TIMESTAMP,
)
from tests.databases import recorded_statements

ITEM_FIELDS = "productRetailerId sku name quantity price lineTotal"
DELIVERY_FIELDS = (
    "recipientName email phone alternatePhone address notes location { lat lng } "
    "trackingNumber estimatedDelivery"
)
ORDER_FIELDS = f"""
    id referenceId status mobile name email userId finalAmount deliveryMethod
    deliveryDetails {{ {DELIVERY_FIELDS} }}
    productItems {{ {ITEM_FIELDS} }}
    productCustomizations
    paymentInfo {{ status amount currency paymentId method }}
    paymentStatus externalOrderSource externalOrderId externalOrderNumber notes
    createdAt updatedAt
    history {{ status timestamp note }}
    timeline {{ id title description type timestamp metadata actor }}
"""

CREATE_ORDER = f"""
mutation Create($input: CreateOrderInput!) {{
  createOrder(input: $input) {{ {ORDER_FIELDS} }}
}}
"""
ORDER_BY_ID = f"""
query One($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}
"""
LIST_ORDERS = """
query List($filter: OrderFilter, $sort: OrderSort, $page: Int! = 1, $limit: Int! = 10) {
  orders(filter: $filter, sort: $sort, page: $page, limit: $limit) {
    orders { id referenceId status name mobile finalAmount createdAt }
    total totalPages page limit
  }
}
"""
COUNT_ORDERS = "query { orders(limit: 100) { total orders { id } } }"

# The create request of the reference document, with GraphQL's camelCase field names.
DOCUMENTED_CREATE_INPUT: dict[str, Any] = {
    "mobile": "+919876543210",
    "name": "John Doe",
    "email": "john@example.com",
    "productItems": [
        {
            "productRetailerId": "SKU-001",
            "name": "Premium T-Shirt",
            "quantity": 2,
            "price": 599.00,
        },
        {
            "productRetailerId": "SKU-002",
            "name": "Classic Jeans",
            "quantity": 1,
            "price": 1299.00,
        },
    ],
    "deliveryMethod": "Local Delivery",
    "deliveryDetails": {
        "recipientName": "John Doe",
        "phone": "+919876543210",
        "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
    },
    "externalOrderSource": "website",
    "externalOrderId": "WEB-12345",
    "notes": "Please deliver before 6 PM",
}

# One order with every field set, in the REST shape (used for the parity tests).
FULL_REST_ORDER: dict[str, Any] = {
    "mobile": "+91 98765-43210",
    "name": "Asha Rao",
    "email": "asha@example.com",
    "user_id": "user-42",
    "status": "confirmed",
    "delivery_method": "express_delivery",
    "delivery_details": {
        "recipient_name": "Asha Rao",
        "email": "deliveries@example.com",
        "phone": "+919876543210",
        "alternate_phone": "+919812345678",
        "address": "7 Hill Road, Pune",
        "notes": "Ring twice",
        "location": {"lat": 18.5204, "lng": 73.8567},
        "tracking_number": "TRK987654321",
        "estimated_delivery": "2023-06-25T23:30:00+05:30",
    },
    "product_items": [
        {
            "product_retailer_id": "SKU-001",
            "sku": "TSH-PREM-001",
            "name": "Premium T-Shirt",
            "quantity": 3,
            "price": 333.33,
        },
        {"sku": "JNS-002", "name": "Jeans", "quantity": 1, "price": 750.5},
    ],
    "product_customizations": {"SKU-001": {"size": "L", "colour": "navy", "gift": True}},
    "payment_info": {
        "status": "paid",
        "amount": 1750.49,
        "currency": "INR",
        "payment_id": "pay_123",
        "method": "upi",
    },
    "external_order_source": "shopify",
    "external_order_id": "SHOP-9",
    "external_order_number": "#1009",
    "notes": "Leave at the door",
}

DELIVERY_KEYS = {
    "recipient_name": "recipientName",
    "email": "email",
    "phone": "phone",
    "alternate_phone": "alternatePhone",
    "address": "address",
    "notes": "notes",
    "location": "location",
    "tracking_number": "trackingNumber",
    "estimated_delivery": "estimatedDelivery",
}
PAYMENT_KEYS = {
    "status": "status",
    "amount": "amount",
    "currency": "currency",
    "payment_id": "paymentId",
    "method": "method",
}
ITEM_KEYS = {
    "product_retailer_id": "productRetailerId",
    "sku": "sku",
    "name": "name",
    "quantity": "quantity",
    "price": "price",
}
PLAIN_ORDER_KEYS = {
    "_id": "id",
    "referenceId": "referenceId",
    "mobile": "mobile",
    "name": "name",
    "email": "email",
    "user_id": "userId",
    "delivery_method": "deliveryMethod",
    "product_customizations": "productCustomizations",
    "payment_status": "paymentStatus",
    "external_order_source": "externalOrderSource",
    "external_order_id": "externalOrderId",
    "external_order_number": "externalOrderNumber",
    "notes": "notes",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_keys(value: Any) -> Any:
    """A REST-shaped payload with GraphQL's input field names."""
    if isinstance(value, dict):
        return {
            (key if key == "referenceId" else _camel(key)): (
                item if key == "product_customizations" else _camel_keys(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def _graphql_input(rest_payload: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = _camel_keys(rest_payload)
    if "status" in payload:
        payload["status"] = payload["status"].upper()
    return payload


def _epoch_seconds(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors")
    assert errors is not None, body
    assert len(errors) == 1, body
    error: dict[str, Any] = errors[0]
    return error


async def _create(tenant: Tenant, graphql_input: dict[str, Any]) -> dict[str, Any]:
    body = await tenant.graphql(CREATE_ORDER, {"input": graphql_input})
    assert "errors" not in body, body
    order: dict[str, Any] = body["data"]["createOrder"]
    return order


async def _order_count(tenant: Tenant) -> int:
    body = await tenant.graphql(COUNT_ORDERS)
    assert "errors" not in body, body
    total: int = body["data"]["orders"]["total"]
    assert total == len(body["data"]["orders"]["orders"])
    return total


async def _list(tenant: Tenant, **variables: Any) -> dict[str, Any]:
    body = await tenant.graphql(LIST_ORDERS, variables)
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["orders"]
    return page


# --- createOrder -----------------------------------------------------------------------


async def test_create_order_with_documented_example_returns_the_documented_order(
    tenant: Tenant,
) -> None:
    order = await _create(tenant, DOCUMENTED_CREATE_INPUT)

    assert order["finalAmount"] == "2497.00"
    assert order["status"] == "PENDING"
    assert OBJECT_ID.match(order["id"])
    reference = GENERATED_REFERENCE_ID.match(order["referenceId"])
    assert reference is not None, order["referenceId"]
    assert UTC_TIMESTAMP.match(order["createdAt"]), order["createdAt"]
    assert order["updatedAt"] == order["createdAt"]
    created_seconds = _epoch_seconds(order["createdAt"])
    assert abs(created_seconds - datetime.now(UTC).timestamp()) < 60
    # The referenceId's digits and the _id's first 4 bytes are the creation time.
    assert int(reference.group(1)) == created_seconds
    assert int(order["id"][:8], 16) == created_seconds

    assert order["mobile"] == "+919876543210"
    assert order["name"] == "John Doe"
    assert order["email"] == "john@example.com"
    assert order["userId"] is None
    assert order["deliveryMethod"] == "Local Delivery"
    assert order["deliveryDetails"] == {
        "recipientName": "John Doe",
        "email": None,
        "phone": "+919876543210",
        "alternatePhone": None,
        "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
        "notes": None,
        "location": None,
        "trackingNumber": None,
        "estimatedDelivery": None,
    }
    assert order["productItems"] == [
        {
            "productRetailerId": "SKU-001",
            "sku": None,
            "name": "Premium T-Shirt",
            "quantity": 2,
            "price": "599.00",
            "lineTotal": "1198.00",
        },
        {
            "productRetailerId": "SKU-002",
            "sku": None,
            "name": "Classic Jeans",
            "quantity": 1,
            "price": "1299.00",
            "lineTotal": "1299.00",
        },
    ]
    assert order["productCustomizations"] is None
    assert order["paymentInfo"] is None
    assert order["paymentStatus"] is None
    assert order["externalOrderSource"] == "website"
    assert order["externalOrderId"] == "WEB-12345"
    assert order["externalOrderNumber"] is None
    assert order["notes"] == "Please deliver before 6 PM"

    assert order["history"] == [
        {"status": "PENDING", "timestamp": order["createdAt"], "note": None}
    ]
    assert len(order["timeline"]) == 1
    created_event = order["timeline"][0]
    assert created_event["id"] == "evt_001"
    assert created_event["title"] == "Order Created"
    assert created_event["actor"] == "test-key"
    assert created_event["timestamp"] == order["createdAt"]


async def test_created_order_reads_back_identically(tenant: Tenant) -> None:
    created = await _create(tenant, DOCUMENTED_CREATE_INPUT)

    body = await tenant.graphql(ORDER_BY_ID, {"id": created["id"]})

    assert body == {"data": {"order": created}}


async def test_create_order_keeps_given_final_amount_status_and_reference_id(
    tenant: Tenant,
) -> None:
    order = await _create(
        tenant,
        {
            "mobile": "919876543210",
            "productItems": [{"name": "Tea", "quantity": 3, "price": "0.10"}],
            "finalAmount": "0.25",
            "status": "CONFIRMED",
            "referenceId": "SHOP-REF-1",
        },
    )

    assert order["finalAmount"] == "0.25"
    assert order["productItems"][0]["price"] == "0.10"
    assert order["productItems"][0]["lineTotal"] == "0.30"
    assert order["status"] == "CONFIRMED"
    assert order["referenceId"] == "SHOP-REF-1"
    assert [entry["status"] for entry in order["history"]] == ["CONFIRMED"]


async def test_create_order_sums_money_exactly(tenant: Tenant) -> None:
    order = await _create(
        tenant,
        {
            "mobile": "+15550100",
            "productItems": [
                {"name": "A", "quantity": 3, "price": "0.10"},
                {"name": "B", "quantity": 1, "price": 0.2},
            ],
        },
    )

    assert order["finalAmount"] == "0.50"


@pytest.mark.parametrize("mobile", ["", "   "])
async def test_create_order_with_blank_mobile_gets_the_rest_message(
    tenant: Tenant, mobile: str
) -> None:
    body = await tenant.graphql(
        CREATE_ORDER, {"input": {**DOCUMENTED_CREATE_INPUT, "mobile": mobile}}
    )

    error = _only_error(body)
    assert error["message"] == MOBILE_REQUIRED
    assert error["extensions"]["code"] == "ValidationError"
    assert body["data"] is None
    assert await _order_count(tenant) == 0


async def test_create_order_without_items_gets_the_rest_message(tenant: Tenant) -> None:
    body = await tenant.graphql(
        CREATE_ORDER, {"input": {**DOCUMENTED_CREATE_INPUT, "productItems": []}}
    )

    error = _only_error(body)
    assert error["message"] == ITEMS_REQUIRED
    assert error["extensions"]["code"] == "ValidationError"
    assert body["data"] is None
    assert await _order_count(tenant) == 0


@pytest.mark.parametrize("name", ["", "  "])
async def test_create_order_with_unnamed_item_gets_the_rest_message(
    tenant: Tenant, name: str
) -> None:
    items = [
        {"name": "Premium T-Shirt", "quantity": 2, "price": 599},
        {"name": name, "quantity": 1, "price": 1299},
    ]
    body = await tenant.graphql(
        CREATE_ORDER, {"input": {**DOCUMENTED_CREATE_INPUT, "productItems": items}}
    )

    error = _only_error(body)
    assert error["message"] == ITEM_FIELDS_REQUIRED
    assert error["extensions"]["code"] == "ValidationError"
    assert body["data"] is None
    assert await _order_count(tenant) == 0


@pytest.mark.parametrize(
    "item",
    [
        {"name": "Pen", "quantity": 1, "price": "1.234"},
        {"name": "Pen", "quantity": 1, "price": 1.234},
        {"name": "Pen", "quantity": 1, "price": "-1"},
        {"name": "Pen", "quantity": 1, "price": "abc"},
        {"name": "Pen", "quantity": 0, "price": "1.00"},
        {"name": "Pen", "quantity": 1.5, "price": "1.00"},
    ],
    ids=[
        "three-decimals-string",
        "three-decimals-number",
        "negative",
        "not-a-number",
        "zero-quantity",
        "fractional-quantity",
    ],
)
async def test_create_order_with_bad_item_value_is_a_validation_error(
    tenant: Tenant, item: dict[str, Any]
) -> None:
    body = await tenant.graphql(
        CREATE_ORDER, {"input": {"mobile": "+919876543210", "productItems": [item]}}
    )

    error = _only_error(body)
    assert error["extensions"]["code"] == "ValidationError"
    assert body["data"] is None
    assert await _order_count(tenant) == 0


@pytest.mark.parametrize(
    "override",
    [
        {"mobile": None},
        {"email": "not-an-email"},
        {"finalAmount": "-5"},
        {"status": "LOST"},
        {"referenceId": "64a1b2c3d4e5f6789abc1234"},
        {"unknownField": "x"},
        {"productItems": [{"name": "Pen", "quantity": 1, "price": 1, "colour": "red"}]},
    ],
    ids=[
        "null-mobile",
        "bad-email",
        "negative-final-amount",
        "unknown-status",
        "reference-id-like-an-id",
        "unknown-field",
        "unknown-item-field",
    ],
)
async def test_create_order_with_invalid_input_is_a_validation_error(
    tenant: Tenant, override: dict[str, Any]
) -> None:
    body = await tenant.graphql(CREATE_ORDER, {"input": {**DOCUMENTED_CREATE_INPUT, **override}})

    error = _only_error(body)
    assert error["extensions"]["code"] == "ValidationError"
    assert body.get("data") is None
    assert await _order_count(tenant) == 0


async def test_create_order_with_duplicate_reference_id_is_a_conflict(tenant: Tenant) -> None:
    first = await _create(tenant, {**DOCUMENTED_CREATE_INPUT, "referenceId": "DUP-1"})

    body = await tenant.graphql(
        CREATE_ORDER,
        {"input": {**DOCUMENTED_CREATE_INPUT, "referenceId": "DUP-1", "externalOrderId": "W-2"}},
    )

    error = _only_error(body)
    assert error["extensions"]["code"] == "ConflictError"
    assert body["data"] is None
    page = await _list(tenant)
    assert [order["id"] for order in page["orders"]] == [first["id"]]


# --- order(id:) ------------------------------------------------------------------------


async def test_order_is_found_by_id_and_by_reference_id(tenant: Tenant) -> None:
    created = await tenant.create_order(name="Lookup")

    by_id = await tenant.graphql(ORDER_BY_ID, {"id": created["_id"]})
    by_reference = await tenant.graphql(ORDER_BY_ID, {"id": created["referenceId"]})

    assert "errors" not in by_id
    assert by_id["data"]["order"]["id"] == created["_id"]
    assert by_id["data"]["order"]["referenceId"] == created["referenceId"]
    assert by_id["data"]["order"]["name"] == "Lookup"
    assert by_reference == by_id


@pytest.mark.parametrize(
    "unknown_id", ["ffffffffffffffffffffffff", "ORD0000000000ZZZZ", "nothing", ""]
)
async def test_unknown_order_is_null_without_error(tenant: Tenant, unknown_id: str) -> None:
    await tenant.create_order()

    body = await tenant.graphql(ORDER_BY_ID, {"id": unknown_id})

    assert body == {"data": {"order": None}}


async def test_another_tenants_order_is_null(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await other_tenant.create_order(referenceId="THEIRS-1")

    by_id = await tenant.graphql(ORDER_BY_ID, {"id": theirs["_id"]})
    by_reference = await tenant.graphql(ORDER_BY_ID, {"id": "THEIRS-1"})
    listed = await _list(tenant, filter={"searchTerm": "THEIRS"})

    assert by_id == {"data": {"order": None}}
    assert by_reference == {"data": {"order": None}}
    assert listed["orders"] == []
    assert listed["total"] == 0


# --- orders(filter, sort, page, limit) -------------------------------------------------


async def test_orders_defaults_to_newest_first_page_one_limit_ten(tenant: Tenant) -> None:
    created = [await tenant.create_order(name=f"Customer {n}") for n in range(12)]

    page = await _list(tenant)

    assert [order["id"] for order in page["orders"]] == [
        order["_id"] for order in reversed(created[2:])
    ]
    assert page["total"] == 12
    assert page["totalPages"] == 2
    assert page["page"] == 1
    assert page["limit"] == 10


async def test_orders_pages_cover_every_order_once(tenant: Tenant) -> None:
    # Same amount and (mostly) the same second: ties broken by id, so no overlap or gap.
    created = [await tenant.create_order() for _ in range(7)]

    pages = [await _list(tenant, page=number, limit=3) for number in (1, 2, 3, 4)]

    seen = [order["id"] for page in pages for order in page["orders"]]
    assert sorted(seen) == sorted(order["_id"] for order in created)
    assert [len(page["orders"]) for page in pages] == [3, 3, 1, 0]
    assert {page["total"] for page in pages} == {7}
    assert {page["totalPages"] for page in pages} == {3}
    assert [page["page"] for page in pages] == [1, 2, 3, 4]
    assert {page["limit"] for page in pages} == {3}


async def test_orders_filter_by_several_statuses(tenant: Tenant) -> None:
    pending = await tenant.create_order()
    confirmed = await tenant.create_order(status="confirmed")
    await tenant.create_order(status="shipped")
    cancelled = await tenant.create_order(status="CANCELLED")

    page = await _list(tenant, filter={"status": ["PENDING", "CONFIRMED", "CANCELLED"]})
    one = await _list(tenant, filter={"status": ["SHIPPED"]})
    empty_list = await _list(tenant, filter={"status": []})

    assert {order["id"] for order in page["orders"]} == {
        pending["_id"],
        confirmed["_id"],
        cancelled["_id"],
    }
    assert page["total"] == 3
    assert [order["status"] for order in one["orders"]] == ["SHIPPED"]
    assert one["total"] == 1
    assert empty_list["total"] == 4


async def test_orders_unknown_status_in_filter_is_a_validation_error(tenant: Tenant) -> None:
    body = await tenant.graphql(LIST_ORDERS, {"filter": {"status": ["LOST"]}})

    error = _only_error(body)
    assert error["extensions"]["code"] == "ValidationError"
    assert body.get("data") is None


@pytest.mark.parametrize(
    ("term", "expected_names"),
    [
        ("john", {"John Doe"}),
        ("JOHN DOE", {"John Doe"}),
        ("asha@EXAMPLE", {"Asha Rao"}),
        ("98765 43210", {"John Doe"}),
        ("+1 (555) 010", {"Asha Rao"}),
        ("SHOP-77", {"Asha Rao"}),
        ("#2001", {"Asha Rao"}),
        ("nobody", set()),
    ],
)
async def test_orders_search_term_matches_case_and_punctuation_insensitively(
    tenant: Tenant, term: str, expected_names: set[str]
) -> None:
    await tenant.create_order(name="John Doe", mobile="+919876543210")
    await tenant.create_order(
        name="Asha Rao",
        mobile="+1 555 0100",
        email="asha@example.com",
        external_order_source="shopify",
        external_order_id="SHOP-77",
        external_order_number="#2001",
    )

    page = await _list(tenant, filter={"searchTerm": term})

    assert {order["name"] for order in page["orders"]} == expected_names
    assert page["total"] == len(expected_names)


async def test_orders_search_term_matches_id_and_reference_id(tenant: Tenant) -> None:
    wanted = await tenant.create_order(referenceId="REF-SEARCH-1")
    other = await tenant.create_order()

    by_reference = await _list(tenant, filter={"searchTerm": "ref-search"})
    by_id = await _list(tenant, filter={"searchTerm": wanted["_id"]})

    assert [order["id"] for order in by_reference["orders"]] == [wanted["_id"]]
    assert [order["id"] for order in by_id["orders"]] == [wanted["_id"]]
    assert other["_id"] not in {order["id"] for order in by_id["orders"]}


@pytest.mark.parametrize(
    ("field", "direction", "expected_names"),
    [
        ("FINAL_AMOUNT", "ASC", ["Bea", "Cid", "Ann"]),
        ("FINAL_AMOUNT", "DESC", ["Ann", "Cid", "Bea"]),
        ("NAME", "ASC", ["Ann", "Bea", "Cid"]),
        ("NAME", "DESC", ["Cid", "Bea", "Ann"]),
        ("MOBILE", "ASC", ["Cid", "Ann", "Bea"]),
        ("REFERENCE_ID", "DESC", ["Bea", "Ann", "Cid"]),
        ("CREATED_AT", "ASC", ["Ann", "Bea", "Cid"]),
        ("CREATED_AT", "DESC", ["Cid", "Bea", "Ann"]),
    ],
)
async def test_orders_sort_by_field_and_direction(
    tenant: Tenant, field: str, direction: str, expected_names: list[str]
) -> None:
    await tenant.create_order(
        name="Ann", mobile="+912", referenceId="R-B", status="confirmed", final_amount=300
    )
    await tenant.create_order(
        name="Bea", mobile="+913", referenceId="R-C", status="shipped", final_amount=100
    )
    await tenant.create_order(
        name="Cid", mobile="+911", referenceId="R-A", status="pending", final_amount=200
    )

    page = await _list(tenant, sort={"field": field, "direction": direction})

    assert [order["name"] for order in page["orders"]] == expected_names


async def test_orders_sort_by_status_reverses_with_direction(tenant: Tenant) -> None:
    for status in ("shipped", "pending", "confirmed", "pending"):
        await tenant.create_order(status=status)

    ascending = await _list(tenant, sort={"field": "STATUS", "direction": "ASC"})
    descending = await _list(tenant, sort={"field": "STATUS", "direction": "DESC"})

    ascending_statuses = [order["status"] for order in ascending["orders"]]
    descending_statuses = [order["status"] for order in descending["orders"]]
    assert sorted(ascending_statuses) == ["CONFIRMED", "PENDING", "PENDING", "SHIPPED"]
    assert descending_statuses == list(reversed(ascending_statuses))
    # Equal statuses stay together.
    first_pending = ascending_statuses.index("PENDING")
    assert ascending_statuses[first_pending + 1] == "PENDING"


async def test_orders_sort_direction_defaults_to_desc(tenant: Tenant) -> None:
    await tenant.create_order(name="Low", final_amount=1)
    await tenant.create_order(name="High", final_amount=2)
    await tenant.create_order(name="Mid", final_amount="1.50")

    page = await _list(tenant, sort={"field": "FINAL_AMOUNT"})

    assert [order["name"] for order in page["orders"]] == ["High", "Mid", "Low"]
    assert [order["finalAmount"] for order in page["orders"]] == ["2.00", "1.50", "1.00"]


async def test_orders_date_filter_with_dates_includes_the_whole_end_day(tenant: Tenant) -> None:
    created = await tenant.create_order()
    day = created["created_at"][:10]

    same_day = await _list(tenant, filter={"startDate": day, "endDate": day})
    long_ago = await _list(
        tenant, filter={"startDate": "2000-01-01T00:00:00Z", "endDate": "2000-12-31"}
    )
    from_creation = await _list(tenant, filter={"startDate": created["created_at"]})

    assert [order["id"] for order in same_day["orders"]] == [created["_id"]]
    assert long_ago["orders"] == []
    assert long_ago["total"] == 0
    assert [order["id"] for order in from_creation["orders"]] == [created["_id"]]


@pytest.mark.parametrize(
    "variables",
    [
        {"page": 0},
        {"page": -1},
        {"limit": 0},
        {"limit": 101},
        {"limit": -5},
        {"filter": {"startDate": "yesterday"}},
        {"filter": {"startDate": "2024-06-02", "endDate": "2024-06-01"}},
        {"sort": {"field": "PRICE"}},
        {"sort": {"field": "NAME", "direction": "UP"}},
        {"page": "one"},
    ],
    ids=[
        "page-0",
        "page-negative",
        "limit-0",
        "limit-101",
        "limit-negative",
        "bad-date",
        "start-after-end",
        "unknown-sort-field",
        "unknown-direction",
        "page-not-int",
    ],
)
async def test_orders_out_of_bounds_arguments_are_validation_errors(
    tenant: Tenant, variables: dict[str, Any]
) -> None:
    await tenant.create_order()

    body = await tenant.graphql(LIST_ORDERS, variables)

    error = _only_error(body)
    assert error["extensions"]["code"] == "ValidationError"
    assert body.get("data") is None


@pytest.mark.parametrize("limit", [1, 100])
async def test_orders_limit_bounds_are_accepted(tenant: Tenant, limit: int) -> None:
    await tenant.create_order()
    await tenant.create_order()

    page = await _list(tenant, limit=limit)

    assert len(page["orders"]) == min(limit, 2)
    assert page["limit"] == limit
    assert page["total"] == 2
    assert page["totalPages"] == (2 if limit == 1 else 1)


async def test_orders_of_an_empty_tenant_is_an_empty_page(tenant: Tenant) -> None:
    page = await _list(tenant)

    assert page == {"orders": [], "total": 0, "totalPages": 0, "page": 1, "limit": 10}


# --- REST / GraphQL parity -------------------------------------------------------------


def _assert_same_order(rest: dict[str, Any], gql: dict[str, Any]) -> None:
    """Every REST field equals its GraphQL counterpart."""
    for rest_key, gql_key in PLAIN_ORDER_KEYS.items():
        assert gql[gql_key] == rest[rest_key], rest_key
    assert gql["status"] == rest["status"].upper()
    assert rest["status"] == rest["status"].lower()
    assert isinstance(rest["final_amount"], (int, float))
    assert Decimal(gql["finalAmount"]) == Decimal(str(rest["final_amount"]))

    if rest["delivery_details"] is None:
        assert gql["deliveryDetails"] is None
    else:
        assert set(rest["delivery_details"]) <= set(DELIVERY_KEYS)
        for rest_key, gql_key in DELIVERY_KEYS.items():
            assert gql["deliveryDetails"][gql_key] == rest["delivery_details"].get(rest_key)

    if rest["payment_info"] is None:
        assert gql["paymentInfo"] is None
    else:
        assert set(rest["payment_info"]) <= set(PAYMENT_KEYS)
        for rest_key, gql_key in PAYMENT_KEYS.items():
            rest_value = rest["payment_info"].get(rest_key)
            if rest_key == "amount" and rest_value is not None:
                assert isinstance(rest_value, (int, float)), "REST amounts are JSON numbers"
                assert Decimal(gql["paymentInfo"]["amount"]) == Decimal(str(rest_value))
            else:
                assert gql["paymentInfo"][gql_key] == rest_value, rest_key

    assert len(gql["productItems"]) == len(rest["product_items"])
    for rest_item, gql_item in zip(rest["product_items"], gql["productItems"], strict=True):
        assert set(rest_item) == set(ITEM_KEYS)
        for rest_key, gql_key in ITEM_KEYS.items():
            if rest_key == "price":
                assert isinstance(rest_item["price"], (int, float))
                assert Decimal(gql_item["price"]) == Decimal(str(rest_item["price"]))
            else:
                assert gql_item[gql_key] == rest_item[rest_key], rest_key
        assert Decimal(gql_item["lineTotal"]) == (
            Decimal(str(rest_item["price"])) * rest_item["quantity"]
        )

    if "order_history" in rest:
        assert gql["history"] == [
            {
                "status": entry["status"].upper(),
                "timestamp": entry["timestamp"],
                "note": entry["note"],
            }
            for entry in rest["order_history"]
        ]


@pytest.mark.parametrize("created_through", ["rest", "graphql"])
async def test_rest_and_graphql_return_the_same_values_for_the_same_order(
    tenant: Tenant, created_through: str
) -> None:
    if created_through == "rest":
        order_id = (await tenant.create_order(**FULL_REST_ORDER))["_id"]
    else:
        order_id = (await _create(tenant, _graphql_input(FULL_REST_ORDER)))["id"]

    rest_response = await tenant.get(f"/v1/orders/{order_id}")
    assert rest_response.status_code == 200, rest_response.text
    rest = rest_response.json()
    body = await tenant.graphql(ORDER_BY_ID, {"id": order_id})
    assert "errors" not in body, body
    gql = body["data"]["order"]

    _assert_same_order(rest, gql)
    # Values as given, normalised the same way on both sides.
    assert rest["status"] == "confirmed"
    assert gql["finalAmount"] == "1750.49"
    assert rest["final_amount"] == 1750.49
    assert rest["payment_status"] == "paid"
    assert rest["delivery_details"]["estimated_delivery"] == "2023-06-25T18:00:00Z"
    assert gql["deliveryDetails"]["location"] == {"lat": 18.5204, "lng": 73.8567}
    assert [item["lineTotal"] for item in gql["productItems"]] == ["999.99", "750.50"]
    assert gql["productCustomizations"] == FULL_REST_ORDER["product_customizations"]
    assert rest["order_history"] == [
        {"status": "confirmed", "timestamp": rest["created_at"], "note": None}
    ]


async def test_rest_and_graphql_lists_agree(tenant: Tenant) -> None:
    await tenant.create_order(**FULL_REST_ORDER)
    await tenant.create_order(name="Second", final_amount="12.30")

    rest_response = await tenant.get(
        "/v1/orders", params={"sortBy": "final_amount", "sortDirection": "asc"}
    )
    assert rest_response.status_code == 200, rest_response.text
    rest = rest_response.json()
    list_query = f"""
    query {{ orders(sort: {{field: FINAL_AMOUNT, direction: ASC}}) {{
        orders {{ {ORDER_FIELDS} }} total totalPages page limit
    }} }}
    """
    body = await tenant.graphql(list_query)
    assert "errors" not in body, body
    gql = body["data"]["orders"]

    assert [order["_id"] for order in rest["orders"]] == [order["id"] for order in gql["orders"]]
    assert len(rest["orders"]) == 2
    for rest_order, gql_order in zip(rest["orders"], gql["orders"], strict=True):
        _assert_same_order(rest_order, gql_order)
    assert (rest["total"], rest["totalPages"], rest["page"], rest["limit"]) == (
        gql["total"],
        gql["totalPages"],
        gql["page"],
        gql["limit"],
    )


# --- SQL statements per page -----------------------------------------------------------

PAGE_WITH_RELATIONS = f"""
query Page($limit: Int!) {{
  orders(limit: $limit) {{
    total
    orders {{ id createdAt productItems {{ {ITEM_FIELDS} }} history {{ status timestamp }}
      timeline {{ id title actor }} }}
  }}
}}
"""


async def _create_orders_directly(tenant: Tenant, app: Starlette, count: int) -> None:
    ctx = RequestContext(
        principal=Principal(
            tenant_id=tenant.id, tenant_timezone="UTC", key_id="bulk", key_name="bulk-loader"
        ),
        db=app.state.db,
    )
    for number in range(count):
        await resolve_create_order(
            ctx,
            {
                "mobile": f"+9198765{number:05d}",
                "name": f"Bulk {number}",
                "product_items": [
                    {"name": "Widget", "quantity": 2, "price": "1.50", "sku": f"W-{number}"},
                    {"name": "Gadget", "quantity": 1, "price": 3},
                ],
            },
        )


async def _statements_for_page(
    tenant: Tenant, app: Starlette, limit: int
) -> tuple[list[str], dict[str, Any]]:
    # A warm-up request first, so that authentication is identical for every measurement.
    await tenant.graphql("query { orders(limit: 1) { total } }")
    with recorded_statements(app.state.db) as statements:
        body = await tenant.graphql(PAGE_WITH_RELATIONS, {"limit": limit})
    assert "errors" not in body, body
    return list(statements), body["data"]["orders"]


async def test_page_of_orders_with_relations_costs_a_fixed_number_of_statements(
    tenant: Tenant, app: Starlette
) -> None:
    await _create_orders_directly(tenant, app, 100)

    statements_10, page_10 = await _statements_for_page(tenant, app, 10)
    statements_100, page_100 = await _statements_for_page(tenant, app, 100)

    assert len(page_10["orders"]) == 10
    assert len(page_100["orders"]) == 100
    assert page_100["total"] == 100
    for order in page_100["orders"]:
        assert [item["lineTotal"] for item in order["productItems"]] == ["3.00", "3.00"]
        assert order["history"] == [{"status": "PENDING", "timestamp": order["createdAt"]}]
        assert order["timeline"] == [
            {"id": "evt_001", "title": "Order Created", "actor": "bulk-loader"}
        ]
    assert len(statements_100) == len(statements_10), (statements_10, statements_100)
    assert len(statements_100) <= 12, statements_100


async def test_statement_count_does_not_grow_with_the_number_of_orders_on_the_page(
    tenant: Tenant, other_tenant: Tenant, app: Starlette
) -> None:
    await _create_orders_directly(tenant, app, 10)
    await _create_orders_directly(other_tenant, app, 100)

    statements_10, page_10 = await _statements_for_page(tenant, app, 10)
    statements_100, page_100 = await _statements_for_page(other_tenant, app, 100)

    assert (page_10["total"], len(page_10["orders"])) == (10, 10)
    assert (page_100["total"], len(page_100["orders"])) == (100, 100)
    assert len(statements_100) == len(statements_10), (statements_10, statements_100)
