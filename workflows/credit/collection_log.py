"""Who works which dunning case, and logging a contact with it: what the API and the /collections pages share.

A case belongs to the collector groups its dunning version lets send `promise_to_pay` (the catch event's
`senderGroups`); a case without an instance (imported history) to the collections group. A contact whose
outcome is a promise records the promise through the case's instance, exactly as a collector's message or
call would: the ladder's limits apply, and a promise outside them waits for a credit manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.collection_contacts import (
    PROMISE,
    ContactInput,
    add_contact,
    contact_json,
    parse_contact,
)
from workflows.credit.collection_worklist import WORKED, case_scope
from workflows.credit.models import DunningCase
from workflows.credit.promises import DunningPromise
from workflows.engine import runner
from workflows.engine.messages import message_rules
from workflows.engine.runtime import Runtime
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.messages import _
from workflows.store.db import transaction
from workflows.store.models import (
    InboxItem,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    TaskStatus,
)
from workflows.users import Actor

PROMISE_MESSAGE = "promise_to_pay"
CALL_TASK = "call_customer"  # dunning.bpmn's level-3 call: a promise made then completes it
UNLINKED_GROUPS = (roles.COLLECTIONS,)


def version_groups(rt: Runtime, session: Session, definition_id: int) -> tuple[str, ...]:
    """The collector groups of a dunning version: who may send it promise_to_pay."""
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        return ()
    rules = message_rules(
        rt.spec_for(session, definition_id), PROMISE_MESSAGE, definition.process_key, definition.version
    )
    return tuple(sorted({group for rule in rules for group in rule.sender_groups}))


def case_groups(rt: Runtime, session: Session, case: DunningCase) -> tuple[str, ...]:
    if case.instance_id is None:
        return UNLINKED_GROUPS
    definition_id = session.scalar(
        select(ProcessInstance.definition_id).where(ProcessInstance.id == case.instance_id)
    )
    return () if definition_id is None else version_groups(rt, session, definition_id)


def may_work(actor: Actor, groups: tuple[str, ...]) -> bool:
    """A member of the case's collector groups (never a mere auditor), or an admin."""
    return actor.is_admin or (actor.in_any(groups) and not roles.changes_nothing(actor))


def may_read(actor: Actor, groups: tuple[str, ...]) -> bool:
    return may_work(actor, groups) or actor.in_any(roles.COLLECTION_OVERSEERS)


def worklist_scope(rt: Runtime, session: Session, actor: Actor) -> Any:
    """The SQL condition on cases the actor's worklist shows: every case for admins and overseers, else
    the cases of the dunning versions whose collector groups the actor belongs to.

    Raises:
        Forbidden: the actor reads no worklist.
    """
    if actor.is_admin or actor.in_any(roles.COLLECTION_OVERSEERS):
        return case_scope(None, unlinked=True)
    if not actor.in_any(roles.COLLECTION_READERS):
        raise Forbidden(_("%(user)s may not read the collectors' worklist", user=actor.username))
    used = select(ProcessInstance.definition_id).where(
        ProcessInstance.id.in_(
            select(DunningCase.instance_id).where(
                DunningCase.status.in_(WORKED), DunningCase.instance_id.is_not(None)
            )
        )
    )
    ids = [d for d in session.scalars(used.distinct()) if may_work(actor, version_groups(rt, session, d))]
    return case_scope(ids, unlinked=may_work(actor, UNLINKED_GROUPS))


def load_case_for(rt: Runtime, session: Session, case_id: int, actor: Actor, *, work: bool) -> DunningCase:
    """The case, if the actor may read it (or work it, when `work`).

    Raises:
        NotFound: no such case.  Forbidden: naming the groups that work it.
    """
    case = session.get(DunningCase, case_id)
    if case is None:
        raise NotFound(_("dunning case %(case_id)s does not exist", case_id=case_id))
    groups = case_groups(rt, session, case)
    allowed = may_work(actor, groups) if work else may_read(actor, groups)
    if not allowed:
        who = ", ".join(groups) or "no collector group"
        said = {"user": actor.username, "case_id": case_id, "who": who}
        if work:
            raise Forbidden(
                _(
                    "%(user)s may not log contacts on dunning case %(case_id)s: it is worked by %(who)s",
                    **said,
                )
            )
        raise Forbidden(
            _(
                "%(user)s may not read the contacts of dunning case %(case_id)s: it is worked by %(who)s",
                **said,
            )
        )
    return case


