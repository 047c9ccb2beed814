"""Tenants and their API keys: creation, listing, revocation and authentication.

A key reads ``oma_<key id>_<secret>``. Only SHA-256 of the secret is stored: a fast hash
is enough because the secret is 32 random bytes, not a password. The key id finds the row;
the digest is then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from limits import parse as parse_rate_limit
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.engine import Database
from db.models import ApiKey, Tenant
from gql.context import Principal
from gql.errors import ConflictError, NotFoundError, ValidationError
from gql.resolvers import clock
from gql.resolvers.timestamps import zone

KEY_PREFIX = "oma"
DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: ``api_key`` is shown once and never stored."""

    tenant_id: str
    tenant_name: str
    key_id: str
    key_name: str
    api_key: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _validate_rate_limit(rate_limit: str | None) -> None:
    if rate_limit is None:
        return
    try:
        parse_rate_limit(rate_limit)
    except ValueError:
        raise ValidationError(
            f"Invalid rate limit {rate_limit!r}: use the form 100/minute or 10/second"
        ) from None


def _new_tenant(name: str, rate_limit: str | None, timezone: str) -> Tenant:
    if not name.strip() or len(name) > 100:
        raise ValidationError("Tenant name must be 1-100 characters")
    _validate_rate_limit(rate_limit)
    zone(timezone)
    return Tenant(
        id=uuid.uuid4().hex,
        name=name,
        rate_limit=rate_limit,
        timezone=timezone,
        created_at=clock.now(),
    )


def _new_key(tenant: Tenant, name: str) -> tuple[ApiKey, IssuedKey]:
    if not name.strip() or len(name) > 100:
        raise ValidationError("Key name must be 1-100 characters")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        tenant_id=tenant.id,
        name=name,
        secret_hash=_digest(secret),
        created_at=clock.now(),
    )
    issued = IssuedKey(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        key_id=key_id,
        key_name=name,
        api_key=f"{KEY_PREFIX}_{key_id}_{secret}",
    )
    return row, issued


async def create_tenant(
    db: Database, name: str, *, rate_limit: str | None = None, timezone: str = "UTC"
) -> Tenant:
    tenant = _new_tenant(name, rate_limit, timezone)
    try:
        async with db.writer() as session, session.begin():
            session.add(tenant)
    except IntegrityError:
        raise ConflictError(f"A tenant named {name!r} already exists") from None
    return tenant


async def create_tenant_with_key(
    db: Database,
    name: str,
    *,
    rate_limit: str | None = None,
    timezone: str = "UTC",
    key_name: str = "default",
) -> IssuedKey:
    """A tenant and its first key, in one transaction: never a tenant without a key."""
    tenant = _new_tenant(name, rate_limit, timezone)
    key, issued = _new_key(tenant, key_name)
    try:
        async with db.writer() as session, session.begin():
            session.add(tenant)
            await session.flush()
            session.add(key)
    except IntegrityError:
        raise ConflictError(f"A tenant named {name!r} already exists") from None
    return issued


async def find_tenant(db: Database, tenant: str) -> Tenant:
    """A tenant by name or id."""
    async with db.reader() as session:
        found = await session.scalar(
            select(Tenant).where((Tenant.name == tenant) | (Tenant.id == tenant))
        )
    if found is None:
        raise NotFoundError(f"No tenant named {tenant!r}")
    return found


async def create_key(db: Database, tenant: str, name: str = "default") -> IssuedKey:
    owner = await find_tenant(db, tenant)
    row, issued = _new_key(owner, name)
    async with db.writer() as session, session.begin():
        session.add(row)
    return issued


async def list_keys(db: Database, tenant: str) -> list[KeyInfo]:
    owner = await find_tenant(db, tenant)
    async with db.reader() as session:
        rows = await session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == owner.id).order_by(ApiKey.created_at)
        )
        return [KeyInfo(row.id, row.name, row.created_at, row.revoked_at) for row in rows]


async def revoke_key(db: Database, key_id: str) -> KeyInfo:
    async with db.writer() as session, session.begin():
        key = await session.get(ApiKey, key_id)
        if key is None:
            raise NotFoundError(f"No API key with id {key_id!r}")
        if key.revoked_at is None:
            key.revoked_at = clock.now()
        return KeyInfo(key.id, key.name, key.created_at, key.revoked_at)


async def set_rate_limit(db: Database, tenant: str, rate_limit: str | None) -> Tenant:
    _validate_rate_limit(rate_limit)
    owner = await find_tenant(db, tenant)
    async with db.writer() as session, session.begin():
        row = await session.get(Tenant, owner.id)
        assert row is not None
        row.rate_limit = rate_limit
    return row


async def authenticate(db: Database, presented: str) -> Principal | None:
    """The principal behind an API key, or None for a malformed, unknown or revoked one."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret or len(presented) > 200:
        return None
    async with db.reader() as session:
        row = (
            await session.execute(
                select(ApiKey, Tenant)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.id == key_id)
            )
        ).first()
    if row is None:
        return None
    key, tenant = row[0], row[1]
    if not hmac.compare_digest(key.secret_hash, _digest(secret)) or key.revoked_at is not None:
        return None
    return Principal(
        tenant_id=tenant.id,
        tenant_timezone=tenant.timezone,
        key_id=key.id,
        key_name=key.name,
        rate_limit=tenant.rate_limit,
    )


async def bootstrap_default_tenant(db: Database) -> IssuedKey | None:
    """On an empty database, create tenant ``default`` and a key for it.

    Returns the key when this call created it; None when any tenant already exists (or a
    concurrent worker won the race to create it).
    """
    async with db.reader() as session:
        if await session.scalar(select(func.count()).select_from(Tenant)):
            return None
    try:
        return await create_tenant_with_key(db, DEFAULT_TENANT)
    except ConflictError:
        return None
