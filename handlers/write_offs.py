"""Service operations of the write_off process: open legal's proposal, post it (a money move checked against
write_off_authority.dmn) or record its refusal; and the start of a write_off from a dunning case's legal step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from handlers.approvals import authority_groups, given_approvals, require_approvals, started_by_one_of
from workflows.credit import roles
from workflows.credit.customers import get_customer
from workflows.credit.fx import MissingRate, to_base
from workflows.credit.write_off_posting import post_request, reject_request
from workflows.credit.write_offs import RECOVERED, Proposal, WriteOffRequest, open_request
from workflows.definitions.deploy import QUEUED_START
from workflows.definitions.versions import latest_definition
from workflows.engine.service_tasks import Approval, HandlerInputError, TaskContext
from workflows.errors import DomainError
from workflows.messages import _
from workflows.money import format_money
from workflows.store.jsonable import to_jsonable
from workflows.store.models import InstanceStatus, ProcessInstance, Timer

AUTHORITY_TABLE = ("write_off_authority.dmn", "write_off_authority")
APPROVAL_STEPS = ("manager_approval", "cfo_approval")


@dataclass(frozen=True)
class OpenRequest:
    customer_id: int
    outcome: str
    amount: Decimal
    costs: Decimal
    comment: str = ""


@dataclass(frozen=True)
class Opened:
    request_id: int
    customer_name: str
    outcome: str
    currency: str
    open_amount: Decimal
    write_off_amount: Decimal
    write_off_base: Decimal | None  # in the base currency; None when no rate is known (the CFO decides)
    invoices: list[str]


def open_write_off(ctx: TaskContext, req: OpenRequest) -> Opened:
    """Record legal's proposal, or take up the one a dunning case's legal step recorded for this instance.

    Only legal, an admin or the system proposes: the proposer's name is on the write-off, and the proposer
    never approves it (the initiator is excluded from the approvals).

    Raises:
        HandlerInputError: another initiator, or the proposal does not fit the receivables (422 at start).
    """
    request = own_request(ctx, required=False)
    if request is None:
        if not started_by_one_of(ctx, sorted(roles.WRITE_OFF_PROPOSERS)):
            raise HandlerInputError(
                _(
                    "write_off.open in instance %(instance)s: legal outcomes are proposed by "
                    "%(proposers)s or an admin, not by %(starter)s",
                    instance=ctx.instance_id,
                    proposers=", ".join(sorted(roles.WRITE_OFF_PROPOSERS)),
                    starter=ctx.started_by,
                )
            )
        proposal = Proposal(req.customer_id, req.outcome, req.amount, req.costs, req.comment)
        try:
            request = open_request(
                ctx.session, proposal, requested_by=ctx.started_by, instance_id=ctx.instance_id, now=ctx.now
            )
        except DomainError as exc:
            raise HandlerInputError(_("write_off.open: %(problem)s", problem=exc.message)) from exc
    customer = get_customer(ctx.session, request.customer_id)
    return Opened(
        request.id,
        customer.name,
        request.outcome,
        request.currency,
        request.open_amount,
        request.write_off_amount,
        write_off_base(ctx, request),
        list(request.invoices),
    )


def own_request(ctx: TaskContext, *, required: bool = True) -> WriteOffRequest | None:
    """The proposal of this instance: an instance decides only its own.

    Raises:
        HandlerInputError: when `required` and the instance has none.
    """
    request = ctx.session.scalar(
        select(WriteOffRequest).where(WriteOffRequest.instance_id == ctx.instance_id)
    )
    if request is None and required:
        raise HandlerInputError(
            _(
                "%(element)s in instance %(instance)s: the instance has no write-off proposal; "
                "write_off.open records it first",
                element=ctx.bpmn_id,
                instance=ctx.instance_id,
            )
        )
    return request


def write_off_base(ctx: TaskContext, request: WriteOffRequest) -> Decimal | None:
    """The write-off in the base currency on the proposal's day; None without a rate (never a guess)."""
    base = ctx.settings.credit.base_currency
    try:
        return to_base(
            ctx.session, request.write_off_amount, request.currency, request.created_at.date(), base
        )
    except MissingRate:
        return None


@dataclass(frozen=True)
class PostRequest:
    comment: str = ""
    approver_steps: list[str] = field(default_factory=lambda: list(APPROVAL_STEPS))


@dataclass(frozen=True)
class Posted:
    status: str
    written_off: Decimal
    provision_used: Decimal
    approvers: list[str]


