"""Webhook delivery against a real HTTP receiver on 127.0.0.1: the events each order change
announces, Standard Webhooks signatures (checked with the ``standardwebhooks`` reference
library and by hand), secret rotation, retries and their limits, ``Retry-After``, 410,
redirects, the delivery log, redelivery, test pings, per-order ordering, disabled
endpoints and the SSRF check at delivery time.

Contract: issue 7 ("Webhook notifications that are never lost"), items 2 to 6. The
outbox under failures and several dispatchers: ``test_webhook_outbox.py``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette

from db.engine import Database
from gql.resolvers import clock
from tests.conftest import Tenant, new_tenant
from tests.contract import UTC_TIMESTAMP
from tests.http_helpers import free_port
from tests.webhook_support import (
    Receipt,
    Receiver,
    Reply,
    attempts_of,
    deliveries_of,
    endpoint_row,
    fail_first_attempt,
    running_app,
    wait_for,
    wait_for_async,
)

SIGNATURE = re.compile(r"^v1,[A-Za-z0-9+/]{43}=$")
QUIET = 0.4  # how long "nothing more arrives" is watched


@dataclass(frozen=True)
class Live:
    app: Starlette
    db: Database
    tenant: Tenant


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[Live]:
    """An app whose dispatcher runs (0.05 s polls, retries after 0.2 s, three of them)."""
    async with running_app(database_url) as (app, http):
        yield Live(app, app.state.db, await new_tenant(app.state.db, http))


async def register(tenant: Tenant, url: str, **body: Any) -> tuple[str, str]:
    """Register an endpoint; returns its id and secret."""
    response = await tenant.post("/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    webhook = response.json()["webhook"]
    return webhook["id"], webhook["secret"]


async def rest_order(tenant: Tenant, order_id: str) -> dict[str, Any]:
    response = await tenant.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    order.pop("order_history")
    return order


async def set_status(tenant: Tenant, order_id: str, status: str) -> None:
    response = await tenant.put(f"/v1/orders/{order_id}/status", json={"status": status})
    assert response.status_code == 200, response.text


async def delivery_log(tenant: Tenant, webhook_id: str) -> dict[str, Any]:
    response = await tenant.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    log: dict[str, Any] = response.json()
    return log


def verify(receipt: Receipt, secret: str) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(receipt.body, receipt.headers)
    return payload


def expected_signature(secret: str, receipt: Receipt) -> str:
    """The Standard Webhooks signature, computed independently of the service."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{receipt.webhook_id}.{receipt.headers['webhook-timestamp']}.".encode()
    digest = hmac.new(key, signed + receipt.body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def quiet() -> None:
    """Give the dispatcher time to send anything it (wrongly) still would."""
    await asyncio.sleep(QUIET)


# --- events, payloads, signatures --------------------------------------------------------


async def test_order_changes_are_announced_signed_and_in_rest_shape(
    live: Live, receiver: Receiver
) -> None:
    tenant = live.tenant
    _, all_secret = await register(tenant, receiver.url + "/all")
    _, status_secret = await register(
        tenant, receiver.url + "/status", event_types=["order.status_changed"]
    )

    order_id = (await tenant.create_order(name="Asha"))["_id"]
    await wait_for(lambda: len(receiver.accepted()) == 1, "order.created")
    after_create = await rest_order(tenant, order_id)
    renamed = await tenant.put(f"/v1/orders/{order_id}", json={"updates": {"name": "Ravi"}})
    assert renamed.status_code == 200, renamed.text
    await wait_for(lambda: len(receiver.accepted()) == 2, "order.updated")
    after_rename = await rest_order(tenant, order_id)
    await set_status(tenant, order_id, "confirmed")
    after_status = await rest_order(tenant, order_id)
    added = await tenant.post(
        f"/v1/orders/{order_id}/timeline",
        json={"event": {"title": "Customer Called", "type": "info", "metadata": {"a": 1}}},
    )
    assert added.status_code == 201, added.text
    last_event = (await tenant.get(f"/v1/orders/{order_id}/timeline")).json()[-1]

    def on_all() -> list[Receipt]:
        return [r for r in receiver.accepted() if r.path.endswith("/all")]

    everything = await wait_for(lambda: len(on_all()) == 4 and on_all(), "four events")
    await wait_for(
        lambda: [r for r in receiver.accepted() if r.path.endswith("/status")],
        "the status endpoint's event",
    )
    await quiet()

    all_receipts = [r for r in receiver.receipts if r.path.endswith("/all")]
    status_receipts = [r for r in receiver.receipts if r.path.endswith("/status")]
    assert len(all_receipts) == 4
    assert [r.json["type"] for r in everything] == [
        "order.created",
        "order.updated",
        "order.status_changed",
        "order.timeline_event_added",
    ]
    assert [r.json["data"]["order"] for r in everything] == [
        after_create,
        after_rename,
        after_status,
        after_status,
    ]
    assert everything[3].json["data"]["event"] == last_event
    assert everything[3].json["data"]["event"]["id"] == added.json()["eventId"]
    assert len({r.webhook_id for r in everything}) == 4
    for receipt in everything:
        assert receipt.method == "POST"
        assert receipt.headers["content-type"] == "application/json"
        assert set(receipt.json) == {"type", "timestamp", "data"}
        assert UTC_TIMESTAMP.match(receipt.json["timestamp"])
        assert receipt.webhook_id.startswith("msg_")
        assert abs(int(receipt.headers["webhook-timestamp"]) - time.time()) < 60
        assert receipt.headers["webhook-signature"] == expected_signature(all_secret, receipt)
        assert verify(receipt, all_secret) == receipt.json
        with pytest.raises(WebhookVerificationError):
            verify(receipt, status_secret)

    assert len(status_receipts) == 1
    assert status_receipts[0].json["type"] == "order.status_changed"
    assert status_receipts[0].json["data"]["order"]["status"] == "confirmed"
    assert status_receipts[0].webhook_id == everything[2].webhook_id  # one event, one id
    assert verify(status_receipts[0], status_secret) == status_receipts[0].json


async def test_update_with_status_and_fields_announces_both(live: Live, receiver: Receiver) -> None:
    await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]

    response = await live.tenant.put(
        f"/v1/orders/{order_id}", json={"updates": {"status": "processing", "notes": "rush"}}
    )
    assert response.status_code == 200, response.text

    accepted = await wait_for(lambda: len(receiver.accepted()) >= 3 and receiver.accepted(), "3")
    await quiet()
    assert sorted(r.json["type"] for r in receiver.receipts) == [
        "order.created",
        "order.status_changed",
        "order.updated",
    ]
    for receipt in accepted[1:]:
        assert receipt.json["data"]["order"]["status"] == "processing"
        assert receipt.json["data"]["order"]["notes"] == "rush"


