"""Bulk create (issue 6): ``POST /v1/orders/bulk`` with ``{"orders": [...]}`` and GraphQL
``bulkCreateOrders``. Each order is validated and created on its own and the answer lists,
per input index, the created order or its error envelope; ``?atomic=true`` is all or
nothing; 1,000 orders cost a fixed number of SQL statements. External orders
(``external_order_source`` + ``external_order_id``) and given referenceIds are unique per
tenant, across REST, GraphQL and bulk: a duplicate is a 409 ``ConflictError`` naming the
existing order. SPEC.md §4, §5."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import Tenant
from tests.databases import recorded_statements
from tests.http_helpers import assert_error

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
GENERATED_REFERENCE_ID = re.compile(r"^ORD\d{10}[A-Z0-9]{4}$")

GQL_BULK = """
mutation Bulk($orders: [CreateOrderInput!]!, $atomic: Boolean! = false) {
  bulkCreateOrders(orders: $orders, atomic: $atomic) {
    created failed
    results { index orderId referenceId error { code message details } }
  }
}
"""
GQL_CREATE = """
mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { id referenceId } }
"""


def order_body(number: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mobile": f"+91987650{number:04d}",
        "name": f"Customer {number}",
        "product_items": [
            {"name": "Tea Set", "quantity": 2, "price": 599.00, "sku": f"TEA-{number}"},
            {"name": "Teapot", "quantity": 1, "price": 1299.00},
        ],
    }
    body.update(fields)
    return body


def external(number: int, source: str = "shopify") -> dict[str, Any]:
    return {"external_order_source": source, "external_order_id": f"ext-{number}"}


def assert_created(result: dict[str, Any], index: int) -> None:
    assert set(result) == {"index", "success", "_id", "referenceId"}, result
    assert result["index"] == index
    assert result["success"] is True
    assert OBJECT_ID.match(result["_id"]), result


def assert_failed(result: dict[str, Any], index: int, code: str) -> dict[str, Any]:
    assert set(result) == {"index", "success", "error"}, result
    assert result["index"] == index
    assert result["success"] is False
    error: dict[str, Any] = result["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


async def bulk(tenant: Tenant, orders: Any, query: str = "") -> httpx.Response:
    return await tenant.post(f"/v1/orders/bulk{query}", json={"orders": orders})


async def order_total(tenant: Tenant) -> int:
    response = await tenant.get("/v1/orders", params={"limit": 100})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def external_ids(tenant: Tenant) -> list[str]:
    response = await tenant.get("/v1/orders", params={"limit": 100})
    assert response.status_code == 200, response.text
    return sorted(order["external_order_id"] for order in response.json()["orders"])


# --- all valid, mixed --------------------------------------------------------------------


async def test_all_valid_orders_are_created_with_201(tenant: Tenant) -> None:
    orders = [order_body(n) for n in range(3)]
    orders[1]["referenceId"] = "BULK-GIVEN-1"
    response = await bulk(tenant, orders)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"success", "created", "failed", "results"}
    assert (body["success"], body["created"], body["failed"]) == (True, 3, 0)
    assert [result["index"] for result in body["results"]] == [0, 1, 2]
    for index, result in enumerate(body["results"]):
        assert_created(result, index)
    assert body["results"][1]["referenceId"] == "BULK-GIVEN-1"
    assert GENERATED_REFERENCE_ID.match(body["results"][0]["referenceId"])
    assert GENERATED_REFERENCE_ID.match(body["results"][2]["referenceId"])
    assert len({result["_id"] for result in body["results"]}) == 3
    assert len({result["referenceId"] for result in body["results"]}) == 3
    assert await order_total(tenant) == 3

    by_reference = await tenant.get("/v1/orders/BULK-GIVEN-1")
    assert by_reference.status_code == 200, by_reference.text
    assert by_reference.json()["_id"] == body["results"][1]["_id"]


async def test_mixed_valid_and_invalid_orders_answer_207_per_index(tenant: Tenant) -> None:
    orders: list[Any] = [
        order_body(0, final_amount=1400.5, status="CONFIRMED"),
        order_body(1, mobile=""),
        order_body(2),
        order_body(3, product_items=[]),
        order_body(4, product_items=[{"name": "Cup", "quantity": 1}]),
        order_body(5, colour="red"),
        "not an order",
        order_body(7, product_items=[{"name": "Cup", "quantity": 3, "price": 0.1}]),
    ]
    response = await bulk(tenant, orders)
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["success"], body["created"], body["failed"]) == (False, 3, 5)
    results = body["results"]
    assert [result["index"] for result in results] == list(range(8))

    for index in (0, 2, 7):
        assert_created(results[index], index)
    messages = {
        1: "Customer mobile number is required",
        3: "At least one product item is required",
        4: "Each product item must have name, quantity, and price",
    }
    for index, message in messages.items():
        assert assert_failed(results[index], index, "ValidationError")["message"] == message
    assert "colour" in assert_failed(results[5], 5, "ValidationError")["message"]
    assert_failed(results[6], 6, "ValidationError")

    listed = await tenant.get("/v1/orders", params={"limit": 100})
    assert listed.json()["total"] == 3
    assert {order["_id"] for order in listed.json()["orders"]} == {
        results[index]["_id"] for index in (0, 2, 7)
    }

    first = (await tenant.get(f"/v1/orders/{results[0]['_id']}")).json()
    assert first["referenceId"] == results[0]["referenceId"]
    assert first["status"] == "confirmed"
    assert first["final_amount"] == 1400.5
    assert first["name"] == "Customer 0"
    assert first["mobile"] == "+919876500000"
    assert first["product_items"] == [
        {
            "product_retailer_id": None,
            "sku": "TEA-0",
            "name": "Tea Set",
            "quantity": 2,
            "price": 599.0,
        },
        {
            "product_retailer_id": None,
            "sku": None,
            "name": "Teapot",
            "quantity": 1,
            "price": 1299.0,
        },
    ]
    second = (await tenant.get(f"/v1/orders/{results[2]['_id']}")).json()
    assert second["status"] == "pending"
    assert second["final_amount"] == 2497.00
    assert second["delivery_method"] == "Local Delivery"
    third = (await tenant.get(f"/v1/orders/{results[7]['_id']}")).json()
    assert third["final_amount"] == 0.3  # 3 x 0.10, decimal: not 0.30000000000000004

    for index in (0, 2, 7):
        timeline = await tenant.get(f"/v1/orders/{results[index]['_id']}/timeline")
        events = timeline.json()
        assert [(e["id"], e["title"]) for e in events] == [("evt_001", "Order Created")]
        assert events[0]["actor"] == "test-key"


async def test_a_paid_bulk_order_gets_its_payment_event(tenant: Tenant) -> None:
    response = await bulk(tenant, [order_body(0, payment_status="paid")])
    assert response.status_code == 201, response.text
    order_id = response.json()["results"][0]["_id"]
    events = (await tenant.get(f"/v1/orders/{order_id}/timeline")).json()
    assert [e["title"] for e in events] == ["Order Created", "Payment Received"]
    assert [e["id"] for e in events] == ["evt_001", "evt_002"]


FULL_ORDER: dict[str, Any] = {
    "mobile": "+91 98765-43210",
    "name": "Asha Rao",
    "email": "asha@example.com",
    "user_id": "user-7",
    "status": "shipped",
    "final_amount": "2497.05",
    "delivery_method": "Courier",
    "delivery_details": {
        "recipient_name": "Asha",
        "address": "12 MG Road",
        "location": {"lat": 12.97, "lng": 77.59},
        "estimated_delivery": "2026-12-01T10:30:00+05:30",
    },
    "product_customizations": {"engraving": "A.R.", "gift": True},
    "payment_info": {"status": "paid", "amount": 2497.05, "currency": "INR", "method": "upi"},
    "external_order_number": "#1001",
    "notes": "Leave at the door",
    "product_items": [
        {
            "product_retailer_id": "SKU-1",
            "sku": "TEA-1",
            "name": "Tea Set",
            "quantity": 3,
            "price": "19.99",
        },
        {"name": "Teapot", "quantity": 1, "price": 0.1},
    ],
}


async def test_a_bulk_order_reads_back_exactly_like_the_same_order_created_alone(
    tenant: Tenant,
) -> None:
    """Bulk rows go to the driver without the ORM: every stored value (cents, UTC times,
    JSON objects, the creation events) must come back as a single create's does."""
    alone = await tenant.post("/v1/orders", json={**FULL_ORDER, "external_order_id": "a"})
    assert alone.status_code == 201, alone.text
    response = await bulk(tenant, [{**FULL_ORDER, "external_order_id": "b"}])
    assert response.status_code == 201, response.text
    ids = [alone.json()["order"]["_id"], response.json()["results"][0]["_id"]]

    def comparable(order: dict[str, Any]) -> dict[str, Any]:
        varying = ("_id", "referenceId", "external_order_id", "created_at", "updated_at")
        return {key: value for key, value in order.items() if key not in varying}

    def comparable_events(events: list[dict[str, Any]], reference_id: str) -> str:
        kept = [{k: v for k, v in e.items() if k != "timestamp"} for e in events]
        return json.dumps(kept).replace(reference_id, "<referenceId>")

    single, bulk_made = [(await tenant.get(f"/v1/orders/{i}")).json() for i in ids]
    assert comparable(bulk_made) == comparable(single)
    assert bulk_made["final_amount"] == 2497.05
    assert bulk_made["product_items"][0]["price"] == 19.99
    assert bulk_made["delivery_details"]["estimated_delivery"] == "2026-12-01T05:00:00Z"
    assert bulk_made["created_at"].endswith("Z")
    single_events, bulk_events = [
        (await tenant.get(f"/v1/orders/{i}/timeline")).json() for i in ids
    ]
    assert comparable_events(bulk_events, bulk_made["referenceId"]) == comparable_events(
        single_events, single["referenceId"]
    )
    assert [e["title"] for e in bulk_events] == ["Order Created", "Payment Received"]


