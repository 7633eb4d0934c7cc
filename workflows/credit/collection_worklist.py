"""The collectors' worklist: the open dunning cases of a collector group, ranked by the priority score of
bpmn/collection_priority.dmn, each with its next action, last contact, promises and disputes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, type_coerce
from sqlalchemy.orm import Session

from workflows.credit.collection_contacts import CollectionContact, contact_json, last_contacts
from workflows.credit.collection_next import LadderStep, NextAction, ladder_steps, next_action
from workflows.credit.collection_priority import Priority
from workflows.credit.disputes import Dispute, DisputeStatus
from workflows.credit.fx import MissingRate, rate_on
from workflows.credit.models import Customer, DunningCase, DunningStatus, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.credit.record_fields import iso_text, money_text
from workflows.messages import _
from workflows.store.models import Decimal2, ProcessInstance

# Cases a collector works: legal cases are legal's, closed ones nobody's.
WORKED = (DunningStatus.OPEN, DunningStatus.PAUSED, DunningStatus.DISPUTED)
CENT = Decimal("0.01")


@dataclass
class WorkRow:
    case: DunningCase
    customer_name: str
    grade: str
    overdue: dict[str, Decimal]  # undisputed amount overdue per currency
    overdue_base: Decimal | None  # None: a currency has no rate (a person must look)
    days_overdue: int
    missing_rate: str | None = None
    score: Decimal | None = None
    grade_factor: Decimal | None = None
    last_contact: CollectionContact | None = None
    promises: dict[str, int] = field(default_factory=dict)
    disputes: int = 0
    disputed: dict[str, Decimal] = field(default_factory=dict)
    promise_gone: str | None = None  # the last contact's promise no longer stands: its date is void

    step: LadderStep | None = None  # the ladder timer the case's dunning instance waits on

    @property
    def next(self) -> NextAction:
        """The next action and its date: the page and the API both read this (collection_next.next_action)."""
        return next_action(self.case, self.last_contact, self.promise_gone, self.step)

    @property
    def next_action(self) -> str:
        return self.next.text

    @property
    def next_action_date(self) -> date | None:
        return self.next.on

    def due(self, today: date) -> bool:
        return self.next.due(today)


def case_scope(
    definition_ids: Collection[int] | None, *, unlinked: bool
) -> Any:  # a SQL condition on DunningCase
    """Cases whose dunning instance runs one of `definition_ids` (None: every case); `unlinked` adds cases
    without an instance (imported history)."""
    if definition_ids is None:
        return DunningCase.id.is_not(None)
    linked = DunningCase.instance_id.in_(
        select(ProcessInstance.id).where(ProcessInstance.definition_id.in_(list(definition_ids)))
    )
    return or_(linked, DunningCase.instance_id.is_(None)) if unlinked else linked


def worklist(
    session: Session,
    *,
    today: date,
    base: str,
    priority: Priority,
    scope: Any,
    due_only: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[WorkRow], int]:
    """The open cases in `scope` (see `case_scope`), ranked: cases with a currency lacking a rate first
    (nobody can rank them; a person must), then by score, then by days overdue. `due_only` keeps the cases
    whose next action is due (`NextAction.due`: a collector's action dated today or earlier, or none set by
    a collector).

    Raises:
        PriorityError: the deployed priority table gives no score for a case.
    """
    cases = list(session.scalars(select(DunningCase).where(DunningCase.status.in_(WORKED), scope)))
    contacts = last_contacts(session, [c.id for c in cases])
    rows = _rows(session, cases, today, base)
    gone = _void_promises(session, [c.promise_id for c in contacts.values() if c.promise_id is not None])
    steps = ladder_steps(session, cases)
    for row in rows:
        row.last_contact = contacts.get(row.case.id)
        row.step = steps.get(row.case.id)
        if row.last_contact is not None and row.last_contact.promise_id is not None:
            row.promise_gone = gone.get(row.last_contact.promise_id)
    if due_only:
        rows = [row for row in rows if row.due(today)]
    for row in rows:
        if row.overdue_base is not None:
            broken = row.promises.get(PromiseStatus.BROKEN, 0)
            scored = priority.score(row.overdue_base, row.days_overdue, row.grade, broken)
            row.score, row.grade_factor = scored
    rows.sort(
        key=lambda r: (r.score is not None, -(r.score or 0), -r.days_overdue, r.case.id),
    )
    start = (max(page, 1) - 1) * per_page
    return rows[start : start + per_page], len(rows)


# A promise in one of these no longer holds the case back: the credit manager refused it, or nobody decided
# it before the ladder's next step (dunning went on), or a newer promise made outside the contact log (a
# promise_to_pay message, the call task) replaced it. The contact that recorded it sets no date then.
VOID_PROMISES = (PromiseStatus.REFUSED, PromiseStatus.LAPSED, PromiseStatus.REPLACED)


def _void_promises(session: Session, promise_ids: list[int]) -> dict[int, str]:
    """{promise id: status} of those of `promise_ids` that no longer stand (VOID_PROMISES)."""
    if not promise_ids:
        return {}
    query = select(DunningPromise.id, DunningPromise.status).where(
        DunningPromise.id.in_(promise_ids), DunningPromise.status.in_(VOID_PROMISES)
    )
    return {pid: status for pid, status in session.execute(query)}


def _rows(session: Session, cases: list[DunningCase], today: date, base: str) -> list[WorkRow]:
    customer_ids = {c.customer_id for c in cases}
    if not cases:
        return []
    names = {
        cid: (name, grade or "")
        for cid, name, grade in session.execute(
            select(Customer.id, Customer.name, Customer.grade).where(Customer.id.in_(customer_ids))
        )
    }
    overdue: dict[int, dict[str, Decimal]] = defaultdict(dict)
    oldest: dict[int, date] = {}
    for cid, currency, amount, first in session.execute(
        select(
            Invoice.customer_id,
            Invoice.currency,
            type_coerce(func.sum(Invoice.open_amount - Invoice.disputed_amount), Decimal2),
            func.min(Invoice.due_date),
        )
        .where(
            Invoice.customer_id.in_(customer_ids),
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.open_amount > Invoice.disputed_amount,
            Invoice.due_date < today,
        )
        .group_by(Invoice.customer_id, Invoice.currency)
    ):
        overdue[cid][currency] = Decimal(amount).quantize(CENT)
        oldest[cid] = min(first, oldest.get(cid, first))
    promises: dict[int, Counter[str]] = defaultdict(Counter)
    for case_id, status, count in session.execute(
        select(DunningPromise.case_id, DunningPromise.status, func.count())
        .where(DunningPromise.case_id.in_([c.id for c in cases]))
        .group_by(DunningPromise.case_id, DunningPromise.status)
    ):
        promises[case_id][status] = count
    disputes: dict[int, tuple[int, dict[str, Decimal]]] = {}
    for cid, currency, count, amount in session.execute(
        select(
            Dispute.customer_id,
            Dispute.currency,
            func.count(),
            type_coerce(func.sum(Dispute.disputed_amount), Decimal2),
        )
        .where(Dispute.customer_id.in_(customer_ids), Dispute.status.in_(DisputeStatus.ACTIVE))
        .group_by(Dispute.customer_id, Dispute.currency)
    ):
        held, amounts = disputes.get(cid, (0, {}))
        amounts[currency] = Decimal(amount).quantize(CENT)
        disputes[cid] = (held + count, amounts)
    rates: dict[str, Decimal | None] = {}
    rows = []
    for case in cases:
        name, grade = names.get(case.customer_id, ("", ""))
        amounts = overdue.get(case.customer_id, {})
        since = oldest.get(case.customer_id)
        row = WorkRow(case, name, grade, amounts, None, (today - since).days if since else 0)
        total, missing = Decimal("0.00"), []
        for currency, amount in sorted(amounts.items()):
            if currency not in rates:
                try:
                    rates[currency] = rate_on(session, currency, today, base)
                except MissingRate:
                    rates[currency] = None
            rate = rates[currency]
            if rate is None:
                missing.append(currency)
            else:
                total += (amount * rate).quantize(CENT)
        if missing:
            row.missing_rate = _(
                "no %(currencies)s->%(base)s rate on or before %(day)s",
                currencies=", ".join(missing),
                base=base,
                day=today.isoformat(),
            )
        else:
            row.overdue_base = total
        row.promises = dict(promises.get(case.id, {}))
        row.disputes, row.disputed = disputes.get(case.customer_id, (0, {}))
        rows.append(row)
    return rows


def row_json(row: WorkRow) -> dict[str, Any]:
    return {
        "case_id": row.case.id,
        "customer_id": row.case.customer_id,
        "customer_name": row.customer_name,
        "status": row.case.status,
        "level": row.case.level,
        "grade": row.grade,
        "overdue": {currency: money_text(amount) for currency, amount in row.overdue.items()},
        "overdue_base": money_text(row.overdue_base),
        "missing_rate": row.missing_rate,
        "days_overdue": row.days_overdue,
        "score": money_text(row.score),
        "grade_factor": None if row.grade_factor is None else str(row.grade_factor),
        "next_action": row.next.text,
        "next_action_date": iso_text(row.next.on),
        "next_action_source": row.next.source,
        "last_contact": None if row.last_contact is None else contact_json(row.last_contact),
        "promises": row.promises,
        "disputes": row.disputes,
        "disputed": {currency: money_text(amount) for currency, amount in row.disputed.items()},
    }