async def test_event_type_filter_sends_only_the_chosen_types(
    live: Live, receiver: Receiver
) -> None:
    await register(
        live.tenant,
        receiver.url,
        event_types=["order.created", "order.timeline_event_added"],
    )
    order_id = (await live.tenant.create_order())["_id"]
    await set_status(live.tenant, order_id, "confirmed")
    renamed = await live.tenant.put(f"/v1/orders/{order_id}", json={"updates": {"name": "X"}})
    assert renamed.status_code == 200
    added = await live.tenant.post(
        f"/v1/orders/{order_id}/timeline", json={"event": {"title": "Packed"}}
    )
    assert added.status_code == 201

    await wait_for(lambda: len(receiver.accepted()) >= 2, "two events")
    await quiet()
    assert [r.json["type"] for r in receiver.receipts] == [
        "order.created",
        "order.timeline_event_added",
    ]


async def test_unchanged_status_announces_nothing(live: Live, receiver: Receiver) -> None:
    await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]
    await wait_for(receiver.accepted, "order.created")

    await set_status(live.tenant, order_id, "pending")

    await quiet()
    assert [r.json["type"] for r in receiver.receipts] == ["order.created"]


# --- rotation ----------------------------------------------------------------------------


async def test_rotation_signs_with_both_secrets_for_24_hours(
    live: Live, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook_id, old_secret = await register(live.tenant, receiver.url)
    await live.tenant.create_order()
    before = await wait_for(lambda: receiver.accepted()[:1], "a message before rotation")
    assert verify(before[0], old_secret)
    assert len(before[0].headers["webhook-signature"].split(" ")) == 1

    rotated = await live.tenant.post(f"/v1/webhooks/{webhook_id}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["webhook"]["secret"]
    with pytest.raises(WebhookVerificationError):
        verify(before[0], new_secret)

    await live.tenant.create_order()
    during = (await wait_for(lambda: receiver.accepted()[1:2], "a message during overlap"))[0]
    signatures = during.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(SIGNATURE.match(s) for s in signatures)
    assert set(signatures) == {
        expected_signature(new_secret, during),
        expected_signature(old_secret, during),
    }
    assert verify(during, new_secret) == during.json
    assert verify(during, old_secret) == during.json

    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=24, minutes=1))
    await live.tenant.create_order()
    after = (await wait_for(lambda: receiver.accepted()[2:3], "a message after 24 h"))[0]
    assert after.headers["webhook-signature"] == expected_signature(new_secret, after)
    assert verify(after, new_secret) == after.json
    with pytest.raises(WebhookVerificationError):
        verify(after, old_secret)


