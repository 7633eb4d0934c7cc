"""Promises to pay of a dunning case: each one recorded, approved when outside the limits, and judged.

A promise is judged by the payments received from the day it was recorded to its promised date plus the
grace the policy gives (`promise_grace_days` of dunning_policy.dmn): all of the promised amount is kept,
some of it partly kept, nothing broken.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, bindparam, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.credit.models import Invoice, Payment, PaymentAllocation
from workflows.credit.promise_limits import english_limits
from workflows.credit.record_fields import iso_text, money_text
from workflows.store.models import Base, Decimal2
from workflows.store.shown_json import readable_or, unreadable_note

log = logging.getLogger(__name__)


class PromiseStatus:
    PENDING_APPROVAL = "pending_approval"  # outside the limits: waits for the credit manager
    OPEN = "open"  # pauses the case until its date plus grace
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"
    REFUSED = "refused"  # the credit manager did not accept it; dunning went on
    REPLACED = "replaced"  # a newer promise took its place before its date
    LAPSED = "lapsed"  # outside the limits and not decided by the next ladder step: dunning went on
    # Nothing was left to pay when judged, and not by payment (a credit note): neither kept nor broken
    OVERTAKEN = "overtaken"
    JUDGED = (KEPT, PARTLY_KEPT, BROKEN)
    # What the limit on promises per case counts. A replaced promise counts: otherwise a collector could keep
    # a case paused for ever by recording a new promise before each one falls due.
    COUNTED = (OPEN, BROKEN, REPLACED)


class DunningPromise(Base):
    """One promise to pay on a dunning case."""

    __tablename__ = "dunning_promises"
    __table_args__ = (Index("ix_dunning_promises_case", "case_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dunning_cases.id"))
    promised_date: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    overdue: Mapped[Decimal] = mapped_column(Decimal2)  # the overdue amount when it was made
    status: Mapped[str] = mapped_column(String(20))
    outside: Mapped[list[Any]]  # the limits it broke (credit.promise_limits; empty: within the policy)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(80))  # the credit manager, when outside the limits
    decided_at: Mapped[datetime | None]
    received: Mapped[Decimal | None] = mapped_column(Decimal2)  # paid by the date plus grace, once judged
    judged_at: Mapped[datetime | None]


def received_for(session: Session, promise: DunningPromise, customer_id: int, until: date) -> Decimal:
    """What the customer paid (in the promise's currency) from the day the promise was made to `until` on
    the invoices that were overdue then: the promise is about them, so a payment on an invoice not yet due
    (or a later one) keeps nothing."""
    made = promise.recorded_at.date()
    total = session.scalar(
        select(func.sum(PaymentAllocation.amount))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(
            Payment.customer_id == customer_id,
            Payment.currency == promise.currency,
            Payment.paid_on >= made,
            Payment.paid_on <= until,
            Invoice.customer_id == customer_id,
            Invoice.due_date < made,
        )
    )
    return Decimal("0.00") if total is None else Decimal(total).quantize(Decimal("0.01"))


# Built once: every review of a dunning case asks (twice in a case's first step).
_OPEN_PROMISE = (
    select(DunningPromise)
    .where(DunningPromise.case_id == bindparam("case_id"), DunningPromise.status == PromiseStatus.OPEN)
    .order_by(DunningPromise.id.desc())
    .limit(1)
)


def open_promise(session: Session, case_id: int) -> DunningPromise | None:
    """The promise that pauses the case now, if any (at most one is open at a time)."""
    return session.scalar(_OPEN_PROMISE, {"case_id": case_id})


def counted_promises(session: Session, case_id: int) -> int:
    """Open or broken promises of the case: what the policy's `promise_max_count` limits."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DunningPromise)
            .where(DunningPromise.case_id == case_id, DunningPromise.status.in_(PromiseStatus.COUNTED))
        )
        or 0
    )


def kept_rate(statuses: Iterable[str]) -> str | None:
    """Promises kept in full by their date over promises judged, as a fraction ("0.50"); None: none judged."""
    judged = [s for s in statuses if s in PromiseStatus.JUDGED]
    if not judged:
        return None
    kept = sum(1 for s in judged if s == PromiseStatus.KEPT)
    return str((Decimal(kept) / Decimal(len(judged))).quantize(Decimal("0.01")))


def promise_until(promise: DunningPromise, grace_days: int, today: date) -> date:
    """The last day of a promise's grace. A stored day no one can read (None: a hand edit on SQLite) gives
    today, and dunning.review judges the promise now, as one whose day and grace have passed, with a
    warning naming it: the case goes on being dunned instead of failing its review every day."""
    if promise.promised_date is None:
        log.warning(
            "dunning promise %s (case %s): its day cannot be read; judged now", promise.id, promise.case_id
        )
        return today
    return promise.promised_date + timedelta(days=grace_days)


def promise_json(promise: DunningPromise) -> dict[str, Any]:
    return {
        "id": promise.id,
        "promised_date": iso_text(promise.promised_date),  # None: a stored day no one can read (column_types)
        "amount": money_text(promise.amount),
        "overdue": money_text(promise.overdue),
        "status": promise.status,
        # English sentences, as the API gave them when they were stored as such (rows from then still are).
        # A list no decoder reads (a hand edit): [] here, its stored text under "unreadable".
        "outside": english_limits(readable_or(promise.outside, [])),
        "recorded_by": promise.recorded_by,
        "recorded_at": promise.recorded_at.isoformat(),
        "decided_by": promise.decided_by,
        "received": money_text(promise.received),
        "judged_at": iso_text(promise.judged_at),
        **unreadable_note({"outside": promise.outside}),
    }
