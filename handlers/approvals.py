"""Who approved: the people who completed user tasks of the handler's instance, and the check that a money
move holds the approvals its authority matrix asks for."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from workflows.credit import roles
from workflows.credit.fx import MissingRate, to_base
from workflows.credit.record_fields import iso_text
from workflows.definitions.versions import instance_file
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.engine.service_tasks import Approval, HandlerInputError, MissingApprovals, TaskContext
from workflows.errors import listed, message_of
from workflows.group_names import group_names
from workflows.messages import _
from workflows.store.models import (
    InboxItem,
    TaskStatus,
    User,
    UserGroup,
)
from workflows.users import ADMIN_GROUP, trusted_initiator

APPROVE = "approve"  # the `decision` of an approval form that approves


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


def started_by_one_of(ctx: TaskContext, groups: Sequence[str]) -> bool:
    """Whether the system, a shell operator, an admin or an active member of `groups` started it."""
    if trusted_initiator(ctx.started_by):  # creditflow itself, or an operator at the shell
        return True
    found = ctx.session.scalar(
        select(User.id)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(
            User.username == ctx.started_by,
            User.active.is_(True),
            UserGroup.group_name.in_([*groups, ADMIN_GROUP]),
        )
        .limit(1)
    )
    return found is not None


def require_reader(ctx: TaskContext, operation: str, readers: Collection[str], what: str, kind: str) -> None:
    """Refuse to read `what` (the customer's credit file, the supplier's file) into an instance, or grade it
    there, unless its initiator is one of `readers`, an admin or the system: a process owner's one-man
    diagram (no money move, so deployed at once) put any customer's credit file into its data and graded
    any supplier.

    The sentence names `what`, not `operation`: the engine's refusal log line names the operation, so the
    caller's `operation` only documents the call.

    Raises:
        HandlerInputError: naming who may.
    """
    if not started_by_one_of(ctx, sorted(readers)):
        # Said as the reader knows it, without the operation's id (the engine's log line keeps that).
        raise HandlerInputError(
            _(
                "%(what)s could not be loaded (instance %(instance)s): it is read or graded only in an "
                "instance started by someone who may read %(kind)s (%(readers)s), an admin or the system, "
                "not by %(starter)s",
                instance=ctx.instance_id,
                what=what,
                kind=kind,
                readers=group_names(sorted(readers)),  # each group by its name, in the reader's language
                starter=ctx.started_by,
            )
        )


def require_customer_reader(ctx: TaskContext, operation: str) -> None:
    """`require_reader` for a customer's file, scorecard and revenue."""
    require_reader(ctx, operation, roles.CUSTOMER_READERS, _("The customer's credit file"), _("customers"))


# --- the authority matrix -------------------------------------------------------------------------------


def authority_groups(
    ctx: TaskContext,
    operation: str,
    table: tuple[str, str],
    inputs: Mapping[str, Any],
    levels: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    """The groups that must approve, from the authority table (file, decision id) deployed with this
    instance's version: its `approval_level` output looked up in `levels`.

    The table is read here, not taken from the instance's data: a diagram cannot lower its own bar.

    Raises:
        MissingApprovals: the version has no such table, it fails, or it names an unknown level.
    """
    file, decision = table
    text = instance_file(ctx.session, ctx.instance_id, file)
    if text is None:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: its version was deployed without %(file)s, so no "
                "authority matrix says who must approve; deploy %(file)s with the diagram",
                operation=operation,
                instance=ctx.instance_id,
                file=file,
            )
        )
    try:
        level = evaluate_decision(text, decision, inputs).get("approval_level")
    except DecisionError as exc:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: %(file)s: %(problem)s",
                operation=operation,
                instance=ctx.instance_id,
                file=file,
                problem=message_of(exc),
            )
        ) from exc
    if not isinstance(level, str) or level not in levels:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: %(file)s gives approval level '%(level)s' for "
                "%(inputs)s; known levels are %(levels)s",
                operation=operation,
                instance=ctx.instance_id,
                file=file,
                level=level,
                inputs=dict(inputs),
                levels=", ".join(levels),
            )
        )
    return levels[level]


