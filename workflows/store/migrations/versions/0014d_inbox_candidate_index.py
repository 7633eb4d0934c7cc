"""inbox candidate index

Revision ID: 0014d
Revises: 0014c
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0014d"
down_revision = "0014c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the inbox candidate index change


def downgrade() -> None:
    pass
