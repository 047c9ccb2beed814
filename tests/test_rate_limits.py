"""SPEC §3: per-tenant rate limits (REST and GraphQL on one budget, X-RateLimit-* headers,
429 RateLimitError), per-tenant overrides, a moving window, Redis shared by several
application instances (and failing open when Redis is down), and throttled failed
authentication per client address."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coredis
import httpx
import limits.aio.storage.memory
import limits.aio.strategies
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

import rest.ratelimit
from db.engine import Database
from gql.resolvers import orders as order_resolvers
from orders_api import tenants
from orders_api.cli import app as cli
from orders_api.config import Settings, get_settings
from rest.app import create_app
from rest.middleware import AuthMiddleware
from tests.conftest import Tenant, make_settings, new_tenant
from tests.databases import services_required
from tests.http_helpers import lifespan_client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
LIST_ORDERS = "/v1/orders"
ORDERS_QUERY = {"query": "{ orders { total } }"}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


# --- helpers -----------------------------------------------------------------------------


@dataclass
class Served:
    """An application with its lifespan running, and a client for it."""

    app: Starlette
    http: httpx.AsyncClient

    @property
    def db(self) -> Database:
        database: Database = self.app.state.db
        return database

    @asynccontextmanager
    async def client_from(self, address: tuple[str, int]) -> AsyncIterator[httpx.AsyncClient]:
        """Another client of the same application, calling from ``address``."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=address)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    application = create_app(settings)
    try:
        async with lifespan_client(application) as http:
            yield Served(application, http)
    finally:
        disconnect_rate_limit_storage(application)


