"""``orders-api import``: load orders from a JSON Lines or CSV file through the bulk
resolver, in chunks, each chunk one transaction.

Safe to re-run after an interruption: orders already in the database (same
``external_order_source`` + ``external_order_id``, or same ``referenceId``) are skipped and
counted, never duplicated. Lines with neither cannot be recognised, so a re-run would
create them again; the import warns when it sees any.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.engine import Database
from gql.context import Principal, RequestContext
from gql.errors import ConflictError
from gql.resolvers import bulk
from orders_api import tenants

# CSV cells holding JSON (arrays or objects), per the create-order body.
JSON_COLUMNS = ("product_items", "delivery_details", "payment_info", "product_customizations")
IMPORT_ACTOR = "import"


@dataclass
class Line:
    number: int  # 1-based line number in the file (the CSV header is line 1)
    raw: str
    order: Any = None
    error: str | None = None


@dataclass
class Summary:
    created: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    unkeyed: int = 0


def read_lines(path: Path, kind: str) -> Iterator[Line]:
    if kind == "jsonl":
        with path.open(encoding="utf-8") as source:
            for number, raw in enumerate(source, start=1):
                if not raw.strip():
                    continue
                try:
                    yield Line(number, raw.rstrip("\n"), order=json.loads(raw))
                except json.JSONDecodeError as error:
                    yield Line(number, raw.rstrip("\n"), error=f"not valid JSON: {error}")
        return
    # utf-8-sig: spreadsheets (Excel) start CSV files with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.DictReader(source)
        for row in reader:
            number = reader.line_num
            raw = ",".join(_quote(value) for value in row.values() if isinstance(value, str))
            try:
                yield Line(number, raw, order=_order_from_row(row))
            except ValueError as error:
                yield Line(number, raw, error=str(error))


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


def _order_from_row(row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:
        raise ValueError("more cells than the header has columns")
    order: dict[str, Any] = {}
    for name, value in row.items():
        if name is None or value is None or value == "":
            continue
        if name in JSON_COLUMNS:
            try:
                order[name] = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"column {name} is not valid JSON: {error}") from None
        else:
            order[name] = value
    return order


def count_lines(path: Path, kind: str) -> int:
    with path.open(encoding="utf-8-sig", newline="") as source:
        if kind == "jsonl":
            return sum(1 for raw in source if raw.strip())
        return max(0, sum(1 for _ in csv.reader(source)) - 1)


def is_keyed(order: Any) -> bool:
    if not isinstance(order, dict):
        return False
    external = order.get("external_order_source") and order.get("external_order_id")
    return bool(external or order.get("referenceId"))


async def import_chunk(ctx: RequestContext, lines: list[Line], summary: Summary) -> list[Line]:
    """Create one chunk of orders; returns the lines that failed."""
    failed = [line for line in lines if line.error is not None]
    ready = [line for line in lines if line.error is None]
    if ready:
        outcome = await bulk.bulk_create(ctx, [line.order for line in ready])
        for result in outcome.value:
            line = ready[result.index]
            if result.error is None:
                summary.created += 1
                summary.unkeyed += not is_keyed(line.order)
            elif isinstance(result.error, ConflictError) and _repeats_an_order(result.error):
                summary.skipped += 1  # already imported, or repeated earlier in the file
            else:
                line.error = result.error.message
                failed.append(line)
    summary.failed.extend((line.number, line.error or "") for line in failed)
    return failed


def _repeats_an_order(error: ConflictError) -> bool:
    """A conflict with an order already stored (``orderId``) or with an earlier line of
    the same chunk (``index``), as opposed to a transient clash."""
    details = error.details or {}
    return "orderId" in details or "index" in details


async def import_context(db: Database, tenant: str) -> RequestContext:
    owner = await tenants.find_tenant(db, tenant)
    principal = Principal(
        tenant_id=owner.id,
        tenant_timezone=owner.timezone,
        key_id=IMPORT_ACTOR,
        key_name=IMPORT_ACTOR,
    )
    return RequestContext(principal=principal, db=db)
