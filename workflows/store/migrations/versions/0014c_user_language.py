"""user language

Revision ID: 0014c
Revises: 0014b
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0014c"
down_revision = "0014b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the user language change


def downgrade() -> None:
    pass