# --- retries -----------------------------------------------------------------------------


async def test_receiver_down_then_up_gets_the_event_exactly_once(database_url: str) -> None:
    receiver = Receiver(port=free_port())  # not listening yet: connections are refused
    schedule = ",".join(["0.2"] * 12)
    async with running_app(database_url, webhook_retry_schedule=schedule) as (app, http):
        db: Database = app.state.db
        tenant = await new_tenant(db, http)
        webhook_id, secret = await register(tenant, receiver.url)
        order_id = (await tenant.create_order())["_id"]

        async def failed_twice() -> bool:
            deliveries = await deliveries_of(db, webhook_id)
            return bool(deliveries) and deliveries[0].attempts >= 2

        await wait_for_async(failed_twice, "two failed attempts")
        log = (await delivery_log(tenant, webhook_id))["deliveries"]
        assert len(log) == 1
        assert log[0]["status"] in ("pending", "delivering")
        assert log[0]["delivered_at"] is None
        assert log[0]["last_status_code"] is None
        assert log[0]["last_error"].startswith("connection failed")
        assert len(log[0]["attempt_log"]) >= 2
        for attempt in log[0]["attempt_log"]:
            assert attempt["status_code"] is None
            assert attempt["error"].startswith("connection failed")

        receiver.start()
        try:
            await wait_for(receiver.accepted, "the delivery once the receiver is up")

            async def delivered() -> bool:
                return (await deliveries_of(db, webhook_id))[0].status == "delivered"

            await wait_for_async(delivered, "delivered status")
            await quiet()
            receipts = receiver.receipts
            assert len(receipts) == 1
            assert receipts[0].json["data"]["order"]["_id"] == order_id
            assert verify(receipts[0], secret)
            final = (await delivery_log(tenant, webhook_id))["deliveries"][0]
            assert final["status"] == "delivered"
            assert final["message_id"] == receipts[0].webhook_id
            assert final["attempts"] == len(final["attempt_log"]) >= 3
            assert final["attempt_log"][-1]["status_code"] == 200
            assert final["attempt_log"][-1]["error"] is None
            assert final["last_error"] is None
            assert UTC_TIMESTAMP.match(final["delivered_at"])
        finally:
            receiver.stop()


async def test_non_2xx_is_retried_with_the_same_webhook_id(live: Live, receiver: Receiver) -> None:
    answers = iter([500, 503, 200])
    receiver.rule = lambda _receiver, _receipt: Reply(next(answers, 200))
    webhook_id, secret = await register(live.tenant, receiver.url)
    await live.tenant.create_order()

    await wait_for(receiver.accepted, "the third attempt")
    await quiet()

    receipts = receiver.receipts
    assert [r.answered for r in receipts] == [500, 503, 200]
    assert len({r.webhook_id for r in receipts}) == 1
    assert len({r.body for r in receipts}) == 1
    for receipt in receipts:
        assert verify(receipt, secret)
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(receipts)]
    assert all(gap >= 0.17 for gap in gaps), gaps  # 0.2 s schedule, ±10 % jitter
    (delivery,) = await deliveries_of(live.db, webhook_id)
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert [a.status_code for a in await attempts_of(live.db, delivery.id)] == [500, 503, 200]