def disconnect_rate_limit_storage(app: Starlette) -> None:
    """Closes the Redis connections of the app's limiter, which its lifespan leaves open
    (see ``test_an_instance_shut_down_leaves_no_redis_connection_open``); otherwise they
    surface as ResourceWarnings in whichever test happens to collect them."""
    limiter = getattr(app.state, "rate_limiter", None)
    bridge = getattr(getattr(limiter, "storage", None), "bridge", None)
    pool = getattr(getattr(bridge, "storage", None), "connection_pool", None)
    if pool is not None:
        pool.disconnect()


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    """A 429 in the contract's shape: envelope, details and a Retry-After header."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "RateLimitError"
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error["details"]) == {"limit", "retryAfter"}
    assert error["details"]["limit"] == limit
    retry_after = error["details"]["retryAfter"]
    assert isinstance(retry_after, int)
    assert not isinstance(retry_after, bool)
    assert 1 <= retry_after <= 60
    assert response.headers["Retry-After"] == str(retry_after)


def assert_rate_limit_headers(response: httpx.Response, limit: int, remaining: int) -> None:
    assert response.headers["X-RateLimit-Limit"] == str(limit), response.headers
    assert response.headers["X-RateLimit-Remaining"] == str(remaining), response.headers
    reset = response.headers["X-RateLimit-Reset"]
    assert reset.isdigit(), reset
    # Epoch seconds, within the coming minute (a 1-minute window started by this request).
    now = time.time()
    assert now <= int(reset) <= math.ceil(now) + 61


def graphql_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


# --- the default limit -------------------------------------------------------------------


async def test_first_100_requests_pass_and_the_101st_is_refused(tenant: Tenant) -> None:
    for sent in range(1, 101):
        response = await tenant.get(LIST_ORDERS)
        assert response.status_code == 200, (sent, response.text)
        assert_rate_limit_headers(response, limit=100, remaining=100 - sent)

    refused = await tenant.get(LIST_ORDERS)

    assert_rate_limited(refused, limit=100)
    assert_rate_limit_headers(refused, limit=100, remaining=0)


async def test_a_refused_request_stays_refused_and_runs_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = order_resolvers.create_order

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("create_order")
        return await original(*args, **kwargs)

    monkeypatch.setattr(order_resolvers, "create_order", spy)
    body = {"mobile": "+15550100", "product_items": [{"name": "A", "quantity": 1, "price": 1}]}
    async with serving(make_settings(database_url, rate_limit_default="2/minute")) as served:
        tenant = await new_tenant(served.db, served.http)
        for _ in range(2):
            assert (await tenant.post(LIST_ORDERS, json=body)).status_code == 201
        for _ in range(3):
            assert_rate_limited(await tenant.post(LIST_ORDERS, json=body), limit=2)
        listing = await tenant.get(LIST_ORDERS)
        assert_rate_limited(listing, limit=2)

    assert calls == ["create_order", "create_order"]


async def test_rest_and_graphql_draw_on_one_budget(database_url: str) -> None:
    async with serving(make_settings(database_url, rate_limit_default="10/minute")) as served:
        tenant = await new_tenant(served.db, served.http)
        for sent in range(1, 7):
            response = await tenant.get(LIST_ORDERS)
            assert response.status_code == 200
            assert_rate_limit_headers(response, limit=10, remaining=10 - sent)
        for sent in range(7, 11):
            response = await tenant.post("/graphql", json=ORDERS_QUERY)
            graphql_body(response)
            assert_rate_limit_headers(response, limit=10, remaining=10 - sent)

        assert_rate_limited(await tenant.get(LIST_ORDERS), limit=10)
        assert_rate_limited(await tenant.post("/graphql", json=ORDERS_QUERY), limit=10)


# --- headers -----------------------------------------------------------------------------

JSON_TYPE = {"content-type": "application/json"}
# (method, path, keyword arguments for httpx, expected status): successes and 4xx answers.
ANSWERS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", LIST_ORDERS, {}, 200),
    ("GET", "/v1/orders/0123456789abcdef01234567", {}, 404),
    ("GET", "/v1/orders?limit=0", {}, 400),
    ("POST", LIST_ORDERS, {"json": {"product_items": []}}, 400),
    ("POST", LIST_ORDERS, {"content": b"{not json", "headers": JSON_TYPE}, 400),
    ("DELETE", LIST_ORDERS, {}, 405),
    ("GET", "/v1/no-such-route", {}, 404),
    ("POST", "/graphql", {"json": ORDERS_QUERY}, 200),
    ("POST", "/graphql", {"json": {"query": "{ noSuchField }"}}, 200),
    ("GET", "/graphql", {"params": {"query": "{ orders { total } }"}}, 200),
    ("POST", "/graphql", {"json": [ORDERS_QUERY, ORDERS_QUERY]}, 400),
    ("POST", "/graphql", {"content": b"{", "headers": JSON_TYPE}, 400),
]


async def test_every_authenticated_answer_carries_the_rate_limit_headers(tenant: Tenant) -> None:
    for sent, (method, path, kwargs, status) in enumerate(ANSWERS, start=1):
        options = dict(kwargs)
        headers = {**tenant.headers, **options.pop("headers", {})}
        response = await tenant.http.request(method, path, headers=headers, **options)
        assert response.status_code == status, (method, path, response.text)
        assert_rate_limit_headers(response, limit=100, remaining=100 - sent)


async def test_reset_is_when_the_oldest_request_leaves_the_window(tenant: Tenant) -> None:
    before = time.time()
    first = await tenant.get(LIST_ORDERS)
    second = await tenant.post("/graphql", json=ORDERS_QUERY)

    reset = int(first.headers["X-RateLimit-Reset"])
    assert math.floor(before) + 60 <= reset <= math.ceil(time.time()) + 60
    # The window is anchored on the first request: the second one does not move it.
    assert second.headers["X-RateLimit-Reset"] == first.headers["X-RateLimit-Reset"]


async def test_unauthenticated_answers_carry_no_tenant_budget(client: httpx.AsyncClient) -> None:
    response = await client.get(LIST_ORDERS)

    assert response.status_code == 401
    for name in RATE_LIMIT_HEADERS:
        assert name not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_health_checks_and_metrics_are_never_limited(database_url: str, path: str) -> None:
    async with serving(make_settings(database_url, rate_limit_default="2/minute")) as served:
        tenant = await new_tenant(served.db, served.http)
        for _ in range(2):
            assert (await tenant.get(LIST_ORDERS)).status_code == 200
        assert_rate_limited(await tenant.get(LIST_ORDERS), limit=2)

        for _ in range(10):
            with_key = await tenant.get(path)
            without_key = await served.http.get(path)
            for response in (with_key, without_key):
                assert response.status_code == 200, response.text
                for name in RATE_LIMIT_HEADERS:
                    assert name not in response.headers


async def test_health_checks_do_not_spend_the_tenants_budget(database_url: str) -> None:
    async with serving(make_settings(database_url, rate_limit_default="2/minute")) as served:
        tenant = await new_tenant(served.db, served.http)
        for path in ("/healthz", "/readyz", "/metrics") * 3:
            assert (await tenant.get(path)).status_code == 200

        response = await tenant.get(LIST_ORDERS)

        assert_rate_limit_headers(response, limit=2, remaining=1)


# --- tenants -----------------------------------------------------------------------------


async def test_another_tenant_has_its_own_budget(database_url: str) -> None:
    async with serving(make_settings(database_url, rate_limit_default="3/minute")) as served:
        busy = await new_tenant(served.db, served.http)
        quiet = await new_tenant(served.db, served.http)
        for _ in range(3):
            assert (await busy.get(LIST_ORDERS)).status_code == 200
        assert_rate_limited(await busy.get(LIST_ORDERS), limit=3)

        for sent in range(1, 4):
            response = await quiet.get(LIST_ORDERS)
            assert response.status_code == 200
            assert_rate_limit_headers(response, limit=3, remaining=3 - sent)
        assert_rate_limited(await quiet.get(LIST_ORDERS), limit=3)
        assert_rate_limited(await busy.post("/graphql", json=ORDERS_QUERY), limit=3)


async def test_a_tenants_own_limit_overrides_the_default(db: Database, tenant: Tenant) -> None:
    await tenants.set_rate_limit(db, tenant.name, "3/minute")  # before its first request

    for sent in range(1, 4):
        response = await tenant.get(LIST_ORDERS)
        assert response.status_code == 200
        assert_rate_limit_headers(response, limit=3, remaining=3 - sent)
    refused = await tenant.post("/graphql", json=ORDERS_QUERY)

    assert_rate_limited(refused, limit=3)
    assert_rate_limit_headers(refused, limit=3, remaining=0)


async def test_a_changed_limit_applies_to_a_tenant_already_calling(database_url: str) -> None:
    settings = make_settings(database_url, auth_cache_seconds=0)
    async with serving(settings) as served:
        tenant = await new_tenant(served.db, served.http)
        assert_rate_limit_headers(await tenant.get(LIST_ORDERS), limit=100, remaining=99)

        await tenants.set_rate_limit(served.db, tenant.name, "3/minute")
        answers = [await tenant.get(LIST_ORDERS) for _ in range(4)]

        assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
        statuses = [answer.status_code for answer in answers]
        # The new limit starts a budget of 3 at most: the 4th request is refused for sure.
        assert statuses[-1] == 429
        assert statuses in ([200, 200, 200, 429], [200, 200, 429, 429])
        assert_rate_limited(answers[-1], limit=3)

        await tenants.set_rate_limit(served.db, tenant.name, None)
        back = await tenant.get(LIST_ORDERS)
        assert back.status_code == 200
        assert back.headers["X-RateLimit-Limit"] == "100"


@pytest.fixture
def cli_environment(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The CLI configured (through the environment) for the suite's database."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AUTO_MIGRATE", "false")
    monkeypatch.delenv("ORDERS_API_ENV", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run_cli(*args: str) -> str:
    # The CLI runs its own event loop (asyncio.run): give it a thread of its own.
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.usefixtures("cli_environment")
async def test_cli_sets_a_tenants_rate_limit(database_url: str) -> None:
    settings = make_settings(database_url, auth_cache_seconds=0)
    async with serving(settings) as served:
        tenant = await new_tenant(served.db, served.http)

        output = await run_cli("tenant", "set-rate-limit", tenant.name, "2/minute")

        assert tenant.name in output
        assert "2/minute" in output
        for sent in range(1, 3):
            response = await tenant.get(LIST_ORDERS)
            assert response.status_code == 200
            assert_rate_limit_headers(response, limit=2, remaining=2 - sent)
        assert_rate_limited(await tenant.get(LIST_ORDERS), limit=2)

        await run_cli("tenant", "set-rate-limit", tenant.name, "default")

        response = await tenant.get(LIST_ORDERS)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "100"


@pytest.mark.usefixtures("cli_environment")
async def test_cli_refuses_a_malformed_rate_limit(database_url: str) -> None:
    async with serving(make_settings(database_url)) as served:
        tenant = await new_tenant(served.db, served.http)

        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["tenant", "set-rate-limit", tenant.name, "lots"]
        )

        assert result.exit_code == 1
        assert "Invalid rate limit" in result.output
        assert (await tenant.get(LIST_ORDERS)).headers["X-RateLimit-Limit"] == "100"


# --- the moving window -------------------------------------------------------------------


class FakeClock:
    """Stands in for the ``time`` module inside the ``limits`` library."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def limits_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    # One second before a minute boundary: a fixed window would reset one second later.
    boundary = (math.floor(time.time() / 60) + 1) * 60
    clock = FakeClock(boundary - 1.0)
    monkeypatch.setattr(limits.aio.storage.memory, "time", clock)
    monkeypatch.setattr(limits.aio.strategies, "time", clock)
    monkeypatch.setattr(rest.ratelimit, "time", clock)  # its Retry-After arithmetic
    return clock


