"""Hostile tests of dispute_resolution beyond the builder's (tests/attacks/test_dispute_attacks.py): a lead
who approves one claim split into several disputes under the threshold, a credit on an invoice written off or
paid meanwhile, the dunning clock walked past a dispute (held, rejected, credited), the legal handover's
case file with disputed parts, the summary at the edges of the calendar, and `dispute` messages sent twice
or by the wrong group."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from tests.bpmn.test_dispute_resolution import complete, credit_notes, invoices, raise_dispute, task_named
from tests.bpmn.test_write_off import start_write_off, walk_to_legal
from tests.collections_desk import Collections
from tests.handlers.test_money_moves import person
from tests.helpers import auth
from workflows.credit.models import Customer, Provision

pytestmark = pytest.mark.usefixtures("shipped")


def tasks_named(desk: Collections, token: str, name: str) -> list[dict[str, Any]]:
    return [t for t in desk.client.get("/api/tasks", headers=auth(token)).json["items"] if t["name"] == name]


def credit_balance(desk: Collections, customer: int) -> Decimal:
    """The customer's credit balance (what it paid beyond its invoices), read from the database."""
    with desk.client.application.extensions["creditflow"].rt.factory() as session:
        found = session.get(Customer, customer)
        assert found is not None
        return Decimal(found.credit_balance)


def dispute_message(desk: Collections, customer: int, user: str, *lines: tuple[str, str]) -> Any:
    body = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {
            "invoices": [{"number": n, "amount": a, "reason": "quality"} for n, a in lines],
            "owner_group": "sales",
        },
    }
    return desk.client.post("/api/messages", json=body, headers=auth(desk.tokens[user]))


def plain(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


# --- segregation: one claim split under the lead's threshold ---------------------------------------------


def test_a_claim_split_into_disputes_under_the_threshold_goes_to_the_credit_manager(
    desk: Collections,
) -> None:
    customer = desk.customer("Salami Slicing")
    desk.invoice(customer, "INV-SS1", "15000.00")
    for _ in range(3):
        started = raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-SS1", "4999.00", "price"))
        assert started.status_code == 201, started.json
    for proposal in tasks_named(desk, desk.tokens["sales1"], "propose_sales"):
        done = complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="4999.00"
        )
        assert done.status_code == 200, done.json
    # The first 4,999.00 is the lead's; with it waiting, the next two weigh 9,998.00 and 14,997.00.
    assert len(tasks_named(desk, desk.tokens["lead1"], "approve_as_lead")) == 1
    managers = tasks_named(desk, desk.tokens["manager1"], "approve_as_manager")
    assert len(managers) == 2
    # The approver reads why (rendered in the server: the lines are one text, no template loop).
    assert sorted(
        t["context"]["instructions"].split("weighed with the rest of its claim: ")[1].split(" ")[0]
        for t in managers
    ) == ["€14,997.00", "€9,998.00"]  # with the base currency's symbol since 85855e8
    assert all("INV-SS1 €4,999.00 (price)" in t["context"]["instructions"] for t in managers)
    assert invoices(desk, customer)["INV-SS1"]["open_amount"] == "15000.00"
    # The lead's approval of the first still counts when the post re-weighs it (the later ones do not).
    [lead] = tasks_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert complete(desk, desk.tokens["lead1"], lead["id"], decision="approve").status_code == 200
    for task in tasks_named(desk, desk.tokens["manager1"], "approve_as_manager"):
        assert complete(desk, desk.tokens["manager1"], task["id"], decision="approve").status_code == 200
    notes = credit_notes(desk, customer)
    assert sorted(n["approved_by"][0] for n in notes) == ["lead1", "manager1", "manager1"]
    assert invoices(desk, customer)["INV-SS1"]["open_amount"] == "3.00"


