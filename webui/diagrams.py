"""Diagrams on pages: a version's BPMN text, who may read it, and the markers that show an instance's path."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.definitions.deploy import PROCESS_OWNERS
from workflows.errors import Forbidden, NotFound
from workflows.instances import list_instances
from workflows.store.models import AuditEvent, Deployment, InboxItem, Incident, ProcessDefinition, TaskStatus
from workflows.users import Actor

# Audit actions that mean the engine passed through the element.
_DONE_ACTIONS = frozenset({"service_called", "task_completed"})


@dataclass
class Markers:
    """bpmn element ids by CSS marker; later entries win where one id has several states."""

    done: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    open: set[str] = field(default_factory=set)
    error: set[str] = field(default_factory=set)
    current: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, list[str]]:
        """{marker class: sorted ids}, each id under the marker that matters most."""
        order = ("current", "error", "open", "cancelled", "done")
        seen: set[str] = set()
        out: dict[str, list[str]] = {}
        for name in order:
            ids = getattr(self, name) - seen
            out[f"cf-{name}"] = sorted(ids)
            seen |= ids
        return out


def get_definition(session: Session, key: str, version: int) -> ProcessDefinition:
    """Raises: NotFound."""
    definition = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_key == key, ProcessDefinition.version == version
        )
    )
    if definition is None:
        raise NotFound(f"{key} version {version} is not deployed; see the Definitions page for what is")
    return definition


def check_may_read_diagram(session: Session, actor: Actor, definition: ProcessDefinition) -> None:
    """Process owners read every diagram; others those of processes they may start or work on.

    Raises:
        Forbidden.
    """
    if actor.in_any(PROCESS_OWNERS):
        return
    if actor.in_any(definition.start_groups):
        return
    _, total = list_instances(session, actor, process_key=definition.process_key, per_page=1)
    if total == 0:
        raise Forbidden(
            f"{actor.username} works on no {definition.process_key} case, so its diagram is not shown"
        )


def deployment_files(session: Session, definition: ProcessDefinition) -> dict[str, str]:
    """Every file deployed together with the definition (name -> text)."""
    deployment = session.get(Deployment, definition.deployment_id)
    if deployment is None:
        raise NotFound(f"the deployment of {definition.process_key} v{definition.version} is missing")
    return dict(deployment.files)


def diagram_xml(session: Session, definition: ProcessDefinition) -> str:
    """The BPMN text of the definition as deployed.

    Raises:
        NotFound.
    """
    text = deployment_files(session, definition).get(definition.bpmn_file)
    if text is None:
        raise NotFound(
            f"{definition.bpmn_file} is not part of {definition.process_key} v{definition.version}"
        )
    return text


def instance_markers(session: Session, instance_id: int, current_task: InboxItem | None = None) -> Markers:
    """Where an instance has been: completed and cancelled tasks, open ones, failures, and this task."""
    markers = Markers()
    rows = session.execute(
        select(InboxItem.bpmn_id, InboxItem.status).where(InboxItem.instance_id == instance_id)
    )
    for bpmn_id, status in rows:
        {TaskStatus.OPEN: markers.open, TaskStatus.CANCELLED: markers.cancelled}.get(
            status, markers.done
        ).add(bpmn_id)
    events = session.execute(
        select(AuditEvent.action, AuditEvent.bpmn_id).where(
            AuditEvent.instance_id == instance_id, AuditEvent.bpmn_id.is_not(None)
        )
    )
    for action, event_bpmn_id in events:
        if action in _DONE_ACTIONS and event_bpmn_id:
            markers.done.add(event_bpmn_id)
    incidents = session.scalars(
        select(Incident.bpmn_id).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
    )
    markers.error.update(b for b in incidents if b)
    if current_task is not None and current_task.status == TaskStatus.OPEN:
        markers.current.add(current_task.bpmn_id)
    return markers
