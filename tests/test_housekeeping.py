"""Housekeeping: expired idempotency keys and old finished webhook deliveries (with their
attempts and orphaned messages) are deleted, by the server in the background and by
``orders-api prune``; nothing still useful is. Each test has a database of its own, so
the counts are exact."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db import migrate
from db.engine import Database
from db.models import (
    IdempotencyKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from gql.resolvers import housekeeping
from orders_api import tenants
from orders_api.cli import app as cli
from orders_api.config import get_settings
from rest.app import create_app
from tests.conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)


@pytest.fixture
async def own_db(empty_database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(empty_database_url)
    await migrate.upgrade(db.engine)
    yield db
    await db.dispose()


async def new_tenant_id(db: Database) -> str:
    return (await tenants.create_tenant(db, f"hk-{uuid.uuid4().hex[:8]}")).id


async def add_key(db: Database, tenant_id: str, expires_at: datetime, state: str) -> str:
    key = uuid.uuid4().hex
    async with db.writer() as session, session.begin():
        session.add(
            IdempotencyKey(
                tenant_id=tenant_id,
                key=key,
                fingerprint="0" * 64,
                state=state,
                result={"orderId": "x"} if state == "done" else None,
                response_status=201 if state == "done" else None,
                response_body=b'{"success": true}' if state == "done" else None,
                created_at=expires_at - timedelta(hours=24),
                expires_at=expires_at,
            )
        )
    return key


async def keys_left(db: Database) -> set[str]:
    async with db.reader() as session:
        return set(await session.scalars(select(IdempotencyKey.key)))


async def test_expired_idempotency_keys_go_and_live_ones_stay(own_db: Database) -> None:
    tenant_id = await new_tenant_id(own_db)
    expired = {
        await add_key(own_db, tenant_id, NOW - timedelta(seconds=1), "done"),
        await add_key(own_db, tenant_id, NOW, "done"),  # expires_at is the last moment
        await add_key(own_db, tenant_id, NOW - timedelta(days=3), "in_flight"),
    }
    live = {
        await add_key(own_db, tenant_id, NOW + timedelta(seconds=1), "done"),
        await add_key(own_db, tenant_id, NOW + timedelta(hours=23), "in_flight"),
    }

    pruned = await housekeeping.prune(own_db, RETENTION, now=NOW)

    assert pruned == housekeeping.Pruned(
        idempotency_keys=3, webhook_deliveries=0, webhook_messages=0
    )
    assert await keys_left(own_db) == live
    assert not expired & await keys_left(own_db)


async def test_pruning_goes_in_batches_until_nothing_is_left(
    own_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "KEY_BATCH", 2)
    tenant_id = await new_tenant_id(own_db)
    for _ in range(5):
        await add_key(own_db, tenant_id, NOW - timedelta(hours=1), "done")
    kept = await add_key(own_db, tenant_id, NOW + timedelta(hours=1), "done")

    pruned = await housekeeping.prune(own_db, RETENTION, now=NOW)

    assert pruned.idempotency_keys == 5
    assert await keys_left(own_db) == {kept}


async def add_message(db: Database, tenant_id: str, created_at: datetime) -> str:
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    async with db.writer() as session, session.begin():
        session.add(
            WebhookMessage(
                id=message_id,
                tenant_id=tenant_id,
                order_id=None,
                type="order.created",
                payload={"type": "order.created"},
                created_at=created_at,
            )
        )
    return message_id


async def add_delivery(
    db: Database,
    tenant_id: str,
    endpoint_id: str,
    message_id: str,
    status: str,
    at: datetime,
    last_attempt: datetime | None = None,
) -> int:
    async with db.writer() as session, session.begin():
        delivery = WebhookDelivery(
            tenant_id=tenant_id,
            message_id=message_id,
            endpoint_id=endpoint_id,
            status=status,
            attempts=1,
            next_attempt_at=last_attempt or at,
            created_at=at,
        )
        session.add(delivery)
        await session.flush()
        session.add(
            WebhookAttempt(delivery_id=delivery.id, attempted_at=at, status_code=500, latency_ms=3)
        )
    return delivery.id


async def test_old_finished_deliveries_go_with_their_attempts_and_orphaned_messages(
    own_db: Database,
) -> None:
    tenant_id = await new_tenant_id(own_db)
    endpoint_id = f"whk_{uuid.uuid4().hex[:12]}"
    async with own_db.writer() as session, session.begin():
        session.add(
            WebhookEndpoint(
                id=endpoint_id,
                tenant_id=tenant_id,
                url="https://example.com/hook",
                event_types=["order.created"],
                enabled=True,
                secret="whsec_x",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    old, recent = NOW - RETENTION - timedelta(hours=1), NOW - RETENTION + timedelta(hours=1)
    # A message whose deliveries all finished long ago: everything about it goes.
    gone = await add_message(own_db, tenant_id, old)
    for status in ("delivered", "failed"):
        await add_delivery(own_db, tenant_id, endpoint_id, gone, status, old)
    # An old message still pending somewhere: it and the pending delivery stay.
    pending = await add_message(own_db, tenant_id, old)
    await add_delivery(own_db, tenant_id, endpoint_id, pending, "delivered", old)
    kept_pending = await add_delivery(own_db, tenant_id, endpoint_id, pending, "pending", old)
    # Created long ago, but its last attempt is inside the retention: stays.
    retried = await add_message(own_db, tenant_id, old)
    kept_retried = await add_delivery(
        own_db, tenant_id, endpoint_id, retried, "failed", old, last_attempt=recent
    )
    # Finished, but inside the retention: stays.
    young = await add_message(own_db, tenant_id, recent)
    kept_young = await add_delivery(own_db, tenant_id, endpoint_id, young, "delivered", recent)

    pruned = await housekeeping.prune(own_db, RETENTION, now=NOW)

    assert pruned == housekeeping.Pruned(
        idempotency_keys=0, webhook_deliveries=3, webhook_messages=1
    )
    async with own_db.reader() as session:
        kept = {kept_pending, kept_retried, kept_young}
        assert set(await session.scalars(select(WebhookMessage.id))) == {pending, retried, young}
        assert set(await session.scalars(select(WebhookDelivery.id))) == kept
        assert set(await session.scalars(select(WebhookAttempt.delivery_id))) == kept


async def test_the_server_prunes_in_the_background(empty_database_url: str) -> None:
    settings = make_settings(
        empty_database_url, auto_migrate=True, housekeeping_interval_seconds=0.05
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        tenant_id = await new_tenant_id(db)
        expired = await add_key(db, tenant_id, datetime.now(UTC) - timedelta(minutes=1), "done")
        live = await add_key(db, tenant_id, datetime.now(UTC) + timedelta(hours=1), "done")
        for _ in range(100):
            if expired not in await keys_left(db):
                break
            await asyncio.sleep(0.05)
        assert await keys_left(db) == {live}


async def test_a_failed_pass_is_logged_and_the_next_one_runs(
    own_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = housekeeping.prune
    passes: list[str] = []

    async def failing_once(db: Database, retention: timedelta) -> housekeeping.Pruned:
        if not passes:
            passes.append("failed")
            raise RuntimeError("database went away")
        passes.append("ran")
        return await original(db, retention)

    monkeypatch.setattr(housekeeping, "prune", failing_once)
    keeper = housekeeping.Housekeeper(own_db, interval=0.01, webhook_retention=RETENTION)
    keeper.start()
    try:
        for _ in range(200):
            if "ran" in passes:
                break
            await asyncio.sleep(0.01)
    finally:
        await keeper.stop()
    assert passes[:2] == ["failed", "ran"]
    assert "housekeeping pass failed" in caplog.text
    assert "database went away" in caplog.text


async def test_housekeeping_can_be_turned_off(empty_database_url: str) -> None:
    app = create_app(make_settings(empty_database_url, auto_migrate=True))
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        tenant_id = await new_tenant_id(db)
        expired = await add_key(db, tenant_id, datetime.now(UTC) - timedelta(minutes=1), "done")
        await asyncio.sleep(0.2)
        assert await keys_left(db) == {expired}


def test_the_prune_command_reports_what_it_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'prune.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()

    async def seed() -> None:
        db = Database.connect(url)
        await migrate.upgrade(db.engine)
        tenant_id = await new_tenant_id(db)
        for _ in range(2):
            await add_key(db, tenant_id, datetime.now(UTC) - timedelta(hours=1), "done")
        await add_key(db, tenant_id, datetime.now(UTC) + timedelta(hours=1), "done")
        await db.dispose()

    asyncio.run(seed())
    try:
        result = CliRunner().invoke(cli, ["prune", "--json"])
        assert result.exit_code == 0, (result.output, result.exception)
        assert json.loads(result.output) == {
            "idempotency_keys": 2,
            "webhook_deliveries": 0,
            "webhook_messages": 0,
        }
        again = CliRunner().invoke(cli, ["prune"])
        assert again.exit_code == 0, again.output
        assert again.output.strip() == (
            "idempotency keys: 0, webhook deliveries: 0, webhook messages: 0"
        )
    finally:
        get_settings.cache_clear()
