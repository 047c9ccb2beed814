"""Issue 5, operations: ``/metrics`` in Prometheus text format (requests by route template
and status, a latency histogram, rate-limit rejections), one structured access-log line
per request, JSON log lines, and a graceful shutdown that finishes in-flight requests."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from gql.resolvers import orders as order_resolvers
from orders_api.config import Settings
from orders_api.logs import JSONFormatter
from rest.app import create_app
from tests.conftest import Tenant, make_settings, new_tenant
from tests.contract import API_KEY
from tests.http_helpers import free_port, lifespan_client

ACCESS_FIELDS = {"request_id", "tenant", "method", "path", "status", "duration_ms"}
ORDER_ROUTE = "/v1/orders/{order_id}"


# --- helpers -------------------------------------------------------------------------------


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Starlette, Tenant]]:
    application = create_app(settings)
    async with lifespan_client(application) as http:
        yield application, await new_tenant(application.state.db, http)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> tuple[str, Samples]:
    """``/metrics`` as text and as {(sample name, labels): value}."""
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def requests_total(samples: Samples, route: str, method: str, status: str) -> float:
    key = ("orders_api_requests_total", labels(route=route, method=method, status=status))
    return samples.get(key, 0.0)


# --- /metrics ------------------------------------------------------------------------------


async def test_metrics_count_requests_by_route_template_never_raw_ids(tenant: Tenant) -> None:
    order = await tenant.create_order()
    for order_id in (order["_id"], order["_id"], order["referenceId"]):
        assert (await tenant.get(f"/v1/orders/{order_id}")).status_code == 200
    missing = "0123456789abcdef01234567"
    assert (await tenant.get(f"/v1/orders/{missing}")).status_code == 404
    assert (await tenant.get(f"/v1/orders/{order['_id']}/timeline")).status_code == 200

    text, samples = await scrape(tenant.http)

    assert requests_total(samples, ORDER_ROUTE, "GET", "200") == 3
    assert requests_total(samples, ORDER_ROUTE, "GET", "404") == 1
    assert requests_total(samples, "/v1/orders", "POST", "201") == 1
    assert requests_total(samples, f"{ORDER_ROUTE}/timeline", "GET", "200") == 1
    # The exposition line itself, whatever order the labels come in.
    wanted = {'method="GET"', f'route="{ORDER_ROUTE}"', 'status="200"'}
    assert [
        line
        for line in text.splitlines()
        if line.startswith("orders_api_requests_total{")
        and set(line[line.index("{") + 1 : line.rindex("}")].split(",")) == wanted
    ] == [f"orders_api_requests_total{{{','.join(sorted(wanted))}}} 3.0"]
    for raw in (order["_id"], order["referenceId"], missing):
        assert raw not in text


async def test_metrics_never_label_unknown_paths(tenant: Tenant) -> None:
    probes = [f"/v1/no-such-{n}-{time.time_ns()}" for n in range(3)]
    for path in probes:
        assert (await tenant.get(path)).status_code == 404

    text, samples = await scrape(tenant.http)

    for path in probes:
        assert path not in text
    routes_of_404s = {
        dict(label_set)["route"]
        for (name, label_set), value in samples.items()
        if name == "orders_api_requests_total" and dict(label_set)["status"] == "404"
    }
    assert len(routes_of_404s) == 1  # one shared label for every unmatched path


async def test_metrics_have_a_latency_histogram_per_route(tenant: Tenant) -> None:
    for _ in range(4):
        assert (await tenant.get("/v1/orders")).status_code == 200
    assert (await tenant.post("/graphql", json={"query": "{ orders { total } }"})).is_success

    text, samples = await scrape(tenant.http)

    assert "# TYPE orders_api_request_duration_seconds histogram" in text
    assert "orders_api_request_duration_seconds_bucket{" in text
    buckets = {
        dict(label_set)["le"]: value
        for (name, label_set), value in samples.items()
        if name == "orders_api_request_duration_seconds_bucket"
        and dict(label_set)["route"] == "/v1/orders"
    }
    assert buckets["+Inf"] == 4
    counts = [buckets[le] for le in sorted(buckets, key=float)]
    assert counts == sorted(counts)  # cumulative
    count_key = ("orders_api_request_duration_seconds_count", labels(route="/v1/orders"))
    assert samples[count_key] == 4
    sum_key = ("orders_api_request_duration_seconds_sum", labels(route="/v1/orders"))
    assert 0 < samples[sum_key] < 60
    graphql_count = ("orders_api_request_duration_seconds_count", labels(route="/graphql"))
    assert samples[graphql_count] == 1


async def test_metrics_count_rate_limit_rejections(database_url: str) -> None:
    settings = make_settings(
        database_url, rate_limit_default="2/minute", auth_failure_limit="1/minute"
    )
    async with serving(settings) as (_, tenant):
        _, before = await scrape(tenant.http)
        assert before.get(("orders_api_rate_limited_total", labels(limit="tenant")), 0) == 0

        statuses = [(await tenant.get("/v1/orders")).status_code for _ in range(5)]
        assert statuses == [200, 200, 429, 429, 429]
        bad_key = {"x-tenant-api-key": "oma_000000000000_" + "A" * 43}
        bad = [(await tenant.http.get("/v1/orders", headers=bad_key)).status_code for _ in "ab"]
        assert bad == [401, 429]

        text, samples = await scrape(tenant.http)

    assert samples[("orders_api_rate_limited_total", labels(limit="tenant"))] == 3
    assert samples[("orders_api_rate_limited_total", labels(limit="auth_failures"))] == 1
    assert 'orders_api_rate_limited_total{limit="tenant"} 3.0' in text
    # Refused before routing, yet counted under the route they were meant for.
    assert requests_total(samples, "/v1/orders", "GET", "429") == 4
    assert requests_total(samples, "/v1/orders", "GET", "401") == 1


async def test_requests_refused_before_routing_keep_their_route_template(
    database_url: str,
) -> None:
    async with serving(make_settings(database_url, max_body_bytes=2048)) as (_, tenant):
        secret_id = "ORD-SECRET-4711"
        assert (await tenant.http.get(f"/v1/orders/{secret_id}")).status_code == 401
        too_big = {"orders": [{"notes": "x" * 4096}]}
        assert (await tenant.post("/v1/orders/bulk", json=too_big)).status_code == 413
        assert (await tenant.get(f"/v1/nothing/{secret_id}")).status_code == 404

        text, samples = await scrape(tenant.http)

    assert requests_total(samples, ORDER_ROUTE, "GET", "401") == 1
    assert requests_total(samples, "/v1/orders/bulk", "POST", "413") == 1
    assert requests_total(samples, "unmatched", "GET", "404") == 1
    assert secret_id not in text


async def test_metrics_need_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert "# TYPE orders_api_requests_total counter" in response.text
    assert "# TYPE orders_api_request_duration_seconds histogram" in response.text
    assert "# TYPE orders_api_rate_limited_total counter" in response.text


async def test_metrics_can_be_switched_off(database_url: str) -> None:
    async with serving(make_settings(database_url, metrics_enabled=False)) as (_, tenant):
        response = await tenant.get("/metrics")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFoundError"


# --- the access log ------------------------------------------------------------------------


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "orders_api.access"]


def access_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name, "<missing>") for name in ACCESS_FIELDS}


async def test_one_access_log_record_per_request(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    order = await tenant.create_order()
    caplog.set_level(logging.INFO, logger="orders_api.access")
    caplog.clear()
    requests = [
        ("GET", f"/v1/orders/{order['_id']}", tenant.headers, 200, tenant.id),
        ("GET", "/v1/orders/0123456789abcdef01234567", tenant.headers, 404, tenant.id),
        ("POST", "/graphql", tenant.headers, 200, tenant.id),
        ("GET", "/v1/orders", {}, 401, None),
        ("GET", "/healthz", {}, 200, None),
    ]

    responses = []
    for method, path, headers, status, _ in requests:
        body = {"query": "{ orders { total } }"} if method == "POST" else None
        response = await tenant.http.request(method, path, headers=headers, json=body)
        assert response.status_code == status
        responses.append(response)

    records = access_records(caplog)
    assert len(records) == len(requests)
    for record, response, (method, path, _, status, tenant_id) in zip(
        records, responses, requests, strict=True
    ):
        fields = access_fields(record)
        duration = fields.pop("duration_ms")
        assert fields == {
            "request_id": response.headers["X-Request-ID"],
            "tenant": tenant_id,
            "method": method,
            "path": path,
            "status": status,
        }
        assert isinstance(duration, float | int)
        assert 0 <= duration < 60_000
        assert record.levelno == logging.INFO


async def test_the_access_log_carries_the_clients_request_id(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orders_api.access")

    response = await tenant.get("/v1/orders", headers={"X-Request-ID": "trace-42.a"})

    assert response.headers["X-Request-ID"] == "trace-42.a"
    [record] = access_records(caplog)
    assert access_fields(record)["request_id"] == "trace-42.a"


async def test_refused_and_failed_requests_are_logged_once(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    caplog.set_level(logging.INFO, logger="orders_api.access")
    async with serving(make_settings(database_url, rate_limit_default="1/minute")) as (_, tenant):
        monkeypatch.setattr(order_resolvers, "list_orders", broken)
        caplog.clear()
        failed = await tenant.get("/v1/orders")
        large = await tenant.post(
            "/v1/orders", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "x"}
        )
        refused = await tenant.get("/v1/orders")

    assert [failed.status_code, large.status_code, refused.status_code] == [500, 413, 429]
    records = access_records(caplog)
    assert [access_fields(r)["status"] for r in records] == [500, 413, 429]
    assert [access_fields(r)["request_id"] for r in records] == [
        failed.headers["X-Request-ID"],
        large.headers["X-Request-ID"],
        refused.headers["X-Request-ID"],
    ]


# --- JSON log lines ------------------------------------------------------------------------


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What ``orders_api`` logs, formatted by ``JSONFormatter``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("orders_api")
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


async def test_each_request_is_one_json_line_with_its_fields(
    tenant: Tenant, json_lines: io.StringIO
) -> None:
    first = await tenant.get("/v1/orders")
    second = await tenant.get("/v1/orders/nope")

    lines = json_lines.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    access = [entry for entry in entries if entry["logger"] == "orders_api.access"]
    assert len(access) == 2
    for entry, response in zip(access, (first, second), strict=True):
        assert set(entry) >= ACCESS_FIELDS
        assert entry["request_id"] == response.headers["X-Request-ID"]
        assert entry["tenant"] == tenant.id
        assert entry["method"] == "GET"
        assert entry["status"] == response.status_code
        assert entry["level"] == "info"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert [entry["path"] for entry in access] == ["/v1/orders", "/v1/orders/nope"]


def test_the_json_formatter_writes_one_object_per_line() -> None:
    formatter = JSONFormatter()
    record = logging.LogRecord(
        "orders_api.access", logging.INFO, __file__, 1, "request", None, None
    )
    extra = {
        "request_id": "abc",
        "tenant": "t1",
        "method": "PUT",
        "path": "/v1/orders/x",
        "status": 409,
        "duration_ms": 1.25,
    }
    record.__dict__.update(extra)
    try:
        raise ValueError("multi\nline")
    except ValueError:
        failed = logging.LogRecord(
            "orders_api.errors", logging.ERROR, __file__, 1, "boom %s", ("x",), sys.exc_info()
        )

    line = formatter.format(record)
    failure_line = formatter.format(failed)

    assert "\n" not in line
    assert json.loads(line) == {
        "time": json.loads(line)["time"],
        "level": "info",
        "logger": "orders_api.access",
        "message": "request",
        **extra,
    }
    assert "\n" not in failure_line
    failure = json.loads(failure_line)
    assert failure["message"] == "boom x"
    assert failure["level"] == "error"
    assert "ValueError: multi\nline" in failure["exception"]


# --- graceful shutdown ---------------------------------------------------------------------


def server_environment(database_url: str, port: int) -> dict[str, str]:
    ours = ("ORDERS_API", "RATE_LIMIT", "DATABASE", "AUTO_MIGRATE", "GRAPHQL", "MAX_BODY")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ours)}
    env.update(
        DATABASE_URL=database_url,
        ORDERS_API_ENV="development",
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="info",
    )
    return env


async def read_api_key(process: asyncio.subprocess.Process) -> str:
    """The first-run key the server prints on an empty database."""
    assert process.stdout is not None
    while line := await asyncio.wait_for(process.stdout.readline(), timeout=60):
        if found := API_KEY.search(line.decode(errors="replace")):
            return found.group()
    raise AssertionError("the server printed no API key")


async def wait_until_serving(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            assert process.returncode is None, "the server exited while starting"
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start within 60 s")


async def test_sigterm_finishes_the_in_flight_request_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("orders-api")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=tmp_path,
        env=server_environment(database_url, port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        api_key = await read_api_key(process)
        await wait_until_serving(base_url, process)

        body = json.dumps(
            {"mobile": "+15550100", "product_items": [{"name": "Slow", "quantity": 2, "price": 5}]}
        ).encode()
        first_part_sent = asyncio.Event()
        release_rest = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield body[:20]
            first_part_sent.set()
            await release_rest.wait()
            yield body[20:]

        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            in_flight = asyncio.create_task(
                http.post(
                    "/v1/orders",
                    content=slow_body(),
                    headers={"x-tenant-api-key": api_key, "content-type": "application/json"},
                )
            )
            await asyncio.wait_for(first_part_sent.wait(), timeout=10)
            await asyncio.sleep(0.5)  # the server has the request and waits for its body

            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)

            # Shutting down: still running for the request in flight, taking no new ones.
            assert process.returncode is None
            async with httpx.AsyncClient(base_url=base_url, timeout=2) as newcomer:
                with pytest.raises(httpx.TransportError):
                    await newcomer.get("/healthz")

            release_rest.set()
            response = await asyncio.wait_for(in_flight, timeout=30)

        assert response.status_code == 201, response.text
        order = response.json()["order"]
        assert order["final_amount"] == 10
        assert order["product_items"][0]["name"] == "Slow"

        _, stderr = await asyncio.wait_for(process.communicate(), timeout=40)
        access_lines = [
            json.loads(line)
            for line in stderr.decode().splitlines()
            if line.startswith("{") and '"orders_api.access"' in line
        ]
        assert [(e["method"], e["path"], e["status"]) for e in access_lines][-1] == (
            "POST",
            "/v1/orders",
            201,
        )
        # A requested, clean shutdown is a success for the supervisor.
        assert process.returncode == 0, (
            f"exit status {process.returncode} after a graceful shutdown"
        )
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