async def test_bulk_orders_are_findable_like_single_ones(tenant: Tenant) -> None:
    response = await bulk(tenant, [order_body(0, **external(77)), order_body(1)])
    assert response.status_code == 201, response.text
    found = await tenant.get("/v1/orders", params={"searchTerm": "EXT-77"})
    assert [order["_id"] for order in found.json()["orders"]] == [
        response.json()["results"][0]["_id"]
    ]


# --- duplicates ----------------------------------------------------------------------------


async def test_an_external_order_already_stored_is_a_conflict_at_its_index(
    tenant: Tenant,
) -> None:
    existing = await tenant.create_order(**external(1))
    response = await bulk(tenant, [order_body(0, **external(0)), order_body(1, **external(1))])
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["created"], body["failed"]) == (1, 1)
    assert_created(body["results"][0], 0)
    error = assert_failed(body["results"][1], 1, "ConflictError")
    assert error["details"] == {"orderId": existing["_id"], "referenceId": existing["referenceId"]}
    assert await external_ids(tenant) == ["ext-0", "ext-1"]


async def test_the_same_external_id_from_another_source_is_not_a_duplicate(
    tenant: Tenant,
) -> None:
    await tenant.create_order(**external(1, source="shopify"))
    response = await bulk(tenant, [order_body(1, **external(1, source="woocommerce"))])
    assert response.status_code == 201, response.text
    assert await order_total(tenant) == 2