async def test_retries_stop_after_the_schedule(live: Live, receiver: Receiver) -> None:
    receiver.reply = Reply(500)
    webhook_id, _ = await register(live.tenant, receiver.url)
    await live.tenant.create_order()

    async def failed() -> bool:
        return (await deliveries_of(live.db, webhook_id))[0].status == "failed"

    await wait_for_async(failed, "the delivery to fail for good")
    await quiet()
    assert len(receiver.receipts) == 4  # the first attempt and the three retries
    (delivery,) = (await delivery_log(live.tenant, webhook_id))["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 4
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 500
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500] * 4
    endpoint = (await live.tenant.get(f"/v1/webhooks/{webhook_id}")).json()
    assert endpoint["enabled"] is True  # days of failures disable it, not one message
    assert UTC_TIMESTAMP.match(endpoint["failing_since"])


async def test_timeout_is_a_failure_and_retried(database_url: str, receiver: Receiver) -> None:
    answers = iter([Reply(200, delay=0.8)])
    receiver.rule = lambda _receiver, _receipt: next(answers, Reply(200))
    async with running_app(database_url, webhook_timeout_seconds=0.3) as (app, http):
        tenant = await new_tenant(app.state.db, http)
        webhook_id, _ = await register(tenant, receiver.url)
        await tenant.create_order()

        async def delivered() -> bool:
            return (await deliveries_of(app.state.db, webhook_id))[0].status == "delivered"

        await wait_for_async(delivered, "the retry after a timeout")
        (delivery,) = (await delivery_log(tenant, webhook_id))["deliveries"]
    assert delivery["attempts"] == 2
    timed_out, succeeded = delivery["attempt_log"]
    assert timed_out["status_code"] is None
    assert timed_out["error"] == "timed out"
    assert 300 <= timed_out["latency_ms"] < 800
    assert succeeded["status_code"] == 200
    await wait_for(lambda: len(receiver.receipts) == 2, "the slow request to finish")
    assert len({r.webhook_id for r in receiver.receipts}) == 1


async def test_retry_after_is_honoured(live: Live, receiver: Receiver) -> None:
    answers = iter([Reply(503, retry_after="2")])
    receiver.rule = lambda _receiver, _receipt: next(answers, Reply(200))
    webhook_id, _ = await register(live.tenant, receiver.url)
    await live.tenant.create_order()

    async def first_attempt_recorded() -> bool:
        deliveries = await deliveries_of(live.db, webhook_id)
        return bool(deliveries) and deliveries[0].attempts == 1

    await wait_for_async(first_attempt_recorded, "the first attempt")
    (delivery,) = await deliveries_of(live.db, webhook_id)
    (attempt,) = await attempts_of(live.db, delivery.id)
    assert delivery.status == "pending"
    assert delivery.next_attempt_at - attempt.attempted_at >= timedelta(seconds=2)
    (shown,) = (await delivery_log(live.tenant, webhook_id))["deliveries"]
    assert parse_utc(shown["next_attempt_at"]) - parse_utc(
        shown["attempt_log"][0]["attempted_at"]
    ) >= timedelta(seconds=2)

    await wait_for(receiver.accepted, "the retry after Retry-After", within=6)
    first, second = receiver.receipts
    assert second.received_at - first.received_at >= 1.95


async def test_gone_disables_the_endpoint(live: Live, receiver: Receiver) -> None:
    receiver.reply = Reply(410)
    webhook_id, _ = await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]

    async def failed() -> bool:
        return (await deliveries_of(live.db, webhook_id))[0].status == "failed"

    await wait_for_async(failed, "the 410 to end the delivery")
    endpoint = (await live.tenant.get(f"/v1/webhooks/{webhook_id}")).json()
    assert endpoint["enabled"] is False
    assert endpoint["disabled_reason"]
    assert "410" in endpoint["disabled_reason"]
    (delivery,) = (await delivery_log(live.tenant, webhook_id))["deliveries"]
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 410

    await set_status(live.tenant, order_id, "confirmed")
    await live.tenant.create_order()
    await quiet()
    assert len(receiver.receipts) == 1
    assert len(await deliveries_of(live.db, webhook_id)) == 1


