"""the simulated clock: one stored time per database ([clock] mode = "simulated")

Revision ID: 0009c
Revises: 0009

A branch of its own beside any other migration after 0009; upgrade_schema upgrades every head.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009c"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simulated_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("simulated_clock")
