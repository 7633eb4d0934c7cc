"""external ratings on the credit file; joins the receivables and supplier branches

Revision ID: 0004
Revises: 0003d, 0003s
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = ("0003d", "0003s")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rating_agency", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("rating_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("rating_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("rating_changed_at")
        batch_op.drop_column("rating_date")
        batch_op.drop_column("rating_agency")