def test_a_claim_split_in_time_on_the_same_invoice_weighs_the_earlier_credit(desk: Collections) -> None:
    customer = desk.customer("Slow Slicing")
    desk.invoice(customer, "INV-SL1", "12000.00")
    desk.invoice(customer, "INV-SL2", "3000.00")
    for number in ("INV-SL1", "INV-SL1"):
        assert (
            raise_dispute(desk, desk.tokens["collector1"], customer, (number, "4000.00", "price")).status_code
            == 201
        )
        proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
        assert (
            complete(
                desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="4000.00"
            ).status_code
            == 200
        )
        if number == "INV-SL1" and not credit_notes(desk, customer):
            lead = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
            assert complete(desk, desk.tokens["lead1"], lead["id"], decision="approve").status_code == 200
    # 4,000.00 credited on INV-SL1 already: the second 4,000.00 on it weighs 8,000.00.
    assert tasks_named(desk, desk.tokens["lead1"], "approve_as_lead") == []
    manager = task_named(desk, desk.tokens["manager1"], "approve_as_manager")
    assert complete(desk, desk.tokens["manager1"], manager["id"], decision="approve").status_code == 200
    # A later dispute on another invoice, raised after the others closed, is weighed alone: the lead's.
    desk.clock.advance(days=1)
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-SL2", "1000.00", "price")).status_code
        == 201
    )
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="1000.00"
        ).status_code
        == 200
    )
    assert len(tasks_named(desk, desk.tokens["lead1"], "approve_as_lead")) == 1


# --- amounts: a credit on an invoice paid or written off meanwhile ----------------------------------------


def test_a_credit_on_an_invoice_paid_in_part_meanwhile_puts_only_the_excess_on_the_balance(
    desk: Collections,
) -> None:
    customer = desk.customer("Halfpaid Goods")
    desk.invoice(customer, "INV-HP1", "1000.00")
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-HP1", "800.00", "quality")).status_code
        == 201
    )
    assert desk.pay(customer, "500.00", "BANK-HP1").status_code == 201
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="800.00"
        ).status_code
        == 200
    )
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert complete(desk, desk.tokens["lead1"], approval["id"], decision="approve").status_code == 200
    after = invoices(desk, customer)["INV-HP1"]
    assert (after["status"], after["open_amount"], after["disputed_amount"]) == ("credited", "0.00", "0.00")
    [note] = credit_notes(desk, customer)
    # Paid 500.00 of 1,000.00, then 800.00 credited: owed 200.00, so 300.00 was paid too much.
    assert (note["amount"], note["to_balance"]) == ("800.00", "300.00")
    assert credit_balance(desk, customer) == Decimal("300.00")


def test_a_credit_on_an_invoice_written_off_meanwhile_pays_out_nothing(desk: Collections) -> None:
    customer = desk.customer("Bust Disputer")
    desk.invoice(customer, "INV-WD1", "1000.00")
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-WD1", "800.00", "quality")).status_code
        == 201
    )
    started = start_write_off(
        desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0, costs=0
    )
    assert started.status_code == 201, started.json
    [approval] = [t for t in started.json["tasks"] if t["name"] == "manager_approval"]
    assert complete(desk, desk.tokens["manager1"], approval["id"], decision="approve").status_code == 200
    assert invoices(desk, customer)["INV-WD1"]["status"] == "written_off"
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="800.00"
        ).status_code
        == 200
    )
    lead = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert complete(desk, desk.tokens["lead1"], lead["id"], decision="approve").status_code == 200
    # The customer never paid a cent of it: the credit lowers nothing and leaves no credit balance to spend.
    [note] = credit_notes(desk, customer)
    assert (note["amount"], note["to_balance"]) == ("800.00", "0.00")
    assert credit_balance(desk, customer) == Decimal("0.00")
    after = invoices(desk, customer)["INV-WD1"]
    assert (after["status"], after["open_amount"], after["disputed_amount"]) == (
        "written_off",
        "0.00",
        "0.00",
    )


@pytest.mark.parametrize("amount", [10**30, "1" + "0" * 30, {"typename": "Decimal"}, [[[["1"]]]]])
def test_a_crafted_amount_in_a_dispute_message_is_a_422_with_nothing_held(
    desk: Collections, amount: Any
) -> None:
    customer = desk.customer("Crafted Message")
    desk.invoice(customer, "INV-CM1", "500.00")
    for _ in range(5):
        desk.tick()
    body = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {
            "invoices": [{"number": "INV-CM1", "amount": amount, "reason": "price"}],
            "owner_group": "sales",
        },
    }
    sent = desk.client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"]))
    assert sent.status_code in (400, 422), sent.json
    assert invoices(desk, customer)["INV-CM1"]["disputed_amount"] == "0.00"
    assert desk.case(customer)["status"] == "open"


