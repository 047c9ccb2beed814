"""The transactional outbox: event rows are written in the transaction of the change (none
for a change that fails or rolls back), an event committed by a server killed before it
could deliver is delivered after a restart, and two dispatchers on one PostgreSQL database
deliver every event exactly once and in order per order.

Contract: issue 7 ("Webhook notifications that are never lost"), item 3 and "Tests that
must exist"."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from standardwebhooks import Webhook

from db import migrate
from db.engine import Database
from gql.resolvers import webhooks
from gql.resolvers.dispatch import Dispatcher, DispatchSettings
from gql.resolvers.webhooks import WebhookPolicy
from orders_api import tenants
from tests.conftest import Tenant, new_tenant
from tests.databases import fresh_postgres_database, require_postgres
from tests.http_helpers import free_port, start_uvicorn, stop_server
from tests.webhook_support import (
    Receiver,
    Reply,
    deliveries_of,
    messages_of_order,
    running_app,
    wait_for,
)

PUBLIC_URL = "https://93.184.215.14/hooks/orders"  # never called: no dispatcher runs


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def register(tenant: Tenant, url: str) -> str:
    response = await tenant.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 201, response.text
    webhook_id: str = response.json()["webhook"]["id"]
    return webhook_id


# --- written with the change, or not at all ----------------------------------------------


async def test_event_rows_are_written_by_the_request_itself(tenant: Tenant, db: Database) -> None:
    webhook_id = await register(tenant, PUBLIC_URL)

    order = await tenant.create_order()

    (message,) = await messages_of_order(db, order["_id"])
    assert message.type == "order.created"
    assert message.payload["data"]["order"]["_id"] == order["_id"]
    (delivery,) = await deliveries_of(db, webhook_id)
    assert delivery.message_id == message.id
    assert delivery.status == "pending"


async def test_no_event_rows_without_an_enabled_endpoint(tenant: Tenant, db: Database) -> None:
    order = await tenant.create_order()

    assert await messages_of_order(db, order["_id"]) == []


async def test_refused_changes_write_no_event(tenant: Tenant, db: Database) -> None:
    webhook_id = await register(tenant, PUBLIC_URL)
    order_id = (await tenant.create_order())["_id"]

    disallowed = await tenant.put(f"/v1/orders/{order_id}/status", json={"status": "refunded"})
    assert disallowed.status_code == 409
    unknown_field = await tenant.put(f"/v1/orders/{order_id}", json={"updates": {"colour": 1}})
    assert unknown_field.status_code == 400
    stale = await tenant.put(
        f"/v1/orders/{order_id}",
        json={"updates": {"name": "Late"}},
        headers={"If-Match": '"999"'},
    )
    assert stale.status_code == 412

    assert [m.type for m in await messages_of_order(db, order_id)] == ["order.created"]
    assert len(await deliveries_of(db, webhook_id)) == 1


async def test_rolled_back_change_leaves_no_event_and_no_change(
    tenant: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook_id = await register(tenant, PUBLIC_URL)
    order_id = (await tenant.create_order())["_id"]
    real_enqueue = webhooks.enqueue

    async def enqueue_then_fail(*args: Any, **kwargs: Any) -> None:
        await real_enqueue(*args, **kwargs)  # the event rows are in the transaction...
        raise RuntimeError("crash after the outbox insert")  # ...which then rolls back

    monkeypatch.setattr(webhooks, "enqueue", enqueue_then_fail)
    failed = await tenant.put(f"/v1/orders/{order_id}/status", json={"status": "confirmed"})
    assert failed.status_code == 500

    assert (await tenant.get(f"/v1/orders/{order_id}")).json()["status"] == "pending"
    assert [m.type for m in await messages_of_order(db, order_id)] == ["order.created"]
    assert len(await deliveries_of(db, webhook_id)) == 1

    monkeypatch.setattr(webhooks, "enqueue", real_enqueue)
    done = await tenant.put(f"/v1/orders/{order_id}/status", json={"status": "confirmed"})
    assert done.status_code == 200
    assert sorted(m.type for m in await messages_of_order(db, order_id)) == [
        "order.created",
        "order.status_changed",
    ]
    assert len(await deliveries_of(db, webhook_id)) == 2


# --- a server killed after the commit ----------------------------------------------------


def start_server(database_url: str, port: int, *, dispatcher: bool, log: IO[bytes]) -> Any:
    return start_uvicorn(
        database_url,
        port,
        log,
        WEBHOOK_DISPATCHER="true" if dispatcher else "false",
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
        WEBHOOK_POLL_SECONDS="0.05",
        WEBHOOK_RETRY_SCHEDULE="0.2,0.2,0.2",
    )


def kill_server(server: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no lifespan shutdown, no chance to deliver anything."""
    if server.poll() is None:
        server.kill()
    server.wait(timeout=15)


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


