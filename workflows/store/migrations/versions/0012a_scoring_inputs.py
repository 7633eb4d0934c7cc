"""credit file inputs of the scorecard (customer_since, collateral, qualitative ratings)

Revision ID: 0012a
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012a"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ownership", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("region", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("customer_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("management_rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("industry_rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("strategic_rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ratings_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("ratings_at", sa.DateTime(timezone=True), nullable=True))
    # Existing customers date their relationship from their first invoice (not from when the record was
    # created, which made every imported customer a new one).
    op.execute(
        "UPDATE customers SET customer_since = "
        "(SELECT MIN(invoices.issue_date) FROM invoices WHERE invoices.customer_id = customers.id)"
    )
    op.create_table(
        "collateral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_collateral_customer", "collateral", ["customer_id", "expires_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_collateral_customer", table_name="collateral")
    op.drop_table("collateral")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("ratings_at")
        batch_op.drop_column("ratings_by")
        batch_op.drop_column("strategic_rating")
        batch_op.drop_column("industry_rating")
        batch_op.drop_column("management_rating")
        batch_op.drop_column("customer_since")
        batch_op.drop_column("region")
        batch_op.drop_column("ownership")
