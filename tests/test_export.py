"""CSV export (SPEC §9): GET /v1/orders/export.

Headers and file name, the exact header row, the list's filters and sort, RFC 4180 quoting
(read back with Python's ``csv``), the formula-injection guard, tenant isolation, errors
before any CSV, and a 200,000-order export that streams in flat memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import io
import os
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.types import Message

from db.engine import Database
from db.models import Order
from gql.resolvers.identifiers import new_object_id
from tests.conftest import Tenant, new_tenant
from tests.contract import (
    BAD_END_DATE,
    BAD_START_DATE,
    MOBILE_MESSAGE,
    START_AFTER_END,
    UNAUTHORIZED,
)
from tests.http_helpers import SetClock, at, clock_setter, order_at

HEADER = "Order ID,Reference ID,Customer Name,Mobile,Status,Amount,Created Date,Updated Date"

Params = dict[str, str]


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> SetClock:
    return clock_setter(monkeypatch)


async def export(tenant: Tenant, params: Params | None = None) -> httpx.Response:
    return await tenant.get("/v1/orders/export", params=params or {})


def csv_rows(response: httpx.Response) -> list[list[str]]:
    """The body read back by Python's ``csv`` module, header row checked and dropped."""
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8")
    assert text.startswith(HEADER + "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == HEADER.split(",")
    assert all(len(row) == 8 for row in rows)
    return rows[1:]


def ids_of(rows: list[list[str]]) -> list[str]:
    return [row[0] for row in rows]


async def listed_ids(tenant: Tenant, params: Params) -> list[str]:
    response = await tenant.get("/v1/orders", params={**params, "limit": "100"})
    assert response.status_code == 200, response.text
    return [order["_id"] for order in response.json()["orders"]]


# --- response headers and header row -------------------------------------------------------


async def test_export_headers_file_name_and_header_row(tenant: Tenant, set_clock: SetClock) -> None:
    await order_at(tenant, set_clock, "2024-06-01T10:00:00")
    set_clock(at("2024-06-21T10:00:00"))

    response = await export(tenant)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert response.headers["content-disposition"] == "attachment; filename=orders-2024-06-21.csv"
    assert response.text.split("\r\n")[0] == HEADER
    assert response.headers["x-request-id"]


async def test_export_file_name_is_today_in_the_tenants_timezone(
    db: Database, client: httpx.AsyncClient, set_clock: SetClock
) -> None:
    kolkata = await new_tenant(db, client, timezone="Asia/Kolkata")
    set_clock(at("2024-06-21T20:00:00"))  # June 22, 01:30 in Kolkata

    response = await export(kolkata)

    assert response.status_code == 200
    assert response.headers["content-disposition"] == "attachment; filename=orders-2024-06-22.csv"


async def test_export_of_an_empty_tenant_is_the_header_row_alone(tenant: Tenant) -> None:
    response = await export(tenant)

    assert response.status_code == 200
    assert response.content == (HEADER + "\r\n").encode()


async def test_export_row_holds_the_documented_columns(tenant: Tenant, set_clock: SetClock) -> None:
    created = await order_at(
        tenant,
        set_clock,
        "2024-06-21T14:35:12",
        name="John Doe",
        product_items=[
            {"name": "Premium T-Shirt", "quantity": 2, "price": 599.00},
            {"name": "Classic Jeans", "quantity": 1, "price": 1299.00},
        ],
    )
    set_clock(at("2024-06-21T15:20:30"))
    moved = await tenant.put(f"/v1/orders/{created['_id']}/status", json={"status": "shipped"})
    assert moved.status_code == 200, moved.text

    rows = csv_rows(await export(tenant))

    assert rows == [
        [
            created["_id"],
            created["referenceId"],
            "John Doe",
            "+919876543210",
            "shipped",
            "2497.00",
            "2024-06-21T14:35:12Z",
            "2024-06-21T15:20:30Z",
        ]
    ]


@pytest.mark.parametrize(
    ("amount", "cell"),
    [(10, "10.00"), (0.5, "0.50"), (1250.5, "1250.50"), (0, "0.00"), (0.1, "0.10")],
)
async def test_export_amount_has_two_decimals(tenant: Tenant, amount: float, cell: str) -> None:
    await tenant.create_order(final_amount=amount)

    rows = csv_rows(await export(tenant))

    assert [row[5] for row in rows] == [cell]


async def test_export_order_without_name_has_an_empty_cell(tenant: Tenant) -> None:
    await tenant.create_order()

    rows = csv_rows(await export(tenant))

    assert rows[0][2] == ""


# --- order, filters and sort --------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    alice: str
    bob: str
    carol: str
    dan: str
    eve: str


@pytest.fixture
async def catalogue(tenant: Tenant, set_clock: SetClock) -> Catalogue:
    alice = await order_at(
        tenant,
        set_clock,
        "2024-06-01T10:00:00",
        name="Alice Smith",
        mobile="+919876543210",
        final_amount=100,
    )
    bob = await order_at(
        tenant,
        set_clock,
        "2024-06-02T10:00:00",
        name="Bob Jones",
        mobile="+91 98123 45678",
        final_amount=300,
        status="shipped",
    )
    carol = await order_at(
        tenant,
        set_clock,
        "2024-06-03T10:00:00",
        name="Carol Smith",
        mobile="91-98765-43210",
        final_amount=200,
        status="cancelled",
    )
    dan = await order_at(
        tenant,
        set_clock,
        "2024-06-04T10:00:00",
        name="Dan Brown",
        mobile="+1 415 555 0100",
        final_amount=50,
        status="delivered",
    )
    # Same second as Dan: the tie is broken by _id.
    eve = await order_at(
        tenant,
        set_clock,
        "2024-06-04T10:00:00",
        name="Eve Adams",
        mobile="+1 415 555 0199",
        final_amount=75,
    )
    return Catalogue(
        alice=alice["_id"], bob=bob["_id"], carol=carol["_id"], dan=dan["_id"], eve=eve["_id"]
    )


async def test_export_rows_are_in_the_lists_default_order(
    tenant: Tenant, catalogue: Catalogue
) -> None:
    rows = csv_rows(await export(tenant))

    c = catalogue
    newest_first = [c.eve, c.dan, c.carol, c.bob, c.alice]
    assert ids_of(rows) == newest_first
    assert ids_of(rows) == await listed_ids(tenant, {})


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"status": "pending"}, ["eve", "alice"], id="status"),
        pytest.param({"status": "shipped,cancelled"}, ["carol", "bob"], id="statuses"),
        pytest.param({"status": "DELIVERED"}, ["dan"], id="status-any-case"),
        pytest.param(
            {"startDate": "2024-06-02", "endDate": "2024-06-03"}, ["carol", "bob"], id="dates"
        ),
        pytest.param(
            {"startDate": "2024-06-03T10:00:00Z"}, ["eve", "dan", "carol"], id="start-date-time"
        ),
        pytest.param({"endDate": "2024-06-01"}, ["alice"], id="end-date-whole-day"),
        pytest.param({"searchTerm": "SMITH"}, ["carol", "alice"], id="search-name"),
        pytest.param({"searchTerm": "98765 43210"}, ["carol", "alice"], id="search-digits"),
        pytest.param({"mobile": "919876543210"}, ["carol", "alice"], id="mobile"),
        pytest.param({"mobile": "9876543210"}, [], id="mobile-is-exact"),
        pytest.param(
            {"sortBy": "final_amount", "sortDirection": "asc"},
            ["dan", "eve", "alice", "carol", "bob"],
            id="sort-amount-asc",
        ),
        pytest.param(
            {"sortBy": "name", "sortDirection": "desc"},
            ["eve", "dan", "carol", "bob", "alice"],
            id="sort-name-desc",
        ),
        pytest.param(
            {"sortBy": "created_at", "sortDirection": "asc"},
            ["alice", "bob", "carol", "dan", "eve"],
            id="sort-created-asc",
        ),
        pytest.param(
            {"status": "pending,cancelled", "searchTerm": "smith", "sortDirection": "asc"},
            ["alice", "carol"],
            id="combined",
        ),
    ],
)
async def test_export_honours_the_list_filters_and_sort(
    tenant: Tenant, catalogue: Catalogue, params: Params, expected: list[str]
) -> None:
    rows = csv_rows(await export(tenant, params))

    assert ids_of(rows) == [getattr(catalogue, name) for name in expected]
    assert ids_of(rows) == await listed_ids(tenant, params)


