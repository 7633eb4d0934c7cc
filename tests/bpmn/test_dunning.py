"""Dunning end to end: 120 daily ticks over the REST API, e-mail checked at a real SMTP server."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from tests.collections_desk import DUE, Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_unpaid_invoices_climb_the_ladder_to_legal(desk: Collections) -> None:
    customer = desk.customer("Slowpay Trading")
    desk.invoice(customer, "INV-1", "1200.00")
    desk.invoice(customer, "INV-2", "800.50")
    handed_over = False
    for _day in range(120):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            assert task["name"] == "call_customer"
            assert (
                desk.complete(
                    "collector1", task["id"], outcome="unreachable", comment="voicemail"
                ).status_code
                == 200
            )
        for task in desk.open_tasks("manager1"):
            assert task["name"] == "approve_legal_handover"
            assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
            handed_over = True
        if handed_over:
            break
    assert handed_over, "the legal handover never reached the credit manager"
    desk.tick(days=0)  # the scheduler's next round sends what the approval queued
    notices = desk.notices_to("ap@slowpay.example")
    subjects = [m["Subject"].split(":")[0] for m in notices]
    assert subjects == ["Payment reminder", "Second reminder", "Final demand"]
    assert len({m["Message-ID"] for m in notices}) == 3
    for message in notices:
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "INV-1" in text and "INV-2" in text
    case = desk.case(customer)
    assert (case["status"], case["level"], case["fees"]) == ("legal", 4, "40.00")
    levels = [e for e in case["history"] if e["kind"] == "notice_sent"]
    sent_days = [datetime.fromisoformat(e["at"]).date() for e in levels]
    # The ungraded (grade C) ladder: level 1 on day 3 is the first day the case opens (no grace before it).
    assert sent_days == [DUE + timedelta(days=3), DUE + timedelta(days=14), DUE + timedelta(days=25)]
    credit_file = desk.client.get(f"/api/customers/{customer}", headers=auth(desk.tokens["sales1"])).json
    assert credit_file["blocked"] is True
    legal_task = desk.open_tasks("legal1")
    assert [t["name"] for t in legal_task] == ["pursue_legally"]
    case_file = [m for m in desk.sink.messages if m["To"] == "legal1@example.com"]
    assert case_file, "the case file did not reach the legal group"
    # The case file is a PDF letter (issue 20): yagmail sends it as an application/pdf attachment.
    attachment = next(p for p in case_file[0].walk() if p.get_filename() == f"case-file-{case['id']}.pdf")
    assert (attachment.get_content_type(), attachment.get_content_disposition()) == (
        "application/pdf",
        "attachment",
    )
    pdf = PdfReader(io.BytesIO(attachment.get_payload(decode=True)))
    document = "\n".join(page.extract_text() for page in pdf.pages)
    flat = " ".join(document.split())
    assert "INV-2" in document and "Final demand" not in document and "Dunning notice sent" in flat
    # English words and days, no codes or Python reprs, no Chinese (R20 finding 5).
    assert "invoices: INV-1, INV-2" in flat and "Handed over to legal" in flat, flat
    assert not re.search(r"notice_sent|True|False|[{}\[\]']|\d{4}-\d\d-\d\d", flat), flat
    assert not re.search(r"[\u4e00-\u9fff]", flat)
    provisions = desk.client.get(
        f"/api/provisions/preview?as_of={desk.clock.now.date()}", headers=auth(desk.tokens["finance1"])
    )
    assert provisions.status_code == 200, provisions.json
    assert provisions.json["specific_total"] == "2000.50"


def test_full_payment_after_the_first_reminder_closes_the_case(desk: Collections) -> None:
    customer = desk.customer("Quickfix Repairs")
    desk.invoice(customer, "INV-10", "500.00")
    for _ in range(5):
        desk.tick()
    assert [m["Subject"].split(":")[0] for m in desk.notices_to("ap@quickfix.example")] == [
        "Payment reminder"
    ]
    paid = desk.pay(customer, "500.00", "BANK-0001")
    assert paid.status_code == 201 and len(paid.json["delivered_to"]) == 1
    assert desk.pay(customer, "500.00", "BANK-0001").status_code == 409  # never counted twice
    case = desk.case(customer)
    assert case["status"] == "closed" and case["outcome"] == "paid"
    for _ in range(60):
        desk.tick()
    assert len(desk.notices_to("ap@quickfix.example")) == 1


def test_promise_pauses_the_case_and_a_broken_promise_resumes_it(desk: Collections) -> None:
    customer = desk.customer("Promise Keepers")
    desk.invoice(customer, "INV-20", "900.00")
    for _ in range(5):
        desk.tick()
    promised = desk.clock.now.date() + timedelta(days=30)
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": promised.isoformat(), "amount": "900.00"},
    }
    reached = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert len(reached.json["delivered_to"]) == 1
    assert desk.case(customer)["status"] == "paused"
    for _ in range(33):
        desk.tick()
    assert len(desk.notices_to("ap@promise.example")) == 1  # silence while the promise runs (+3 days grace)
    for _ in range(3):
        desk.tick()
    subjects = [m["Subject"].split(":")[0] for m in desk.notices_to("ap@promise.example")]
    assert subjects == ["Payment reminder", "Second reminder"]
    kinds = [e["kind"] for e in desk.case(customer)["history"]]
    assert kinds.index("promise_to_pay") < kinds.index("promise_broken") < len(kinds)


def test_second_tick_and_rerun_on_the_same_day_send_nothing_new(desk: Collections) -> None:
    customer = desk.customer("Double Tick Ltd")
    desk.invoice(customer, "INV-30", "300.00")
    for _ in range(5):
        desk.tick()
    before = len(desk.sink.messages)
    again = desk.tick(days=0)
    assert again["jobs"] == [] and again["timers"] == 0 and again["emails"] == 0
    from workflows.batch.daily_starts import chunked_dunning_run

    rt = desk.client.application.extensions["creditflow"].rt
    assert chunked_dunning_run(rt, desk.clock.now.date(), desk.clock.now)["cases_started"] == 0
    desk.tick(days=0)
    assert len(desk.sink.messages) == before


def test_a_dispute_holds_only_the_disputed_amount_out_of_dunning_and_starts_its_resolution(
    desk: Collections,
) -> None:
    customer = desk.customer("Argue Bargain")
    desk.invoice(customer, "INV-40", "100.00")
    desk.invoice(customer, "INV-41", "700.00")
    for _ in range(5):
        desk.tick()
    disputed = [{"number": "INV-41", "amount": "300.00", "reason": "quality"}]
    message = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {"invoices": disputed, "owner_group": "logistics", "description": "goods damaged"},
    }
    sent = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    [opened] = [e for e in desk.case(customer)["history"] if e["kind"] == "dispute_opened"]
    assert (opened["actor"], opened["detail"]["invoices"]) == ("collector1", disputed)
    # The case does not settle the dispute itself: a dispute_resolution instance, started by the collector,
    # reaches the owner group with the scheduler's next round; the collector gets no credit task.
    desk.tick(days=0)
    [task] = desk.open_tasks("logistics1")
    assert task["name"] == "propose_logistics"
    assert [t["name"] for t in desk.open_tasks("collector1")] == []
    instance = desk.client.get(
        f"/api/process-instances/{task['instance_id']}", headers=auth(desk.tokens["admin"])
    )
    assert (instance.json["process_key"], instance.json["started_by"]) == ("dispute_resolution", "collector1")
    # The rest of the case goes on: the next notice duns INV-40 and the 400.00 of INV-41 nobody disputes.
    for _ in range(10):
        desk.tick()
    second = desk.notices_to("ap@argue.example")[-1].get_body(preferencelist=("plain",)).get_content()
    assert "INV-40" in second and "INV-41" in second
    assert "500.00" in second and "800.00" not in second  # the total dunned, not the total open
    assert desk.case(customer)["status"] == "open"


def test_a_payment_booked_by_a_collector_reaches_the_dunning_case(desk: Collections) -> None:
    # Collections may post payments; the case must hear of them even though only finance may send
    # `payment_received` as a message of its own (the endpoint relays what it recorded).
    customer = desk.customer("Quickfix Repairs")
    desk.invoice(customer, "INV-11", "500.00")
    for _ in range(5):
        desk.tick()
    paid = desk.pay(customer, "500.00", "BANK-0002", by="collector1")
    assert paid.status_code == 201 and len(paid.json["delivered_to"]) == 1
    assert desk.case(customer)["outcome"] == "paid"


def test_payments_allocate_oldest_first_and_keep_overpayment_as_credit(desk: Collections) -> None:
    customer = desk.customer("Allocation Test")
    desk.invoice(customer, "INV-50", "100.00", due=DUE - timedelta(days=10))
    desk.invoice(customer, "INV-51", "100.00")
    paid = desk.pay(customer, "250.00", "BANK-0050")
    assert paid.json["unallocated"] == "50.00"
    invoices = desk.client.get(
        f"/api/invoices?customer_id={customer}", headers=auth(desk.tokens["finance1"])
    ).json
    assert {i["number"]: i["open_amount"] for i in invoices["items"]} == {"INV-50": "0.00", "INV-51": "0.00"}
    assert (
        desk.client.post(
            "/api/invoices",
            json={
                "customer_id": customer,
                "number": "INV-50",
                "amount": "1",
                "currency": "EUR",
                "issue_date": "2026-01-01",
                "due_date": "2026-02-01",
            },
            headers=auth(desk.tokens["finance1"]),
        ).status_code
        == 409
    )
    assert desk.pay(customer, "10.00", "BANK-0051").status_code == 201
    forbidden = desk.client.post("/api/payments", json={}, headers=auth(desk.tokens["sales1"]))
    assert forbidden.status_code == 403


def test_a_late_case_catches_up_each_missed_level_once_five_days_apart(desk: Collections) -> None:
    customer = desk.customer("Longlate Holdings")
    desk.invoice(customer, "INV-60", "5000.00", due=DUE - timedelta(days=100))
    for _ in range(12):
        desk.tick()
    case = desk.case(customer)
    sent = [datetime.fromisoformat(e["at"]).date() for e in case["history"] if e["kind"] == "notice_sent"]
    start = DUE + timedelta(days=1)
    assert sent == [start, start + timedelta(days=5), start + timedelta(days=10)]
    subjects = [m["Subject"].split(":")[0] for m in desk.notices_to("ap@longlate.example")]
    assert subjects == ["Payment reminder", "Second reminder", "Final demand"]


def test_csv_imports_of_invoices_and_payments_are_all_or_nothing(desk: Collections, tmp_path: Any) -> None:
    from workflows.credit.csv_import import ImportRejected
    from workflows.credit.receivables import import_invoices, import_payments
    from workflows.store.db import transaction

    desk.customer("Csv Imports", external_id="ERP-7")
    rt = desk.client.application.extensions["creditflow"].rt
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "customer_external_id,number,amount,currency,issue_date,due_date\n"
        "ERP-7,INV-70,100.00,EUR,2026-01-01,2026-02-01\n"
        "ERP-7,INV-71,50.00,EUR,2026-01-05,2026-02-05\n"
    )
    with transaction(rt.factory) as session:
        assert import_invoices(session, invoices, actor="finance1", now=desk.clock.now).imported == 2
    bad = tmp_path / "payments.csv"
    bad.write_text(
        "customer_external_id,invoice_number,amount,currency,date,reference\n"
        "ERP-7,INV-70,100.00,EUR,2026-02-10,BANK-70\n"
        "ERP-8,,10.00,EUR,2026-02-10,BANK-71\n"
        "ERP-7,INV-99,10.00,USD,2026-02-10,BANK-70\n"
    )
    with pytest.raises(ImportRejected) as rejected, transaction(rt.factory) as session:
        import_payments(session, bad, actor="finance1", now=desk.clock.now)
    errors = rejected.value.report.errors
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4"]
    listed = desk.client.get("/api/invoices?customer_id=1", headers=auth(desk.tokens["finance1"])).json[
        "items"
    ]
    assert {i["number"]: i["open_amount"] for i in listed} == {"INV-70": "100.00", "INV-71": "50.00"}
    aging = desk.client.get("/api/aging?as_of=2026-03-02", headers=auth(desk.tokens["collector1"])).json
    assert aging["total"]["days_1_30"] == "150.00"


def test_dunning_cases_are_started_by_the_system_not_by_people(desk: Collections) -> None:
    customer = desk.customer("Manual Start Ltd")
    start = {"process_key": "dunning", "business_key": str(customer), "data": {"customer_id": customer}}
    for user in ("collector1", "manager1"):
        assert (
            desk.client.post(
                "/api/process-instances", json=start, headers=auth(desk.tokens[user])
            ).status_code
            == 403
        )


def test_messages_correlate_by_customer_not_by_a_clashing_instance_id(desk: Collections) -> None:
    quiet = desk.customer("Quiet Ones")  # customer 1: nothing overdue, no case
    loud = desk.customer("Loud Debtor")
    desk.invoice(loud, "INV-80", "400.00")
    for _ in range(5):
        desk.tick()
    case = desk.case(loud)
    assert case["instance_id"] == quiet  # the clash: instance 1 belongs to customer 2's case
    message = {
        "name": "dispute",
        "correlation_key": str(quiet),
        "data": {
            "invoices": [{"number": "INV-80", "amount": "1.00", "reason": "other"}],
            "owner_group": "sales",
        },
    }
    sent = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert sent.json["delivered_to"] == []
    assert desk.case(loud)["status"] == "open"


def test_a_message_with_unusable_data_is_refused_and_the_case_keeps_running(desk: Collections) -> None:
    customer = desk.customer("Past Promises")
    desk.invoice(customer, "INV-90", "300.00")
    for _ in range(5):
        desk.tick()
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": "2020-01-01", "amount": "300.00"},
    }
    refused = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert refused.status_code == 422
    case = desk.case(customer)
    assert case["status"] == "open"
    instance = desk.client.get(
        f"/api/process-instances/{case['instance_id']}", headers=auth(desk.tokens["admin"])
    )
    assert instance.json["status"] == "running"
    for _ in range(12):
        desk.tick()
    assert desk.case(customer)["level"] >= 2  # escalation went on


def test_overpaying_a_named_invoice_pays_the_oldest_others_first(desk: Collections) -> None:
    customer = desk.customer("Overpayer GmbH")
    desk.invoice(customer, "INV-A", "1000.00")
    desk.invoice(customer, "INV-B", "500.00", due=DUE - timedelta(days=20))
    body = {
        "customer_id": customer,
        "invoice_number": "INV-A",
        "amount": "1600.00",
        "currency": "EUR",
        "date": DUE.isoformat(),
        "reference": "BANK-A",
    }
    paid = desk.client.post("/api/payments", json=body, headers=auth(desk.tokens["finance1"]))
    assert paid.json["unallocated"] == "100.00"
    invoices = desk.client.get(
        f"/api/invoices?customer_id={customer}", headers=auth(desk.tokens["finance1"])
    ).json
    assert {i["number"]: i["status"] for i in invoices["items"]} == {"INV-A": "paid", "INV-B": "paid"}
