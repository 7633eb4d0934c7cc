"""decision log

Revision ID: 0014b
Revises: 0014a
"""

import sqlalchemy as sa
from alembic import op

revision = "0014b"
down_revision = "0014a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per DMN evaluation of a business rule task (workflows/store/decision_log_table.py).
    op.create_table(
        "decision_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("process_key", sa.String(length=120), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.String(length=120), nullable=False),
        sa.Column("bpmn_id", sa.String(length=120), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decision_log_instance", "decision_log", ["instance_id", "id"], unique=False)
    op.create_index(
        "ix_decision_log_instance_decision",
        "decision_log",
        ["instance_id", "decision_id", "id"],
        unique=False,
    )
    op.create_index("ix_decision_log_decision_at", "decision_log", ["decision_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_decision_log_decision_at", table_name="decision_log")
    op.drop_index("ix_decision_log_instance_decision", table_name="decision_log")
    op.drop_index("ix_decision_log_instance", table_name="decision_log")
    op.drop_table("decision_log")