@pytest.mark.parametrize("mobile", ["+91 98765 43210", "+919876543210", "91-98765-43210"])
async def test_export_mobile_filter_takes_any_punctuation(
    tenant: Tenant, catalogue: Catalogue, mobile: str
) -> None:
    rows = csv_rows(await export(tenant, {"mobile": mobile}))

    assert ids_of(rows) == [catalogue.carol, catalogue.alice]


async def test_export_never_shows_another_tenants_orders(
    tenant: Tenant, other_tenant: Tenant, set_clock: SetClock
) -> None:
    ours = await order_at(tenant, set_clock, "2024-06-01T10:00:00", name="Our Customer")
    theirs = await order_at(other_tenant, set_clock, "2024-06-01T10:00:00", name="Their Customer")

    everything = csv_rows(await export(tenant))
    searched = csv_rows(await export(tenant, {"searchTerm": "their"}))
    by_id = csv_rows(await export(tenant, {"searchTerm": theirs["_id"]}))
    other_side = csv_rows(await export(other_tenant))

    assert ids_of(everything) == [ours["_id"]]
    assert searched == []
    assert by_id == []
    assert ids_of(other_side) == [theirs["_id"]]


# --- quoting and the injection guard ----------------------------------------------------------


AWKWARD_NAMES = [
    "Doe, John",
    'The "Boss" Smith',
    "Line one\nLine two",
    "Carriage\r\nreturn",
    "Zoë Ōsaka 山田太郎 ✓ Ñandú",
    'All, "of"\nthem',
    "Trailing space ",
    "'Quoted already'",
]