async def test_a_repeated_external_order_within_one_request_is_a_conflict(
    tenant: Tenant,
) -> None:
    orders = [
        order_body(0, **external(5)),
        order_body(1, **external(6)),
        order_body(2, **external(5)),
    ]
    response = await bulk(tenant, orders)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert_created(results[0], 0)
    assert_created(results[1], 1)
    assert_failed(results[2], 2, "ConflictError")
    assert await external_ids(tenant) == ["ext-5", "ext-6"]
    stored = (await tenant.get(f"/v1/orders/{results[0]['_id']}")).json()
    assert stored["name"] == "Customer 0"


async def test_a_given_reference_id_already_stored_is_a_conflict(tenant: Tenant) -> None:
    existing = await tenant.create_order(referenceId="SHOP-1001")
    orders = [order_body(0, referenceId="SHOP-1001"), order_body(1, referenceId="SHOP-1002")]
    response = await bulk(tenant, orders)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    error = assert_failed(results[0], 0, "ConflictError")
    assert error["details"] == {"orderId": existing["_id"], "referenceId": "SHOP-1001"}
    assert_created(results[1], 1)
    assert results[1]["referenceId"] == "SHOP-1002"
    assert await order_total(tenant) == 2


async def test_a_reference_id_repeated_within_one_request_is_a_conflict(tenant: Tenant) -> None:
    orders = [order_body(0, referenceId="SHOP-7"), order_body(1, referenceId="SHOP-7")]
    response = await bulk(tenant, orders)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert_created(results[0], 0)
    assert_failed(results[1], 1, "ConflictError")
    assert await order_total(tenant) == 1


