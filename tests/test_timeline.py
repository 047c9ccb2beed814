"""The order timeline: GET and POST /v1/orders/{orderId}/timeline, automatic events
(creation, status changes, payment received, other updates), the actor of each event, and
GraphQL ``addTimelineEvent``, ``orderTimeline``, ``Order.timeline`` and ``Order.history``.

Contract: SPEC.md §7, §11 and the reference document's "Get Order Timeline" and
"Add Timeline Event"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.engine import Database
from orders_api import tenants
from tests.conftest import Tenant
from tests.contract import UTC_TIMESTAMP
from tests.http_helpers import error_of, get_timeline, graphql_error

EVENT_KEYS = {"id", "title", "description", "type", "timestamp", "metadata", "actor"}

# The request of the reference document's "Add Timeline Event", verbatim.
DOCUMENTED_EVENT: dict[str, Any] = {
    "event": {
        "title": "Customer Called",
        "description": "Customer contacted regarding delivery preference",
        "type": "info",
        "metadata": {"agent": "John Support", "duration": "5 minutes"},
    }
}

ADD_EVENT = """
mutation Add($orderId: ID!, $event: TimelineEventInput!) {
  addTimelineEvent(orderId: $orderId, event: $event) {
    id title description type timestamp metadata actor
  }
}
"""
ORDER_TIMELINE = """
query Timeline($orderId: ID!) {
  orderTimeline(orderId: $orderId) { id title description type timestamp metadata actor }
}
"""
ORDER_WITH_TIMELINE = """
query One($id: ID!) {
  order(id: $id) {
    id status
    history { status timestamp note }
    timeline { id title description type timestamp metadata actor }
  }
}
"""


# --- helpers -----------------------------------------------------------------------------


async def add_event(tenant: Tenant, order_id: str, event: Any) -> httpx.Response:
    return await tenant.post(f"/v1/orders/{order_id}/timeline", json={"event": event})


async def add_event_ok(tenant: Tenant, order_id: str, event: dict[str, Any]) -> str:
    response = await add_event(tenant, order_id, event)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"success", "message", "eventId"}
    assert body["success"] is True
    assert body["message"] == "Timeline event added successfully"
    event_id: str = body["eventId"]
    return event_id


async def update_ok(tenant: Tenant, order_id: str, updates: dict[str, Any]) -> None:
    response = await tenant.put(f"/v1/orders/{order_id}", json={"updates": updates})
    assert response.status_code == 200, response.text


async def move_ok(tenant: Tenant, order_id: str, status: str) -> None:
    response = await tenant.put(f"/v1/orders/{order_id}/status", json={"status": status})
    assert response.status_code == 200, response.text


def graphql_error_code(result: dict[str, Any]) -> str:
    code: str = graphql_error(result)["extensions"]["code"]
    return code


async def second_key(db: Database, tenant: Tenant, key_name: str) -> Tenant:
    """The same tenant speaking through another API key with another name."""
    issued = await tenants.create_key(db, tenant.name, key_name)
    return Tenant(id=tenant.id, name=tenant.name, api_key=issued.api_key, http=tenant.http)


# --- reading the timeline -----------------------------------------------------------------


async def test_new_order_has_one_creation_event(tenant: Tenant) -> None:
    order = await tenant.create_order(referenceId="REF-TL-1")

    events = await get_timeline(tenant, order["_id"])

    assert len(events) == 1
    event = events[0]
    assert set(event) == EVENT_KEYS
    assert event["id"] == "evt_001"
    assert event["title"] == "Order Created"
    assert event["type"] in ("success", "pending", "error", "info")
    assert event["actor"] == "test-key"
    assert UTC_TIMESTAMP.match(event["timestamp"])
    assert event["timestamp"] == order["created_at"]


async def test_timeline_is_oldest_first_with_sequential_ids(tenant: Tenant) -> None:
    order = await tenant.create_order()
    await move_ok(tenant, order["_id"], "confirmed")
    await add_event_ok(tenant, order["_id"], {"title": "Customer Called"})
    await update_ok(tenant, order["_id"], {"notes": "Fragile"})
    await move_ok(tenant, order["_id"], "shipped")
    await add_event_ok(tenant, order["_id"], {"title": "Courier Picked Up"})

    events = await get_timeline(tenant, order["_id"])

    assert [event["id"] for event in events] == [f"evt_{n:03d}" for n in range(1, 7)]
    assert [event["title"] for event in events] == [
        "Order Created",
        "Order Confirmed",
        "Customer Called",
        "Order Updated",
        "Order Shipped",
        "Courier Picked Up",
    ]
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    for event in events:
        assert set(event) == EVENT_KEYS


async def test_timeline_by_reference_id(tenant: Tenant) -> None:
    order = await tenant.create_order(referenceId="REF-TL-2")

    events = await get_timeline(tenant, "REF-TL-2")

    assert events == await get_timeline(tenant, order["_id"])


async def test_custom_event_ids_continue_the_sequence(tenant: Tenant) -> None:
    order = await tenant.create_order()
    ids = [await add_event_ok(tenant, order["_id"], {"title": f"Note {n}"}) for n in range(12)]

    assert ids == [f"evt_{n:03d}" for n in range(2, 14)]
    events = await get_timeline(tenant, order["_id"])
    assert [event["id"] for event in events] == [f"evt_{n:03d}" for n in range(1, 14)]


# --- custom events --------------------------------------------------------------------------


async def test_documented_custom_event(tenant: Tenant) -> None:
    order = await tenant.create_order()

    response = await tenant.post(f"/v1/orders/{order['_id']}/timeline", json=DOCUMENTED_EVENT)

    assert response.status_code == 201, response.text
    assert response.json() == {
        "success": True,
        "message": "Timeline event added successfully",
        "eventId": "evt_002",
    }
    events = await get_timeline(tenant, order["_id"])
    added = events[-1]
    assert added["id"] == "evt_002"
    assert added["title"] == "Customer Called"
    assert added["description"] == "Customer contacted regarding delivery preference"
    assert added["type"] == "info"
    assert added["metadata"] == {"agent": "John Support", "duration": "5 minutes"}
    assert added["actor"] == "test-key"
    assert UTC_TIMESTAMP.match(added["timestamp"])


async def test_documented_event_id_after_two_status_changes_is_evt_004(tenant: Tenant) -> None:
    order = await tenant.create_order()
    await move_ok(tenant, order["_id"], "confirmed")
    await move_ok(tenant, order["_id"], "shipped")

    assert await add_event_ok(tenant, order["_id"], DOCUMENTED_EVENT["event"]) == "evt_004"


async def test_custom_event_type_defaults_to_info(tenant: Tenant) -> None:
    order = await tenant.create_order()

    await add_event_ok(tenant, order["_id"], {"title": "Just a title"})

    added = (await get_timeline(tenant, order["_id"]))[-1]
    assert added["type"] == "info"
    assert added["title"] == "Just a title"
    assert added["description"] is None
    assert added["metadata"] is None


@pytest.mark.parametrize("event_type", ["success", "pending", "error", "info"])
async def test_custom_event_types_are_kept(tenant: Tenant, event_type: str) -> None:
    order = await tenant.create_order()

    await add_event_ok(tenant, order["_id"], {"title": "Typed", "type": event_type})

    assert (await get_timeline(tenant, order["_id"]))[-1]["type"] == event_type


async def test_custom_event_metadata_is_kept_as_given(tenant: Tenant) -> None:
    order = await tenant.create_order()
    metadata = {
        "transaction_id": "txn_abc123",
        "amount": 1250.5,
        "attempts": 3,
        "flags": ["manual", "priority"],
        "nested": {"ok": True, "none": None},
    }

    await add_event_ok(tenant, order["_id"], {"title": "Payment Check", "metadata": metadata})

    assert (await get_timeline(tenant, order["_id"]))[-1]["metadata"] == metadata


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"description": "no title"}, id="missing"),
        pytest.param({"title": None}, id="null"),
        pytest.param({"title": ""}, id="empty"),
        pytest.param({"title": "   "}, id="blank"),
        pytest.param({}, id="empty-event"),
    ],
)
async def test_event_title_is_required(tenant: Tenant, event: dict[str, Any]) -> None:
    order = await tenant.create_order()

    response = await add_event(tenant, order["_id"], event)

    error = error_of(response, 400, "ValidationError")
    assert error["message"] == "Event title is required"
    assert len(await get_timeline(tenant, order["_id"])) == 1


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param({"title": "T", "type": "warning"}, "type", id="unknown-type"),
        pytest.param({"title": "T", "type": 3}, "type", id="type-not-a-string"),
        pytest.param({"title": "T", "metadata": "text"}, "metadata", id="metadata-string"),
        pytest.param({"title": "T", "metadata": [1, 2]}, "metadata", id="metadata-list"),
        pytest.param({"title": 42}, "title", id="title-not-a-string"),
        pytest.param({"title": "x" * 201}, "title", id="title-too-long"),
        pytest.param({"title": "T", "description": 5}, "description", id="description-number"),
        pytest.param(
            {"title": "T", "metadata": {"blob": "x" * 17_000}}, "metadata", id="metadata-too-big"
        ),
    ],
)
async def test_bad_event_fields_are_400(tenant: Tenant, event: dict[str, Any], field: str) -> None:
    order = await tenant.create_order()

    response = await add_event(tenant, order["_id"], event)

    error = error_of(response, 400, "ValidationError")
    assert field in error["message"]
    assert len(await get_timeline(tenant, order["_id"])) == 1


async def test_unknown_event_type_error_lists_the_allowed_types(tenant: Tenant) -> None:
    order = await tenant.create_order()

    response = await add_event(tenant, order["_id"], {"title": "T", "type": "warning"})

    message = error_of(response, 400, "ValidationError")["message"]
    for event_type in ("success", "pending", "error", "info"):
        assert event_type in message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"title": "Customer Called"}, id="event-fields-at-top-level"),
        pytest.param({"event": None}, id="event-null"),
        pytest.param({"event": "Customer Called"}, id="event-a-string"),
        pytest.param({"event": [{"title": "T"}]}, id="event-a-list"),
    ],
)
async def test_body_without_an_event_object_is_400(tenant: Tenant, body: Any) -> None:
    order = await tenant.create_order()

    response = await tenant.post(f"/v1/orders/{order['_id']}/timeline", json=body)

    error_of(response, 400, "ValidationError")
    assert len(await get_timeline(tenant, order["_id"])) == 1


async def test_custom_event_does_not_change_the_order(tenant: Tenant) -> None:
    order = await tenant.create_order()
    before = (await tenant.get(f"/v1/orders/{order['_id']}")).json()

    await add_event_ok(tenant, order["_id"], {"title": "Customer Called"})

    after = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    assert after == before


# --- actors ----------------------------------------------------------------------------------


async def test_events_record_the_name_of_the_key_that_caused_them(
    db: Database, tenant: Tenant
) -> None:
    warehouse = await second_key(db, tenant, "warehouse-bot")
    order = await tenant.create_order()

    await move_ok(warehouse, order["_id"], "confirmed")
    await add_event_ok(warehouse, order["_id"], {"title": "Packed"})
    await update_ok(warehouse, order["_id"], {"notes": "Packed in box 3"})
    await update_ok(warehouse, order["_id"], {"payment_status": "paid"})
    await add_event_ok(tenant, order["_id"], {"title": "Customer Called"})

    events = await get_timeline(tenant, order["_id"])
    assert [(event["title"], event["actor"]) for event in events] == [
        ("Order Created", "test-key"),
        ("Order Confirmed", "warehouse-bot"),
        ("Packed", "warehouse-bot"),
        ("Order Updated", "warehouse-bot"),
        ("Payment Received", "warehouse-bot"),
        ("Customer Called", "test-key"),
    ]


async def test_order_created_through_a_named_key_records_it(db: Database, tenant: Tenant) -> None:
    shop = await second_key(db, tenant, "shopify-sync")

    order = await shop.create_order()

    assert (await get_timeline(tenant, order["_id"]))[0]["actor"] == "shopify-sync"


async def test_graphql_events_record_the_key_name(db: Database, tenant: Tenant) -> None:
    dashboard = await second_key(db, tenant, "dashboard")
    order = await tenant.create_order()

    result = await dashboard.graphql(
        ADD_EVENT, {"orderId": order["_id"], "event": {"title": "Reviewed"}}
    )

    assert "errors" not in result, result
    assert result["data"]["addTimelineEvent"]["actor"] == "dashboard"
    assert (await get_timeline(tenant, order["_id"]))[-1]["actor"] == "dashboard"


# --- automatic events for updates ---------------------------------------------------------


async def test_payment_becoming_paid_records_payment_received_once(tenant: Tenant) -> None:
    order = await tenant.create_order(
        payment_info={"status": "pending", "amount": 10, "currency": "INR"}
    )

    await update_ok(tenant, order["_id"], {"payment_status": "paid"})
    await update_ok(tenant, order["_id"], {"payment_status": "paid"})
    await update_ok(tenant, order["_id"], {"payment_info": {"status": "paid"}})

    events = await get_timeline(tenant, order["_id"])
    received = [event for event in events if event["title"] == "Payment Received"]
    assert len(received) == 1
    assert received[0]["id"] == "evt_002"
    assert received[0]["type"] == "success"
    assert events[1] == received[0]  # the first update recorded only the payment


async def test_payment_info_status_paid_records_payment_received(tenant: Tenant) -> None:
    order = await tenant.create_order(payment_info={"status": "pending", "currency": "INR"})

    await update_ok(
        tenant, order["_id"], {"payment_info": {"status": "paid", "payment_id": "txn_abc123"}}
    )

    events = await get_timeline(tenant, order["_id"])
    titles = [event["title"] for event in events]
    assert titles.count("Payment Received") == 1
    received = next(event for event in events if event["title"] == "Payment Received")
    assert received["type"] == "success"
    fetched = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    assert fetched["payment_status"] == "paid"


async def test_payment_status_other_than_paid_is_an_order_update(tenant: Tenant) -> None:
    order = await tenant.create_order()

    await update_ok(tenant, order["_id"], {"payment_status": "failed"})

    events = await get_timeline(tenant, order["_id"])
    assert [event["title"] for event in events] == ["Order Created", "Order Updated"]
    assert events[1]["metadata"]["fields"] == ["payment_status"]


async def test_other_updates_list_the_changed_fields(tenant: Tenant) -> None:
    order = await tenant.create_order(name="John Doe", notes="old")

    # name is sent with its current value: it did not change, so it is not listed.
    await update_ok(
        tenant,
        order["_id"],
        {"name": "John Doe", "notes": "new", "delivery_method": "Store Pickup"},
    )

    events = await get_timeline(tenant, order["_id"])
    assert [event["title"] for event in events] == ["Order Created", "Order Updated"]
    updated = events[1]
    assert updated["type"] == "info"
    assert updated["actor"] == "test-key"
    assert sorted(updated["metadata"]["fields"]) == ["delivery_method", "notes"]


async def test_each_update_adds_its_own_event(tenant: Tenant) -> None:
    order = await tenant.create_order()

    await update_ok(tenant, order["_id"], {"notes": "one"})
    await update_ok(tenant, order["_id"], {"user_id": "u-1"})

    events = await get_timeline(tenant, order["_id"])
    assert [(event["id"], event["title"]) for event in events] == [
        ("evt_001", "Order Created"),
        ("evt_002", "Order Updated"),
        ("evt_003", "Order Updated"),
    ]
    assert events[1]["metadata"]["fields"] == ["notes"]
    assert events[2]["metadata"]["fields"] == ["user_id"]


async def test_rejected_requests_add_no_event(tenant: Tenant) -> None:
    order = await tenant.create_order(status="completed")

    bad_update = await tenant.put(f"/v1/orders/{order['_id']}", json={"updates": {"x": 1}})
    bad_move = await tenant.put(f"/v1/orders/{order['_id']}/status", json={"status": "pending"})
    bad_event = await add_event(tenant, order["_id"], {"type": "info"})

    assert (bad_update.status_code, bad_move.status_code, bad_event.status_code) == (
        400,
        409,
        400,
    )
    assert [event["id"] for event in await get_timeline(tenant, order["_id"])] == ["evt_001"]


# --- GraphQL ---------------------------------------------------------------------------------


async def test_graphql_add_timeline_event(tenant: Tenant) -> None:
    order = await tenant.create_order()

    result = await tenant.graphql(
        ADD_EVENT,
        {
            "orderId": order["_id"],
            "event": {
                "title": "Customer Called",
                "description": "Customer contacted regarding delivery preference",
                "type": "SUCCESS",
                "metadata": {"agent": "John Support", "duration": "5 minutes"},
            },
        },
    )

    assert "errors" not in result, result
    added = result["data"]["addTimelineEvent"]
    assert added["id"] == "evt_002"
    assert added["title"] == "Customer Called"
    assert added["description"] == "Customer contacted regarding delivery preference"
    assert added["type"] == "SUCCESS"
    assert added["metadata"] == {"agent": "John Support", "duration": "5 minutes"}
    assert added["actor"] == "test-key"
    assert UTC_TIMESTAMP.match(added["timestamp"])
    rest_event = (await get_timeline(tenant, order["_id"]))[-1]
    assert rest_event["id"] == "evt_002"
    assert rest_event["type"] == "success"
    assert rest_event["timestamp"] == added["timestamp"]


async def test_graphql_add_timeline_event_defaults_to_info(tenant: Tenant) -> None:
    order = await tenant.create_order(referenceId="REF-GQL-TL")

    result = await tenant.graphql(ADD_EVENT, {"orderId": "REF-GQL-TL", "event": {"title": "T"}})

    assert "errors" not in result, result
    assert result["data"]["addTimelineEvent"]["type"] == "INFO"
    assert len(await get_timeline(tenant, order["_id"])) == 2


@pytest.mark.parametrize("title", ["", "   "])
async def test_graphql_blank_title_gets_the_rest_message(tenant: Tenant, title: str) -> None:
    order = await tenant.create_order()

    result = await tenant.graphql(ADD_EVENT, {"orderId": order["_id"], "event": {"title": title}})

    assert graphql_error_code(result) == "ValidationError"
    assert result["errors"][0]["message"] == "Event title is required"
    assert len(await get_timeline(tenant, order["_id"])) == 1


async def test_graphql_timeline_reads_match_rest(tenant: Tenant) -> None:
    order = await tenant.create_order()
    await move_ok(tenant, order["_id"], "confirmed")
    await add_event_ok(tenant, order["_id"], DOCUMENTED_EVENT["event"])
    await update_ok(tenant, order["_id"], {"payment_status": "paid", "notes": "n"})
    rest_events = await get_timeline(tenant, order["_id"])
    as_graphql = [{**event, "type": event["type"].upper()} for event in rest_events]

    by_query = await tenant.graphql(ORDER_TIMELINE, {"orderId": order["_id"]})
    by_order = await tenant.graphql(ORDER_WITH_TIMELINE, {"id": order["referenceId"]})

    assert "errors" not in by_query, by_query
    assert "errors" not in by_order, by_order
    assert by_query["data"]["orderTimeline"] == as_graphql
    assert by_order["data"]["order"]["timeline"] == as_graphql
    assert len(as_graphql) == 5


async def test_graphql_history_matches_order_history(tenant: Tenant) -> None:
    order = await tenant.create_order()
    await move_ok(tenant, order["_id"], "confirmed")
    response = await tenant.put(
        f"/v1/orders/{order['_id']}/status", json={"status": "shipped", "note": "Courier 7"}
    )
    assert response.status_code == 200, response.text
    rest_history = (await tenant.get(f"/v1/orders/{order['_id']}")).json()["order_history"]

    result = await tenant.graphql(ORDER_WITH_TIMELINE, {"id": order["_id"]})

    assert "errors" not in result, result
    history = result["data"]["order"]["history"]
    assert history == [{**entry, "status": entry["status"].upper()} for entry in rest_history]
    assert [(entry["status"], entry["note"]) for entry in history] == [
        ("PENDING", None),
        ("CONFIRMED", None),
        ("SHIPPED", "Courier 7"),
    ]


# --- tenant isolation and missing orders --------------------------------------------------


async def test_another_tenants_timeline_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    order = await tenant.create_order(referenceId="REF-TL-MINE")

    for order_id in (order["_id"], "REF-TL-MINE"):
        read = await other_tenant.get(f"/v1/orders/{order_id}/timeline")
        error_of(read, 404, "NotFoundError")
        write = await add_event(other_tenant, order_id, {"title": "Sneaky"})
        error_of(write, 404, "NotFoundError")

    assert [event["id"] for event in await get_timeline(tenant, order["_id"])] == ["evt_001"]


async def test_missing_orders_timeline_is_404(tenant: Tenant) -> None:
    read = await tenant.get("/v1/orders/64a1b2c3d4e5f6789abc1234/timeline")
    write = await add_event(tenant, "ORD-NOPE", {"title": "T"})

    error_of(read, 404, "NotFoundError")
    error_of(write, 404, "NotFoundError")


async def test_graphql_another_tenants_timeline_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    order = await tenant.create_order()

    read = await other_tenant.graphql(ORDER_TIMELINE, {"orderId": order["_id"]})
    write = await other_tenant.graphql(
        ADD_EVENT, {"orderId": order["_id"], "event": {"title": "Sneaky"}}
    )
    lookup = await other_tenant.graphql(ORDER_WITH_TIMELINE, {"id": order["_id"]})

    assert graphql_error_code(read) == "NotFoundError"
    assert graphql_error_code(write) == "NotFoundError"
    assert lookup == {"data": {"order": None}}
    assert [event["id"] for event in await get_timeline(tenant, order["_id"])] == ["evt_001"]
