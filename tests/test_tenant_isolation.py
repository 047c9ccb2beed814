"""Another tenant's orders are invisible: by _id, referenceId, list, search and GraphQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant

NEVER_CREATED_ID = "0123456789abcdef01234567"
NEVER_CREATED_REFERENCE = "NO-SUCH-REFERENCE"

ORDER_QUERY = """
query Order($id: ID!) {
  order(id: $id) { id referenceId name }
}
"""
ORDERS_QUERY = """
query Orders($filter: OrderFilter) {
  orders(filter: $filter, limit: 100) {
    total totalPages page limit
    orders { id referenceId name }
  }
}
"""


@pytest.fixture
async def foreign_order(other_tenant: Tenant) -> dict[str, Any]:
    """An order that belongs to ``other_tenant`` only."""
    return await other_tenant.create_order(
        name="Zebediah Foreign",
        email="zebediah@elsewhere.test",
        mobile="+91 70000-12345",
        referenceId="FOREIGN-REF-1",
        external_order_source="website",
        external_order_id="FOREIGN-EXT-9",
    )


def swap(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string inside it."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: swap(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [swap(item, old, new) for item in value]
    return value


def not_found_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 404, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "NotFoundError"
    return error


@pytest.mark.parametrize("identifier", ["_id", "referenceId"])
async def test_other_tenants_order_is_a_404_like_a_missing_one(
    tenant: Tenant, other_tenant: Tenant, foreign_order: dict[str, Any], identifier: str
) -> None:
    foreign = foreign_order[identifier]
    missing = NEVER_CREATED_ID if identifier == "_id" else NEVER_CREATED_REFERENCE

    foreign_error = not_found_error(await tenant.get(f"/v1/orders/{foreign}"))
    missing_error = not_found_error(await tenant.get(f"/v1/orders/{missing}"))

    # Indistinguishable from an order that never existed (only the echoed id differs).
    assert foreign_error == swap(missing_error, missing, foreign)
    assert "Zebediah" not in str(foreign_error)

    # The owner still sees it.
    own = await other_tenant.get(f"/v1/orders/{foreign}")
    assert own.status_code == 200
    assert own.json()["_id"] == foreign_order["_id"]


async def test_list_total_excludes_other_tenants_orders(
    tenant: Tenant, other_tenant: Tenant, foreign_order: dict[str, Any]
) -> None:
    own_ids = {(await tenant.create_order(name=f"Mine {index}"))["_id"] for index in range(2)}
    await other_tenant.create_order(name="Theirs 2")
    await other_tenant.create_order(name="Theirs 3")

    response = await tenant.get("/v1/orders", params={"limit": "100"})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["totalPages"]) == (2, 1)
    assert {order["_id"] for order in body["orders"]} == own_ids

    theirs = (await other_tenant.get("/v1/orders", params={"limit": "100"})).json()
    assert theirs["total"] == 3
    assert not own_ids & {order["_id"] for order in theirs["orders"]}


@pytest.mark.parametrize(
    "term",
    ["zebediah", "elsewhere.test", "7000012345", "FOREIGN-REF", "foreign-ext-9", "_id"],
)
async def test_search_never_finds_other_tenants_order(
    tenant: Tenant, other_tenant: Tenant, foreign_order: dict[str, Any], term: str
) -> None:
    await tenant.create_order(name="Local Customer", mobile="+15550009999")
    search = foreign_order["_id"] if term == "_id" else term

    response = await tenant.get("/v1/orders", params={"searchTerm": search})
    assert response.status_code == 200
    body = response.json()
    assert body["orders"] == []
    assert (body["total"], body["page"], body["limit"]) == (0, 1, 10)

    # The same search does find it for its owner.
    owner = await other_tenant.get("/v1/orders", params={"searchTerm": search})
    assert [order["_id"] for order in owner.json()["orders"]] == [foreign_order["_id"]]


@pytest.mark.parametrize("identifier", ["_id", "referenceId"])
async def test_graphql_order_of_other_tenant_is_null(
    tenant: Tenant, other_tenant: Tenant, foreign_order: dict[str, Any], identifier: str
) -> None:
    body = await tenant.graphql(ORDER_QUERY, {"id": foreign_order[identifier]})
    assert body == {"data": {"order": None}}

    owner = await other_tenant.graphql(ORDER_QUERY, {"id": foreign_order[identifier]})
    assert owner == {
        "data": {
            "order": {
                "id": foreign_order["_id"],
                "referenceId": "FOREIGN-REF-1",
                "name": "Zebediah Foreign",
            }
        }
    }


async def test_graphql_orders_excludes_other_tenants_orders(
    tenant: Tenant, other_tenant: Tenant, foreign_order: dict[str, Any]
) -> None:
    mine = await tenant.create_order(name="Mine Only", referenceId="MINE-1")

    body = await tenant.graphql(ORDERS_QUERY)
    assert "errors" not in body
    assert body["data"]["orders"] == {
        "total": 1,
        "totalPages": 1,
        "page": 1,
        "limit": 100,
        "orders": [{"id": mine["_id"], "referenceId": "MINE-1", "name": "Mine Only"}],
    }

    searched = await tenant.graphql(ORDERS_QUERY, {"filter": {"searchTerm": "zebediah"}})
    assert "errors" not in searched
    assert searched["data"]["orders"]["total"] == 0
    assert searched["data"]["orders"]["orders"] == []


async def test_same_reference_id_in_two_tenants_are_two_orders(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await tenant.create_order(name="First Tenant", referenceId="SHARED-REF-42")
    second = await other_tenant.create_order(name="Second Tenant", referenceId="SHARED-REF-42")
    assert first["_id"] != second["_id"]
    assert first["referenceId"] == second["referenceId"] == "SHARED-REF-42"

    for owner, expected in ((tenant, first), (other_tenant, second)):
        response = await owner.get("/v1/orders/SHARED-REF-42")
        assert response.status_code == 200
        assert (response.json()["_id"], response.json()["name"]) == (
            expected["_id"],
            expected["name"],
        )
        listed = (await owner.get("/v1/orders", params={"searchTerm": "shared-ref-42"})).json()
        assert [order["_id"] for order in listed["orders"]] == [expected["_id"]]

    # Within one tenant the referenceId stays unique.
    duplicate = await tenant.post(
        "/v1/orders",
        json={
            "mobile": "+919876543210",
            "referenceId": "SHARED-REF-42",
            "product_items": [{"name": "Widget", "quantity": 1, "price": 10}],
        },
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "ConflictError"
