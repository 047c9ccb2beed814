"""POST /v1/orders: the reference document's examples, every validation rule, exact money,
duplicates. Contract: SPEC.md §4-§5 and reference/order-management-api.txt "Create Order"."""

from __future__ import annotations

import asyncio
import calendar
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contract import (
    DOCUMENTED_CREATE_REQUEST,
    DOCUMENTED_ORDER_FIELDS,
    ERROR_FIELDS,
    GENERATED_REFERENCE_ID,
    ITEM_FIELDS_REQUIRED,
    ITEMS_REQUIRED,
    MOBILE_REQUIRED,
    OBJECT_ID,
    STATUSES,
    UNAUTHORIZED,
    UTC_TIMESTAMP,
)
from tests.http_helpers import create_ok, error_of, order_total

# "Create Order from External System": the body of the curl example's -d argument.
DOCUMENTED_CURL_BODY = """{
    "mobile": "+919876543210",
    "name": "John Doe",
    "product_items": [
      {"name": "Product A", "quantity": 1, "price": 500}
    ],
    "external_order_source": "website",
    "external_order_id": "CHECKOUT-123"
  }"""

JSON_HEADERS = {"Content-Type": "application/json"}


def valid_item(**overrides: Any) -> dict[str, Any]:
    return {"name": "Widget", "quantity": 1, "price": 10, **overrides}


def valid_body(**overrides: Any) -> dict[str, Any]:
    return {"mobile": "+919876543210", "product_items": [valid_item()], **overrides}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def exact_json(response: httpx.Response) -> Any:
    """The body with every JSON number with a fraction read as an exact Decimal."""
    return json.loads(response.text, parse_float=Decimal)


def epoch_of(timestamp: str) -> int:
    return calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))


def assert_validation_error(response: httpx.Response, message: str | None = None) -> str:
    """A 400 in the contract's envelope; returns the message for further checks."""
    error = error_of(response, 400, "ValidationError")
    assert set(error) <= ERROR_FIELDS, error
    if message is not None:
        assert error["message"] == message
    return str(error["message"])


async def post_raw(tenant: Tenant, content: bytes | str) -> httpx.Response:
    return await tenant.post("/v1/orders", content=content, headers=JSON_HEADERS)


async def create(tenant: Tenant, body: Any) -> httpx.Response:
    return await tenant.post("/v1/orders", json=body)


# --- the documented examples -----------------------------------------------------------


async def test_documented_create_request_example_returns_201_with_documented_body(
    tenant: Tenant,
) -> None:
    before = int(time.time())
    response = await post_raw(tenant, DOCUMENTED_CREATE_REQUEST)
    after = int(time.time())

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "message", "order"}
    assert body["success"] is True
    assert body["message"] == "Order created successfully"
    order = body["order"]
    assert set(order) >= DOCUMENTED_ORDER_FIELDS, DOCUMENTED_ORDER_FIELDS - set(order)
    assert order["final_amount"] == 2497.00
    assert type(order["final_amount"]) in (int, float)
    expected = {
        "status": "pending",
        "mobile": "+919876543210",
        "name": "John Doe",
        "email": "john@example.com",
        "user_id": None,
        "final_amount": 2497.00,
        "delivery_method": "Local Delivery",
        "delivery_details": {
            "recipient_name": "John Doe",
            "phone": "+919876543210",
            "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
        },
        "product_items": [
            {
                "product_retailer_id": "SKU-001",
                "sku": None,
                "name": "Premium T-Shirt",
                "quantity": 2,
                "price": 599.00,
            },
            {
                "product_retailer_id": "SKU-002",
                "sku": None,
                "name": "Classic Jeans",
                "quantity": 1,
                "price": 1299.00,
            },
        ],
        "product_customizations": None,
        "payment_info": None,
        "payment_status": None,
        "external_order_source": "website",
        "external_order_id": "WEB-12345",
        "external_order_number": None,
        "notes": "Please deliver before 6 PM",
    }
    assert {key: order[key] for key in expected} == expected

    assert UTC_TIMESTAMP.match(order["created_at"]), order["created_at"]
    assert UTC_TIMESTAMP.match(order["updated_at"]), order["updated_at"]
    assert order["updated_at"] == order["created_at"]
    created = epoch_of(order["created_at"])
    assert before <= created <= after

    assert OBJECT_ID.match(order["_id"]), order["_id"]
    assert int(order["_id"][:8], 16) == created

    reference = GENERATED_REFERENCE_ID.match(order["referenceId"])
    assert reference, order["referenceId"]
    assert int(reference.group(1)) == created

    location = response.headers["location"]
    assert location.endswith(f"/v1/orders/{order['_id']}")
    fetched = await tenant.get(location)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["_id"] == order["_id"]
    assert await order_total(tenant) == 1


