"""Where the tests' databases come from.

``TEST_DATABASE=sqlite`` (the default) uses temporary SQLite files. ``TEST_DATABASE=postgresql``
runs the whole suite on a fresh PostgreSQL database created for the run and dropped after.
Tests that need PostgreSQL whatever the suite runs on (migrations on both databases,
two-process concurrency) use ``postgres_admin_url()`` and skip, saying why, when no server
answers — unless ``REQUIRE_SERVICES=1`` (CI), where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import event

from db.engine import Database

T = TypeVar("T")

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def suite_backend() -> str:
    backend = os.environ.get("TEST_DATABASE", "sqlite").lower()
    if backend not in ("sqlite", "postgresql"):
        raise pytest.UsageError("TEST_DATABASE must be sqlite or postgresql")
    return backend


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


async def _admin_execute(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        asyncio.run(_admin_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
    return None


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its async SQLAlchemy URL."""
    name = f"orders_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def on_database(url: str, action: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``action`` on a connection to ``url`` from synchronous code (CLI tests)."""

    async def main() -> T:
        db = Database.connect(url)
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


@contextmanager
def recorded_statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement ``db`` sends while the block runs (N+1 checks count them)."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
