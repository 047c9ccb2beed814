"""Many writers on one order at once: no 5xx, every change with its event, event ids unique
and gapless, status races that end in a history the transition table allows.

In-process on the suite's database (SQLite or PostgreSQL), and on PostgreSQL with two
uvicorn server processes sharing the database.

Contract: SPEC.md §5 (If-Match), §6, §7 ("The change and its event are written in one
transaction: never one without the other, even under concurrent requests") and §10."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from db import migrate
from db.engine import Database
from orders_api import tenants
from tests.conftest import Tenant
from tests.contract import ALLOWED_MOVES
from tests.databases import fresh_postgres_database, require_postgres
from tests.http_helpers import free_port, start_uvicorn, stop_server

WRITERS = 24
STATUS_RACERS = 20

RACE_TARGETS = ("confirmed", "cancelled", "processing", "shipped", "refunded")

ADD_EVENT = """
mutation Add($orderId: ID!, $event: TimelineEventInput!) {
  addTimelineEvent(orderId: $orderId, event: $event) { id }
}
"""

Send = Callable[[int, str, str, dict[str, Any] | None], Awaitable[httpx.Response]]


# --- the writes and the checks, shared by the in-process and the two-process tests ---------


def write_request(index: int, order_id: str) -> tuple[str, str, dict[str, Any]]:
    """The ``index``-th writer's request: a custom event, a field update or (every fourth)
    a custom event through GraphQL. Each adds exactly one timeline event when it succeeds."""
    if index % 4 == 3:
        body = {
            "query": ADD_EVENT,
            "variables": {"orderId": order_id, "event": {"title": f"Writer {index}"}},
        }
        return "POST", "/graphql", body
    if index % 2 == 0:
        event = {"title": f"Writer {index}", "metadata": {"writer": index}}
        return "POST", f"/v1/orders/{order_id}/timeline", {"event": event}
    return "PUT", f"/v1/orders/{order_id}", {"updates": {"notes": f"Writer {index}"}}


def succeeded(response: httpx.Response) -> bool:
    if response.status_code not in (200, 201):
        return False
    body = response.json()
    return not (isinstance(body, dict) and body.get("errors"))


def check_writes(
    responses: list[httpx.Response], events: list[dict[str, Any]], notes: str | None
) -> None:
    codes = [response.status_code for response in responses]
    assert all(code < 500 for code in codes), [r.text for r in responses if r.status_code >= 500]
    assert all(succeeded(response) for response in responses), [r.text for r in responses]

    ids = [event["id"] for event in events]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    assert ids == [f"evt_{n:03d}" for n in range(1, len(events) + 1)]
    assert len(events) == 1 + sum(succeeded(response) for response in responses)

    assert events[0]["title"] == "Order Created"
    custom = sorted(event["title"] for event in events if event["title"].startswith("Writer"))
    expected_custom = sorted(
        f"Writer {index}" for index in range(len(responses)) if index % 2 == 0 or index % 4 == 3
    )
    assert custom == expected_custom
    updated = [event for event in events if event["title"] == "Order Updated"]
    assert len(updated) == sum(1 for index in range(len(responses)) if index % 4 == 1)
    assert all(event["metadata"]["fields"] == ["notes"] for event in updated)
    # The order holds the value of one of the updates that were sent.
    assert notes in {f"Writer {index}" for index in range(len(responses)) if index % 4 == 1}


def check_status_race(
    targets: list[str],
    responses: list[httpx.Response],
    order: dict[str, Any],
    events: list[dict[str, Any]],
) -> None:
    """Every answer is 200 or 409, and the order ends in a history the table allows, with
    one event per status change and one successful request behind each change."""
    assert [r.status_code for r in responses if r.status_code not in (200, 409)] == []
    for target, response in zip(targets, responses, strict=True):
        if response.status_code == 200:
            assert response.json() == {
                "success": True,
                "message": f"Order status updated to {target}",
            }
        else:
            error = response.json()["error"]
            assert error["code"] == "ConflictError"
            details = error["details"]
            assert details["to"] == target
            assert target != details["from"]
            assert target not in ALLOWED_MOVES[details["from"]]
            assert sorted(details["allowed"]) == sorted(ALLOWED_MOVES[details["from"]])

    history = [entry["status"] for entry in order["order_history"]]
    assert history[0] == "pending"
    for source, target in itertools.pairwise(history):
        assert target in ALLOWED_MOVES[source], history
    assert order["status"] == history[-1]

    ids = [event["id"] for event in events]
    assert ids == [f"evt_{n:03d}" for n in range(1, len(events) + 1)]
    moves = [event["metadata"] for event in events[1:]]
    assert moves == [
        {"from": source, "to": target} for source, target in itertools.pairwise(history)
    ]
    wins = Counter(
        target
        for target, response in zip(targets, responses, strict=True)
        if response.status_code == 200
    )
    for target, count in Counter(history[1:]).items():
        assert wins[target] >= count


# --- in process, on the suite's database ----------------------------------------------------


async def test_parallel_writers_keep_event_ids_unique_and_gapless(tenant: Tenant) -> None:
    order = await tenant.create_order()
    order_id = order["_id"]

    async def write(index: int) -> httpx.Response:
        method, url, body = write_request(index, order_id)
        return await tenant.http.request(method, url, json=body, headers=tenant.headers)

    responses = await asyncio.gather(*(write(index) for index in range(WRITERS)))

    events = (await tenant.get(f"/v1/orders/{order_id}/timeline")).json()
    fetched = (await tenant.get(f"/v1/orders/{order_id}")).json()
    check_writes(list(responses), events, fetched["notes"])
    assert len(events) == WRITERS + 1


async def test_parallel_writers_on_two_orders_do_not_share_ids(tenant: Tenant) -> None:
    first = (await tenant.create_order())["_id"]
    second = (await tenant.create_order())["_id"]

    async def add(order_id: str, index: int) -> httpx.Response:
        return await tenant.post(
            f"/v1/orders/{order_id}/timeline", json={"event": {"title": f"Writer {index}"}}
        )

    responses = await asyncio.gather(
        *(add(first if index % 2 else second, index) for index in range(WRITERS))
    )

    assert {response.status_code for response in responses} == {201}
    for order_id in (first, second):
        events = (await tenant.get(f"/v1/orders/{order_id}/timeline")).json()
        assert [event["id"] for event in events] == [
            f"evt_{n:03d}" for n in range(1, WRITERS // 2 + 2)
        ]


async def test_concurrent_status_race_ends_consistent(tenant: Tenant) -> None:
    order = await tenant.create_order()
    targets = [RACE_TARGETS[index % len(RACE_TARGETS)] for index in range(STATUS_RACERS)]

    responses = await asyncio.gather(
        *(
            tenant.put(f"/v1/orders/{order['_id']}/status", json={"status": target})
            for target in targets
        )
    )

    fetched = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    events = (await tenant.get(f"/v1/orders/{order['_id']}/timeline")).json()
    check_status_race(targets, list(responses), fetched, events)


async def test_concurrent_updates_with_one_if_match_let_exactly_one_win(tenant: Tenant) -> None:
    order = await tenant.create_order()
    etag = (await tenant.get(f"/v1/orders/{order['_id']}")).headers["etag"]

    responses = await asyncio.gather(
        *(
            tenant.put(
                f"/v1/orders/{order['_id']}",
                json={"updates": {"notes": f"Writer {index}"}},
                headers={"If-Match": etag},
            )
            for index in range(STATUS_RACERS)
        )
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {200: 1, 412: STATUS_RACERS - 1}
    winner = next(response for response in responses if response.status_code == 200)
    for response in responses:
        if response.status_code == 412:
            assert response.json()["error"]["code"] == "PreconditionFailedError"
    fetched = (await tenant.get(f"/v1/orders/{order['_id']}")).json()
    assert fetched["notes"] == winner.json()["order"]["notes"]
    events = (await tenant.get(f"/v1/orders/{order['_id']}/timeline")).json()
    assert [(event["id"], event["title"]) for event in events] == [
        ("evt_001", "Order Created"),
        ("evt_002", "Order Updated"),
    ]


async def test_concurrent_payments_record_payment_received_once(tenant: Tenant) -> None:
    order = await tenant.create_order(payment_info={"status": "pending", "currency": "INR"})

    responses = await asyncio.gather(
        *(
            tenant.put(
                f"/v1/orders/{order['_id']}",
                json={"updates": {"payment_status": "paid"}},
            )
            for _ in range(STATUS_RACERS)
        )
    )

    assert {response.status_code for response in responses} == {200}
    events = (await tenant.get(f"/v1/orders/{order['_id']}/timeline")).json()
    assert [(event["id"], event["title"]) for event in events] == [
        ("evt_001", "Order Created"),
        ("evt_002", "Payment Received"),
    ]


# --- PostgreSQL, two server processes -------------------------------------------------------


async def prepare_postgres(url: str) -> str:
    """Migrate the database and make a tenant with a key; returns the key."""
    db = Database.connect(url)
    try:
        await migrate.upgrade(db.engine)
        await tenants.create_tenant(db, "two-process")
        issued = await tenants.create_key(db, "two-process", "two-process-key")
    finally:
        await db.dispose()
    return issued.api_key


def wait_until_healthy(server: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"server on port {port} exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server on port {port} never became healthy:\n{log_path.read_text()}")


async def hammer_two_servers(bases: list[str], api_key: str) -> None:
    headers = {"x-tenant-api-key": api_key}
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        created = await http.post(
            f"{bases[0]}/v1/orders",
            json={"mobile": "+919876543210", "product_items": [{"name": "A", "quantity": 1,
                                                                "price": 1}]},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        order_id = created.json()["order"]["_id"]

        async def write(index: int) -> httpx.Response:
            method, url, body = write_request(index, order_id)
            return await http.request(method, bases[index % 2] + url, json=body)

        responses = await asyncio.gather(*(write(index) for index in range(WRITERS)))
        # Read through the other process than the one that created the order.
        events = (await http.get(f"{bases[1]}/v1/orders/{order_id}/timeline")).json()
        order = (await http.get(f"{bases[0]}/v1/orders/{order_id}")).json()
        check_writes(list(responses), events, order["notes"])
        assert len(events) == WRITERS + 1

        raced = await http.post(
            f"{bases[1]}/v1/orders",
            json={"mobile": "+919876543211", "product_items": [{"name": "B", "quantity": 1,
                                                                "price": 2}]},
        )  # fmt: skip
        assert raced.status_code == 201, raced.text
        raced_id = raced.json()["order"]["_id"]
        targets = [RACE_TARGETS[index % len(RACE_TARGETS)] for index in range(STATUS_RACERS)]
        moves = await asyncio.gather(
            *(
                http.put(f"{bases[index % 2]}/v1/orders/{raced_id}/status", json={"status": target})
                for index, target in enumerate(targets)
            )
        )
        raced_order = (await http.get(f"{bases[0]}/v1/orders/{raced_id}")).json()
        raced_events = (await http.get(f"{bases[1]}/v1/orders/{raced_id}/timeline")).json()
        check_status_race(targets, list(moves), raced_order, raced_events)


@pytest.mark.postgres
def test_two_server_processes_on_postgresql_keep_the_timeline_consistent(
    tmp_path: Path,
) -> None:
    require_postgres()
    with fresh_postgres_database() as url:
        api_key = asyncio.run(prepare_postgres(url))
        ports = [free_port(), free_port()]
        while ports[1] == ports[0]:
            ports[1] = free_port()
        log_paths = [tmp_path / f"server-{port}.log" for port in ports]
        logs = [path.open("wb") for path in log_paths]
        servers: list[subprocess.Popen[bytes]] = []
        try:
            for port, log in zip(ports, logs, strict=True):
                servers.append(start_uvicorn(url, port, log))
            for server, port, path in zip(servers, ports, log_paths, strict=True):
                wait_until_healthy(server, port, path)

            asyncio.run(hammer_two_servers([f"http://127.0.0.1:{port}" for port in ports], api_key))

            for server, port, path in zip(servers, ports, log_paths, strict=True):
                assert server.poll() is None, f"server on {port} died:\n{path.read_text()}"
        finally:
            for server in servers:
                stop_server(server)
            for log in logs:
                log.close()
