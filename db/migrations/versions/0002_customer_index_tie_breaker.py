"""Customer index ends with the tie-breaker, so a customer's orders page without a sort.

Revision ID: 0002_customer_index
Revises: e81e49a11e48
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_customer_index"
down_revision: str | None = "e81e49a11e48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_tenant_customer")
        batch_op.create_index(
            "ix_orders_tenant_customer", ["tenant_id", "mobile_digits", "created_at", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_tenant_customer")
        batch_op.create_index(
            "ix_orders_tenant_customer", ["tenant_id", "mobile_digits", "created_at"]
        )
