"""Idempotency keys (issue 6): the ``Idempotency-Key`` header on every POST that creates
something (order, timeline event, bulk) and the ``idempotencyKey`` argument of the GraphQL
mutations that create things.

Contract: the same key with the same request replays the first response (same status,
byte-identical body, ``Idempotent-Replayed: true``) without doing the work again; with a
different request → 422 ``IdempotencyKeyReusedError``; while the first is still running →
409 ``ConflictError``. Keys are per tenant, up to 255 characters, kept at least 24 hours;
validation failures are not stored. SPEC.md §4 (error codes)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db.engine import Database
from db.models import IdempotencyKey
from gql.context import RequestContext
from gql.resolvers import clock, idempotency
from tests.conftest import Tenant
from tests.contract import MOBILE_REQUIRED
from tests.http_helpers import assert_error, get_timeline, order_total

REPLAYED = "Idempotent-Replayed"

ORDER_BODY: dict[str, Any] = {
    "mobile": "+919876543210",
    "name": "Asha Rao",
    "product_items": [
        {"name": "Tea Set", "quantity": 2, "price": 599.00},
        {"name": "Teapot", "quantity": 1, "price": 1299.00},
    ],
}
OTHER_ORDER_BODY: dict[str, Any] = {
    "mobile": "+919800000000",
    "name": "Ravi Kumar",
    "product_items": [{"name": "Kettle", "quantity": 1, "price": 45.50}],
}
EVENT_BODY: dict[str, Any] = {"event": {"title": "Called the customer", "type": "info"}}

GQL_ORDER_INPUT: dict[str, Any] = {
    "mobile": "+919876543210",
    "name": "Asha Rao",
    "productItems": [
        {"name": "Tea Set", "quantity": 2, "price": "599.00"},
        {"name": "Teapot", "quantity": 1, "price": "1299.00"},
    ],
}

GQL_CREATE = """
mutation Create($input: CreateOrderInput!, $key: String) {
  createOrder(input: $input, idempotencyKey: $key) { id referenceId name finalAmount }
}
"""
GQL_ADD_EVENT = """
mutation Add($orderId: ID!, $event: TimelineEventInput!, $key: String) {
  addTimelineEvent(orderId: $orderId, event: $event, idempotencyKey: $key) { id title }
}
"""
GQL_BULK = """
mutation Bulk($orders: [CreateOrderInput!]!, $atomic: Boolean! = false, $key: String) {
  bulkCreateOrders(orders: $orders, atomic: $atomic, idempotencyKey: $key) {
    created failed
    results { index orderId referenceId error { code message details } }
  }
}
"""


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def assert_replay_of(first: httpx.Response, replay: httpx.Response) -> None:
    assert REPLAYED not in first.headers
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    assert replay.headers.get(REPLAYED) == "true"


def gql_error_code(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    assert errors, body
    code: str = errors[0]["extensions"]["code"]
    return code


# --- holding the first request in flight ---------------------------------------------------


@dataclass
class Gate:
    """Holds the first request that claims a key right after its claim, until released."""

    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    original = idempotency.claim

    async def claim_then_wait(
        ctx: RequestContext, key: str, operation: str, data: Any
    ) -> idempotency.Claim | idempotency.Replay:
        claimed = await original(ctx, key, operation, data)
        if isinstance(claimed, idempotency.Claim) and not held.claimed.is_set():
            held.claimed.set()
            await asyncio.wait_for(held.release.wait(), timeout=30)
        return claimed

    monkeypatch.setattr(idempotency, "claim", claim_then_wait)
    yield held
    held.release.set()


async def while_first_in_flight(
    gate: Gate,
    send: Callable[[], Awaitable[httpx.Response]],
) -> tuple[httpx.Response, httpx.Response]:
    """Start ``send()``, wait until it holds its key, send it again; returns (first,
    second), the first released only after the second has answered."""
    first_task = asyncio.create_task(send())
    await asyncio.wait_for(gate.claimed.wait(), timeout=10)
    try:
        second = await asyncio.wait_for(send(), timeout=10)
    finally:
        gate.release.set()
    first = await asyncio.wait_for(first_task, timeout=10)
    return first, second


# --- REST: create order --------------------------------------------------------------------


async def test_rest_create_replays_the_first_response_byte_for_byte(tenant: Tenant) -> None:
    key = new_key()
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text
    assert first.json()["order"]["final_amount"] == 2497.00

    for _ in range(2):
        replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
        assert_replay_of(first, replay)
    assert await order_total(tenant) == 1


async def test_rest_create_replay_compares_the_json_not_its_spelling(tenant: Tenant) -> None:
    key = new_key()
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text
    reordered = dict(reversed(list(ORDER_BODY.items())))
    replay = await tenant.post(
        "/v1/orders",
        content=json.dumps(reordered, indent=2).encode(),
        headers={**keyed(key), "content-type": "application/json"},
    )
    assert_replay_of(first, replay)
    assert await order_total(tenant) == 1


async def test_rest_create_with_the_same_key_and_another_body_is_refused(
    tenant: Tenant,
) -> None:
    key = new_key()
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text

    changed = {**ORDER_BODY, "name": "Someone Else"}
    reused = await tenant.post("/v1/orders", json=changed, headers=keyed(key))
    assert_error(reused, 422, "IdempotencyKeyReusedError")
    assert REPLAYED not in reused.headers
    assert await order_total(tenant) == 1

    # The refusal does not spoil the key: the original request still replays.
    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(first, replay)


async def test_the_same_key_on_another_operation_is_refused(tenant: Tenant) -> None:
    key = new_key()
    created = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert created.status_code == 201, created.text
    order_id = created.json()["order"]["_id"]

    event = await tenant.post(
        f"/v1/orders/{order_id}/timeline", json=EVENT_BODY, headers=keyed(key)
    )
    assert_error(event, 422, "IdempotencyKeyReusedError")
    bulk = await tenant.post("/v1/orders/bulk", json={"orders": [ORDER_BODY]}, headers=keyed(key))
    assert_error(bulk, 422, "IdempotencyKeyReusedError")

    assert await order_total(tenant) == 1
    assert [e["title"] for e in await get_timeline(tenant, order_id)] == ["Order Created"]


async def test_rest_create_without_a_key_creates_every_time(tenant: Tenant) -> None:
    for _ in range(2):
        response = await tenant.post("/v1/orders", json=ORDER_BODY)
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
    assert await order_total(tenant) == 2


async def test_rest_replay_after_an_update_returns_the_original_body(tenant: Tenant) -> None:
    key = new_key()
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text
    order_id = first.json()["order"]["_id"]

    updated = await tenant.put(
        f"/v1/orders/{order_id}", json={"updates": {"name": "Renamed", "status": "confirmed"}}
    )
    assert updated.status_code == 200, updated.text

    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(first, replay)
    assert replay.json()["order"]["name"] == "Asha Rao"
    assert replay.json()["order"]["status"] == "pending"

    current = await tenant.get(f"/v1/orders/{order_id}")
    assert current.json()["name"] == "Renamed"
    assert await order_total(tenant) == 1


async def test_rest_create_while_the_first_is_in_flight_is_a_conflict(
    tenant: Tenant, gate: Gate
) -> None:
    key = new_key()
    first, second = await while_first_in_flight(
        gate, lambda: tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    )
    error = assert_error(second, 409, "ConflictError")
    assert error["details"] == {"idempotencyKey": key}
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert await order_total(tenant) == 1

    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(first, replay)


async def test_a_request_outlived_by_its_takeover_writes_nothing(
    tenant: Tenant, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request holds its claim past the 5-minute takeover; the retry takes over
    and creates the order; the first then finds its claim gone: 409, nothing written."""
    key = new_key()
    first_task = asyncio.create_task(tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key)))
    await asyncio.wait_for(gate.claimed.wait(), timeout=10)
    later = datetime.now(UTC) + timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    try:
        retry = await asyncio.wait_for(
            tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key)), timeout=10
        )
    finally:
        gate.release.set()
    first = await asyncio.wait_for(first_task, timeout=10)

    assert retry.status_code == 201, retry.text
    error = assert_error(first, 409, "ConflictError")
    assert error["details"] == {"idempotencyKey": key}
    assert "lost its Idempotency-Key to a retry" in error["message"]
    assert await order_total(tenant) == 1
    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(retry, replay)


