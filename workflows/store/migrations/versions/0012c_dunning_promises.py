"""dunning ladder by current grade and promises to pay judged by amount

Revision ID: 0012c
Revises: 0012b
"""

import sqlalchemy as sa
from alembic import op

revision = "0012c"
down_revision = "0012b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dunning_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grade", sa.String(length=2), nullable=True))
    op.create_table(
        "dunning_promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("overdue", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outside", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=True),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["dunning_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dunning_promises_case", "dunning_promises", ["case_id", "status"], unique=False)
    # A case paused by a promise before this revision keeps it as an open promise, judged by amount from now
    # on; who recorded it is in the case's promise_to_pay event.
    op.execute(
        "INSERT INTO dunning_promises (case_id, promised_date, amount, currency, overdue, status, outside, "
        "recorded_by, recorded_at) "
        "SELECT c.id, c.promised_date, c.promised_amount, c.currency, c.promised_amount, 'open', '[]', "
        "COALESCE((SELECT e.actor FROM dunning_events e WHERE e.case_id = c.id AND e.kind = 'promise_to_pay' "
        "ORDER BY e.id DESC LIMIT 1), 'system'), "
        "COALESCE((SELECT e.at FROM dunning_events e WHERE e.case_id = c.id AND e.kind = 'promise_to_pay' "
        "ORDER BY e.id DESC LIMIT 1), c.opened_at) "
        "FROM dunning_cases c WHERE c.promised_date IS NOT NULL AND c.promised_amount IS NOT NULL "
        "AND c.status IN ('open', 'paused', 'disputed', 'legal')"
    )


def downgrade() -> None:
    op.drop_index("ix_dunning_promises_case", table_name="dunning_promises")
    op.drop_table("dunning_promises")
    with op.batch_alter_table("dunning_cases", schema=None) as batch_op:
        batch_op.drop_column("grade")