async def test_awkward_names_round_trip_through_the_csv_module(
    tenant: Tenant, set_clock: SetClock
) -> None:
    created: dict[str, str] = {}
    for minute, name in enumerate(AWKWARD_NAMES):
        order = await order_at(tenant, set_clock, f"2024-06-01T10:{minute:02d}:00", name=name)
        created[order["_id"]] = name

    response = await export(tenant)
    rows = csv_rows(response)

    assert {row[0]: row[2] for row in rows} == created
    assert len(rows) == len(AWKWARD_NAMES)
    # RFC 4180: fields with commas, quotes or line breaks are quoted, quotes doubled.
    assert '"Doe, John"' in response.text
    assert '"The ""Boss"" Smith"' in response.text
    assert '"Line one\nLine two"' in response.text
    assert "Zoë Ōsaka 山田太郎 ✓ Ñandú".encode() in response.content


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rCarriage", "'\rCarriage"),
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("-12.50", "-12.50"),
        ("+42", "+42"),
        ("-7", "-7"),
        ("Plain Name", "Plain Name"),
        ("Mary-Jane = Smith", "Mary-Jane = Smith"),
    ],
)
async def test_formula_injection_guard_on_names(tenant: Tenant, name: str, cell: str) -> None:
    await tenant.create_order(name=name)

    rows = csv_rows(await export(tenant))

    assert rows[0][2] == cell


@pytest.mark.parametrize(
    ("mobile", "cell"),
    [
        ("+919876543210", "+919876543210"),
        ("919876543210", "919876543210"),
        ("-9876543210", "-9876543210"),
        ("=1+2*9876543210", "'=1+2*9876543210"),
        ("@9876543210 x", "'@9876543210 x"),
    ],
)
async def test_formula_injection_guard_on_mobiles(tenant: Tenant, mobile: str, cell: str) -> None:
    await tenant.create_order(mobile=mobile)

    rows = csv_rows(await export(tenant))

    assert rows[0][3] == cell