async def test_documented_curl_example_creates_order_with_defaults(tenant: Tenant) -> None:
    response = await post_raw(tenant, DOCUMENTED_CURL_BODY)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Order created successfully"
    order = body["order"]
    assert set(order) >= DOCUMENTED_ORDER_FIELDS
    assert {key: order[key] for key in DOCUMENTED_ORDER_FIELDS - {"_id", "referenceId"}} == {
        "status": "pending",
        "mobile": "+919876543210",
        "name": "John Doe",
        "email": None,
        "user_id": None,
        "final_amount": 500,
        "delivery_method": "Local Delivery",
        "delivery_details": None,
        "product_items": [
            {
                "product_retailer_id": None,
                "sku": None,
                "name": "Product A",
                "quantity": 1,
                "price": 500,
            }
        ],
        "product_customizations": None,
        "payment_info": None,
        "payment_status": None,
        "external_order_source": "website",
        "external_order_id": "CHECKOUT-123",
        "external_order_number": None,
        "notes": None,
        "created_at": order["created_at"],
        "updated_at": order["created_at"],
    }
    assert OBJECT_ID.match(order["_id"])
    assert GENERATED_REFERENCE_ID.match(order["referenceId"])
    assert UTC_TIMESTAMP.match(order["created_at"])


async def test_every_documented_field_is_stored_and_returned(tenant: Tenant) -> None:
    body = {
        "mobile": "+91 98765 43210",
        "name": "Asha Rao",
        "email": "asha@example.com",
        "user_id": "user-42",
        "product_items": [
            {"product_retailer_id": "SKU-9", "name": "Mug", "quantity": 3, "price": 149.5},
            {"sku": "TSH-PREM-001", "name": "Premium T-Shirt", "quantity": 2, "price": 500},
        ],
        "status": "confirmed",
        "final_amount": 1400.5,
        "delivery_method": "express_delivery",
        "delivery_details": {
            "recipient_name": "Asha",
            "email": "desk@example.com",
            "phone": "+919000000001",
            "alternate_phone": "+919000000002",
            "address": "1 Hill Road",
            "notes": "Ring twice",
            "location": {"lat": 19.076, "lng": 72.8777},
            "tracking_number": "TRK123456789",
            "estimated_delivery": "2023-06-25T18:00:00Z",
        },
        "product_customizations": {"Mug": {"print": "Happy Birthday", "colours": ["red"]}},
        "payment_info": {
            "status": "paid",
            "amount": 1400.5,
            "currency": "INR",
            "payment_id": "pay_123",
            "method": "upi",
        },
        "referenceId": "SHOP-1001",
        "external_order_source": "shopify",
        "external_order_id": "5551234",
        "external_order_number": "#1001",
        "notes": "Gift wrap",
    }
    order = await create_ok(tenant, body)

    assert order["mobile"] == "+91 98765 43210"  # kept exactly as given
    assert order["referenceId"] == "SHOP-1001"
    assert order["status"] == "confirmed"
    assert order["final_amount"] == 1400.5
    assert order["payment_status"] == "paid"
    assert order["product_items"] == [
        {
            "product_retailer_id": "SKU-9",
            "sku": None,
            "name": "Mug",
            "quantity": 3,
            "price": 149.5,
        },
        {
            "product_retailer_id": None,
            "sku": "TSH-PREM-001",
            "name": "Premium T-Shirt",
            "quantity": 2,
            "price": 500,
        },
    ]
    for key in (
        "name",
        "email",
        "user_id",
        "delivery_method",
        "delivery_details",
        "product_customizations",
        "payment_info",
        "external_order_source",
        "external_order_id",
        "external_order_number",
        "notes",
    ):
        assert order[key] == body[key], key
    assert type(order["payment_info"]["amount"]) in (int, float)  # amounts are JSON numbers


async def test_create_without_api_key_is_401_and_writes_nothing(tenant: Tenant) -> None:
    response = await tenant.http.post("/v1/orders", json=valid_body())

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert await order_total(tenant) == 0


# --- the three documented validation messages ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(without(valid_body(), "mobile"), id="missing"),
        pytest.param(valid_body(mobile=None), id="null"),
        pytest.param(valid_body(mobile=""), id="empty"),
        pytest.param(valid_body(mobile="   "), id="blank"),
        pytest.param(valid_body(mobile="\t\n"), id="whitespace"),
    ],
)
async def test_mobile_missing_or_blank_is_documented_message(
    tenant: Tenant, body: dict[str, Any]
) -> None:
    assert_validation_error(await create(tenant, body), MOBILE_REQUIRED)
    assert await order_total(tenant) == 0


