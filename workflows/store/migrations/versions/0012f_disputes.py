"""disputes and credit notes

Revision ID: 0012f
Revises: 0012e
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012f"
down_revision = "0012e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