async def test_duplicate_external_orders_are_refused_by_rest_graphql_and_bulk(
    tenant: Tenant,
) -> None:
    first = await tenant.create_order(**external(42))
    details = {"orderId": first["_id"], "referenceId": first["referenceId"]}

    single = await tenant.post("/v1/orders", json=order_body(1, **external(42)))
    assert assert_error(single, 409, "ConflictError")["details"] == details

    gql_input = {
        "mobile": "+919876543210",
        "productItems": [{"name": "Tea", "quantity": 1, "price": "5.00"}],
        "externalOrderSource": "shopify",
        "externalOrderId": "ext-42",
    }
    graphql = await tenant.graphql(GQL_CREATE, {"input": gql_input})
    assert graphql["data"] is None
    assert graphql["errors"][0]["extensions"]["code"] == "ConflictError"
    assert graphql["errors"][0]["extensions"]["details"] == details

    in_bulk = await bulk(tenant, [order_body(2, **external(42))])
    assert in_bulk.status_code == 207, in_bulk.text
    assert assert_failed(in_bulk.json()["results"][0], 0, "ConflictError")["details"] == details

    gql_bulk = await tenant.graphql(GQL_BULK, {"orders": [gql_input]})
    item = gql_bulk["data"]["bulkCreateOrders"]["results"][0]
    assert item["orderId"] is None
    assert item["error"]["code"] == "ConflictError"
    assert item["error"]["details"] == details

    assert await order_total(tenant) == 1


async def test_orders_created_in_bulk_block_duplicates_elsewhere(tenant: Tenant) -> None:
    created = await bulk(tenant, [order_body(0, **external(9), referenceId="SHOP-9")])
    assert created.status_code == 201, created.text
    result = created.json()["results"][0]
    details = {"orderId": result["_id"], "referenceId": "SHOP-9"}

    by_external = await tenant.post("/v1/orders", json=order_body(1, **external(9)))
    assert assert_error(by_external, 409, "ConflictError")["details"] == details
    by_reference = await tenant.post("/v1/orders", json=order_body(2, referenceId="SHOP-9"))
    assert assert_error(by_reference, 409, "ConflictError")["details"] == details
    gql_input = {
        "mobile": "+919876543210",
        "productItems": [{"name": "Tea", "quantity": 1, "price": "5.00"}],
        "externalOrderSource": "shopify",
        "externalOrderId": "ext-9",
    }
    graphql = await tenant.graphql(GQL_CREATE, {"input": gql_input})
    assert graphql["errors"][0]["extensions"]["code"] == "ConflictError"
    assert graphql["errors"][0]["extensions"]["details"] == details
    assert await order_total(tenant) == 1


