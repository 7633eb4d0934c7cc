"""Service operations of the dunning process: open, review, escalate, notify, promises, disputes, legal.

The case row (DunningCase) is the state the diagram steers by; every step re-reads the receivables,
so a payment or dispute recorded between steps is always taken into account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select

from handlers.dunning_overdue import changes_no_invoice, no_promise_yet, open_promise_id, overdue_invoices
from workflows.credit.customers import get_customer
from workflows.credit.models import (
    DunningCase,
    DunningEvent,
    DunningStatus,
    Invoice,
    InvoiceStatus,
)
from workflows.credit.promises import DunningPromise, PromiseStatus, open_promise, promise_until, received_for
from workflows.credit.record_fields import iso_text, money_text
from workflows.credit.watchlist import flag_customer
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.messages import _
from workflows.store.audit import changed
from workflows.store.core_writes import persistent_as_inserted, update_as_loaded
from workflows.store.models import User, UserGroup
from workflows.users import ADMIN_GROUP, trusted_initiator

LEGAL_LEVEL = 4
# Versions of the diagram deployed before dunning_policy.dmn carried the promise grace passed none: they
# keep the grace every version had until then.
LEGACY_PROMISE_GRACE_DAYS = 3
# How a case closes when nothing is overdue any more (the diagram passes review["outcome"] to close_case).
CLOSED_PAID, CLOSED_NO_LONGER_OVERDUE = "paid", "no_longer_overdue"


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
        raise HandlerInputError(_("dunning case %(case)s does not exist", case=case_id))
    if case.instance_id != ctx.instance_id:
        raise HandlerInputError(
            _(
                "dunning case %(case)s belongs to instance %(owner)s, not to instance "
                "%(instance)s; an instance acts only on the dunning case it opened",
                case=case_id,
                owner=case.instance_id,
                instance=ctx.instance_id,
            )
        )
    return case


# A case event is written once and never changed in the step: an INSERT at once, not an ORM object that
# the unit of work must track and flush (a case start records four to six; issue 19).
_NEW_EVENT = insert(cast(Table, DunningEvent.__table__))


def add_event(ctx: TaskContext, case: DunningCase, kind: str, **detail: Any) -> None:
    """Record what happened to the case; a state change passes `**changed(before, after)` in `detail`.

    Written now (the case row exists: it is read, or open_case flushed it), so events keep the order they
    were recorded in, and a later read in the step finds them."""
    ctx.session.execute(
        _NEW_EVENT,
        {
            "case_id": case.id,
            "kind": kind,
            "level": case.level,
            "detail": detail,
            "actor": ctx.actor or "system",  # whose action ran the step (a collector, a manager), else system
            "at": ctx.now,
        },
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


# Built once (every dunning case start asks); Core, as it reads one id.
_CASES = cast(Table, DunningCase.__table__)
_ACTIVE_CASE = select(_CASES.c.id).where(
    _CASES.c.customer_id == bindparam("customer_id"), _CASES.c.status.in_(DunningStatus.ACTIVE)
)


def open_case(ctx: TaskContext, req: OpenCaseRequest) -> OpenedCase:
    """Open the customer's dunning case; a customer never has two active cases.

    Only an instance the daily dunning run (the system) or an admin started opens one, as only they may
    start dunning: a case opened by anyone's diagram would keep the customer out of every dunning run.

    Raises:
        HandlerInputError: another initiator, or the customer has an active case.
    """
    changes_no_invoice(ctx)
    if not _started_by_system_or_admin(ctx):
        raise HandlerInputError(
            _(
                "dunning.open_case in instance %(instance)s: dunning cases are opened by the daily dunning "
                "run or an admin, not by an instance %(starter)s started",
                instance=ctx.instance_id,
                starter=ctx.started_by,
            )
        )
    customer = get_customer(ctx.session, req.customer_id)
    active = ctx.session.scalar(_ACTIVE_CASE, {"customer_id": customer.id})
    if active is not None:
        raise HandlerInputError(
            _(
                "customer %(customer)s already has the open dunning case %(case)s",
                customer=customer.id,
                case=active,
            )
        )
    case = _insert_case(ctx, customer.id, customer.currency)
    no_promise_yet(ctx, case.id)  # a new case: the step's reviews need not ask
    # The invoices the case is about: it closes as paid only when every invoice it dunned is paid.
    overdue = overdue_invoices(ctx, customer.id)
    add_event(ctx, case, "opened", invoices=[i.number for i in overdue])
    return OpenedCase(case.id, customer.name, customer.email, customer.currency, customer.grade or "")


# The new case as the ORM's INSERT wrote it (every column, the model's defaults), but as one Core INSERT: the
# unit of work's flush of a single new row cost 5 % of a case start (issue 19).
_NEW_CASE = insert(_CASES).returning(_CASES.c.id)


def _insert_case(ctx: TaskContext, customer_id: int, currency: str) -> DunningCase:
    """Insert the case row and hand the session its ORM object, persistent as if loaded: the next handlers
    of the step read it by key (`load_case`) without a query and change it through the unit of work."""
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "instance_id": ctx.instance_id,
        "status": DunningStatus.OPEN,
        "level": 0,
        "fees": Decimal("0.00"),
        "currency": currency,
        "blocked_customer": False,
        "promised_date": None,
        "promised_amount": None,
        "last_notice_at": None,
        "opened_at": ctx.now,
        "closed_at": None,
        "outcome": None,
        "grade": None,
    }
    case = DunningCase(id=ctx.session.execute(_NEW_CASE, values).scalar_one(), **values)
    persistent_as_inserted(ctx.session, case)
    return case


@dataclass(frozen=True)
class CaseRequest:
    case_id: int


@dataclass(frozen=True)
class Standing:
    grade: str  # "" while the customer is not graded


def current_grade(ctx: TaskContext, req: CaseRequest) -> Standing:
    """The customer's grade now, for the ladder the next review reads (dunning_policy.dmn): a case follows
    the grade the customer has at each level, not the one it had when the case opened. A change is
    recorded on the case (`ladder_grade`), and the case remembers the grade its schedule follows, so the
    daily run can tell a waiting case when the grade moves away from it."""
    changes_no_invoice(ctx)
    case = load_case(ctx, req.case_id)
    grade = get_customer(ctx.session, case.customer_id).grade or ""
    if case.grade != grade:
        add_event(ctx, case, "ladder_grade", before={"grade": case.grade}, after={"grade": grade})
        update_as_loaded(ctx.session, case, grade=grade)
    return Standing(grade)


@dataclass(frozen=True)
class ReviewRequest:
    case_id: int
    level_1_days: int
    level_2_days: int
    level_3_days: int
    level_4_days: int
    grade: str | None = None  # the grade whose ladder the level days are (None: a version before 0012c)
    promise_grace_days: int = LEGACY_PROMISE_GRACE_DAYS


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
    changes_no_invoice(ctx)
    case = load_case(ctx, req.case_id)
    if req.grade is not None and req.grade != (case.grade or ""):
        raise HandlerInputError(
            _(
                "dunning.review: the ladder passed is grade '%(grade)s''s, but case %(case)s follows grade "
                "'%(case_grade)s' (dunning.current_grade); read the ladder for the grade the case follows",
                grade=req.grade,
                case=case.id,
                case_grade=case.grade or "",
            )
        )
    policy = ctx.settings.dunning
    overdue = overdue_invoices(ctx, case.customer_id)
    total = sum((i.undisputed_amount for i in overdue), Decimal("0.00"))  # disputed amounts are held out
    promise = _open_promise(ctx, case.id)
    if not overdue:
        outcome = _settled_as(ctx, case)
        if promise is not None:  # paid before the promise was judged: judged by what came in until today
            received = received_for(ctx.session, promise, case.customer_id, ctx.now.date())
            # A credit note (or a dispute) took away what the promise was to pay: the customer broke no word.
            overtaken = outcome != CLOSED_PAID and received < min(promise.amount, promise.overdue)
            judge_promise(ctx, case, promise, received, total, overtaken=overtaken)
        return Review("close", ctx.now.isoformat(), case.status, total, "", outcome)
    oldest = overdue[0].due_date
    next_at = _next_level_at(case, oldest, req, ctx.now, policy.legal_retry_days)
    if promise is not None:
        until = promise_until(promise, req.promise_grace_days, ctx.now.date())  # no day read: today
        received = received_for(ctx.session, promise, case.customer_id, min(until, ctx.now.date()))
        if received < promise.amount and ctx.now.date() <= until and promise.promised_date is not None:
            set_status(ctx, case, DunningStatus.PAUSED)
            return Review(
                "wait",
                _midnight(until + timedelta(days=1)).isoformat(),
                case.status,
                total,
                oldest.isoformat(),
            )
        verdict = judge_promise(ctx, case, promise, received, total)
        if verdict == PromiseStatus.BROKEN:
            # A broken promise resumes escalation at once: due since the start of today, so the timer fires
            # in this step (a timer fires only once its time has passed; `now` itself waited a round).
            next_at = min(next_at, _midnight(ctx.now.date()))
        # Kept or partly kept: dunning resumes on what is still overdue, on the ladder's dates.
    if case.last_notice_at is not None:
        spacing = timedelta(days=policy.min_days_between_notices)
        next_at = max(next_at, _midnight(case.last_notice_at.date() + spacing))  # whole calendar days
    set_status(ctx, case, DunningStatus.OPEN)
    return Review("wait", next_at.isoformat(), case.status, total, oldest.isoformat())


def _open_promise(ctx: TaskContext, case_id: int) -> DunningPromise | None:
    """`promises.open_promise`: the promise that pauses the case now, if any."""
    found = open_promise_id(ctx, case_id)
    return None if found is None else open_promise(ctx.session, case_id)


def set_status(ctx: TaskContext, case: DunningCase, status: str) -> None:
    """Set the case's status, recording `status_changed` when it changes (e.g. disputed -> open once
    the dispute is resolved); the changes other events record (a promise, a dispute) set it themselves."""
    if case.status != status:
        add_event(ctx, case, "status_changed", before={"status": case.status}, after={"status": status})
        case.status = status


def judge_promise(
    ctx: TaskContext,
    case: DunningCase,
    promise: DunningPromise,
    received: Decimal,
    overdue: Decimal,
    *,
    overtaken: bool = False,
) -> str:
    """Kept (all of the promised amount received by the date plus grace), partly kept (some of it) or
    broken (nothing); the case stops waiting for it either way. Returns the verdict.

    A promise of more than was overdue when it was made (the customer rounding up, adding the fees) is kept
    once all of that overdue amount came in: the customer paid everything the promise was about."""
    owed = min(promise.amount, promise.overdue) if promise.overdue > 0 else promise.amount
    if received >= owed:
        verdict = PromiseStatus.KEPT
    elif overtaken:  # nothing is owed any more, and not because it was paid: not judged
        verdict = PromiseStatus.OVERTAKEN
    elif received > 0:
        verdict = PromiseStatus.PARTLY_KEPT
    else:
        verdict = PromiseStatus.BROKEN
    before = {
        "status": case.status,
        "promised_date": iso_text(case.promised_date),
        "promised_amount": money_text(case.promised_amount),
        "promise_status": promise.status,
    }
    promise.status, promise.received, promise.judged_at = verdict, received, ctx.now
    case.status, case.promised_date, case.promised_amount = DunningStatus.OPEN, None, None
    after = {"status": case.status, "promised_date": None, "promised_amount": None, "promise_status": verdict}
    add_event(
        ctx,
        case,
        f"promise_{verdict}",
        promise_id=promise.id,
        promised_date=iso_text(promise.promised_date),  # None: a stored day no one can read
        promised_amount=money_text(promise.amount),
        received=money_text(received),
        overdue=money_text(overdue),
        **changed(before, after),
    )
    if verdict == PromiseStatus.BROKEN:  # an early warning at once, not on the next daily run
        flag_customer(ctx.session, case.customer_id, ctx.now, base=ctx.settings.credit.base_currency)
    return verdict


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
