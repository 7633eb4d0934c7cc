"""watchlist

Revision ID: 0013d
Revises: 0013c
"""

import sqlalchemy as sa
from alembic import op

revision = "0013d"
down_revision = "0013c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The early-warning watchlist (workflows/credit/watchlist.py): one row per spell on the list.
    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("indicator_names", sa.String(length=400), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("rules", sa.String(length=120), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_watchlist_entries_customer_id"), "watchlist_entries", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_watchlist_entries_opened", "watchlist_entries", ["cleared_at", "opened_at"], unique=False
    )
    # The list's ids in its order's columns: the page query sorts and pages from this index alone.
    op.create_index(
        "ix_watchlist_entries_list",
        "watchlist_entries",
        ["cleared_at", "action", "opened_at", "id"],
        unique=False,
    )
    # At most one open entry per customer: a second evaluation racing the first cannot open another.
    op.create_index(
        "uq_watchlist_open_customer",
        "watchlist_entries",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_watchlist_open_customer", table_name="watchlist_entries")
    op.drop_index("ix_watchlist_entries_list", table_name="watchlist_entries")
    op.drop_index("ix_watchlist_entries_opened", table_name="watchlist_entries")
    op.drop_index(op.f("ix_watchlist_entries_customer_id"), table_name="watchlist_entries")
    op.drop_table("watchlist_entries")
