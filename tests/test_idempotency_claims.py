"""Idempotency claims are owned: after a retry takes over a stale claim (its request ran
past ``STALE_CLAIM``), the slow first request can neither complete nor release the key.
The REST-level race is in tests/test_idempotency.py; these check the claim functions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from db.engine import Database
from db.models import IdempotencyKey
from gql.context import Principal, RequestContext
from gql.errors import ConflictError
from gql.resolvers import clock, idempotency
from tests.conftest import Tenant

DATA = {"mobile": "+919876543210"}


def context(tenant: Tenant, db: Database) -> RequestContext:
    return RequestContext(Principal(tenant.id, "UTC", "key-id", "test-key"), db)


async def stored(db: Database, tenant: Tenant, key: str) -> IdempotencyKey | None:
    async with db.reader() as session:
        row: IdempotencyKey | None = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant.id, IdempotencyKey.key == key
            )
        )
        return row


async def claim_twice(
    ctx: RequestContext, key: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[idempotency.Claim, idempotency.Claim]:
    """The first claim, then a retry's takeover once the first has gone stale."""
    first = await idempotency.claim(ctx, key, "createOrder", DATA)
    later = datetime.now(UTC) + idempotency.STALE_CLAIM + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    second = await idempotency.claim(ctx, key, "createOrder", DATA)
    assert isinstance(first, idempotency.Claim)
    assert isinstance(second, idempotency.Claim)
    assert second.claimed_at == later
    return first, second


async def test_a_fresh_in_flight_claim_is_not_taken_over(tenant: Tenant, db: Database) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    assert isinstance(await idempotency.claim(ctx, key, "createOrder", DATA), idempotency.Claim)
    with pytest.raises(ConflictError, match="still in progress"):
        await idempotency.claim(ctx, key, "createOrder", DATA)


async def test_the_taken_over_claim_cannot_complete(
    tenant: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    first, second = await claim_twice(ctx, key, monkeypatch)

    with pytest.raises(ConflictError, match="lost its Idempotency-Key to a retry"):
        async with db.writer() as session, session.begin():
            await idempotency.complete(session, ctx, first, {"orderId": "from-the-first"})
    async with db.writer() as session, session.begin():
        await idempotency.complete(session, ctx, second, {"orderId": "from-the-retry"})

    row = await stored(db, tenant, key)
    assert row is not None
    assert (row.state, row.result) == ("done", {"orderId": "from-the-retry"})


async def test_the_taken_over_claim_cannot_release_the_key(
    tenant: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    first, second = await claim_twice(ctx, key, monkeypatch)

    await idempotency.release(ctx, first)
    row = await stored(db, tenant, key)
    assert row is not None
    assert row.state == "in_flight"

    await idempotency.release(ctx, second)
    assert await stored(db, tenant, key) is None


async def test_a_done_key_cannot_be_completed_again(tenant: Tenant, db: Database) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    claim = await idempotency.claim(ctx, key, "createOrder", DATA)
    assert isinstance(claim, idempotency.Claim)
    async with db.writer() as session, session.begin():
        await idempotency.complete(session, ctx, claim, {"orderId": "first"})
    with pytest.raises(ConflictError):
        async with db.writer() as session, session.begin():
            await idempotency.complete(session, ctx, claim, {"orderId": "again"})
    row = await stored(db, tenant, key)
    assert row is not None
    assert row.result == {"orderId": "first"}


async def test_a_takeover_gets_a_full_lifetime(
    tenant: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    _, second = await claim_twice(ctx, key, monkeypatch)
    row = await stored(db, tenant, key)
    assert row is not None
    assert row.expires_at == second.claimed_at + idempotency.KEY_LIFETIME


async def test_a_claim_whose_key_was_pruned_cannot_complete(tenant: Tenant, db: Database) -> None:
    ctx, key = context(tenant, db), uuid.uuid4().hex
    claim = await idempotency.claim(ctx, key, "createOrder", DATA)
    assert isinstance(claim, idempotency.Claim)
    async with db.writer() as session, session.begin():
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key))
    with pytest.raises(ConflictError, match="lost its Idempotency-Key"):
        async with db.writer() as session, session.begin():
            await idempotency.complete(session, ctx, claim, {"orderId": "late"})
    assert await stored(db, tenant, key) is None
