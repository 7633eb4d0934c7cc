"""Who may claim or complete a human task: its candidate groups or assignee, four-eyes rules on top."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflows.credit.roles import changes_nothing
from workflows.errors import Conflict, Forbidden
from workflows.group_names import group_names
from workflows.messages import _
from workflows.store.models import InboxItem, ProcessInstance, TaskStatus
from workflows.store.shown_json import Unreadable
from workflows.users import Actor

# Built once: constructing statements costs more than running them on a hot path.
_COMPLETED_BY = (
    select(InboxItem.title)
    .where(
        InboxItem.instance_id == bindparam("instance_id"),
        InboxItem.bpmn_id.in_(bindparam("steps", expanding=True)),
        InboxItem.completed_by == bindparam("user"),
    )
    .limit(1)
)


def check_open(item: InboxItem) -> None:
    """Raises: Conflict, naming who completed the task and when, or that it is gone."""
    if item.status == TaskStatus.COMPLETED:
        at = item.completed_at.strftime("%Y-%m-%d %H:%M UTC") if item.completed_at else _("an earlier time")
        raise Conflict(
            _(
                "Task %(id)s was already completed by %(user)s at %(at)s.",
                id=item.id,
                user=item.completed_by,
                at=at,
            )
        )
    if item.status != TaskStatus.OPEN:
        raise Conflict(
            _(
                "Task %(id)s is no longer open (%(status)s); the process moved on without it.",
                id=item.id,
                status=item.status,
            )
        )


def check_may_complete(session: Session, item: InboxItem, actor: Actor) -> None:
    """Raises: Conflict (done, gone, or claimed by another), Forbidden (not a candidate, or four-eyes)."""
    check_open(item)
    if changes_nothing(actor):
        raise Forbidden(
            _(
                "%(user)s reads task %(id)s but may not work on it: auditors change nothing.",
                user=actor.username,
                id=item.id,
            )
        )
    is_candidate = actor.in_any(item.candidate_groups) or item.assignee == actor.username
    if not is_candidate:
        raise Forbidden(
            _(
                "Task %(id)s belongs to %(groups)s; %(user)s is not a member.",
                id=item.id,
                groups=group_names(item.candidate_groups) or _("its assignee"),
                user=actor.username,
            )
        )
    if item.assignee is not None and item.assignee != actor.username:
        raise Conflict(_("Task %(id)s is claimed by %(user)s.", id=item.id, user=item.assignee))
    check_four_eyes(session, item, actor)


def check_four_eyes(session: Session, item: InboxItem, actor: Actor) -> None:
    """Refuse a user who started the instance or completed one of the listed steps (admins included)."""
    if not item.four_eyes:
        return
    if isinstance(item.four_eyes, Unreadable):  # a hand edit: no one is known to pass, so no one does
        raise Forbidden(
            _(
                "Four-eyes rule: the rule of '%(task)s' cannot be read, so no one may complete it until an "
                "administrator repairs the task.",
                task=item.title,
            )
        )
    instance = session.get(ProcessInstance, item.instance_id)
    assert instance is not None
    if "initiator" in item.four_eyes and instance.started_by == actor.username:
        raise Forbidden(
            _(
                "Four-eyes rule: %(user)s started this case and may not complete '%(task)s'.",
                user=actor.username,
                task=item.title,
            )
        )
    steps = [s for s in item.four_eyes if s != "initiator"]
    if steps:
        done = session.scalar(
            _COMPLETED_BY, {"instance_id": item.instance_id, "steps": steps, "user": actor.username}
        )
        if done is not None:
            raise Forbidden(
                _(
                    "Four-eyes rule: %(user)s already completed '%(done)s' on this case "
                    "and may not also complete '%(task)s'.",
                    user=actor.username,
                    done=done,
                    task=item.title,
                )
            )
