"""dunning ladder by current grade and promises to pay judged by amount

Revision ID: 0012c
Revises: 0012b
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012c"
down_revision = "0012b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
