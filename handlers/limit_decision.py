"""Service operations that decide and record credit limits: record_score, propose_limit, apply_limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from handlers.approvals import (
    authority_groups,
    completed_steps,
    given_approvals,
    in_base_currency,
    require_approvals,
    require_customer_reader,
)
from handlers.limit_policy import above_policy, cents, policy_limit
from handlers.limit_weighing import record_weighing, weighed_recommendation
from workflows.credit import roles
from workflows.credit.collateral import collateral_lapse
from workflows.credit.customers import GRADES, add_months, change_limit, get_customer, longest_review_cycle
from workflows.credit.limit_review import late_payer
from workflows.credit.models import Customer, LimitPolicyNote
from workflows.credit.watchlist import flag_customer
from workflows.engine.service_tasks import Approval, HandlerInputError, TaskContext
from workflows.messages import _
from workflows.money import format_money
from workflows.store.audit import record_event
from workflows.users import SYSTEM_ACTOR


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
            _(
                "credit.record_score: grade must be one of %(grades)s, not '%(grade)s'",
                grades=", ".join(GRADES),
                grade=req.grade,
            )
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
    requested_limit: Decimal  # an application's request, or a review's estimated need
    payment_terms_days: int
    revenue_cap_pct: Decimal
    grace_days: int  # limit_policy.dmn: days customers pay after the due date, part of the need
    limit_rounding: Decimal  # limit_policy.dmn: proposals are rounded down to a multiple of this
    expected_annual_sales: Decimal = Decimal(0)
    trigger: str = "application"  # a review's reason (scheduled, overdue, ...), or application
    increase_allowed: bool = True  # limit_review_trigger.dmn: may this trigger propose more than today?


@dataclass(frozen=True)
class LimitProposal:
    need: Decimal
    cap: Decimal
    formula_limit: Decimal  # min(need, cap), rounded down: the policy's limit
    proposed_limit: Decimal  # what the case proposes: the formula's limit within the trigger's rules
    missing_data: list[str]  # credit file fields the formula lacked: a person decides, nothing is cut
    basis: str  # why the proposal is what it is, for the analyst and the history


def missing_financials(customer: Customer) -> list[str]:
    """The credit file fields without which the formula cannot judge the customer: the revenue its cap is
    a share of, and the financial ratios (both missing) the scorecard reads."""
    missing = []
    if customer.annual_revenue is None or customer.annual_revenue <= 0:
        missing.append("annual_revenue")
    if customer.current_ratio is None and customer.debt_ratio is None:
        missing.append("financial_ratios")
    return missing


def propose_limit(ctx: TaskContext, req: ProposeLimitRequest) -> LimitProposal:
    """Need from expected sales and terms (or the request itself), capped by the grade's share of revenue
    and rounded down per limit_policy.dmn. An application proposes at most what was requested. A review
    proposes no increase when its trigger forbids one (overdue, dunning, a downgrade), and with revenue or
    financials missing it keeps the current limit for an analyst to decide: missing data never cuts."""
    if req.requested_limit < 0 or req.payment_terms_days < 0 or req.grace_days < 0:
        raise HandlerInputError(
            _("credit.propose_limit: the requested limit, the terms and the grace days cannot be negative")
        )
    if req.limit_rounding <= 0:
        raise HandlerInputError(
            _(
                "credit.propose_limit: limit_rounding must be positive (%(rounding)s)",
                rounding=req.limit_rounding,
            )
        )
    require_customer_reader(ctx, "credit.propose_limit")  # the cap tells the customer's revenue
    customer = get_customer(ctx.session, req.customer_id)
    if req.expected_annual_sales > 0:
        need = req.expected_annual_sales / 365 * (req.payment_terms_days + req.grace_days)
    else:
        need = req.requested_limit
    cap = (customer.annual_revenue or Decimal(0)) * req.revenue_cap_pct / 100
    step = req.limit_rounding
    formula = cents((min(need, cap) / step).to_integral_value(rounding=ROUND_DOWN) * step)
    missing = missing_financials(customer)
    current = customer.credit_limit
    # `basis` is stored in the case data as an English sentence with a msgid: pages say it in the reader's
    # language (webui/stored_sentences.said_stored); the diagrams' expressions compare the English.
    basis: str
    if req.trigger == "application":
        proposed, basis = min(formula, cents(req.requested_limit)), _("the formula, at most the request")
    elif missing:
        proposed = current
        basis = _("current limit kept: %(missing)s missing, an analyst decides", missing=", ".join(missing))
    elif formula > current and not req.increase_allowed:
        proposed, basis = current, _("no increase on a %(trigger)s review", trigger=req.trigger)
    elif formula > current and (
        late := late_payer(ctx.session, customer.id, ctx.now.date(), ctx.settings.reviews)
    ):
        proposed = current
        basis = _(
            "no increase on a %(trigger)s review: the customer is in %(signal)s",
            trigger=req.trigger,
            signal=late,
        )
    else:
        proposed, basis = formula, _("the formula")
    return LimitProposal(
        need=cents(need),
        cap=cents(cap),
        formula_limit=formula,
        proposed_limit=proposed,
        missing_data=missing,
        basis=basis,
    )


@dataclass(frozen=True)
class CheckRecommendationRequest:
    customer_id: int
    recommended_limit: Decimal
    formula_limit: Decimal
    exception_reason: str = ""


@dataclass(frozen=True)
class RecommendationCheck:
    above_policy: bool  # the recommendation exceeds the policy's limit: one more approval level
    policy_limit: Decimal | None
    limit_in_base: Decimal | None  # the recommendation in the base currency; None: no exchange rate
    rate_missing: bool
    base_currency: str


def check_recommendation(ctx: TaskContext, req: CheckRecommendationRequest) -> RecommendationCheck:
    """What approval_authority.dmn needs of an analyst's recommendation: the amount in the base currency
    (unknown without a rate) and whether it lies above the policy's limit, which the analyst must justify.

    Raises:
        HandlerInputError: above policy without an exception_reason (422 to the analyst, nothing kept).
    """
    if req.recommended_limit < 0:
        raise HandlerInputError(
            _(
                "credit.check_recommendation: a limit cannot be negative (%(limit)s)",
                limit=req.recommended_limit,
            )
        )
    require_customer_reader(ctx, "credit.check_recommendation")
    customer = get_customer(ctx.session, req.customer_id)
    recommended = cents(req.recommended_limit)
    policy = policy_limit(ctx, customer, req.formula_limit)
    above = above_policy(recommended, customer.credit_limit, policy)
    if above and not req.exception_reason.strip():
        raise HandlerInputError(
            _(
                "exception_reason: the recommended limit %(recommended)s is above the "
                "policy's limit %(policy)s for grade %(grade)s; give the reason for the "
                "exception (field exception_reason)",
                recommended=format_money(recommended, customer.currency),
                policy=format_money(policy, customer.currency),
                grade=customer.grade or _("not graded"),
            )
        )
    base = in_base_currency(ctx, recommended, customer.currency)
    record_weighing(ctx, customer.id, recommended, customer.currency, base)
    return RecommendationCheck(above, policy, base.amount, base.rate_missing, base.currency)


# The authority matrix of credit limits: who must approve a new or higher limit.
LIMIT_AUTHORITY_TABLE = ("approval_authority.dmn", "approval_authority")


@dataclass(frozen=True)
class ApplyLimitRequest:
    customer_id: int
    new_limit: Decimal
    reason: str
    review_months: int
    approver_steps: list[str] = field(default_factory=list)  # when given, only approvals at these tasks count
    formula_limit: Decimal | None = None  # the case's formula limit (proposal["formula_limit"])
    exception_reason: str = ""  # the analyst's reason for a limit above policy


def limit_authority_inputs(
    ctx: TaskContext, customer: Customer, new_limit: Decimal, above: bool, day: date | None = None
) -> dict[str, Any]:
    """The inputs of approval_authority.dmn, as the diagram's `recommendation` (credit.check_recommendation)
    gives them: the limit in the base currency as that check weighed it for this instance, else at the rate
    of `day` (None and rate_missing without a rate), the grade, and whether the limit lies above policy."""
    base = weighed_recommendation(ctx, new_limit, customer.currency) or in_base_currency(
        ctx, new_limit, customer.currency, day
    )
    return {
        "recommendation": {
            "limit_in_base": base.amount,
            "rate_missing": base.rate_missing,
            "above_policy": above,
        },
        "grade": customer.grade,
    }


def recommendation_day(ctx: TaskContext, steps: list[str]) -> date:
    """The day the recommendation was made, whose exchange rate the diagram's routing used: the latest
    completion of the first approver step (the analyst's review in the shipped diagrams), else today. A rate
    posted while the approvals run then cannot ask for a level the routing never offered."""
    done = completed_steps(ctx, steps[:1]) if steps else []
    at = done[-1]["at"] if done else None
    return datetime.fromisoformat(at).date() if isinstance(at, str) else ctx.now.date()


def limit_approvals(ctx: TaskContext, req: ApplyLimitRequest) -> list[Approval]:
    """The approvals a new limit needs: for a higher limit, those approval_authority.dmn asks for the new
    limit in the base currency, the customer's grade and whether it lies above policy; a lower or unchanged
    limit needs none (it names who approved, if any).

    Raises:
        MissingApprovals: a higher limit without them.
    """
    customer = get_customer(ctx.session, req.customer_id)
    new_limit = cents(req.new_limit)
    if new_limit <= customer.credit_limit:
        return given_approvals(ctx, req.approver_steps)
    above = above_policy(new_limit, customer.credit_limit, policy_limit(ctx, customer, req.formula_limit))
    groups = authority_groups(
        ctx,
        "credit.apply_limit",
        LIMIT_AUTHORITY_TABLE,
        limit_authority_inputs(ctx, customer, new_limit, above, recommendation_day(ctx, req.approver_steps)),
        roles.LIMIT_AUTHORITY,
    )
    said = {
        "limit": format_money(new_limit, customer.currency),
        "customer": customer.id,
        "old": format_money(customer.credit_limit, customer.currency),
    }
    what = (
        _("a limit of %(limit)s for customer %(customer)s (was %(old)s, above policy)", **said)
        if above
        else _("a limit of %(limit)s for customer %(customer)s (was %(old)s)", **said)
    )
    return require_approvals(ctx, "credit.apply_limit", groups, what, req.approver_steps)


@dataclass(frozen=True)
class AppliedLimit:
    old_limit: Decimal
    new_limit: Decimal
    next_review_date: date
    approvers: list[str]
    above_policy: bool
    policy_limit: Decimal | None


def apply_limit(ctx: TaskContext, req: ApplyLimitRequest) -> AppliedLimit:
    """Write the approved limit with a history entry naming the approvers and the instance; schedule the
    next review. The operation moves money: its approvals (`limit_approvals`) are checked before it runs."""
    if req.new_limit < 0:
        raise HandlerInputError(
            _("credit.apply_limit: a limit cannot be negative (%(limit)s)", limit=req.new_limit)
        )
    longest = longest_review_cycle(ctx.session)
    if req.review_months < 0 or (longest is not None and req.review_months > longest):
        # A review far in the future would keep the customer out of every scheduled review.
        raise HandlerInputError(
            _(
                "credit.apply_limit: review_months must be between 0 and the limit policy's longest review "
                "cycle (%(longest)s months), not %(months)s",
                longest=longest,
                months=req.review_months,
            )
        )
    customer = get_customer(ctx.session, req.customer_id)
    approvers = [a.user for a in ctx.approvals]
    old = customer.credit_limit
    new_limit = cents(req.new_limit)
    policy = policy_limit(ctx, customer, req.formula_limit)
    above = above_policy(new_limit, old, policy)
    if above and not req.exception_reason.strip():
        raise HandlerInputError(
            _(
                "credit.apply_limit: %(limit)s is above the policy's limit %(policy)s; "
                "an exception needs its reason (exception_reason)",
                limit=format_money(new_limit, customer.currency),
                policy=format_money(policy, customer.currency),
            )
        )
    # The last approval makes the change; without one (a decrease) the person or job that started the case.
    latest = max(ctx.approvals, key=lambda a: (a.at, a.task_id), default=None)
    changed_by = latest.user if latest else ctx.started_by
    change_limit(
        ctx.session,
        customer,
        new_limit,
        reason=req.reason,
        approvers=approvers,
        actor=changed_by,
        now=ctx.now,
        instance_id=ctx.instance_id,
        policy=LimitPolicyNote(policy, req.exception_reason.strip())
        if above and policy is not None
        else None,
    )
    # Utilisation moves with the limit: the watchlist evaluates the customer now (a savepoint of this step).
    flag_customer(ctx.session, customer.id, ctx.now, base=ctx.settings.credit.base_currency, actor=changed_by)
    scheduled = customer.next_review_date
    # A limit resting on a guarantee that lapses before the policy's review is reviewed when it lapses.
    lapse = collateral_lapse(ctx.session, customer.id, ctx.now.date())
    review_on = add_months(ctx.now.date(), req.review_months)
    customer.next_review_date = review_on if lapse is None else min(review_on, lapse)
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
        above_policy=above,
        policy_limit=policy,
    )
