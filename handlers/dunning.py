"""Service operations of the dunning process: open, review, escalate, notify, promises, disputes, legal.

The case row (DunningCase) is the state the diagram steers by; every step re-reads the receivables,
so a payment or dispute recorded between steps is always taken into account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from handlers.write_offs import queue_write_off
from workflows.credit import write_offs
from workflows.credit.customers import get_customer
from workflows.credit.models import (
    DunningCase,
    DunningEvent,
    DunningStatus,
    Invoice,
    InvoiceStatus,
    Provision,
)
from workflows.credit.provisions import audit_provision
from workflows.credit.receivables import invoice_json, overdue_invoices
from workflows.credit.record_fields import iso_text, money_text
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.mail.outbox import queue_email
from workflows.store.audit import changed
from workflows.store.models import User, UserGroup
from workflows.users import ADMIN_GROUP, trusted_initiator

LEGAL_LEVEL = 4
NOTICE_TITLES = {1: "Payment reminder", 2: "Second reminder", 3: "Final demand"}
# How a case closes when nothing is overdue any more (the diagram passes review["outcome"] to close_case).
CLOSED_PAID, CLOSED_NO_LONGER_OVERDUE = "paid", "no_longer_overdue"
# Only these closes lift the case's credit block (a legal recovery in full is paid); after a settlement or a
# write-off the block stays until a credit manager lifts it (POST /api/customers/ID/unblock).
BLOCK_LIFTING_OUTCOMES = (CLOSED_PAID, CLOSED_NO_LONGER_OVERDUE, write_offs.RECOVERED)
LEGACY_LEGAL_OUTCOMES = {"written_off": write_offs.UNCOLLECTABLE}  # the legal form's choice before write_off


def load_case(ctx: TaskContext, case_id: int) -> DunningCase:
    """The dunning case this instance opened.

    An instance acts only on its own case: a diagram naming another instance's case (a process owner's
    one-man diagram calling `dunning.record_promise` on a customer's case paused its dunning until 2099,
    without the second process owner a money move needs) is refused, and nothing is written.

    Raises:
        HandlerInputError: the case does not exist or belongs to another instance.
    """
    case = ctx.session.get(DunningCase, case_id)
    if case is None:
        raise HandlerInputError(f"dunning case {case_id} does not exist")
    if case.instance_id != ctx.instance_id:
        raise HandlerInputError(
            f"dunning case {case_id} belongs to instance {case.instance_id}, not to instance "
            f"{ctx.instance_id}; an instance acts only on the dunning case it opened"
        )
    return case


def add_event(ctx: TaskContext, case: DunningCase, kind: str, **detail: Any) -> None:
    """Record what happened to the case; a state change passes `**changed(before, after)` in `detail`."""
    ctx.session.add(
        # The person whose action ran the step (a collector's promise, a manager's approval), else the system.
        DunningEvent(
            case_id=case.id,
            kind=kind,
            level=case.level,
            detail=detail,
            actor=ctx.actor or "system",
            at=ctx.now,
        )
    )


def _started_by_system_or_admin(ctx: TaskContext) -> bool:
    if trusted_initiator(ctx.started_by):  # creditflow itself, or an operator at the shell
        return True
    admin = ctx.session.scalar(
        select(User.id)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(User.username == ctx.started_by, UserGroup.group_name == ADMIN_GROUP, User.active.is_(True))
    )
    return admin is not None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# --- open and review ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCaseRequest:
    customer_id: int


@dataclass(frozen=True)
class OpenedCase:
    case_id: int
    customer_name: str
    customer_email: str
    currency: str
    grade: str


def open_case(ctx: TaskContext, req: OpenCaseRequest) -> OpenedCase:
    """Open the customer's dunning case; a customer never has two active cases.

    Only an instance the daily dunning run (the system) or an admin started opens one, as only they may
    start dunning: a case opened by anyone's diagram would keep the customer out of every dunning run.

    Raises:
        HandlerInputError: another initiator, or the customer has an active case.
    """
    if not _started_by_system_or_admin(ctx):
        raise HandlerInputError(
            f"dunning.open_case in instance {ctx.instance_id}: dunning cases are opened by the daily dunning "
            f"run or an admin, not by an instance {ctx.started_by} started"
        )
    customer = get_customer(ctx.session, req.customer_id)
    active = ctx.session.scalar(
        select(DunningCase.id).where(
            DunningCase.customer_id == customer.id, DunningCase.status.in_(DunningStatus.ACTIVE)
        )
    )
    if active is not None:
        raise HandlerInputError(f"customer {customer.id} already has the open dunning case {active}")
    case = DunningCase(
        customer_id=customer.id, instance_id=ctx.instance_id, currency=customer.currency, opened_at=ctx.now
    )
    ctx.session.add(case)
    ctx.session.flush()
    # The invoices the case is about: it closes as paid only when every invoice it dunned is paid.
    overdue = overdue_invoices(ctx.session, customer.id, ctx.now.date())
    add_event(ctx, case, "opened", invoices=[i.number for i in overdue])
    return OpenedCase(case.id, customer.name, customer.email, customer.currency, customer.grade or "")


@dataclass(frozen=True)
class ReviewRequest:
    case_id: int
    level_1_days: int
    level_2_days: int
    level_3_days: int
    level_4_days: int


@dataclass(frozen=True)
class Review:
    action: str  # close | wait
    next_action_at: str  # ISO time of the next escalation (the diagram's timer date)
    status: str
    overdue: Decimal
    oldest_due: str
    outcome: str = ""  # when closing: CLOSED_PAID or CLOSED_NO_LONGER_OVERDUE (close_case records it)


def review_case(ctx: TaskContext, req: ReviewRequest) -> Review:
    """Decide from the receivables whether the case closes, and when the next level is due.

    Levels fall on dates counted from the oldest overdue invoice's due date, so a late run still lands
    on the right level; a case catching up keeps the configured days between two notices; a promise
    pauses the case until the promised date plus grace.
    """
    case = load_case(ctx, req.case_id)
    policy = ctx.settings.dunning
    overdue = overdue_invoices(ctx.session, case.customer_id, ctx.now.date())
    total = sum((i.open_amount for i in overdue), Decimal("0.00"))
    if not overdue:
        return Review("close", ctx.now.isoformat(), case.status, total, "", _settled_as(ctx, case))
    oldest = overdue[0].due_date
    next_at = _next_level_at(case, oldest, req, ctx.now, policy.legal_retry_days)
    if case.promised_date is not None:
        until = case.promised_date + timedelta(days=policy.promise_grace_days)
        if ctx.now.date() <= until:
            set_status(ctx, case, DunningStatus.PAUSED)
            return Review(
                "wait",
                _midnight(until + timedelta(days=1)).isoformat(),
                case.status,
                total,
                oldest.isoformat(),
            )
        promised = {
            "status": case.status,
            "promised_date": case.promised_date.isoformat(),
            "promised_amount": money_text(case.promised_amount),
        }
        add_event(
            ctx,
            case,
            "promise_broken",
            promised_date=promised["promised_date"],
            promised_amount=str(case.promised_amount),
            overdue=str(total),
            **changed(
                promised, {"status": DunningStatus.OPEN, "promised_date": None, "promised_amount": None}
            ),
        )
        case.status, case.promised_date, case.promised_amount = DunningStatus.OPEN, None, None
        next_at = ctx.now  # a broken promise resumes escalation at once
    if case.last_notice_at is not None:
        spacing = timedelta(days=policy.min_days_between_notices)
        next_at = max(next_at, _midnight(case.last_notice_at.date() + spacing))  # whole calendar days
    set_status(ctx, case, DunningStatus.OPEN)
    return Review("wait", next_at.isoformat(), case.status, total, oldest.isoformat())


def set_status(ctx: TaskContext, case: DunningCase, status: str) -> None:
    """Set the case's status, recording `status_changed` when it changes (e.g. disputed -> open once
    the dispute is resolved); the changes other events record (a promise, a dispute) set it themselves."""
    if case.status != status:
        add_event(ctx, case, "status_changed", before={"status": case.status}, after={"status": status})
        case.status = status


def _settled_as(ctx: TaskContext, case: DunningCase) -> str:
    """Why a case with nothing overdue closes: paid when every invoice it dunned is paid; otherwise they
    are simply not overdue any more (a credit note, a dispute, a due date not yet reached)."""
    dunned: set[str] = set()
    recorded = False  # cases opened before the invoices were recorded in the "opened" event: as before, paid
    for detail in ctx.session.scalars(
        select(DunningEvent.detail).where(
            DunningEvent.case_id == case.id, DunningEvent.kind.in_(("opened", "notice_sent"))
        )
    ):
        recorded = recorded or "invoices" in detail
        dunned.update(n for n in detail.get("invoices", []) if isinstance(n, str))
    if not dunned:
        return CLOSED_NO_LONGER_OVERDUE if recorded else CLOSED_PAID  # nothing was ever overdue: not paid
    statuses = ctx.session.scalars(
        select(Invoice.status).where(Invoice.customer_id == case.customer_id, Invoice.number.in_(dunned))
    ).all()
    return CLOSED_PAID if all(s == InvoiceStatus.PAID for s in statuses) else CLOSED_NO_LONGER_OVERDUE


def _next_level_at(
    case: DunningCase, oldest_due: date, req: ReviewRequest, now: datetime, retry_days: int
) -> datetime:
    if case.level >= LEGAL_LEVEL:  # a rejected handover is proposed again later
        return (case.last_notice_at or now) + timedelta(days=retry_days)
    offsets = {1: req.level_1_days, 2: req.level_2_days, 3: req.level_3_days, 4: req.level_4_days}
    return _midnight(oldest_due + timedelta(days=offsets[case.level + 1]))


# --- escalation and notices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRequest:
    case_id: int


@dataclass(frozen=True)
class Escalation:
    level: int
    fees: Decimal
    blocked: bool


def escalate(ctx: TaskContext, req: CaseRequest) -> Escalation:
    """Move the case up one level: L2 adds the fee, L3 credit-blocks the customer."""
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    before = {"level": case.level, "last_notice_at": iso_text(case.last_notice_at)}
    case.level = min(case.level + 1, LEGAL_LEVEL)
    if case.level == LEGAL_LEVEL:
        case.last_notice_at = ctx.now  # the proposal counts as this level's action for the retry interval
    add_event(
        ctx,
        case,
        "level_reached",
        **changed(before, {"level": case.level, "last_notice_at": iso_text(case.last_notice_at)}),
    )
    if case.level == 2:
        fees = money_text(case.fees)
        case.fees += ctx.settings.dunning.level_2_fee
        add_event(
            ctx,
            case,
            "fee_added",
            amount=str(ctx.settings.dunning.level_2_fee),
            before={"fees": fees},
            after={"fees": money_text(case.fees)},
        )
    if case.level == 3 and not customer.blocked:
        customer.blocked, case.blocked_customer = True, True
        add_event(ctx, case, "customer_blocked", before={"blocked": False}, after={"blocked": True})
    return Escalation(case.level, case.fees, customer.blocked)


@dataclass(frozen=True)
class NoticeRequest:
    case_id: int
    level: int


@dataclass(frozen=True)
class Notice:
    queued: bool
    invoices: list[str]


def send_notice(ctx: TaskContext, req: NoticeRequest) -> Notice:
    """E-mail the level's notice to the customer, naming every overdue invoice; once per case and level."""
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    today = ctx.now.date()
    invoices = [invoice_json(i, today) for i in overdue_invoices(ctx.session, customer.id, today)]
    if not customer.email:
        add_event(ctx, case, "notice_undeliverable", reason="the customer has no e-mail address")
        return Notice(False, [i["number"] for i in invoices])
    row = queue_email(
        ctx.session,
        to=[customer.email],
        template="dunning_notice",
        context={
            "level": req.level,
            "title": NOTICE_TITLES.get(req.level, "Reminder"),
            "customer_name": customer.name,
            "invoices": invoices,
            "total": sum((Decimal(i["open_amount"]) for i in invoices), Decimal("0.00")),
            "fees": case.fees,
            "currency": case.currency,
            "blocked": customer.blocked,
        },
        # One notice per case and level, whatever retries or double ticks happen.
        dedupe_key=f"dunning:{case.id}:level:{req.level}",
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    before = {"last_notice_at": iso_text(case.last_notice_at)}
    case.last_notice_at = ctx.now
    add_event(
        ctx,
        case,
        "notice_sent",
        invoices=[i["number"] for i in invoices],
        queued=row is not None,
        **changed(before, {"last_notice_at": iso_text(case.last_notice_at)}),
    )
    return Notice(row is not None, [i["number"] for i in invoices])


# --- closing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseRequest:
    case_id: int
    outcome: str
    # After legal (close_after_legal): what legal obtained (recovered, or the settlement; 0 when
    # uncollectable) and the matter's costs; the outcome goes to a write_off instance with them.
    amount: Decimal = Decimal("0.00")
    costs: Decimal = Decimal("0.00")
    comment: str = ""


@dataclass(frozen=True)
class Closed:
    outcome: str
    unblocked: bool
    write_off_instance: int | None = None  # the write_off instance a legal outcome started


def close_case(ctx: TaskContext, req: CloseRequest) -> Closed:
    """Close the case. Only a paid, no-longer-overdue or recovered close lifts the credit block this case
    set (paid and recovered release its provision); a settlement or an uncollectable debt keeps the block
    until a credit manager lifts it. Every legal outcome starts a write_off instance with legal's proposal,
    which writes the invoices off (settled, uncollectable) or records the recovery.

    Raises:
        HandlerInputError: the legal outcome does not fit the receivables (nothing is written).
    """
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    outcome = LEGACY_LEGAL_OUTCOMES.get(req.outcome, req.outcome)
    before = {"status": case.status, "outcome": case.outcome, "customer_blocked": customer.blocked}
    case.status, case.closed_at, case.outcome = DunningStatus.CLOSED, ctx.now, outcome
    unblocked = outcome in BLOCK_LIFTING_OUTCOMES and case.blocked_customer and customer.blocked
    if unblocked:
        customer.blocked, case.blocked_customer = False, False
    if outcome in (CLOSED_PAID, write_offs.RECOVERED):
        for provision in ctx.session.scalars(
            select(Provision).where(Provision.case_id == case.id, Provision.released_at.is_(None))
        ):
            provision.released_at = ctx.now
            audit_provision(ctx.session, provision, actor=ctx.actor or "system", instance_id=ctx.instance_id)
    write_off = None
    if outcome in write_offs.OUTCOMES:
        proposal = write_offs.Proposal(customer.id, outcome, req.amount, req.costs, req.comment)
        write_off = queue_write_off(ctx, proposal, case.id)
    after = {"status": case.status, "outcome": case.outcome, "customer_blocked": customer.blocked}
    add_event(
        ctx,
        case,
        "closed",
        outcome=outcome,
        unblocked=unblocked,
        write_off_instance=write_off,
        **changed(before, after),
    )
    return Closed(outcome, unblocked, write_off)