async def test_the_window_moves_rather_than_resetting_at_a_minute_boundary(
    database_url: str, limits_clock: FakeClock
) -> None:
    start = limits_clock.now
    async with serving(make_settings(database_url, rate_limit_default="3/minute")) as served:
        tenant = await new_tenant(served.db, served.http)
        for _ in range(3):
            assert (await tenant.get(LIST_ORDERS)).status_code == 200
            limits_clock.now += 0.1
        assert (await tenant.get(LIST_ORDERS)).status_code == 429

        # Past the minute boundary: a fixed window would allow another 3 (a 2x burst).
        # Retry-After counts down to the moment the first request leaves the window.
        for offset, retry_after in ((1.5, 59), (2.0, 58), (30.0, 30), (59.5, 1)):
            limits_clock.now = start + offset
            for refused in (
                await tenant.get(LIST_ORDERS),
                await tenant.post("/graphql", json=ORDERS_QUERY),
            ):
                assert_rate_limited(refused, limit=3)
                assert refused.json()["error"]["details"]["retryAfter"] == retry_after
                assert refused.headers["X-RateLimit-Reset"] == str(math.ceil(start + 60))

        # A minute after the first request it has left the window, and only it has.
        limits_clock.now = start + 60.05
        reopened = await tenant.get(LIST_ORDERS)
        assert reopened.status_code == 200, reopened.text
        assert reopened.headers["X-RateLimit-Remaining"] == "0"
        assert_rate_limited(await tenant.get(LIST_ORDERS), limit=3)

        limits_clock.now = start + 60.35
        assert (await tenant.get(LIST_ORDERS)).status_code == 200