async def test_empty_object_reports_missing_mobile_first(tenant: Tenant) -> None:
    assert_validation_error(await create(tenant, {}), MOBILE_REQUIRED)


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(..., id="missing"),
        pytest.param(None, id="null"),
        pytest.param([], id="empty-list"),
        pytest.param("Widget", id="string"),
        pytest.param({"name": "Widget", "quantity": 1, "price": 10}, id="object"),
        pytest.param(3, id="number"),
        pytest.param(True, id="boolean"),
    ],
)
async def test_product_items_missing_empty_or_not_a_list_is_documented_message(
    tenant: Tenant, items: Any
) -> None:
    body = {"mobile": "+919876543210"}
    if items is not ...:
        body["product_items"] = items
    assert_validation_error(await create(tenant, body), ITEMS_REQUIRED)
    assert await order_total(tenant) == 0


def _item_cases() -> list[Any]:
    cases = []
    for name in ("name", "quantity", "price"):
        cases.append(pytest.param(without(valid_item(), name), id=f"{name}-missing"))
        for label, value in (("null", None), ("empty", ""), ("blank", "   ")):
            cases.append(pytest.param(valid_item(**{name: value}), id=f"{name}-{label}"))
    return cases


@pytest.mark.parametrize("item", _item_cases())
async def test_item_without_name_quantity_or_price_is_documented_message(
    tenant: Tenant, item: dict[str, Any]
) -> None:
    response = await create(tenant, valid_body(product_items=[item]))
    assert_validation_error(response, ITEM_FIELDS_REQUIRED)
    assert await order_total(tenant) == 0


async def test_second_item_incomplete_is_documented_message(tenant: Tenant) -> None:
    items = [valid_item(), {"name": "Jeans", "quantity": 1}]
    assert_validation_error(
        await create(tenant, valid_body(product_items=items)), ITEM_FIELDS_REQUIRED
    )
    assert await order_total(tenant) == 0


@pytest.mark.parametrize("item", [{}, "Widget", 7, None, ["Widget", 1, 10]])
async def test_item_that_is_not_an_object_is_documented_message(tenant: Tenant, item: Any) -> None:
    response = await create(tenant, valid_body(product_items=[item]))
    assert_validation_error(response, ITEM_FIELDS_REQUIRED)
    assert await order_total(tenant) == 0


# --- other bad input: 400 naming the field, nothing written ----------------------------


def _item_body(**item: Any) -> dict[str, Any]:
    return valid_body(product_items=[valid_item(**item)])


