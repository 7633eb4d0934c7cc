"""disputes and credit notes

Disputes get tables of their own (workflows/credit/disputes.py) and hold amounts, not whole invoices:
invoices.disputed (a flag that held the whole invoice out of dunning) becomes invoices.disputed_amount.
An invoice flagged before this revision keeps its whole open amount held.

Revision ID: 0012f
Revises: 0012e
"""

import sqlalchemy as sa
from alembic import op

revision = "0012f"
down_revision = "0012e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("owner_group", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("disputed_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposal", sa.String(length=10), nullable=True),
        sa.Column("proposed_credit", sa.BigInteger(), nullable=True),
        sa.Column("proposed_credit_base", sa.BigInteger(), nullable=True),
        sa.Column("proposal_comment", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("credited_amount", sa.BigInteger(), nullable=False),
        sa.Column("raised_by", sa.String(length=80), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["dunning_cases.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_disputes_customer_status", "disputes", ["customer_id", "status"], unique=False)
    op.create_index("ix_disputes_instance_id", "disputes", ["instance_id"], unique=False)
    op.create_table(
        "dispute_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("credited", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispute_lines_dispute_id", "dispute_lines", ["dispute_id"], unique=False)
    op.create_index("ix_dispute_lines_invoice_id", "dispute_lines", ["invoice_id"], unique=False)
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("to_balance", sa.BigInteger(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["dispute_id"], ["disputes.id"]),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_credit_notes_customer", "credit_notes", ["customer_id", "posted_at"], unique=False)
    op.create_index("ix_credit_notes_dispute_id", "credit_notes", ["dispute_id"], unique=False)
    op.create_index("ix_credit_notes_invoice_id", "credit_notes", ["invoice_id"], unique=False)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputed_amount", sa.BigInteger(), nullable=False, server_default="0"))
    # Amounts are stored in hundredths (Decimal2): the whole open amount of a flagged invoice stays held.
    op.execute("UPDATE invoices SET disputed_amount = open_amount WHERE disputed")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("disputed")


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputed", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE invoices SET disputed = (disputed_amount > 0)")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("disputed_amount")
    op.drop_index("ix_credit_notes_invoice_id", table_name="credit_notes")
    op.drop_index("ix_credit_notes_dispute_id", table_name="credit_notes")
    op.drop_index("ix_credit_notes_customer", table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_index("ix_dispute_lines_invoice_id", table_name="dispute_lines")
    op.drop_index("ix_dispute_lines_dispute_id", table_name="dispute_lines")
    op.drop_table("dispute_lines")
    op.drop_index("ix_disputes_instance_id", table_name="disputes")
    op.drop_index("ix_disputes_customer_status", table_name="disputes")
    op.drop_table("disputes")
