"""kpi snapshots

Revision ID: 0013a
Revises: 0012g
"""

import sqlalchemy as sa  # noqa: F401 - the helper filling this revision uses it
from alembic import op  # noqa: F401

revision = "0013a"
down_revision = "0012g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reserved in the chain; filled by the kpi snapshots change


def downgrade() -> None:
    pass