async def test_an_update_cannot_take_a_bulk_orders_external_id(tenant: Tenant) -> None:
    created = await bulk(tenant, [order_body(0, **external(3)), order_body(1, **external(4))])
    assert created.status_code == 201, created.text
    first, second = created.json()["results"]
    response = await tenant.put(
        f"/v1/orders/{second['_id']}", json={"updates": {"external_order_id": "ext-3"}}
    )
    error = assert_error(response, 409, "ConflictError")
    assert error["details"] == {"orderId": first["_id"], "referenceId": first["referenceId"]}
    assert await external_ids(tenant) == ["ext-3", "ext-4"]


# --- atomic --------------------------------------------------------------------------------


async def test_atomic_with_one_invalid_order_creates_nothing(tenant: Tenant) -> None:
    orders = [order_body(0), order_body(1), order_body(2, mobile=""), order_body(3)]
    response = await bulk(tenant, orders, "?atomic=true")
    error = assert_error(response, 400, "ValidationError")
    errors = error["details"]["errors"]
    assert [entry["index"] for entry in errors] == [2]
    assert errors[0]["error"]["code"] == "ValidationError"
    assert errors[0]["error"]["message"] == "Customer mobile number is required"
    assert await order_total(tenant) == 0


async def test_atomic_with_a_repeat_inside_the_request_creates_nothing(tenant: Tenant) -> None:
    orders = [order_body(0, **external(1)), order_body(1, **external(1))]
    response = await bulk(tenant, orders, "?atomic=true")
    assert response.status_code in (400, 409), response.text
    error = response.json()["error"]
    assert error["code"] == ("ValidationError" if response.status_code == 400 else "ConflictError")
    assert [entry["index"] for entry in error["details"]["errors"]] == [1]
    assert await order_total(tenant) == 0


async def test_atomic_with_a_duplicate_of_a_stored_order_is_409_and_creates_nothing(
    tenant: Tenant,
) -> None:
    existing = await tenant.create_order(**external(2))
    orders = [order_body(0, **external(0)), order_body(1, **external(1))]
    orders.append(order_body(2, **external(2)))
    response = await bulk(tenant, orders, "?atomic=true")
    error = assert_error(response, 409, "ConflictError")
    errors = error["details"]["errors"]
    assert [entry["index"] for entry in errors] == [2]
    assert errors[0]["error"]["code"] == "ConflictError"
    assert errors[0]["error"]["details"] == {
        "orderId": existing["_id"],
        "referenceId": existing["referenceId"],
    }
    assert await external_ids(tenant) == ["ext-2"]


async def test_atomic_with_all_valid_orders_creates_them_all(tenant: Tenant) -> None:
    response = await bulk(tenant, [order_body(n, **external(n)) for n in range(4)], "?atomic=TRUE")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["success"], body["created"], body["failed"]) == (True, 4, 0)
    assert await external_ids(tenant) == ["ext-0", "ext-1", "ext-2", "ext-3"]


async def test_atomic_false_is_the_default_behaviour(tenant: Tenant) -> None:
    response = await bulk(tenant, [order_body(0), order_body(1, mobile="")], "?atomic=false")
    assert response.status_code == 207, response.text
    assert await order_total(tenant) == 1


# --- request validation ----------------------------------------------------------------------


async def test_more_than_1000_orders_is_refused(tenant: Tenant) -> None:
    orders = [{"mobile": "1", "product_items": [{"name": "x", "quantity": 1, "price": 1}]}]
    response = await bulk(tenant, orders * 1001)
    assert_error(response, 400, "ValidationError")
    assert await order_total(tenant) == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"orders": []}, id="empty-list"),
        pytest.param({}, id="orders-missing"),
        pytest.param({"orders": None}, id="orders-null"),
        pytest.param({"orders": {"mobile": "1"}}, id="orders-not-a-list"),
        pytest.param([{"mobile": "1"}], id="body-a-list"),
        pytest.param({"orders": [{"mobile": "1"}], "atomic": True}, id="unknown-body-field"),
    ],
)
async def test_a_malformed_bulk_body_is_refused(tenant: Tenant, body: Any) -> None:
    response = await tenant.post("/v1/orders/bulk", json=body)
    assert_error(response, 400, "ValidationError")
    assert await order_total(tenant) == 0


