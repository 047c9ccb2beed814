"""Fixtures. The suite migrates one database per run; every test makes its own tenants,
so tests never see each other's orders (tenant isolation doing its job)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from db import migrate
from db.engine import Database
from orders_api import tenants
from orders_api.config import Settings
from rest.app import create_app
from tests.databases import fresh_postgres_database, require_postgres, suite_backend


def _migrate(url: str) -> None:
    async def run() -> None:
        db = Database.connect(url)
        try:
            await migrate.upgrade(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated database the suite runs on (SQLite file or fresh PostgreSQL db)."""
    if suite_backend() == "postgresql":
        require_postgres()
        with fresh_postgres_database() as url:
            _migrate(url)
            yield url
    else:
        path = tmp_path_factory.mktemp("db") / "orders.db"
        url = f"sqlite+aiosqlite:///{path}"
        _migrate(url)
        yield url


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, of the suite's kind."""
    if suite_backend() == "postgresql":
        with fresh_postgres_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auto_migrate": False,
        "orders_api_env": "development",
        # The webhook dispatcher polls the database in the background: only the webhook
        # tests, which wait for deliveries, turn it on (it would skew statement counts).
        "webhook_dispatcher": False,
        # Housekeeping deletes expired rows of every tenant in the background: its own
        # tests run it when they choose.
        "housekeeping_interval_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


@dataclass(frozen=True)
class Tenant:
    """A tenant made for one test, with an API key and a client speaking for it."""

    id: str
    name: str
    api_key: str
    http: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"x-tenant-api-key": self.api_key}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(
            url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.post(
            url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.put(
            url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    async def create_order(self, **fields: Any) -> dict[str, Any]:
        """Create an order through REST (defaults filled in) and return its JSON."""
        body = {
            "mobile": "+919876543210",
            "product_items": [{"name": "Widget", "quantity": 1, "price": 10}],
            **fields,
        }
        response = await self.post("/v1/orders", json=body)
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()["order"]
        return order

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL operation; returns the whole response body (data and errors)."""
        response = await self.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def new_tenant(
    db: Database, http: httpx.AsyncClient, *, timezone: str = "UTC", key_name: str = "test-key"
) -> Tenant:
    name = f"t-{uuid.uuid4().hex[:10]}"
    tenant = await tenants.create_tenant(db, name, timezone=timezone)
    issued = await tenants.create_key(db, name, key_name)
    return Tenant(id=tenant.id, name=name, api_key=issued.api_key, http=http)


@pytest.fixture
async def tenant(db: Database, client: httpx.AsyncClient) -> Tenant:
    return await new_tenant(db, client)


@pytest.fixture
async def other_tenant(db: Database, client: httpx.AsyncClient) -> Tenant:
    return await new_tenant(db, client)
