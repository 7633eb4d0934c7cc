"""A book with known KPIs (issue 17, must-show 1): three months (January to March 2026), three currencies
(EUR base, GBP, CNY with stored rates), payments, a credit note, a write-off, credit applications decided
by every route, and promises to pay judged. The hand computations are in tests/credit/test_kpis.py."""

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
    ("GBP", date(2026, 2, 28)): "1.1500",
    ("GBP", date(2026, 3, 31)): "1.1000",
    ("CNY", date(2025, 1, 1)): "0.1300",
    ("CNY", date(2026, 3, 31)): "0.1250",
}
# number: (customer, amount, currency, issue date, due date)
INVOICES = {
    "D0": ("D", "2000.00", "EUR", date(2025, 10, 1), date(2025, 10, 31)),  # written off on 20 March
    "B0": ("B", "1000.00", "GBP", date(2025, 11, 15), date(2025, 12, 15)),
    "A1": ("A", "10000.00", "EUR", date(2026, 1, 10), date(2026, 2, 9)),  # paid on 8 February
    "B1": ("B", "5000.00", "GBP", date(2026, 1, 15), date(2026, 2, 14)),  # 2,000.00 paid on 15 March
    "C1": ("C", "100000.00", "CNY", date(2026, 1, 20), date(2026, 2, 19)),  # 60,000.00 paid on 25 February
    "A2": ("A", "6000.00", "EUR", date(2026, 2, 5), date(2026, 3, 7)),  # credit note 1,000.00 on 10 March
    "B2": ("B", "3000.00", "GBP", date(2026, 2, 20), date(2026, 3, 22)),
    "C2": ("C", "50000.00", "CNY", date(2026, 3, 5), date(2026, 4, 4)),
    "A3": ("A", "4000.00", "EUR", date(2026, 3, 25), date(2026, 4, 24)),
    **{f"X{k}": (f"X{k}", f"{k}00.00", "EUR", date(2026, 3, 10), date(2026, 4, 9)) for k in range(1, 10)},
}
CURRENCY = {"A": "EUR", "B": "GBP", "C": "CNY", "D": "EUR", **{f"X{k}": "EUR" for k in range(1, 10)}}


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_book(app: Flask) -> dict[str, int]:
    """Post the book; {customer letter: id}."""
    rt = app.extensions["creditflow"].rt
    ids = {
        name: migrated_customer(
            app,
            {
                "external_id": f"KPI-{name}",
                "name": f"KPI {name}",
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
        for number, (name, amount, currency, issued, due) in INVOICES.items():
            data = InvoiceInput(ids[name], number, Decimal(amount), currency, issued, due)
            post_invoice(session, data, actor="finance1", now=at(issued))
    payments = [("A", "10000.00", date(2026, 2, 8), "A1"), ("C", "60000.00", date(2026, 2, 25), "C1")]
    payments.append(("B", "2000.00", date(2026, 3, 15), "B1"))
    for name, amount, day, number in payments:
        with transaction(rt.factory) as session:
            paid = PaymentInput(ids[name], Decimal(amount), CURRENCY[name], day, number, f"REF-{number}")
            post_payment(session, paid, actor="finance1", now=at(day))
    with transaction(rt.factory) as session:
        credit_note(session, ids["A"], at(date(2026, 3, 10)))
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


def credit_note(session: Session, customer_id: int, now: datetime) -> None:
    """A dispute of 1,000.00 on A2, credited in full on 10 March."""
    data = DisputeInput(
        customer_id, (LineInput("A2", Decimal("1000.00"), "quality"),), roles.SALES, "damaged"
    )
    dispute = open_dispute(session, data, raised_by="collector1", now=now - timedelta(days=2))
    record_proposal(
        session,
        dispute,
        decision="accept",
        credit=Decimal("1000.00"),
        comment="agreed",
        by="sales1",
        now=now - timedelta(days=1),
        base_currency="EUR",
    )
    post_credit(session, dispute, approved_by=["manager1"], now=now)


# (started, [(deciding task, decision, completed, due)], completed) of credit applications; hours in the test.
APPLICATIONS = [
    (at(date(2026, 3, 2), 9), [], at(date(2026, 3, 2), 9, 30)),  # auto (grade E): 0.5 h
    (  # analyst: 30 h, in time
        at(date(2026, 3, 3), 9),
        [("review_application", "approve", at(date(2026, 3, 4), 15), at(date(2026, 3, 5), 9))],
        at(date(2026, 3, 4), 15),
    ),
    (  # manager: 120 h, the manager late
        at(date(2026, 3, 9), 8),
        [
            ("review_application", "approve", at(date(2026, 3, 10), 8), at(date(2026, 3, 11), 8)),
            ("manager_approval", "approve", at(date(2026, 3, 14), 8), at(date(2026, 3, 12), 8)),
        ],
        at(date(2026, 3, 14), 8),
    ),
    (  # CFO: 60 h, in time
        at(date(2026, 3, 16), 10),
        [
            ("review_application", "approve", at(date(2026, 3, 16), 14), at(date(2026, 3, 18), 10)),
            ("manager_approval", "approve", at(date(2026, 3, 17), 10), at(date(2026, 3, 18), 14)),
            ("cfo_approval", "reject", at(date(2026, 3, 18), 22), at(date(2026, 3, 19), 10)),
        ],
        at(date(2026, 3, 18), 22),
    ),
    (  # analyst, started in February: 102 h, the review late
        at(date(2026, 2, 25), 10),
        [
            ("review_application", "request_info", at(date(2026, 2, 26), 10), at(date(2026, 2, 27), 10)),
            ("review_application", "reject", at(date(2026, 3, 1), 16), at(date(2026, 3, 1), 10)),
        ],
        at(date(2026, 3, 1), 16),
    ),
    (  # withdrawn: the information never came, so never decided
        at(date(2026, 3, 2), 10),
        [("review_application", "request_info", at(date(2026, 3, 3), 10), at(date(2026, 3, 4), 10))],
        at(date(2026, 3, 17), 10),
    ),
    (  # still running: not decided
        at(date(2026, 3, 30), 10),
        [],
        None,
    ),
    (  # decided in February: 2 h
        at(date(2026, 2, 10), 9),
        [("review_application", "approve", at(date(2026, 2, 10), 11), at(date(2026, 2, 12), 9))],
        at(date(2026, 2, 10), 11),
    ),
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
            business_key=f"kpi-{n}",
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
                    spiff_task_id=f"kpi-{n}-{i}",
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


# (status, judged on) of promises to pay
PROMISES = [
    (PromiseStatus.KEPT, date(2026, 2, 20)),
    (PromiseStatus.KEPT, date(2026, 3, 5)),
    (PromiseStatus.KEPT, date(2026, 3, 12)),
    (PromiseStatus.KEPT, date(2026, 3, 20)),
    (PromiseStatus.PARTLY_KEPT, date(2026, 3, 25)),
    (PromiseStatus.BROKEN, date(2026, 3, 31)),
    (PromiseStatus.REPLACED, date(2026, 3, 15)),  # not judged: out of the rate
]


def promises(session: Session, customer_id: int) -> None:
    case = DunningCase(customer_id=customer_id, currency="GBP", opened_at=at(date(2026, 2, 1)))
    session.add(case)
    session.flush()
    for status, day in PROMISES:
        session.add(
            DunningPromise(
                case_id=case.id,
                promised_date=day - timedelta(days=3),
                amount=Decimal("100.00"),
                currency="GBP",
                overdue=Decimal("100.00"),
                status=status,
                outside=[],
                recorded_by="collector1",
                recorded_at=at(day - timedelta(days=10)),
                received=Decimal("0.00"),
                judged_at=at(day, 23, 59),
            )
        )


# (customer, first level-1 notice, closed on, outcome) of dunning cases: their 30 days end in March.
CASES = [
    ("A", date(2026, 2, 10), date(2026, 2, 25), "paid"),  # paid in 15 days
    ("C", date(2026, 2, 15), date(2026, 3, 20), "paid"),  # paid, but in 33 days
    ("D", date(2026, 2, 20), None, None),  # still open (went to legal)
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
