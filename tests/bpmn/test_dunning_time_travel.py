"""Dunning in a simulated-clock environment: ticks move one clock, and every action happens at its time.

The walked dates lie years past the wall clock, so anything still acting on the wall clock would find
nothing overdue: the bug of issue 13 (a promise recorded "today" closed the case as paid, the next
day's run opened a second case and the first reminder went out twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.collections_desk import Collections
from tests.conftest import SteppingClock
from tests.helpers import auth
from tests.smtp import RecordingSink
from webui import create_app
from workflows.clock import utcnow
from workflows.settings import Settings

pytestmark = pytest.mark.usefixtures("shipped")

START = datetime.combine(date(utcnow().year + 5, 3, 2), time(9), tzinfo=UTC)
DUE = START.date()


@pytest.fixture
def walker(
    settings: Settings, demo_tokens: dict[str, str], smtp_sink: RecordingSink
) -> Iterator[Collections]:
    """A collections desk on an app in simulated-clock mode: the desk's ticks move the stored clock,
    and the app reads "now" from it (no clock is handed to the app)."""
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield Collections(app, app.test_client(), demo_tokens, SteppingClock(START), smtp_sink)
    app.extensions["creditflow"].engine.dispose()


def on(day: int) -> date:
    return DUE + timedelta(days=day)


def at_day(value: str) -> date:
    return datetime.fromisoformat(value).date()


def promise(desk: Collections, customer: int, promised: date, amount: str) -> Any:
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": promised.isoformat(), "amount": amount},
    }
    return desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))


def all_cases(client: FlaskClient, token: str, customer: int) -> list[dict[str, Any]]:
    found = client.get(f"/api/dunning-cases?customer_id={customer}", headers=auth(token))
    return list(found.json["items"])


def notices(desk: Collections, address: str) -> list[tuple[str, date]]:
    """(kind of notice, the day in its Date header) of each e-mail the customer received."""
    return [
        (m["Subject"].split(":")[0], parsedate_to_datetime(m["Date"]).date())
        for m in desk.notices_to(address)
    ]


def test_a_promise_after_walking_30_days_pauses_the_case_instead_of_closing_it(walker: Collections) -> None:
    customer = walker.customer("Later Ltd")
    walker.invoice(customer, "INV-L1", "900.00", due=DUE)
    walker.tick(days=30)  # one tick, 30 days ahead: the run opens the case and it sends the reminder
    assert notices(walker, "ap@later.example") == [("Payment reminder", on(30))]
    reached = promise(walker, customer, on(45), "900.00")
    assert len(reached.json["delivered_to"]) == 1, reached.json
    case = walker.case(customer)
    assert case["status"] == "paused" and case["outcome"] is None
    promised = next(e for e in case["history"] if e["kind"] == "promise_to_pay")
    assert at_day(promised["at"]) == on(30)  # the message happened at the walked time, not the wall clock's
    for _ in range(5):
        walker.tick()
    [only] = all_cases(walker.client, walker.tokens["collector1"], customer)
    assert only["id"] == case["id"] and only["status"] == "paused"
    assert notices(walker, "ap@later.example") == [("Payment reminder", on(30))]


def test_a_case_walked_120_days_takes_a_payment_a_promise_and_a_call_at_the_walked_dates(
    walker: Collections,
) -> None:
    """Must-show 5 of issue 13: tick by tick, through the REST API as the demo users."""
    customer = walker.customer("Walker Wholesale")
    walker.invoice(customer, "INV-W1", "1200.00", due=DUE)
    walker.invoice(customer, "INV-W2", "800.00", due=DUE)
    address = "ap@walker.example"
    called = False
    for day in range(1, 121):
        walker.tick()
        assert walker.clock.now.date() == on(day)
        if day == 6:  # the customer pays the first invoice
            paid = walker.pay(customer, "1200.00", "BANK-W1")
            assert paid.status_code == 201 and len(paid.json["delivered_to"]) == 1, paid.json
        if day == 8:  # ... and promises the rest for day 18
            assert len(promise(walker, customer, on(18), "800.00").json["delivered_to"]) == 1
            assert walker.case(customer)["status"] == "paused"
        if 9 <= day <= 21:  # the promise (and its 3 days of grace) holds every notice back
            assert walker.case(customer)["status"] == "paused", day
            assert len(notices(walker, address)) == 1, day
        for task in walker.open_tasks("collector1"):
            assert task["name"] == "call_customer" and not called
            done = walker.complete(
                "collector1",
                task["id"],
                outcome="promised",
                promised_date=on(40).isoformat(),
                promised_amount="800.00",
                comment="pays on day 40",
            )
            assert done.status_code == 200, done.json
            called = True
        if day == 40:  # the promise is kept
            paid = walker.pay(customer, "800.00", "BANK-W2")
            assert paid.status_code == 201 and len(paid.json["delivered_to"]) == 1, paid.json
    # Every notice reached the customer once, dated on the walked day it was sent.
    assert notices(walker, address) == [
        ("Payment reminder", on(3)),  # level 1 of the ungraded ladder: the case opens that day
        ("Second reminder", on(22)),  # the day after the broken promise's grace ran out
        ("Final demand", on(27)),  # five days after the second reminder
    ]
    assert len({m["Message-ID"] for m in walker.notices_to(address)}) == 3
    [case] = all_cases(walker.client, walker.tokens["collector1"], customer)  # one case in 120 days
    assert (case["status"], case["outcome"]) == ("closed", "paid")
    events = [(e["kind"], at_day(e["at"])) for e in case["history"]]
    assert ("promise_to_pay", on(8)) in events
    assert ("promise_broken", on(22)) in events
    assert ("promise_to_pay", on(27)) in events  # the collector's call, completed on the day it was due
    assert ("closed", on(40)) in events
    health = walker.client.get("/api/health").json
    assert health["clock"] == {"mode": "simulated", "now": (START + timedelta(days=120)).isoformat()}


def test_a_case_whose_invoices_are_credited_closes_as_no_longer_overdue_not_paid(desk: Collections) -> None:
    customer = desk.customer("Credited Goods")
    desk.invoice(customer, "INV-C1", "500.00")
    for _ in range(5):
        desk.tick()
    lines = [{"number": "INV-C1", "amount": "500.00", "reason": "delivery"}]
    message = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {"invoices": lines, "owner_group": "sales", "description": "never delivered"},
    }
    assert desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"])).json[
        "delivered_to"
    ]
    # The whole overdue amount is held by the dispute: nothing is left to dun, so the case closes.
    case = desk.case(customer)
    assert (case["status"], case["outcome"]) == ("closed", "no_longer_overdue")
    closed = next(e for e in case["history"] if e["kind"] == "closed")
    assert closed["detail"]["outcome"] == "no_longer_overdue"
    desk.tick(days=0)
    [task] = desk.open_tasks("sales1")
    assert desk.complete("sales1", task["id"], decision="accept", credit_amount="500.00").status_code == 200
    [approval] = desk.open_tasks("lead1")
    assert desk.complete("lead1", approval["id"], decision="approve", comment="ok").status_code == 200
    for _ in range(3):
        desk.tick()
    cases = desk.client.get(
        f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
    )
    assert len(cases.json["items"]) == 1  # credited in full: never dunned again


def test_a_case_opened_with_nothing_overdue_closes_as_no_longer_overdue_not_paid(desk: Collections) -> None:
    customer = desk.customer("Never Late Ltd")
    desk.invoice(customer, "INV-N1", "300.00", due=desk.clock.now.date() + timedelta(days=30))
    start = {"process_key": "dunning", "data": {"customer_id": customer}}
    started = desk.client.post("/api/process-instances", json=start, headers=auth(desk.tokens["admin"]))
    assert started.status_code == 201, started.json
    case = desk.case(customer)
    assert (case["status"], case["outcome"]) == ("closed", "no_longer_overdue")
