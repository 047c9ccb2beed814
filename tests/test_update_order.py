"""PUT /v1/orders/{orderId} with ``{"updates": {...}}`` and GraphQL ``updateOrder``:
every updatable field, merging, rejection with nothing changed, status rules inside an
update, ``ETag``/``If-Match`` and REST/GraphQL parity.

Contract: SPEC.md §5 (Update), §6, §7, §11 and the reference document's "Update Order"."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contract import (
    DOCUMENTED_ORDER,
    DOCUMENTED_ORDER_FIELDS,
    ITEM_FIELDS_REQUIRED,
    ITEMS_REQUIRED,
    MOBILE_REQUIRED,
    UTC_TIMESTAMP,
)
from tests.http_helpers import error_of, get_order, get_timeline, snapshot

STRONG_VERSION_TAG = re.compile(r'^"(\d+)"$')

BASE_ORDER: dict[str, Any] = {
    **DOCUMENTED_ORDER,
    "payment_info": {"status": "pending", "amount": 2497.00, "currency": "INR"},
}

# The request of the reference document's "Update Order", verbatim.
DOCUMENTED_UPDATE: dict[str, Any] = {
    "updates": {
        "status": "shipped",
        "delivery_method": "express_delivery",
        "payment_status": "paid",
        "delivery_details": {
            "tracking_number": "TRK987654321",
            "estimated_delivery": "2023-06-23T18:00:00Z",
        },
    }
}

UPDATE_ORDER = """
mutation Update($id: ID!, $updates: UpdateOrderInput!, $expectedVersion: Int) {
  updateOrder(id: $id, updates: $updates, expectedVersion: $expectedVersion) {
    id referenceId status mobile name email userId finalAmount deliveryMethod
    deliveryDetails { recipientName phone address trackingNumber estimatedDelivery }
    productItems { productRetailerId sku name quantity price lineTotal }
    productCustomizations
    paymentInfo { status amount currency paymentId method }
    paymentStatus externalOrderSource externalOrderId externalOrderNumber notes
    version
  }
}
"""
ORDER_VERSION = "query Version($id: ID!) { order(id: $id) { version } }"


# --- helpers -----------------------------------------------------------------------------


async def create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return await tenant.create_order(**{**BASE_ORDER, **fields})


async def put_updates(tenant: Tenant, order_id: str, updates: Any, **kwargs: Any) -> httpx.Response:
    return await tenant.put(f"/v1/orders/{order_id}", json={"updates": updates}, **kwargs)


async def update_ok(tenant: Tenant, order_id: str, updates: dict[str, Any]) -> dict[str, Any]:
    response = await put_updates(tenant, order_id, updates)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"success", "message", "order"}
    assert body["success"] is True
    assert body["message"] == "Order updated successfully"
    order: dict[str, Any] = body["order"]
    return order


def without_history(order: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in order.items() if key != "order_history"}


def etag_version(response: httpx.Response) -> int:
    tag = response.headers.get("etag")
    assert tag is not None, "GET /v1/orders/{id} must send an ETag"
    match = STRONG_VERSION_TAG.match(tag)
    assert match is not None, tag
    return int(match.group(1))


# --- the documented example and the response ----------------------------------------------


async def test_documented_update_example_applies_every_field(tenant: Tenant) -> None:
    created = await create(tenant)

    response = await tenant.put(f"/v1/orders/{created['_id']}", json=DOCUMENTED_UPDATE)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Order updated successfully"
    order = body["order"]
    assert order["_id"] == created["_id"]
    assert order["referenceId"] == created["referenceId"]
    assert order["status"] == "shipped"
    assert order["delivery_method"] == "express_delivery"
    assert order["payment_status"] == "paid"
    assert order["delivery_details"] == {
        "recipient_name": "John Doe",
        "phone": "+919876543210",
        "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
        "tracking_number": "TRK987654321",
        "estimated_delivery": "2023-06-23T18:00:00Z",
    }
    # Untouched fields stay as they were.
    assert order["final_amount"] == 2497.00
    assert order["product_items"] == created["product_items"]
    assert order["notes"] == "Please deliver before 6 PM"
    assert order["created_at"] == created["created_at"]
    assert UTC_TIMESTAMP.match(order["updated_at"])
    assert order["updated_at"] >= created["updated_at"]

    fetched = await get_order(tenant, created["_id"])
    assert without_history(fetched) == without_history(order)
    assert [entry["status"] for entry in fetched["order_history"]] == ["pending", "shipped"]


async def test_documented_update_example_records_its_timeline_events(tenant: Tenant) -> None:
    created = await create(tenant)

    await update_ok(tenant, created["_id"], DOCUMENTED_UPDATE["updates"])

    events = await get_timeline(tenant, created["_id"])
    assert [event["id"] for event in events] == ["evt_001", "evt_002", "evt_003", "evt_004"]
    assert events[0]["title"] == "Order Created"
    by_title = {event["title"]: event for event in events[1:]}
    assert set(by_title) == {"Order Shipped", "Payment Received", "Order Updated"}
    assert by_title["Order Shipped"]["type"] == "info"
    assert by_title["Order Shipped"]["metadata"] == {"from": "pending", "to": "shipped"}
    assert by_title["Payment Received"]["type"] == "success"
    assert sorted(by_title["Order Updated"]["metadata"]["fields"]) == [
        "delivery_details",
        "delivery_method",
    ]


async def test_update_response_order_has_every_documented_field(tenant: Tenant) -> None:
    created = await create(tenant)

    order = await update_ok(tenant, created["_id"], {"name": "Jane Roe"})

    assert set(order) >= DOCUMENTED_ORDER_FIELDS
    assert order["user_id"] is None
    assert order["external_order_number"] is None


# --- each updatable field ---------------------------------------------------------------

UPDATE_CASES: list[Any] = [
    pytest.param({"name": "Jane Roe"}, {"name": "Jane Roe"}, ["name"], id="name"),
    pytest.param(
        {"email": "jane@example.org"}, {"email": "jane@example.org"}, ["email"], id="email"
    ),
    pytest.param({"mobile": "+14155550123"}, {"mobile": "+14155550123"}, ["mobile"], id="mobile"),
    pytest.param({"user_id": "user-77"}, {"user_id": "user-77"}, ["user_id"], id="user_id"),
    pytest.param({"notes": "Call first"}, {"notes": "Call first"}, ["notes"], id="notes"),
    pytest.param({"notes": None}, {"notes": None}, ["notes"], id="notes-cleared-by-null"),
    pytest.param({"email": None}, {"email": None}, ["email"], id="email-cleared-by-null"),
    pytest.param(
        {"delivery_method": "Store Pickup"},
        {"delivery_method": "Store Pickup"},
        ["delivery_method"],
        id="delivery_method",
    ),
    pytest.param(
        {"delivery_details": {"tracking_number": "TRK1", "phone": "+911111111111"}},
        {
            "delivery_details": {
                "recipient_name": "John Doe",
                "phone": "+911111111111",
                "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
                "tracking_number": "TRK1",
            }
        },
        ["delivery_details"],
        id="delivery_details-merged-key-by-key",
    ),
    pytest.param(
        {"delivery_details": {"phone": None, "notes": "Gate code 4711"}},
        {
            "delivery_details": {
                "recipient_name": "John Doe",
                "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
                "notes": "Gate code 4711",
            }
        },
        ["delivery_details"],
        id="delivery_details-null-removes-a-key",
    ),
    pytest.param(
        {"delivery_details": {"location": {"lat": 19.076, "lng": 72.8777}}},
        {
            "delivery_details": {
                "recipient_name": "John Doe",
                "phone": "+919876543210",
                "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
                "location": {"lat": 19.076, "lng": 72.8777},
            }
        },
        ["delivery_details"],
        id="delivery_details-location",
    ),
    pytest.param(
        {"delivery_details": {"estimated_delivery": "2023-06-25T23:30:00+05:30"}},
        {
            "delivery_details": {
                "recipient_name": "John Doe",
                "phone": "+919876543210",
                "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
                "estimated_delivery": "2023-06-25T18:00:00Z",
            }
        },
        ["delivery_details"],
        id="delivery_details-estimated_delivery-in-utc",
    ),
    pytest.param(
        {"delivery_details": None},
        {"delivery_details": None},
        ["delivery_details"],
        id="delivery_details-cleared-by-null",
    ),
    pytest.param(
        {"payment_status": "failed"},
        {
            "payment_status": "failed",
            "payment_info": {"status": "pending", "amount": 2497.0, "currency": "INR"},
        },
        ["payment_status"],
        id="payment_status",
    ),
    pytest.param(
        {"payment_info": {"payment_id": "pay_123", "method": "upi"}},
        {
            "payment_status": "pending",
            "payment_info": {
                "status": "pending",
                "amount": 2497.0,
                "currency": "INR",
                "payment_id": "pay_123",
                "method": "upi",
            },
        },
        ["payment_info"],
        id="payment_info-merged",
    ),
    pytest.param(
        {"payment_info": {"currency": None, "amount": 2400.5}},
        {
            "payment_status": "pending",
            "payment_info": {"status": "pending", "amount": 2400.5},
        },
        ["payment_info"],
        id="payment_info-null-removes-a-key",
    ),
    pytest.param(
        {"payment_info": {"status": "failed"}},
        {
            "payment_status": "failed",
            "payment_info": {"status": "failed", "amount": 2497.0, "currency": "INR"},
        },
        ["payment_info", "payment_status"],
        id="payment_info.status-sets-payment_status",
    ),
    pytest.param(
        {"product_items": [{"name": "Socks", "quantity": 3, "price": 99.99}]},
        {
            "product_items": [
                {
                    "product_retailer_id": None,
                    "sku": None,
                    "name": "Socks",
                    "quantity": 3,
                    "price": 99.99,
                }
            ],
            "final_amount": 299.97,
        },
        ["final_amount", "product_items"],
        id="product_items-replaced-final_amount-recomputed",
    ),
    pytest.param(
        {
            "product_items": [
                {"sku": "CAP-1", "name": "Cap", "quantity": 2, "price": 150.10},
                {"product_retailer_id": "SKU-9", "name": "Belt", "quantity": 1, "price": 0.8},
            ],
            "final_amount": 250,
        },
        {
            "product_items": [
                {
                    "product_retailer_id": None,
                    "sku": "CAP-1",
                    "name": "Cap",
                    "quantity": 2,
                    "price": 150.1,
                },
                {
                    "product_retailer_id": "SKU-9",
                    "sku": None,
                    "name": "Belt",
                    "quantity": 1,
                    "price": 0.8,
                },
            ],
            "final_amount": 250.0,
        },
        ["final_amount", "product_items"],
        id="product_items-with-final_amount-keeps-given-amount",
    ),
    pytest.param(
        {"final_amount": 1999.5}, {"final_amount": 1999.5}, ["final_amount"], id="final_amount"
    ),
    pytest.param(
        {"product_customizations": {"SKU-001": {"size": "L", "gift": True}}},
        {"product_customizations": {"SKU-001": {"size": "L", "gift": True}}},
        ["product_customizations"],
        id="product_customizations",
    ),
    pytest.param(
        {"external_order_source": "shopify"},
        {"external_order_source": "shopify"},
        ["external_order_source"],
        id="external_order_source",
    ),
    pytest.param(
        {"external_order_id": "SHOP-9"},
        {"external_order_id": "SHOP-9"},
        ["external_order_id"],
        id="external_order_id",
    ),
    pytest.param(
        {"external_order_number": "#1009"},
        {"external_order_number": "#1009"},
        ["external_order_number"],
        id="external_order_number",
    ),
]


@pytest.mark.parametrize(("updates", "expected", "changed_fields"), UPDATE_CASES)
async def test_each_updatable_field_is_changed_and_recorded(
    tenant: Tenant,
    updates: dict[str, Any],
    expected: dict[str, Any],
    changed_fields: list[str],
) -> None:
    created = await create(tenant)

    order = await update_ok(tenant, created["_id"], updates)

    # The changed fields hold their new values; every other field is as it was.
    assert {key: order[key] for key in expected} == expected
    untouched = set(created) - set(expected) - {"updated_at"}
    assert {key: order[key] for key in untouched} == {key: created[key] for key in untouched}

    fetched = await get_order(tenant, created["_id"])
    assert without_history(fetched) == without_history(order)
    events = await get_timeline(tenant, created["_id"])
    assert [event["id"] for event in events] == ["evt_001", "evt_002"]
    assert events[1]["title"] == "Order Updated"
    assert events[1]["type"] == "info"
    assert sorted(events[1]["metadata"]["fields"]) == changed_fields


async def test_payment_info_null_clears_it(tenant: Tenant) -> None:
    created = await create(tenant)

    response = await put_updates(tenant, created["_id"], {"payment_info": None})

    assert response.status_code == 200, response.text
    assert response.json()["order"]["payment_info"] is None
    assert (await get_order(tenant, created["_id"]))["payment_info"] is None
    events = await get_timeline(tenant, created["_id"])
    assert events[-1]["title"] == "Order Updated"
    assert "payment_info" in events[-1]["metadata"]["fields"]


async def test_mobile_update_is_found_by_its_digits(tenant: Tenant) -> None:
    created = await create(tenant)

    await update_ok(tenant, created["_id"], {"mobile": "+1 (415) 555-0123"})

    found = await tenant.get("/v1/orders", params={"searchTerm": "14155550123"})
    assert found.status_code == 200, found.text
    assert [order["_id"] for order in found.json()["orders"]] == [created["_id"]]
    old = await tenant.get("/v1/orders", params={"searchTerm": "919876543210"})
    assert old.json()["total"] == 0


async def test_successive_merges_accumulate(tenant: Tenant) -> None:
    created = await create(tenant, delivery_details=None, payment_info=None)
    assert created["delivery_details"] is None

    await update_ok(tenant, created["_id"], {"delivery_details": {"address": "1 Quay St"}})
    await update_ok(tenant, created["_id"], {"delivery_details": {"tracking_number": "T-1"}})
    order = await update_ok(tenant, created["_id"], {"payment_info": {"currency": "USD"}})

    assert order["delivery_details"] == {"address": "1 Quay St", "tracking_number": "T-1"}
    assert order["payment_info"] == {"currency": "USD"}


async def test_recomputed_final_amount_is_exact_decimal(tenant: Tenant) -> None:
    created = await create(tenant)

    order = await update_ok(
        tenant,
        created["_id"],
        {"product_items": [{"name": "Pen", "quantity": 3, "price": 0.1}]},
    )

    assert order["final_amount"] == 0.3


# --- rejected updates change nothing ----------------------------------------------------

FORBIDDEN_FIELDS: list[Any] = [
    pytest.param({"_id": "64a1b2c3d4e5f6789abc1234"}, "_id", id="_id"),
    pytest.param({"referenceId": "ORD-NEW"}, "referenceId", id="referenceId"),
    pytest.param({"created_at": "2020-01-01T00:00:00Z"}, "created_at", id="created_at"),
    pytest.param({"updated_at": "2020-01-01T00:00:00Z"}, "updated_at", id="updated_at"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"final_ammount": 10}, "final_ammount", id="misspelt-field"),
    pytest.param({"order_history": []}, "order_history", id="read-only-order_history"),
    pytest.param({"payment_info": {"stauts": "paid"}}, "stauts", id="unknown-payment_info-key"),
    pytest.param(
        {"delivery_details": {"tracking_no": "T"}}, "tracking_no", id="unknown-delivery-key"
    ),
    pytest.param(
        {"product_items": [{"name": "A", "quantity": 1, "price": 1, "colour": "red"}]},
        "colour",
        id="unknown-item-field",
    ),
]


@pytest.mark.parametrize(("bad", "field"), FORBIDDEN_FIELDS)
async def test_forbidden_and_unknown_fields_are_rejected_with_nothing_changed(
    tenant: Tenant, bad: dict[str, Any], field: str
) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    # Valid changes beside the bad field must not be applied either.
    response = await put_updates(
        tenant, created["_id"], {"name": "Changed", "status": "confirmed", **bad}
    )

    error = error_of(response, 400, "ValidationError")
    assert field in error["message"]
    assert await snapshot(tenant, created["_id"]) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"name": "Jane"}, id="fields-without-updates"),
        pytest.param({"updates": None}, id="updates-null"),
        pytest.param({"updates": "name=Jane"}, id="updates-a-string"),
        pytest.param({"updates": [{"name": "Jane"}]}, id="updates-a-list"),
        pytest.param([{"updates": {"name": "Jane"}}], id="body-a-list"),
        pytest.param({"updates": {"name": "Jane"}, "extra": 1}, id="unknown-top-level-key"),
    ],
)
async def test_body_without_an_updates_object_is_rejected(tenant: Tenant, body: Any) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await tenant.put(f"/v1/orders/{created['_id']}", json=body)

    error_of(response, 400, "ValidationError")
    assert await snapshot(tenant, created["_id"]) == before


async def test_malformed_json_body_is_rejected(tenant: Tenant) -> None:
    created = await create(tenant)

    response = await tenant.put(
        f"/v1/orders/{created['_id']}",
        content=b'{"updates": {"name": ',
        headers={"content-type": "application/json"},
    )

    error_of(response, 400, "ValidationError")


async def test_empty_updates_are_rejected(tenant: Tenant) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(tenant, created["_id"], {})

    error_of(response, 400, "ValidationError")
    assert await snapshot(tenant, created["_id"]) == before


BAD_VALUES: list[Any] = [
    pytest.param({"email": "not-an-email"}, "email", id="email"),
    pytest.param({"name": "x" * 201}, "name", id="name-too-long"),
    pytest.param({"name": 42}, "name", id="name-not-a-string"),
    pytest.param({"notes": "x" * 5001}, "notes", id="notes-too-long"),
    pytest.param({"user_id": ["u"]}, "user_id", id="user_id-not-a-string"),
    pytest.param({"mobile": "call me"}, "mobile", id="mobile-without-digits"),
    pytest.param({"mobile": 919876543210}, "mobile", id="mobile-not-a-string"),
    pytest.param({"final_amount": -1}, "final_amount", id="final_amount-negative"),
    pytest.param({"final_amount": "lots"}, "final_amount", id="final_amount-not-a-number"),
    pytest.param({"final_amount": 10.123}, "final_amount", id="final_amount-3-decimals"),
    pytest.param({"final_amount": None}, "final_amount", id="final_amount-null"),
    pytest.param({"status": None}, "status", id="status-null"),
    pytest.param({"delivery_method": None}, "delivery_method", id="delivery_method-null"),
    pytest.param({"delivery_method": 7}, "delivery_method", id="delivery_method-not-a-string"),
    pytest.param({"delivery_details": "home"}, "delivery_details", id="delivery_details-string"),
    pytest.param(
        {"delivery_details": {"estimated_delivery": "next tuesday"}},
        "delivery_details.estimated_delivery",
        id="delivery_details.estimated_delivery",
    ),
    pytest.param(
        {"delivery_details": {"email": "nope"}},
        "delivery_details.email",
        id="delivery_details.email",
    ),
    pytest.param(
        {"delivery_details": {"location": {"lat": 123, "lng": 0}}},
        "delivery_details.location",
        id="delivery_details.location",
    ),
    pytest.param({"payment_info": ["paid"]}, "payment_info", id="payment_info-list"),
    pytest.param({"payment_info": {"amount": -5}}, "payment_info.amount", id="payment_info.amount"),
    pytest.param({"payment_status": 1}, "payment_status", id="payment_status-not-a-string"),
    pytest.param(
        {"product_customizations": "large"},
        "product_customizations",
        id="product_customizations-not-an-object",
    ),
    pytest.param(
        {"product_customizations": {"blob": "x" * 17_000}},
        "product_customizations",
        id="product_customizations-too-big",
    ),
    pytest.param(
        {"external_order_id": "x" * 201}, "external_order_id", id="external_order_id-too-long"
    ),
    pytest.param(
        {"product_items": [{"name": "A", "quantity": 0, "price": 1}]},
        "quantity",
        id="item-quantity-0",
    ),
    pytest.param(
        {"product_items": [{"name": "A", "quantity": 1.5, "price": 1}]},
        "quantity",
        id="item-quantity-fraction",
    ),
    pytest.param(
        {"product_items": [{"name": "A", "quantity": 1, "price": -1}]},
        "price",
        id="item-price-negative",
    ),
]


@pytest.mark.parametrize(("updates", "field"), BAD_VALUES)
async def test_bad_values_are_rejected_naming_the_field(
    tenant: Tenant, updates: dict[str, Any], field: str
) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(tenant, created["_id"], {"notes": "changed", **updates})

    error = error_of(response, 400, "ValidationError")
    assert field in error["message"]
    assert await snapshot(tenant, created["_id"]) == before


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        pytest.param({"mobile": ""}, MOBILE_REQUIRED, id="mobile-empty"),
        pytest.param({"mobile": "   "}, MOBILE_REQUIRED, id="mobile-blank"),
        pytest.param({"mobile": None}, MOBILE_REQUIRED, id="mobile-null"),
        pytest.param({"product_items": []}, ITEMS_REQUIRED, id="items-empty"),
        pytest.param({"product_items": None}, ITEMS_REQUIRED, id="items-null"),
        pytest.param(
            {"product_items": [{"name": "Shirt", "quantity": 1}]},
            ITEM_FIELDS_REQUIRED,
            id="item-without-price",
        ),
        pytest.param(
            {"product_items": [{"quantity": 1, "price": 5}]},
            ITEM_FIELDS_REQUIRED,
            id="item-without-name",
        ),
    ],
)
async def test_documented_messages_apply_to_updates(
    tenant: Tenant, updates: dict[str, Any], message: str
) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(tenant, created["_id"], updates)

    assert error_of(response, 400, "ValidationError")["message"] == message
    assert await snapshot(tenant, created["_id"]) == before


async def test_unknown_status_in_an_update_is_400_listing_allowed(tenant: Tenant) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(tenant, created["_id"], {"status": "teleported", "name": "X"})

    error = error_of(response, 400, "ValidationError")
    for status in ("pending", "confirmed", "processing", "shipped", "delivered", "completed",
                   "cancelled", "refunded"):  # fmt: skip
        assert status in error["message"]
    assert await snapshot(tenant, created["_id"]) == before


# --- status inside an update --------------------------------------------------------------


async def test_disallowed_status_in_an_update_is_409_and_applies_nothing(tenant: Tenant) -> None:
    created = await create(tenant, status="delivered")
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(
        tenant,
        created["_id"],
        {
            "status": "pending",
            "name": "Someone Else",
            "notes": "should not stick",
            "payment_status": "paid",
            "product_items": [{"name": "Other", "quantity": 1, "price": 1}],
            "delivery_details": {"tracking_number": "TRK-NOPE"},
        },
    )

    error = error_of(response, 409, "ConflictError")
    assert error["details"]["from"] == "delivered"
    assert error["details"]["to"] == "pending"
    assert sorted(error["details"]["allowed"]) == ["completed", "refunded"]
    assert await snapshot(tenant, created["_id"]) == before


async def test_allowed_status_in_an_update_records_a_status_event(tenant: Tenant) -> None:
    created = await create(tenant)

    order = await update_ok(tenant, created["_id"], {"status": "CONFIRMED", "notes": "ok"})

    assert order["status"] == "confirmed"
    events = await get_timeline(tenant, created["_id"])
    titles = sorted(event["title"] for event in events[1:])
    assert titles == ["Order Confirmed", "Order Updated"]
    status_event = next(event for event in events if event["title"] == "Order Confirmed")
    assert status_event["type"] == "success"
    assert status_event["metadata"] == {"from": "pending", "to": "confirmed"}
    updated_event = next(event for event in events if event["title"] == "Order Updated")
    assert updated_event["metadata"]["fields"] == ["notes"]
    fetched = await get_order(tenant, created["_id"])
    assert [entry["status"] for entry in fetched["order_history"]] == ["pending", "confirmed"]


async def test_same_status_in_an_update_adds_no_status_event(tenant: Tenant) -> None:
    created = await create(tenant, status="processing")

    order = await update_ok(tenant, created["_id"], {"status": "processing", "notes": "n"})

    assert order["status"] == "processing"
    events = await get_timeline(tenant, created["_id"])
    assert [event["title"] for event in events] == ["Order Created", "Order Updated"]
    assert events[1]["metadata"]["fields"] == ["notes"]


# --- addressing ----------------------------------------------------------------------------


async def test_update_by_reference_id(tenant: Tenant) -> None:
    created = await create(tenant, referenceId="REF-UPD-1")

    order = await update_ok(tenant, "REF-UPD-1", {"name": "By Reference"})

    assert order["_id"] == created["_id"]
    assert order["referenceId"] == "REF-UPD-1"
    assert (await get_order(tenant, created["_id"]))["name"] == "By Reference"


async def test_update_of_another_tenants_order_is_404_and_changes_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await create(tenant, referenceId="REF-MINE-1")
    before = await snapshot(tenant, created["_id"])

    for order_id in (created["_id"], "REF-MINE-1"):
        response = await put_updates(other_tenant, order_id, {"name": "Hijacked"})
        error_of(response, 404, "NotFoundError")

    assert await snapshot(tenant, created["_id"]) == before


async def test_update_to_another_orders_external_order_is_409(tenant: Tenant) -> None:
    await create(tenant, external_order_source="shopify", external_order_id="SHOP-1")
    second = await create(tenant, external_order_source="shopify", external_order_id="SHOP-2")
    before = await snapshot(tenant, second["_id"])

    response = await put_updates(tenant, second["_id"], {"external_order_id": "SHOP-1"})

    error_of(response, 409, "ConflictError")
    assert await snapshot(tenant, second["_id"]) == before


async def test_update_of_a_missing_order_is_404(tenant: Tenant) -> None:
    response = await put_updates(tenant, "64a1b2c3d4e5f6789abc1234", {"name": "Nobody"})

    error_of(response, 404, "NotFoundError")


# --- ETag and If-Match ---------------------------------------------------------------------


async def test_get_sends_the_version_as_etag(tenant: Tenant) -> None:
    created = await create(tenant)
    version_query = await tenant.graphql(ORDER_VERSION, {"id": created["_id"]})
    version = version_query["data"]["order"]["version"]

    response = await tenant.get(f"/v1/orders/{created['_id']}")

    assert response.headers["etag"] == f'"{version}"'


async def test_etag_changes_with_every_change_and_not_otherwise(tenant: Tenant) -> None:
    created = await create(tenant)
    first = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))
    assert etag_version(await tenant.get(f"/v1/orders/{created['_id']}")) == first

    await update_ok(tenant, created["_id"], {"notes": "one"})
    second = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))
    await tenant.put(f"/v1/orders/{created['_id']}/status", json={"status": "confirmed"})
    third = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))

    assert len({first, second, third}) == 3


async def test_matching_if_match_updates_and_returns_the_new_etag(tenant: Tenant) -> None:
    created = await create(tenant)
    current = (await tenant.get(f"/v1/orders/{created['_id']}")).headers["etag"]

    response = await put_updates(
        tenant, created["_id"], {"notes": "checked"}, headers={"If-Match": current}
    )

    assert response.status_code == 200, response.text
    assert response.json()["order"]["notes"] == "checked"
    new_tag = response.headers["etag"]
    assert new_tag != current
    assert (await tenant.get(f"/v1/orders/{created['_id']}")).headers["etag"] == new_tag


async def test_stale_if_match_is_412_and_changes_nothing(tenant: Tenant) -> None:
    created = await create(tenant)
    stale = (await tenant.get(f"/v1/orders/{created['_id']}")).headers["etag"]
    await update_ok(tenant, created["_id"], {"notes": "someone else was first"})
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(
        tenant,
        created["_id"],
        {"notes": "lost update", "status": "confirmed"},
        headers={"If-Match": stale},
    )

    error_of(response, 412, "PreconditionFailedError")
    assert await snapshot(tenant, created["_id"]) == before


async def test_if_match_that_is_no_version_is_412(tenant: Tenant) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    response = await put_updates(
        tenant, created["_id"], {"notes": "x"}, headers={"If-Match": '"banana"'}
    )

    error_of(response, 412, "PreconditionFailedError")
    assert await snapshot(tenant, created["_id"]) == before


async def test_if_match_star_matches_any_version(tenant: Tenant) -> None:
    created = await create(tenant)

    response = await put_updates(tenant, created["_id"], {"notes": "x"}, headers={"If-Match": "*"})

    assert response.status_code == 200, response.text


async def test_status_route_honours_if_match(tenant: Tenant) -> None:
    created = await create(tenant)
    url = f"/v1/orders/{created['_id']}/status"
    current = (await tenant.get(f"/v1/orders/{created['_id']}")).headers["etag"]

    moved = await tenant.put(url, json={"status": "confirmed"}, headers={"If-Match": current})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"success": True, "message": "Order status updated to confirmed"}
    assert moved.headers["etag"] != current
    before = await snapshot(tenant, created["_id"])

    stale = await tenant.put(url, json={"status": "cancelled"}, headers={"If-Match": current})

    error_of(stale, 412, "PreconditionFailedError")
    assert await snapshot(tenant, created["_id"]) == before
    fresh = await tenant.put(
        url, json={"status": "processing"}, headers={"If-Match": moved.headers["etag"]}
    )
    assert fresh.status_code == 200, fresh.text


# --- GraphQL updateOrder ------------------------------------------------------------------


async def test_graphql_update_order_changes_fields(tenant: Tenant) -> None:
    created = await create(tenant)

    result = await tenant.graphql(
        UPDATE_ORDER,
        {
            "id": created["_id"],
            "updates": {
                "status": "SHIPPED",
                "deliveryMethod": "express_delivery",
                "paymentStatus": "paid",
                "deliveryDetails": {
                    "trackingNumber": "TRK987654321",
                    "estimatedDelivery": "2023-06-23T18:00:00Z",
                },
                "productItems": [{"name": "Socks", "quantity": 3, "price": "99.99"}],
            },
        },
    )

    assert "errors" not in result, result
    order = result["data"]["updateOrder"]
    assert order["id"] == created["_id"]
    assert order["status"] == "SHIPPED"
    assert order["deliveryMethod"] == "express_delivery"
    assert order["paymentStatus"] == "paid"
    assert order["deliveryDetails"] == {
        "recipientName": "John Doe",
        "phone": "+919876543210",
        "address": "123 Main Street, Apartment 4B, Mumbai, Maharashtra 400001",
        "trackingNumber": "TRK987654321",
        "estimatedDelivery": "2023-06-23T18:00:00Z",
    }
    assert order["finalAmount"] == "299.97"
    assert order["productItems"] == [
        {
            "productRetailerId": None,
            "sku": None,
            "name": "Socks",
            "quantity": 3,
            "price": "99.99",
            "lineTotal": "299.97",
        }
    ]


async def test_graphql_update_order_null_clears_and_removes_keys(tenant: Tenant) -> None:
    created = await create(tenant)

    result = await tenant.graphql(
        UPDATE_ORDER,
        {
            "id": created["referenceId"],
            "updates": {"notes": None, "deliveryDetails": {"phone": None}},
        },
    )

    assert "errors" not in result, result
    order = result["data"]["updateOrder"]
    assert order["notes"] is None
    assert order["deliveryDetails"]["phone"] is None
    fetched = await get_order(tenant, created["_id"])
    assert fetched["notes"] is None
    assert "phone" not in fetched["delivery_details"]


async def test_graphql_update_order_null_clears_delivery_details(tenant: Tenant) -> None:
    created = await create(tenant)

    result = await tenant.graphql(
        UPDATE_ORDER, {"id": created["_id"], "updates": {"deliveryDetails": None}}
    )

    assert "errors" not in result, result
    assert result["data"]["updateOrder"]["deliveryDetails"] is None
    assert (await get_order(tenant, created["_id"]))["delivery_details"] is None


# The same change in REST and GraphQL shape.
PARITY_REST_UPDATES: dict[str, Any] = {
    "status": "confirmed",
    "name": "Jane Roe",
    "email": "jane@example.org",
    "mobile": "+14155550123",
    "user_id": "user-9",
    "notes": None,
    "delivery_method": "express_delivery",
    "delivery_details": {"tracking_number": "TRK-1", "phone": None},
    "payment_info": {"status": "paid", "payment_id": "pay_9"},
    "product_items": [
        {"product_retailer_id": "SKU-1", "sku": "S-1", "name": "Cap", "quantity": 2, "price": 12.5}
    ],
    "product_customizations": {"SKU-1": {"colour": "red"}},
    "external_order_source": "pos",
    "external_order_id": "POS-1",
    "external_order_number": "#77",
}
PARITY_GRAPHQL_UPDATES: dict[str, Any] = {
    "status": "CONFIRMED",
    "name": "Jane Roe",
    "email": "jane@example.org",
    "mobile": "+14155550123",
    "userId": "user-9",
    "notes": None,
    "deliveryMethod": "express_delivery",
    "deliveryDetails": {"trackingNumber": "TRK-1", "phone": None},
    "paymentInfo": {"status": "paid", "paymentId": "pay_9"},
    "productItems": [
        {"productRetailerId": "SKU-1", "sku": "S-1", "name": "Cap", "quantity": 2, "price": "12.50"}
    ],
    "productCustomizations": {"SKU-1": {"colour": "red"}},
    "externalOrderSource": "pos",
    "externalOrderId": "POS-1",
    "externalOrderNumber": "#77",
}


def comparable(order: dict[str, Any]) -> dict[str, Any]:
    """An order without what differs between two orders made the same way."""
    skip = {"_id", "referenceId", "created_at", "updated_at"}
    body = {key: value for key, value in order.items() if key not in skip}
    body["order_history"] = [
        {"status": entry["status"], "note": entry["note"]} for entry in order["order_history"]
    ]
    return body


def comparable_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = ("id", "title", "type", "metadata", "actor")
    comparable_list = [{key: event[key] for key in kept} for event in events]
    comparable_list[0]["metadata"] = None  # the creation event names the referenceId
    return comparable_list


async def test_rest_and_graphql_updates_give_the_same_order(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # One order per tenant (both keys are named alike), so external ids cannot clash.
    via_rest = await create(tenant)
    via_graphql = await create(other_tenant)

    rest_order = await update_ok(tenant, via_rest["_id"], PARITY_REST_UPDATES)
    result = await other_tenant.graphql(
        UPDATE_ORDER, {"id": via_graphql["_id"], "updates": PARITY_GRAPHQL_UPDATES}
    )

    assert "errors" not in result, result
    graphql_order = result["data"]["updateOrder"]
    assert graphql_order["finalAmount"] == "25.00"
    assert graphql_order["paymentStatus"] == "paid"
    assert rest_order["final_amount"] == 25.0
    assert rest_order["payment_status"] == "paid"
    rest_view = comparable(await get_order(tenant, via_rest["_id"]))
    graphql_view = comparable(await get_order(other_tenant, via_graphql["_id"]))
    assert graphql_view == rest_view
    rest_events = comparable_events(await get_timeline(tenant, via_rest["_id"]))
    graphql_events = comparable_events(await get_timeline(other_tenant, via_graphql["_id"]))
    assert graphql_events == rest_events


async def test_graphql_update_with_matching_expected_version(tenant: Tenant) -> None:
    created = await create(tenant)
    version = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))

    result = await tenant.graphql(
        UPDATE_ORDER,
        {"id": created["_id"], "updates": {"notes": "versioned"}, "expectedVersion": version},
    )

    assert "errors" not in result, result
    assert result["data"]["updateOrder"]["notes"] == "versioned"
    assert result["data"]["updateOrder"]["version"] > version
    new_version = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))
    assert result["data"]["updateOrder"]["version"] == new_version


async def test_graphql_expected_version_mismatch_is_precondition_failed(tenant: Tenant) -> None:
    created = await create(tenant)
    version = etag_version(await tenant.get(f"/v1/orders/{created['_id']}"))
    await update_ok(tenant, created["_id"], {"notes": "first"})
    before = await snapshot(tenant, created["_id"])

    result = await tenant.graphql(
        UPDATE_ORDER,
        {"id": created["_id"], "updates": {"notes": "second"}, "expectedVersion": version},
    )

    assert result["data"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == [
        "PreconditionFailedError"
    ]
    assert await snapshot(tenant, created["_id"]) == before


@pytest.mark.parametrize(
    ("updates", "code"),
    [
        pytest.param({"email": "not-an-email"}, "ValidationError", id="bad-email"),
        pytest.param({"mobile": "  "}, "ValidationError", id="blank-mobile"),
        pytest.param({"productItems": []}, "ValidationError", id="no-items"),
        pytest.param({"status": "PENDING", "notes": "x"}, "ConflictError", id="disallowed-move"),
    ],
)
async def test_graphql_update_errors_change_nothing(
    tenant: Tenant, updates: dict[str, Any], code: str
) -> None:
    created = await create(tenant, status="completed")
    before = await snapshot(tenant, created["_id"])

    result = await tenant.graphql(UPDATE_ORDER, {"id": created["_id"], "updates": updates})

    assert result["data"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == [code]
    assert await snapshot(tenant, created["_id"]) == before


async def test_graphql_disallowed_move_reports_details(tenant: Tenant) -> None:
    created = await create(tenant, status="completed")

    result = await tenant.graphql(
        UPDATE_ORDER, {"id": created["_id"], "updates": {"status": "SHIPPED"}}
    )

    error = result["errors"][0]
    assert error["extensions"]["code"] == "ConflictError"
    assert error["extensions"]["details"] == {
        "from": "completed",
        "to": "shipped",
        "allowed": ["refunded"],
    }


async def test_graphql_blank_mobile_gets_the_rest_message(tenant: Tenant) -> None:
    created = await create(tenant)

    result = await tenant.graphql(UPDATE_ORDER, {"id": created["_id"], "updates": {"mobile": ""}})

    assert result["errors"][0]["message"] == MOBILE_REQUIRED


async def test_graphql_update_of_another_tenants_order_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    created = await create(tenant)
    before = await snapshot(tenant, created["_id"])

    result = await other_tenant.graphql(
        UPDATE_ORDER, {"id": created["_id"], "updates": {"name": "Hijacked"}}
    )

    assert result["data"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == ["NotFoundError"]
    assert await snapshot(tenant, created["_id"]) == before