async def test_an_in_flight_key_row_makes_a_retry_a_conflict(tenant: Tenant, db: Database) -> None:
    """What another worker's running request leaves in the database: a claimed key."""
    key = new_key()
    now = datetime.now(UTC)
    async with db.writer() as session, session.begin():
        session.add(
            IdempotencyKey(
                tenant_id=tenant.id,
                key=key,
                fingerprint=idempotency.fingerprint("createOrder", ORDER_BODY),
                state="in_flight",
                created_at=now,
                expires_at=now + timedelta(hours=24),
            )
        )
    response = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    error = assert_error(response, 409, "ConflictError")
    assert error["details"] == {"idempotencyKey": key}
    assert await order_total(tenant) == 0

    other = await tenant.post("/v1/orders", json=OTHER_ORDER_BODY, headers=keyed(key))
    assert_error(other, 422, "IdempotencyKeyReusedError")
    assert await order_total(tenant) == 0


async def test_validation_failures_are_not_stored(tenant: Tenant) -> None:
    key = new_key()
    invalid = {**ORDER_BODY, "mobile": ""}
    refused = await tenant.post("/v1/orders", json=invalid, headers=keyed(key))
    error = assert_error(refused, 400, "ValidationError")
    assert error["message"] == MOBILE_REQUIRED

    created = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert created.status_code == 201, created.text
    assert REPLAYED not in created.headers
    assert await order_total(tenant) == 1


