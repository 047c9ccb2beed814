"""Housekeeping: find old webhook messages by age without scanning the table.

Revision ID: 0006_housekeeping_indexes
Revises: 0005_webhooks
Create Date: 2026-11-26 22:45:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_housekeeping_indexes"
down_revision: str | None = "0005_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_messages_created_at", "webhook_messages", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_messages_created_at", table_name="webhook_messages")