async def test_redirect_is_not_followed_and_counts_as_failure(
    live: Live, receiver: Receiver
) -> None:
    receiver.reply = Reply(302, location=receiver.url + "/moved")
    webhook_id, _ = await register(live.tenant, receiver.url)
    await live.tenant.create_order()

    async def failed() -> bool:
        return (await deliveries_of(live.db, webhook_id))[0].status == "failed"

    await wait_for_async(failed, "the redirected delivery to fail")
    await quiet()
    assert [r.path for r in receiver.receipts] == [receiver.path] * 4
    assert not [r for r in receiver.everything if r.path.endswith("/moved")]
    (delivery,) = (await delivery_log(live.tenant, webhook_id))["deliveries"]
    assert delivery["delivered_at"] is None
    assert [a["status_code"] for a in delivery["attempt_log"]] == [302] * 4


async def test_endpoint_failing_for_days_is_disabled_visibly(
    live: Live, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.reply = Reply(500)
    webhook_id, _ = await register(live.tenant, receiver.url)
    await live.tenant.create_order()
    await wait_for(lambda: receiver.receipts, "the first failure")

    async def failing_since_set() -> bool:
        row = await endpoint_row(live.db, webhook_id)
        return row is not None and row.failing_since is not None

    await wait_for_async(failing_since_set, "failing_since")
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=73))
    failures_before = len(receiver.receipts)

    async def disabled() -> bool:
        row = await endpoint_row(live.db, webhook_id)
        return row is not None and not row.enabled

    await wait_for_async(disabled, "the endpoint to be disabled")
    await quiet()
    endpoint = (await live.tenant.get(f"/v1/webhooks/{webhook_id}")).json()
    assert endpoint["enabled"] is False
    assert endpoint["disabled_reason"].startswith("failing since")
    assert endpoint["failing_since"] is not None
    assert len(receiver.receipts) == failures_before + 1  # the one that disabled it
    (delivery,) = await deliveries_of(live.db, webhook_id)
    assert delivery.status == "failed"


# --- delivery log, redelivery, test ping -------------------------------------------------


async def test_delivery_log_shows_every_attempt(live: Live, receiver: Receiver) -> None:
    first_fails = fail_first_attempt(500)
    receiver.rule = lambda r, receipt: Reply(first_fails(r, receipt).status, delay=0.12)
    webhook_id, _ = await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]

    async def delivered() -> bool:
        return (await deliveries_of(live.db, webhook_id))[0].status == "delivered"

    await wait_for_async(delivered, "delivered after one retry")
    receipt = receiver.receipts[-1]

    log = await delivery_log(live.tenant, webhook_id)
    assert log["total"] == 1
    assert log["page"] == 1
    assert log["limit"] == 20
    (delivery,) = log["deliveries"]
    assert delivery["message_id"] == receipt.webhook_id
    assert delivery["event_type"] == "order.created"
    assert delivery["order_id"] == order_id
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 2
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None
    assert UTC_TIMESTAMP.match(delivery["created_at"])
    assert UTC_TIMESTAMP.match(delivery["delivered_at"])
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]
    for attempt in delivery["attempt_log"]:
        assert UTC_TIMESTAMP.match(attempt["attempted_at"])
        assert attempt["latency_ms"] >= 120
        assert attempt["error"] is None
    times = [parse_utc(a["attempted_at"]) for a in delivery["attempt_log"]]
    assert times == sorted(times)

    graphql = await live.tenant.graphql(
        """
        query Log($id: ID!) {
          webhookDeliveries(webhookId: $id) {
            total page limit
            deliveries {
              id messageId eventType orderId status attempts nextAttemptAt lastStatusCode
              lastError createdAt deliveredAt
              attemptLog { attemptedAt statusCode latencyMs error }
            }
          }
        }
        """,
        {"id": webhook_id},
    )
    assert "errors" not in graphql, graphql
    page = graphql["data"]["webhookDeliveries"]
    assert page["total"] == 1
    (shown,) = page["deliveries"]
    assert str(shown["id"]) == str(delivery["id"])
    assert shown["messageId"] == receipt.webhook_id
    assert shown["eventType"] == "order.created"
    assert shown["orderId"] == order_id
    assert shown["status"] == "delivered"
    assert shown["attempts"] == 2
    assert shown["lastStatusCode"] == 200
    assert [a["statusCode"] for a in shown["attemptLog"]] == [500, 200]
    assert [a["latencyMs"] for a in shown["attemptLog"]] == [
        a["latency_ms"] for a in delivery["attempt_log"]
    ]
    assert all(a["error"] is None for a in shown["attemptLog"])


