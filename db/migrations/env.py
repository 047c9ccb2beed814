"""Alembic environment (async template), able to run on a connection it is handed.

``db.migrate`` passes an open connection in ``config.attributes["connection"]`` so the
server can migrate itself inside its own event loop; the ``alembic`` command line opens
its own engine from DATABASE_URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from db import models  # noqa: F401  (registers the tables on Base.metadata)
from db.base import Base
from db.engine import create_engine
from orders_api.config import get_settings

config = context.config
target_metadata = Base.metadata


# The PostgreSQL search index made by raw DDL in migration 0004 (not in the models).
SEARCH_INDEX_OBJECTS = ("ix_orders_search_trgm",)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, other: object
) -> bool:
    return not (name or "").startswith(SEARCH_INDEX_OBJECTS)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

shared = config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    asyncio.run(_run_async())
