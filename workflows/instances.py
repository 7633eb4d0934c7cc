"""Read side of process instances: who may see one, the paged list, and the full JSON view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from workflows.errors import BadRequest, Forbidden, NotFound
from workflows.inbox import task_json
from workflows.store.models import (
    AuditEvent,
    InboxItem,
    Incident,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)
from workflows.store.paging import page_rows
from workflows.users import Actor


def _visible(actor: Actor) -> Select[ProcessInstance]:
    query = select(ProcessInstance)
    if actor.is_admin:
        return query
    groups = sorted(actor.groups)
    touched = select(InboxItem.instance_id).where(
        or_(
            InboxItem.assignee == actor.username,
            InboxItem.completed_by == actor.username,
            InboxItem.id.in_(select(TaskCandidate.task_id).where(TaskCandidate.group_name.in_(groups))),
        )
    )
    return query.where(or_(ProcessInstance.started_by == actor.username, ProcessInstance.id.in_(touched)))


def list_instances(
    session: Session,
    actor: Actor,
    *,
    process_key: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[ProcessInstance], int]:
    """One page of instances the actor may see, newest first, and the total."""
    if status and status not in InstanceStatus.ALL:
        raise BadRequest(f"status must be one of {', '.join(InstanceStatus.ALL)}, not {status!r}")
    query = _visible_with_start_groups(session, actor)
    if process_key:
        query = query.where(ProcessInstance.process_key == process_key)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    return page_rows(session, query.order_by(ProcessInstance.id.desc()), page, per_page)


def _visible_with_start_groups(session: Session, actor: Actor) -> Select[ProcessInstance]:
    """Instances the actor started or worked on, plus every instance of a process they may start."""
    query = _visible(actor)
    if actor.is_admin:
        return query
    # Start groups live in a JSON column; the definitions table is tiny, so filtering in Python is fine.
    keys = sorted(
        {d.process_key for d in session.scalars(select(ProcessDefinition)) if actor.in_any(d.start_groups)}
    )
    return (
        query
        if not keys
        else select(ProcessInstance).where(
            or_(
                ProcessInstance.id.in_(query.with_only_columns(ProcessInstance.id)),
                ProcessInstance.process_key.in_(keys),
            )
        )
    )


def get_instance_for(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """Raises: NotFound, Forbidden."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    visible = session.scalar(
        _visible_with_start_groups(session, actor)
        .where(ProcessInstance.id == instance_id)
        .with_only_columns(ProcessInstance.id)
    )
    if visible is None:
        raise Forbidden(f"{actor.username} is not involved in process instance {instance_id}")
    return instance


def instance_summary(instance: ProcessInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "version": instance.version,
        "status": instance.status,
        "business_key": instance.business_key,
        "started_by": instance.started_by,
        "started_at": instance.started_at.isoformat(),
        "updated_at": instance.updated_at.isoformat(),
        "completed_at": instance.completed_at.isoformat() if instance.completed_at else None,
    }


# Built once: the API returns this view after every start and completion.
_TASKS_OF = select(InboxItem).where(InboxItem.instance_id == bindparam("instance_id")).order_by(InboxItem.id)
_EVENTS_OF = (
    select(AuditEvent).where(AuditEvent.instance_id == bindparam("instance_id")).order_by(AuditEvent.id)
)
_OPEN_INCIDENTS_OF = select(Incident).where(
    Incident.instance_id == bindparam("instance_id"), Incident.resolved_at.is_(None)
)


def instance_json(session: Session, instance: ProcessInstance, now: datetime) -> dict[str, Any]:
    """The full view of the contract: data, every task (open and done), events and open incidents."""
    params = {"instance_id": instance.id}
    tasks = session.scalars(_TASKS_OF, params)
    events = session.scalars(_EVENTS_OF, params)
    incidents = session.scalars(_OPEN_INCIDENTS_OF, params)
    return {
        **instance_summary(instance),
        "data": instance.data,
        "tasks": [task_json(t, now) for t in tasks],
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "bpmn_id": e.bpmn_id,
                "task_id": e.task_id,
                "detail": e.detail,
            }
            for e in events
        ],
        "incidents": [
            {"id": i.id, "bpmn_id": i.bpmn_id, "message": i.message, "created_at": i.created_at.isoformat()}
            for i in incidents
        ],
    }
