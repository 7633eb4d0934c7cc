"""inbox due_sort: a NOT NULL due key so the inbox pages in index order

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "due_sort", sa.DateTime(timezone=True), nullable=False, server_default="9999-12-31 00:00:00"
            )
        )
    op.execute("UPDATE inbox_items SET due_sort = due_at WHERE due_at IS NOT NULL")
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.alter_column("due_sort", server_default=None)
        batch_op.create_index("ix_inbox_status_due_sort", ["status", "due_sort"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_status_due_sort")
        batch_op.drop_column("due_sort")
