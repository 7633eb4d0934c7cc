"""Dunning operations for what the customer answers: a promise to pay (a dispute is raised in
handlers/dunning_disputes.py and settled by a dispute_resolution instance of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from handlers.approvals import require_approvals
from handlers.dunning import add_event, load_case
from workflows.credit import roles
from workflows.credit.models import (
    DunningCase,
    DunningStatus,
)
from workflows.credit.promise_limits import count_limit, date_limit, share_limit
from workflows.credit.promises import DunningPromise, PromiseStatus, counted_promises
from workflows.credit.receivables import overdue_invoices
from workflows.credit.record_fields import iso_text, money_text
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.messages import _
from workflows.store.audit import changed
from workflows.users import SYSTEM_ACTOR

# Further ahead a promise is no promise to pay but a payment plan; and a day near 9999-12-31 overflowed the
# review's "promised date plus grace" once approved, stopping the case's dunning for good (attack A24).
MAX_DAYS_AHEAD = 5 * 366


@dataclass(frozen=True)
class PromiseRequest:
    case_id: int
    promised_date: date
    amount: Decimal
    # The promise limits of the customer's grade now (dunning_policy.dmn, read before every review). None:
    # a version deployed before the limits (it has no approve_promise task to send a promise outside them
    # to), whose promise pauses the case as every promise did then; the event says it was not checked.
    max_days: int | None = None
    min_pct: Decimal | None = None
    max_count: int | None = None
    # When the ladder's next step falls due (the last review's next_action_at, or on the call the day the
    # escalation named): a promise outside the limits lapses if no credit manager decided by then.
    next_step_at: Any = None
    currency: Any = None  # the message's, when it names one: it must be the case's currency


@dataclass(frozen=True)
class PromiseRecord:
    promise_id: int
    promised_date: date
    amount: Decimal
    overdue: Decimal
    recorded_by: str
    needs_approval: bool  # outside the limits: the credit manager decides (approve_promise)
    outside: list[dict[str, Any]]  # which limits: codes and figures (workflows/credit/promise_limits)
    decide_by: str = ""  # outside the limits: the approval lapses then and dunning goes on (ISO time)


def record_promise(ctx: TaskContext, req: PromiseRequest) -> PromiseRecord:
    """Record the customer's promise. Within the policy's limits (date at most `max_days` ahead, amount at
    least `min_pct` % of the overdue amount, at most `max_count` open or broken promises on the case) it
    pauses the case until the promised date plus grace; outside them it waits for the credit manager and
    the case goes on meanwhile.

    Raises:
        HandlerInputError: no positive amount, a date in the past or more than MAX_DAYS_AHEAD ahead, or
            limits that are not limits.
    """
    if req.amount <= 0 or req.promised_date < ctx.now.date():
        raise HandlerInputError(
            _("dunning.record_promise: a promise needs a positive amount and a date not in the past")
        )
    if (req.promised_date - ctx.now.date()).days > MAX_DAYS_AHEAD:
        raise HandlerInputError(
            _(
                "dunning.record_promise: a promised day is at most %(most)s days ahead, not %(day)s",
                most=f"{MAX_DAYS_AHEAD:,}",
                day=req.promised_date.isoformat(),
            )
        )
    if req.currency is not None:
        currency_of_case = load_case(ctx, req.case_id).currency
        if req.currency != currency_of_case:
            raise HandlerInputError(
                _(
                    "dunning.record_promise.currency: the case is dunned in %(case_currency)s; a promise in "
                    "'%(currency)s' is not a promise on it (convert it, or record it in %(case_currency)s)",
                    case_currency=currency_of_case,
                    currency=req.currency,
                )
            )
    limits = (req.max_days, req.min_pct, req.max_count)
    if None in limits:
        if limits != (None, None, None):
            raise HandlerInputError(
                _(
                    "dunning.record_promise: pass all three promise limits (max_days, min_pct, max_count) "
                    "or none"
                )
            )
        return _record_unlimited(ctx, req)
    assert req.max_days is not None and req.min_pct is not None and req.max_count is not None
    if req.max_days < 0 or req.max_count < 0 or not 0 <= req.min_pct <= 100:
        raise HandlerInputError(
            _(
                "dunning.record_promise: the promise limits (%(days)s days, %(pct)s %%, "
                "%(count)s promises) are not limits; fix dunning_policy.dmn",
                days=req.max_days,
                pct=req.min_pct,
                count=req.max_count,
            )
        )
    case = load_case(ctx, req.case_id)
    today = ctx.now.date()
    overdue = _undisputed_overdue(ctx, case)
    # Which limits, as codes with their figures (stored in the case data, on the promise and in its event;
    # each reader's page, task text or case file says them in their language: credit.promise_limits).
    outside: list[dict[str, Any]] = []
    days_out = (req.promised_date - today).days
    if days_out > req.max_days:
        outside.append(date_limit(days_out, req.max_days))
    floor = (overdue * req.min_pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if req.amount < floor:
        outside.append(share_limit(req.amount, req.min_pct, overdue, floor, case.currency))
    held = counted_promises(ctx.session, case.id)
    if held + 1 > req.max_count:
        outside.append(count_limit(held, req.max_count))
    promise = _add_promise(ctx, case, req, overdue, outside)
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
    decide_by = _decide_by(ctx, req.next_step_at).isoformat() if outside else ""
    return PromiseRecord(
        promise.id,
        req.promised_date,
        req.amount,
        overdue,
        promise.recorded_by,
        bool(outside),
        outside,
        decide_by,
    )


def _undisputed_overdue(ctx: TaskContext, case: DunningCase) -> Decimal:
    """What the case duns: open disputes hold their amounts out, so a promise is measured against the rest."""
    overdue = overdue_invoices(ctx.session, case.customer_id, ctx.now.date())
    return sum((i.undisputed_amount for i in overdue), Decimal(0))


def _add_promise(
    ctx: TaskContext, case: DunningCase, req: PromiseRequest, overdue: Decimal, outside: list[dict[str, Any]]
) -> DunningPromise:
    """The promise, recorded by the step's user: open, or pending the credit manager when `outside` names
    the limits it breaks."""
    promise = DunningPromise(
        case_id=case.id,
        promised_date=req.promised_date,
        amount=req.amount,
        currency=case.currency,
        overdue=overdue,
        status=PromiseStatus.PENDING_APPROVAL if outside else PromiseStatus.OPEN,
        outside=outside,
        recorded_by=ctx.actor or SYSTEM_ACTOR,
        recorded_at=ctx.now,
    )
    ctx.session.add(promise)
    ctx.session.flush()
    return promise


def _decide_by(ctx: TaskContext, next_step_at: Any) -> datetime:
    """Until when the credit manager may decide a promise outside the limits: the ladder's next step (the
    approval must not pause a case the policy says goes on), and never less than a day.

    Raises:
        HandlerInputError: a next step that is no ISO date or time.
    """
    floor = ctx.now + timedelta(days=1)
    if next_step_at in (None, ""):
        return floor
    try:
        when = datetime.fromisoformat(str(next_step_at))
    except ValueError as exc:
        raise HandlerInputError(
            _("dunning.record_promise: next_step_at '%(value)s' is no ISO time", value=next_step_at)
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when, floor)


def _record_unlimited(ctx: TaskContext, req: PromiseRequest) -> PromiseRecord:
    """A promise on a version deployed before the promise limits: it pauses the case, as it did then."""
    case = load_case(ctx, req.case_id)
    overdue = _undisputed_overdue(ctx, case)
    promise = _add_promise(ctx, case, req, overdue, [])
    _pause(ctx, case, promise, "promise_to_pay", limits_checked=False)
    return PromiseRecord(promise.id, req.promised_date, req.amount, overdue, promise.recorded_by, False, [])


def _pause(ctx: TaskContext, case: DunningCase, promise: DunningPromise, kind: str, **extra: Any) -> None:
    """The promise pauses the case until its date (plus grace; `dunning.review` judges it then)."""
    before = _promise(case.status, case.promised_date, case.promised_amount)
    # A new promise replaces the one still open (the new one is recorded open already, so look past it).
    for previous in ctx.session.scalars(
        select(DunningPromise).where(
            DunningPromise.case_id == case.id,
            DunningPromise.status == PromiseStatus.OPEN,
            DunningPromise.id != promise.id,
        )
    ):
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
    decision: str  # approve | reject (the form) | lapse (the timer on approve_promise)
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
    if req.decision not in ("approve", "reject", "lapse"):
        raise HandlerInputError(
            _(
                "dunning.decide_promise: decision must be approve or reject, not '%(decision)s'",
                decision=req.decision,
            )
        )
    case = load_case(ctx, req.case_id)
    promise = ctx.session.get(DunningPromise, req.promise_id)
    if promise is None or promise.case_id != case.id or promise.status != PromiseStatus.PENDING_APPROVAL:
        raise HandlerInputError(
            _(
                "dunning.decide_promise: promise %(promise)s does not wait for a decision on case %(case)s",
                promise=req.promise_id,
                case=case.id,
            )
        )
    if req.decision == "lapse":  # the diagram's timer: nobody decided by the ladder's next step
        promise.status, promise.decided_at = PromiseStatus.LAPSED, ctx.now
        add_event(
            ctx,
            case,
            "promise_lapsed",
            promise_id=promise.id,
            before={"promise_status": PromiseStatus.PENDING_APPROVAL},
            after={"promise_status": PromiseStatus.LAPSED},
        )
    elif req.decision == "approve":
        [approval] = require_approvals(
            ctx,
            "dunning.decide_promise",
            (roles.CREDIT_MANAGER,),
            _(
                "a promise to pay outside the limits on dunning case %(case)s (recorded by %(recorder)s)",
                case=case.id,
                recorder=promise.recorded_by,
            ),
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
