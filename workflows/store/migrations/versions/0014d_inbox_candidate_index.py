"""inbox candidate index: the candidate rows carry the inbox's sort keys, so the inbox reads a user's
tasks from their groups' index ranges in due (or creation) order instead of walking every open task;
`shared` marks the rows of a task offered to several groups, the only ones a count must deduplicate

Revision ID: 0014d
Revises: 0014c
"""

import sqlalchemy as sa
from alembic import op

revision = "0014d"
down_revision = "0014c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_sort", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("shared", sa.Boolean(), nullable=True))
    # Closed tasks leave the candidate index (the engine drops their rows); any left over would only be
    # read and filtered out again. The open tasks' rows get their task's keys.
    op.execute(
        "DELETE FROM task_candidates WHERE NOT EXISTS (SELECT 1 FROM inbox_items i"
        " WHERE i.id = task_candidates.task_id AND i.status = 'open')"
    )
    op.execute(
        "UPDATE task_candidates SET"
        " due_sort = (SELECT i.due_sort FROM inbox_items i WHERE i.id = task_candidates.task_id),"
        " created_at = (SELECT i.created_at FROM inbox_items i WHERE i.id = task_candidates.task_id),"
        " shared = task_id IN"
        " (SELECT c.task_id FROM task_candidates c GROUP BY c.task_id HAVING count(*) > 1)"
    )
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.alter_column("due_sort", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("shared", existing_type=sa.Boolean(), nullable=False)
        batch_op.create_index(
            "ix_task_candidates_due", ["group_name", "due_sort", "task_id", "shared"], unique=False
        )
        batch_op.create_index(
            "ix_task_candidates_created", ["group_name", "created_at", "task_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_task_candidates_created")
        batch_op.drop_index("ix_task_candidates_due")
        batch_op.drop_column("shared")
        batch_op.drop_column("created_at")
        batch_op.drop_column("due_sort")
