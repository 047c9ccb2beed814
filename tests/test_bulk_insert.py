"""``db.bulk_insert.insert_rows``: rows straight to the driver must store exactly what the
ORM stores (the bulk-create test compares whole orders; this checks the conversions and
the guards on their own)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Dialect, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from db import migrate
from db.bulk_insert import _plan, insert_rows
from db.engine import Database
from db.models import OrderItem, Tenant, WebhookMessage
from tests.databases import recorded_statements


def tenant_row(created_at: datetime, **fields: Any) -> dict[str, Any]:
    row = {
        "id": uuid.uuid4().hex,
        "name": f"bulk-insert-{uuid.uuid4().hex[:8]}",
        "rate_limit": None,
        "timezone": "UTC",
        "created_at": created_at,
    }
    row.update(fields)
    return row


async def test_rows_read_back_as_given_with_shared_and_distinct_values(db: Database) -> None:
    shared = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)
    india = timezone(timedelta(hours=5, minutes=30))
    rows = [
        tenant_row(shared),
        tenant_row(shared, rate_limit="5/minute"),  # the same object: converted once
        tenant_row(datetime(2026, 11, 26, 15, 0, tzinfo=india)),  # another zone
        tenant_row(shared),  # the shared value again after a different one
    ]
    try:
        async with db.writer() as session, session.begin():
            await insert_rows(session, Tenant, rows)
        async with db.reader() as session:
            stored = {
                t.id: t
                for t in await session.scalars(
                    select(Tenant).where(Tenant.id.in_([row["id"] for row in rows]))
                )
            }
        assert [stored[row["id"]].created_at for row in rows] == [
            shared,
            shared,
            datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
            shared,
        ]
        assert [stored[row["id"]].rate_limit for row in rows] == [None, "5/minute", None, None]
        assert all(stored[row["id"]].created_at.tzinfo == UTC for row in rows)
    finally:
        async with db.writer() as session, session.begin():
            await session.execute(delete(Tenant).where(Tenant.id.in_([r["id"] for r in rows])))


async def test_no_rows_is_no_statement(db: Database) -> None:
    with recorded_statements(db) as statements:
        async with db.writer() as session, session.begin():
            await insert_rows(session, Tenant, [])
    assert statements == []


async def test_a_column_with_a_python_default_must_be_given(db: Database) -> None:
    row = tenant_row(datetime.now(UTC))
    del row["timezone"]
    async with db.writer() as session, session.begin():
        with pytest.raises(ValueError, match=r"rows of Tenant must give \['timezone'\]"):
            await insert_rows(session, Tenant, [row])


async def test_an_unknown_attribute_is_refused(db: Database) -> None:
    row = tenant_row(datetime.now(UTC), colour="red")
    async with db.writer() as session, session.begin():
        with pytest.raises(ValueError, match=r"Tenant has no attributes \['colour'\]"):
            await insert_rows(session, Tenant, [row])


async def test_json_none_is_stored_as_the_orm_stores_it(db: Database) -> None:
    """A JSON column without none_as_null keeps None as the JSON text 'null', as the ORM
    does; one with none_as_null (and every other type) as SQL NULL."""
    tenant = tenant_row(datetime.now(UTC))
    at = datetime.now(UTC)

    def message(message_id: str) -> dict[str, Any]:
        return {
            "id": message_id,
            "tenant_id": tenant["id"],
            "order_id": None,
            "type": "order.created",
            "payload": None,
            "created_at": at,
        }

    by_orm, by_rows = f"msg_{uuid.uuid4().hex[:20]}", f"msg_{uuid.uuid4().hex[:20]}"
    try:
        async with db.writer() as session, session.begin():
            await insert_rows(session, Tenant, [tenant])
            session.add(WebhookMessage(**message(by_orm)))
            await session.flush()
            await insert_rows(session, WebhookMessage, [message(by_rows)])
        async with db.reader() as session:
            stored: dict[str, bool] = dict(
                (
                    await session.execute(
                        text(
                            "SELECT id, payload IS NULL FROM webhook_messages WHERE id IN (:a, :b)"
                        ),
                        {"a": by_orm, "b": by_rows},
                    )
                ).all()
            )
        assert stored == {by_orm: False, by_rows: False}
    finally:
        async with db.writer() as session, session.begin():
            await session.execute(delete(Tenant).where(Tenant.id == tenant["id"]))


@pytest.mark.parametrize(
    "dialect",
    [postgresql.asyncpg.dialect(), sqlite.aiosqlite.dialect()],  # type: ignore[no-untyped-call]
)
def test_generated_keys_are_not_asked_back(dialect: Dialect) -> None:
    """order_items.id is generated: the statement must not RETURN it for every row."""
    attributes = {"order_id", "position", "product_retailer_id", "sku", "name", "quantity", "price"}
    plan = _plan(OrderItem, frozenset(attributes), dialect)
    assert plan is not None
    assert plan.sql.startswith("INSERT INTO order_items (")
    assert "RETURNING" not in plan.sql.upper()


async def test_a_driver_with_named_parameters_gets_the_same_rows(tmp_path: Path) -> None:
    named = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'named.db'}", paramstyle="named")
    try:
        await migrate.upgrade(named.engine)
        created = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
        rows = [tenant_row(created), tenant_row(created, rate_limit="7/minute")]
        async with named.writer() as session, session.begin():
            await insert_rows(session, Tenant, rows)
        async with named.reader() as session:
            stored = {
                t.id: (t.rate_limit, t.created_at) for t in await session.scalars(select(Tenant))
            }
        assert stored == {
            rows[0]["id"]: (None, created),
            rows[1]["id"]: ("7/minute", created),
        }
    finally:
        await named.dispose()
