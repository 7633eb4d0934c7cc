"""limit decisions recorded as above policy

Revision ID: 0012b
Revises: 0012a
"""

import sqlalchemy as sa
from alembic import op

revision = "0012b"
down_revision = "0012a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An increase above the policy's limit is an exception: the history records it with the policy's
    # limit (Decimal2: cents as an integer) and the analyst's reason. Earlier changes were within policy
    # as far as anyone recorded.
    with op.batch_alter_table("limit_changes") as batch:
        batch.add_column(sa.Column("above_policy", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("policy_limit", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("exception_reason", sa.String(length=1000), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("limit_changes") as batch:
        batch.drop_column("exception_reason")
        batch.drop_column("policy_limit")
        batch.drop_column("above_policy")
