"""kpi fast path (reserved; filled by the KPI fast-path work, or left empty)

Revision ID: 0014f
Revises: 0014e
"""

revision = "0014f"
down_revision = "0014e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