BAD_FIELDS = [
    # quantity: integer >= 1
    pytest.param(_item_body(quantity=0), "quantity", id="quantity-0"),
    pytest.param(_item_body(quantity=-1), "quantity", id="quantity-negative"),
    pytest.param(_item_body(quantity=1.5), "quantity", id="quantity-fraction"),
    pytest.param(_item_body(quantity="2"), "quantity", id="quantity-string"),
    pytest.param(_item_body(quantity=True), "quantity", id="quantity-true"),
    pytest.param(_item_body(quantity=[1]), "quantity", id="quantity-list"),
    # price: number >= 0, at most 2 decimals
    pytest.param(_item_body(price=-1), "price", id="price-negative"),
    pytest.param(_item_body(price=-0.01), "price", id="price-negative-cent"),
    pytest.param(_item_body(price=1.234), "price", id="price-3-decimals"),
    pytest.param(_item_body(price=0.001), "price", id="price-tenth-of-cent"),
    pytest.param(_item_body(price="abc"), "price", id="price-abc"),
    pytest.param(_item_body(price="NaN"), "price", id="price-NaN"),
    pytest.param(_item_body(price="nan"), "price", id="price-nan"),
    pytest.param(_item_body(price="sNaN"), "price", id="price-sNaN"),
    pytest.param(_item_body(price="Infinity"), "price", id="price-Infinity"),
    pytest.param(_item_body(price="-Infinity"), "price", id="price-minus-Infinity"),
    pytest.param(_item_body(price="inf"), "price", id="price-inf"),
    pytest.param(_item_body(price="1e400"), "price", id="price-1e400-string"),
    # Python's Decimal() reads these, but they are not decimal numbers an integrator sends.
    pytest.param(_item_body(price="1_000"), "price", id="price-underscore"),
    pytest.param(_item_body(price="\u0661\u0660"), "price", id="price-arabic-indic-digits"),
    pytest.param(_item_body(price=1e20), "price", id="price-1e20"),
    pytest.param(_item_body(price=True), "price", id="price-true"),
    pytest.param(_item_body(price={"amount": 1}), "price", id="price-object"),
    # item name
    pytest.param(_item_body(name="x" * 201), "name", id="item-name-201"),
    pytest.param(_item_body(name=42), "name", id="item-name-number"),
    # order fields
    pytest.param(valid_body(mobile=919876543210), "mobile", id="mobile-number"),
    pytest.param(valid_body(final_amount=-1), "final_amount", id="final-amount-negative"),
    pytest.param(valid_body(final_amount=-0.01), "final_amount", id="final-amount-minus-cent"),
    pytest.param(valid_body(final_amount=10.005), "final_amount", id="final-amount-3-decimals"),
    pytest.param(valid_body(final_amount="abc"), "final_amount", id="final-amount-abc"),
    pytest.param(valid_body(final_amount="NaN"), "final_amount", id="final-amount-NaN"),
    pytest.param(valid_body(final_amount=True), "final_amount", id="final-amount-true"),
    pytest.param(valid_body(email="not-an-email"), "email", id="email-no-at"),
    pytest.param(valid_body(email="john@"), "email", id="email-no-domain"),
    pytest.param(valid_body(email="@example.com"), "email", id="email-no-local-part"),
    pytest.param(valid_body(email="john doe@example.com"), "email", id="email-space"),
    pytest.param(valid_body(email="john@@example.com"), "email", id="email-two-ats"),
    pytest.param(valid_body(email=123), "email", id="email-number"),
    pytest.param(valid_body(name="x" * 201), "name", id="name-201"),
    pytest.param(valid_body(mobile="9" * 41), "mobile", id="mobile-41"),
    pytest.param(valid_body(email="a" * 250 + "@example.com"), "email", id="email-too-long"),
    pytest.param(
        valid_body(external_order_id="x" * 201), "external_order_id", id="external-id-201"
    ),
    pytest.param(valid_body(name=["John"]), "name", id="name-list"),
    pytest.param(valid_body(notes="x" * 5001), "notes", id="notes-5001"),
    pytest.param(valid_body(user_id={"id": 1}), "user_id", id="user-id-object"),
    pytest.param(valid_body(delivery_method=5), "delivery_method", id="delivery-method-number"),
    pytest.param(
        valid_body(product_customizations={"engraving": "x" * (16 * 1024 + 1)}),
        "product_customizations",
        id="customizations-over-16KiB",
    ),
    pytest.param(
        valid_body(product_customizations=["gift"]),
        "product_customizations",
        id="customizations-list",
    ),
    pytest.param(
        valid_body(delivery_details="123 Main St"), "delivery_details", id="delivery-string"
    ),
    pytest.param(valid_body(delivery_details={"email": "nope"}), "email", id="delivery-email-bad"),
    pytest.param(
        valid_body(delivery_details={"location": {"lat": 100, "lng": 0}}),
        "lat",
        id="delivery-location-lat-out-of-range",
    ),
    pytest.param(
        valid_body(delivery_details={"location": "19.07,72.87"}),
        "location",
        id="delivery-location-string",
    ),
    pytest.param(
        valid_body(delivery_details={"estimated_delivery": "tomorrow"}),
        "estimated_delivery",
        id="delivery-estimated-not-a-date",
    ),
    pytest.param(valid_body(payment_info="paid"), "payment_info", id="payment-info-string"),
    pytest.param(
        valid_body(payment_info={"amount": "abc"}), "amount", id="payment-amount-not-number"
    ),
    pytest.param(valid_body(payment_info={"amount": -5}), "amount", id="payment-amount-negative"),
    # 1..500 items
    pytest.param(valid_body(product_items=[valid_item()] * 501), "product_items", id="501-items"),
    # referenceId
    pytest.param(valid_body(referenceId="stats"), "referenceId", id="reference-stats"),
    pytest.param(valid_body(referenceId="export"), "referenceId", id="reference-export"),
    pytest.param(valid_body(referenceId="STATS"), "referenceId", id="reference-STATS"),
    pytest.param(
        valid_body(referenceId="64a1b2c3d4e5f6789abc1234"),
        "referenceId",
        id="reference-looks-like-id",
    ),
    pytest.param(valid_body(referenceId="ORD/1"), "referenceId", id="reference-slash"),
    pytest.param(valid_body(referenceId=12345), "referenceId", id="reference-number"),
    pytest.param(valid_body(referenceId="R" * 65), "referenceId", id="reference-65-chars"),
    pytest.param(
        valid_body(delivery_details={"estimated_delivery": "0001-01-01T00:00:00+01:00"}),
        "estimated_delivery",
        id="delivery-estimated-before-year-1-in-utc",
    ),
    pytest.param(
        valid_body(delivery_details={"estimated_delivery": "9999-12-31T23:59:59-01:00"}),
        "estimated_delivery",
        id="delivery-estimated-after-year-9999-in-utc",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_FIELDS)
async def test_invalid_field_is_400_naming_it_and_writes_nothing(
    tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    message = assert_validation_error(await create(tenant, body))
    assert field in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize("status", ["on-hold", "PENDINGX", "", "   ", 1, True, ["pending"]])
async def test_unknown_status_is_400_listing_allowed_statuses(tenant: Tenant, status: Any) -> None:
    message = assert_validation_error(await create(tenant, valid_body(status=status)))
    assert "status" in message
    for allowed in STATUSES:
        assert allowed in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(valid_body(colour="red"), ["colour"], id="colour"),
        pytest.param(valid_body(reference_id="R-1"), ["reference_id"], id="reference_id"),
        pytest.param(valid_body(finalAmount=10), ["finalAmount"], id="finalAmount"),
        pytest.param(valid_body(finel_amount=10), ["finel_amount"], id="misspelt-final_amount"),
        pytest.param(valid_body(_id="64a1b2c3d4e5f6789abc1234"), ["_id"], id="_id"),
        pytest.param(valid_body(created_at="2024-01-01T00:00:00Z"), ["created_at"], id="created"),
        pytest.param(valid_body(colour="red", size="L"), ["colour", "size"], id="two-fields"),
        pytest.param(valid_body(colour=None), ["colour"], id="null-valued"),
    ],
)
async def test_unknown_top_level_field_is_400_naming_it(
    tenant: Tenant, body: dict[str, Any], names: list[str]
) -> None:
    message = assert_validation_error(await create(tenant, body))
    for name in names:
        assert name in message
    assert await order_total(tenant) == 0


