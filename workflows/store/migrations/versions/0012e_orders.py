"""open orders and credit checks

Revision ID: 0012e
Revises: 0012d
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012e"
down_revision = "0012d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