async def wait_until_healthy(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"server exited:\n{read_log(log)}")
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"server never became healthy:\n{read_log(log)}")


async def test_event_committed_before_a_kill_is_delivered_after_restart(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    db = Database.connect(database_url)
    try:
        name = f"kill-{receiver.token}"
        await tenants.create_tenant(db, name)
        api_key = (await tenants.create_key(db, name, "k")).api_key
    finally:
        await db.dispose()
    headers = {"x-tenant-api-key": api_key}
    log_path = tmp_path / "server.log"

    with log_path.open("wb") as log:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        first = start_server(database_url, port, dispatcher=False, log=log)
        try:
            await wait_until_healthy(first, base, log_path)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
                hook = await http.post("/v1/webhooks", json={"url": receiver.url})
                assert hook.status_code == 201, hook.text
                secret = hook.json()["webhook"]["secret"]
                created = await http.post(
                    "/v1/orders",
                    json={
                        "mobile": "+919876543210",
                        "product_items": [{"name": "Lamp", "quantity": 2, "price": 15}],
                    },
                )
                assert created.status_code == 201, created.text
                order_id = created.json()["order"]["_id"]
        finally:
            kill_server(first)
        assert first.returncode != 0
        assert receiver.receipts == []

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        second = start_server(database_url, port, dispatcher=True, log=log)
        try:
            await wait_until_healthy(second, base, log_path)
            await wait_for(receiver.accepted, "the event after the restart", within=10)
            await asyncio.sleep(0.4)
        finally:
            stop_server(second)

    (receipt,) = receiver.receipts
    payload = Webhook(secret).verify(receipt.body, receipt.headers)
    assert payload["type"] == "order.created"
    assert payload["data"]["order"]["_id"] == order_id
    assert payload["data"]["order"]["final_amount"] == 30


# --- two dispatchers on PostgreSQL -------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_postgres()
    with fresh_postgres_database() as url:
        yield url


async def run_dispatcher(
    dispatcher: Dispatcher, name: str, stop: asyncio.Event, busy_passes: list[str]
) -> None:
    """What ``Dispatcher._run`` does, with a client that tells the receiver who sent."""
    async with httpx.AsyncClient(follow_redirects=False, headers={"x-dispatcher": name}) as http:
        while not stop.is_set():
            if await dispatcher.run_once(http):
                busy_passes.append(name)
            else:
                await asyncio.sleep(0.01)


@pytest.mark.postgres
async def test_two_dispatchers_deliver_each_event_once_and_in_order(
    postgres_url: str, receiver: Receiver
) -> None:
    setup = Database.connect(postgres_url)
    try:
        await migrate.upgrade(setup.engine)
    finally:
        await setup.dispose()
    async with running_app(
        postgres_url, webhook_dispatcher=False, rate_limit_default="10000/minute"
    ) as (app, http):
        tenant = await new_tenant(app.state.db, http)
        webhook_id = await register(tenant, receiver.url)
        for _ in range(30):
            await tenant.create_order()
        busy_orders = [(await tenant.create_order())["_id"] for _ in range(5)]
        for order_id in busy_orders:
            for status in ("confirmed", "processing", "shipped"):
                response = await tenant.put(
                    f"/v1/orders/{order_id}/status", json={"status": status}
                )
                assert response.status_code == 200
        assert len(await deliveries_of(app.state.db, webhook_id)) == 50

    receiver.reply = Reply(200, delay=0.03)
    settings = DispatchSettings(
        policy=WebhookPolicy(allow_private_networks=True), schedule=(0.2, 0.2, 0.2)
    )
    databases = [Database.connect(postgres_url) for _ in range(2)]
    stop = asyncio.Event()
    busy_passes: list[str] = []
    workers = [
        asyncio.create_task(run_dispatcher(Dispatcher(db, settings), name, stop, busy_passes))
        for db, name in zip(databases, ("one", "two"), strict=True)
    ]
    try:
        await wait_for(
            lambda: len({r.webhook_id for r in receiver.receipts}) >= 50,
            "fifty events",
            within=20,
        )
        await asyncio.sleep(0.4)
        deliveries = await deliveries_of(databases[0], webhook_id)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        for db in databases:
            await db.dispose()

    receipts = receiver.receipts
    assert len(receipts) == 50
    assert len({r.webhook_id for r in receipts}) == 50
    senders = {r.headers["x-dispatcher"] for r in receipts}
    assert senders == {"one", "two"}, busy_passes
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries)
    for order_id in busy_orders:
        statuses = [
            r.json["data"]["order"]["status"]
            for r in receipts
            if r.json["data"]["order"]["_id"] == order_id
        ]
        assert statuses == ["pending", "confirmed", "processing", "shipped"], order_id
