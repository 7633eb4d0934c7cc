"""collection contacts

The contact log of dunning cases (workflows/credit/collection_contacts.py): each call, e-mail, letter or
visit with its outcome, the next action it set and the promise it recorded.

Revision ID: 0013c
Revises: 0013b
"""

import sqlalchemy as sa
from alembic import op

revision = "0013c"
down_revision = "0013b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("next_action", sa.String(length=200), nullable=False),
        sa.Column("next_action_date", sa.Date(), nullable=True),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["dunning_cases.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["promise_id"], ["dunning_promises.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_collection_contacts_case", "collection_contacts", ["case_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_collection_contacts_case", table_name="collection_contacts")
    op.drop_table("collection_contacts")
