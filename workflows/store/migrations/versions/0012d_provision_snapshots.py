"""monthly provision snapshots and their movements

Revision ID: 0012d
Revises: 0012c
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012d"
down_revision = "0012c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # RESERVED: filled by the helper that owns this revision


def downgrade() -> None:
    pass