async def test_unknown_field_message_format(tenant: Tenant) -> None:
    assert_validation_error(await create(tenant, valid_body(colour="red")), "Unknown field: colour")


@pytest.mark.parametrize("name", ["colour", "qty", "unit_price", "productRetailerId"])
async def test_unknown_item_field_is_400_naming_it(tenant: Tenant, name: str) -> None:
    body = _item_body(**{name: "x"})
    message = assert_validation_error(await create(tenant, body))
    assert name in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    ("body", "name"),
    [
        pytest.param(
            valid_body(delivery_details={"address": "1 Main St", "landmark": "temple"}),
            "landmark",
            id="delivery-landmark",
        ),
        pytest.param(
            valid_body(delivery_details={"trackingNumber": "TRK1"}),
            "trackingNumber",
            id="delivery-camelCase",
        ),
        pytest.param(
            valid_body(delivery_details={"location": {"lat": 1, "lng": 2, "alt": 3}}),
            "location",
            id="location-extra-axis",
        ),
        pytest.param(
            valid_body(payment_info={"status": "paid", "txn": "abc"}),
            "txn",
            id="payment-info-txn",
        ),
    ],
)
async def test_unknown_nested_key_is_400_naming_it(
    tenant: Tenant, body: dict[str, Any], name: str
) -> None:
    message = assert_validation_error(await create(tenant, body))
    assert name in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"mobile": ', id="truncated"),
        pytest.param(b"{'mobile': '+919876543210'}", id="single-quotes"),
        pytest.param(b'{"mobile": "+919876543210",}', id="trailing-comma"),
        pytest.param(b"mobile=+919876543210", id="form-encoded"),
        pytest.param(b'{"mobile": "1"}{"mobile": "2"}', id="two-documents"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(
            b'{"mobile": "1", "product_items": [{"name": "a", "quantity": 1, "price": NaN}]}',
            id="NaN-literal",
        ),
        pytest.param(
            b'{"mobile": "1", "product_items": [{"name": "a", "quantity": 1, "price": 1e400}]}',
            id="infinite-number",
        ),
    ],
)
async def test_malformed_json_is_400(tenant: Tenant, content: bytes) -> None:
    message = assert_validation_error(await post_raw(tenant, content))
    assert "JSON" in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize("content", [b"", b"   ", b"\n"])
