"""Idempotency keys: a retried request never does its work twice.

1. ``claim`` (its own short transaction) records the key as *in flight*, or finds it:
   the same operation and input → a ``Replay`` of the first result; other input → 422;
   still in flight → 409. A validation failure happens before the claim, so it is never
   stored.
2. The work marks the key *done* with ``complete`` **inside its own transaction**: the
   order and its key commit together, so a crash can never leave one without the other.
3. The REST adapter then stores the exact response with ``remember_response`` so that
   retries get byte-identical bodies. (If the process died before that, a replay is
   rendered from ``result`` instead.)
4. If the work fails, ``release`` forgets the key so the client may retry.

Keys belong to a tenant, hold for ``KEY_LIFETIME``, and an in-flight claim older than
``STALE_CLAIM`` is taken over (its request died without releasing it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKey
from gql.context import RequestContext
from gql.errors import ConflictError, IdempotencyKeyReusedError, ValidationError
from gql.resolvers import clock

KEY_LIFETIME = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    """What the first request with this key produced."""

    result: dict[str, Any] | None
    status: int | None
    body: bytes | None


T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What an idempotent operation answers: its value, and the replay it came from."""

    value: T
    replay: Replay | None = None


async def run_once(
    ctx: RequestContext,
    key: str | None,
    operation: str,
    data: Any,
    work: Callable[[str | None], Awaitable[T]],
    recall: Callable[[dict[str, Any]], Awaitable[T]],
) -> Outcome[T]:
    """``work(key)`` once per key (it must ``complete`` the key in its transaction);
    retries get ``recall(result)`` of the first run."""
    if key is None:
        return Outcome(await work(None))
    replay = await claim(ctx, key, operation, data)
    if replay is not None:
        assert replay.result is not None, "a done key always has its result"
        return Outcome(await recall(replay.result), replay)
    try:
        return Outcome(await work(key))
    except BaseException:
        await release(ctx, key)
        raise


def fingerprint(operation: str, data: Any) -> str:
    canonical = orjson.dumps(
        {"operation": operation, "input": data}, option=orjson.OPT_SORT_KEYS, default=str
    )
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            {"field": "Idempotency-Key"},
        )
    return key


async def claim(ctx: RequestContext, key: str, operation: str, data: Any) -> Replay | None:
    """None when this request owns the key now; a Replay when it was already done."""
    check_key(key)
    print_ = fingerprint(operation, data)
    for attempt in (1, 2):
        try:
            return await _claim(ctx, key, print_)
        except IntegrityError:
            # A concurrent request inserted the same key first: look again, once.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _claim(ctx: RequestContext, key: str, print_: str) -> Replay | None:
    now = clock.now()
    async with ctx.db.writer() as session, session.begin():
        row = await session.get(IdempotencyKey, (ctx.tenant_id, key), with_for_update=True)
        if row is not None and row.expires_at <= now:
            await session.delete(row)
            await session.flush()
            row = None
        if row is None:
            session.add(
                IdempotencyKey(
                    tenant_id=ctx.tenant_id,
                    key=key,
                    fingerprint=print_,
                    state="in_flight",
                    created_at=now,
                    expires_at=now + KEY_LIFETIME,
                )
            )
            return None
        if row.fingerprint != print_:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was already used with a different request",
                {"idempotencyKey": key},
            )
        if row.state == "in_flight":
            if row.created_at > now - STALE_CLAIM:
                raise ConflictError(
                    "A request with this Idempotency-Key is still in progress; retry shortly",
                    {"idempotencyKey": key},
                )
            row.created_at = now  # the earlier request died: this one takes over
            return None
        return Replay(result=row.result, status=row.response_status, body=row.response_body)


async def complete(
    session: AsyncSession, ctx: RequestContext, key: str | None, result: dict[str, Any]
) -> None:
    """Mark the key done, in the caller's transaction (the one doing the work)."""
    if key is None:
        return
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.tenant_id == ctx.tenant_id, IdempotencyKey.key == key)
        .values(state="done", result=result)
    )


async def remember_response(ctx: RequestContext, key: str, status: int, body: bytes) -> None:
    async with ctx.db.writer() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.tenant_id == ctx.tenant_id, IdempotencyKey.key == key)
            .values(response_status=status, response_body=body)
        )


async def release(ctx: RequestContext, key: str) -> None:
    async with ctx.db.writer() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant_id == ctx.tenant_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
            )
        )