def log_contact(
    rt: Runtime, case_id: int, raw: Mapping[str, Any], *, actor: Actor, now: datetime
) -> dict[str, Any]:
    """Check and store a contact; a promise goes to the case's instance (its limits and approval apply),
    and the contact, naming the promise it recorded, is written in the same transaction as that step: a
    crash or a refusal leaves neither.

    Raises:
        NotFound, Forbidden, Invalid (naming each bad field, or the promise the instance refused),
        Conflict: a closed or legal case, or a case that takes no promise now.
    """
    with rt.factory() as session:
        case = load_case_for(rt, session, case_id, actor, work=True)
        if case.status not in WORKED:
            raise Conflict(
                _(
                    "dunning case %(case_id)s is %(case_status)s: collectors log contacts on open cases",
                    case_id=case_id,
                    case_status=case.status,
                )
            )
        data = parse_contact(raw, now.date())
        if data.outcome == PROMISE:
            return _log_promise(rt, session, case, data, actor=actor, now=now)
        customer_id = case.customer_id
    with transaction(rt.factory) as session:
        return contact_json(add_contact(session, case_id, customer_id, data, actor=actor.username, now=now))


def _log_promise(
    rt: Runtime, session: Session, case: DunningCase, data: ContactInput, *, actor: Actor, now: datetime
) -> dict[str, Any]:
    """Deliver the promise to the case's instance: the promise_to_pay message while it waits for payment,
    or the answer to its open call task; the contact row joins that step's transaction.

    Raises:
        Conflict: the instance takes no promise now.  Invalid: the instance refused it.
    """
    assert data.promised_date is not None and data.promised_amount is not None
    before = session.scalar(select(func.max(DunningPromise.id)).where(DunningPromise.case_id == case.id)) or 0
    key = None
    task_id = None
    if case.instance_id is not None:
        key = session.scalar(
            select(MessageSubscription.correlation_key).where(
                MessageSubscription.instance_id == case.instance_id,
                MessageSubscription.message_name == PROMISE_MESSAGE,
            )
        )
        task_id = session.scalar(
            select(InboxItem.id).where(
                InboxItem.instance_id == case.instance_id,
                InboxItem.bpmn_id == CALL_TASK,
                InboxItem.status == TaskStatus.OPEN,
            )
        )
    case_id, customer_id, instance_id, currency = case.id, case.customer_id, case.instance_id, case.currency
    session.rollback()  # the engine locks the instance in a transaction of its own
    written: dict[str, Any] = {}

    def write_contact(step_session: Session) -> None:
        # The promise the step just recorded (none when it waits for a credit manager's approval).
        promise_id = step_session.scalar(
            select(func.max(DunningPromise.id)).where(
                DunningPromise.case_id == case_id,
                DunningPromise.id > before,
                DunningPromise.recorded_by == actor.username,
            )
        )
        contact = add_contact(
            step_session, case_id, customer_id, data, actor=actor.username, now=now, promise_id=promise_id
        )
        written.update(contact_json(contact))

    def after_delivery(step_session: Session, delivered: list[int]) -> None:
        if instance_id not in delivered:  # raising here rolls the delivery back too
            raise Conflict(
                _(
                    "dunning case %(case_id)s stopped waiting for a promise meanwhile; reload it",
                    case_id=case_id,
                )
            )
        write_contact(step_session)

    if key is not None:
        payload = {
            "promised_date": data.promised_date.isoformat(),
            "amount": f"{data.promised_amount:.2f}",
            "currency": currency,
        }
        runner.deliver_message(rt, PROMISE_MESSAGE, key, payload, actor=actor, now=now, also=after_delivery)
    elif task_id is not None:
        form = {
            "outcome": "promised",
            "promised_date": data.promised_date.isoformat(),
            "promised_amount": f"{data.promised_amount:.2f}",
            "comment": data.note,
        }
        runner.complete_task(rt, task_id, form, actor=actor, now=now, also=write_contact)
    else:
        raise Conflict(
            _(
                "dunning case %(case_id)s takes no promise now (a promise waits for a "
                "credit manager's decision, or the case is between steps); log the "
                "contact without a promise, or try again later",
                case_id=case_id,
            )
        )
    return written
