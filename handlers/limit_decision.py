"""Service operations that decide and record credit limits: record_score, propose_limit, apply_limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from handlers.approvals import authority_groups, given_approvals, require_approvals, require_customer_reader
from workflows.credit import roles
from workflows.credit.customers import GRADES, add_months, change_limit, get_customer, longest_review_cycle
from workflows.credit.models import Customer
from workflows.engine.service_tasks import Approval, HandlerInputError, TaskContext
from workflows.store.audit import record_event
from workflows.users import SYSTEM_ACTOR

LIMIT_STEP = Decimal(1000)  # proposals are rounded down to whole thousands
GRACE_DAYS = 15  # days customers typically pay after the due date, part of the credit need


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
    require_customer_reader(ctx, "credit.record_score")  # a one-man diagram graded any customer
    customer = get_customer(ctx.session, req.customer_id)
    before = _score_of(customer)
    customer.score, customer.grade = req.score, req.grade
    customer.score_valid_to = add_months(ctx.now.date(), req.score_valid_months)
    customer.updated_at = ctx.now
    record_event(
        ctx.session,
        actor=ctx.actor or SYSTEM_ACTOR,
        action="credit_score_recorded",
        now=ctx.now,
        instance_id=ctx.instance_id,
        customer_id=customer.id,
        before=before,
        after=_score_of(customer),
    )
    return RecordScoreResult(score_valid_to=customer.score_valid_to)


def _score_of(customer: Customer) -> dict[str, Any]:
    valid_to = customer.score_valid_to.isoformat() if customer.score_valid_to else None
    return {"score": customer.score, "grade": customer.grade, "score_valid_to": valid_to}


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
    require_customer_reader(ctx, "credit.propose_limit")  # the cap tells the customer's revenue
    customer = get_customer(ctx.session, req.customer_id)
    if req.expected_annual_sales > 0:
        need = req.expected_annual_sales / 365 * (req.payment_terms_days + GRACE_DAYS)
    else:
        need = req.requested_limit
    cap = (customer.annual_revenue or Decimal(0)) * req.revenue_cap_pct / 100
    proposed = (min(need, cap) / LIMIT_STEP).to_integral_value(rounding=ROUND_DOWN) * LIMIT_STEP
    return LimitProposal(need=_cents(need), cap=_cents(cap), proposed_limit=_cents(proposed))


# The authority matrix of credit limits: who must approve a new or higher limit.
LIMIT_AUTHORITY_TABLE = ("approval_authority.dmn", "approval_authority")


@dataclass(frozen=True)
class ApplyLimitRequest:
    customer_id: int
    new_limit: Decimal
    reason: str
    review_months: int
    approver_steps: list[str] = field(default_factory=list)  # when given, only approvals at these tasks count


def limit_approvals(ctx: TaskContext, req: ApplyLimitRequest) -> list[Approval]:
    """The approvals a new limit needs: for a higher limit, those approval_authority.dmn asks for the new
    limit and the customer's grade; a lower or unchanged limit needs none (it names who approved, if any).

    Raises:
        MissingApprovals: a higher limit without them.
    """
    customer = get_customer(ctx.session, req.customer_id)
    new_limit = _cents(req.new_limit)
    if new_limit <= customer.credit_limit:
        return given_approvals(ctx, req.approver_steps)
    groups = authority_groups(
        ctx,
        "credit.apply_limit",
        LIMIT_AUTHORITY_TABLE,
        {"recommended_limit": new_limit, "grade": customer.grade},
        roles.LIMIT_AUTHORITY,
    )
    what = (
        f"a limit of {new_limit} {customer.currency} for customer {customer.id} (was {customer.credit_limit})"
    )
    return require_approvals(ctx, "credit.apply_limit", groups, what, req.approver_steps)


@dataclass(frozen=True)
class AppliedLimit:
    old_limit: Decimal
    new_limit: Decimal
    next_review_date: date
    approvers: list[str]


def apply_limit(ctx: TaskContext, req: ApplyLimitRequest) -> AppliedLimit:
    """Write the approved limit with a history entry naming the approvers and the instance; schedule the
    next review. The operation moves money: its approvals (`limit_approvals`) are checked before it runs."""
    if req.new_limit < 0:
        raise HandlerInputError(f"credit.apply_limit: a limit cannot be negative ({req.new_limit})")
    longest = longest_review_cycle(ctx.session)
    if req.review_months < 0 or (longest is not None and req.review_months > longest):
        # A review far in the future would keep the customer out of every scheduled review.
        raise HandlerInputError(
            f"credit.apply_limit: review_months must be between 0 and the limit policy's longest review "
            f"cycle ({longest} months), not {req.review_months}"
        )
    customer = get_customer(ctx.session, req.customer_id)
    approvers = [a.user for a in ctx.approvals]
    old = customer.credit_limit
    # The last approval makes the change; without one (a decrease) the person or job that started the case.
    latest = max(ctx.approvals, key=lambda a: (a.at, a.task_id), default=None)
    change_limit(
        ctx.session,
        customer,
        _cents(req.new_limit),
        reason=req.reason,
        approvers=approvers,
        actor=latest.user if latest else ctx.started_by,
        now=ctx.now,
        instance_id=ctx.instance_id,
    )
    scheduled = customer.next_review_date
    customer.next_review_date = add_months(ctx.now.date(), req.review_months)
    if customer.next_review_date != scheduled:
        record_event(
            ctx.session,
            actor=ctx.actor or SYSTEM_ACTOR,
            action="next_review_date_set",
            now=ctx.now,
            instance_id=ctx.instance_id,
            customer_id=customer.id,
            before={"next_review_date": scheduled.isoformat() if scheduled else None},
            after={"next_review_date": customer.next_review_date.isoformat()},
        )
    return AppliedLimit(
        old_limit=old,
        new_limit=customer.credit_limit,
        next_review_date=customer.next_review_date,
        approvers=approvers,
    )


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