# --- errors come as JSON, before any CSV ------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"page": "1"}, "Unknown query parameter: page", id="page"),
        pytest.param({"limit": "10"}, "Unknown query parameter: limit", id="limit"),
        pytest.param(
            {"page": "2", "limit": "50"}, "Unknown query parameters: limit, page", id="both"
        ),
        pytest.param({"format": "xlsx"}, "Unknown query parameter: format", id="unknown"),
        pytest.param(
            {"status": "bogus"},
            "Invalid status 'bogus'. Allowed: pending, confirmed, processing, shipped, "
            "delivered, completed, cancelled, refunded",
            id="status",
        ),
        pytest.param(
            {"startDate": "2024-13-01"},
            BAD_START_DATE,
            id="start-date",
        ),
        pytest.param(
            {"endDate": "soon"},
            BAD_END_DATE,
            id="end-date",
        ),
        pytest.param(
            {"startDate": "2024-06-05", "endDate": "2024-06-01"},
            START_AFTER_END,
            id="start-after-end",
        ),
        pytest.param(
            {"sortBy": "price"},
            "sortBy must be one of: created_at, updated_at, final_amount, status, name, "
            "mobile, referenceId",
            id="sort-by",
        ),
        pytest.param(
            {"sortDirection": "sideways"}, "sortDirection must be asc or desc", id="direction"
        ),
        pytest.param(
            {"searchTerm": "x" * 201}, "searchTerm must be at most 200 characters", id="search"
        ),
        pytest.param({"mobile": "abc"}, MOBILE_MESSAGE, id="mobile"),
    ],
)
async def test_bad_parameters_are_a_json_400_not_a_csv(
    tenant: Tenant, params: Params, message: str
) -> None:
    await tenant.create_order(name="Somebody")

    response = await export(tenant, params)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert "content-disposition" not in response.headers
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "ValidationError"
    assert body["error"]["message"] == message
    assert "Order ID" not in response.text


async def test_export_needs_an_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/orders/export")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_export_path_is_never_taken_for_an_order_id(tenant: Tenant) -> None:
    await tenant.create_order()

    put = await tenant.put("/v1/orders/export", json={"updates": {"name": "x"}})
    timeline = await tenant.get("/v1/orders/export/timeline")

    assert put.status_code == 405
    assert put.json()["error"]["code"] == "MethodNotAllowedError"
    assert timeline.status_code == 404
    assert timeline.json()["error"]["code"] == "NotFoundError"


# --- 200,000 orders in flat memory ------------------------------------------------------------


class _StreamedBody(httpx.AsyncByteStream):
    def __init__(
        self, messages: asyncio.Queue[Message | None], task: asyncio.Task[None], done: asyncio.Event
    ) -> None:
        self._messages = messages
        self._task = task
        self._done = done
        self._complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._complete:
            message = await self._messages.get()
            if message is None:
                break
            if message["type"] != "http.response.body":
                continue
            if message.get("body"):
                yield message["body"]
            self._complete = not message.get("more_body", False)

    async def aclose(self) -> None:
        self._done.set()
        if not self._complete:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Like ``httpx.ASGITransport``, but hands each body chunk over as the app sends it.

    httpx's own ASGI transport collects the whole body before returning the response, so
    it would hold the entire CSV in memory itself. Here the app waits (a queue of one) until
    the client has taken the previous chunk, as over a real socket.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request_body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        messages: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=1)
        done = asyncio.Event()
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": request_body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await messages.put(message)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await messages.put(None)

        task = asyncio.create_task(run())
        start = await messages.get()
        if start is None:
            await task
            raise AssertionError("the app sent no response")
        assert start["type"] == "http.response.start"
        return httpx.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_StreamedBody(messages, task, done),
        )


BULK_ORDERS = 200_000
BULK_BATCH = 10_000
MAX_GROWTH_BYTES = 50 * 1024 * 1024