async def test_malformed_json_with_a_key_is_not_stored(tenant: Tenant) -> None:
    key = new_key()
    refused = await tenant.post(
        "/v1/orders",
        content=b'{"mobile": ',
        headers={**keyed(key), "content-type": "application/json"},
    )
    assert_error(refused, 400, "ValidationError")
    created = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert created.status_code == 201, created.text
    assert REPLAYED not in created.headers


async def test_keys_belong_to_one_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    key = new_key()
    mine = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    same_body = await other_tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert mine.status_code == 201, mine.text
    assert same_body.status_code == 201, same_body.text
    assert REPLAYED not in same_body.headers
    assert same_body.json()["order"]["_id"] != mine.json()["order"]["_id"]

    second_key = new_key()
    one = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(second_key))
    other_body = await other_tenant.post(
        "/v1/orders", json=OTHER_ORDER_BODY, headers=keyed(second_key)
    )
    assert one.status_code == 201, one.text
    assert other_body.status_code == 201, other_body.text
    assert REPLAYED not in other_body.headers

    assert await order_total(tenant) == 2
    assert await order_total(other_tenant) == 2
    replay = await other_tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(same_body, replay)


async def test_a_key_of_255_characters_is_accepted(tenant: Tenant) -> None:
    key = "k" * 255
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text
    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(first, replay)


@pytest.mark.parametrize("path", ["/v1/orders", "/v1/orders/bulk"])
async def test_a_key_over_255_characters_is_a_validation_error(tenant: Tenant, path: str) -> None:
    body = {"orders": [ORDER_BODY]} if path.endswith("bulk") else ORDER_BODY
    response = await tenant.post(path, json=body, headers=keyed("k" * 256))
    assert_error(response, 400, "ValidationError")
    assert await order_total(tenant) == 0


