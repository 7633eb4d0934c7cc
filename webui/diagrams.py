"""Diagrams on pages: a version's BPMN text, who may read it, and the markers that show an instance's path."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from workflows.credit.roles import DEFINITION_READERS
from workflows.errors import Forbidden, NotFound
from workflows.instances import ElementStates, list_instances
from workflows.messages import _
from workflows.store.models import Deployment, InboxItem, ProcessDefinition, TaskStatus
from workflows.users import Actor


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


def check_may_read_diagram(session: Session, actor: Actor, definition: ProcessDefinition) -> None:
    """Process owners and auditors read every diagram; others those of processes they may start or work on.

    Raises:
        Forbidden.
    """
    if actor.in_any(DEFINITION_READERS):
        return
    if actor.in_any(definition.start_groups):
        return
    _rows, total = list_instances(session, actor, process_key=definition.process_key, per_page=1)
    if total == 0:
        raise Forbidden(
            _(
                "%(user)s works on no %(process_key)s case, so its diagram is not shown",
                user=actor.username,
                process_key=definition.process_key,
            )
        )


def deployment_files(session: Session, definition: ProcessDefinition) -> dict[str, str]:
    """Every file deployed together with the definition (name -> text)."""
    deployment = session.get(Deployment, definition.deployment_id)
    if deployment is None:
        raise NotFound(
            _(
                "the deployment of %(process_key)s v%(definition_version)s is missing",
                process_key=definition.process_key,
                definition_version=definition.version,
            )
        )
    return dict(deployment.files)


def diagram_xml(session: Session, definition: ProcessDefinition) -> str:
    """The BPMN text of the definition as deployed.

    Raises:
        NotFound.
    """
    text = deployment_files(session, definition).get(definition.bpmn_file)
    if text is None:
        raise NotFound(
            _(
                "%(bpmn_file)s is not part of %(process_key)s v%(definition_version)s",
                bpmn_file=definition.bpmn_file,
                process_key=definition.process_key,
                definition_version=definition.version,
            )
        )
    return text


def instance_markers(path: ElementStates, current_task: InboxItem | None = None) -> Markers:
    """Where an instance has been: completed and cancelled tasks, open ones, failures, and this task."""
    markers = Markers()
    for bpmn_id, status in path.tasks:
        {TaskStatus.OPEN: markers.open, TaskStatus.CANCELLED: markers.cancelled}.get(
            status, markers.done
        ).add(bpmn_id)
    markers.done.update(path.passed)
    markers.error.update(path.failed)
    if current_task is not None and current_task.status == TaskStatus.OPEN:
        markers.current.add(current_task.bpmn_id)
    return markers