# --- Redis -------------------------------------------------------------------------------


def redis_problem() -> str | None:
    """None when Redis answers PING at 127.0.0.1:6379, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            reply = connection.recv(16)
    except OSError as error:
        return f"Redis not reachable at 127.0.0.1:6379: {error}"
    if not reply.startswith(b"+PONG"):
        return f"Redis at 127.0.0.1:6379 answered {reply!r} to PING"
    return None


@pytest.fixture
def redis_url() -> str:
    problem = redis_problem()
    if problem is not None:
        if services_required():
            pytest.fail(f"REQUIRE_SERVICES=1 but {problem}")
        pytest.skip(problem)
    return REDIS_URL


async def delete_keys_of(tenant_ids: list[str]) -> int:
    """Remove the rate-limit keys the test made in Redis."""
    client: coredis.Redis[bytes] = coredis.Redis.from_url(REDIS_URL)
    deleted = 0
    try:
        for tenant_id in tenant_ids:
            keys = [key async for key in client.scan_iter(match=f"*{tenant_id}*")]
            if keys:
                deleted += await client.delete(keys)
    finally:
        client.connection_pool.disconnect()
    return deleted


@pytest.mark.redis
async def test_two_instances_sharing_redis_enforce_one_budget(
    database_url: str, redis_url: str
) -> None:
    settings = make_settings(
        database_url, rate_limit_default="10/minute", rate_limit_storage_uri=redis_url
    )
    tenant_ids: list[str] = []
    try:
        async with serving(settings) as first, serving(settings) as second:
            on_first = await new_tenant(first.db, first.http)
            tenant_ids.append(on_first.id)
            on_second = Tenant(on_first.id, on_first.name, on_first.api_key, second.http)

            for sent in range(1, 11):
                instance = on_first if sent % 2 else on_second
                response = await instance.get(LIST_ORDERS)
                assert response.status_code == 200, (sent, response.text)
                assert_rate_limit_headers(response, limit=10, remaining=10 - sent)

            assert_rate_limited(await on_first.get(LIST_ORDERS), limit=10)
            assert_rate_limited(await on_second.get(LIST_ORDERS), limit=10)
            assert_rate_limited(await on_second.post("/graphql", json=ORDERS_QUERY), limit=10)
    finally:
        deleted = await delete_keys_of(tenant_ids)
    assert deleted >= 1  # the budget really lived in Redis


@pytest.mark.redis
async def test_a_tenant_limit_in_redis_is_per_tenant(database_url: str, redis_url: str) -> None:
    settings = make_settings(
        database_url, rate_limit_default="2/minute", rate_limit_storage_uri=redis_url
    )
    tenant_ids: list[str] = []
    try:
        async with serving(settings) as first, serving(settings) as second:
            busy = await new_tenant(first.db, first.http)
            quiet = await new_tenant(second.db, second.http)
            tenant_ids += [busy.id, quiet.id]
            for _ in range(2):
                assert (await busy.get(LIST_ORDERS)).status_code == 200
            assert_rate_limited(await busy.get(LIST_ORDERS), limit=2)

            response = await quiet.get(LIST_ORDERS)
            assert response.status_code == 200
            assert_rate_limit_headers(response, limit=2, remaining=1)
    finally:
        await delete_keys_of(tenant_ids)


async def test_unreachable_redis_fails_open_counting_in_memory(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        database_url, rate_limit_default="3/minute", rate_limit_storage_uri=UNREACHABLE_REDIS_URL
    )
    caplog.set_level(logging.ERROR, logger="orders_api.ratelimit")
    async with serving(settings) as served:
        tenant = await new_tenant(served.db, served.http)
        started = time.monotonic()

        responses = [await tenant.get(LIST_ORDERS) for _ in range(3)]
        graphql = await tenant.post("/graphql", json={"query": "{ orders { total } }"})

        for sent, response in enumerate(responses, start=1):
            assert response.status_code == 200, response.text
            assert_rate_limit_headers(response, limit=3, remaining=3 - sent)
        # The in-memory fallback still counts: the 4th request is over the limit.
        assert_rate_limited(graphql, limit=3)
        assert time.monotonic() - started < 5, "a dead Redis must not hold requests up"

    errors = [r for r in caplog.records if r.name == "orders_api.ratelimit"]
    assert errors, "an unreachable Redis must be logged"
    assert all(record.levelno == logging.ERROR for record in errors)
    assert "127.0.0.1:1" in errors[0].getMessage()


LEAK_PROBE = """
import asyncio, sys, uuid
import httpx
from orders_api import tenants
from rest.app import create_app
from tests.conftest import make_settings

