"""Housekeeping: rows that only matter for a while are deleted once their time is over.

- Idempotency keys past ``expires_at`` (24 h): each keeps its first response, up to a
  whole bulk answer, so a busy integrator would otherwise grow the table without end.
- Finished webhook deliveries (delivered, or failed for good) older than the retention,
  with their attempts, and then the messages left without deliveries. Pending deliveries
  are never touched, however old.

Deletes go ``BATCH`` rows per transaction, so the SQLite write lock (and PostgreSQL's row
locks) are held for milliseconds, never for a whole purge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, exists, select, tuple_

from db.engine import Database
from db.models import IdempotencyKey, WebhookDelivery, WebhookMessage
from gql.resolvers import clock

log = logging.getLogger("orders_api.housekeeping")

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
        lambda: delete(IdempotencyKey).where(
            tuple_(IdempotencyKey.tenant_id, IdempotencyKey.key).in_(
                select(IdempotencyKey.tenant_id, IdempotencyKey.key)
                .where(IdempotencyKey.expires_at <= now)
                .limit(BATCH)
            )
        ),
    )
    deliveries = await _in_batches(
        db,
        lambda: delete(WebhookDelivery).where(
            WebhookDelivery.id.in_(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status.in_(FINISHED_DELIVERIES),
                    WebhookDelivery.created_at < cutoff,
                )
                .limit(BATCH)
            )
        ),
    )  # their attempts go with them: ON DELETE CASCADE (SQLite connections enable it)
    messages = await _in_batches(
        db,
        lambda: delete(WebhookMessage).where(
            WebhookMessage.id.in_(
                select(WebhookMessage.id)
                .where(
                    WebhookMessage.created_at < cutoff,
                    ~exists().where(WebhookDelivery.message_id == WebhookMessage.id),
                )
                .limit(BATCH)
            )
        ),
    )
    return Pruned(keys, deliveries, messages)


async def _in_batches(db: Database, statement: Callable[[], Delete]) -> int:
    total = 0
    while True:
        async with db.writer() as session, session.begin():
            result = cast(CursorResult[Any], await session.execute(statement()))
        total += result.rowcount
        if result.rowcount < BATCH:
            return total


class Housekeeper:
    """Prunes every ``interval`` seconds in the background of a server process. With
    several workers each one prunes: the deletes are idempotent, so they only share work."""

    def __init__(self, db: Database, interval: float, webhook_retention: timedelta) -> None:
        self.db = db
        self.interval = interval
        self.webhook_retention = webhook_retention
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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
