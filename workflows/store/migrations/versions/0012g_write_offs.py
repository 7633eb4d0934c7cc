"""write-offs and recoveries

Revision ID: 0012g
Revises: 0012f
"""

import sqlalchemy as sa
from alembic import op

revision = "0012g"
down_revision = "0012f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "write_off_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("dunning_cases.id"), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("costs", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("invoices", sa.JSON(), nullable=False),
        sa.Column("open_amount", sa.BigInteger(), nullable=False),
        sa.Column("write_off_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_write_off_requests_customer_status", "write_off_requests", ["customer_id", "status"])
    op.create_index("ix_write_off_requests_instance_id", "write_off_requests", ["instance_id"])
    op.create_index(
        "ux_write_off_requests_one_proposed",
        "write_off_requests",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text("status = 'proposed'"),
        postgresql_where=sa.text("status = 'proposed'"),
    )
    op.create_table(
        "write_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("write_off_requests.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("costs", sa.BigInteger(), nullable=False),
        sa.Column("provision_used", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.JSON(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_write_offs_request_id", "write_offs", ["request_id"])
    op.create_index("ix_write_offs_customer_id", "write_offs", ["customer_id"])
    op.create_index("ix_write_offs_invoice_id", "write_offs", ["invoice_id"])
    op.create_index("ix_write_offs_posted_at", "write_offs", ["posted_at"])
    op.create_table(
        "write_off_provision_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("write_off_id", sa.Integer(), sa.ForeignKey("write_offs.id"), nullable=False),
        sa.Column("provision_id", sa.Integer(), sa.ForeignKey("provisions.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_write_off_provision_uses_write_off_id", "write_off_provision_uses", ["write_off_id"])
    op.create_index("ix_write_off_provision_uses_provision_id", "write_off_provision_uses", ["provision_id"])
    op.create_table(
        "recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("posted_by", sa.String(length=80), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_recoveries_customer_id", "recoveries", ["customer_id"])
    op.create_index("ix_recoveries_invoice_id", "recoveries", ["invoice_id"])


def downgrade() -> None:
    op.drop_table("recoveries")
    op.drop_table("write_off_provision_uses")
    op.drop_table("write_offs")
    op.drop_table("write_off_requests")
