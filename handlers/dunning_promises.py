"""Dunning operations for what the customer answers: a promise to pay, a dispute, and its resolution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from handlers.approvals import APPROVE, require_approvals
from handlers.dunning import add_event, load_case
from workflows.credit import roles
from workflows.credit.models import (
    DunningEvent,
    DunningStatus,
    Invoice,
    InvoiceStatus,
)
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


@dataclass(frozen=True)
class PromiseRecord:
    promised_date: date
    amount: Decimal


def record_promise(ctx: TaskContext, req: PromiseRequest) -> PromiseRecord:
    """Pause the case until the promised date (plus grace)."""
    if req.amount <= 0 or req.promised_date < ctx.now.date():
        raise HandlerInputError(
            "dunning.record_promise: a promise needs a positive amount and a date not in the past"
        )
    case = load_case(ctx, req.case_id)
    before = _promise(case.status, case.promised_date, case.promised_amount)
    case.promised_date, case.promised_amount, case.status = (
        req.promised_date,
        req.amount,
        DunningStatus.PAUSED,
    )
    add_event(
        ctx,
        case,
        "promise_to_pay",
        promised_date=req.promised_date.isoformat(),
        amount=str(req.amount),
        **changed(before, _promise(case.status, case.promised_date, case.promised_amount)),
    )
    return PromiseRecord(req.promised_date, req.amount)


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
