"""Dunning policy a credit manager would sign (issue 15): the ladder follows the grade the customer has now,
level 1 is never swallowed by a grace period, letters name the ladder's dates, fees and interest, and
promises to pay are held to the limits of dunning_policy.dmn and judged by the amount received."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from handlers.dunning import ReviewRequest, review_case
from tests.collections_desk import DUE, Collections
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.batch.regrade import tell_regraded_cases
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.credit.models import Customer
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")


def on(day: int) -> date:
    return DUE + timedelta(days=day)


def grade(desk: Collections, customer: int, value: str) -> None:
    """What a limit review's `credit.record_score` writes when it regrades the customer."""
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        row = session.get(Customer, customer)
        assert row is not None
        row.grade = value


def sent(desk: Collections, customer: int) -> list[date]:
    history = desk.case(customer)["history"]
    return [datetime.fromisoformat(e["at"]).date() for e in history if e["kind"] == "notice_sent"]


def promise(desk: Collections, customer: int, promised: date, amount: str, by: str = "collector1") -> Any:
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": promised.isoformat(), "amount": amount},
    }
    return desk.client.post("/api/messages", json=message, headers=auth(desk.tokens[by]))


def text_of(message: Any) -> str:
    """The notice's words, without markup and line breaks (the mail goes out as an HTML document)."""
    body = str(message.get_body(preferencelist=("plain",)).get_content())
    return " ".join(re.sub(r"<[^>]+>", " ", body).split()).replace(" ,", ",").replace(" .", ".")


def walk_to(desk: Collections, day: int) -> None:
    while desk.clock.now.date() < on(day):
        desk.tick()


def test_a_downgraded_customers_case_moves_to_the_e_ladder_from_its_next_level(desk: Collections) -> None:
    customer = desk.customer("Quickbuild Contractors")
    grade(desk, customer, "C")
    desk.invoice(customer, "QB-9001", "18400.00")
    walk_to(desk, 4)
    assert sent(desk, customer) == [on(3)]  # grade C: level 1 on day 3, level 2 would be day 14
    grade(desk, customer, "E")  # a review downgrades Quickbuild on day 4
    walk_to(desk, 16)
    # The E ladder (7 / 15) from the next level; level 2 keeps five days after level 1.
    assert sent(desk, customer) == [on(3), on(8), on(15)]
    case = desk.case(customer)
    assert case["grade"] == "E"
    regraded = [e for e in case["history"] if e["kind"] == "ladder_grade"]
    assert [(e["detail"]["before"], e["detail"]["after"]) for e in regraded][-1] == (
        {"grade": "C"},
        {"grade": "E"},
    )
    assert datetime.fromisoformat(regraded[-1]["at"]).date() == on(5)  # the next day's run told the case
    # Told once: a second run (or one after a crash) finds no case left to tell.
    rt = desk.client.application.extensions["creditflow"].rt
    assert tell_regraded_cases(rt, desk.clock.now.date(), desk.clock.now) == 0


@pytest.mark.parametrize(("grade_now", "first_day"), [("D", 1), ("E", 1), ("C", 3), ("B", 7)])
def test_level_1_is_sent_on_its_ladder_day_with_no_grace_before_it(
    desk: Collections, grade_now: str, first_day: int
) -> None:
    customer = desk.customer(f"Grade {grade_now} Ltd")
    grade(desk, customer, grade_now)
    desk.invoice(customer, "INV-G1", "900.00")
    walk_to(desk, first_day - 1)
    assert (
        desk.client.get(
            f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
        ).json["items"]
        == []
    )
    desk.tick()
    assert sent(desk, customer) == [on(first_day)]


def test_letters_name_the_ladders_dates_the_currencys_fee_and_statutory_interest(desk: Collections) -> None:
    customer = desk.customer("Dated Letters")
    desk.invoice(customer, "INV-D1", "10000.00")
    walk_to(desk, 26)
    first, second, final = (text_of(m) for m in desk.notices_to("ap@dated.example"))
    # Ungraded: the grade C ladder, levels on days 3, 14, 25 and the legal proposal on day 45.
    assert f"before {on(14):%-d %b %Y}" in first
    assert f"before {on(25):%-d %b %Y}" in second and "€40.00" in second  # dunning_charges.dmn, EUR
    assert f"before {on(45):%-d %b %Y}" in final and "within 7 days" not in final
    assert "legal department" in final
    # EUR claims statutory interest: ECB rate 2.15 % + 8 points, 25 days on 10,000.00 = 69.52.
    assert "10.15 % a year" in final and "€69.52" in final
    assert desk.case(customer)["fees"] == "40.00"