async def test_a_timeline_key_over_255_characters_is_a_validation_error(tenant: Tenant) -> None:
    order = await tenant.create_order()
    response = await tenant.post(
        f"/v1/orders/{order['_id']}/timeline", json=EVENT_BODY, headers=keyed("k" * 256)
    )
    assert_error(response, 400, "ValidationError")
    assert len(await get_timeline(tenant, order["_id"])) == 1


async def test_a_key_is_kept_24_hours_then_forgotten(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    first = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text

    def moved(delta: timedelta) -> None:
        monkeypatch.setattr(clock, "now", lambda: datetime.now(UTC) + delta)

    moved(timedelta(hours=23, minutes=59))
    still_kept = await tenant.post("/v1/orders", json=OTHER_ORDER_BODY, headers=keyed(key))
    assert_error(still_kept, 422, "IdempotencyKeyReusedError")
    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(first, replay)
    assert await order_total(tenant) == 1

    moved(timedelta(hours=24, minutes=1))
    fresh = await tenant.post("/v1/orders", json=OTHER_ORDER_BODY, headers=keyed(key))
    assert fresh.status_code == 201, fresh.text
    assert REPLAYED not in fresh.headers
    assert fresh.json()["order"]["_id"] != first.json()["order"]["_id"]
    assert fresh.json()["order"]["name"] == "Ravi Kumar"
    assert await order_total(tenant) == 2

    # The key now belongs to the new request.
    again = await tenant.post("/v1/orders", json=OTHER_ORDER_BODY, headers=keyed(key))
    assert_replay_of(fresh, again)
    assert await order_total(tenant) == 2


# --- REST: timeline events -----------------------------------------------------------------


async def test_rest_timeline_event_replays_and_is_added_once(tenant: Tenant) -> None:
    order = await tenant.create_order()
    path = f"/v1/orders/{order['_id']}/timeline"
    key = new_key()

    first = await tenant.post(path, json=EVENT_BODY, headers=keyed(key))
    assert first.status_code == 201, first.text
    assert first.json() == {
        "success": True,
        "message": "Timeline event added successfully",
        "eventId": "evt_002",
    }
    later = await tenant.post(path, json={"event": {"title": "Another note"}})
    assert later.status_code == 201, later.text

    replay = await tenant.post(path, json=EVENT_BODY, headers=keyed(key))
    assert_replay_of(first, replay)
    titles = [event["title"] for event in await get_timeline(tenant, order["_id"])]
    assert titles == ["Order Created", "Called the customer", "Another note"]


async def test_rest_timeline_key_reused_with_another_event_or_order_is_refused(
    tenant: Tenant,
) -> None:
    order = await tenant.create_order()
    other_order = await tenant.create_order()
    key = new_key()
    first = await tenant.post(
        f"/v1/orders/{order['_id']}/timeline", json=EVENT_BODY, headers=keyed(key)
    )
    assert first.status_code == 201, first.text

    other_event = await tenant.post(
        f"/v1/orders/{order['_id']}/timeline",
        json={"event": {"title": "A different note"}},
        headers=keyed(key),
    )
    assert_error(other_event, 422, "IdempotencyKeyReusedError")
    other_target = await tenant.post(
        f"/v1/orders/{other_order['_id']}/timeline", json=EVENT_BODY, headers=keyed(key)
    )
    assert_error(other_target, 422, "IdempotencyKeyReusedError")

    assert len(await get_timeline(tenant, order["_id"])) == 2
    assert len(await get_timeline(tenant, other_order["_id"])) == 1


async def test_rest_timeline_validation_failure_is_not_stored(tenant: Tenant) -> None:
    order = await tenant.create_order()
    path = f"/v1/orders/{order['_id']}/timeline"
    key = new_key()
    refused = await tenant.post(path, json={"event": {"type": "info"}}, headers=keyed(key))
    assert_error(refused, 400, "ValidationError")
    added = await tenant.post(path, json=EVENT_BODY, headers=keyed(key))
    assert added.status_code == 201, added.text
    assert REPLAYED not in added.headers
    assert len(await get_timeline(tenant, order["_id"])) == 2


async def test_rest_timeline_while_the_first_is_in_flight_is_a_conflict(
    tenant: Tenant, gate: Gate
) -> None:
    order = await tenant.create_order()
    path = f"/v1/orders/{order['_id']}/timeline"
    key = new_key()
    first, second = await while_first_in_flight(
        gate, lambda: tenant.post(path, json=EVENT_BODY, headers=keyed(key))
    )
    assert_error(second, 409, "ConflictError")
    assert first.status_code == 201, first.text
    assert len(await get_timeline(tenant, order["_id"])) == 2


# --- REST: bulk ----------------------------------------------------------------------------


async def test_rest_bulk_replays_and_creates_once(tenant: Tenant) -> None:
    key = new_key()
    body = {"orders": [ORDER_BODY, OTHER_ORDER_BODY]}
    first = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert first.status_code == 201, first.text
    assert first.json()["created"] == 2

    replay = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert_replay_of(first, replay)
    assert await order_total(tenant) == 2


async def test_rest_bulk_partial_success_replays_its_207(tenant: Tenant) -> None:
    key = new_key()
    body = {"orders": [ORDER_BODY, {**OTHER_ORDER_BODY, "mobile": ""}]}
    first = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert first.status_code == 207, first.text
    assert (first.json()["created"], first.json()["failed"]) == (1, 1)

    replay = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert_replay_of(first, replay)
    assert await order_total(tenant) == 1


async def test_rest_bulk_replay_rendered_from_the_stored_result_keeps_every_result(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the orders and the key committed but before the response
    bytes were stored: the replay is rebuilt from the key's stored result, and must still
    report the failed index."""

    async def lost(ctx: RequestContext, key: str, status: int, body: bytes) -> None:
        return None

    key = new_key()
    body = {"orders": [ORDER_BODY, {**OTHER_ORDER_BODY, "mobile": ""}]}
    with monkeypatch.context() as patch:
        patch.setattr(idempotency, "remember_response", lost)
        first = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert first.status_code == 207, first.text

    replay = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert replay.headers.get(REPLAYED) == "true"
    assert replay.status_code == 207, replay.text
    assert replay.json() == first.json()
    assert await order_total(tenant) == 1


async def test_rest_bulk_key_reused_with_other_orders_or_atomicity_is_refused(
    tenant: Tenant,
) -> None:
    key = new_key()
    body = {"orders": [ORDER_BODY]}
    first = await tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    assert first.status_code == 201, first.text

    other = await tenant.post(
        "/v1/orders/bulk", json={"orders": [OTHER_ORDER_BODY]}, headers=keyed(key)
    )
    assert_error(other, 422, "IdempotencyKeyReusedError")
    atomic = await tenant.post("/v1/orders/bulk?atomic=true", json=body, headers=keyed(key))
    assert_error(atomic, 422, "IdempotencyKeyReusedError")
    assert await order_total(tenant) == 1


async def test_rest_bulk_validation_failure_is_not_stored(tenant: Tenant) -> None:
    key = new_key()
    refused = await tenant.post("/v1/orders/bulk", json={"orders": []}, headers=keyed(key))
    assert_error(refused, 400, "ValidationError")
    atomic_refused = await tenant.post(
        "/v1/orders/bulk?atomic=true",
        json={"orders": [ORDER_BODY, {"mobile": "1"}]},
        headers=keyed(key),
    )
    assert_error(atomic_refused, 400, "ValidationError")

    created = await tenant.post(
        "/v1/orders/bulk", json={"orders": [ORDER_BODY]}, headers=keyed(key)
    )
    assert created.status_code == 201, created.text
    assert REPLAYED not in created.headers
    assert await order_total(tenant) == 1


async def test_rest_bulk_while_the_first_is_in_flight_is_a_conflict(
    tenant: Tenant, gate: Gate
) -> None:
    key = new_key()
    body = {"orders": [ORDER_BODY, OTHER_ORDER_BODY]}
    first, second = await while_first_in_flight(
        gate, lambda: tenant.post("/v1/orders/bulk", json=body, headers=keyed(key))
    )
    assert_error(second, 409, "ConflictError")
    assert first.status_code == 201, first.text
    assert await order_total(tenant) == 2


# --- concurrency ---------------------------------------------------------------------------

CONCURRENT = 10


async def test_concurrent_identical_creates_with_one_key_create_one_order(
    tenant: Tenant,
) -> None:
    key = new_key()
    responses = await asyncio.gather(
        *(tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key)) for _ in range(CONCURRENT))
    )
    created = [r for r in responses if r.status_code == 201]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(created) + len(conflicts) == CONCURRENT, [r.text for r in responses]
    for conflict in conflicts:
        assert conflict.json()["error"]["code"] == "ConflictError"
        assert conflict.json()["error"]["details"] == {"idempotencyKey": key}
    originals = [r for r in created if REPLAYED not in r.headers]
    assert len(originals) == 1
    assert all(r.content == originals[0].content for r in created)
    assert all(r.headers[REPLAYED] == "true" for r in created if r is not originals[0])
    assert await order_total(tenant) == 1

    replay = await tenant.post("/v1/orders", json=ORDER_BODY, headers=keyed(key))
    assert_replay_of(originals[0], replay)


async def test_concurrent_identical_timeline_posts_with_one_key_add_one_event(
    tenant: Tenant,
) -> None:
    order = await tenant.create_order()
    path = f"/v1/orders/{order['_id']}/timeline"
    key = new_key()
    responses = await asyncio.gather(
        *(tenant.post(path, json=EVENT_BODY, headers=keyed(key)) for _ in range(CONCURRENT))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if REPLAYED not in r.headers]) == 1
    assert {r.json()["eventId"] for r in created} == {"evt_002"}
    assert len(await get_timeline(tenant, order["_id"])) == 2


async def test_concurrent_identical_bulks_with_one_key_create_each_order_once(
    tenant: Tenant,
) -> None:
    key = new_key()
    body = {"orders": [ORDER_BODY, OTHER_ORDER_BODY, ORDER_BODY]}
    responses = await asyncio.gather(
        *(tenant.post("/v1/orders/bulk", json=body, headers=keyed(key)) for _ in range(CONCURRENT))
    )
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if REPLAYED not in r.headers]) == 1
    assert len({r.content for r in created}) == 1
    assert await order_total(tenant) == 3


async def test_concurrent_identical_graphql_creates_with_one_key_create_one_order(
    tenant: Tenant,
) -> None:
    key = new_key()
    bodies = await asyncio.gather(
        *(
            tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": key})
            for _ in range(CONCURRENT)
        )
    )
    ids = {body["data"]["createOrder"]["id"] for body in bodies if body.get("data")}
    assert len(ids) == 1, bodies
    for body in bodies:
        if body.get("errors"):
            assert gql_error_code(body) == "ConflictError"
            assert body["errors"][0]["extensions"]["details"] == {"idempotencyKey": key}
    assert await order_total(tenant) == 1


# --- GraphQL -------------------------------------------------------------------------------


async def test_graphql_create_order_replays_the_same_order(tenant: Tenant) -> None:
    key = new_key()
    first = await tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": key})
    assert "errors" not in first, first
    order = first["data"]["createOrder"]
    assert order["finalAmount"] == "2497.00"

    replay = await tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": key})
    assert "errors" not in replay, replay
    assert replay["data"]["createOrder"] == order
    assert await order_total(tenant) == 1


async def test_graphql_create_order_key_reused_with_other_input_is_refused(
    tenant: Tenant,
) -> None:
    key = new_key()
    first = await tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": key})
    assert "errors" not in first, first
    changed = {**GQL_ORDER_INPUT, "name": "Someone Else"}
    reused = await tenant.graphql(GQL_CREATE, {"input": changed, "key": key})
    assert gql_error_code(reused) == "IdempotencyKeyReusedError"
    assert reused["data"] is None
    assert await order_total(tenant) == 1


async def test_graphql_create_order_validation_failure_is_not_stored(tenant: Tenant) -> None:
    key = new_key()
    invalid = {**GQL_ORDER_INPUT, "mobile": "  "}
    refused = await tenant.graphql(GQL_CREATE, {"input": invalid, "key": key})
    assert gql_error_code(refused) == "ValidationError"
    assert refused["errors"][0]["message"] == MOBILE_REQUIRED

    created = await tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": key})
    assert "errors" not in created, created
    assert await order_total(tenant) == 1


async def test_graphql_key_over_255_characters_is_a_validation_error(tenant: Tenant) -> None:
    refused = await tenant.graphql(GQL_CREATE, {"input": GQL_ORDER_INPUT, "key": "k" * 256})
    assert gql_error_code(refused) == "ValidationError"
    assert await order_total(tenant) == 0


async def test_graphql_create_while_the_first_is_in_flight_is_a_conflict(
    tenant: Tenant, gate: Gate
) -> None:
    key = new_key()

    async def send() -> httpx.Response:
        return await tenant.post(
            "/graphql",
            json={"query": GQL_CREATE, "variables": {"input": GQL_ORDER_INPUT, "key": key}},
        )

    first, second = await while_first_in_flight(gate, send)
    assert gql_error_code(second.json()) == "ConflictError"
    assert "errors" not in first.json(), first.text
    assert await order_total(tenant) == 1


async def test_graphql_add_timeline_event_replays_the_same_event(tenant: Tenant) -> None:
    order = await tenant.create_order()
    key = new_key()
    variables = {"orderId": order["_id"], "event": {"title": "Packed"}, "key": key}
    first = await tenant.graphql(GQL_ADD_EVENT, variables)
    assert first["data"]["addTimelineEvent"] == {"id": "evt_002", "title": "Packed"}

    replay = await tenant.graphql(GQL_ADD_EVENT, variables)
    assert replay["data"]["addTimelineEvent"] == {"id": "evt_002", "title": "Packed"}
    assert len(await get_timeline(tenant, order["_id"])) == 2

    reused = await tenant.graphql(GQL_ADD_EVENT, {**variables, "event": {"title": "Other"}})
    assert gql_error_code(reused) == "IdempotencyKeyReusedError"
    assert len(await get_timeline(tenant, order["_id"])) == 2


async def test_graphql_bulk_create_replays_the_same_results(tenant: Tenant) -> None:
    key = new_key()
    orders = [GQL_ORDER_INPUT, {**GQL_ORDER_INPUT, "mobile": ""}]
    first = await tenant.graphql(GQL_BULK, {"orders": orders, "key": key})
    assert "errors" not in first, first
    result = first["data"]["bulkCreateOrders"]
    assert (result["created"], result["failed"]) == (1, 1)

    replay = await tenant.graphql(GQL_BULK, {"orders": orders, "key": key})
    assert replay["data"]["bulkCreateOrders"] == result
    assert await order_total(tenant) == 1

    reused = await tenant.graphql(GQL_BULK, {"orders": orders[:1], "key": key})
    assert gql_error_code(reused) == "IdempotencyKeyReusedError"
    atomic = await tenant.graphql(GQL_BULK, {"orders": orders[:1], "atomic": True, "key": key})
    assert gql_error_code(atomic) == "IdempotencyKeyReusedError"
    assert await order_total(tenant) == 1
