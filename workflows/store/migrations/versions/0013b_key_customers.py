"""key customers

Revision ID: 0013b
Revises: 0013a
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0013b"
down_revision = "0013a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the key customers change


def downgrade() -> None:
    pass