async def test_an_empty_or_invalid_json_body_is_refused(tenant: Tenant) -> None:
    headers = {"content-type": "application/json"}
    for content in (b"", b'{"orders": ['):
        response = await tenant.post("/v1/orders/bulk", content=content, headers=headers)
        assert_error(response, 400, "ValidationError")


@pytest.mark.parametrize(
    "query",
    ["?atomc=true", "?atomic=maybe", "?page=2"],
)
async def test_bad_query_parameters_are_refused(tenant: Tenant, query: str) -> None:
    response = await bulk(tenant, [order_body(0)], query)
    assert_error(response, 400, "ValidationError")
    assert await order_total(tenant) == 0


async def test_bulk_needs_an_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/orders/bulk", json={"orders": [order_body(0)]})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "AuthenticationError", "message": "Invalid or missing API key"}
    }


async def test_bulk_only_accepts_post(tenant: Tenant) -> None:
    response = await tenant.get("/v1/orders/bulk")
    assert_error(response, 405, "MethodNotAllowedError")


# --- 1,000 orders ------------------------------------------------------------------------


async def test_1000_orders_cost_a_fixed_small_number_of_statements(
    tenant: Tenant, app: Starlette
) -> None:
    orders = [order_body(n, **external(n)) for n in range(1000)]
    with recorded_statements(app.state.db) as statements:
        response = await bulk(tenant, orders)
    assert response.status_code == 201, response.text[:500]
    body = response.json()
    assert (body["created"], body["failed"]) == (1000, 0)
    assert [result["index"] for result in body["results"]] == list(range(1000))
    assert len({result["_id"] for result in body["results"]}) == 1000
    assert len(statements) < 50, len(statements)

    listed = await tenant.get("/v1/orders", params={"limit": 1})
    assert listed.json()["total"] == 1000
    last = await tenant.get(f"/v1/orders/{body['results'][999]['_id']}")
    assert last.json()["external_order_id"] == "ext-999"
    assert last.json()["final_amount"] == 2497.00
    assert len(last.json()["product_items"]) == 2
    timeline = await tenant.get(f"/v1/orders/{body['results'][500]['_id']}/timeline")
    assert [event["title"] for event in timeline.json()] == ["Order Created"]


async def test_1000_orders_atomic_cost_a_fixed_small_number_of_statements(
    tenant: Tenant, app: Starlette
) -> None:
    orders = [order_body(n) for n in range(1000)]
    with recorded_statements(app.state.db) as statements:
        response = await bulk(tenant, orders, "?atomic=true")
    assert response.status_code == 201, response.text[:500]
    assert response.json()["created"] == 1000
    assert len(statements) < 50, len(statements)
    listed = await tenant.get("/v1/orders", params={"limit": 1})
    assert listed.json()["total"] == 1000


# --- GraphQL -------------------------------------------------------------------------------

GQL_VALID = {
    "mobile": "+919876543210",
    "name": "Asha",
    "productItems": [
        {"name": "Tea Set", "quantity": 2, "price": "599.00"},
        {"name": "Teapot", "quantity": 1, "price": "1299.00"},
    ],
}


