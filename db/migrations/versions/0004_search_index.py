"""Substring search index for ``searchTerm``: FTS5 trigram on SQLite, pg_trgm on PostgreSQL.

``search_text`` also gains the mobile number's digits, so a phone-like term is answered by
the same index. Neither index is in the SQLAlchemy metadata (they are dialect-specific
DDL); ``env.py`` tells autogenerate to leave them alone.

On SQLite the FTS5 table mirrors ``orders`` through triggers on its rowid: a later
migration that rebuilds ``orders`` (batch mode) must recreate the triggers and run
``INSERT INTO orders_search(orders_search) VALUES ('rebuild')``.

Revision ID: 0004_search_index
Revises: 0003_idempotency_keys
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_search_index"
down_revision: str | None = "0003_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE orders_search USING fts5("
    "search_text, content='orders', content_rowid='rowid', tokenize='trigram')",
    "INSERT INTO orders_search(orders_search) VALUES ('rebuild')",
    "CREATE TRIGGER orders_search_insert AFTER INSERT ON orders BEGIN "
    "INSERT INTO orders_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER orders_search_delete AFTER DELETE ON orders BEGIN "
    "INSERT INTO orders_search(orders_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER orders_search_update AFTER UPDATE OF search_text ON orders BEGIN "
    "INSERT INTO orders_search(orders_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO orders_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS orders_search_update",
    "DROP TRIGGER IF EXISTS orders_search_delete",
    "DROP TRIGGER IF EXISTS orders_search_insert",
    "DROP TABLE IF EXISTS orders_search",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_orders_search_trgm ON orders USING gin (search_text gin_trgm_ops)",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_orders_search_trgm"]


def upgrade() -> None:
    op.execute(
        "UPDATE orders SET search_text = search_text || char(10) || mobile_digits"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE orders SET search_text = search_text || chr(10) || mobile_digits"
    )
    for statement in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
