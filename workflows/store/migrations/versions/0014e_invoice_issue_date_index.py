"""invoice issue date index

Revision ID: 0014e
Revises: 0014d
"""

from alembic import op

revision = "0014e"
down_revision = "0014d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The KPIs' earliest issue date (workflows/credit/kpi_cache.first_issue_date) is min(issue_date): with
    # this index one index lookup, exact even when invoices commit out of id order (PostgreSQL).
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"])


def downgrade() -> None:
    op.drop_index("ix_invoices_issue_date", table_name="invoices")