def deployed_decision(
    ctx: TaskContext, table: tuple[str, str], inputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The outputs of a policy table (file, decision id) deployed with this instance's version for
    `inputs`; None when the version was deployed without the file.

    Raises:
        DecisionError: the table fails on the inputs.
    """
    file, decision = table
    text = instance_file(ctx.session, ctx.instance_id, file)
    return None if text is None else evaluate_decision(text, decision, inputs)


@dataclass(frozen=True)
class BaseAmount:
    """An amount in the base currency for an authority threshold; `amount` None when no rate is stored."""

    amount: Decimal | None
    currency: str  # the base currency

    @property
    def rate_missing(self) -> bool:
        return self.amount is None


def in_base_currency(ctx: TaskContext, amount: Decimal, currency: str, day: date | None = None) -> BaseAmount:
    """`amount` of `currency` in the base currency at the rate of `day` (the step's day by default).
    Authority thresholds compare base-currency amounts: 990,000 Kuwaiti dinar is not 990,000 euro. With no
    stored rate the amount stays unknown (never a guess); the authority tables send such a step to their
    highest level."""
    base = ctx.settings.credit.base_currency
    try:
        return BaseAmount(to_base(ctx.session, amount, currency, day or ctx.now.date(), base), base)
    except MissingRate:
        return BaseAmount(None, base)


# --- the approvals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Approved:
    task_id: int
    bpmn_id: str
    groups: tuple[str, ...]
    user: str
    at: datetime


def given_approvals(ctx: TaskContext, steps: Sequence[str] = ()) -> list[Approval]:
    """Every approval of this instance by someone other than its initiator, oldest first, each under the
    first candidate group of its task the approver belongs to (for the record when none is required)."""
    approved = _approved_tasks(ctx, steps, None)
    members = _memberships(ctx, sorted({a.user for a in approved}))
    return [
        Approval(a.user, next((g for g in a.groups if g in members[a.user]), ""), a.bpmn_id, a.task_id, a.at)
        for a in approved
    ]


def require_approvals(
    ctx: TaskContext,
    operation: str,
    groups: Sequence[str],
    what: str,
    steps: Sequence[str] = (),
    excluded: Sequence[str] = (),
    since: datetime | None = None,
) -> list[Approval]:
    """One approval per group, each by a different member of that group who is not the initiator (nor one
    of `excluded`): a user task offered to the group, completed with decision approve in this instance (only
    at `steps`, if given; only at or after `since`, if given).

    Raises:
        MissingApprovals: naming what is missing and what the instance holds.
    """
    approved = [a for a in _approved_tasks(ctx, steps, since) if a.user not in excluded]
    members = _memberships(ctx, sorted({a.user for a in approved}))
    eligible = {
        group: [a for a in approved if group in a.groups and group in members[a.user]] for group in groups
    }
    chosen = _distinct_people(list(groups), eligible)
    if chosen is None:
        # Who approved at which step: user names and step ids, the same in every language.
        held = listed([_("%(user)s at %(step)s", user=a.user, step=a.bpmn_id) for a in approved]) or _("none")
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: %(what)s needs the approval of "
                "%(groups)s, each by a different person and none by the initiator "
                "%(excluded)s; approvals held: %(held)s",
                operation=operation,
                instance=ctx.instance_id,
                what=what,
                groups=" + ".join(groups),
                excluded=", ".join([ctx.started_by, *excluded]),
                held=held,
            )
        )
    return [
        Approval(a.user, group, a.bpmn_id, a.task_id, a.at) for group, a in zip(groups, chosen, strict=True)
    ]


def _approved_tasks(ctx: TaskContext, steps: Sequence[str], since: datetime | None) -> list[_Approved]:
    query = select(
        InboxItem.id,
        InboxItem.bpmn_id,
        InboxItem.candidate_groups,
        InboxItem.completed_by,
        InboxItem.completed_at,
    ).where(
        InboxItem.instance_id == ctx.instance_id,
        InboxItem.status == TaskStatus.COMPLETED,
        InboxItem.decision == APPROVE,
        InboxItem.completed_by.is_not(None),
        InboxItem.completed_by != ctx.started_by,
    )
    if steps:
        query = query.where(InboxItem.bpmn_id.in_(list(steps)))
    if since is not None:  # an approval given for an earlier money move of the instance does not count again
        query = query.where(InboxItem.completed_at >= since)
    rows = ctx.session.execute(query.order_by(InboxItem.completed_at, InboxItem.id)).all()
    return [
        _Approved(task_id, bpmn_id, tuple(groups or ()), user, at)
        for task_id, bpmn_id, groups, user, at in rows
        if user is not None and at is not None
    ]


def _memberships(ctx: TaskContext, users: Sequence[str]) -> dict[str, set[str]]:
    """Each user's groups now: an approval counts for a group only while its approver belongs to it."""
    found: dict[str, set[str]] = defaultdict(set)
    rows = ctx.session.execute(
        select(User.username, UserGroup.group_name)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(User.username.in_(list(users)), User.active.is_(True))
    )
    for username, group in rows:
        found[username].add(group)
    return found


def _distinct_people(groups: list[str], eligible: Mapping[str, list[_Approved]]) -> list[_Approved] | None:
    """An approval per group with no person twice (the latest approvals tried first), or None."""
    options = [sorted(eligible[g], key=lambda a: (a.at, a.task_id), reverse=True) for g in groups]
    # At most three groups with a handful of approvals each: trying every combination is cheap.
    for combination in itertools.product(*options):
        if len({a.user for a in combination}) == len(combination):
            return list(combination)
    return None