async def test_empty_body_is_400(tenant: Tenant, content: bytes) -> None:
    assert_validation_error(await post_raw(tenant, content))
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[]", id="empty-array"),
        pytest.param(
            b'[{"mobile": "+919876543210", '
            b'"product_items": [{"name": "a", "quantity": 1, "price": 1}]}]',
            id="array-of-orders",
        ),
        pytest.param(b"null", id="null"),
        pytest.param(b'"order"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"true", id="boolean"),
    ],
)
async def test_json_body_that_is_not_an_object_is_400(tenant: Tenant, content: bytes) -> None:
    message = assert_validation_error(await post_raw(tenant, content))
    assert "object" in message
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [
        pytest.param({"quantity": 2**31}, "quantity", id="quantity-2^31"),
        pytest.param({"quantity": 2**63}, "quantity", id="quantity-2^63"),
        pytest.param({"quantity": 10**30}, "quantity", id="quantity-10^30"),
        pytest.param({"price": 10**30}, "price", id="price-10^30"),
        pytest.param({"quantity": 100_000, "price": 99_999_999}, "", id="total-overflows"),
    ],
)
async def test_huge_numbers_never_cause_a_server_error(
    tenant: Tenant, item: dict[str, Any], field: str
) -> None:
    response = await create(tenant, _item_body(**item))
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        message = assert_validation_error(response)
        assert field in message
        assert await order_total(tenant) == 0
    else:
        order = response.json()["order"]
        fetched = await tenant.get(f"/v1/orders/{order['_id']}")
        assert fetched.json()["product_items"] == order["product_items"]


NUL = "a\u0000b"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(valid_body(name=NUL), id="nul-in-name"),
        pytest.param(valid_body(notes=NUL), id="nul-in-notes"),
        pytest.param(valid_body(mobile="+91\u00009876543210"), id="nul-in-mobile"),
        pytest.param(_item_body(name=NUL), id="nul-in-item-name"),
        pytest.param(valid_body(delivery_details={"address": NUL}), id="nul-in-address"),
        pytest.param(valid_body(product_customizations={"text": NUL}), id="nul-in-json-value"),
        pytest.param(valid_body(product_customizations={NUL: 1}), id="nul-in-json-key"),
        pytest.param(valid_body(name="\U0001f600 \u00e9\u4e2d"), id="non-ascii-name"),
        pytest.param(valid_body(product_customizations=_nested(200)), id="nested-200-deep"),
        pytest.param(valid_body(product_customizations=_nested(500)), id="nested-500-deep"),
    ],
)
async def test_unusual_text_never_causes_a_server_error(
    tenant: Tenant, body: dict[str, Any]
) -> None:
    response = await create(tenant, body)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_validation_error(response)
        assert await order_total(tenant) == 0
        return
    order = response.json()["order"]
    for key in ("name", "notes", "mobile", "delivery_details", "product_customizations"):
        if key in body:
            assert order[key] == body[key], key
    fetched = await tenant.get(f"/v1/orders/{order['_id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() | {"order_history": None} == order | {"order_history": None}


async def test_estimated_delivery_is_returned_in_utc_with_z(tenant: Tenant) -> None:
    details = {"estimated_delivery": "2023-06-25T23:30:00+05:30"}
    order = await create_ok(tenant, valid_body(delivery_details=details))
    assert order["delivery_details"] == {"estimated_delivery": "2023-06-25T18:00:00Z"}


async def test_total_beyond_storable_range_is_400_or_exact_never_500(tenant: Tenant) -> None:
    items = [valid_item(quantity=1_000_000, price="9999999999.99") for _ in range(10)]
    response = await create(tenant, valid_body(product_items=items))

    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_validation_error(response)
        assert await order_total(tenant) == 0
        return
    total = Decimal("9999999999.99") * 10_000_000
    assert exact_json(response)["order"]["final_amount"] == total
    fetched = await tenant.get(f"/v1/orders/{response.json()['order']['_id']}")
    assert exact_json(fetched)["final_amount"] == total


# --- sizes at the limits are accepted --------------------------------------------------


async def test_limits_themselves_are_accepted(tenant: Tenant) -> None:
    customizations = {"engraving": "x" * (15 * 1024)}
    body = valid_body(
        name="n" * 200,
        notes="x" * 5000,
        product_customizations=customizations,
        product_items=[valid_item(name="i" * 200)],
    )
    order = await create_ok(tenant, body)
    assert order["name"] == "n" * 200
    assert order["notes"] == "x" * 5000
    assert order["product_customizations"] == customizations
    assert order["product_items"][0]["name"] == "i" * 200


async def test_500_items_are_accepted_in_order(tenant: Tenant) -> None:
    items = [valid_item(name=f"Item {n}", quantity=n % 3 + 1, price=1.01) for n in range(500)]
    order = await create_ok(tenant, valid_body(product_items=items))

    assert len(order["product_items"]) == 500
    assert [item["name"] for item in order["product_items"]] == [f"Item {n}" for n in range(500)]
    # 167 * 1 + 167 * 2 + 166 * 3 = 999 units at 1.01
    assert order["final_amount"] == 1008.99


# --- money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "total"),
    [
        pytest.param([{"name": "a", "quantity": 3, "price": 0.10}], "0.30", id="3x0.10"),
        pytest.param(
            [
                {"name": "a", "quantity": 1, "price": 0.1},
                {"name": "b", "quantity": 1, "price": 0.2},
            ],
            "0.30",
            id="0.1+0.2",
        ),
        pytest.param(
            [
                {"name": "T-Shirt", "quantity": 2, "price": 599.00},
                {"name": "Jeans", "quantity": 1, "price": 1299.00},
            ],
            "2497.00",
            id="2x599+1299",
        ),
        pytest.param([{"name": "a", "quantity": 2, "price": "19.99"}], "39.98", id="price-string"),
        pytest.param([{"name": "a", "quantity": 7, "price": 1.15}], "8.05", id="7x1.15"),
        pytest.param([{"name": "a", "quantity": 1, "price": 0}], "0", id="free"),
        pytest.param(
            [{"name": "a", "quantity": 10, "price": 0.07} for _ in range(10)], "7.00", id="sum-7"
        ),
    ],
)
async def test_final_amount_is_exact_decimal_sum(
    tenant: Tenant, items: list[dict[str, Any]], total: str
) -> None:
    response = await create(tenant, valid_body(product_items=items))
    assert response.status_code == 201, response.text
    assert exact_json(response)["order"]["final_amount"] == Decimal(total)
    fetched = await tenant.get(f"/v1/orders/{response.json()['order']['_id']}")
    assert exact_json(fetched)["final_amount"] == Decimal(total)


