"""SPEC §1: ``/healthz`` says the process is up; ``/readyz`` says the database answers and
is migrated (503 ServiceUnavailableError otherwise). Neither needs an API key."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from db import migrate
from db.engine import Database
from rest.app import create_app
from tests.conftest import make_settings
from tests.http_helpers import error_of


@asynccontextmanager
async def app_on(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its lifespan bypassed (it would refuse to start on a bad database),
    with ``state.db`` pointing at ``database_url``."""
    application = create_app(make_settings(database_url))
    db = Database.connect(database_url)
    application.state.db = db
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        await db.dispose()


def assert_unavailable(response: httpx.Response) -> None:
    error_of(response, 503, "ServiceUnavailableError")


async def test_healthz_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_readyz_is_200_on_the_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert response.json()["revision"] == migrate.head_revision()


async def test_readyz_is_200_through_the_bypassed_lifespan_helper(database_url: str) -> None:
    # The helper below is what the 503 tests use: on a good database it must say ready,
    # so their 503s come from the database, not from the helper.
    async with app_on(database_url) as http:
        response = await http.get("/readyz")

    assert response.status_code == 200, response.text


async def test_readyz_is_503_when_the_database_is_not_migrated(empty_database_url: str) -> None:
    async with app_on(empty_database_url) as http:
        response = await http.get("/readyz")

    assert_unavailable(response)


async def test_readyz_is_503_when_postgresql_is_unreachable() -> None:
    async with app_on("postgresql+asyncpg://postgres@127.0.0.1:1/postgres") as http:
        response = await http.get("/readyz")

    assert_unavailable(response)


async def settle_aiosqlite_threads() -> None:
    """Let aiosqlite's worker threads finish while this test's event loop still runs.

    On a failed connect aiosqlite stops its worker thread without awaiting it; if the loop
    closes first, the thread raises "Event loop is closed" into a later test.
    """
    deadline = time.monotonic() + 5
    for worker in threading.enumerate():
        if "_connection_worker_thread" in worker.name:
            await asyncio.to_thread(worker.join, max(0.0, deadline - time.monotonic()))


async def test_readyz_is_503_when_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no-such-dir" / "orders.db"

    async with app_on(f"sqlite+aiosqlite:///{missing_dir}") as http:
        response = await http.get("/readyz")
    await settle_aiosqlite_threads()

    assert_unavailable(response)


async def test_healthz_is_200_even_when_the_database_is_unreachable() -> None:
    async with app_on("postgresql+asyncpg://postgres@127.0.0.1:1/postgres") as http:
        response = await http.get("/healthz")

    assert response.status_code == 200, response.text
