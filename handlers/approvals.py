"""Who approved: the people who completed given user tasks of the handler's instance."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from workflows.credit.record_fields import iso_text
from workflows.engine.service_tasks import TaskContext
from workflows.store.models import InboxItem, TaskStatus


def completed_steps(ctx: TaskContext, steps: list[str]) -> list[dict[str, Any]]:
    """Who completed which of `steps` in this instance, in order: [{step, user, at}]."""
    rows = ctx.session.execute(
        select(InboxItem.bpmn_id, InboxItem.completed_by, InboxItem.completed_at)
        .where(
            InboxItem.instance_id == ctx.instance_id,
            InboxItem.bpmn_id.in_(steps),
            InboxItem.status == TaskStatus.COMPLETED,
        )
        .order_by(InboxItem.completed_at, InboxItem.id)
    ).all()
    return [{"step": step, "user": user, "at": iso_text(at)} for step, user, at in rows]