async def test_delivery_log_is_newest_first_and_paged(live: Live, receiver: Receiver) -> None:
    webhook_id, _ = await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]
    for status in ("confirmed", "processing"):
        await set_status(live.tenant, order_id, status)
    await wait_for(lambda: len(receiver.accepted()) == 3, "three deliveries")

    first_page = (await live.tenant.get(f"/v1/webhooks/{webhook_id}/deliveries?limit=2")).json()
    second_page = (
        await live.tenant.get(f"/v1/webhooks/{webhook_id}/deliveries?limit=2&page=2")
    ).json()

    assert first_page["total"] == second_page["total"] == 3
    shown = first_page["deliveries"] + second_page["deliveries"]
    assert [d["message_id"] for d in shown] == [r.webhook_id for r in receiver.receipts][::-1]
    assert [d["id"] for d in shown] == sorted((d["id"] for d in shown), reverse=True)


async def test_redeliver_sends_the_same_webhook_id_again(live: Live, receiver: Receiver) -> None:
    webhook_id, secret = await register(live.tenant, receiver.url)
    await live.tenant.create_order()
    original = (await wait_for(receiver.accepted, "the original delivery"))[0]
    (delivery,) = (await delivery_log(live.tenant, webhook_id))["deliveries"]

    response = await live.tenant.post(
        f"/v1/webhooks/{webhook_id}/deliveries/{delivery['id']}/redeliver"
    )

    assert response.status_code == 202, response.text
    again = response.json()["delivery"]
    assert again["message_id"] == original.webhook_id
    assert again["id"] != delivery["id"]
    assert again["event_type"] == "order.created"
    assert again["status"] == "pending"
    await wait_for(lambda: len(receiver.receipts) == 2, "the redelivery")
    repeat = receiver.receipts[1]
    assert repeat.webhook_id == original.webhook_id
    assert repeat.body == original.body
    assert verify(repeat, secret) == original.json

    graphql = await live.tenant.graphql(
        """
        mutation Again($webhookId: ID!, $deliveryId: ID!) {
          redeliverWebhookDelivery(webhookId: $webhookId, deliveryId: $deliveryId) {
            messageId eventType status
          }
        }
        """,
        {"webhookId": webhook_id, "deliveryId": str(delivery["id"])},
    )
    assert graphql["data"]["redeliverWebhookDelivery"] == {
        "messageId": original.webhook_id,
        "eventType": "order.created",
        "status": "pending",
    }
    await wait_for(lambda: len(receiver.receipts) == 3, "the GraphQL redelivery")
    assert {r.webhook_id for r in receiver.receipts} == {original.webhook_id}
    assert (await delivery_log(live.tenant, webhook_id))["total"] == 3


async def test_test_ping_is_sent_even_to_a_filtered_endpoint(
    live: Live, receiver: Receiver
) -> None:
    webhook_id, secret = await register(
        live.tenant, receiver.url, event_types=["order.status_changed"]
    )

    response = await live.tenant.post(f"/v1/webhooks/{webhook_id}/test")

    assert response.status_code == 202, response.text
    queued = response.json()["delivery"]
    assert queued["event_type"] == "webhook.test"
    assert queued["order_id"] is None
    assert queued["status"] == "pending"
    ping = (await wait_for(receiver.accepted, "the ping"))[0]
    assert ping.webhook_id == queued["message_id"]
    assert verify(ping, secret) == ping.json
    assert ping.json["type"] == "webhook.test"
    assert ping.json["data"] == {"webhookId": webhook_id}
    assert UTC_TIMESTAMP.match(ping.json["timestamp"])

    graphql = await live.tenant.graphql(
        "mutation Ping($id: ID!) { testWebhook(id: $id) { messageId eventType status } }",
        {"id": webhook_id},
    )
    assert graphql["data"]["testWebhook"]["eventType"] == "webhook.test"
    await wait_for(lambda: len(receiver.receipts) == 2, "the GraphQL ping")
    assert receiver.receipts[1].webhook_id == graphql["data"]["testWebhook"]["messageId"]
    assert receiver.receipts[1].json["type"] == "webhook.test"


# --- ordering ----------------------------------------------------------------------------


