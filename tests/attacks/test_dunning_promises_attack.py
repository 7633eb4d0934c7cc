"""Hostile and upgrade attacks on the promises to pay and the ladder of issue 15 (dunning_policy.dmn's
promise limits, dunning_charges.dmn, the approve_promise task), beyond test_dunning_policy_messages."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handlers import dunning_notices
from handlers.registry import build_operations
from tests.collections_desk import DUE, Collections
from tests.helpers import auth
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.promises import kept_rate
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.engine.runner import start_instance
from workflows.store.db import transaction
from workflows.users import SYSTEM

pytestmark = pytest.mark.usefixtures("shipped")

# The dunning bundle as deployed before issue 15 (git show 6d0f6dd^:bpmn/...): no promise limits, no
# approve_promise task, the dispute steps of its day.
BEFORE_ISSUE_15 = Path(__file__).parents[1] / "fixtures" / "dunning_before_issue_15"
OLD_OPERATIONS = ("dunning.record_dispute", "dunning.resolve_dispute")  # registered then, gone since


def on(day: int) -> date:
    return DUE + timedelta(days=day)


def send(desk: Collections, user: str, name: str, customer: int, data: Any) -> Any:
    message = {"name": name, "correlation_key": str(customer), "data": data}
    return desk.client.post("/api/messages", json=message, headers=auth(desk.tokens[user]))


def deploy(desk: Collections, paths: list[Path], extra: tuple[str, ...] = ()) -> None:
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        operations = [*build_operations(), *extra]
        deploy_files(session, read_files(paths), operations, deployed_by="system", now=desk.clock.now)


def case_on_the_version_before_issue_15(desk: Collections, name: str, amount: str) -> int:
    """A case the daily run opened while the version before issue 15 was deployed, still running on it
    after the upgrade deployed today's diagrams."""
    customer = desk.customer(name)
    desk.invoice(customer, "INV-OLD1", amount)
    deploy(desk, sorted(BEFORE_ISSUE_15.iterdir()), OLD_OPERATIONS)
    desk.clock.advance(days=4)
    rt = desk.client.application.extensions["creditflow"].rt
    start_instance(
        rt,
        "dunning",
        {"customer_id": customer},
        actor=SYSTEM,
        now=desk.clock.now,
        business_key=str(customer),
        check_groups=False,
    )
    for bundle in shipped_bundles():  # the upgrade: today's diagrams become the latest versions
        deploy(desk, bundle)
    case = desk.case(customer)
    assert case["status"] == "open" and case["grade"] is None, case
    return customer


def test_a_case_on_the_version_before_the_limits_still_takes_a_promise_and_pauses(desk: Collections) -> None:
    customer = case_on_the_version_before_issue_15(desk, "Old Version Debtor", "25650.00")
    # 1.00 of 25,650.00, 20 days out: outside today's limits, but that version has no approve_promise task
    # to send it to. It pauses the case as every promise did on that version, and says it was not checked.
    answer = send(
        desk,
        "collector1",
        "promise_to_pay",
        customer,
        {"promised_date": on(24).isoformat(), "amount": "1.00"},
    )
    assert answer.status_code == 200 and answer.json["delivered_to"], answer.json
    case = desk.case(customer)
    assert case["status"] == "paused" and case["promised_date"] == on(24).isoformat(), case
    [promise] = case["promises"]
    assert promise["status"] == "open" and promise["amount"] == "1.00" and promise["outside"] == []
    [event] = [e for e in case["history"] if e["kind"] == "promise_to_pay"]
    assert event["detail"]["limits_checked"] is False and event["actor"] == "collector1"


def walk_to(desk: Collections, day: int) -> None:
    while desk.clock.now.date() < on(day):
        desk.tick()


def promise(desk: Collections, customer: int, promised: date, amount: str) -> Any:
    data = {"promised_date": promised.isoformat(), "amount": amount}
    return send(desk, "collector1", "promise_to_pay", customer, data)