async def test_graphql_bulk_create_reports_each_index(tenant: Tenant) -> None:
    existing = await tenant.create_order(**external(1))
    orders = [
        {**GQL_VALID, "referenceId": "GQL-BULK-1"},
        {**GQL_VALID, "mobile": ""},
        {**GQL_VALID, "externalOrderSource": "shopify", "externalOrderId": "ext-1"},
        GQL_VALID,
    ]
    body = await tenant.graphql(GQL_BULK, {"orders": orders})
    assert "errors" not in body, body
    result = body["data"]["bulkCreateOrders"]
    assert (result["created"], result["failed"]) == (2, 2)
    items = result["results"]
    assert [item["index"] for item in items] == [0, 1, 2, 3]

    assert items[0]["referenceId"] == "GQL-BULK-1"
    assert OBJECT_ID.match(items[0]["orderId"])
    assert items[0]["error"] is None
    assert items[1]["orderId"] is None
    assert items[1]["referenceId"] is None
    assert items[1]["error"]["code"] == "ValidationError"
    assert items[1]["error"]["message"] == "Customer mobile number is required"
    assert items[2]["orderId"] is None
    assert items[2]["error"]["code"] == "ConflictError"
    assert items[2]["error"]["details"] == {
        "orderId": existing["_id"],
        "referenceId": existing["referenceId"],
    }
    assert GENERATED_REFERENCE_ID.match(items[3]["referenceId"])

    order = await tenant.graphql(
        "query One($id: ID!) { order(id: $id) { id finalAmount timeline { title } } }",
        {"id": items[0]["orderId"]},
    )
    assert order["data"]["order"] == {
        "id": items[0]["orderId"],
        "finalAmount": "2497.00",
        "timeline": [{"title": "Order Created"}],
    }
    assert await order_total(tenant) == 3


async def test_graphql_bulk_atomic_with_an_invalid_order_creates_nothing(
    tenant: Tenant,
) -> None:
    orders = [GQL_VALID, {**GQL_VALID, "productItems": []}]
    body = await tenant.graphql(GQL_BULK, {"orders": orders, "atomic": True})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ValidationError"
    assert [entry["index"] for entry in error["extensions"]["details"]["errors"]] == [1]
    assert await order_total(tenant) == 0


async def test_graphql_bulk_atomic_with_a_duplicate_creates_nothing(tenant: Tenant) -> None:
    await tenant.create_order(referenceId="TAKEN-1")
    orders = [GQL_VALID, {**GQL_VALID, "referenceId": "TAKEN-1"}]
    body = await tenant.graphql(GQL_BULK, {"orders": orders, "atomic": True})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ConflictError"
    assert [entry["index"] for entry in error["extensions"]["details"]["errors"]] == [1]
    assert await order_total(tenant) == 1


async def test_graphql_bulk_refuses_empty_and_oversized_lists(tenant: Tenant) -> None:
    small = {"mobile": "1", "productItems": [{"name": "x", "quantity": 1, "price": "1"}]}
    for orders in ([], [small] * 1001):
        body = await tenant.graphql(GQL_BULK, {"orders": orders})
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "ValidationError"
    assert await order_total(tenant) == 0


# --- tenants -------------------------------------------------------------------------------


async def test_bulk_orders_are_invisible_to_another_tenant(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    response = await bulk(tenant, [order_body(0, referenceId="ISO-1"), order_body(1)])
    assert response.status_code == 201, response.text
    order_id = response.json()["results"][1]["_id"]

    assert await order_total(other_tenant) == 0
    for path in (f"/v1/orders/{order_id}", "/v1/orders/ISO-1", f"/v1/orders/{order_id}/timeline"):
        assert_error(await other_tenant.get(path), 404, "NotFoundError")
    assert await order_total(tenant) == 2


async def test_another_tenants_external_ids_do_not_conflict(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    orders = [order_body(n, **external(n), referenceId=f"SHARED-{n}") for n in range(3)]
    mine = await bulk(tenant, orders)
    theirs = await bulk(other_tenant, orders)
    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["created"] == 3
    mine_ids = {result["_id"] for result in mine.json()["results"]}
    theirs_ids = {result["_id"] for result in theirs.json()["results"]}
    assert not mine_ids & theirs_ids
    assert await external_ids(tenant) == ["ext-0", "ext-1", "ext-2"]
    assert await external_ids(other_tenant) == ["ext-0", "ext-1", "ext-2"]

    atomic = await bulk(other_tenant, [order_body(9, **external(9))], "?atomic=true")
    assert atomic.status_code == 201, atomic.text
    single = await other_tenant.post("/v1/orders", json=order_body(5, **external(5)))
    assert single.status_code == 201, single.text
