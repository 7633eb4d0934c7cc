"""kpi fast path: indexes for the KPIs of a period ending on the balances' day

Revision ID: 0014f
Revises: 0014e
"""

from alembic import op

revision = "0014f"
down_revision = "0014e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # workflows/credit/kpi_today.py: "nothing dated after the period end" is one index lookup per table,
    # and a period's credit sales (with what of them is still open) one range of a covering index.
    op.create_index("ix_payments_paid_on", "payments", ["paid_on"])
    op.create_index("ix_credit_notes_posted_at", "credit_notes", ["posted_at"])
    op.create_index(
        "ix_invoices_issue_sales", "invoices", ["issue_date", "currency", "status", "amount", "open_amount"]
    )
    # It leads with the issue date, so it also answers min(issue_date) (kpi_cache.first_issue_date): the
    # one-column index of 0014e is one index too many on every invoice insert.
    op.drop_index("ix_invoices_issue_date", table_name="invoices")


def downgrade() -> None:
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"])
    op.drop_index("ix_invoices_issue_sales", table_name="invoices")
    op.drop_index("ix_credit_notes_posted_at", table_name="credit_notes")
    op.drop_index("ix_payments_paid_on", table_name="payments")
