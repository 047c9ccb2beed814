"""SPEC §10: Alembic owns the schema. Models and migrations agree (``alembic check``), and
every migration goes up, down to nothing, and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from db import migrate
from db.base import Base
from db.engine import Database
from tests.databases import fresh_postgres_database, require_postgres

APPLICATION_TABLES = {
    "tenants",
    "api_keys",
    "orders",
    "order_items",
    "timeline_events",
    "idempotency_keys",
    "webhook_endpoints",
    "webhook_messages",
    "webhook_deliveries",
    "webhook_attempts",
}


async def table_names(db: Database) -> set[str]:
    def _names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with db.engine.connect() as connection:
        return await connection.run_sync(_names)


async def assert_round_trip(url: str) -> None:
    """upgrade head → downgrade base → upgrade head, checking the schema at each step."""
    db = Database.connect(url)
    try:
        assert await migrate.current_revision(db.engine) is None
        assert not await table_names(db) & APPLICATION_TABLES

        await migrate.upgrade(db.engine)
        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        assert await table_names(db) >= APPLICATION_TABLES
        await migrate.check(db.engine)

        await migrate.downgrade(db.engine, "base")
        assert await migrate.current_revision(db.engine) is None
        assert await table_names(db) <= {"alembic_version"}

        await migrate.upgrade(db.engine)
        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        assert await table_names(db) >= APPLICATION_TABLES
        await migrate.check(db.engine)
    finally:
        await db.dispose()


def test_models_declare_the_expected_tables() -> None:
    assert set(Base.metadata.tables) == APPLICATION_TABLES


async def test_alembic_check_passes_on_the_migrated_database(database_url: str) -> None:
    db = Database.connect(database_url)
    try:
        assert await migrate.current_revision(db.engine) == migrate.head_revision()
        await migrate.check(db.engine)
    finally:
        await db.dispose()


async def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    await assert_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'round-trip.db'}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    require_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.mark.postgres
async def test_upgrade_downgrade_upgrade_on_postgresql(postgres_url: str) -> None:
    await assert_round_trip(postgres_url)
