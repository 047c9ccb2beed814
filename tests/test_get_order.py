"""GET /v1/orders/{orderId}: by _id or referenceId, order_history, ETag, 404s and tenant
isolation. Contract: SPEC.md §2, §4, §5 and reference "Get Order by ID"."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contract import DOCUMENTED_ORDER, ERROR_FIELDS, UNAUTHORIZED, UTC_TIMESTAMP
from tests.http_helpers import create_ok, error_of

ENTITY_TAG = re.compile(r'^(W/)?"[\x21\x23-\x7e]*"$')


async def get_ok(tenant: Tenant, order_id: str) -> httpx.Response:
    response = await tenant.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response


def assert_not_found(response: httpx.Response) -> dict[str, Any]:
    error = error_of(response, 404, "NotFoundError")
    assert set(error) <= ERROR_FIELDS
    body: dict[str, Any] = response.json()
    return body


async def test_get_by_id_returns_created_order_with_initial_history(tenant: Tenant) -> None:
    created = await create_ok(tenant, DOCUMENTED_ORDER)

    response = await get_ok(tenant, created["_id"])

    assert response.headers["content-type"].startswith("application/json")
    order = response.json()
    assert order == {
        **created,
        "order_history": [{"status": "pending", "timestamp": created["created_at"], "note": None}],
    }
    assert order["final_amount"] == 2497.00
    assert UTC_TIMESTAMP.match(order["order_history"][0]["timestamp"])


async def test_get_by_reference_id_returns_the_same_order(tenant: Tenant) -> None:
    created = await create_ok(tenant, DOCUMENTED_ORDER)

    by_id = (await get_ok(tenant, created["_id"])).json()
    by_reference = (await get_ok(tenant, created["referenceId"])).json()

    assert by_reference == by_id
    assert by_reference["_id"] == created["_id"]


async def test_get_by_given_reference_id(tenant: Tenant) -> None:
    created = await create_ok(tenant, {**DOCUMENTED_ORDER, "referenceId": "ORD-001"})

    order = (await get_ok(tenant, "ORD-001")).json()

    assert order["_id"] == created["_id"]
    assert order["referenceId"] == "ORD-001"
    assert order["order_history"] == [
        {"status": "pending", "timestamp": created["created_at"], "note": None}
    ]


async def test_get_history_records_initial_status_given_in_any_case(tenant: Tenant) -> None:
    created = await create_ok(tenant, {**DOCUMENTED_ORDER, "status": "SHIPPED"})

    order = (await get_ok(tenant, created["_id"])).json()

    assert order["status"] == "shipped"
    assert order["order_history"] == [
        {"status": "shipped", "timestamp": created["created_at"], "note": None}
    ]


async def test_get_has_an_etag_that_is_stable_while_the_order_is_unchanged(
    tenant: Tenant,
) -> None:
    created = await create_ok(tenant, DOCUMENTED_ORDER)

    first = await get_ok(tenant, created["_id"])
    again = await get_ok(tenant, created["_id"])
    by_reference = await get_ok(tenant, created["referenceId"])

    etag = first.headers.get("etag")
    assert etag, first.headers
    assert ENTITY_TAG.match(etag), etag
    assert again.headers["etag"] == etag
    assert by_reference.headers["etag"] == etag


async def test_each_order_is_found_by_its_own_ids(tenant: Tenant) -> None:
    one = await create_ok(tenant, DOCUMENTED_ORDER)
    two = await create_ok(tenant, {**DOCUMENTED_ORDER, "external_order_id": "WEB-2"})

    assert (await get_ok(tenant, one["_id"])).json()["_id"] == one["_id"]
    assert (await get_ok(tenant, two["_id"])).json()["_id"] == two["_id"]
    assert (await get_ok(tenant, two["referenceId"])).json()["external_order_id"] == "WEB-2"


async def test_get_round_trips_every_stored_value(tenant: Tenant) -> None:
    body = {
        "mobile": "+91 98765 43210",
        "name": "Asha Rao",
        "email": "asha@example.com",
        "user_id": "user-42",
        "status": "Confirmed",
        "product_items": [
            {"sku": "TSH-PREM-001", "name": "Premium T-Shirt", "quantity": 3, "price": "0.10"},
            {"product_retailer_id": "SKU-2", "name": "Jeans", "quantity": 1, "price": 750.5},
        ],
        "delivery_details": {
            "address": "123 Main St, City, State",
            "tracking_number": "TRK123456789",
            "estimated_delivery": "2023-06-25T18:00:00Z",
            "location": {"lat": 19.076, "lng": 72.8777},
        },
        "product_customizations": {"Premium T-Shirt": {"size": "L"}},
        "payment_info": {"status": "paid", "currency": "INR", "method": "card"},
        "external_order_source": "mobile_app",
        "external_order_id": "APP-9",
        "external_order_number": "9",
        "notes": "Leave at the door",
    }
    created = await create_ok(tenant, body)

    order = (await get_ok(tenant, created["_id"])).json()

    assert order == {**created, "order_history": order["order_history"]}
    assert order["status"] == "confirmed"
    assert order["mobile"] == "+91 98765 43210"
    assert order["final_amount"] == 750.80
    assert order["payment_status"] == "paid"
    assert order["product_items"] == [
        {
            "product_retailer_id": None,
            "sku": "TSH-PREM-001",
            "name": "Premium T-Shirt",
            "quantity": 3,
            "price": 0.10,
        },
        {
            "product_retailer_id": "SKU-2",
            "sku": None,
            "name": "Jeans",
            "quantity": 1,
            "price": 750.50,
        },
    ]
    for key in ("delivery_details", "product_customizations", "payment_info", "notes"):
        assert order[key] == body[key], key
    assert order["order_history"] == [
        {"status": "confirmed", "timestamp": created["created_at"], "note": None}
    ]


@pytest.mark.parametrize(
    "order_id",
    [
        pytest.param("64a1b2c3d4e5f6789abc1234", id="unknown-object-id"),
        pytest.param("ORD1702345678ABCD", id="unknown-reference-id"),
        pytest.param("does-not-exist", id="unknown-word"),
        pytest.param("0" * 24, id="zeros"),
        pytest.param("x" * 300, id="very-long"),
        pytest.param("%E2%9C%93", id="non-ascii"),
        pytest.param("'%20OR%201=1", id="sql-ish"),
        pytest.param("ORD-%00-1", id="nul-byte"),
        pytest.param("64a1b2c3d4e5f6789abc12%00", id="nul-byte-in-id-like"),
    ],
)
async def test_unknown_order_is_404(tenant: Tenant, order_id: str) -> None:
    await create_ok(tenant, DOCUMENTED_ORDER)
    assert_not_found(await tenant.get(f"/v1/orders/{order_id}"))


async def test_unknown_order_does_not_match_a_prefix_or_other_case(tenant: Tenant) -> None:
    created = await create_ok(tenant, {**DOCUMENTED_ORDER, "referenceId": "ORD-001"})

    assert_not_found(await tenant.get(f"/v1/orders/{created['_id'][:-1]}"))
    assert_not_found(await tenant.get("/v1/orders/ORD-00"))
    assert_not_found(await tenant.get("/v1/orders/ORD-0011"))


def _without_id(body: dict[str, Any], order_id: str) -> str:
    return json.dumps(body, sort_keys=True).replace(order_id, "<id>")


@pytest.mark.parametrize("key", ["_id", "referenceId"])
async def test_another_tenants_order_is_indistinguishable_from_a_missing_one(
    tenant: Tenant, other_tenant: Tenant, key: str
) -> None:
    theirs = await create_ok(other_tenant, DOCUMENTED_ORDER)
    never = "64a1b2c3d4e5f6789abc0000" if key == "_id" else "ORD0000000000ZZZZ"

    hidden = assert_not_found(await tenant.get(f"/v1/orders/{theirs[key]}"))
    missing = assert_not_found(await tenant.get(f"/v1/orders/{never}"))

    assert _without_id(hidden, theirs[key]) == _without_id(missing, never)
    assert (await get_ok(other_tenant, theirs[key])).json()["_id"] == theirs["_id"]


async def test_same_reference_id_in_two_tenants_resolves_to_each_ones_own_order(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_ok(tenant, {**DOCUMENTED_ORDER, "referenceId": "SHARED-1", "name": "A"})
    theirs = await create_ok(
        other_tenant, {**DOCUMENTED_ORDER, "referenceId": "SHARED-1", "name": "B"}
    )

    seen_by_me = (await get_ok(tenant, "SHARED-1")).json()
    seen_by_them = (await get_ok(other_tenant, "SHARED-1")).json()

    assert (seen_by_me["_id"], seen_by_me["name"]) == (mine["_id"], "A")
    assert (seen_by_them["_id"], seen_by_them["name"]) == (theirs["_id"], "B")
    assert_not_found(await tenant.get(f"/v1/orders/{theirs['_id']}"))
    assert_not_found(await other_tenant.get(f"/v1/orders/{mine['_id']}"))


async def test_get_without_api_key_is_401(tenant: Tenant) -> None:
    created = await create_ok(tenant, DOCUMENTED_ORDER)

    for headers in ({}, {"x-tenant-api-key": "not-a-key"}):
        response = await tenant.http.get(f"/v1/orders/{created['_id']}", headers=headers)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
