"""Dunning operations for what the customer answers: a promise to pay, a dispute, and its resolution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from handlers.approvals import APPROVE, require_approvals
from handlers.dunning import add_event, load_case
from workflows.credit import roles
from workflows.credit.models import (
    DunningCase,
    DunningEvent,
    DunningStatus,
    Invoice,
    InvoiceStatus,
)
from workflows.credit.promises import DunningPromise, PromiseStatus, counted_promises, open_promise
from workflows.credit.receivables import overdue_invoices
from workflows.credit.record_fields import iso_text, money_text
from workflows.engine.service_tasks import Approval, HandlerInputError, TaskContext
from workflows.store.audit import changed
from workflows.store.models import AuditEvent, InboxItem, TaskStatus
from workflows.users import SYSTEM_ACTOR


@dataclass(frozen=True)
class PromiseRequest:
    case_id: int
    promised_date: date
    amount: Decimal
    # The promise limits of the customer's grade now (dunning_policy.dmn, read before every review).
    max_days: int
    min_pct: Decimal
    max_count: int


@dataclass(frozen=True)
class PromiseRecord:
    promise_id: int
    promised_date: date
    amount: Decimal
    overdue: Decimal
    recorded_by: str
    needs_approval: bool  # outside the limits: the credit manager decides (approve_promise)
    outside: list[str]  # which limits, in words


def record_promise(ctx: TaskContext, req: PromiseRequest) -> PromiseRecord:
    """Record the customer's promise. Within the policy's limits (date at most `max_days` ahead, amount at
    least `min_pct` % of the overdue amount, at most `max_count` open or broken promises on the case) it
    pauses the case until the promised date plus grace; outside them it waits for the credit manager and
    the case goes on meanwhile.

    Raises:
        HandlerInputError: no positive amount, a date in the past, or limits that are not limits.
    """
    if req.amount <= 0 or req.promised_date < ctx.now.date():
        raise HandlerInputError(
            "dunning.record_promise: a promise needs a positive amount and a date not in the past"
        )
    if req.max_days < 0 or req.max_count < 0 or not 0 <= req.min_pct <= 100:
        raise HandlerInputError(
            f"dunning.record_promise: the promise limits ({req.max_days} days, {req.min_pct} %, "
            f"{req.max_count} promises) are not limits; fix dunning_policy.dmn"
        )
    case = load_case(ctx, req.case_id)
    today = ctx.now.date()
    overdue = sum((i.open_amount for i in overdue_invoices(ctx.session, case.customer_id, today)), Decimal(0))
    outside = []
    days_out = (req.promised_date - today).days
    if days_out > req.max_days:
        outside.append(f"the date is {days_out} days ahead, more than {req.max_days}")
    floor = (overdue * req.min_pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if req.amount < floor:
        outside.append(
            f"{req.amount:,.2f} is less than {req.min_pct} % of the {overdue:,.2f} overdue ({floor:,.2f})"
        )
    held = counted_promises(ctx.session, case.id)
    if held + 1 > req.max_count:
        outside.append(f"the case holds {held} open or broken promises already, at most {req.max_count}")
    actor = ctx.actor or SYSTEM_ACTOR
    promise = DunningPromise(
        case_id=case.id,
        promised_date=req.promised_date,
        amount=req.amount,
        currency=case.currency,
        overdue=overdue,
        status=PromiseStatus.PENDING_APPROVAL if outside else PromiseStatus.OPEN,
        outside=outside,
        recorded_by=actor,
        recorded_at=ctx.now,
    )
    ctx.session.add(promise)
    ctx.session.flush()
    if outside:
        add_event(
            ctx,
            case,
            "promise_outside_policy",
            promise_id=promise.id,
            promised_date=req.promised_date.isoformat(),
            amount=str(req.amount),
            overdue=money_text(overdue),
            outside=outside,
            before={"promise_status": None},
            after={"promise_status": PromiseStatus.PENDING_APPROVAL},
        )
    else:
        _pause(ctx, case, promise, "promise_to_pay")
    return PromiseRecord(promise.id, req.promised_date, req.amount, overdue, actor, bool(outside), outside)


def _pause(ctx: TaskContext, case: DunningCase, promise: DunningPromise, kind: str, **extra: Any) -> None:
    """The promise pauses the case until its date (plus grace; `dunning.review` judges it then)."""
    before = _promise(case.status, case.promised_date, case.promised_amount)
    previous = open_promise(ctx.session, case.id)
    if previous is not None and previous.id != promise.id:  # a new promise replaces the one still open
        previous.status = PromiseStatus.REPLACED
        extra["replaces"] = previous.id
    case.promised_date, case.promised_amount, case.status = (
        promise.promised_date,
        promise.amount,
        DunningStatus.PAUSED,
    )
    promise.status = PromiseStatus.OPEN
    add_event(
        ctx,
        case,
        kind,
        promise_id=promise.id,
        promised_date=promise.promised_date.isoformat(),
        amount=str(promise.amount),
        **extra,
        **changed(before, _promise(case.status, case.promised_date, case.promised_amount)),
    )


@dataclass(frozen=True)
class PromiseDecisionRequest:
    case_id: int
    promise_id: int
    decision: str  # approve | reject
    comment: str = ""


@dataclass(frozen=True)
class PromiseDecision:
    decision: str
    status: str


def decide_promise(ctx: TaskContext, req: PromiseDecisionRequest) -> PromiseDecision:
    """The credit manager's decision on a promise outside the limits: approved, it pauses the case as a
    promise within them would; rejected, dunning goes on. The approver is a credit manager who completed
    approve_promise and did not record the promise (four eyes, whatever the diagram's fourEyes says).

    Raises:
        HandlerInputError: no such promise waiting on this case, or an unknown decision.
        MissingApprovals: an approval without that credit manager.
    """
    if req.decision not in ("approve", "reject"):
        raise HandlerInputError(
            f"dunning.decide_promise: decision must be approve or reject, not {req.decision!r}"
        )
    case = load_case(ctx, req.case_id)
    promise = ctx.session.get(DunningPromise, req.promise_id)
    if promise is None or promise.case_id != case.id or promise.status != PromiseStatus.PENDING_APPROVAL:
        raise HandlerInputError(
            f"dunning.decide_promise: promise {req.promise_id} does not wait for a decision on case {case.id}"
        )
    if req.decision == "approve":
        [approval] = require_approvals(
            ctx,
            "dunning.decide_promise",
            (roles.CREDIT_MANAGER,),
            f"a promise to pay outside the limits on dunning case {case.id} "
            f"(recorded by {promise.recorded_by})",
            steps=("approve_promise",),
            excluded=[promise.recorded_by],
            since=promise.recorded_at,
        )
        promise.decided_by, promise.decided_at = approval.user, ctx.now
        _pause(ctx, case, promise, "promise_approved", approved_by=approval.user, comment=req.comment)
    else:
        promise.status, promise.decided_by, promise.decided_at = PromiseStatus.REFUSED, ctx.actor, ctx.now
        add_event(
            ctx,
            case,
            "promise_refused",
            promise_id=promise.id,
            comment=req.comment,
            before={"promise_status": PromiseStatus.PENDING_APPROVAL},
            after={"promise_status": PromiseStatus.REFUSED},
        )
    return PromiseDecision(req.decision, promise.status)


def _promise(status: str, promised_date: date | None, amount: Decimal | None) -> dict[str, Any]:
    return {"status": status, "promised_date": iso_text(promised_date), "promised_amount": money_text(amount)}


@dataclass(frozen=True)
class DisputeRequest:
    case_id: int
    invoice_numbers: Any  # a list of numbers, or a comma-separated string; empty means every overdue one
    reason: str = ""


@dataclass(frozen=True)
class DisputeRecord:
    invoice_numbers: list[str]
    reason: str


def record_dispute(ctx: TaskContext, req: DisputeRequest) -> DisputeRecord:
    """Take the disputed invoices out of dunning until the dispute task is resolved."""
    case = load_case(ctx, req.case_id)
    numbers = _numbers(req.invoice_numbers)
    query = select(Invoice).where(
        Invoice.customer_id == case.customer_id, Invoice.status == InvoiceStatus.OPEN
    )
    invoices = ctx.session.scalars(query.where(Invoice.number.in_(numbers)) if numbers else query).all()
    if numbers and len(invoices) != len(set(numbers)):
        unknown = sorted(set(numbers) - {i.number for i in invoices})
        raise HandlerInputError(
            f"dunning.record_dispute: no open invoice {', '.join(unknown)} of this customer"
        )
    before = {"status": case.status, "disputed": {i.number: i.disputed for i in invoices}}
    for invoice in invoices:
        invoice.disputed = True
    case.status = DunningStatus.DISPUTED
    disputed = [i.number for i in invoices]
    after = {"status": case.status, "disputed": {i.number: i.disputed for i in invoices}}
    add_event(ctx, case, "dispute_opened", invoices=disputed, reason=req.reason, **changed(before, after))
    return DisputeRecord(disputed, req.reason)


def _numbers(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(n).strip() for n in items if str(n).strip()]


@dataclass(frozen=True)
class ResolveRequest:
    case_id: int
    resolution: str  # upheld | rejected
    comment: str = ""


@dataclass(frozen=True)
class Resolution:
    resolution: str
    invoices: list[str]


def credit_approvals(ctx: TaskContext, req: ResolveRequest) -> list[Approval]:
    """An upheld dispute cancels invoices (a credit note): a credit manager approves it who is neither the
    initiator nor one of the credit's proposers (`credit_proposers`), whatever four-eyes rule the diagram has.

    Raises:
        MissingApprovals: an upheld dispute without that approval.
    """
    if req.resolution != "upheld":
        return []
    proposers = credit_proposers(ctx, req.case_id)
    what = f"a credit note for the disputed invoices of dunning case {req.case_id}"
    if proposers:
        what += f", proposed by {', '.join(proposers)}"
    # Approvals given before this dispute opened were for an earlier credit note of the same case.
    return require_approvals(
        ctx,
        "dunning.resolve_dispute",
        roles.DISPUTE_CREDIT_AUTHORITY,
        what,
        excluded=proposers,
        since=dispute_opened_at(ctx, req.case_id),
    )


def dispute_opened_at(ctx: TaskContext, case_id: int) -> datetime | None:
    """When the disputes a credit note would settle opened: the first `dispute_opened` of the case since its
    last `dispute_resolved` (None: no dispute is open)."""
    resolved = select(func.max(DunningEvent.id)).where(
        DunningEvent.case_id == case_id, DunningEvent.kind == "dispute_resolved"
    )
    return ctx.session.scalar(
        select(func.min(DunningEvent.at)).where(
            DunningEvent.case_id == case_id,
            DunningEvent.kind == "dispute_opened",
            DunningEvent.id > func.coalesce(resolved.scalar_subquery(), 0),
        )
    )


def credit_proposers(ctx: TaskContext, case_id: int) -> list[str]:
    """Who proposed the credit note, so cannot approve it: who recorded the disputes it settles (the actors
    of the case's `dispute_opened` events since its last resolution), who completed a task of this instance
    choosing `resolution: upheld` since then, and whose action runs this step unless that was an approval
    (a choice made in this very step is not in the audit trail yet)."""
    events = ctx.session.execute(
        select(DunningEvent.kind, DunningEvent.actor, DunningEvent.at)
        .where(DunningEvent.case_id == case_id, DunningEvent.kind.in_(["dispute_opened", "dispute_resolved"]))
        .order_by(DunningEvent.id)
    ).all()
    last = max((i for i, (kind, _, _) in enumerate(events) if kind == "dispute_resolved"), default=-1)
    since = events[last].at if last >= 0 else None  # the disputes of an earlier credit note are settled
    found = [actor for kind, actor, _ in events[last + 1 :] if kind == "dispute_opened"]
    completions = select(AuditEvent.actor, AuditEvent.detail).where(
        AuditEvent.instance_id == ctx.instance_id, AuditEvent.action == "task_completed"
    )
    if since is not None:
        completions = completions.where(AuditEvent.at >= since)
    for actor, detail in ctx.session.execute(completions.order_by(AuditEvent.id)):
        data = detail.get("data") if isinstance(detail, dict) else None
        if isinstance(data, dict) and data.get("resolution") == "upheld":
            found.append(actor)
    if ctx.actor and not _approved_in_this_step(ctx):
        found.append(ctx.actor)
    return sorted({name for name in found if name and name != SYSTEM_ACTOR})


def _approved_in_this_step(ctx: TaskContext) -> bool:
    """Whether the task the step's actor completed last in this instance (this step's, if any) approved."""
    decision = ctx.session.execute(
        select(InboxItem.decision)
        .where(
            InboxItem.instance_id == ctx.instance_id,
            InboxItem.completed_by == ctx.actor,
            InboxItem.status == TaskStatus.COMPLETED,
            InboxItem.completed_at == ctx.now,
        )
        .order_by(InboxItem.id.desc())
        .limit(1)
    ).first()
    return decision is not None and decision[0] == APPROVE


def resolve_dispute(ctx: TaskContext, req: ResolveRequest) -> Resolution:
    """Upheld: a credit note cancels the disputed invoices (a money move: `credit_approvals` are checked
    first, and the event names the approvers). Rejected: they are dunned again."""
    if req.resolution not in ("upheld", "rejected"):
        raise HandlerInputError(
            f"dunning.resolve_dispute: resolution must be upheld or rejected, not {req.resolution!r}"
        )
    case = load_case(ctx, req.case_id)
    disputed = ctx.session.scalars(
        select(Invoice).where(Invoice.customer_id == case.customer_id, Invoice.disputed.is_(True))
    ).all()
    # Per invoice: the dispute flag, and for a credit note the status and open amount it cancels.
    before: dict[str, Any] = {"invoices": {i.number: _disputed(i, req.resolution) for i in disputed}}
    for invoice in disputed:
        invoice.disputed = False
        if req.resolution == "upheld":
            invoice.status, invoice.open_amount = InvoiceStatus.CANCELLED, Decimal("0.00")
    after = {"invoices": {i.number: _disputed(i, req.resolution) for i in disputed}}
    add_event(
        ctx,
        case,
        "dispute_resolved",
        resolution=req.resolution,
        comment=req.comment,
        invoices=[i.number for i in disputed],
        approved_by=[a.user for a in ctx.approvals],
        before=before,
        after=after,
    )
    return Resolution(req.resolution, [i.number for i in disputed])


def _disputed(invoice: Invoice, resolution: str) -> dict[str, Any]:
    if resolution != "upheld":
        return {"disputed": invoice.disputed}
    return {
        "disputed": invoice.disputed,
        "status": invoice.status,
        "open_amount": money_text(invoice.open_amount),
    }
