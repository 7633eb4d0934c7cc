"""job days: status, heartbeat and the whole day's counts on job_runs; outcomes on batch_claims

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Days recorded before this migration were recorded when they finished: they are done.
def _job_run_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(length=20), nullable=False, server_default="done"),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("runs", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("takeovers", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("customers_planned", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("customers_handled", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("instances_started", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("customers_failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        for column in _job_run_columns():
            batch_op.add_column(column)
    # The application always writes these columns; the defaults only filled the existing rows.
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        for column in _job_run_columns():
            if column.server_default is not None:
                batch_op.alter_column(column.name, server_default=None)
    with op.batch_alter_table("batch_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("instance_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_claims", schema=None) as batch_op:
        for name in ("handled_at", "instance_id", "outcome", "reason"):
            batch_op.drop_column(name)
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        for column in reversed(_job_run_columns()):
            batch_op.drop_column(column.name)
