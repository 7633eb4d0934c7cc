"""kpi snapshots

Revision ID: 0013a
Revises: 0012g
"""

import sqlalchemy as sa
from alembic import op

revision = "0013a"
down_revision = "0012g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("posted_by", sa.String(length=80), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "period_end", "base_currency", name="uq_kpi_snapshots_period"),
    )


def downgrade() -> None:
    op.drop_table("kpi_snapshots")