async def test_price_given_as_decimal_string_is_returned_as_number(tenant: Tenant) -> None:
    order = await create_ok(tenant, _item_body(price="19.99"))
    assert order["product_items"][0]["price"] == 19.99
    assert type(order["product_items"][0]["price"]) is float


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        pytest.param(2000.50, 2000.50, id="less-than-items"),
        pytest.param(99999, 99999, id="more-than-items"),
        pytest.param(0, 0, id="zero"),
        pytest.param("10.50", 10.50, id="decimal-string"),
    ],
)
async def test_given_final_amount_is_kept(tenant: Tenant, given: Any, kept: float) -> None:
    items = [
        {"name": "a", "quantity": 2, "price": 599},
        {"name": "b", "quantity": 1, "price": 1299},
    ]
    order = await create_ok(tenant, valid_body(product_items=items, final_amount=given))
    assert order["final_amount"] == kept
    assert type(order["final_amount"]) in (int, float)


async def test_null_final_amount_is_computed(tenant: Tenant) -> None:
    order = await create_ok(tenant, _item_body(quantity=4, price=2.5) | {"final_amount": None})
    assert order["final_amount"] == 10.0


# --- statuses, payment status, sku -----------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("SHIPPED", "shipped"),
        ("Pending", "pending"),
        ("pending", "pending"),
        ("CoNfIrMeD", "confirmed"),
        ("delivered", "delivered"),
    ],
)
async def test_status_in_any_case_is_returned_lower_case(
    tenant: Tenant, given: str, stored: str
) -> None:
    order = await create_ok(tenant, valid_body(status=given))
    assert order["status"] == stored


async def test_status_defaults_to_pending_and_delivery_method_to_local_delivery(
    tenant: Tenant,
) -> None:
    order = await create_ok(tenant, valid_body())
    assert order["status"] == "pending"
    assert order["delivery_method"] == "Local Delivery"


async def test_payment_status_comes_from_payment_info_status(tenant: Tenant) -> None:
    order = await create_ok(tenant, valid_body(payment_info={"status": "paid", "method": "upi"}))
    assert order["payment_status"] == "paid"
    assert order["payment_info"] == {"status": "paid", "method": "upi"}


async def test_payment_status_given_directly_is_kept(tenant: Tenant) -> None:
    order = await create_ok(tenant, valid_body(payment_status="pending"))
    assert order["payment_status"] == "pending"
    assert order["payment_info"] is None


async def test_item_sku_is_stored_and_returned(tenant: Tenant) -> None:
    order = await create_ok(
        tenant, _item_body(sku="TSH-PREM-001", product_retailer_id="SKU-001", price=500)
    )
    assert order["product_items"] == [
        {
            "product_retailer_id": "SKU-001",
            "sku": "TSH-PREM-001",
            "name": "Widget",
            "quantity": 1,
            "price": 500,
        }
    ]
    fetched = await tenant.get(f"/v1/orders/{order['_id']}")
    assert fetched.json()["product_items"] == order["product_items"]


