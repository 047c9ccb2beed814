"""``orders-api import FILE --tenant T`` (issue 6): JSON Lines or CSV (product items as a
JSON cell) through the bulk resolver; a summary ``created N, skipped M (already imported),
failed K`` with the failed line numbers and reasons; ``--failed-file`` with exactly the
failed lines; exit status 1 when any line failed; safe to re-run, even after being killed
half-way: every order ends up in the database exactly once.

Runs on a temporary SQLite file, or on a fresh PostgreSQL database when the suite runs
with ``TEST_DATABASE=postgresql``."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from typer.testing import CliRunner, Result

from db.engine import Database
from db.models import Order, OrderItem, TimelineEvent
from orders_api.cli import app as cli
from orders_api.config import get_settings
from tests.contract import ITEM_FIELDS_REQUIRED, MOBILE_REQUIRED
from tests.databases import (
    fresh_postgres_database,
    on_database,
    require_postgres,
    suite_backend,
)

CSV_COLUMNS = [
    "mobile",
    "name",
    "email",
    "product_items",
    "external_order_source",
    "external_order_id",
    "notes",
]
SUMMARY = re.compile(r"^created (\d+), skipped (\d+) \(already imported\), failed (\d+)$", re.M)


@dataclass(frozen=True)
class Target:
    """A migrated database (``DATABASE_URL`` set for the CLI) holding one tenant."""

    url: str
    tenant_id: str
    tenant_name: str
    folder: Path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def summary_of(output: str) -> tuple[int, int, int]:
    match = SUMMARY.search(output)
    assert match, output
    created, skipped, failed = (int(group) for group in match.groups())
    return created, skipped, failed


@pytest.fixture
def database_for_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in ("ORDERS_API_ENV", "AUTO_MIGRATE"):
        monkeypatch.delenv(name, raising=False)
    if suite_backend() == "postgresql":
        require_postgres()
        with fresh_postgres_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'import.db'}"


@pytest.fixture
def target(
    database_for_cli: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    monkeypatch.setenv("DATABASE_URL", database_for_cli)
    get_settings.cache_clear()
    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.output
    created = invoke("tenant", "create", "shop", "--json")
    assert created.exit_code == 0, created.output
    tenant_id = json.loads(created.stdout)["tenant_id"]
    yield Target(database_for_cli, tenant_id, "shop", tmp_path)
    get_settings.cache_clear()


def run_import(target: Target, path: Path, *extra: str) -> Result:
    return invoke("import", str(path), "--tenant", target.tenant_name, *extra)


def keyed_order(number: int, source: str = "shopify") -> dict[str, Any]:
    return {
        "mobile": f"+9198{number:08d}",
        "name": f"Customer {number}",
        "product_items": [{"name": "Tea", "quantity": 1 + number % 3, "price": "19.99"}],
        "external_order_source": source,
        "external_order_id": f"SO-{number}",
    }


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


async def _stored_orders(db: Database, tenant_id: str) -> list[Order]:
    async with db.reader() as session:
        return list(
            await session.scalars(
                select(Order)
                .options(selectinload(Order.items))
                .where(Order.tenant_id == tenant_id)
                .order_by(Order.external_order_id)
            )
        )


def stored_orders(target: Target) -> list[Order]:
    return on_database(target.url, lambda db: _stored_orders(db, target.tenant_id))


@dataclass(frozen=True)
class Counts:
    orders: int
    distinct_external_ids: int
    most_copies: int
    items: int
    events: int


async def _counts(db: Database, tenant_id: str) -> Counts:
    async with db.reader() as session:
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.tenant_id == tenant_id)
        )
        distinct = await session.scalar(
            select(func.count(func.distinct(Order.external_order_id))).where(
                Order.tenant_id == tenant_id
            )
        )
        copies = (
            select(func.count().label("copies"))
            .where(Order.tenant_id == tenant_id)
            .group_by(Order.external_order_source, Order.external_order_id)
            .subquery()
        )
        most = await session.scalar(select(func.max(copies.c.copies)))
        items = await session.scalar(
            select(func.count())
            .select_from(OrderItem)
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.tenant_id == tenant_id)
        )
        events = await session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .join(Order, Order.id == TimelineEvent.order_id)
            .where(Order.tenant_id == tenant_id)
        )
    return Counts(orders or 0, distinct or 0, most or 0, items or 0, events or 0)


def counts(target: Target) -> Counts:
    return on_database(target.url, lambda db: _counts(db, target.tenant_id))


async def _order_count(db: Database, tenant_id: str) -> int:
    async with db.reader() as session:
        total = await session.scalar(
            select(func.count()).select_from(Order).where(Order.tenant_id == tenant_id)
        )
    return total or 0


def order_count(target: Target) -> int:
    return on_database(target.url, lambda db: _order_count(db, target.tenant_id))


# --- JSON Lines ----------------------------------------------------------------------------


def test_jsonl_import_creates_every_order(target: Target) -> None:
    orders = [
        {
            "mobile": "+919876543210",
            "name": 'Asha "Tea" Rao, Jr.',
            "email": "asha@example.com",
            "product_items": [
                {"name": "Tea Set, blue", "quantity": 2, "price": 599.00, "sku": "TS-1"},
                {"name": "Teapot", "quantity": 1, "price": 1299.00},
            ],
            "external_order_source": "shopify",
            "external_order_id": "SO-1",
            "payment_status": "paid",
        },
        {
            "mobile": "919800000000",
            "name": "Ravi",
            "product_items": [{"name": "Cup", "quantity": 3, "price": 0.1}],
            "referenceId": "POS-0002",
            "status": "DELIVERED",
        },
        keyed_order(3),
    ]
    path = write_jsonl(target.folder / "orders.jsonl", orders)
    result = run_import(target, path)
    assert result.exit_code == 0, (result.output, result.exception)
    assert summary_of(result.stdout) == (3, 0, 0)
    assert "created 3, skipped 0 (already imported), failed 0" in result.stdout

    stored = {
        order.external_order_id or order.reference_id: order for order in stored_orders(target)
    }
    assert set(stored) == {"SO-1", "POS-0002", "SO-3"}
    first = stored["SO-1"]
    assert first.name == 'Asha "Tea" Rao, Jr.'
    assert first.final_amount == Decimal("2497.00")
    assert first.payment_status == "paid"
    assert [(i.name, i.quantity, i.price, i.sku) for i in first.items] == [
        ("Tea Set, blue", 2, Decimal("599.00"), "TS-1"),
        ("Teapot", 1, Decimal("1299.00"), None),
    ]
    second = stored["POS-0002"]
    assert second.final_amount == Decimal("0.30")
    assert second.status == "delivered"
    assert stored["SO-3"].final_amount == Decimal("19.99")

    totals = counts(target)
    assert (totals.orders, totals.items) == (3, 4)
    assert totals.events == 4  # one "Order Created" each, plus "Payment Received"


def test_jsonl_failures_are_reported_with_line_numbers_and_written_out(target: Target) -> None:
    bad_json = '{"mobile": "+911", "product_items": ['
    no_mobile = {**keyed_order(4), "mobile": ""}
    no_price = {**keyed_order(6), "product_items": [{"name": "Tea", "quantity": 1}]}
    lines: list[Any] = [
        keyed_order(1),  # line 1
        bad_json,  # line 2
        keyed_order(3),  # line 3
        no_mobile,  # line 4
        "",  # line 5: blank, ignored
        no_price,  # line 6
        keyed_order(7),  # line 7
        [1, 2],  # line 8: not an object
    ]
    path = write_jsonl(target.folder / "orders.jsonl", lines)
    failed_file = target.folder / "failed.jsonl"
    result = run_import(target, path, "--failed-file", str(failed_file))
    assert result.exit_code == 1, (result.output, result.exception)
    assert summary_of(result.stdout) == (3, 0, 4)
    reported = dict(re.findall(r"^\s+line (\d+): (.+)$", result.stdout, re.M))
    assert sorted(int(number) for number in reported) == [2, 4, 6, 8]
    assert reported["4"] == MOBILE_REQUIRED
    assert reported["6"] == ITEM_FIELDS_REQUIRED
    assert "JSON" in reported["2"]

    raw = path.read_text(encoding="utf-8").splitlines()
    expected = [raw[1], raw[3], raw[5], raw[7]]
    assert failed_file.read_text(encoding="utf-8") == "".join(line + "\n" for line in expected)
    assert [order.external_order_id for order in stored_orders(target)] == [
        "SO-1",
        "SO-3",
        "SO-7",
    ]


def test_nan_and_infinity_are_refused_not_stored(target: Target) -> None:
    """Python's json reads NaN and Infinity; JSON has no such numbers, so such a line fails
    with a reason instead of storing a value no JSON answer can carry."""
    lines = [
        {**keyed_order(1), "product_customizations": {"size": float("nan")}},
        {**keyed_order(2), "product_customizations": {"sizes": [1.5, float("inf")]}},
        keyed_order(3),
    ]
    path = write_jsonl(target.folder / "orders.jsonl", lines)
    assert "NaN" in path.read_text(encoding="utf-8")  # as json.dumps writes it
    result = run_import(target, path)
    assert result.exit_code == 1, (result.output, result.exception)
    assert summary_of(result.stdout) == (1, 0, 2)
    reported = dict(re.findall(r"^\s+line (\d+): (.+)$", result.stdout, re.M))
    message = "product_customizations must not contain NaN or Infinity (not JSON numbers)"
    assert reported == {"1": message, "2": message}
    assert [order.external_order_id for order in stored_orders(target)] == ["SO-3"]


def test_a_clean_import_exits_0_and_writes_no_failed_file(target: Target) -> None:
    path = write_jsonl(target.folder / "orders.jsonl", [keyed_order(n) for n in range(5)])
    failed_file = target.folder / "failed.jsonl"
    result = run_import(target, path, "--failed-file", str(failed_file))
    assert result.exit_code == 0, (result.output, result.exception)
    assert summary_of(result.stdout) == (5, 0, 0)
    assert not failed_file.exists() or failed_file.read_text(encoding="utf-8") == ""


def test_rerunning_the_same_file_skips_everything(target: Target) -> None:
    orders: list[Any] = [keyed_order(n) for n in range(25)]
    orders.append({**keyed_order(99), "external_order_source": None, "referenceId": "REF-99"})
    path = write_jsonl(target.folder / "orders.jsonl", orders)

    first = run_import(target, path, "--chunk", "7")
    assert first.exit_code == 0, (first.output, first.exception)
    assert summary_of(first.stdout) == (26, 0, 0)

    again = run_import(target, path, "--chunk", "10")
    assert again.exit_code == 0, (again.output, again.exception)
    assert summary_of(again.stdout) == (0, 26, 0)

    totals = counts(target)
    assert totals.orders == 26
    assert totals.distinct_external_ids == 26
    assert totals.most_copies == 1
    assert totals.items == 26
    assert totals.events == 26


def test_a_file_with_more_orders_imports_only_the_new_ones(target: Target) -> None:
    path = target.folder / "orders.jsonl"
    write_jsonl(path, [keyed_order(n) for n in range(10)])
    assert run_import(target, path).exit_code == 0
    write_jsonl(path, [keyed_order(n) for n in range(15)])
    result = run_import(target, path, "--chunk", "4")
    assert result.exit_code == 0, (result.output, result.exception)
    assert summary_of(result.stdout) == (5, 10, 0)
    assert counts(target).orders == 15


def test_orders_repeated_inside_one_file_count_the_same_whatever_the_chunk(
    target: Target,
) -> None:
    """A line repeating an earlier line's external order is already imported: created
    once, and the summary does not depend on whether the repeat shares a chunk."""
    second_tenant = invoke("tenant", "create", "shop-two", "--json")
    assert second_tenant.exit_code == 0, second_tenant.output
    path = write_jsonl(
        target.folder / "orders.jsonl",
        [keyed_order(1), keyed_order(2), keyed_order(1), keyed_order(2), keyed_order(1)],
    )
    one_chunk = run_import(target, path, "--chunk", "5")
    line_by_line = invoke("import", str(path), "--tenant", "shop-two", "--chunk", "1")
    assert summary_of(line_by_line.stdout) == (2, 3, 0)
    assert summary_of(one_chunk.stdout) == summary_of(line_by_line.stdout)
    assert one_chunk.exit_code == line_by_line.exit_code == 0
    assert counts(target).orders == 2
    assert counts(target).most_copies == 1


# --- CSV -------------------------------------------------------------------------------------


def test_csv_import_reads_json_cells_and_quoted_names(target: Target) -> None:
    items = [
        {"name": 'Mug "Large", white', "quantity": 2, "price": 12.35},
        {"name": "Saucer", "quantity": 3, "price": "0.10"},
    ]
    rows = [
        [
            "+919876543210",
            'Rao, Asha "AR"',
            "asha@example.com",
            json.dumps(items),
            "woocommerce",
            "WC-1",
            "line one\nline two",
        ],
        [
            "919800000000",
            "Ravi",
            "",
            json.dumps([{"name": "Tea", "quantity": 1, "price": 1299}]),
            "woocommerce",
            "WC-2",
            "",
        ],
    ]
    path = target.folder / "orders.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    result = run_import(target, path)
    assert result.exit_code == 0, (result.output, result.exception)
    assert summary_of(result.stdout) == (2, 0, 0)

    first, second = stored_orders(target)
    assert first.external_order_id == "WC-1"
    assert first.name == 'Rao, Asha "AR"'
    assert first.email == "asha@example.com"
    assert first.notes == "line one\nline two"
    assert first.final_amount == Decimal("25.00")  # 2 x 12.35 + 3 x 0.10
    assert [(i.name, i.quantity, i.price) for i in first.items] == [
        ('Mug "Large", white', 2, Decimal("12.35")),
        ("Saucer", 3, Decimal("0.10")),
    ]
    assert second.email is None
    assert second.notes is None
    assert second.final_amount == Decimal("1299.00")


def test_csv_failures_are_written_with_the_header(target: Target) -> None:
    good = json.dumps([{"name": "Tea", "quantity": 1, "price": 5}])
    rows = [
        ["+911", "One", "", good, "pos", "P-1", ""],  # line 2
        ["+912", "Two, with comma", "", "[{not json", "pos", "P-2", ""],  # line 3
        ["", 'Three "quoted"', "", good, "pos", "P-3", ""],  # line 4
        ["+914", "Four", "", good, "pos", "P-4", ""],  # line 5
        ["+915", "Five", "not-an-email", good, "pos", "P-5", ""],  # line 6
    ]
    path = target.folder / "orders.csv"
    text = csv_text(rows)
    path.write_text(text, encoding="utf-8")
    failed_file = target.folder / "failed.csv"
    result = run_import(target, path, "--failed-file", str(failed_file))
    assert result.exit_code == 1, (result.output, result.exception)
    assert summary_of(result.stdout) == (2, 0, 3)
    reported = dict(re.findall(r"^\s+line (\d+): (.+)$", result.stdout, re.M))
    assert sorted(int(number) for number in reported) == [3, 4, 6]
    assert "product_items" in reported["3"]
    assert reported["4"] == MOBILE_REQUIRED

    lines = text.splitlines(keepends=True)
    assert failed_file.read_text(encoding="utf-8") == "".join(
        [lines[0], lines[2], lines[3], lines[5]]
    )
    assert [order.external_order_id for order in stored_orders(target)] == ["P-1", "P-4"]

    # The failed file is itself an importable CSV: the same three lines fail again.
    again = run_import(target, failed_file)
    assert again.exit_code == 1
    assert summary_of(again.stdout) == (0, 0, 3)


def test_rerunning_a_csv_skips_everything(target: Target) -> None:
    rows = [
        [
            f"+91{n}",
            f"Name {n}",
            "",
            json.dumps([{"name": "x", "quantity": 1, "price": "2.50"}]),
            "pos",
            f"P-{n}",
            "",
        ]
        for n in range(12)
    ]
    path = target.folder / "orders.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    assert summary_of(run_import(target, path, "--chunk", "5").stdout) == (12, 0, 0)
    second = run_import(target, path, "--chunk", "5")
    assert second.exit_code == 0
    assert summary_of(second.stdout) == (0, 12, 0)
    assert counts(target).orders == 12


# --- errors and output -----------------------------------------------------------------------


def test_an_unknown_tenant_exits_1_with_a_message(target: Target) -> None:
    path = write_jsonl(target.folder / "orders.jsonl", [keyed_order(1)])
    result = invoke("import", str(path), "--tenant", "no-such-shop")
    assert result.exit_code == 1
    assert "no-such-shop" in result.stderr
    assert "Traceback" not in result.output
    assert counts(target).orders == 0


def test_the_progress_output_shows_the_rate(target: Target) -> None:
    path = write_jsonl(target.folder / "orders.jsonl", [keyed_order(n) for n in range(30)])
    result = run_import(target, path, "--chunk", "10")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "orders/s" in result.stderr
    assert "30/30" in result.stderr


# --- killed half-way -------------------------------------------------------------------------

# Fewer on PostgreSQL, where each run takes several times as long.
KILL_TOTAL = 20_000 if suite_backend() == "sqlite" else 8_000


def console_script() -> str:
    beside = Path(sys.executable).parent / "orders-api"
    found = str(beside) if beside.exists() else shutil.which("orders-api")
    assert found, "the orders-api console script is not installed"
    return found


def test_an_import_killed_half_way_and_rerun_has_every_order_once(target: Target) -> None:
    path = write_jsonl(target.folder / "big.jsonl", [keyed_order(n) for n in range(KILL_TOTAL)])
    env = {**os.environ, "DATABASE_URL": target.url}
    command = [console_script(), "import", str(path), "--tenant", "shop", "--chunk", "200"]
    with (
        (target.folder / "first.out").open("wb") as out,
        (target.folder / "first.err").open("wb") as err,
    ):
        process = subprocess.Popen(command, cwd=target.folder, env=env, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 120
            stored = 0
            while time.monotonic() < deadline and process.poll() is None:
                stored = order_count(target)
                if stored >= 1000:
                    break
                time.sleep(0.02)
            assert process.poll() is None, (
                f"the import ended (status {process.returncode}) before it could be killed"
            )
            assert stored >= 1000, "the import stored nothing in time"
            process.kill()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)

    after_kill = counts(target)
    assert 0 < after_kill.orders < KILL_TOTAL
    assert after_kill.most_copies == 1
    # Whole chunks only: every stored order has its item and its event.
    assert after_kill.items == after_kill.orders
    assert after_kill.events == after_kill.orders

    rerun = subprocess.run(
        command, cwd=target.folder, env=env, capture_output=True, timeout=300, check=False
    )
    stdout = rerun.stdout.decode()
    assert rerun.returncode == 0, (stdout, rerun.stderr.decode()[-2000:])
    assert summary_of(stdout) == (KILL_TOTAL - after_kill.orders, after_kill.orders, 0)

    final = counts(target)
    assert final.orders == KILL_TOTAL
    assert final.distinct_external_ids == KILL_TOTAL
    assert final.most_copies == 1
    assert final.items == KILL_TOTAL
    assert final.events == KILL_TOTAL

    # And a third run finds nothing left to do.
    third = subprocess.run(
        command, cwd=target.folder, env=env, capture_output=True, timeout=300, check=False
    )
    assert third.returncode == 0
    assert summary_of(third.stdout.decode()) == (0, KILL_TOTAL, 0)
    assert counts(target).orders == KILL_TOTAL