async def test_events_of_one_order_arrive_in_order_despite_retries(
    live: Live, receiver: Receiver
) -> None:
    receiver.rule = fail_first_attempt(503)
    await register(live.tenant, receiver.url)
    order_id = (await live.tenant.create_order())["_id"]
    for status in ("confirmed", "processing", "shipped"):
        await set_status(live.tenant, order_id, status)

    accepted = await wait_for(
        lambda: len(receiver.accepted()) == 4 and receiver.accepted(), "four events", within=8
    )
    await quiet()

    assert [(r.json["type"], r.json["data"]["order"]["status"]) for r in accepted] == [
        ("order.created", "pending"),
        ("order.status_changed", "confirmed"),
        ("order.status_changed", "processing"),
        ("order.status_changed", "shipped"),
    ]
    ids = [r.webhook_id for r in accepted]
    # Each message fails once and is retried before the next one is even tried.
    assert [r.webhook_id for r in receiver.receipts] == [i for i in ids for _ in (1, 2)]
    assert [r.answered for r in receiver.receipts] == [503, 200] * 4


# --- disabled endpoints, SSRF at delivery time -------------------------------------------


async def test_disabled_endpoint_gets_nothing(live: Live, receiver: Receiver) -> None:
    off_id, _ = await register(live.tenant, receiver.url + "/off", enabled=False)
    await register(live.tenant, receiver.url + "/on")
    order_id = (await live.tenant.create_order())["_id"]
    await set_status(live.tenant, order_id, "confirmed")

    await wait_for(lambda: len(receiver.accepted()) == 2, "both events on the enabled one")
    await quiet()
    assert [r.path for r in receiver.receipts] == [receiver.path + "/on"] * 2
    assert await deliveries_of(live.db, off_id) == []

    enabled = await live.tenant.http.patch(
        f"/v1/webhooks/{off_id}", headers=live.tenant.headers, json={"enabled": True}
    )
    assert enabled.status_code == 200
    await set_status(live.tenant, order_id, "processing")
    await wait_for(
        lambda: [r for r in receiver.receipts if r.path.endswith("/off")], "the re-enabled one"
    )
    await quiet()
    off_receipts = [r for r in receiver.receipts if r.path.endswith("/off")]
    assert [r.json["data"]["order"]["status"] for r in off_receipts] == ["processing"]


async def test_endpoint_disabled_after_the_event_was_queued_gets_nothing(
    database_url: str, receiver: Receiver
) -> None:
    async with running_app(database_url, webhook_dispatcher=False) as (app, http):
        tenant = await new_tenant(app.state.db, http)
        webhook_id, _ = await register(tenant, receiver.url)
        await tenant.create_order()
        switched = await tenant.http.patch(
            f"/v1/webhooks/{webhook_id}", headers=tenant.headers, json={"enabled": False}
        )
        assert switched.status_code == 200
        (queued,) = await deliveries_of(app.state.db, webhook_id)
        assert queued.status == "pending"

    async with running_app(database_url) as (app, _http):

        async def settled() -> bool:
            return (await deliveries_of(app.state.db, webhook_id))[0].status == "failed"

        await wait_for_async(settled, "the queued delivery to be dropped")
        await quiet()
        (delivery,) = await deliveries_of(app.state.db, webhook_id)
        assert delivery.last_error == "endpoint disabled"
        assert receiver.receipts == []


async def test_destination_refused_at_delivery_time_sends_nothing(
    database_url: str, receiver: Receiver
) -> None:
    async with running_app(database_url, webhook_dispatcher=False) as (app, http):
        tenant = await new_tenant(app.state.db, http)
        webhook_id, _ = await register(tenant, receiver.url)
        await tenant.create_order()

    async with running_app(database_url, webhook_allow_private_networks=False) as (app, http):
        db: Database = app.state.db

        async def failed() -> bool:
            return (await deliveries_of(db, webhook_id))[0].status == "failed"

        await wait_for_async(failed, "the refused delivery to fail")
        await quiet()
        (delivery,) = await deliveries_of(db, webhook_id)
        attempts = await attempts_of(db, delivery.id)
        assert len(attempts) == delivery.attempts == 4
        for attempt in attempts:
            assert attempt.status_code is None
            assert attempt.error is not None
            assert attempt.error.startswith("destination refused")
            assert "127.0.0.1" in attempt.error
        assert receiver.everything == []
