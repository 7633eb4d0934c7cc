"""A book whose KPIs are computed by hand in tests/credit/test_kpis_by_hand.py (issue 17, must-show 1).

Built so that a plausible wrong formula gives another figure in each of January, February and March 2026:
current AR differs from credit sales every month (an invoice with long terms issued the month before, an
invoice issued in the month and already overdue, one partly paid or credited in its own month), AR at the
start of each period is not zero and, converted at the period end's rates, differs from the previous
period's reported AR (GBP and CNY rates move at every month end, and a rate stored mid-month and one after
the last month end must not be used), an invoice is exactly 90 days past due at one end (not over 90) and 121
at the next, one is due on the period end itself (current), one is issued on the last day of March and one
on 1 April (in no period), there are partial payments, credit notes in February and March, a write-off in
March, 14 customers with AR at every end with the tenth and eleventh swapping places when GBP moves, decided
credit applications whose median is not their mean and whose start and decision fall in different months,
and promises partly kept (not kept in full) and replaced (not judged)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.helpers import migrated_customer
from workflows.credit import roles
from workflows.credit.credit_notes import post_credit
from workflows.credit.disputes import DisputeInput, LineInput, open_dispute, record_proposal
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.models import DunningCase, DunningEvent
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.credit.write_off_posting import post_request
from workflows.credit.write_offs import UNCOLLECTABLE, Proposal, open_request
from workflows.store.db import transaction
from workflows.store.models import InboxItem, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus

RATES = {  # units of EUR per unit, from the day on
    ("GBP", date(2025, 1, 1)): "1.2000",
    ("GBP", date(2026, 1, 15)): "1.1800",  # mid-January: no period end uses it
    ("GBP", date(2026, 1, 31)): "1.1600",
    ("GBP", date(2026, 2, 28)): "1.1500",
    ("GBP", date(2026, 3, 31)): "1.1000",
    ("GBP", date(2026, 4, 1)): "1.0000",  # after March: not March's
    ("CNY", date(2025, 1, 1)): "0.1300",
    ("CNY", date(2026, 1, 31)): "0.1280",  # also February's: the latest on or before 28 February
    ("CNY", date(2026, 3, 31)): "0.1250",
    ("CNY", date(2026, 4, 1)): "0.1000",
}
CURRENCY = {
    "A": "EUR",
    "B": "GBP",
    "C": "CNY",
    "D": "EUR",
    "E": "GBP",
    "F": "EUR",
    **{f"S{k}": "EUR" for k in range(1, 10)},
}
# number: (customer, amount, issue date, due date); the currency is the customer's
INVOICES = {
    "D0": ("D", "2000.00", date(2025, 10, 1), date(2025, 10, 31)),  # written off on 20 March
    "B0": ("B", "1000.00", date(2025, 10, 31), date(2025, 11, 30)),  # 90 days past due on 28 Feb
    "L0": ("A", "3000.00", date(2025, 12, 10), date(2026, 2, 28)),  # long terms; paid 5 March
    **{f"S{k}": (f"S{k}", f"{k}00.00", date(2025, 12, 15), date(2026, 1, 14)) for k in range(1, 10)},
    "E0": ("E", "360.00", date(2025, 12, 20), date(2026, 1, 19)),
    "A4": ("A", "1500.00", date(2026, 1, 2), date(2026, 1, 16)),  # 500.00 paid 28 January
    "A1": ("A", "10000.00", date(2026, 1, 10), date(2026, 2, 9)),  # paid 8 February
    "B1": ("B", "5000.00", date(2026, 1, 15), date(2026, 2, 14)),  # 2,000.00 paid 15 March
    "C1": ("C", "100000.00", date(2026, 1, 20), date(2026, 2, 19)),  # 60,000.00 paid 25 February
    "C3": ("C", "20000.00", date(2026, 2, 3), date(2026, 2, 13)),
    "A2": ("A", "6000.00", date(2026, 2, 5), date(2026, 3, 7)),  # credit note 1,000.00 on 10 March
    "A5": ("A", "800.00", date(2026, 2, 10), date(2026, 2, 20)),  # credited in full on 26 February
    "B2": ("B", "3000.00", date(2026, 2, 20), date(2026, 3, 22)),
    "F1": ("F", "5000.00", date(2026, 3, 2), date(2026, 3, 16)),  # 1,200.00 paid 30 March
    "C2": ("C", "50000.00", date(2026, 3, 5), date(2026, 4, 4)),
    "A3": ("A", "4000.00", date(2026, 3, 25), date(2026, 4, 24)),
    "B3": ("B", "400.00", date(2026, 3, 31), date(2026, 3, 31)),  # issued and due on the last day
    "Z1": ("A", "700.00", date(2026, 4, 1), date(2026, 5, 1)),  # after March
}
# (customer, amount, value date, invoice)
PAYMENTS = [
    ("A", "500.00", date(2026, 1, 28), "A4"),
    ("A", "10000.00", date(2026, 2, 8), "A1"),
    ("C", "60000.00", date(2026, 2, 25), "C1"),
    ("A", "3000.00", date(2026, 3, 5), "L0"),
    ("B", "2000.00", date(2026, 3, 15), "B1"),
    ("F", "1200.00", date(2026, 3, 30), "F1"),
]
# (invoice, amount credited, posted on, days its dispute was open before)
CREDIT_NOTES = [("A5", "800.00", date(2026, 2, 26), 5), ("A2", "1000.00", date(2026, 3, 10), 2)]
# (invoice, amount, reason, opened on) of a dispute still open: it changes no receivable
OPEN_DISPUTES = [("B2", "500.00", "price", date(2026, 3, 25))]


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_book(app: Flask) -> dict[str, int]:
    """Post the book; {customer: id}."""
    rt = app.extensions["creditflow"].rt
    ids = {
        name: migrated_customer(
            app,
            {
                "external_id": f"HAND-{name}",
                "name": f"Hand {name}",
                "currency": currency,
                "email": "ap@x.example",
            },
        )
        for name, currency in CURRENCY.items()
    }
    with transaction(rt.factory) as session:
        for (currency, day), rate in RATES.items():
            store_rate(
                session, RateInput(currency, day, Decimal(rate), "test"), actor="finance1", now=at(day)
            )
        for number, (name, amount, issued, due) in INVOICES.items():
            data = InvoiceInput(ids[name], number, Decimal(amount), CURRENCY[name], issued, due)
            post_invoice(session, data, actor="finance1", now=at(issued))
    for name, amount, day, number in PAYMENTS:
        with transaction(rt.factory) as session:
            paid = PaymentInput(ids[name], Decimal(amount), CURRENCY[name], day, number, f"REF-{number}")
            post_payment(session, paid, actor="finance1", now=at(day))
    for number, amount, day, days_open in CREDIT_NOTES:
        with transaction(rt.factory) as session:
            credit_note(session, ids[INVOICES[number][0]], number, Decimal(amount), at(day), days_open)
    for number, amount, reason, day in OPEN_DISPUTES:
        with transaction(rt.factory) as session:
            lines = (LineInput(number, Decimal(amount), reason),)
            data = DisputeInput(ids[INVOICES[number][0]], lines, roles.SALES, "price agreed lower")
            open_dispute(session, data, raised_by="collector1", now=at(day))
    with transaction(rt.factory) as session:
        proposal = Proposal(ids["D"], UNCOLLECTABLE, Decimal("0.00"), Decimal("0.00"), "insolvent")
        request = open_request(
            session, proposal, requested_by="legal1", instance_id=None, now=at(date(2026, 3, 18))
        )
        post_request(session, request, approvers=["manager1"], actor="manager1", now=at(date(2026, 3, 20)))
    with transaction(rt.factory) as session:
        applications(session)
        promises(session, ids["B"])
        dunning_cases(session, ids)
    return ids


def credit_note(
    session: Session, customer_id: int, number: str, amount: Decimal, now: datetime, days_open: int
) -> None:
    """A dispute of `amount` on one invoice, opened `days_open` days before `now`, credited in full then."""
    data = DisputeInput(customer_id, (LineInput(number, amount, "quality"),), roles.SALES, "damaged")
    dispute = open_dispute(session, data, raised_by="collector1", now=now - timedelta(days=days_open))
    record_proposal(
        session,
        dispute,
        decision="accept",
        credit=amount,
        comment="agreed",
        by="sales1",
        now=now - timedelta(days=1),
        base_currency="EUR",
    )
    post_credit(session, dispute, approved_by=["manager1"], now=now)


def _review(done: datetime, decision: str = "approve") -> tuple[str, str, datetime, datetime]:
    return ("review_application", decision, done, done + timedelta(days=1))


# (started, [(deciding task, decision, completed, due)], completed) of credit applications
APPLICATIONS = [
    # January: 1, 3, 9 and 50 hours
    (at(date(2026, 1, 5), 9), [_review(at(date(2026, 1, 5), 10))], at(date(2026, 1, 5), 10)),
    (at(date(2026, 1, 6), 9), [_review(at(date(2026, 1, 6), 12))], at(date(2026, 1, 6), 12)),
    (at(date(2026, 1, 7), 9), [_review(at(date(2026, 1, 7), 18), "reject")], at(date(2026, 1, 7), 18)),
    (  # late: due 48 hours after the start
        at(date(2026, 1, 12), 10),
        [("review_application", "approve", at(date(2026, 1, 14), 12), at(date(2026, 1, 14), 10))],
        at(date(2026, 1, 14), 12),
    ),
    # February: 72 hours (started in January), 2 and 5 hours
    (at(date(2026, 1, 30), 10), [_review(at(date(2026, 2, 2), 10))], at(date(2026, 2, 2), 10)),
    (at(date(2026, 2, 10), 9), [_review(at(date(2026, 2, 10), 11))], at(date(2026, 2, 10), 11)),
    (at(date(2026, 2, 11), 9), [_review(at(date(2026, 2, 11), 14))], at(date(2026, 2, 11), 14)),
    # March: 0.5 (automatic), 30, 120 (manager), 60 (CFO) and 102 hours (started in February)
    (at(date(2026, 3, 2), 9), [], at(date(2026, 3, 2), 9, 30)),
    (at(date(2026, 3, 3), 9), [_review(at(date(2026, 3, 4), 15))], at(date(2026, 3, 4), 15)),
    (
        at(date(2026, 3, 9), 8),
        [
            _review(at(date(2026, 3, 10), 8)),
            ("manager_approval", "approve", at(date(2026, 3, 14), 8), at(date(2026, 3, 12), 8)),
        ],
        at(date(2026, 3, 14), 8),
    ),
    (
        at(date(2026, 3, 16), 10),
        [
            _review(at(date(2026, 3, 16), 14)),
            ("manager_approval", "approve", at(date(2026, 3, 17), 10), at(date(2026, 3, 18), 14)),
            ("cfo_approval", "reject", at(date(2026, 3, 18), 22), at(date(2026, 3, 19), 10)),
        ],
        at(date(2026, 3, 18), 22),
    ),
    (
        at(date(2026, 2, 25), 10),
        [_review(at(date(2026, 2, 26), 10), "request_info"), _review(at(date(2026, 3, 1), 16), "reject")],
        at(date(2026, 3, 1), 16),
    ),
    # withdrawn in March (the information never came) and one still running: not decided
    (
        at(date(2026, 3, 2), 10),
        [_review(at(date(2026, 3, 3), 10), "request_info")],
        at(date(2026, 3, 17), 10),
    ),
    (at(date(2026, 3, 30), 10), [], None),
]


def applications(session: Session) -> None:
    definition = session.scalar(
        select(ProcessDefinition.id).where(ProcessDefinition.process_key == roles.CREDIT_APPLICATION).limit(1)
    )
    assert definition is not None
    for n, (started, tasks, completed) in enumerate(APPLICATIONS):
        instance = ProcessInstance(
            definition_id=definition,
            process_key=roles.CREDIT_APPLICATION,
            version=1,
            business_key=f"hand-{n}",
            status=InstanceStatus.RUNNING if completed is None else InstanceStatus.COMPLETED,
            state="{}",
            data={},
            started_by="sales1",
            started_at=started,
            updated_at=completed or started,
            completed_at=completed,
        )
        session.add(instance)
        session.flush()
        for i, (bpmn_id, decision, done, due) in enumerate(tasks):
            session.add(
                InboxItem(
                    instance_id=instance.id,
                    spiff_task_id=f"hand-{n}-{i}",
                    process_key=roles.CREDIT_APPLICATION,
                    bpmn_id=bpmn_id,
                    title=bpmn_id,
                    candidate_groups=[],
                    form_schema={},
                    four_eyes=[],
                    context={},
                    status=TaskStatus.COMPLETED,
                    due_at=due,
                    created_at=started,
                    completed_by="analyst1",
                    completed_at=done,
                    decision=decision,
                )
            )


K, P, X, R = PromiseStatus.KEPT, PromiseStatus.PARTLY_KEPT, PromiseStatus.BROKEN, PromiseStatus.REPLACED
# (status, judged at) of promises to pay
PROMISES = [
    (K, at(date(2026, 1, 10))),
    (P, at(date(2026, 1, 20))),
    (X, at(date(2026, 1, 31), 23, 59)),  # January's last minute
    (R, at(date(2026, 1, 25))),  # replaced: not judged
    (K, at(date(2026, 2, 1), 0, 1)),  # February's first minute
    (K, at(date(2026, 2, 12))),
    (K, at(date(2026, 2, 28), 23, 59)),
    (X, at(date(2026, 2, 20))),
    (K, at(date(2026, 3, 5))),
    (K, at(date(2026, 3, 12))),
    (P, at(date(2026, 3, 25))),
    (X, at(date(2026, 3, 31), 23, 59)),
    (K, at(date(2026, 4, 1), 0, 1)),  # April: in no period
]


def promises(session: Session, customer_id: int) -> None:
    case = DunningCase(customer_id=customer_id, currency="GBP", opened_at=at(date(2026, 1, 1)))
    session.add(case)
    session.flush()
    for status, judged in PROMISES:
        session.add(
            DunningPromise(
                case_id=case.id,
                promised_date=judged.date() - timedelta(days=3),
                amount=Decimal("100.00"),
                currency="GBP",
                overdue=Decimal("100.00"),
                status=status,
                outside=[],
                recorded_by="collector1",
                recorded_at=judged - timedelta(days=10),
                received=Decimal("0.00"),
                judged_at=judged,
            )
        )


# (customer, first level-1 notice, closed on, outcome) of dunning cases, by the month their 30 days end in
CASES = [
    ("D", date(2025, 12, 20), None, None),  # January: still open
    ("C", date(2026, 1, 5), date(2026, 1, 20), "paid"),  # February: paid in 15 days
    ("E", date(2026, 1, 10), date(2026, 2, 12), "paid"),  # February: paid, but in 33 days
    ("A", date(2026, 2, 10), date(2026, 2, 25), "paid"),  # March: paid in 15 days
    ("F", date(2026, 3, 1), date(2026, 3, 20), "paid"),  # March: paid in 19 days
    ("S9", date(2026, 2, 20), None, None),  # March: still open
]


def dunning_cases(session: Session, ids: dict[str, int]) -> None:
    for name, noticed, closed, outcome in CASES:
        case = DunningCase(
            customer_id=ids[name],
            currency=CURRENCY[name],
            opened_at=at(noticed - timedelta(days=1)),
            status="open" if closed is None else "closed",
            level=1,
            closed_at=None if closed is None else at(closed),
            outcome=outcome,
        )
        session.add(case)
        session.flush()
        for level, day in ((1, noticed), (2, noticed + timedelta(days=14))):
            session.add(
                DunningEvent(
                    case_id=case.id, kind="notice_sent", level=level, detail={}, actor="system", at=at(day)
                )
            )
