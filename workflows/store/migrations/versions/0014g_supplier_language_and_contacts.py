"""supplier language and contacts: the language a supplier reads its letters in (en, zh), the person a
customer's or supplier's letters address, and a task's subject and instructions in the diagram's other
languages

Revision ID: 0014g
Revises: 0014f
"""

import sqlalchemy as sa
from alembic import op

revision = "0014g"
down_revision = "0014f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppliers", schema=None) as batch_op:
        # Existing suppliers were written to in English: they keep it until someone sets their language.
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=False, server_default="en"))
        batch_op.add_column(sa.Column("contact_name", sa.String(length=120), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        # No contact on file: letters greet the company, as before.
        batch_op.add_column(sa.Column("contact_name", sa.String(length=120), nullable=True))
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        # {language: {"subject": ..., "instructions": ...}} from subject_zh / instructions_zh; tasks opened
        # before have none and read in English.
        batch_op.add_column(sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_column("translations")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("contact_name")
    with op.batch_alter_table("suppliers", schema=None) as batch_op:
        batch_op.drop_column("contact_name")
        batch_op.drop_column("language")
