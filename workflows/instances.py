"""Read side of process instances: who may see one, the paged list, the full JSON view, and what the
instance and task pages show (tasks, history, incidents, the elements the instance has passed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from workflows.errors import BadRequest, Forbidden, NotFound
from workflows.inbox import get_task_for, task_json
from workflows.messages import _
from workflows.readers import may_read, readable
from workflows.store.models import (
    AuditEvent,
    InboxItem,
    Incident,
    InstanceStatus,
    ProcessInstance,
)
from workflows.store.paging import Page, page_rows
from workflows.store.shown_json import readable_or, shown_json, unreadable_said
from workflows.users import Actor

if TYPE_CHECKING:
    from workflows.engine.step import Step


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
    """One page of instances the actor may read (workflows.readers), newest first, and the total."""
    if status and status not in InstanceStatus.ALL:
        raise BadRequest(
            _(
                "status must be one of %(all)s, not '%(status)s'",
                all=", ".join(InstanceStatus.ALL),
                status=status,
            )
        )
    query = select(ProcessInstance).where(readable(session, actor))
    if process_key:
        query = query.where(ProcessInstance.process_key == process_key)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    return page_rows(session, query.order_by(ProcessInstance.id.desc()), page, per_page)


def get_instance_for(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """Raises: NotFound, Forbidden."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(_("process instance %(instance_id)s does not exist", instance_id=instance_id))
    if not may_read(session, actor, instance_id):
        raise Forbidden(
            _(
                "%(user)s is not involved in process instance %(instance_id)s",
                user=actor.username,
                instance_id=instance_id,
            )
        )
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
    said = unreadable_said({"data": instance.data})  # no decoder reads it (a hand edit): its text
    return {
        **instance_summary(instance),
        "data": shown_json(readable_or(instance.data, {})),  # older versions or a hand edit: shown repaired
        **({"unreadable": said} if said else {}),
        "tasks": [task_json(t, now) for t in tasks],
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "bpmn_id": e.bpmn_id,
                "task_id": e.task_id,
                "detail": shown_json(e.detail),
            }
            for e in events
        ],
        "incidents": [
            {"id": i.id, "bpmn_id": i.bpmn_id, "message": i.message, "created_at": i.created_at.isoformat()}
            for i in incidents
        ],
    }


def started_instance_json(factory: sessionmaker[Session], step: Step, now: datetime) -> dict[str, Any]:
    """`instance_json` of the instance `step` (committed) just started, from what the step wrote.

    A new instance's tasks are the inbox rows its step opened, its incident the step's, its events the
    step's audit rows: no read, unless a handler that writes ran (it may have added audit rows of its
    own, in the session's flushes before the step's), then the view is read back.
    """
    instance = step.instance
    if step.wrote:
        with factory() as session:
            return instance_json(session, instance, now)
    incidents = [step.incident] if step.incident is not None else []
    return {
        **instance_summary(instance),
        "data": instance.data,
        "tasks": [task_json(t, now) for t in step.opened],
        "events": [
            {
                # As read back: the column stores UTC, JSON detail as its JSON.
                "at": e["at"].astimezone(UTC).isoformat(),
                "actor": e["actor"],
                "action": e["action"],
                "bpmn_id": e["bpmn_id"],
                "task_id": e["task_id"],
                "detail": e["detail"],
            }
            for e in step.events
        ],
        "incidents": [
            {"id": i.id, "bpmn_id": i.bpmn_id, "message": i.message, "created_at": i.created_at.isoformat()}
            for i in incidents
        ],
    }


