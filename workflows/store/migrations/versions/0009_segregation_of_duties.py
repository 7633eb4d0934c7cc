"""segregation of duties: task decisions, pending definition versions, the groups that may read an instance

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sa.String(length=40), nullable=True))
    # Versions deployed before this migration were usable at once: they are active.
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="active")
        )
        batch_op.add_column(sa.Column("decided_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
    op.create_table(
        "instance_groups",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "group_name"),
    )
    with op.batch_alter_table("instance_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_groups_group_name"), ["group_name"], unique=False)
    _backfill_decisions()
    _backfill_instance_groups()


def _backfill_decisions() -> None:
    """The decision of every completed task, from the form data its audit event recorded."""
    conn = op.get_bind()
    events = sa.table(
        "audit_events", sa.column("task_id", sa.Integer), sa.column("action"), sa.column("detail", sa.JSON)
    )
    items = sa.table("inbox_items", sa.column("id", sa.Integer), sa.column("decision", sa.String))
    rows = conn.execute(
        sa.select(events.c.task_id, events.c.detail).where(events.c.action == "task_completed")
    )
    decisions = []
    for task_id, detail in rows:
        data = (detail or {}).get("data") if isinstance(detail, dict) else None
        decision = data.get("decision") if isinstance(data, dict) else None
        if task_id is not None and isinstance(decision, str):
            decisions.append({"task": task_id, "value": decision[:40]})
    if decisions:
        conn.execute(
            items.update().where(items.c.id == sa.bindparam("task")).values(decision=sa.bindparam("value")),
            decisions,
        )


def _backfill_instance_groups() -> None:
    """The groups offered a task of each instance, except tasks the process assigned to its initiator."""
    conn = op.get_bind()
    items = sa.table(
        "inbox_items",
        sa.column("instance_id", sa.Integer),
        sa.column("candidate_groups", sa.JSON),
        sa.column("assignee", sa.String),
        sa.column("claimed_at"),
    )
    instances = sa.table("process_instances", sa.column("id", sa.Integer), sa.column("started_by", sa.String))
    query = sa.select(
        items.c.instance_id,
        items.c.candidate_groups,
        items.c.assignee,
        items.c.claimed_at,
        instances.c.started_by,
    ).join(instances, instances.c.id == items.c.instance_id)
    pairs: set[tuple[int, str]] = set()
    for instance_id, groups, assignee, claimed_at, started_by in conn.execute(query):
        if assignee is not None and assignee == started_by and claimed_at is None:
            continue  # assigned to the initiator by the process (e.g. "answer the analyst's questions")
        pairs.update((instance_id, g) for g in groups or [] if isinstance(g, str))
    if pairs:
        table = sa.table("instance_groups", sa.column("instance_id", sa.Integer), sa.column("group_name"))
        conn.execute(table.insert(), [{"instance_id": i, "group_name": g} for i, g in sorted(pairs)])


def downgrade() -> None:
    with op.batch_alter_table("instance_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_groups_group_name"))
    op.drop_table("instance_groups")
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        for name in ("decided_at", "decided_by", "status"):
            batch_op.drop_column(name)
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_column("decision")