async def test_documented_update_only_fields_are_known_on_create(tenant: Tenant) -> None:
    details = {"tracking_number": "TRK987654321", "estimated_delivery": "2023-06-23T18:00:00Z"}
    order = await create_ok(tenant, valid_body(delivery_details=details))
    assert order["delivery_details"] == details


async def test_null_optional_fields_are_accepted_as_unset(tenant: Tenant) -> None:
    nullable = (
        "name",
        "email",
        "user_id",
        "status",
        "final_amount",
        "delivery_method",
        "delivery_details",
        "product_customizations",
        "payment_info",
        "referenceId",
        "external_order_source",
        "external_order_id",
        "external_order_number",
        "notes",
    )
    order = await create_ok(tenant, valid_body(**dict.fromkeys(nullable)))
    assert order["status"] == "pending"
    assert order["delivery_method"] == "Local Delivery"
    assert order["final_amount"] == 10
    assert GENERATED_REFERENCE_ID.match(order["referenceId"])
    for key in set(nullable) - {"status", "delivery_method", "final_amount", "referenceId"}:
        assert order[key] is None, key


# --- identity --------------------------------------------------------------------------


async def test_generated_ids_are_unique(tenant: Tenant) -> None:
    orders = [await create_ok(tenant, valid_body()) for _ in range(20)]
    assert len({order["_id"] for order in orders}) == 20
    assert len({order["referenceId"] for order in orders}) == 20
    for order in orders:
        assert OBJECT_ID.match(order["_id"])
        assert GENERATED_REFERENCE_ID.match(order["referenceId"])


async def test_given_reference_id_is_kept(tenant: Tenant) -> None:
    order = await create_ok(tenant, valid_body(referenceId="ORD-001"))
    assert order["referenceId"] == "ORD-001"


# --- duplicates ------------------------------------------------------------------------


def assert_conflict(response: httpx.Response, existing: dict[str, Any]) -> None:
    error = error_of(response, 409, "ConflictError")
    assert error["details"]["orderId"] == existing["_id"]
    assert error["details"]["referenceId"] == existing["referenceId"]


async def test_duplicate_reference_id_is_409_naming_existing_order(tenant: Tenant) -> None:
    existing = await create_ok(tenant, valid_body(referenceId="ORD-001"))

    response = await create(tenant, valid_body(referenceId="ORD-001", name="Someone else"))

    assert_conflict(response, existing)
    assert await order_total(tenant) == 1
    fetched = await tenant.get("/v1/orders/ORD-001")
    assert fetched.json()["name"] is None


async def test_same_reference_id_in_another_tenant_is_allowed(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_ok(tenant, valid_body(referenceId="ORD-001"))
    theirs = await create_ok(other_tenant, valid_body(referenceId="ORD-001"))

    assert theirs["referenceId"] == mine["referenceId"] == "ORD-001"
    assert theirs["_id"] != mine["_id"]
    assert await order_total(tenant) == 1
    assert await order_total(other_tenant) == 1


async def test_duplicate_external_order_is_409_naming_existing_order(tenant: Tenant) -> None:
    external = {"external_order_source": "shopify", "external_order_id": "5551234"}
    existing = await create_ok(tenant, valid_body(**external))

    response = await create(tenant, valid_body(**external, referenceId="NEW-REF"))

    assert_conflict(response, existing)
    assert await order_total(tenant) == 1


async def test_same_external_id_from_another_source_or_tenant_is_allowed(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await create_ok(tenant, valid_body(external_order_source="shopify", external_order_id="1"))
    await create_ok(tenant, valid_body(external_order_source="website", external_order_id="1"))
    await create_ok(
        other_tenant, valid_body(external_order_source="shopify", external_order_id="1")
    )
    assert await order_total(tenant) == 2
    assert await order_total(other_tenant) == 1


async def test_external_order_id_without_source_can_repeat(tenant: Tenant) -> None:
    await create_ok(tenant, valid_body(external_order_id="X-1"))
    await create_ok(tenant, valid_body(external_order_id="X-1"))
    assert await order_total(tenant) == 2


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"referenceId": "RACE-1"}, id="reference-id"),
        pytest.param(
            {"external_order_source": "website", "external_order_id": "RACE-1"}, id="external"
        ),
    ],
)
async def test_concurrent_duplicates_give_one_201_and_409s(
    tenant: Tenant, extra: dict[str, Any]
) -> None:
    responses = await asyncio.gather(*(create(tenant, valid_body(**extra)) for _ in range(6)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    winner = next(r.json()["order"] for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert_conflict(response, winner)
    assert await order_total(tenant) == 1