def instance_counts(session: Session, definition_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{definition id: {status: instances}} for the given versions (versions without any are absent)."""
    ids = list(definition_ids)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if ids:
        rows = session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
            .where(ProcessInstance.definition_id.in_(ids))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)
        )
        for definition_id, status, count in rows:
            counts[definition_id][status] = count
    return counts


# --- the instance and task pages --------------------------------------------------------------------------

# Audit actions that mean the engine passed through the element.
_PASSED_ACTIONS = frozenset({"service_called", "task_completed"})


@dataclass(frozen=True)
class ElementStates:
    """Where an instance has been, by BPMN element id (what a diagram marks)."""

    tasks: list[tuple[str, str]]  # (element id, task status) of every user task, open or not
    passed: set[str]  # elements the engine completed or called, from the audit trail
    failed: set[str]  # elements with an unresolved incident


def element_states(session: Session, instance_id: int) -> ElementStates:
    """The instance's tasks by status, the elements it passed and those that failed."""
    tasks = session.execute(
        select(InboxItem.bpmn_id, InboxItem.status).where(InboxItem.instance_id == instance_id)
    )
    events = session.execute(
        select(AuditEvent.action, AuditEvent.bpmn_id).where(
            AuditEvent.instance_id == instance_id, AuditEvent.bpmn_id.is_not(None)
        )
    )
    incidents = session.scalars(
        select(Incident.bpmn_id).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
    )
    return ElementStates(
        tasks=[(bpmn_id, status) for bpmn_id, status in tasks],
        passed={bpmn_id for action, bpmn_id in events if action in _PASSED_ACTIONS and bpmn_id},
        failed={bpmn_id for bpmn_id in incidents if bpmn_id},
    )


@dataclass(frozen=True)
class InstanceDetail:
    """What the instance page shows: every task, a page of the history, the incidents, the path."""

    instance: ProcessInstance
    tasks: list[InboxItem]  # oldest first
    events: Page[AuditEvent]  # oldest first
    incidents: list[Incident]  # resolved ones too, oldest first
    path: ElementStates


def instance_detail(
    session: Session, actor: Actor, instance_id: int, *, history_page: int, per_page: int
) -> InstanceDetail:
    """The instance page of one instance the actor may see.

    Raises:
        NotFound, Forbidden.
    """
    instance = get_instance_for(session, actor, instance_id)
    events = select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)
    rows, total = page_rows(session, events, history_page, per_page)
    return InstanceDetail(
        instance=instance,
        tasks=list(session.scalars(_TASKS_OF, {"instance_id": instance.id})),
        events=Page(rows, total, history_page, per_page),
        incidents=list(
            session.scalars(select(Incident).where(Incident.instance_id == instance.id).order_by(Incident.id))
        ),
        path=element_states(session, instance.id),
    )


@dataclass(frozen=True)
class TaskCase:
    """What a task page shows besides the form: the task, its instance, recent history and the path."""

    task: InboxItem
    instance: ProcessInstance
    events: list[AuditEvent]  # newest first
    task_titles: dict[int, str]  # every task of the instance, for history lines naming one
    path: ElementStates


def task_case(session: Session, actor: Actor, task_id: int, *, recent_events: int) -> TaskCase:
    """A task the actor may see, with the newest `recent_events` entries of its instance's history.

    Raises:
        NotFound, Forbidden.
    """
    item = get_task_for(session, actor, task_id)
    instance = session.get(ProcessInstance, item.instance_id)
    assert instance is not None  # a foreign key
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == instance.id)
        .order_by(AuditEvent.id.desc())
        .limit(recent_events)
    )
    titles = session.execute(
        select(InboxItem.id, InboxItem.title).where(InboxItem.instance_id == instance.id)
    )
    return TaskCase(
        task=item,
        instance=instance,
        events=list(events),
        task_titles={row_id: title for row_id, title in titles},
        path=element_states(session, instance.id),
    )


def recent_readable(
    session: Session, actor: Actor, key: str, limit: int
) -> list[tuple[int, str | None, int]]:
    """(id, business key, version) of the newest `limit` instances of `key` the actor may read, newest first
    (the studio's preview choices)."""
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.version)
        .where(ProcessInstance.process_key == key, readable(session, actor))
        .order_by(ProcessInstance.id.desc())
        .limit(limit)
    ).all()
    return [(i, bk, v) for i, bk, v in rows]


def newest_instance_id(session: Session, key: str) -> int | None:
    """The newest instance of `key` (ids grow with time), whoever may read it: the studio's preview with
    values hidden shows its data's shape, never its values."""
    return session.scalar(
        select(ProcessInstance.id)
        .where(ProcessInstance.process_key == key)
        .order_by(ProcessInstance.id.desc())
        .limit(1)
    )
