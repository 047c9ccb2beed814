"""HTTP benchmark: seeds a database, starts a real server, and measures each route.

    .venv/bin/python bench/http_bench.py [--orders 100000] [--seconds 5] [--concurrency 16]
                                         [--database-url postgresql://postgres@127.0.0.1/bench]

Without --database-url it uses a fresh SQLite file in a temp folder. A PostgreSQL URL
must name an existing, empty database (it is migrated and filled). Prints one table row per
scenario: requests, requests/s, p50/p95 latency. The client runs on the same 2 cores as the
server, so the fastest routes measure the pair; compare runs, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db import migrate  # noqa: E402
from db.engine import Database  # noqa: E402
from db.models import Order, OrderItem, TimelineEvent  # noqa: E402
from gql.resolvers.identifiers import new_object_id  # noqa: E402
from orders_api import tenants  # noqa: E402
from orders_api.config import Settings  # noqa: E402

NAMES = ["John Doe", "Asha Patel", "Maria Garcia", "Wei Chen", "Fatima Khan", "Olu Ade"]
STATUSES = ["pending", "confirmed", "processing", "shipped", "delivered", "completed"]


async def seed(url: str, count: int) -> tuple[str, list[str]]:
    db = Database.connect(url)
    await migrate.upgrade(db.engine)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    # A benchmark is not abuse: lift the 100/minute default for its tenant.
    await tenants.create_tenant(db, name, rate_limit="100000000/minute")
    issued = await tenants.create_key(db, name, "bench")
    start = datetime.now(UTC) - timedelta(days=365)
    ids: list[str] = []
    batch = 5000
    for offset in range(0, count, batch):
        orders, items, events = [], [], []
        for n in range(offset, min(offset + batch, count)):
            at = start + timedelta(seconds=n * 300)
            order_id = new_object_id(at)
            ids.append(order_id)
            mobile = f"+9198{n:08d}"
            customer = NAMES[n % len(NAMES)]
            orders.append(
                {
                    "id": order_id,
                    "tenant_id": issued.tenant_id,
                    "reference_id": f"ORD{int(at.timestamp()):010d}{n % 10000:04d}",
                    "status": STATUSES[n % len(STATUSES)],
                    "mobile": mobile,
                    "mobile_digits": mobile[1:],
                    "name": customer,
                    "email": None,
                    "user_id": None,
                    "final_amount": Decimal("1798.00"),
                    "delivery_method": "Local Delivery",
                    "delivery_details": None,
                    "product_customizations": None,
                    "payment_info": None,
                    "payment_status": None,
                    "external_order_source": None,
                    "external_order_id": None,
                    "external_order_number": None,
                    "notes": None,
                    "search_text": f"{order_id}\n{customer.lower()}\n{mobile}",
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                    "timeline_seq": 1,
                }
            )
            for position in range(2):
                items.append(
                    {
                        "order_id": order_id,
                        "position": position,
                        "product_retailer_id": None,
                        "sku": None,
                        "name": f"Item {position}",
                        "quantity": 1,
                        "price": Decimal("899.00"),
                    }
                )
            events.append(
                {
                    "order_id": order_id,
                    "seq": 1,
                    "title": "Order Created",
                    "description": None,
                    "type": "info",
                    "metadata_": None,
                    "actor": "bench",
                    "status": "pending",
                    "created_at": at,
                }
            )
        async with db.writer() as session, session.begin():
            await session.execute(insert(Order), orders)
            await session.execute(insert(OrderItem), items)
            await session.execute(insert(TimelineEvent), events)
    await db.dispose()
    return issued.api_key, ids


def async_url(url: str) -> str:
    """The URL as the service would use it (postgresql:// → postgresql+asyncpg://)."""
    return Settings(_env_file=None, database_url=url).database_url  # type: ignore[call-arg]


@contextmanager
def running_server(url: str) -> Iterator[str]:
    """A uvicorn process serving the app on ``url``'s database; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "uvicorn", "rest.asgi:app", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


async def wait_until_healthy(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(
    client: httpx.AsyncClient,
    make: Callable[[], tuple[str, str, Any]],
    seconds: float,
    concurrency: int,
) -> tuple[int, float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            method, url, body = make()
            started = time.perf_counter()
            response = await client.request(method, url, json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                failures += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - began, latencies, failures


PAGE_QUERY = """{ orders(limit: 100) { total orders { id referenceId finalAmount
  productItems { name price } timeline { id title } } } }"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    url = (
        async_url(args.database_url)
        if args.database_url
        else f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    )
    began = time.perf_counter()
    key, ids = await seed(url, args.orders)
    print(f"seeded {args.orders} orders in {time.perf_counter() - began:.1f}s ({url})")

    with running_server(url) as base:
        async with httpx.AsyncClient(
            base_url=base,
            headers={"x-tenant-api-key": key},
            timeout=30,
            limits=httpx.Limits(max_connections=args.concurrency),
        ) as client:
            await wait_until_healthy(client)
            new_order = {
                "mobile": "+919876543210",
                "product_items": [{"name": "Widget", "quantity": 2, "price": 599}],
            }
            scenarios: list[tuple[str, Callable[[], tuple[str, str, Any]]]] = [
                ("GET /healthz", lambda: ("GET", "/healthz", None)),
                ("GET /v1/orders/{id}", lambda: ("GET", f"/v1/orders/{random.choice(ids)}", None)),
                ("GET /v1/orders?limit=100", lambda: ("GET", "/v1/orders?limit=100", None)),
                (
                    "GET /v1/orders?status=shipped&limit=100",
                    lambda: ("GET", "/v1/orders?status=shipped&limit=100", None),
                ),
                ("GET /v1/orders?page=500", lambda: ("GET", "/v1/orders?page=500", None)),
                (
                    "GET /v1/orders?searchTerm=asha (1 in 6)",
                    lambda: ("GET", "/v1/orders?searchTerm=asha", None),
                ),
                (
                    "GET /v1/orders?searchTerm=<7 digits> (few)",
                    lambda: (
                        "GET",
                        f"/v1/orders?searchTerm=9800{random.randint(0, 999):03d}",
                        None,
                    ),
                ),
                ("POST /v1/orders", lambda: ("POST", "/v1/orders", new_order)),
                (
                    "GraphQL orders(limit:100)+items+timeline",
                    lambda: ("POST", "/graphql", {"query": PAGE_QUERY}),
                ),
            ]
            print(
                f"\n{'scenario':<44} {'requests':>9} {'req/s':>9} {'p50 ms':>8} "
                f"{'p95 ms':>8} {'errors':>7}"
            )
            for name, make in scenarios:
                count, elapsed, latencies, failures = await measure(
                    client, make, args.seconds, args.concurrency
                )
                latencies.sort()
                p50 = statistics.median(latencies) * 1000
                p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
                print(
                    f"{name:<44} {count:>9} {count / elapsed:>9.1f} {p50:>8.1f} "
                    f"{p95:>8.1f} {failures:>7}"
                )


if __name__ == "__main__":
    asyncio.run(main())
