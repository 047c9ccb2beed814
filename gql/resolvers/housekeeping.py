"""Housekeeping: rows that only matter for a while are deleted once their time is over.

- Idempotency keys past ``expires_at`` (24 h): each keeps its first response, up to a
  whole bulk answer, so a busy integrator would otherwise grow the table without end.
- Finished webhook deliveries (delivered, or failed for good) whose last attempt is older
  than the retention, with their attempts (ON DELETE CASCADE), and then the old messages
  left without deliveries. Pending deliveries are never touched, however old.

Each kind goes in batches: the candidates are found by an index range in a read
transaction (no write lock held), then deleted by primary key, with their conditions
checked again, in a short write transaction of their own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, exists, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from db.engine import Database
from db.models import IdempotencyKey, WebhookDelivery, WebhookMessage
from gql.resolvers import clock
from gql.resolvers.background import BackgroundLoop

log = logging.getLogger("orders_api.housekeeping")

# Keys carry whole responses (a bulk answer can be 100 kB): fewer of them per transaction.
KEY_BATCH = 100
BATCH = 1000
FINISHED_DELIVERIES = ("delivered", "failed")


@dataclass(frozen=True)
class Pruned:
    idempotency_keys: int
    webhook_deliveries: int
    webhook_messages: int


async def prune(db: Database, webhook_retention: timedelta, now: datetime | None = None) -> Pruned:
    """Delete what has expired as of ``now``; returns how many rows of each kind went."""
    now = now or clock.now()
    cutoff = now - webhook_retention
    keys = await _in_batches(
        db,
        (IdempotencyKey.tenant_id, IdempotencyKey.key),
        (IdempotencyKey.expires_at <= now,),
        KEY_BATCH,
    )
    # ``next_attempt_at`` is when a finished delivery's last attempt was due: the range of
    # the (status, next_attempt_at) index, and retention counts from the last attempt.
    deliveries = await _in_batches(
        db,
        (WebhookDelivery.id,),
        (
            WebhookDelivery.status.in_(FINISHED_DELIVERIES),
            WebhookDelivery.next_attempt_at < cutoff,
        ),
        BATCH,
    )
    # No delivery can be added to a message without one left: redelivery copies an
    # existing delivery, which it locks first.
    messages = await _in_batches(
        db,
        (WebhookMessage.id,),
        (
            WebhookMessage.created_at < cutoff,
            ~exists().where(WebhookDelivery.message_id == WebhookMessage.id),
        ),
        BATCH,
    )
    return Pruned(keys, deliveries, messages)


async def _in_batches(
    db: Database,
    primary_key: tuple[InstrumentedAttribute[Any], ...],
    conditions: tuple[ColumnElement[bool], ...],
    batch: int,
) -> int:
    """Delete the rows that meet ``conditions``, ``batch`` at a time, until none is left."""
    model = primary_key[0].class_
    total = 0
    while True:
        async with db.reader() as session:
            found = [
                tuple(row)
                for row in await session.execute(
                    select(*primary_key).where(*conditions).limit(batch)
                )
            ]
        if not found:
            return total
        chosen = (
            tuple_(*primary_key).in_(found)
            if len(primary_key) > 1
            else primary_key[0].in_([row[0] for row in found])
        )
        async with db.writer() as session, session.begin():
            deleted = await session.execute(
                delete(model)
                .where(chosen, *conditions)
                .execution_options(synchronize_session=False)
            )
        count = cast(CursorResult[Any], deleted).rowcount
        total += count
        if len(found) < batch or count == 0:
            return total


class Housekeeper(BackgroundLoop):
    """Prunes every ``interval`` seconds in the background of a server process. With
    several workers each one prunes: the deletes are idempotent, so a second pass at the
    same time only repeats the candidate reads."""

    name = "housekeeping"

    def __init__(self, db: Database, interval: float, webhook_retention: timedelta) -> None:
        self.db = db
        self.interval = interval
        self.webhook_retention = webhook_retention

    async def _run(self) -> None:
        while True:
            try:
                pruned = await prune(self.db, self.webhook_retention)
                if any(asdict(pruned).values()):
                    log.info("pruned expired rows", extra={"pruned": asdict(pruned)})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping pass failed; trying again next time")
            await asyncio.sleep(self.interval)
