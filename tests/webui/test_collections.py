"""The collectors' worklist and contact log over the API: ranked by collection_priority.dmn, filtered by
the next action, and a promise recorded through the dunning instance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from workflows.credit.models import Customer
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def worklist(desk: Collections, user: str = "collector1", due: str = "today") -> dict[str, Any]:
    response = desk.client.get(f"/api/collections?due={due}", headers=auth(desk.tokens[user]))
    assert response.status_code == 200, response.json
    return dict(response.json)


def log(desk: Collections, case_id: int, user: str = "collector1", **body: Any) -> Any:
    return desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
    )


def test_a_logged_call_sets_the_next_action_and_a_promise_goes_through_the_instance(
    desk: Collections,
) -> None:
    customer = desk.customer("Ringback Ltd")
    desk.invoice(customer, "INV-C1", "1000.00")
    for _ in range(5):
        desk.tick()
    [row] = worklist(desk)["items"]
    case_id = row["case_id"]
    # No contact yet: the ladder's next step (level 2, 14 days after the due date 2026-03-02), still due today
    assert (row["customer_id"], row["overdue_base"], row["next_action_date"], row["next_action_source"]) == (
        customer,
        "1000.00",
        "2026-03-16",
        "ladder",
    )
    today = desk.clock.now.date()
    tomorrow = today + timedelta(days=1)
    first = log(
        desk,
        case_id,
        kind="call",
        outcome="no_answer",
        next_action="call again",
        next_action_date=tomorrow.isoformat(),
    )
    assert first.status_code == 201, first.json
    assert (first.json["actor"], first.json["next_action_date"]) == ("collector1", tomorrow.isoformat())
    assert worklist(desk)["items"] == []  # not due today any more
    [later] = worklist(desk, due="all")["items"]
    assert later["last_contact"]["id"] == first.json["id"] and later["next_action"] == "call again"
    promised = today + timedelta(days=10)
    second = log(
        desk,
        case_id,
        kind="call",
        outcome="promise",
        note="AP confirmed",
        promised_date=promised.isoformat(),
        promised_amount="1000.00",
    )
    assert second.status_code == 201, second.json
    assert second.json["next_action_date"] == promised.isoformat()
    case = desk.case(customer)
    assert case["status"] == "paused" and case["promised_date"] == promised.isoformat()
    [promise] = case["promises"]
    assert (promise["id"], promise["recorded_by"], promise["status"]) == (
        second.json["promise_id"],
        "collector1",
        "open",
    )
    contacts = desk.client.get(
        f"/api/dunning-cases/{case_id}/contacts", headers=auth(desk.tokens["manager1"])
    )
    assert [c["outcome"] for c in contacts.json["items"]] == ["promise", "no_answer"]


def set_grade(desk: Collections, customer_id: int, grade: str | None) -> None:
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.grade = grade


def break_a_promise(desk: Collections, case_id: int) -> None:
    """A promise judged broken on the case (as dunning.review leaves one)."""
    now = desk.clock.now
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        session.add(
            DunningPromise(
                case_id=case_id,
                promised_date=now.date(),
                amount=Decimal("100.00"),
                currency="EUR",
                overdue=Decimal("3000.00"),
                status=PromiseStatus.BROKEN,
                outside=[],
                recorded_by="collector1",
                recorded_at=now,
                received=Decimal("0.00"),
                judged_at=now,
            )
        )


def test_the_worklist_ranks_by_the_deployed_priority_table(desk: Collections) -> None:
    """score = amount overdue x days overdue x grade factor + broken promises x amount x 30
    (collection_priority.dmn: A 0.5, E 2.0, ungraded 1.5)."""
    safe = desk.customer("Safe Giant")
    risky = desk.customer("Risky Midsize")
    broken = desk.customer("Broken Promiser")
    desk.invoice(safe, "P-1", "10000.00")
    desk.invoice(risky, "P-2", "4000.00")
    desk.invoice(broken, "P-3", "3000.00")
    for _ in range(5):
        desk.tick()
    set_grade(desk, safe, "A")
    set_grade(desk, risky, "E")
    break_a_promise(desk, desk.case(broken)["id"])
    rows = worklist(desk, "manager1")["items"]
    assert [(r["customer_id"], r["days_overdue"], r["grade_factor"], r["score"]) for r in rows] == [
        (broken, 5, "1.5", "112500.00"),  # 3000 x 5 x 1.5 + 1 x 3000 x 30
        (risky, 5, "2.0", "40000.00"),  # 4000 x 5 x 2.0
        (safe, 5, "0.5", "25000.00"),  # 10000 x 5 x 0.5
    ]
    assert rows[0]["promises"] == {"broken": 1}
    page = desk.client.get("/api/collections?due=all&per_page=2", headers=auth(desk.tokens["collector1"]))
    assert [r["customer_id"] for r in page.json["items"]] == [broken, risky] and page.json["total"] == 3
    second = desk.client.get(
        "/api/collections?due=all&per_page=2&page=2", headers=auth(desk.tokens["collector1"])
    )
    assert [r["customer_id"] for r in second.json["items"]] == [safe]


def test_a_promise_outside_the_limits_waits_for_a_credit_manager(desk: Collections) -> None:
    customer = desk.customer("Far Future Ltd")
    desk.invoice(customer, "F-1", "2000.00")
    for _ in range(5):
        desk.tick()
    case_id = desk.case(customer)["id"]
    promised = desk.clock.now.date() + timedelta(days=60)  # grade C (ungraded) allows 30 days ahead
    logged = log(
        desk,
        case_id,
        kind="email",
        outcome="promise",
        promised_date=promised.isoformat(),
        promised_amount="2000.00",
    )
    assert logged.status_code == 201, logged.json
    case = desk.case(customer)
    [promise] = case["promises"]
    assert (promise["id"], promise["status"]) == (logged.json["promise_id"], "pending_approval")
    assert case["status"] == "open"  # dunning goes on until a credit manager approves
    [task] = [t for t in desk.open_tasks("manager1") if t["name"] == "approve_promise"]
    assert desk.complete("collector1", task["id"], decision="approve").status_code == 403
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    case = desk.case(customer)
    assert (case["status"], case["promises"][0]["decided_by"]) == ("paused", "manager1")
    # The case's next action is the promised date, approved or not.
    assert worklist(desk, due="all")["items"][0]["next_action_date"] == promised.isoformat()


def test_a_promise_made_on_the_level_3_call_completes_the_call_task(desk: Collections) -> None:
    customer = desk.customer("Callme Industries")
    desk.invoice(customer, "L3-1", "1500.00")
    for _ in range(40):
        desk.tick()
        if any(t["name"] == "call_customer" for t in desk.open_tasks("collector1")):
            break
    [task] = [t for t in desk.open_tasks("collector1") if t["name"] == "call_customer"]
    case_id = desk.case(customer)["id"]
    promised = desk.clock.now.date() + timedelta(days=7)
    logged = log(
        desk,
        case_id,
        kind="call",
        outcome="promise",
        promised_date=promised.isoformat(),
        promised_amount="1500.00",
    )
    assert logged.status_code == 201, logged.json
    assert not [t for t in desk.open_tasks("collector1") if t["id"] == task["id"]]
    case = desk.case(customer)
    assert (case["status"], case["promised_date"], case["level"]) == ("paused", promised.isoformat(), 3)


def test_the_pages_list_due_cases_and_log_a_contact_with_field_errors(desk: Collections, app: Flask) -> None:
    customer = desk.customer("Pagecase GmbH")
    desk.invoice(customer, "PG-1", "750.00")
    for _ in range(5):
        desk.tick()
    case_id = desk.case(customer)["id"]
    collector = logged_in(app, "collector1")
    listing = collector.get("/collections")
    assert listing.status_code == 200 and "Pagecase GmbH" in listing.text and "level 2" in listing.text
    assert 'href="/collections"' in listing.text  # the nav link
    token = csrf_token(collector)
    past = (desk.clock.now.date() - timedelta(days=1)).isoformat()
    bad = collector.post(
        f"/collections/{case_id}/contacts",
        data={"csrf_token": token, "kind": "call", "outcome": "reached", "next_action_date": past},
    )
    assert bad.status_code == 422 and "is in the past" in bad.text and 'id="err-next_action_date"' in bad.text
    tomorrow = (desk.clock.now.date() + timedelta(days=1)).isoformat()
    good = collector.post(
        f"/collections/{case_id}/contacts",
        data={
            "csrf_token": token,
            "kind": "letter",
            "outcome": "reached",
            "next_action": "check post",
            "next_action_date": tomorrow,
        },
    )
    assert good.status_code == 302 and good.headers["Location"].endswith("/collections")
    assert "Pagecase GmbH" not in collector.get("/collections").text
    assert "check post" in collector.get("/collections?due=all").text
    manager = logged_in(app, "manager1")
    case_page = manager.get(f"/collections/{case_id}")
    assert case_page.status_code == 200 and "check post" in case_page.text
    assert 'id="log-contact"' not in case_page.text  # credit managers read; collectors log
    assert logged_in(app, "sales1").get("/collections").status_code == 403