async def main(database_url: str, redis_url: str) -> None:
    app = create_app(make_settings(database_url, rate_limit_storage_uri=redis_url))
    async with app.router.lifespan_context(app):
        issued = await tenants.create_tenant_with_key(app.state.db, f"leak-{uuid.uuid4().hex}")
        print(f"tenant={issued.tenant_id}", flush=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/v1/orders", headers={"x-tenant-api-key": issued.api_key})
            assert response.headers["X-RateLimit-Remaining"] == "99", response.headers

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.redis
async def test_an_instance_shut_down_leaves_no_redis_connection_open(
    database_url: str, redis_url: str
) -> None:
    # In a process of its own: the leak shows when its event loop closes.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "always::ResourceWarning",
        "-c",
        LEAK_PROBE,
        database_url,
        redis_url,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    tenant_ids = re.findall(r"^tenant=(\w+)$", stdout.decode(), re.MULTILINE)
    assert len(tenant_ids) == 1, stdout.decode()
    await delete_keys_of(tenant_ids)

    assert process.returncode == 0, stderr.decode()
    assert "ResourceWarning" not in stderr.decode(), stderr.decode()


# --- failed authentication ---------------------------------------------------------------


def auth_middleware(app: Starlette) -> AuthMiddleware:
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, AuthMiddleware):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, AuthMiddleware), "the app has no AuthMiddleware"
    return layer