async def insert_orders(db: Database, tenant_id: str, count: int, first: datetime) -> None:
    """``count`` orders one minute apart from ``first``, straight into the table (no items
    or events: the export reads neither). Unset optional columns stay NULL."""
    for offset in range(0, count, BULK_BATCH):
        rows = []
        for n in range(offset, min(offset + BULK_BATCH, count)):
            created = first + timedelta(minutes=n)
            order_id = new_object_id(created)
            mobile = f"+9198{n:08d}"
            name = f"Customer {n}, Jr."
            rows.append(
                {
                    "id": order_id,
                    "tenant_id": tenant_id,
                    "reference_id": f"BULK{n:08d}",
                    "status": "pending",
                    "mobile": mobile,
                    "mobile_digits": mobile[1:],
                    "name": name,
                    "final_amount_cents": Decimal("1798.00"),  # Money: amount in, cents stored
                    "delivery_method": "Local Delivery",
                    # Empty: the export never searches, and indexing 200,000 texts in the
                    # trigram search index would only slow the seeding down.
                    "search_text": "",
                    "created_at": created,
                    "updated_at": created,
                    "version": 1,
                    "timeline_seq": 0,
                }
            )
        async with db.writer() as session, session.begin():
            await session.execute(insert(Order.__table__), rows)  # Core: column names


def resident_bytes() -> int | None:
    """This process's resident memory now, or None where /proc is not available."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


async def test_export_of_200000_orders_streams_in_flat_memory(
    app: Starlette, db: Database, client: httpx.AsyncClient
) -> None:
    shop = await new_tenant(db, client, key_name=f"bulk-{uuid.uuid4().hex[:6]}")
    first = at("2023-01-01T00:00:00")
    seeding = time.perf_counter()
    await insert_orders(db, shop.id, BULK_ORDERS, first)
    seeded = time.perf_counter() - seeding

    transport = StreamingASGITransport(app)
    rows = chunks = size = 0
    head = b""
    tail = b""
    gc.collect()
    started = time.perf_counter()
    # Resident memory where the OS tells it (Linux): no tracing overhead, so the export runs
    # at full speed. Elsewhere, tracemalloc (about four times slower).
    use_rss = resident_bytes() is not None
    if not use_rss:
        tracemalloc.start()
    peak_rss = baseline_rss = resident_bytes() or 0
    try:
        baseline, _ = tracemalloc.get_traced_memory() if not use_rss else (0, 0)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as streaming,
            streaming.stream("GET", "/v1/orders/export", headers=shop.headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
            async for chunk in response.aiter_bytes():
                chunks += 1
                size += len(chunk)
                rows += chunk.count(b"\n")
                if len(head) < 400:
                    head = (head + chunk)[:400]
                tail = (tail + chunk)[-200:]
                if use_rss:
                    peak_rss = max(peak_rss, resident_bytes() or 0)
        _, peak = tracemalloc.get_traced_memory() if not use_rss else (0, 0)
    finally:
        if not use_rss:
            tracemalloc.stop()
    elapsed = time.perf_counter() - started
    growth = peak_rss - baseline_rss if use_rss else peak - baseline

    print(
        f"\nexport of {BULK_ORDERS} orders on {db.dialect}: seeded in {seeded:.1f}s, "
        f"streamed {size / 1e6:.1f} MB in {chunks} chunks in {elapsed:.1f}s, "
        f"peak {'resident' if use_rss else 'traced'} memory growth {growth / 1e6:.1f} MB"
    )
    assert rows == BULK_ORDERS + 1  # the header row and one line per order
    assert chunks > 1
    newest = first + timedelta(minutes=BULK_ORDERS - 1)
    newest_row = f'BULK{BULK_ORDERS - 1:08d},"Customer {BULK_ORDERS - 1}, Jr.",+9198'
    assert head.startswith(f"{HEADER}\r\n".encode())
    assert newest_row.encode() in head
    assert newest.strftime("%Y-%m-%dT%H:%M:%SZ").encode() in head
    assert tail.endswith(
        b',BULK00000000,"Customer 0, Jr.",+919800000000,pending,1798.00,'
        b"2023-01-01T00:00:00Z,2023-01-01T00:00:00Z\r\n"
    )
    assert growth < MAX_GROWTH_BYTES, f"peak memory growth {growth / 1e6:.1f} MB"
