"""open orders and credit checks

Revision ID: 0012e
Revises: 0012d
"""

import sqlalchemy as sa
from alembic import op

revision = "0012e"
down_revision = "0012d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("release_instance_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["release_instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "order_ref", name="uq_orders_customer_ref"),
    )
    op.create_index("ix_orders_customer_status", "orders", ["customer_id", "status"], unique=False)
    op.create_table(
        "credit_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_ref", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=True),
        sa.Column("exposure", sa.BigInteger(), nullable=True),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("limit_currency", sa.String(length=3), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("release_instance_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["release_instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_credit_checks_customer", "credit_checks", ["customer_id", "checked_at"], unique=False)
    op.create_index(op.f("ix_credit_checks_order_id"), "credit_checks", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_checks_order_id"), table_name="credit_checks")
    op.drop_index("ix_credit_checks_customer", table_name="credit_checks")
    op.drop_table("credit_checks")
    op.drop_index("ix_orders_customer_status", table_name="orders")
    op.drop_table("orders")