def test_a_1_00_promise_against_25650_goes_to_the_credit_manager_and_does_not_pause_the_case(
    desk: Collections,
) -> None:
    customer = desk.customer("Quickbuild Contractors")
    desk.invoice(customer, "QB-9001", "18400.00", due=DUE - timedelta(days=41))
    desk.invoice(customer, "QB-9002", "7250.50", due=DUE - timedelta(days=12))
    desk.tick()
    reached = promise(desk, customer, on(1) + timedelta(days=300), "1.00")
    assert len(reached.json["delivered_to"]) == 1, reached.json
    case = desk.case(customer)
    assert case["status"] == "open" and case["promised_date"] is None
    [pending] = case["promises"]
    assert (pending["status"], pending["overdue"], pending["recorded_by"]) == (
        "pending_approval",
        "25650.50",
        "collector1",
    )
    assert len(pending["outside"]) == 2  # 300 days ahead (at most 30); 1.00 < 25 % of 25,650.50
    [task] = desk.open_tasks("manager1")
    assert task["name"] == "approve_promise"
    assert desk.complete("collector1", task["id"], decision="approve").status_code == 403
    assert desk.complete("manager1", task["id"], decision="reject", comment="not serious").status_code == 200
    case = desk.case(customer)
    assert case["status"] == "open" and case["promises"][0]["status"] == "refused"
    assert case["promises"][0]["decided_by"] == "manager1"


