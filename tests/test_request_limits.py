"""SPEC §4/§5 and issue 5: one request cannot make the server allocate or return unbounded
data. Bodies over ``MAX_BODY_BYTES`` are 413 (declared or streamed, REST and GraphQL);
strings, lists and JSON objects have maximum sizes (400 naming the field); ``limit`` is at
most 100 on both interfaces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from orders_api.config import Settings
from rest.app import create_app
from tests.conftest import Tenant, make_settings, new_tenant
from tests.http_helpers import lifespan_client, order_total

MAX_BODY = 2048
ITEM = {"name": "Widget", "quantity": 1, "price": 10}


def order_body(**fields: Any) -> dict[str, Any]:
    return {"mobile": "+919876543210", "product_items": [ITEM], **fields}


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def padded_order(size: int) -> bytes:
    """A valid create-order body of exactly ``size`` bytes (the notes take the slack)."""
    empty = encoded(order_body(notes=""))
    content = encoded(order_body(notes="n" * (size - len(empty))))
    assert len(content) == size
    return content


async def chunks(content: bytes, size: int = 512) -> AsyncIterator[bytes]:
    """The body streamed in pieces, with no Content-Length."""
    for start in range(0, len(content), size):
        yield content[start : start + size]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Tenant]:
    application = create_app(settings)
    async with lifespan_client(application) as http:
        yield await new_tenant(application.state.db, http)


@pytest.fixture
async def small_bodies(database_url: str) -> AsyncIterator[Tenant]:
    """A tenant of an app whose body limit is ``MAX_BODY`` bytes."""
    async with serving(make_settings(database_url, max_body_bytes=MAX_BODY)) as tenant:
        yield tenant


def assert_too_large(response: httpx.Response, max_bytes: int) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "PayloadTooLargeError"
    assert isinstance(error["message"], str)
    assert str(max_bytes) in error["message"]


def assert_invalid(response: httpx.Response, field: str) -> None:
    """400 ValidationError whose message names ``field``."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    assert field in error["message"], error


# --- the body limit ------------------------------------------------------------------------

JSON_TYPE = {"content-type": "application/json"}


async def test_a_body_at_the_limit_is_accepted(small_bodies: Tenant) -> None:
    response = await small_bodies.post(
        "/v1/orders", content=padded_order(MAX_BODY), headers=JSON_TYPE
    )

    assert response.status_code == 201, response.text


async def test_a_declared_body_over_the_limit_is_413(small_bodies: Tenant) -> None:
    content = padded_order(MAX_BODY + 1)

    response = await small_bodies.post("/v1/orders", content=content, headers=JSON_TYPE)

    assert response.request.headers["content-length"] == str(MAX_BODY + 1)
    assert_too_large(response, MAX_BODY)
    assert await order_total(small_bodies) == 0


async def test_a_streamed_body_over_the_limit_is_413(small_bodies: Tenant) -> None:
    content = padded_order(MAX_BODY * 3)

    response = await small_bodies.post("/v1/orders", content=chunks(content), headers=JSON_TYPE)

    assert "content-length" not in response.request.headers
    assert_too_large(response, MAX_BODY)
    assert await order_total(small_bodies) == 0


async def test_a_streamed_body_within_the_limit_is_accepted(small_bodies: Tenant) -> None:
    content = padded_order(MAX_BODY)

    response = await small_bodies.post("/v1/orders", content=chunks(content), headers=JSON_TYPE)

    assert response.status_code == 201, response.text


async def test_an_update_over_the_limit_is_413_and_changes_nothing(small_bodies: Tenant) -> None:
    order = await small_bodies.create_order(notes="before")
    body = encoded({"updates": {"notes": "x" * MAX_BODY}})

    response = await small_bodies.put(f"/v1/orders/{order['_id']}", content=body, headers=JSON_TYPE)

    assert_too_large(response, MAX_BODY)
    after = await small_bodies.get(f"/v1/orders/{order['_id']}")
    assert after.json()["notes"] == "before"


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
async def test_a_graphql_body_over_the_limit_is_413(small_bodies: Tenant, streamed: bool) -> None:
    padding = " " * MAX_BODY
    content = encoded({"query": "{ orders { total } }" + padding})

    response = await small_bodies.post(
        "/graphql", content=chunks(content) if streamed else content, headers=JSON_TYPE
    )

    assert_too_large(response, MAX_BODY)


async def test_a_graphql_mutation_over_the_limit_creates_nothing(small_bodies: Tenant) -> None:
    query = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id } }"
    variables = {"input": {"mobile": "1", "notes": "n" * MAX_BODY, "productItems": [ITEM]}}

    response = await small_bodies.post(
        "/graphql", content=encoded({"query": query, "variables": variables}), headers=JSON_TYPE
    )

    assert_too_large(response, MAX_BODY)
    assert await order_total(small_bodies) == 0


async def test_the_default_body_limit_is_one_mebibyte(tenant: Tenant) -> None:
    default = 1024 * 1024

    over = await tenant.post("/v1/orders", content=padded_order(default + 1), headers=JSON_TYPE)
    # Just under the limit, the body is read and judged on its content instead.
    under = await tenant.post("/v1/orders", content=padded_order(default), headers=JSON_TYPE)

    assert_too_large(over, default)
    assert_invalid(under, "notes")


