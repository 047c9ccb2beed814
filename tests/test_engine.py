"""``db.engine``: how every connection reads and writes JSON columns. Runs on an SQLite
file of its own in both suite runs: the legacy rows it covers exist only on SQLite."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from db import migrate
from db.engine import Database
from db.models import Tenant, WebhookMessage

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
    await migrate.upgrade(db.engine)
    async with db.writer() as session, session.begin():
        session.add(Tenant(id="t1", name="engine", timezone="UTC", created_at=AT))
    yield db
    await db.dispose()


async def store_raw_payload(db: Database, raw: str) -> None:
    async with db.writer() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO webhook_messages (id, tenant_id, type, payload, created_at) "
                "VALUES ('m1', 't1', 'order.created', :raw, '2026-11-26 09:00:00.000000')"
            ),
            {"raw": raw},
        )


async def read_payload(db: Database) -> object:
    async with db.reader() as session:
        return await session.scalar(select(WebhookMessage.payload))


async def test_json_that_json_dumps_wrote_with_nan_still_reads(sqlite_db: Database) -> None:
    """Rows written before orjson, by json.dumps, may hold NaN or Infinity, which orjson
    refuses to parse: reading them must not fail."""
    await store_raw_payload(sqlite_db, '{"size": NaN, "max": Infinity, "n": 1}')
    payload = await read_payload(sqlite_db)
    assert isinstance(payload, dict)
    assert math.isnan(payload["size"])
    assert payload["max"] == math.inf
    assert payload["n"] == 1


async def test_json_is_written_compactly_and_read_back(sqlite_db: Database) -> None:
    async with sqlite_db.writer() as session, session.begin():
        session.add(
            WebhookMessage(
                id="m2",
                tenant_id="t1",
                type="order.created",
                payload={"name": "Asha Rāo", "items": [1, 2.5], "ok": True},
                created_at=AT,
            )
        )
    async with sqlite_db.reader() as session:
        raw = await session.scalar(text("SELECT payload FROM webhook_messages WHERE id = 'm2'"))
    assert raw == '{"name":"Asha Rāo","items":[1,2.5],"ok":true}'
    assert await read_payload(sqlite_db) == {"name": "Asha Rāo", "items": [1, 2.5], "ok": True}
