"""decision log

Revision ID: 0014b
Revises: 0014a
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0014b"
down_revision = "0014a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the decision log change


def downgrade() -> None:
    pass
