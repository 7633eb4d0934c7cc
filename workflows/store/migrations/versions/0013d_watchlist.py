"""watchlist

Revision ID: 0013d
Revises: 0013c
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0013d"
down_revision = "0013c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the watchlist change


def downgrade() -> None:
    pass
