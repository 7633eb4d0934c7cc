"""user language: the language a user reads the web UI in (en, zh), or none chosen yet

Revision ID: 0014c
Revises: 0014b
"""

import sqlalchemy as sa
from alembic import op

revision = "0014c"
down_revision = "0014b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # Existing users have chosen nothing: their browser's Accept-Language decides, then the configured
        # default ([web] default_language), until they pick a language in the page header.
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
