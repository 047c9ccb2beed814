"""SPEC §11 and issue 5: GraphQL query depth, alias and token limits (each refused before
any resolver runs, with a ValidationError naming the limit), introspection and the GraphiQL
page off in production, no batching, and limits that keep Strawberry's validation cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.extensions.validation_cache import _get_validate_cache

from gql.limits import CACHED_DOCUMENTS
from gql.resolvers import orders as order_resolvers
from orders_api.config import Settings
from rest.app import create_app
from tests.conftest import Tenant, make_settings, new_tenant
from tests.contract import UNAUTHORIZED
from tests.http_helpers import lifespan_client

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_INTROSPECTION = '{ __type(name: "Order") { fields { name } } }'
# Field depth as Strawberry counts it: the operation's own fields are depth 0.
DEPTH_3 = "{ orders { orders { timeline { id } } } }"
DEPTH_4 = "{ orders { orders { deliveryDetails { location { lat } } } } }"
DEPTH_4_IN_A_FRAGMENT = """
{ orders { ...Page } }
fragment Page on OrderPage { orders { deliveryDetails { location { lat } } } }
"""
TWO_ALIASES = "{ first: orders { total } second: orders { total } }"
THREE_ALIASES = "{ first: orders { total } second: orders { total } third: orders { total } }"
THREE_ALIASES_ON_FIELDS = "{ orders { a: total b: page c: limit } }"
CREATE_ITEMS = '{mobile: "+15550100", productItems: [{name: "A", quantity: 1, price: "1"}]}'
THREE_MUTATION_ALIASES = (
    "mutation { "
    + " ".join(f"m{n}: createOrder(input: {CREATE_ITEMS}) {{ id }}" for n in range(3))
    + " }"
)


@dataclass
class Served:
    app: Starlette
    http: httpx.AsyncClient
    tenant: Tenant

    async def graphql(self, query: str) -> dict[str, Any]:
        response = await self.tenant.post("/graphql", json={"query": query})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    application = create_app(settings)
    async with lifespan_client(application) as http:
        tenant = await new_tenant(application.state.db, http)
        yield Served(application, http, tenant)


@pytest.fixture
def resolver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call into the order resolvers the GraphQL fields delegate to."""
    calls: list[str] = []
    for name in ("list_orders", "create_order", "find_order"):
        original = getattr(order_resolvers, name)

        async def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return await _original(*args, **kw)

        monkeypatch.setattr(order_resolvers, name, spy)
    return calls


def assert_refused(body: dict[str, Any], *words: str, single: bool = True) -> None:
    """Nothing executed; ValidationErrors naming the limit (each of ``words`` in every
    message). ``single``: exactly one error (limits that are not reported per field)."""
    assert body.get("data") is None, body
    assert body["errors"], body
    if single:
        assert len(body["errors"]) == 1, body
    for error in body["errors"]:
        assert error["extensions"]["code"] == "ValidationError", error
        message = error["message"].lower()
        for word in words:
            assert word.lower() in message, (word, error["message"])


# --- depth ---------------------------------------------------------------------------------


async def test_a_query_deeper_than_the_limit_is_refused_before_any_resolver(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, graphql_max_depth=3)) as served:
        body = await served.graphql(DEPTH_4)

    assert_refused(body, "depth", "3")
    assert resolver_calls == []


async def test_a_fragment_does_not_hide_depth(database_url: str, resolver_calls: list[str]) -> None:
    async with serving(make_settings(database_url, graphql_max_depth=3)) as served:
        body = await served.graphql(DEPTH_4_IN_A_FRAGMENT)

    assert_refused(body, "depth", "3")
    assert resolver_calls == []


async def test_a_query_at_the_depth_limit_runs(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, graphql_max_depth=3)) as served:
        await served.tenant.create_order()
        body = await served.graphql(DEPTH_3)

    assert "errors" not in body, body
    [order] = body["data"]["orders"]["orders"]
    assert [event["id"] for event in order["timeline"]] == ["evt_001"]
    assert resolver_calls == ["create_order", "list_orders"]


# --- aliases -------------------------------------------------------------------------------


async def test_more_aliases_than_allowed_are_refused_before_any_resolver(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, graphql_max_aliases=2)) as served:
        on_root = await served.graphql(THREE_ALIASES)
        on_fields = await served.graphql(THREE_ALIASES_ON_FIELDS)
        within = await served.graphql(TWO_ALIASES)

    assert_refused(on_root, "aliases", "2")
    assert_refused(on_fields, "aliases", "2")
    assert within == {"data": {"first": {"total": 0}, "second": {"total": 0}}}
    assert resolver_calls == ["list_orders", "list_orders"]


