"""SPEC §2: every request but the health checks and the GraphiQL page needs a valid
``x-tenant-api-key``; a missing, unknown, malformed or revoked key is a 401 envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from db.engine import Database
from gql.resolvers import orders as order_resolvers
from orders_api import tenants
from orders_api.config import Settings
from rest.app import create_app
from tests.conftest import Tenant
from tests.contract import UNAUTHORIZED
from tests.http_helpers import lifespan_client

# (method, path, JSON body or None): REST routes and GraphQL over HTTP.
PROTECTED_REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/orders", None),
    (
        "POST",
        "/v1/orders",
        {"mobile": "+919876543210", "product_items": [{"name": "A", "quantity": 1, "price": 1}]},
    ),
    ("GET", "/v1/orders/0123456789abcdef01234567", None),
    ("POST", "/graphql", {"query": "{ orders { total } }"}),
    (
        "POST",
        "/graphql",
        {
            "query": 'mutation { createOrder(input: {mobile: "1", productItems: '
            '[{name: "A", quantity: 1, price: "1"}]}) { id } }'
        },
    ),
]
REQUEST_IDS = ["rest-list", "rest-create", "rest-get", "graphql-query", "graphql-mutation"]

WELL_FORMED_UNKNOWN_KEY = "oma_000000000000_" + "A" * 43


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A freshly built app (its own, empty key cache) and a client for it."""
    application = create_app(settings)
    async with lifespan_client(application) as http:
        yield http


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> httpx.Response:
    return await http.request(method, path, json=body, headers=headers)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == UNAUTHORIZED


@pytest.fixture
def resolver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records any call into the order resolvers, to prove a 401 executes nothing."""
    calls: list[str] = []

    for name in ("create_order", "list_orders", "get_order_with_history", "find_order"):
        original = getattr(order_resolvers, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(order_resolvers, name, spy)
    return calls


async def test_resolver_spy_sees_authenticated_requests(
    tenant: Tenant, resolver_calls: list[str]
) -> None:
    # Guards the 401 tests below: with a valid key the same requests do reach the resolvers.
    for method, path, body in PROTECTED_REQUESTS:
        response = await send(tenant.http, method, path, body, tenant.headers)
        assert response.status_code in (200, 201, 404), response.text

    assert set(resolver_calls) >= {"create_order", "list_orders"}
    assert len(resolver_calls) >= len(PROTECTED_REQUESTS)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED_REQUESTS, ids=REQUEST_IDS)
async def test_missing_key_is_401_before_anything_runs(
    client: httpx.AsyncClient,
    resolver_calls: list[str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = await send(client, method, path, body, headers={})

    assert_unauthorized(response)
    assert resolver_calls == []


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(WELL_FORMED_UNKNOWN_KEY, id="unknown"),
        pytest.param("not-a-key", id="malformed-no-separators"),
        pytest.param("oma__secret", id="malformed-no-key-id"),
        pytest.param("oma_abc_", id="malformed-no-secret"),
        pytest.param("xyz_000000000000_" + "A" * 43, id="malformed-wrong-prefix"),
        pytest.param("oma_" + "a" * 300, id="malformed-too-long"),
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED_REQUESTS, ids=REQUEST_IDS)
async def test_bad_key_is_401_before_anything_runs(
    client: httpx.AsyncClient,
    resolver_calls: list[str],
    presented: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = await send(client, method, path, body, headers={"x-tenant-api-key": presented})

    assert_unauthorized(response)
    assert resolver_calls == []


async def test_real_key_id_with_wrong_secret_is_401(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    prefix, key_id, _secret = tenant.api_key.split("_", 2)
    forged = f"{prefix}_{key_id}_{'B' * 43}"

    response = await client.get("/v1/orders", headers={"x-tenant-api-key": forged})

    assert_unauthorized(response)


async def test_graphql_query_via_get_needs_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ orders { total } }"}, headers={"accept": "text/html"}
    )

    assert_unauthorized(response)


async def test_graphql_get_without_query_asking_for_json_needs_a_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"accept": "application/json"})

    assert_unauthorized(response)


async def test_valid_key_reaches_rest_and_graphql(tenant: Tenant) -> None:
    listed = await tenant.get("/v1/orders")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"orders": [], "total": 0, "totalPages": 0, "page": 1, "limit": 10}

    body = await tenant.graphql("{ orders { total } }")
    assert body == {"data": {"orders": {"total": 0}}}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_checks_need_no_key(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200, response.text


async def test_graphiql_page_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_tenant_with_two_keys_can_use_both(
    tenant: Tenant, db: Database, client: httpx.AsyncClient
) -> None:
    second = await tenants.create_key(db, tenant.name, "rotation")
    created = await tenant.create_order(name="Made with the first key")

    with_second = await client.get(
        f"/v1/orders/{created['_id']}", headers={"x-tenant-api-key": second.api_key}
    )

    assert with_second.status_code == 200, with_second.text
    assert with_second.json()["name"] == "Made with the first key"
    assert second.api_key != tenant.api_key
    assert second.tenant_id == tenant.id


async def test_revoked_key_is_401_and_the_other_key_still_works(
    tenant: Tenant, db: Database, client: httpx.AsyncClient
) -> None:
    # Revoked before its first use, so no process can have cached it.
    doomed = await tenants.create_key(db, tenant.name, "doomed")
    await tenants.revoke_key(db, doomed.key_id)

    for method, path, body in PROTECTED_REQUESTS:
        refused = await send(client, method, path, body, {"x-tenant-api-key": doomed.api_key})
        assert_unauthorized(refused)

    still_working = await tenant.get("/v1/orders")
    assert still_working.status_code == 200, still_working.text


async def test_key_revoked_after_use_is_refused_by_a_fresh_process(
    tenant: Tenant, db: Database, settings: Settings
) -> None:
    spare = await tenants.create_key(db, tenant.name, "spare")
    assert (await tenant.get("/v1/orders")).status_code == 200

    revoked = await tenants.revoke_key(db, tenant.api_key.split("_", 2)[1])
    assert revoked.revoked_at is not None

    async with serving(settings) as fresh:
        refused = await fresh.get("/v1/orders", headers=tenant.headers)
        accepted = await fresh.get("/v1/orders", headers={"x-tenant-api-key": spare.api_key})

    assert_unauthorized(refused)
    assert accepted.status_code == 200, accepted.text
