"""outbox wall-clock lease: a claimed e-mail stays claimed ten real minutes, whatever a simulated clock does

Revision ID: 0010m
Revises: 0010s
"""

import sqlalchemy as sa
from alembic import op

revision = "0010m"
down_revision = "0010s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_column("leased_until")