async def test_a_refused_mutation_changes_nothing(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, graphql_max_aliases=2)) as served:
        body = await served.graphql(THREE_MUTATION_ALIASES)
        assert_refused(body, "aliases", "2")
        assert resolver_calls == []
        listed = await served.tenant.get("/v1/orders")

    assert listed.json()["total"] == 0


# --- tokens --------------------------------------------------------------------------------


def _query_with_tokens(fields: int) -> str:
    # "{", "orders", "{", n fields, "}", "}": n + 5 tokens.
    names = ["total", "page", "limit", "totalPages"]
    return "{ orders { " + " ".join(names[i % 4] for i in range(fields)) + " } }"


async def test_a_query_with_too_many_tokens_is_refused_before_any_resolver(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, graphql_max_tokens=50)) as served:
        over = await served.graphql(_query_with_tokens(46))  # 51 tokens
        at_limit = await served.graphql(_query_with_tokens(45))  # 50 tokens

    assert_refused(over, "tokens", "50")
    assert "errors" not in at_limit, at_limit
    assert at_limit["data"]["orders"]["total"] == 0
    assert resolver_calls == ["list_orders"]


async def test_an_enormous_query_is_refused_without_parsing_it_all(
    database_url: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url)) as served:
        body = await served.graphql(_query_with_tokens(50_000))

    assert_refused(body, "tokens", "2000")
    assert resolver_calls == []


# --- introspection and GraphiQL ------------------------------------------------------------


async def test_introspection_is_on_by_default_in_development(database_url: str) -> None:
    async with serving(make_settings(database_url)) as served:
        body = await served.graphql(INTROSPECTION)

    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"orders_api_env": "production"}, id="production"),
        pytest.param({"graphql_introspection": False}, id="switched-off"),
        pytest.param(
            {"orders_api_env": "production", "graphql_introspection": False},
            id="production-switched-off",
        ),
    ],
)
@pytest.mark.parametrize("query", [INTROSPECTION, TYPE_INTROSPECTION])
async def test_introspection_can_be_switched_off(
    database_url: str, overrides: dict[str, Any], query: str, resolver_calls: list[str]
) -> None:
    async with serving(make_settings(database_url, **overrides)) as served:
        refused = await served.graphql(query)
        ordinary = await served.graphql("{ orders { total __typename } }")

    # Reported for each introspection field: {__schema, queryType} or {__type, fields}.
    assert_refused(refused, "introspection", "disabled", single=False)
    assert len(refused["errors"]) == 2
    # Plain queries (even with __typename) still work.
    assert ordinary == {"data": {"orders": {"total": 0, "__typename": "OrderPage"}}}


async def test_introspection_can_be_switched_on_in_production(database_url: str) -> None:
    settings = make_settings(database_url, orders_api_env="production", graphql_introspection=True)
    async with serving(settings) as served:
        body = await served.graphql(INTROSPECTION)

    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_the_graphiql_page_is_served_in_development(database_url: str) -> None:
    async with serving(make_settings(database_url)) as served:
        response = await served.http.get("/graphql", headers=BROWSER)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"orders_api_env": "production"}, id="production"),
        pytest.param({"graphql_ide": False}, id="switched-off"),
    ],
)
async def test_the_graphiql_page_can_be_switched_off(
    database_url: str, overrides: dict[str, Any]
) -> None:
    async with serving(make_settings(database_url, **overrides)) as served:
        anonymous = await served.http.get("/graphql", headers=BROWSER)
        with_key = await served.tenant.get("/graphql", headers=BROWSER)

    assert anonymous.status_code == 401
    assert anonymous.json() == UNAUTHORIZED
    # With a key there is still no page: no HTML, an error envelope whose code fits.
    assert not with_key.headers["content-type"].startswith("text/html")
    codes = {400: "ValidationError", 404: "NotFoundError"}
    assert with_key.status_code in codes, with_key.text
    assert with_key.json()["error"]["code"] == codes[with_key.status_code]


# --- batching ------------------------------------------------------------------------------


async def test_a_batched_request_is_refused(database_url: str, resolver_calls: list[str]) -> None:
    async with serving(make_settings(database_url)) as served:
        operations = [{"query": "{ orders { total } }"}, {"query": "{ orders { page } }"}]
        response = await served.tenant.post("/graphql", json=operations)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    assert isinstance(error["message"], str)
    assert "batch" in error["message"].lower()
    assert resolver_calls == []


# --- the validation cache ------------------------------------------------------------------


async def test_limits_keep_the_validation_cache_working(database_url: str) -> None:
    cached_validate = _get_validate_cache(CACHED_DOCUMENTS)
    async with serving(make_settings(database_url)) as served:
        cached_validate.cache_clear()
        for _ in range(20):
            body = await served.graphql("{ orders(limit: 5) { total limit } }")
            assert body == {"data": {"orders": {"total": 0, "limit": 5}}}
        info = cached_validate.cache_info()

    assert (info.misses, info.hits) == (1, 19)
