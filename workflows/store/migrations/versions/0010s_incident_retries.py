"""incident retries: how often the scheduler ran an instance's failed step, and when it runs it again

Revision ID: 0010s
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010s"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Incidents recorded before this migration failed once and wait for an admin, as they did then.
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("attempts", server_default=None)
        batch_op.create_index(batch_op.f("ix_incidents_next_retry_at"), ["next_retry_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_next_retry_at"))
        batch_op.drop_column("next_retry_at")
        batch_op.drop_column("attempts")