def test_the_same_invoice_twice_in_a_dispute_message_is_refused(desk: Collections) -> None:
    customer = desk.customer("Twice Named")
    desk.invoice(customer, "INV-TN1", "500.00")
    for _ in range(5):
        desk.tick()
    sent = dispute_message(desk, customer, "collector1", ("INV-TN1", "300.00"), ("INV-TN1", "300.00"))
    assert sent.status_code == 422 and "named twice" in sent.json["error"]["message"], sent.json
    assert invoices(desk, customer)["INV-TN1"]["disputed_amount"] == "0.00"


# --- dunning: walk the clock ------------------------------------------------------------------------------


def test_a_held_amount_is_left_out_of_the_notices_and_dunned_again_in_full_once_rejected(
    desk: Collections,
) -> None:
    customer = desk.customer("Clockwalk Ltd")
    desk.invoice(customer, "INV-CW1", "1000.00")
    for _ in range(5):
        desk.tick()
    sent = dispute_message(desk, customer, "collector1", ("INV-CW1", "600.00"))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    before = len(desk.notices_to("ap@clockwalk.example"))
    for _ in range(12):
        desk.tick()
    held = desk.notices_to("ap@clockwalk.example")[before:]
    assert held, "the undisputed rest is dunned on"
    text = plain(held[-1])
    assert "400.00" in text and "1,000.00" not in text and "1000.00" not in text, text
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="reject", comment="delivered"
        ).status_code
        == 200
    )
    seen = len(desk.notices_to("ap@clockwalk.example"))
    for _ in range(15):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            if task["name"] == "call_customer":
                desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
    again = [plain(m) for m in desk.notices_to("ap@clockwalk.example")[seen:]]
    assert again and any("1,000.00" in t or "1000.00" in t for t in again), again


def test_a_dispute_of_the_whole_case_at_level_three_dunning_stops_until_it_is_settled(
    desk: Collections,
) -> None:
    customer = desk.customer("Level Three")
    desk.invoice(customer, "INV-L3", "700.00")
    for _ in range(60):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            if task["name"] == "call_customer":
                desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
        cases = desk.client.get(
            f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
        ).json["items"]
        if cases and cases[0]["level"] >= 3:
            break
    assert desk.case(customer)["level"] == 3
    sent = dispute_message(desk, customer, "collector1", ("INV-L3", "700.00"))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    seen = len(desk.notices_to("ap@level.example"))
    for _ in range(20):
        desk.tick()
        assert [t["name"] for t in desk.open_tasks("manager1") if t["name"] == "approve_legal_handover"] == []
    assert len(desk.notices_to("ap@level.example")) == seen


# --- messages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["sales1", "finance1", "manager1", "logistics1", "auditor1", "legal1"])
def test_a_dispute_message_from_outside_collections_is_refused(desk: Collections, user: str) -> None:
    customer = desk.customer("Outsider Claims")
    desk.invoice(customer, "INV-OC1", "500.00")
    for _ in range(5):
        desk.tick()
    sent = dispute_message(desk, customer, user, ("INV-OC1", "100.00"))
    assert sent.status_code == 403, (user, sent.json)
    assert invoices(desk, customer)["INV-OC1"]["disputed_amount"] == "0.00"


def test_two_dispute_messages_that_together_exceed_the_invoice_hold_no_more_than_is_open(
    desk: Collections,
) -> None:
    customer = desk.customer("Double Dispute")
    desk.invoice(customer, "INV-DD1", "500.00")
    for _ in range(5):
        desk.tick()
    first = dispute_message(desk, customer, "collector1", ("INV-DD1", "300.00"))
    second = dispute_message(desk, customer, "collector1", ("INV-DD1", "300.00"))
    assert first.status_code == 200 and second.status_code == 422, (first.json, second.json)
    assert invoices(desk, customer)["INV-DD1"]["disputed_amount"] == "300.00"
    listed = desk.client.get(f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    assert [d["disputed_amount"] for d in listed.json["items"]] == ["300.00"]


# --- the summary ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["to=0001-01-01", "to=0001-12-31", "from=9999-12-31&to=9999-12-31", "from=9999-12-31"]
)
def test_a_summary_at_the_ends_of_the_calendar_is_a_4xx_or_empty(desk: Collections, query: str) -> None:
    answer = desk.client.get(f"/api/disputes/summary?{query}", headers=auth(desk.tokens["manager1"]))
    assert answer.status_code in (200, 400, 422), answer.status_code
    if answer.status_code == 200:
        assert answer.json["items"] == []


