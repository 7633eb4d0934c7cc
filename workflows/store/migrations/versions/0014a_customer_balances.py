"""customer balances

Revision ID: 0014a
Revises: 0013d
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0014a"
down_revision = "0013d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the customer balances change


def downgrade() -> None:
    pass
