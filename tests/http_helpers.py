"""Helpers shared by the test modules: creating and fetching orders, the error envelope, an
app with a client, the service clock, and uvicorn server processes for the tests that need
a real server. What the contract says (statuses, messages, formats) is in ``tests.contract``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from starlette.applications import Starlette

from gql.resolvers import clock
from tests.conftest import Tenant

REPO_ROOT = Path(__file__).resolve().parents[1]

# --- orders over REST ----------------------------------------------------------------------


async def create_ok(tenant: Tenant, body: Any) -> dict[str, Any]:
    """POST ``body`` as it is (no defaults filled in); the created order."""
    response = await tenant.post("/v1/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    return order


async def get_order(tenant: Tenant, order_id: str) -> dict[str, Any]:
    response = await tenant.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_timeline(tenant: Tenant, order_id: str) -> list[dict[str, Any]]:
    response = await tenant.get(f"/v1/orders/{order_id}/timeline")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


async def snapshot(tenant: Tenant, order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order as GET shows it and its timeline: to prove a request changed nothing."""
    return await get_order(tenant, order_id), await get_timeline(tenant, order_id)


async def order_total(tenant: Tenant) -> int:
    """How many orders the tenant has, as the list reports it."""
    response = await tenant.get("/v1/orders")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


# --- errors ----------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The ``error`` of an answer with that status and code and a message."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``assert_error``, for an answer that is nothing but the ``{"error": {...}}``
    envelope."""
    error = assert_error(response, status, code)
    assert set(response.json()) == {"error"}
    return error


def graphql_error(result: dict[str, Any]) -> dict[str, Any]:
    """The one error of a GraphQL result without data."""
    assert result.get("data") is None, result
    assert len(result["errors"]) == 1, result
    error: dict[str, Any] = result["errors"][0]
    return error


# --- an app in process -----------------------------------------------------------------------


@asynccontextmanager
async def lifespan_client(application: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """``application`` with its lifespan running and an in-process client for it."""
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


# --- the service clock -----------------------------------------------------------------------

SetClock = Callable[[datetime], None]


def at(text: str) -> datetime:
    """An aware UTC datetime from ``2024-03-10T12:00:00`` (read as UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def clock_setter(monkeypatch: pytest.MonkeyPatch) -> SetClock:
    """What a ``set_clock`` fixture gives: a function that makes the service's clock (order
    creation time and "today") answer ``moment`` until set again."""

    def set_now(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return set_now


async def order_at(tenant: Tenant, set_clock: SetClock, when: str, **fields: Any) -> dict[str, Any]:
    """An order created at ``when`` (UTC) through ``Tenant.create_order``."""
    set_clock(at(when))
    return await tenant.create_order(**fields)


# --- server processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_uvicorn(
    database_url: str, port: int, log: IO[bytes], **environment: str
) -> subprocess.Popen[bytes]:
    """``rest.asgi:app`` under uvicorn on 127.0.0.1:``port`` (development mode, rate limits
    high and in memory, ``environment`` added), its output going to ``log``."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ORDERS_API_ENV": "development",
        "RATE_LIMIT_DEFAULT": "10000/minute",
        "RATE_LIMIT_STORAGE_URI": "memory://",
        **environment,
    }
    command = [
        sys.executable, "-m", "uvicorn", "rest.asgi:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited after 15 s."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
