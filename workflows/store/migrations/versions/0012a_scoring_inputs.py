"""credit file inputs of the scorecard (customer_since, collateral, qualitative ratings)

Revision ID: 0012a
Revises: 0011
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012a"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