def test_a_promise_outside_the_limits_pauses_the_case_only_once_a_credit_manager_approves(
    desk: Collections,
) -> None:
    customer = desk.customer("Slow Promiser")
    desk.invoice(customer, "INV-S1", "4000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(3 + 45), "4000.00").json["delivered_to"]  # 45 days: more than 30
    assert desk.case(customer)["status"] == "open"
    [task] = desk.open_tasks("manager1")
    assert desk.complete("manager1", task["id"], decision="approve", comment="seasonal").status_code == 200
    case = desk.case(customer)
    assert case["status"] == "paused" and case["promised_date"] == on(48).isoformat()
    assert case["promises"][0]["decided_by"] == "manager1"
    assert any(e["kind"] == "promise_approved" and e["actor"] == "manager1" for e in case["history"])


def test_a_third_open_or_broken_promise_goes_to_the_credit_manager(desk: Collections) -> None:
    customer = desk.customer("Serial Promiser")
    desk.invoice(customer, "INV-P1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(5), "1000.00").json["delivered_to"]
    walk_to(desk, 9)  # broken on day 9 (promised day 5 + 3 days of grace)
    assert desk.case(customer)["promises"][0]["status"] == "broken"
    assert promise(desk, customer, on(12), "1000.00").json["delivered_to"]
    assert desk.case(customer)["status"] == "paused"  # the second: one broken + this one
    assert promise(desk, customer, on(14), "1000.00").json["delivered_to"]  # waits while paused
    case = desk.case(customer)
    assert [p["status"] for p in case["promises"]] == ["broken", "open", "pending_approval"]
    assert "at most 2" in case["promises"][2]["outside"][0]
    assert [t["name"] for t in desk.open_tasks("manager1")] == ["approve_promise"]


def test_a_partly_kept_promise_resumes_dunning_on_the_rest(desk: Collections) -> None:
    customer = desk.customer("Partial Payer")
    desk.invoice(customer, "INV-R1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "1000.00").json["delivered_to"]
    walk_to(desk, 8)
    assert desk.pay(customer, "400.00", "BANK-R1").status_code == 201
    assert desk.case(customer)["status"] == "paused"  # part of it: the promise still runs
    walk_to(desk, 13)
    assert len(desk.notices_to("ap@partial.example")) == 1  # silence until the date plus 3 days of grace
    walk_to(desk, 14)
    case = desk.case(customer)
    [judged] = case["promises"]
    assert (judged["status"], judged["received"]) == ("partly_kept", "400.00")
    assert case["status"] == "open" and case["promise_kept_rate"] == "0.00"
    assert not any(e["kind"] == "promise_broken" for e in case["history"])
    second = desk.notices_to("ap@partial.example")[-1]
    assert second["Subject"].startswith("Second reminder")
    assert "Total overdue: €600.00" in text_of(second)  # dunning goes on for the rest


def test_a_kept_promise_counts_in_the_promise_kept_rate(desk: Collections) -> None:
    customer = desk.customer("Good Word")
    desk.invoice(customer, "INV-K1", "700.00")
    desk.invoice(customer, "INV-K2", "300.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "700.00").json["delivered_to"]
    walk_to(desk, 9)
    assert desk.pay(customer, "700.00", "BANK-K1").status_code == 201
    case = desk.case(customer)
    assert case["promises"][0]["status"] == "kept" and case["promise_kept_rate"] == "1.00"
    assert case["status"] == "open"  # the 300.00 the promise did not cover is still dunned
    listed = desk.client.get("/api/dunning-cases", headers=auth(desk.tokens["collector1"])).json["items"]
    assert [c["promise_kept_rate"] for c in listed if c["customer_id"] == customer] == ["1.00"]
    page = logged_in(desk.client.application, "collector1").get(f"/customers/{customer}")
    assert page.status_code == 200
    shown = " ".join(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).split())
    assert "Promise-kept rate 100 % (1 promise)" in shown and "kept" in shown


def test_the_collector_who_recorded_a_promise_cannot_approve_it_even_as_a_credit_manager(
    desk: Collections,
) -> None:
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        add_user(session, "dual1", groups=["collections", "credit_manager"], now=desk.clock.now)
        desk.tokens["dual1"] = issue_token(session, "dual1", desk.clock.now)
    customer = desk.customer("Four Eyes Trading")
    desk.invoice(customer, "INV-F1", "2000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(4), "10.00", by="dual1").json["delivered_to"]
    [task] = [t for t in desk.open_tasks("dual1") if t["name"] == "approve_promise"]
    refused = desk.complete("dual1", task["id"], decision="approve")
    assert refused.status_code in (403, 422), refused.json
    assert desk.case(customer)["promises"][0]["status"] == "pending_approval"
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    case = desk.case(customer)
    assert case["status"] == "paused" and case["promises"][0]["decided_by"] == "manager1"


def test_a_promise_taken_on_the_call_outside_the_limits_goes_to_the_credit_manager(desk: Collections) -> None:
    customer = desk.customer("Call Promiser")
    desk.invoice(customer, "INV-C9", "5000.00", due=DUE - timedelta(days=30))
    walk_to(desk, 11)  # caught up: levels 1-3 five days apart, the call task opens with the final demand
    [call] = desk.open_tasks("collector1")
    assert call["name"] == "call_customer"
    done = desk.complete(
        "collector1",
        call["id"],
        outcome="promised",
        promised_date=on(20).isoformat(),
        promised_amount="100.00",
        comment="pays a little",
    )
    assert done.status_code == 200, done.json
    [task] = desk.open_tasks("manager1")
    assert task["name"] == "approve_promise"
    assert desk.case(customer)["status"] == "open"


def test_a_review_refuses_a_ladder_of_another_grade_than_the_case_follows(desk: Collections) -> None:
    customer = desk.customer("Wrong Ladder")
    grade(desk, customer, "E")
    desk.invoice(customer, "INV-W1", "900.00")
    desk.tick()
    case = desk.case(customer)
    assert case["grade"] == "E"
    rt = desk.client.application.extensions["creditflow"].rt
    with rt.factory() as session:
        ctx = TaskContext(
            session=session,
            now=desk.clock.now,
            instance_id=case["instance_id"],
            process_key="dunning",
            business_key=str(customer),
            bpmn_id="review_case",
            task_key="test",
            started_by="system",
            settings=rt.settings,
        )
        ladder = {"level_1_days": 7, "level_2_days": 21, "level_3_days": 35, "level_4_days": 60}
        with pytest.raises(HandlerInputError, match="follows grade 'E'"):
            review_case(ctx, ReviewRequest(case_id=case["id"], grade="A", **ladder))
        session.rollback()


def test_on_the_demo_data_a_1_00_promise_on_quickbuilds_case_goes_to_the_credit_manager(
    desk: Collections,
) -> None:
    """The review's finding as found: Quickbuild's demo case (QB-9001 and QB-9002, GBP 25,650.50 overdue)."""
    rt = desk.client.application.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        seed_demo(session, desk.clock.now)
    start_demo_cases(rt, desk.clock.now)
    [quickbuild] = [
        c
        for c in desk.client.get("/api/dunning-cases", headers=auth(desk.tokens["collector1"])).json["items"]
        if c["customer_name"] == "Quickbuild Contractors Ltd"
    ]
    customer = quickbuild["customer_id"]
    assert promise(desk, customer, desk.clock.now.date() + timedelta(days=300), "1.00").json["delivered_to"]
    case = desk.case(customer)
    assert case["status"] == "open" and case["currency"] == "GBP"
    [pending] = case["promises"]
    assert (pending["status"], pending["amount"], pending["overdue"]) == (
        "pending_approval",
        "1.00",
        "25650.50",
    )
    assert "approve_promise" in [t["name"] for t in desk.open_tasks("manager1")]
