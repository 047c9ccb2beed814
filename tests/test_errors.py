"""SPEC §4: one error envelope everywhere, request ids on every response, no stack traces,
and the contract's codes in GraphQL ``errors[].extensions.code``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gql.resolvers import orders as order_resolvers
from rest.app import create_app
from tests.conftest import Tenant, make_settings, new_tenant
from tests.contract import ERROR_FIELDS, MOBILE_REQUIRED
from tests.http_helpers import error_of

INTERNAL_ERROR = {"error": {"code": "InternalServerError", "message": "Internal server error"}}
BODY_LIMIT = 2048
SECRET_DETAIL = "kaboom-secret-detail-7f3a"


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``{"error": {"code", "message", "details"?}}`` with that status/code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = error_of(response, status, code)
    assert set(error) <= ERROR_FIELDS
    return error


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1/nothing-here", "/v2/orders"])
async def test_unknown_route_is_404_envelope(tenant: Tenant, path: str) -> None:
    response = await tenant.get(path)

    assert_envelope(response, 404, "NotFoundError")


async def test_wrong_method_is_405_envelope_with_allow_header(tenant: Tenant) -> None:
    response = await tenant.http.delete("/v1/orders", headers=tenant.headers)

    assert_envelope(response, 405, "MethodNotAllowedError")
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "DELETE" not in allowed


async def test_wrong_method_on_an_order_is_405_envelope(tenant: Tenant) -> None:
    order = await tenant.create_order()

    response = await tenant.http.delete(f"/v1/orders/{order['_id']}", headers=tenant.headers)

    assert_envelope(response, 405, "MethodNotAllowedError")
    assert "GET" in {method.strip() for method in response.headers["allow"].split(",")}


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"   ", b'{"mobile": "1",}'],
    ids=["broken", "empty", "blank", "comma"],
)
async def test_malformed_rest_body_is_400_validation_error(tenant: Tenant, raw: bytes) -> None:
    response = await tenant.post(
        "/v1/orders", content=raw, headers={"content-type": "application/json"}
    )

    assert_envelope(response, 400, "ValidationError")


async def test_malformed_graphql_body_is_400_validation_error(tenant: Tenant) -> None:
    response = await tenant.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_envelope(response, 400, "ValidationError")


# --- body size limit -----------------------------------------------------------------------


@pytest.fixture
async def small_body_app(database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(make_settings(database_url, max_body_bytes=BODY_LIMIT))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def small_body_tenant(small_body_app: Starlette) -> AsyncIterator[Tenant]:
    transport = httpx.ASGITransport(app=small_body_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield await new_tenant(small_body_app.state.db, http)


def oversized_order() -> bytes:
    body = b'{"mobile": "1", "product_items": [], "notes": "' + b"x" * BODY_LIMIT + b'"}'
    assert len(body) > BODY_LIMIT
    return body


async def chunks(body: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_body_under_the_limit_is_accepted(small_body_tenant: Tenant) -> None:
    response = await small_body_tenant.post(
        "/v1/orders",
        json={"mobile": "1", "product_items": [{"name": "A", "quantity": 1, "price": 1}]},
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", ["/v1/orders", "/graphql"])
async def test_declared_body_over_the_limit_is_413(small_body_tenant: Tenant, path: str) -> None:
    response = await small_body_tenant.post(
        path, content=oversized_order(), headers={"content-type": "application/json"}
    )

    assert int(response.request.headers["content-length"]) > BODY_LIMIT
    assert_envelope(response, 413, "PayloadTooLargeError")


@pytest.mark.parametrize("path", ["/v1/orders", "/graphql"])
async def test_streamed_body_over_the_limit_is_413(small_body_tenant: Tenant, path: str) -> None:
    response = await small_body_tenant.post(
        path, content=chunks(oversized_order()), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_envelope(response, 413, "PayloadTooLargeError")


async def test_oversized_body_creates_no_order(small_body_tenant: Tenant) -> None:
    body = (
        b'{"mobile": "1", "product_items": [{"name": "A", "quantity": 1, "price": 1}], '
        b'"notes": "' + b"x" * BODY_LIMIT + b'"}'
    )
    response = await small_body_tenant.post(
        "/v1/orders", content=chunks(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text

    listed = await small_body_tenant.get("/v1/orders")
    assert listed.json()["total"] == 0


# --- request ids ---------------------------------------------------------------------------


async def test_request_id_is_generated_on_every_response(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    responses = [
        await tenant.get("/v1/orders"),
        await client.get("/v1/orders"),
        await tenant.get("/nope"),
        await tenant.http.delete("/v1/orders", headers=tenant.headers),
        await client.get("/healthz"),
        await tenant.post("/v1/orders", json={"mobile": ""}),
    ]

    assert [r.status_code for r in responses] == [200, 401, 404, 405, 200, 400]
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "every request gets its own id"


@pytest.mark.parametrize("given", ["req-42", "0f8c2d6e-1b7a-4c3e-9a55-2b1d8e7f6a10", "a.b:c_d"])
async def test_sane_client_request_id_is_echoed(
    tenant: Tenant, client: httpx.AsyncClient, given: str
) -> None:
    ok = await tenant.get("/v1/orders", headers={"x-request-id": given})
    unauthorized = await client.get("/v1/orders", headers={"x-request-id": given})

    assert ok.headers["x-request-id"] == given
    assert unauthorized.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["has spaces", "x" * 500, "<script>"])
async def test_unsafe_client_request_id_is_replaced(tenant: Tenant, given: str) -> None:
    response = await tenant.get("/v1/orders", headers={"x-request-id": given})

    assert response.status_code == 200
    assert response.headers["x-request-id"]
    assert response.headers["x-request-id"] != given


# --- unexpected exceptions -----------------------------------------------------------------


@pytest.fixture
def broken_list_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(order_resolvers, "list_orders", explode)


def assert_nothing_leaks(response: httpx.Response) -> None:
    assert SECRET_DETAIL not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert ".py" not in response.text


@pytest.mark.usefixtures("broken_list_orders")
async def test_bug_in_rest_is_500_without_traceback(tenant: Tenant) -> None:
    response = await tenant.get("/v1/orders", headers={"x-request-id": "bug-1"})

    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert response.headers["x-request-id"] == "bug-1"
    assert_nothing_leaks(response)


@pytest.mark.usefixtures("broken_list_orders")
async def test_bug_in_graphql_is_internal_server_error_without_traceback(tenant: Tenant) -> None:
    response = await tenant.post("/graphql", json={"query": "{ orders { total } }"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == "Internal server error"
    assert body["errors"][0]["extensions"] == {"code": "InternalServerError"}
    assert body["errors"][0]["path"] == ["orders"]
    assert_nothing_leaks(response)


# --- GraphQL error codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["{ orders { total ", "query {", "}{", "mutation { createOrder(input: ) { id } }"],
)
async def test_graphql_syntax_error_is_validation_error(tenant: Tenant, query: str) -> None:
    body = await tenant.graphql(query)

    assert "data" not in body or body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_graphql_unknown_field_is_validation_error(tenant: Tenant) -> None:
    body = await tenant.graphql("{ orders { total bogusField } }")

    assert "data" not in body or body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"
    assert "bogusField" in body["errors"][0]["message"]


async def test_graphql_bad_variable_is_validation_error(tenant: Tenant) -> None:
    body = await tenant.graphql(
        "query ($page: Int!) { orders(page: $page) { total } }", {"page": "one"}
    )

    assert body["errors"][0]["extensions"]["code"] == "ValidationError"


async def test_graphql_blank_mobile_is_the_rest_validation_message(tenant: Tenant) -> None:
    body = await tenant.graphql(
        """
        mutation ($input: CreateOrderInput!) {
          createOrder(input: $input) { id }
        }
        """,
        {
            "input": {
                "mobile": "  ",
                "productItems": [{"name": "Widget", "quantity": 1, "price": "10.00"}],
            }
        },
    )

    assert body["data"] is None
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"] == MOBILE_REQUIRED
    assert body["errors"][0]["extensions"]["code"] == "ValidationError"
    assert body["errors"][0]["path"] == ["createOrder"]
    assert (await tenant.get("/v1/orders")).json()["total"] == 0


async def test_rest_blank_mobile_is_the_same_validation_message(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/orders",
        json={"mobile": "  ", "product_items": [{"name": "Widget", "quantity": 1, "price": 10}]},
    )

    error = assert_envelope(response, 400, "ValidationError")
    assert error["message"] == MOBILE_REQUIRED
