"""The watchlist hears the events its indicators read, without the daily run (issue 17: "evaluated daily and
on events"): an invoice posted or a limit changed (utilisation >= 90 %), a payment posted late by a grade A/B
customer (first late payment), a dispute opened (dispute rate). Each flags the customer in the posting's own
transaction (flag_customer's savepoint, as a broken promise does), and the entry clears on a later event
once the indicator stops firing, the cleared entry kept as history. A failing evaluation never loses the
posting."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.limit_decision import ApplyLimitRequest, apply_limit
from tests.bpmn.test_dispute_resolution import raise_dispute
from tests.collections_desk import Collections
from tests.credit.test_watchlist import Book, runtime
from tests.helpers import auth, running_instance
from workflows.credit import watchlist
from workflows.credit.models import Customer, Invoice
from workflows.credit.watchlist import WatchlistEntry
from workflows.engine.service_tasks import TaskContext
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")

TODAY = date(2026, 3, 2)  # the desk's clock


def book(desk: Collections, **customer: Any) -> int:
    """Twelve customers of 10,000.00 issued in the dispute window (nobody holds 10 % of the book, and the
    book's normal dispute rate is 0), and the customer under test."""
    with transaction(runtime(desk.client.application).factory) as session:
        b = Book(session, n=1000)
        for i in range(12):
            b.invoice(b.customer(f"filler{i}"), "10000.00", issued=TODAY - timedelta(days=20))
        return b.customer("watched", **customer)


def entries(desk: Collections, customer: int) -> list[WatchlistEntry]:
    with runtime(desk.client.application).factory() as session:
        found = session.scalars(
            select(WatchlistEntry).where(WatchlistEntry.customer_id == customer).order_by(WatchlistEntry.id)
        )
        return list(found)


def fired(entry: WatchlistEntry) -> set[str]:
    return {i["indicator"] for i in entry.indicators}


def post_invoice(desk: Collections, customer: int, number: str, amount: str, **dates: str) -> Any:
    today = desk.clock.now.date()
    body = {
        "customer_id": customer,
        "number": number,
        "amount": amount,
        "currency": "EUR",
        "issue_date": dates.get("issue_date", today.isoformat()),
        "due_date": dates.get("due_date", (today + timedelta(days=30)).isoformat()),
    }
    posted = desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"]))
    assert posted.status_code == 201, posted.json
    return posted.json


def test_an_invoice_posted_flags_utilisation_and_a_payment_clears_it(desk: Collections) -> None:
    customer = book(desk, limit="1000.00")
    post_invoice(desk, customer, "U-1", "899.00")  # 89.9 %: not yet
    assert entries(desk, customer) == []
    post_invoice(desk, customer, "U-2", "1.00")  # 90.0 %
    [entry] = entries(desk, customer)
    assert fired(entry) == {"utilisation"} and entry.cleared_at is None
    assert entry.indicators[0]["measure"] == "90.0"
    assert desk.pay(customer, "100.00", "PAY-U1").status_code == 201  # 80.0 %: stops firing
    [entry] = entries(desk, customer)
    assert entry.cleared_at is not None  # cleared, kept as history
    with runtime(desk.client.application).factory() as session:
        events = [
            e
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "watchlist_evaluated"))
            if e.detail.get("customer_ids") == [customer]
        ]
    assert [(e.actor, e.detail["after"]["opened"], e.detail["after"]["cleared"]) for e in events] == [
        ("finance1", 1, 0),
        ("finance1", 0, 1),
    ]