def test_the_summary_splits_months_at_the_year_boundary_and_keeps_the_last_instant(desk: Collections) -> None:
    customer = desk.customer("New Year Claims")
    desk.invoice(customer, "INV-NY1", "900.00")
    desk.clock.now = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-NY1", "100.00", "price")).status_code
        == 201
    )
    desk.clock.now = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-NY1", "200.00", "price")).status_code
        == 201
    )
    rows = {}
    for query in (
        "from=2026-12-01&to=2026-12-31",
        "from=2027-01-01&to=2027-01-01",
        "from=2026-12-31&to=2027-01-31",
    ):
        answer = desk.client.get(f"/api/disputes/summary?{query}", headers=auth(desk.tokens["manager1"]))
        assert answer.status_code == 200, answer.json
        rows[query] = [(r["month"], r["count"], r["amount"]) for r in answer.json["items"]]
    assert rows == {
        "from=2026-12-01&to=2026-12-31": [("2026-12", 1, "100.00")],
        "from=2027-01-01&to=2027-01-01": [("2027-01", 1, "200.00")],
        "from=2026-12-31&to=2027-01-31": [("2026-12", 1, "100.00"), ("2027-01", 1, "200.00")],
    }


# --- the legal handover -----------------------------------------------------------------------------------


def test_the_legal_handover_claims_the_undisputed_rest_and_lists_the_disputed_parts_apart(
    desk: Collections,
) -> None:
    customer = desk.customer("Lawyered Up")
    desk.invoice(customer, "INV-LH1", "1000.00")
    desk.invoice(customer, "INV-LH2", "500.00")
    for _ in range(5):
        desk.tick()
    sent = dispute_message(desk, customer, "collector1", ("INV-LH1", "600.00"))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    walk_to_legal(desk, customer)
    desk.tick(days=0)  # the outbox goes out with the scheduler's round
    [handover] = [e for e in desk.case(customer)["history"] if e["kind"] == "legal_handover"]
    # 1,500.00 open, 600.00 of it disputed: legal pursues (and the provision covers) 900.00.
    assert (handover["detail"]["provision"], handover["detail"]["disputed"]) == ("900.00", "600.00")
    name = f"case-file-{desk.case(customer)['id']}.pdf"
    [mail] = [
        m for m in desk.notices_to("legal1@example.com") if any(p.get_filename() == name for p in m.walk())
    ]
    text = plain(mail)
    assert "900.00" in text and "600.00" in text and "1,500.00" not in text, text
    attachment = next(p for p in mail.walk() if p.get_filename() == name)
    pdf = PdfReader(io.BytesIO(attachment.get_payload(decode=True)))  # the case file is a PDF (issue 20)
    case_file = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    assert "claimed (open, undisputed) €900.00" in case_file
    assert "held by open disputes, not claimed €600.00" in case_file
    disputed = case_file.split("Disputed parts (not claimed)")[1].split("Dunning history")[0]
    assert "INV-LH1" in disputed and "600.00" in disputed and "INV-LH2" not in disputed
    with desk.client.application.extensions["creditflow"].rt.factory() as session:
        [provision] = session.scalars(select(Provision).where(Provision.customer_id == customer)).all()
        assert provision.amount == Decimal("900.00")