def write_off_approvals(ctx: TaskContext, req: PostRequest) -> list[Approval]:
    """The approvals a write-off needs: those write_off_authority.dmn (deployed with this version) names for
    its amount in the base currency, each by a different person, none of them the proposer. A full recovery
    writes nothing off and needs none.

    Raises:
        MissingApprovals: they are missing.  HandlerInputError: the instance has no proposal.
    """
    request = own_request(ctx)
    assert request is not None
    inputs: dict[str, Any] = {
        "proposal": {"outcome": request.outcome, "write_off_base": write_off_base(ctx, request)}
    }
    if request.outcome == RECOVERED:
        return given_approvals(ctx, APPROVAL_STEPS)
    groups = authority_groups(ctx, "write_off.post", AUTHORITY_TABLE, inputs, roles.WRITE_OFF_AUTHORITY)
    what = _(
        "write-off proposal %(proposal)s (%(amount)s of customer %(customer)s)",
        proposal=request.id,
        amount=format_money(request.write_off_amount, request.currency),
        customer=request.customer_id,
    )
    # Steps fixed here, not taken from the diagram: only the approval tasks of this process count.
    return require_approvals(
        ctx, "write_off.post", groups, what, APPROVAL_STEPS, excluded=[request.requested_by]
    )


def post_write_off(ctx: TaskContext, req: PostRequest) -> Posted:
    """Write the invoices off and use the provisions (or close a full recovery). Moves money: its approvals
    (`write_off_approvals`) are checked before it runs."""
    request = own_request(ctx)
    assert request is not None
    approvers = [a.user for a in ctx.approvals]
    latest = max(ctx.approvals, key=lambda a: (a.at, a.task_id), default=None)
    # A full recovery needs no approval: legal, who recorded it, decided it (not the scheduler that ran it).
    actor = latest.user if latest else request.requested_by
    try:
        lines = post_request(ctx.session, request, approvers=approvers, actor=actor, now=ctx.now)
    except DomainError as exc:
        raise HandlerInputError(_("write_off.post: %(problem)s", problem=exc.message)) from exc
    return Posted(
        request.status,
        sum((line.amount for line in lines), Decimal("0.00")),
        sum((line.provision_used for line in lines), Decimal("0.00")),
        approvers,
    )


@dataclass(frozen=True)
class RejectRequest:
    comment: str = ""


@dataclass(frozen=True)
class Rejected:
    rejected_by: str


def reject_write_off(ctx: TaskContext, req: RejectRequest) -> Rejected:
    """Record that an approver refused the write-off; the invoices stay open and dunning resumes."""
    request = own_request(ctx)
    assert request is not None
    actor = ctx.actor or ctx.started_by
    try:
        reject_request(ctx.session, request, actor=actor, comment=req.comment, now=ctx.now)
    except DomainError as exc:
        raise HandlerInputError(_("write_off.reject: %(problem)s", problem=exc.message)) from exc
    return Rejected(actor)


def queue_write_off(ctx: TaskContext, proposal: Proposal, case_id: int) -> int:
    """Queue a write_off instance for a dunning case's legal outcome, started by the legal user who recorded
    it, with the proposal already recorded (so the customer is not dunned while it waits); the next timer
    sweep (the scheduler, `tick`) runs it into the approvers' inbox. Returns the instance id.

    Raises:
        HandlerInputError: write_off is not deployed, or the proposal does not fit the receivables.
    """
    definition = latest_definition(ctx.session, roles.WRITE_OFF, required=False)
    if definition is None:
        raise HandlerInputError(
            _(
                "%(element)s in instance %(instance)s: the legal outcome goes to the write_off process, "
                "which is not deployed; run `creditflow init` (or deploy bpmn/write_off.bpmn)",
                element=ctx.bpmn_id,
                instance=ctx.instance_id,
            )
        )
    proposer = ctx.actor if ctx.actor and ctx.actor != "system" else ctx.started_by
    due = ctx.now - timedelta(microseconds=1)  # due already: a standing simulated clock never passes "now"
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key=definition.process_key,
        version=definition.version,
        business_key=str(proposal.customer_id),
        status=InstanceStatus.RUNNING,
        state="",  # queued: the first timer sweep starts it (engine.step.resume)
        data=to_jsonable(
            {
                "customer_id": proposal.customer_id,
                "outcome": proposal.outcome,
                "amount": proposal.amount,
                "costs": proposal.costs,
                "comment": proposal.comment,
                "dunning_case_id": case_id,
            }
        ),
        waits=[["timer", QUEUED_START, due.isoformat()]],
        started_by=proposer,
        started_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(instance)
    ctx.session.flush()
    ctx.session.add(Timer(instance_id=instance.id, bpmn_id=QUEUED_START, due_at=due))
    try:
        open_request(
            ctx.session,
            proposal,
            requested_by=proposer,
            instance_id=instance.id,
            now=ctx.now,
            case_id=case_id,
        )
    except DomainError as exc:
        raise HandlerInputError(
            _("%(element)s: %(problem)s", element=ctx.bpmn_id, problem=exc.message)
        ) from exc
    return instance.id