def test_a_limit_changed_flags_utilisation_and_a_raise_clears_it(desk: Collections) -> None:
    customer = book(desk, limit="1000.00")
    post_invoice(desk, customer, "L-1", "500.00")  # 50 %
    assert entries(desk, customer) == []
    app = desk.client.application
    rt = runtime(app)

    def change(limit: str) -> None:
        with transaction(rt.factory) as session:
            instance = running_instance(
                session,
                desk.clock.now,
                process_key=f"limit_change_{limit.replace('.', '_')}",
                started_by="analyst1",
                start_groups=["credit_analyst"],
            )
            ctx = TaskContext(
                session=session,
                now=desk.clock.now,
                instance_id=instance.id,
                process_key=instance.process_key,
                business_key=str(customer),
                bpmn_id="apply_limit",
                task_key=f"apply-{limit}",
                started_by="analyst1",
                settings=rt.settings,
            )
            apply_limit(ctx, ApplyLimitRequest(customer, Decimal(limit), "review:scheduled", 12))

    change("540.00")  # 500 / 540 = 92.5 %
    [entry] = entries(desk, customer)
    assert fired(entry) == {"utilisation"} and entry.indicators[0]["measure"] == "92.5"
    change("800.00")  # 62.5 %
    [entry] = entries(desk, customer)
    assert entry.cleared_at is not None


def test_a_late_payment_of_a_grade_a_customer_flags_it_and_the_entry_clears_after_30_days(
    desk: Collections,
) -> None:
    customer = book(desk, grade="A")
    due = TODAY - timedelta(days=5)
    with transaction(runtime(desk.client.application).factory) as session:  # in the book, no event heard
        Book(session, n=2000).invoice(customer, "700.00", due=due, issued=TODAY - timedelta(days=35))
    assert entries(desk, customer) == []  # late since yesterday, but the daily run has not looked yet
    assert desk.pay(customer, "700.00", "PAY-A1").status_code == 201  # paid 5 days late
    [entry] = entries(desk, customer)
    assert fired(entry) == {"first_late_payment"} and entry.action == "call"
    desk.clock.advance(days=40)  # the table looks 30 days back: the next event finds it no longer fires
    post_invoice(desk, customer, "A-2", "100.00")
    [entry] = entries(desk, customer)
    assert entry.cleared_at is not None


def test_a_dispute_opened_flags_the_dispute_rate_and_more_undisputed_invoices_clear_it(
    desk: Collections,
) -> None:
    customer = book(desk)
    for n in range(3):
        post_invoice(desk, customer, f"D-{n}", "100.00")
    assert entries(desk, customer) == []
    started = raise_dispute(desk, desk.tokens["collector1"], customer, ("D-0", "50.00", "price"))
    assert started.status_code == 201, started.json
    [entry] = entries(desk, customer)
    # 1 of its 3 invoices in the window, 33.3 %; the book's normal rate 1 of 15 = 6.6 %: above twice that
    assert fired(entry) == {"dispute_rate"} and entry.indicators[0]["measure"] == "33.3"
    # Fires while its rate is at least 5 % and above twice the book's (both rounded down to 0.1 %):
    for n in range(3, 12):  # 1 of 12: 8.3 %; the book 1 of 24 = 4.1 %, twice that 8.2 %: still fires
        post_invoice(desk, customer, f"D-{n}", "100.00")
    assert entries(desk, customer)[0].cleared_at is None
    post_invoice(desk, customer, "D-12", "100.00")  # 1 of 13: 7.6 %; the book 1 of 25 = 4.0 %: clears
    [entry] = entries(desk, customer)
    assert entry.cleared_at is not None


def test_a_failing_evaluation_never_loses_the_posting(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = book(desk, limit="100.00")

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ZeroDivisionError("a rule that fails")

    monkeypatch.setattr(watchlist, "evaluate_watchlist", broken)
    post_invoice(desk, customer, "F-1", "500.00")  # 500 %: it would be flagged
    assert desk.pay(customer, "10.00", "PAY-F1").status_code == 201
    with runtime(desk.client.application).factory() as session:
        assert session.scalar(select(func.count()).where(Invoice.customer_id == customer)) == 1
        assert session.get(Customer, customer) is not None
    assert entries(desk, customer) == []