# --- strings, lists and objects ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"name": "a" * 201}, "name", id="name"),
        pytest.param({"notes": "a" * 5001}, "notes", id="notes"),
        pytest.param({"email": "a" * 250 + "@b.co"}, "email", id="email"),
        pytest.param({"mobile": "1" * 41}, "mobile", id="mobile"),
        pytest.param({"user_id": "u" * 201}, "user_id", id="user_id"),
        pytest.param({"delivery_method": "d" * 101}, "delivery_method", id="delivery_method"),
        pytest.param(
            {"delivery_details": {"address": "a" * 1001}}, "address", id="delivery-address"
        ),
        pytest.param(
            {"product_items": [{**ITEM, "name": "w" * 201}]}, "product_items[0].name", id="item"
        ),
        pytest.param({"product_items": [ITEM] * 501}, "product_items", id="501-items"),
        pytest.param(
            {"product_customizations": {"text": "c" * 16 * 1024}},
            "product_customizations",
            id="customizations-over-16KiB",
        ),
    ],
)
async def test_oversized_fields_are_refused_on_create(
    tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    response = await tenant.post("/v1/orders", json=order_body(**fields))

    assert_invalid(response, field)
    assert await order_total(tenant) == 0


async def test_fields_at_their_maximum_sizes_are_accepted(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/orders",
        json=order_body(
            name="a" * 200,
            notes="b" * 5000,
            product_items=[{**ITEM, "name": "w" * 200}] * 500,
            product_customizations={"text": "c" * (16 * 1024 - 20)},
        ),
    )

    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert len(order["name"]) == 200
    assert len(order["notes"]) == 5000
    assert len(order["product_items"]) == 500


@pytest.mark.parametrize(
    ("updates", "field"),
    [
        pytest.param({"name": "a" * 201}, "name", id="name"),
        pytest.param({"notes": "a" * 5001}, "notes", id="notes"),
        pytest.param({"product_items": [ITEM] * 501}, "product_items", id="501-items"),
    ],
)
async def test_oversized_fields_are_refused_on_update(
    tenant: Tenant, updates: dict[str, Any], field: str
) -> None:
    order = await tenant.create_order(notes="before")

    response = await tenant.put(f"/v1/orders/{order['_id']}", json={"updates": updates})

    assert_invalid(response, field)
    after = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    assert after["notes"] == "before"
    assert after["name"] is None
    assert len(after["product_items"]) == 1


async def test_an_oversized_status_note_is_refused(tenant: Tenant) -> None:
    order = await tenant.create_order()

    response = await tenant.put(
        f"/v1/orders/{order['_id']}/status", json={"status": "confirmed", "note": "n" * 5001}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "ValidationError"
    after = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    assert after["status"] == "pending"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param({"title": "t" * 201}, "title", id="title"),
        pytest.param({"title": "T", "description": "d" * 5001}, "description", id="description"),
        pytest.param({"title": "T", "metadata": {"m": "m" * 16 * 1024}}, "metadata", id="metadata"),
    ],
)
async def test_oversized_timeline_events_are_refused(
    tenant: Tenant, event: dict[str, Any], field: str
) -> None:
    order = await tenant.create_order()

    response = await tenant.post(f"/v1/orders/{order['_id']}/timeline", json={"event": event})

    assert_invalid(response, field)
    timeline = (await tenant.get(f"/v1/orders/{order['_id']}/timeline")).json()
    assert [event["title"] for event in timeline] == ["Order Created"]


async def test_graphql_applies_the_same_size_limits(tenant: Tenant) -> None:
    mutation = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id } }"
    items = [{"name": "Widget", "quantity": 1, "price": "10"}]
    # (input, the names the message may use for the field: GraphQL's or REST's)
    cases: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        ({"mobile": "1", "name": "a" * 201, "productItems": items}, ("name",)),
        ({"mobile": "1", "notes": "a" * 5001, "productItems": items}, ("notes",)),
        ({"mobile": "1", "productItems": items * 501}, ("productItems", "product_items")),
    ]
    for variables, names in cases:
        body = await tenant.graphql(mutation, {"input": variables})
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "ValidationError"
        assert any(name in error["message"] for name in names), error

    assert await order_total(tenant) == 0


# --- page sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["101", "1000000", "0", "-1"])
async def test_a_rest_page_larger_than_100_is_refused(tenant: Tenant, limit: str) -> None:
    response = await tenant.get("/v1/orders", params={"limit": limit})

    assert_invalid(response, "limit")


async def test_a_rest_page_of_100_is_allowed(tenant: Tenant) -> None:
    response = await tenant.get("/v1/orders", params={"limit": "100"})

    assert response.status_code == 200, response.text
    assert response.json()["limit"] == 100


async def test_an_overlong_search_term_is_refused(tenant: Tenant) -> None:
    response = await tenant.get("/v1/orders", params={"searchTerm": "s" * 201})

    assert_invalid(response, "searchTerm")


@pytest.mark.parametrize("limit", [101, 100_000])
async def test_a_graphql_page_larger_than_100_is_refused(tenant: Tenant, limit: int) -> None:
    body = await tenant.graphql(f"{{ orders(limit: {limit}) {{ total }} }}")

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "ValidationError"
    assert "limit" in error["message"]


async def test_a_graphql_page_of_100_is_allowed(tenant: Tenant) -> None:
    body = await tenant.graphql("{ orders(limit: 100) { limit total } }")

    assert body == {"data": {"orders": {"limit": 100, "total": 0}}}
