"""Advance instances: each public function is one transaction that loads, steps, syncs and saves.

Only this module (with `starts`, a new instance's first step) and web views open transactions. A step
writes the serialized state together with every row it implies: inbox tasks, timers, message
subscriptions, audit events, outbox e-mails and incidents. A failing service task is recorded as an
incident in the same transaction; any other exception rolls the whole step back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows.credit.roles import changes_nothing
from workflows.definitions.forms import validate_form
from workflows.engine import spiff as engine
from workflows.engine.messages import accept_message, deployed_rules, message_refused, require_any_sender
from workflows.engine.refusals import refuse_bad_input
from workflows.engine.runtime import Runtime
from workflows.engine.starts import start_instance, start_step
from workflows.engine.step import RETRIED, advance, resume
from workflows.engine.task_rights import check_may_complete, check_open
from workflows.errors import BadRequest, Conflict, Forbidden, NotFound, message_of
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.jsonable import to_jsonable
from workflows.store.models import (
    InboxItem,
    Incident,
    InstanceStatus,
    MessageSubscription,
    ProcessInstance,
    TaskStatus,
)
from workflows.users import Actor

__all__ = ["Runtime", "claim_task", "complete_task", "complete_task_step", "deliver_message"]
__all__ += ["retry_instance", "start_instance", "start_step", "unclaim_task"]

# --- public operations --------------------------------------------------------------------------------


def complete_task(
    rt: Runtime,
    task_id: int,
    form_data: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    also: Callable[[Session], None] | None = None,
) -> InboxItem:
    """Complete a human task with form data (claiming it implicitly) and run the instance on. `also` writes
    the caller's rows that must commit or roll back with the step (e.g. the contact that logged it).

    Raises:
        NotFound, Forbidden (group or four-eyes), Conflict (completed or claimed by another), Invalid (form).
    """
    return complete_task_step(rt, task_id, form_data, actor=actor, now=now, also=also)[0]


def complete_task_step(
    rt: Runtime,
    task_id: int,
    form_data: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    also: Callable[[Session], None] | None = None,
) -> tuple[InboxItem, ProcessInstance]:
    """`complete_task`, also returning the instance as the step left it (committed, still loaded).

    The REST answer shows the instance after the step from this, without reading it again.

    Raises:
        NotFound, Forbidden (group or four-eyes), Conflict (completed or claimed by another), Invalid (form).
    """
    if not isinstance(form_data, Mapping):
        raise BadRequest(_("task data must be a JSON object"))
    try:
        with transaction(rt.factory) as session:
            item = _lock_task(session, task_id)
            instance = _lock_instance(session, item.instance_id)
            check_may_complete(session, item, actor)
            data = validate_form(item.form_schema, form_data)
            step, wf = resume(rt, session, instance, now, actor.username)
            try:
                engine.complete_task(wf, item.spiff_task_id, data)
            except engine.EngineError as exc:
                raise Conflict(
                    _(
                        "Task %(id)s is not waiting for input any more: %(error)s",
                        id=task_id,
                        error=message_of(exc),
                    )
                ) from exc
            item.status = TaskStatus.COMPLETED
            step.closed_items.append(item)
            item.assignee = item.assignee or actor.username
            item.completed_by = actor.username
            item.completed_at = now
            # Approval checks of money moves read the decision here (see handlers/approvals.py).
            decision = data.get("decision")
            item.decision = decision[:40] if isinstance(decision, str) else None
            step.record("task_completed", task_id=item.id, bpmn_id=item.bpmn_id, data=to_jsonable(data))
            advance(step, wf)
            refuse_bad_input(step, _("Task %(id)s cannot be completed with this data", id=task_id))
            if also is not None:
                also(session)
            return item, instance
    except StaleDataError as exc:
        raise Conflict(
            _("task %(id)s changed while it was being completed; reload it and try again", id=task_id)
        ) from exc


def claim_task(rt: Runtime, task_id: int, *, actor: Actor, now: datetime) -> InboxItem:
    """Take a group task into the actor's own queue.

    Raises:
        NotFound, Forbidden (not a candidate), Conflict (completed, or claimed by someone else).
    """
    with transaction(rt.factory) as session:
        item = _lock_task(session, task_id)
        # Four-eyes applies to claiming too: a claim the claimer could never complete would block the task.
        check_may_complete(session, item, actor)
        if item.assignee != actor.username:
            before = {"assignee": item.assignee}
            item.assignee, item.claimed_at = actor.username, now
            record_event(
                session,
                actor=actor.username,
                action="task_claimed",
                now=now,
                instance_id=item.instance_id,
                task_id=item.id,
                bpmn_id=item.bpmn_id,
                before=before,
                after={"assignee": item.assignee},
            )
        return item


def unclaim_task(rt: Runtime, task_id: int, *, actor: Actor, now: datetime) -> InboxItem:
    """Give a claimed task back to its groups (the claimer or an admin only)."""
    with transaction(rt.factory) as session:
        item = _lock_task(session, task_id)
        check_open(item)
        # Unclaiming is a write: only people the task is offered to (or its assignee) and admins may;
        # auditors read every task but change none.
        offered = not actor.groups.isdisjoint(item.candidate_groups)
        if changes_nothing(actor) or not (offered or item.assignee == actor.username or actor.is_admin):
            raise Forbidden(
                _(
                    "task %(id)s is not offered to %(user)s; it belongs to its groups",
                    id=task_id,
                    user=actor.username,
                )
            )
        if item.assignee is None:
            return item
        if not item.candidate_groups:
            raise Conflict(
                _(
                    "Task %(id)s is assigned to %(user)s by the process; it has no group to go back to",
                    id=task_id,
                    user=item.assignee,
                )
            )
        if item.assignee != actor.username and not actor.is_admin:
            raise Conflict(
                _(
                    "task %(id)s is claimed by %(user)s; only they or an admin can release it",
                    id=task_id,
                    user=item.assignee,
                )
            )
        before = {"assignee": item.assignee}
        item.assignee, item.claimed_at = None, None
        record_event(
            session,
            actor=actor.username,
            action="task_unclaimed",
            now=now,
            instance_id=item.instance_id,
            task_id=item.id,
            bpmn_id=item.bpmn_id,
            before=before,
            after={"assignee": None},
        )
        return item


def deliver_message(
    rt: Runtime,
    name: str,
    correlation_key: str,
    payload: Mapping[str, Any],
    *,
    actor: Actor,
    now: datetime,
    internal: bool = False,
    also: Callable[[Session, list[int]], None] | None = None,
) -> list[int]:
    """Deliver a message to every instance waiting for `name` whose business key (or id) matches.

    Returns the ids of the instances reached (empty when none waits); `also` gets them in the same
    transaction, to write the caller's rows that must commit or roll back with the delivery. Only the sender
    groups its catch events declare may send it, unless `internal` (creditflow relaying what it recorded,
    e.g. a payment).

    Raises:
        Forbidden: the actor may not send it.  Invalid: the data breaks the message schema or a handler.
    """
    if not name or not correlation_key:
        raise BadRequest(_("a message needs a name and a correlation_key"))
    if not isinstance(payload, Mapping):
        raise BadRequest(_("message data must be a JSON object"))
    with transaction(rt.factory) as session:
        query = select(MessageSubscription.instance_id).where(
            MessageSubscription.message_name == name, MessageSubscription.correlation_key == correlation_key
        )
        ids = sorted(set(session.scalars(query)))
        delivered = []
        for instance_id in ids:
            instance = _lock_instance(session, instance_id)
            if instance.status != InstanceStatus.RUNNING:
                continue
            data = accept_message(rt, session, instance, name, payload, actor=actor, internal=internal)
            step, wf = resume(rt, session, instance, now, actor.username)
            engine.deliver_message(wf, name, data)
            step.record(
                "message_received", message=name, correlation_key=correlation_key, data=to_jsonable(data)
            )
            advance(step, wf)
            # The step that catches it by its diagram name, worked out only when the message is refused.
            refuse_bad_input(step, partial(message_refused, session, instance, name))
            delivered.append(instance.id)
        if not delivered:
            if not internal:
                require_any_sender(actor, name, deployed_rules(rt, session, name))
            record_event(
                session,
                actor=actor.username,
                action="message_unmatched",
                now=now,
                message=name,
                correlation_key=correlation_key,
            )
        if also is not None:
            also(session, delivered)
        return delivered


def retry_instance(rt: Runtime, instance_id: int, *, actor: Actor, now: datetime) -> ProcessInstance:
    """Re-run the failed step of an instance in status error, resolving its open incidents.

    Raises:
        NotFound, Forbidden (admin only), Conflict (the instance is not in error).
    """
    if not actor.is_admin:
        raise Forbidden(_("only admin may retry a failed instance"))
    with transaction(rt.factory) as session:
        instance = _lock_instance(session, instance_id)
        if instance.status != InstanceStatus.ERROR:
            raise Conflict(
                _(
                    "instance %(id)s is %(status)s, not error; there is nothing to retry",
                    id=instance_id,
                    status=instance.status,
                )
            )
        for incident in session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
        ):
            incident.resolved_at, incident.resolved_by = now, actor.username
        instance.status = InstanceStatus.RUNNING
        step, wf = resume(rt, session, instance, now, actor.username)
        step.record("instance_retried", **RETRIED)
        advance(step, wf, retry=True)
        return instance


# --- helpers ----------------------------------------------------------------------------------------


# Built once: constructing statements costs more than running them on a hot path.
_TASK_FOR_UPDATE = select(InboxItem).where(InboxItem.id == bindparam("task_id")).with_for_update()
_INSTANCE = select(ProcessInstance).where(ProcessInstance.id == bindparam("instance_id"))
_INSTANCE_FOR_UPDATE = _INSTANCE.with_for_update()


def _lock_task(session: Session, task_id: int) -> InboxItem:
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL locks just this row.
    item = session.scalar(_TASK_FOR_UPDATE, {"task_id": task_id})
    if item is None:
        raise NotFound(_("task %(id)s does not exist", id=task_id))
    return item


def _lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """The instance row, locked until the step's transaction ends.

    Raises:
        NotFound: no such instance.
    """
    instance = session.scalar(_INSTANCE_FOR_UPDATE, {"instance_id": instance_id})
    if instance is None:
        raise NotFound(_("process instance %(id)s does not exist", id=instance_id))
    return instance
