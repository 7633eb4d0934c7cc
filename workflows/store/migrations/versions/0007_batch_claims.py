"""batch claims: per (job, day, customer) rows that chunk workers lock with FOR UPDATE SKIP LOCKED

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_claims",
        sa.Column("process_key", sa.String(length=80), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("process_key", "as_of", "customer_id"),
    )


def downgrade() -> None:
    op.drop_table("batch_claims")
