"""collection contacts

Revision ID: 0013c
Revises: 0013b
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0013c"
down_revision = "0013b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the collection contacts change


def downgrade() -> None:
    pass
