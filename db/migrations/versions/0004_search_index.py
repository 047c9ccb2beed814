"""Substring search index for ``searchTerm`` on PostgreSQL (pg_trgm GIN); the mobile
number's digits join ``search_text`` so a phone-like term needs no second column.

SQLite keeps a scan of ``search_text``: its FTS5 trigram index was measured slower here
(common trigrams such as a country code make every posting list long) and it halved bulk
insert throughput. The index is not in the SQLAlchemy metadata (dialect-specific DDL);
``env.py`` tells autogenerate to leave it alone.

Revision ID: 0004_search_index
Revises: 0003_idempotency_keys
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_search_index"
down_revision: str | None = "0003_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_orders_search_trgm ON orders USING gin (search_text gin_trgm_ops)",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_orders_search_trgm"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    newline = "char(10)" if sqlite else "chr(10)"
    op.execute(f"UPDATE orders SET search_text = search_text || {newline} || mobile_digits")
    if not sqlite:
        for statement in POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for statement in POSTGRES_DOWN:
            op.execute(statement)
