"""Service operations of `definition_approval`: a second process owner activates or rejects a pending version
(one that calls an operation moving money)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from handlers.approvals import require_approvals
from workflows.credit import roles
from workflows.definitions.deploy import decide_definition
from workflows.engine.service_tasks import Approval, MissingApprovals, TaskContext
from workflows.messages import _
from workflows.store.models import InboxItem, ProcessDefinition, TaskStatus, User, UserGroup


@dataclass(frozen=True)
class DecideDefinitionRequest:
    definition_id: int


@dataclass(frozen=True)
class DefinitionDecided:
    process_key: str
    version: int
    status: str
    decided_by: str


def _target(ctx: TaskContext, operation: str, definition_id: int) -> ProcessDefinition:
    definition = ctx.session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: no process definition %(definition)s",
                operation=operation,
                instance=ctx.instance_id,
                definition=definition_id,
            )
        )
    return definition


def activation_approvals(ctx: TaskContext, req: DecideDefinitionRequest) -> list[Approval]:
    """A process owner's approval in this instance by someone who neither deployed the version nor started
    the instance: activating a version lets it move money, so it is checked like a money move.

    Raises:
        MissingApprovals: there is none.
    """
    definition = _target(ctx, "definition.activate", req.definition_id)
    what = _(
        "%(key)s v%(version)s (deployed by %(deployer)s)",
        key=definition.process_key,
        version=definition.version,
        deployer=definition.deployed_by,
    )
    return require_approvals(
        ctx, "definition.activate", [roles.PROCESS_OWNER], what, excluded=[definition.deployed_by]
    )


def activate(ctx: TaskContext, req: DecideDefinitionRequest) -> DefinitionDecided:
    """Make the approved version the latest of its key: new instances start from it."""
    [approval] = ctx.approvals
    definition = decide_definition(
        ctx.session, req.definition_id, approve=True, decided_by=approval.user, now=ctx.now
    )
    return DefinitionDecided(definition.process_key, definition.version, definition.status, approval.user)


def reject(ctx: TaskContext, req: DecideDefinitionRequest) -> DefinitionDecided:
    """Reject the pending version on the decision of the process owner who last completed a task here.

    Raises:
        MissingApprovals: no process owner other than the uploader decided in this instance.
    """
    definition = _target(ctx, "definition.reject", req.definition_id)
    owners = (
        select(User.username)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(UserGroup.group_name == roles.PROCESS_OWNER)
    )
    decider = ctx.session.scalar(
        select(InboxItem.completed_by)
        .where(
            InboxItem.instance_id == ctx.instance_id,
            InboxItem.status == TaskStatus.COMPLETED,
            InboxItem.completed_by.in_(owners),
            InboxItem.completed_by != definition.deployed_by,
        )
        .order_by(InboxItem.completed_at.desc(), InboxItem.id.desc())
        .limit(1)
    )
    if decider is None:
        raise MissingApprovals(
            _(
                "definition.reject in instance %(instance)s: no process owner other than "
                "%(deployer)s decided on %(key)s v%(version)s",
                instance=ctx.instance_id,
                deployer=definition.deployed_by,
                key=definition.process_key,
                version=definition.version,
            )
        )
    decide_definition(ctx.session, req.definition_id, approve=False, decided_by=decider, now=ctx.now)
    return DefinitionDecided(definition.process_key, definition.version, definition.status, decider)