def test_two_dispute_messages_at_once_hold_no_more_than_is_open(desk: Collections) -> None:
    customer = desk.customer("Racing Disputes")
    desk.invoice(customer, "INV-RD1", "500.00")
    for _ in range(5):
        desk.tick()
    app = desk.client.application
    body = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {
            "invoices": [{"number": "INV-RD1", "amount": "300.00", "reason": "price"}],
            "owner_group": "sales",
        },
    }
    barrier = threading.Barrier(2)

    def send() -> int:
        client = app.test_client()
        barrier.wait()
        return client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"])).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda _: send(), range(2)))
    assert codes in ([200, 409], [200, 422]), codes
    assert invoices(desk, customer)["INV-RD1"]["disputed_amount"] == "300.00"
    listed = desk.client.get(f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    assert [d["disputed_amount"] for d in listed.json["items"]] == ["300.00"]


def test_a_collector_who_is_also_credit_manager_cannot_approve_the_credit_of_the_dispute_he_sent(
    app: Flask, desk: Collections
) -> None:
    both = person(app, "collmanager", "collections", "credit_manager")
    customer = desk.customer("Messenger Credit")
    desk.invoice(customer, "INV-MC1", "9000.00")
    for _ in range(5):
        desk.tick()
    body = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {
            "invoices": [{"number": "INV-MC1", "amount": "9000.00", "reason": "price"}],
            "owner_group": "sales",
        },
    }
    assert desk.client.post("/api/messages", json=body, headers=auth(both)).status_code == 200
    desk.tick(days=0)  # the queued dispute_resolution reaches sales
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="9000.00"
        ).status_code
        == 200
    )
    approval = task_named(desk, both, "approve_as_manager")
    assert complete(desk, both, approval["id"], decision="approve").status_code == 403
    assert credit_notes(desk, customer) == []
    assert invoices(desk, customer)["INV-MC1"]["open_amount"] == "9000.00"


def test_a_credit_of_everything_dunned_ends_the_notices(desk: Collections) -> None:
    customer = desk.customer("Credited Away")
    desk.invoice(customer, "INV-CA1", "700.00")
    desk.invoice(customer, "INV-CA2", "300.00")
    for _ in range(5):
        desk.tick()
    sent = dispute_message(desk, customer, "collector1", ("INV-CA1", "700.00"), ("INV-CA2", "300.00"))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    desk.tick(days=0)
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="1000.00"
        ).status_code
        == 200
    )
    manager = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert complete(desk, desk.tokens["lead1"], manager["id"], decision="approve").status_code == 200
    assert {n: i["status"] for n, i in invoices(desk, customer).items()} == {
        "INV-CA1": "credited",
        "INV-CA2": "credited",
    }
    seen = len(desk.notices_to("ap@credited.example"))
    for _ in range(30):
        desk.tick()
    notices = [m["Subject"] for m in desk.notices_to("ap@credited.example")[seen:]]
    assert all("reminder" not in s.lower() and "demand" not in s.lower() for s in notices), notices
    assert desk.case(customer)["status"] == "closed"


def test_the_summary_says_what_it_could_not_convert_beside_its_total(desk: Collections) -> None:
    customer = desk.customer("Dollar Disputes", currency="USD")
    body = {
        "customer_id": customer,
        "number": "INV-USD1",
        "amount": "800.00",
        "currency": "USD",
        "issue_date": "2026-02-01",
        "due_date": "2026-03-02",
    }
    assert (
        desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    euro = desk.customer("Euro Disputes")
    desk.invoice(euro, "INV-EUR1", "500.00")
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-USD1", "800.00", "price")).status_code
        == 201
    )
    assert (
        raise_dispute(desk, desk.tokens["collector1"], euro, ("INV-EUR1", "100.00", "price")).status_code
        == 201
    )
    answer = desk.client.get(
        "/api/disputes/summary?from=2026-03-01&to=2026-03-31", headers=auth(desk.tokens["manager1"])
    )
    assert answer.status_code == 200, answer.json
    [row] = answer.json["items"]
    assert (row["count"], row["amount"], row["without_rate"]) == (
        2,
        "100.00",
        [{"amount": "800.00", "currency": "USD"}],
    )
    # The total is not silently the converted part only: what it leaves out is named beside it.
    assert (answer.json["total_count"], answer.json["total_amount"]) == (2, "100.00")
    assert answer.json["without_rate"] == [{"amount": "800.00", "currency": "USD"}]