def test_a_promise_above_the_overdue_amount_is_kept_when_everything_overdue_is_paid(
    desk: Collections,
) -> None:
    customer = desk.customer("Generous Word")
    desk.invoice(customer, "INV-P1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "1500.00").json["delivered_to"]
    walk_to(desk, 6)
    assert desk.pay(customer, "1000.00", "BANK-P1").status_code == 201
    case = desk.case(customer)
    assert case["status"] == "closed" and case["outcome"] == "paid", case
    [judged] = case["promises"]
    assert (judged["status"], judged["received"]) == ("kept", "1000.00"), judged
    assert case["promise_kept_rate"] == "1.00"


def test_a_partly_kept_promise_then_full_payment_closes_the_case_paid(desk: Collections) -> None:
    customer = desk.customer("Late Payer")
    desk.invoice(customer, "INV-L1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "1000.00").json["delivered_to"]
    walk_to(desk, 8)
    assert desk.pay(customer, "400.00", "BANK-L1").status_code == 201
    walk_to(desk, 14)
    assert desk.case(customer)["promises"][0]["status"] == "partly_kept"
    assert desk.pay(customer, "600.00", "BANK-L2").status_code == 201
    case = desk.case(customer)
    assert case["status"] == "closed" and case["outcome"] == "paid", case
    assert [p["status"] for p in case["promises"]] == ["partly_kept"]  # judged once, not again
    assert case["promise_kept_rate"] == "0.00"


def test_the_daily_run_twice_on_one_day_sends_no_notice_twice(desk: Collections) -> None:
    customer = desk.customer("Twice Run")
    desk.invoice(customer, "INV-T1", "1000.00")
    for _day in range(1, 16):
        desk.tick()
        again = desk.client.post(
            "/api/admin/tick", json={"now": desk.clock.now.isoformat()}, headers=auth(desk.tokens["admin"])
        )
        assert again.status_code == 200, again.json
    case = desk.case(customer)
    assert case["level"] == 2 and case["fees"] == "40.00", case
    assert [m["Subject"].split(" ")[0] for m in desk.notices_to("ap@twice.example")] == ["Payment", "Second"]
    assert [e["kind"] for e in case["history"]].count("fee_added") == 1


def test_a_failure_in_the_middle_of_a_notice_step_sends_nothing_twice_and_loses_nothing(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = desk.customer("Crash Midway")
    desk.invoice(customer, "INV-C1", "1000.00")
    walk_to(desk, 3)  # level 1 on day 3
    real = dunning_notices.add_event
    failed = []

    def fail_after_the_mail_is_queued(ctx: Any, case: Any, kind: str, **detail: Any) -> None:
        if kind == "notice_sent" and not failed:
            failed.append(case.id)
            raise RuntimeError("the database went away after the notice was queued")
        real(ctx, case, kind, **detail)

    monkeypatch.setattr(dunning_notices, "add_event", fail_after_the_mail_is_queued)
    walk_to(desk, 14)  # level 2 is due: escalate runs, send_notice fails midway
    assert failed
    case = desk.case(customer)
    assert case["level"] == 2 and case["fees"] == "40.00"
    assert len(desk.notices_to("ap@crash.example")) == 1  # the failed step's mail was rolled back with it
    instance = desk.client.get(
        f"/api/process-instances/{case['instance_id']}", headers=auth(desk.tokens["admin"])
    ).json
    assert instance["status"] == "error", instance
    retried = desk.client.post(
        f"/api/process-instances/{case['instance_id']}/retry", headers=auth(desk.tokens["admin"])
    )
    assert retried.status_code == 200, retried.json
    desk.tick()
    desk.tick()
    case = desk.case(customer)
    assert case["level"] == 2 and case["fees"] == "40.00"  # the fee once
    assert [e["kind"] for e in case["history"]].count("fee_added") == 1
    subjects = [m["Subject"] for m in desk.notices_to("ap@crash.example")]
    assert len(subjects) == 2 and subjects[1].startswith("Second reminder"), subjects


def test_a_promise_waiting_for_the_credit_manager_does_not_stop_the_ladder(desk: Collections) -> None:
    customer = desk.customer("Stalling Debtor")
    desk.invoice(customer, "INV-S1", "25650.00")
    walk_to(desk, 3)  # level 1 on day 3; level 2 falls on day 14, level 3 on day 25 (ungraded ladder)
    assert promise(desk, customer, on(10), "1.00").json["delivered_to"]
    assert desk.case(customer)["promises"][0]["status"] == "pending_approval"
    walk_to(desk, 26)  # nobody decides: the credit manager is away
    case = desk.case(customer)
    assert case["level"] == 3, case  # the ladder went on meanwhile, as the policy says
    assert [m["Subject"].split(" ")[0] for m in desk.notices_to("ap@stalling.example")] == [
        "Payment",
        "Second",
        "Final",
    ]
    [lapsed] = case["promises"]
    assert lapsed["status"] == "lapsed" and lapsed["decided_by"] is None, lapsed
    assert case["promise_kept_rate"] is None  # never accepted, so never judged
    assert not [t for t in desk.open_tasks("manager1") if t["bpmn_id"] == "approve_promise"]


def test_a_payment_on_an_invoice_not_yet_due_does_not_keep_a_promise_on_the_overdue(
    desk: Collections,
) -> None:
    customer = desk.customer("Sidestep Payer")
    desk.invoice(customer, "INV-O1", "1000.00")
    desk.invoice(customer, "INV-N1", "1000.00", due=on(60))  # not due for two months
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "1000.00").json["delivered_to"]
    walk_to(desk, 8)
    body = {
        "customer_id": customer,
        "amount": "1000.00",
        "currency": "EUR",
        "date": desk.clock.now.date().isoformat(),
        "reference": "BANK-N1",
        "invoice_number": "INV-N1",  # the customer pays the new invoice, not what it promised
    }
    assert (
        desk.client.post("/api/payments", json=body, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    walk_to(desk, 14)
    case = desk.case(customer)
    [judged] = case["promises"]
    assert (judged["status"], judged["received"]) == ("broken", "0.00"), judged
    assert case["promise_kept_rate"] == "0.00" and case["level"] == 2  # broken: the ladder resumed at once


def letter_text(message: Any) -> str:
    body = str(message.get_body(preferencelist=("plain",)).get_content())
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_each_letters_date_is_the_last_day_before_what_really_happens_next_after_40_days_down(
    desk: Collections,
) -> None:
    customer = desk.customer("Forty Days")
    desk.invoice(customer, "INV-F1", "1000.00")
    desk.clock.advance(days=39)  # the scheduler was down: nothing ran for 40 days
    walk_to(desk, 80)
    letters = desk.notices_to("ap@forty.example")
    history = [e for e in desk.case(customer)["history"] if e["kind"] == "notice_sent"]
    sent_on = [datetime.fromisoformat(e["at"]).date() for e in history]
    # Level 1 on day 40, then the notice spacing (5 days) holds level 2 and 3 apart; legal on day 55.
    assert sent_on == [on(40), on(45), on(50)], sent_on
    named = [re.search(r"before (\d{1,2} \w{3} \d{4})", letter_text(m)) for m in letters]
    assert all(named), [letter_text(m) for m in letters]
    # The date a letter names is the day the next step really happens: a payment before it stops it, and
    # nothing happens before it ("by" that day would promise the customer the day itself).
    assert [datetime.strptime(n.group(1), "%d %b %Y").date() for n in named if n] == [on(45), on(50), on(55)]
    assert " by 20" not in " ".join(letter_text(m) for m in letters)


@pytest.mark.parametrize(("currency", "status"), [("GBP", 422), ("eur", 422), ("EUR", 200)])
def test_a_promise_in_another_currency_is_refused_not_read_as_the_cases(
    desk: Collections, currency: str, status: int
) -> None:
    customer = desk.customer("Other Money")
    desk.invoice(customer, "INV-M1", "1000.00")
    walk_to(desk, 3)
    data = {"promised_date": on(10).isoformat(), "amount": "1000.00", "currency": currency}
    answer = send(desk, "collector1", "promise_to_pay", customer, data)
    assert answer.status_code == status, answer.json
    case = desk.case(customer)
    if status == 200:
        assert case["status"] == "paused" and case["promises"][0]["amount"] == "1000.00"
    else:  # GBP 1,000.00 is not EUR 1,000.00: nothing is recorded, the case is not paused
        assert case["promises"] == [] and case["status"] == "open", case
        assert "currency" in str(answer.json)


def test_a_second_promise_replaces_the_open_one_and_only_the_new_one_is_judged(desk: Collections) -> None:
    customer = desk.customer("Second Word")
    desk.invoice(customer, "INV-W1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "500.00").json["delivered_to"]
    assert promise(desk, customer, on(12), "900.00").json["delivered_to"]
    case = desk.case(customer)
    assert [(p["amount"], p["status"]) for p in case["promises"]] == [
        ("500.00", "replaced"),
        ("900.00", "open"),
    ]
    walk_to(desk, 11)
    assert desk.pay(customer, "900.00", "BANK-W1").status_code == 201
    case = desk.case(customer)
    assert [p["status"] for p in case["promises"]] == ["replaced", "kept"], case["promises"]
    assert case["promise_kept_rate"] == "1.00"


def test_statutory_interest_is_counted_per_invoice_to_the_cent_on_what_is_still_open(
    desk: Collections,
) -> None:
    customer = desk.customer("Interest Cents")
    desk.invoice(customer, "INV-I1", "1234.57")
    desk.invoice(customer, "INV-I2", "999.99", due=on(5))
    walk_to(desk, 3)
    assert desk.pay(customer, "234.57", "BANK-I1").status_code == 201  # INV-I1 has 1,000.00 left
    walk_to(desk, 25)  # the final demand (ungraded ladder, day 25) claims the interest
    final = letter_text(desk.notices_to("ap@interest.example")[-1])
    # The text part is the rendered .txt since da39ec3 (it was the HTML source, which began with its title).
    assert final.startswith("Dear Interest Cents, this is our final demand."), final
    # 10.15 % a year, 365 days, each invoice rounded half up to the cent, the total the sum of the lines:
    # 1,000.00 x 10.15 % x 25 / 365 = 6.952 -> 6.95; 999.99 x 10.15 % x 20 / 365 = 5.5616 -> 5.56.
    assert "€6.95" in final and "€5.56" in final and "€12.51" in final, final
    [event] = [e for e in desk.case(customer)["history"] if e["kind"] == "notice_sent"][-1:]
    assert event["detail"]["interest"] == "12.51"


def test_an_upgrade_mid_case_and_while_paused_moves_the_case_to_the_slower_ladder(desk: Collections) -> None:
    customer = desk.customer("Upgraded Debtor")
    factory = desk.client.application.extensions["creditflow"].rt.factory

    def grade(value: str) -> None:
        with transaction(factory) as session:
            row = session.get(Customer, customer)
            assert row is not None
            row.grade = value

    grade("E")
    desk.invoice(customer, "INV-U1", "5000.00")
    walk_to(desk, 2)  # E: level 1 on day 1
    assert promise(desk, customer, on(6), "5000.00").json["delivered_to"]
    grade("A")  # upgraded while the promise pauses the case (twice the same day: E -> B -> A)
    grade("B")
    grade("A")
    walk_to(desk, 30)  # the promise broke on day 10; A's ladder has level 3 on day 35, not E's day 15
    case = desk.case(customer)
    assert case["grade"] == "A" and case["promises"][0]["status"] == "broken"
    history = case["history"]
    sent = [datetime.fromisoformat(e["at"]).date() for e in history if e["kind"] == "notice_sent"]
    # Judged before anything escalates: broken, escalation resumes at once (level 2 on day 10), once; level
    # 3 waits for A's day 35. It escalated at the pause's end without judging the promise, then again "at
    # once" for the broken promise: level 3 on day 15, E's day.
    assert sent == [on(1), on(10)], sent
    kinds = [e["kind"] for e in history]
    assert kinds.index("promise_broken") < kinds.index("level_reached", kinds.index("promise_to_pay"))
    assert [e["detail"]["after"] for e in history if e["kind"] == "ladder_grade"][-1] == {"grade": "A"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"promised_date": "2027-02-29", "amount": "500.00"}', 422),  # no 29 February in 2027
        ('{"promised_date": "2026-03-04", "amount": "500.00"}', 422),  # yesterday
        ('{"promised_date": "2026-03-12", "amount": 0}', 422),
        ('{"promised_date": "2026-03-12", "amount": 1e400}', 400),  # not a finite number: unreadable
        ('{"promised_date": "2026-03-12", "amount": "500.00", "__typename": "X", "__class__": {}}', 200),
    ],
)
def test_a_crafted_promise_is_refused_with_nothing_recorded(desk: Collections, raw: str, status: int) -> None:
    customer = desk.customer("Crafted Word")
    desk.invoice(customer, "INV-X1", "1000.00")
    walk_to(desk, 3)
    body = f'{{"name": "promise_to_pay", "correlation_key": "{customer}", "data": {raw}}}'
    answer = desk.client.post(
        "/api/messages", data=body, content_type="application/json", headers=auth(desk.tokens["collector1"])
    )
    case = desk.case(customer)
    if status == 200:  # unknown fields are dropped, never stored or evaluated
        assert answer.status_code == 200 and case["promises"][0]["amount"] == "500.00", answer.json
        assert "typename" not in str(case) and "__class__" not in str(case)
    else:
        assert answer.status_code in (400, 422) and answer.status_code != 500, answer.json
        assert case["promises"] == [] and case["status"] == "open", case


@pytest.mark.parametrize(
    ("statuses", "rate"),
    [
        ([], None),  # no promise: no rate, not 0 %
        (["broken", "broken"], "0.00"),
        (["replaced", "lapsed", "refused", "pending_approval", "open"], None),  # none judged
        (["kept", "partly_kept", "broken"], "0.33"),  # partly kept is not kept
        (["kept", "kept", "replaced"], "1.00"),
    ],
)
def test_the_promise_kept_rate_counts_only_judged_promises(statuses: list[str], rate: str | None) -> None:
    assert kept_rate(statuses) == rate


def test_a_promise_overtaken_by_a_credit_note_is_not_judged_broken(desk: Collections) -> None:
    customer = desk.customer("Credited Word")
    desk.invoice(customer, "INV-CN1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "1000.00").json["delivered_to"]
    walk_to(desk, 5)
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:  # what dispute.post_credit does to an invoice credited in full
        invoice = session.scalar(select(Invoice).where(Invoice.number == "INV-CN1"))
        assert invoice is not None
        invoice.open_amount, invoice.status = Decimal("0.00"), InvoiceStatus.CREDITED
    walk_to(desk, 14)  # the promise's date plus grace: the review finds nothing overdue
    case = desk.case(customer)
    assert case["status"] == "closed" and case["outcome"] == "no_longer_overdue", case
    [judged] = case["promises"]
    assert judged["status"] == "overtaken", judged  # was: broken, and a kept rate of 0.00
    assert case["promise_kept_rate"] is None


def test_replacing_promises_cannot_defer_a_case_for_ever(desk: Collections) -> None:
    """Each new promise replaced the open one and was within the limits, so a collector could keep a case
    paused by recording another promise before each fell due; replaced promises count against the limit."""
    customer = desk.customer("Endless Deferral")
    desk.invoice(customer, "INV-D1", "1000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(10), "500.00").json["delivered_to"]
    assert promise(desk, customer, on(12), "500.00").json["delivered_to"]
    third = promise(desk, customer, on(14), "500.00")
    assert third.status_code == 200, third.json
    statuses = [p["status"] for p in desk.case(customer)["promises"]]
    assert statuses == ["replaced", "open", "pending_approval"], statuses
