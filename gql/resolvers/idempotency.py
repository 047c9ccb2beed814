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
``STALE_CLAIM`` is taken over (its request died without releasing it). The claim's time is
its owner's token: ``complete`` and ``release`` act only on the claim they were given, so
a request that was merely slow, not dead, fails with 409 and writes nothing instead of
completing a key a retry now owns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import orjson
from sqlalchemy import ColumnElement, CursorResult, delete, update
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


@dataclass(frozen=True)
class Claim:
    """This request owns ``key`` since ``claimed_at`` (the key row's ``created_at``)."""

    key: str
    claimed_at: datetime


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
    work: Callable[[Claim | None], Awaitable[T]],
    recall: Callable[[dict[str, Any]], Awaitable[T]],
) -> Outcome[T]:
    """``work(claim)`` once per key (it must ``complete`` the claim in its transaction);
    retries get ``recall(result)`` of the first run."""
    if key is None:
        return Outcome(await work(None))
    claimed = await claim(ctx, key, operation, data)
    if isinstance(claimed, Replay):
        assert claimed.result is not None, "a done key always has its result"
        return Outcome(await recall(claimed.result), claimed)
    try:
        return Outcome(await work(claimed))
    except BaseException:
        await release(ctx, claimed)
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


async def claim(ctx: RequestContext, key: str, operation: str, data: Any) -> Claim | Replay:
    """A Claim when this request owns the key now; a Replay when it was already done."""
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


async def _claim(ctx: RequestContext, key: str, print_: str) -> Claim | Replay:
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
            return Claim(key, now)
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
            # The earlier request died: this one takes over, with a lifetime of its own.
            row.created_at, row.expires_at = now, now + KEY_LIFETIME
            return Claim(key, now)
        return Replay(result=row.result, status=row.response_status, body=row.response_body)


async def complete(
    session: AsyncSession, ctx: RequestContext, claim: Claim | None, result: dict[str, Any]
) -> None:
    """Mark the key done, in the caller's transaction (the one doing the work). Raises
    ConflictError, which rolls that work back, when the claim is no longer this request's."""
    if claim is None:
        return
    completed = await session.execute(
        update(IdempotencyKey)
        .where(*_owned(ctx, claim))
        .values(state="done", result=result)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], completed).rowcount != 1:
        raise ConflictError(
            f"This request ran longer than {int(STALE_CLAIM.total_seconds() // 60)} minutes "
            "and lost its Idempotency-Key to a retry (or the key expired); nothing was "
            "written by this one",
            {"idempotencyKey": claim.key},
        )


def _owned(ctx: RequestContext, claim: Claim) -> tuple[ColumnElement[bool], ...]:
    return (
        IdempotencyKey.tenant_id == ctx.tenant_id,
        IdempotencyKey.key == claim.key,
        IdempotencyKey.state == "in_flight",
        IdempotencyKey.created_at == claim.claimed_at,
    )


async def remember_response(ctx: RequestContext, key: str, status: int, body: bytes) -> None:
    async with ctx.db.writer() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.tenant_id == ctx.tenant_id, IdempotencyKey.key == key)
            .values(response_status=status, response_body=body)
        )


async def release(ctx: RequestContext, claim: Claim) -> None:
    """Forget a claim whose work failed (never one a retry has taken over since)."""
    async with ctx.db.writer() as session, session.begin():
        await session.execute(delete(IdempotencyKey).where(*_owned(ctx, claim)))
