"""key customers: a key_customer flag and its account owner on customers; the portfolio's covering indexes

Revision ID: 0013b
Revises: 0013a
"""

import sqlalchemy as sa
from alembic import op

revision = "0013b"
down_revision = "0013a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        # Existing customers are not key customers until someone says so.
        batch_op.add_column(
            sa.Column("key_customer", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("account_owner", sa.String(length=80), nullable=True))
        batch_op.create_index("ix_customers_key", ["key_customer"], unique=False)
    # The portfolio's aggregates read open invoices from these covering indexes, never the table
    # (workflows/credit/portfolio.py: per customer and currency, and per currency and due date).
    op.create_index(
        "ix_invoices_open_aging",
        "invoices",
        ["status", "customer_id", "currency", "due_date", "issue_date", "open_amount"],
        unique=False,
    )
    op.create_index(
        "ix_invoices_open_totals",
        "invoices",
        ["status", "currency", "due_date", "issue_date", "open_amount", "customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_open_totals", table_name="invoices")
    op.drop_index("ix_invoices_open_aging", table_name="invoices")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_key")
        batch_op.drop_column("account_owner")
        batch_op.drop_column("key_customer")
