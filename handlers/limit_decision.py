"""Service operations that decide and record credit limits: record_score, propose_limit, apply_limit."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from handlers.approvals import completed_steps
from workflows.credit.customers import GRADES, change_limit, get_customer
from workflows.engine.service_tasks import HandlerInputError, TaskContext

LIMIT_STEP = Decimal(1000)  # proposals are rounded down to whole thousands
GRACE_DAYS = 15  # days customers typically pay after the due date, part of the credit need


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RecordScoreRequest:
    customer_id: int
    score: int
    grade: str
    score_valid_months: int


@dataclass(frozen=True)
class RecordScoreResult:
    score_valid_to: date


def record_score(ctx: TaskContext, req: RecordScoreRequest) -> RecordScoreResult:
    """Store the new score and grade on the credit file with the date until which it is valid."""
    if req.grade not in GRADES:
        raise HandlerInputError(
            f"credit.record_score: grade must be one of {', '.join(GRADES)}, not {req.grade!r}"
        )
    customer = get_customer(ctx.session, req.customer_id)
    customer.score, customer.grade = req.score, req.grade
    customer.score_valid_to = add_months(ctx.now.date(), req.score_valid_months)
    customer.updated_at = ctx.now
    return RecordScoreResult(score_valid_to=customer.score_valid_to)


@dataclass(frozen=True)
class ProposeLimitRequest:
    customer_id: int
    requested_limit: Decimal
    payment_terms_days: int
    revenue_cap_pct: Decimal
    expected_annual_sales: Decimal = Decimal(0)


@dataclass(frozen=True)
class LimitProposal:
    need: Decimal
    cap: Decimal
    proposed_limit: Decimal


def propose_limit(ctx: TaskContext, req: ProposeLimitRequest) -> LimitProposal:
    """Need from expected sales and terms (or the request itself), capped by the grade's share of revenue."""
    if req.requested_limit < 0 or req.payment_terms_days < 0:
        raise HandlerInputError("credit.propose_limit: the requested limit and the terms cannot be negative")
    customer = get_customer(ctx.session, req.customer_id)
    if req.expected_annual_sales > 0:
        need = req.expected_annual_sales / 365 * (req.payment_terms_days + GRACE_DAYS)
    else:
        need = req.requested_limit
    cap = (customer.annual_revenue or Decimal(0)) * req.revenue_cap_pct / 100
    proposed = (min(need, cap) / LIMIT_STEP).to_integral_value(rounding=ROUND_DOWN) * LIMIT_STEP
    return LimitProposal(need=_cents(need), cap=_cents(cap), proposed_limit=_cents(proposed))


@dataclass(frozen=True)
class ApplyLimitRequest:
    customer_id: int
    new_limit: Decimal
    reason: str
    review_months: int
    approver_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AppliedLimit:
    old_limit: Decimal
    new_limit: Decimal
    next_review_date: date
    approvers: list[str]


def apply_limit(ctx: TaskContext, req: ApplyLimitRequest) -> AppliedLimit:
    """Write the approved limit with a history entry naming the approvers; schedule the next review."""
    if req.new_limit < 0:
        raise HandlerInputError(f"credit.apply_limit: a limit cannot be negative ({req.new_limit})")
    customer = get_customer(ctx.session, req.customer_id)
    approvers = [
        step["user"] for step in completed_steps(ctx, req.approver_steps) if step["user"] is not None
    ]
    old = customer.credit_limit
    change_limit(
        ctx.session,
        customer,
        _cents(req.new_limit),
        reason=req.reason,
        approvers=approvers,
        actor=approvers[-1] if approvers else "system",
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    customer.next_review_date = add_months(ctx.now.date(), req.review_months)
    return AppliedLimit(
        old_limit=old,
        new_limit=customer.credit_limit,
        next_review_date=customer.next_review_date,
        approvers=approvers,
    )


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
