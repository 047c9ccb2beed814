"""The order status lifecycle through PUT /v1/orders/{orderId}/status and GraphQL
``updateOrderStatus``: the documented lifecycle, every allowed and every disallowed move of
the transition table, notes, repeats, unknown statuses and letter case.

Contract: SPEC.md §6, §7 and the reference document's "Update Order Status" and
"Complete Order Lifecycle"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contract import ALLOWED_MOVES, STATUSES, UTC_TIMESTAMP
from tests.http_helpers import error_of, get_order, get_timeline, graphql_error, snapshot

# SPEC §7: the type of the event a move *to* each status records.
EVENT_TYPE_FOR_STATUS = {
    "pending": "pending",
    "confirmed": "success",
    "processing": "pending",
    "shipped": "info",
    "delivered": "success",
    "completed": "success",
    "cancelled": "error",
    "refunded": "error",
}

# An allowed path from pending to each status (the first step is the move out of pending).
PATH_FROM_PENDING: dict[str, tuple[str, ...]] = {
    "pending": (),
    "confirmed": ("confirmed",),
    "processing": ("confirmed", "processing"),
    "shipped": ("confirmed", "processing", "shipped"),
    "delivered": ("confirmed", "processing", "shipped", "delivered"),
    "completed": ("confirmed", "processing", "shipped", "delivered", "completed"),
    "cancelled": ("confirmed", "cancelled"),
    "refunded": ("confirmed", "processing", "shipped", "delivered", "completed", "refunded"),
}

ALLOWED_PAIRS = [(source, target) for source in STATUSES for target in ALLOWED_MOVES[source]]
DISALLOWED_PAIRS = [
    (source, target)
    for source in STATUSES
    for target in STATUSES
    if target != source and target not in ALLOWED_MOVES[source]
]

UPDATE_STATUS = """
mutation Move($id: ID!, $status: OrderStatus!, $note: String, $expectedVersion: Int) {
  updateOrderStatus(id: $id, status: $status, note: $note, expectedVersion: $expectedVersion) {
    id status
    history { status timestamp note }
    timeline { id title type metadata actor }
  }
}
"""


# --- helpers -----------------------------------------------------------------------------


async def move(
    tenant: Tenant, order_id: str, status: str, note: str | None = None, **kwargs: Any
) -> httpx.Response:
    body: dict[str, Any] = {"status": status}
    if note is not None:
        body["note"] = note
    return await tenant.put(f"/v1/orders/{order_id}/status", json=body, **kwargs)


async def move_ok(tenant: Tenant, order_id: str, status: str, note: str | None = None) -> None:
    response = await move(tenant, order_id, status, note)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "message": f"Order status updated to {status.lower()}",
    }


async def order_in(tenant: Tenant, status: str, how: str) -> str:
    """An order in ``status``: created so, or moved there from pending step by step."""
    if how == "created":
        order = await tenant.create_order(status=status)
        assert order["status"] == status
        return str(order["_id"])
    order = await tenant.create_order()
    for step in PATH_FROM_PENDING[status]:
        await move_ok(tenant, order["_id"], step)
    return str(order["_id"])


# --- the documented lifecycle -------------------------------------------------------------

LIFECYCLE = ("confirmed", "processing", "shipped", "delivered", "completed")


async def test_documented_lifecycle_answers_and_timeline(tenant: Tenant) -> None:
    order = await tenant.create_order(status="PENDING")
    assert order["status"] == "pending"

    for status in LIFECYCLE:
        response = await move(tenant, order["_id"], status)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "success": True,
            "message": f"Order status updated to {status}",
        }

    events = await get_timeline(tenant, order["_id"])
    assert [event["id"] for event in events] == [f"evt_{n:03d}" for n in range(1, 7)]
    assert [event["title"] for event in events] == [
        "Order Created",
        "Order Confirmed",
        "Order Processing",
        "Order Shipped",
        "Order Delivered",
        "Order Completed",
    ]
    assert [event["type"] for event in events[1:]] == [
        "success",
        "pending",
        "info",
        "success",
        "success",
    ]
    assert [event["metadata"] for event in events[1:]] == [
        {"from": "pending", "to": "confirmed"},
        {"from": "confirmed", "to": "processing"},
        {"from": "processing", "to": "shipped"},
        {"from": "shipped", "to": "delivered"},
        {"from": "delivered", "to": "completed"},
    ]
    assert {event["actor"] for event in events} == {"test-key"}
    for event in events:
        assert UTC_TIMESTAMP.match(event["timestamp"]), event
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)


async def test_documented_lifecycle_order_history(tenant: Tenant) -> None:
    order = await tenant.create_order()
    for status in LIFECYCLE:
        await move_ok(tenant, order["_id"], status)

    fetched = await get_order(tenant, order["_id"])

    assert fetched["status"] == "completed"
    history = fetched["order_history"]
    assert [entry["status"] for entry in history] == ["pending", *LIFECYCLE]
    assert [entry["note"] for entry in history] == [None] * 6
    for entry in history:
        assert set(entry) == {"status", "timestamp", "note"}
        assert UTC_TIMESTAMP.match(entry["timestamp"])
    timestamps = [entry["timestamp"] for entry in history]
    assert timestamps == sorted(timestamps)
    assert history[0]["timestamp"] == fetched["created_at"]


async def test_order_history_starts_with_the_initial_status(tenant: Tenant) -> None:
    order = await tenant.create_order(status="shipped")

    fetched = await get_order(tenant, order["_id"])

    assert [entry["status"] for entry in fetched["order_history"]] == ["shipped"]


async def test_note_lands_in_event_metadata_and_order_history(tenant: Tenant) -> None:
    order = await tenant.create_order()

    await move_ok(tenant, order["_id"], "confirmed", note="Order confirmed by customer")
    await move_ok(tenant, order["_id"], "processing")

    events = await get_timeline(tenant, order["_id"])
    assert events[1]["metadata"] == {
        "from": "pending",
        "to": "confirmed",
        "note": "Order confirmed by customer",
    }
    assert events[2]["metadata"] == {"from": "confirmed", "to": "processing"}
    history = (await get_order(tenant, order["_id"]))["order_history"]
    assert [(entry["status"], entry["note"]) for entry in history] == [
        ("pending", None),
        ("confirmed", "Order confirmed by customer"),
        ("processing", None),
    ]


async def test_status_change_bumps_updated_at(tenant: Tenant) -> None:
    order = await tenant.create_order()

    await move_ok(tenant, order["_id"], "confirmed")

    fetched = await get_order(tenant, order["_id"])
    assert fetched["updated_at"] >= order["updated_at"]
    assert fetched["updated_at"] == fetched["order_history"][-1]["timestamp"]


# --- every allowed move -----------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
async def test_allowed_move_records_its_event(tenant: Tenant, source: str, target: str) -> None:
    order_id = await order_in(tenant, source, "created")

    await move_ok(tenant, order_id, target)

    events = await get_timeline(tenant, order_id)
    assert [event["id"] for event in events] == ["evt_001", "evt_002"]
    assert events[1]["title"] == f"Order {target.capitalize()}"
    assert events[1]["type"] == EVENT_TYPE_FOR_STATUS[target]
    assert events[1]["metadata"] == {"from": source, "to": target}
    fetched = await get_order(tenant, order_id)
    assert fetched["status"] == target
    assert [entry["status"] for entry in fetched["order_history"]] == [source, target]


# --- every disallowed move ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["created", "moved"])
@pytest.mark.parametrize(("source", "target"), DISALLOWED_PAIRS)
async def test_disallowed_move_is_409_and_changes_nothing(
    tenant: Tenant, source: str, target: str, how: str
) -> None:
    order_id = await order_in(tenant, source, how)
    before = await snapshot(tenant, order_id)
    etag = (await tenant.get(f"/v1/orders/{order_id}")).headers.get("etag")

    response = await move(tenant, order_id, target, note="should not be recorded")

    error = error_of(response, 409, "ConflictError")
    details = error["details"]
    assert set(details) == {"from", "to", "allowed"}
    assert details["from"] == source
    assert details["to"] == target
    assert isinstance(details["allowed"], list)
    assert sorted(details["allowed"]) == sorted(ALLOWED_MOVES[source])
    assert await snapshot(tenant, order_id) == before
    assert (await tenant.get(f"/v1/orders/{order_id}")).headers.get("etag") == etag


@pytest.mark.parametrize(("source", "target"), DISALLOWED_PAIRS)
async def test_graphql_disallowed_move_is_conflict(
    tenant: Tenant, source: str, target: str
) -> None:
    order_id = await order_in(tenant, source, "created")
    before = await snapshot(tenant, order_id)

    result = await tenant.graphql(UPDATE_STATUS, {"id": order_id, "status": target.upper()})

    error = graphql_error(result)
    assert error["extensions"]["code"] == "ConflictError"
    details = error["extensions"]["details"]
    assert (details["from"], details["to"]) == (source, target)
    assert sorted(details["allowed"]) == sorted(ALLOWED_MOVES[source])
    assert await snapshot(tenant, order_id) == before


# --- repeats, unknown statuses, letter case ------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
async def test_setting_the_current_status_again_adds_no_event(tenant: Tenant, status: str) -> None:
    order_id = await order_in(tenant, status, "created")
    before_order, before_events = await snapshot(tenant, order_id)

    response = await move(tenant, order_id, status)

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": f"Order status updated to {status}"}
    after_order, after_events = await snapshot(tenant, order_id)
    assert after_events == before_events
    assert after_order["order_history"] == before_order["order_history"]
    assert after_order["status"] == status


@pytest.mark.parametrize(
    "status", ["teleported", "", "   ", "PENDING!", "ship ped", 3, None, ["shipped"], {"s": 1}]
)
async def test_unknown_status_is_400_listing_the_allowed_ones(tenant: Tenant, status: Any) -> None:
    order = await tenant.create_order()
    before = await snapshot(tenant, order["_id"])

    response = await tenant.put(f"/v1/orders/{order['_id']}/status", json={"status": status})

    error = error_of(response, 400, "ValidationError")
    if status is not None:
        for allowed in STATUSES:
            assert allowed in error["message"], error
    assert await snapshot(tenant, order["_id"]) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-status"),
        pytest.param({"note": "why"}, id="note-only"),
        pytest.param({"status": "confirmed", "colour": "red"}, id="unknown-key"),
        pytest.param({"status": "confirmed", "note": 12}, id="note-not-a-string"),
        pytest.param(["confirmed"], id="list-body"),
    ],
)
async def test_malformed_status_body_is_400(tenant: Tenant, body: Any) -> None:
    order = await tenant.create_order()
    before = await snapshot(tenant, order["_id"])

    response = await tenant.put(f"/v1/orders/{order['_id']}/status", json=body)

    error_of(response, 400, "ValidationError")
    assert await snapshot(tenant, order["_id"]) == before


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("CONFIRMED", "confirmed"), ("Confirmed", "confirmed"), ("cOnFiRmEd", "confirmed")],
)
async def test_statuses_are_accepted_in_any_case(tenant: Tenant, sent: str, stored: str) -> None:
    order = await tenant.create_order(status="Pending")

    response = await move(tenant, order["_id"], sent)

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": f"Order status updated to {stored}"}
    fetched = await get_order(tenant, order["_id"])
    assert fetched["status"] == stored
    assert [entry["status"] for entry in fetched["order_history"]] == ["pending", stored]
    events = await get_timeline(tenant, order["_id"])
    assert events[-1]["metadata"] == {"from": "pending", "to": stored}


async def test_status_by_reference_id(tenant: Tenant) -> None:
    order = await tenant.create_order(referenceId="REF-STATUS-1")

    await move_ok(tenant, "REF-STATUS-1", "confirmed")

    assert (await get_order(tenant, order["_id"]))["status"] == "confirmed"


async def test_status_of_another_tenants_order_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    order = await tenant.create_order()
    before = await snapshot(tenant, order["_id"])

    response = await move(other_tenant, order["_id"], "confirmed")

    error_of(response, 404, "NotFoundError")
    assert await snapshot(tenant, order["_id"]) == before


async def test_status_of_a_missing_order_is_404(tenant: Tenant) -> None:
    response = await move(tenant, "ORD-NOPE-1", "confirmed")

    error_of(response, 404, "NotFoundError")


# --- GraphQL updateOrderStatus ------------------------------------------------------------


async def test_graphql_documented_lifecycle(tenant: Tenant) -> None:
    order = await tenant.create_order()

    for status in LIFECYCLE:
        result = await tenant.graphql(UPDATE_STATUS, {"id": order["_id"], "status": status.upper()})
        assert "errors" not in result, result
        assert result["data"]["updateOrderStatus"]["status"] == status.upper()

    final = result["data"]["updateOrderStatus"]
    assert [entry["status"] for entry in final["history"]] == [
        "PENDING",
        "CONFIRMED",
        "PROCESSING",
        "SHIPPED",
        "DELIVERED",
        "COMPLETED",
    ]
    assert [event["title"] for event in final["timeline"]] == [
        "Order Created",
        "Order Confirmed",
        "Order Processing",
        "Order Shipped",
        "Order Delivered",
        "Order Completed",
    ]
    assert [event["type"] for event in final["timeline"][1:]] == [
        "SUCCESS",
        "PENDING",
        "INFO",
        "SUCCESS",
        "SUCCESS",
    ]
    assert final["timeline"][3]["metadata"] == {"from": "processing", "to": "shipped"}


async def test_graphql_and_rest_status_changes_record_the_same(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    via_rest = await tenant.create_order()
    via_graphql = await other_tenant.create_order()

    await move_ok(tenant, via_rest["_id"], "confirmed", note="phoned")
    await move_ok(tenant, via_rest["_id"], "cancelled")
    for status, note in (("CONFIRMED", "phoned"), ("CANCELLED", None)):
        result = await other_tenant.graphql(
            UPDATE_STATUS, {"id": via_graphql["_id"], "status": status, "note": note}
        )
        assert "errors" not in result, result

    def comparable(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["id"], e["title"], e["type"], e["actor"]) for e in events] + [
            e["metadata"] for e in events[1:]
        ]

    rest_events = await get_timeline(tenant, via_rest["_id"])
    graphql_events = await get_timeline(other_tenant, via_graphql["_id"])
    assert comparable(graphql_events) == comparable(rest_events)
    rest_history = (await get_order(tenant, via_rest["_id"]))["order_history"]
    graphql_history = (await get_order(other_tenant, via_graphql["_id"]))["order_history"]
    assert [(h["status"], h["note"]) for h in graphql_history] == [
        (h["status"], h["note"]) for h in rest_history
    ]


async def test_graphql_note_is_kept(tenant: Tenant) -> None:
    order = await tenant.create_order()

    result = await tenant.graphql(
        UPDATE_STATUS, {"id": order["_id"], "status": "CONFIRMED", "note": "By phone"}
    )

    assert "errors" not in result, result
    changed = result["data"]["updateOrderStatus"]
    assert changed["history"][-1]["note"] == "By phone"
    assert changed["timeline"][-1]["metadata"] == {
        "from": "pending",
        "to": "confirmed",
        "note": "By phone",
    }


async def test_graphql_same_status_adds_no_event(tenant: Tenant) -> None:
    order = await tenant.create_order(status="processing")

    result = await tenant.graphql(UPDATE_STATUS, {"id": order["_id"], "status": "PROCESSING"})

    assert "errors" not in result, result
    assert [event["id"] for event in result["data"]["updateOrderStatus"]["timeline"]] == ["evt_001"]


async def test_graphql_unknown_status_is_a_validation_error(tenant: Tenant) -> None:
    order = await tenant.create_order()

    result = await tenant.graphql(UPDATE_STATUS, {"id": order["_id"], "status": "TELEPORTED"})

    assert graphql_error(result)["extensions"]["code"] == "ValidationError"
    assert (await get_order(tenant, order["_id"]))["status"] == "pending"


async def test_graphql_status_expected_version_mismatch(tenant: Tenant) -> None:
    order = await tenant.create_order()
    stale_tag = (await tenant.get(f"/v1/orders/{order['_id']}")).headers["etag"]
    await move_ok(tenant, order["_id"], "confirmed")
    before = await snapshot(tenant, order["_id"])

    result = await tenant.graphql(
        UPDATE_STATUS,
        {"id": order["_id"], "status": "PROCESSING", "expectedVersion": int(stale_tag.strip('"'))},
    )

    assert graphql_error(result)["extensions"]["code"] == "PreconditionFailedError"
    assert await snapshot(tenant, order["_id"]) == before


async def test_graphql_status_of_another_tenants_order_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    order = await tenant.create_order()

    result = await other_tenant.graphql(UPDATE_STATUS, {"id": order["_id"], "status": "CONFIRMED"})

    assert graphql_error(result)["extensions"]["code"] == "NotFoundError"
    assert (await get_order(tenant, order["_id"]))["status"] == "pending"