def unknown_key() -> str:
    return f"oma_{uuid.uuid4().hex[:12]}_{'A' * 43}"


@pytest.fixture
async def throttled(database_url: str) -> AsyncIterator[Served]:
    async with serving(make_settings(database_url, auth_failure_limit="5/minute")) as served:
        assert (await served.http.get("/healthz")).status_code == 200  # builds the stack
        yield served


@pytest.fixture
def lookups(throttled: Served, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key the auth middleware looks up in the database."""
    middleware = auth_middleware(throttled.app)
    looked_up: list[str] = []
    original = middleware.authenticate

    async def counting(db: Database, presented: str) -> Any:
        looked_up.append(presented)
        return await original(db, presented)

    monkeypatch.setattr(middleware, "authenticate", counting)
    return looked_up


async def test_failed_authentications_are_throttled_before_the_key_is_looked_up(
    throttled: Served, lookups: list[str]
) -> None:
    valid = await new_tenant(throttled.db, throttled.http)
    bad_keys = [unknown_key() for _ in range(6)]

    for key in bad_keys[:5]:
        response = await throttled.http.get(LIST_ORDERS, headers={"x-tenant-api-key": key})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "AuthenticationError"
    assert lookups == bad_keys[:5]

    sixth = await throttled.http.get(LIST_ORDERS, headers={"x-tenant-api-key": bad_keys[5]})
    assert_rate_limited(sixth, limit=5)
    # Even a valid key from that address waits: nothing is looked up any more.
    with_valid_key = await valid.get(LIST_ORDERS)
    assert_rate_limited(with_valid_key, limit=5)
    graphql = await valid.post("/graphql", json=ORDERS_QUERY)
    assert_rate_limited(graphql, limit=5)
    assert lookups == bad_keys[:5]


async def test_missing_keys_count_as_failed_authentications(
    throttled: Served, lookups: list[str]
) -> None:
    for _ in range(5):
        assert (await throttled.http.get(LIST_ORDERS)).status_code == 401

    assert_rate_limited(await throttled.http.post("/graphql", json=ORDERS_QUERY), limit=5)
    assert lookups == []


async def test_another_address_is_not_throttled(throttled: Served, lookups: list[str]) -> None:
    valid = await new_tenant(throttled.db, throttled.http)
    for _ in range(6):
        await throttled.http.get(LIST_ORDERS, headers={"x-tenant-api-key": unknown_key()})
    assert_rate_limited(await valid.get(LIST_ORDERS), limit=5)

    async with throttled.client_from(("10.0.0.9", 123)) as elsewhere:
        good = await elsewhere.get(LIST_ORDERS, headers=valid.headers)
        assert good.status_code == 200, good.text
        assert_rate_limit_headers(good, limit=100, remaining=99)
        for _ in range(5):
            bad = await elsewhere.get(LIST_ORDERS, headers={"x-tenant-api-key": unknown_key()})
            assert bad.status_code == 401
        assert_rate_limited(
            await elsewhere.get(LIST_ORDERS, headers={"x-tenant-api-key": unknown_key()}),
            limit=5,
        )
    assert len(lookups) == 5 + 1 + 5


async def test_successful_authentications_do_not_count_as_failures(
    database_url: str,
) -> None:
    settings = make_settings(database_url, auth_failure_limit="5/minute", auth_cache_seconds=0)
    async with serving(settings) as served:
        tenant = await new_tenant(served.db, served.http)
        for _ in range(12):
            assert (await tenant.get(LIST_ORDERS)).status_code == 200
        for _ in range(5):
            bad = await served.http.get(LIST_ORDERS, headers={"x-tenant-api-key": unknown_key()})
            assert bad.status_code == 401
        assert_rate_limited(await tenant.get(LIST_ORDERS), limit=5)
