"""limit decisions recorded as above policy

Revision ID: 0012b
Revises: 0012a
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012b"
down_revision = "0012a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
