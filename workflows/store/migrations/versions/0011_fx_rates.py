"""exchange rates into the base currency

Revision ID: 0011
Revises: 0010m
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010m"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("currency", "day", name="uq_fx_rates_currency_day"),
    )
    op.create_index("ix_fx_rates_lookup", "fx_rates", ["currency", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_fx_rates_lookup", table_name="fx_rates")
    op.drop_table("fx_rates")