def test_a_dispute_from_the_call_takes_only_the_undisputed_rest_and_names_each_invoice_once(
    desk: Collections,
) -> None:
    customer = desk.customer("Caller Disputes")
    desk.invoice(customer, "INV-CD1", "1000.00")
    desk.invoice(customer, "INV-CD2", "400.00")
    for _ in range(5):
        desk.tick()
    assert dispute_message(desk, customer, "collector1", ("INV-CD1", "200.00")).status_code == 200
    call = None
    for _ in range(40):
        desk.tick()
        calls = [t for t in desk.open_tasks("collector1") if t["name"] == "call_customer"]
        if calls:
            call = calls[0]
            break
    assert call is not None, "no call task"
    unknown = desk.complete(
        "collector1", call["id"], outcome="disputed", disputed_invoices="INV-CD1,INV-NOPE"
    )
    assert unknown.status_code == 422 and "INV-NOPE" in unknown.json["error"]["message"], unknown.json
    done = desk.complete(
        "collector1",
        call["id"],
        outcome="disputed",
        disputed_invoices=" INV-CD1 ,INV-CD1",
        dispute_reason="price",
    )
    assert done.status_code == 200, done.json
    listed = desk.client.get(f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    amounts = sorted(
        (d["disputed_amount"], [i["number"] for i in d["invoices"]]) for d in listed.json["items"]
    )
    assert amounts == [("200.00", ["INV-CD1"]), ("800.00", ["INV-CD1"])], amounts
    held = invoices(desk, customer)
    assert (held["INV-CD1"]["disputed_amount"], held["INV-CD2"]["disputed_amount"]) == ("1000.00", "0.00")


def deep(levels: int) -> Any:
    nested: Any = "1.00"
    for _ in range(levels):
        nested = {"typename": nested}
    return nested


@pytest.mark.parametrize(
    "data",
    [
        {"invoices": {"number": "INV-PD1", "amount": "1.00", "reason": "price"}, "owner_group": "sales"},
        {"invoices": [{"number": "INV-PD1", "amount": "1.00", "reason": "price"}], "owner_group": ["sales"]},
        {
            "invoices": [{"number": "INV-PD1", "amount": "1.00", "reason": "price"}],
            "owner_group": "collections",
        },
        {"invoices": [{"number": "INV-PD1", "amount": "1.00", "reason": "greed"}], "owner_group": "sales"},
        {"invoices": [{"number": 7, "amount": "1.00", "reason": "price"}], "owner_group": "sales"},
        {"invoices": [{"number": "INV-PD1", "amount": deep(90), "reason": "price"}], "owner_group": "sales"},
        {
            "invoices": [{"number": "INV-PD1", "amount": "1.00", "reason": "price"}] * 201,
            "owner_group": "sales",
        },
        {
            "invoices": [{"number": "INV-PD1", "amount": "1.00", "reason": "price"}],
            "owner_group": "sales",
            "description": "x" * 4001,
        },
        {"invoices": [], "owner_group": "sales"},
    ],
)
def test_a_crafted_dispute_message_is_refused_with_nothing_held(
    desk: Collections, data: dict[str, Any]
) -> None:
    customer = desk.customer("Parsed Disputes")
    desk.invoice(customer, "INV-PD1", "500.00")
    for _ in range(5):
        desk.tick()
    body = {"name": "dispute", "correlation_key": str(customer), "data": data}
    sent = desk.client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"]))
    assert sent.status_code in (400, 422), sent.json
    assert invoices(desk, customer)["INV-PD1"]["disputed_amount"] == "0.00"
    listed = desk.client.get(f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    assert listed.json["items"] == []
    assert desk.case(customer)["status"] == "open"


@pytest.mark.parametrize(
    "query", ["page=0", "customer_id=-1", "customer_id=%00", "page=99999999999999999999"]
)
def test_a_crafted_credit_note_query_is_a_4xx(desk: Collections, query: str) -> None:
    answer = desk.client.get(f"/api/credit-notes?{query}", headers=auth(desk.tokens["finance1"]))
    assert answer.status_code in (400, 422), (query, answer.status_code)
    # A huge page is not refused but served at most 200 rows, as documented.
    huge = desk.client.get("/api/credit-notes?per_page=100000", headers=auth(desk.tokens["finance1"]))
    assert huge.status_code == 200 and huge.json["per_page"] <= 200 and huge.json["items"] == []
