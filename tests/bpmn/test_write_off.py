"""Write-offs and legal outcomes end to end: a dunning case walked to legal, legal's outcome, the approvals by
amount (write_off_authority.dmn), the posting (invoices written off, the provision used), the days after
(no notice, still blocked), a later recovery, and the block a credit manager lifts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")


def walk_to_legal(desk: Collections, customer: int) -> None:
    """Tick day by day until the credit manager approved the legal handover and legal holds the case."""
    for _day in range(120):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            if task["name"] == "call_customer":
                desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
        for task in desk.open_tasks("manager1"):
            if task["name"] == "approve_legal_handover":
                assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
                return
    raise AssertionError("the legal handover never reached the credit manager")


def task_named(desk: Collections, user: str, name: str) -> dict[str, Any]:
    [task] = [t for t in desk.open_tasks(user) if t["name"] == name]
    return task


def invoices_of(desk: Collections, customer: int) -> dict[str, dict[str, Any]]:
    answer = desk.client.get(f"/api/invoices?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    assert answer.status_code == 200, answer.json
    return {i["number"]: i for i in answer.json["items"]}


def customer_file(desk: Collections, customer: int) -> dict[str, Any]:
    answer = desk.client.get(f"/api/customers/{customer}", headers=auth(desk.tokens["manager1"]))
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def write_offs_of(desk: Collections, customer: int) -> list[dict[str, Any]]:
    answer = desk.client.get(f"/api/write-offs?customer_id={customer}", headers=auth(desk.tokens["finance1"]))
    assert answer.status_code == 200, answer.json
    return list(answer.json["items"])


def dunning_cases(desk: Collections, customer: int) -> list[dict[str, Any]]:
    answer = desk.client.get(
        f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
    )
    return list(answer.json["items"])


def subjects(messages: Iterable[Any]) -> list[str]:
    return [m["Subject"] for m in messages]


def test_a_written_off_debtor_gets_no_notice_the_next_day_and_stays_blocked(desk: Collections) -> None:
    customer = desk.customer("Gone Bust Trading")
    desk.invoice(customer, "WO-1", "1200.00")
    desk.invoice(customer, "WO-2", "800.50")
    walk_to_legal(desk, customer)
    pursue = task_named(desk, "legal1", "pursue_legally")
    done = desk.complete(
        "legal1", pursue["id"], legal_outcome="uncollectable", legal_amount="0", legal_costs="350.00"
    )
    assert done.status_code == 200, done.json
    desk.tick(days=0)  # the next scheduler round starts the write_off instance the legal step queued
    assert customer_file(desk, customer)["blocked"] is True
    [proposal] = write_offs_of(desk, customer)
    assert (proposal["status"], proposal["requested_by"], proposal["write_off_amount"]) == (
        "proposed",
        "legal1",
        "2000.50",
    )
    # While the proposal waits for approval, the daily run opens no new case for the still open invoices.
    waiting = len(desk.notices_to("ap@gone.example"))
    for _day in range(3):
        desk.tick()
    assert len(desk.notices_to("ap@gone.example")) == waiting
    assert [c["status"] for c in dunning_cases(desk, customer)] == ["closed"]
    approval = task_named(desk, "manager1", "manager_approval")
    assert (
        desk.complete("manager1", approval["id"], decision="approve", comment="insolvent").status_code == 200
    )

    invoices = invoices_of(desk, customer)
    assert {n: (i["status"], i["open_amount"]) for n, i in invoices.items()} == {
        "WO-1": ("written_off", "0.00"),
        "WO-2": ("written_off", "0.00"),
    }
    [posted] = write_offs_of(desk, customer)
    assert posted["status"] == "posted" and posted["approved_by"] == ["manager1"]
    # The 100 % provision of the legal handover is used by the write-off, line by line, exactly.
    assert {line["invoice_number"]: line["provision_used"] for line in posted["lines"]} == {
        "WO-1": "1200.00",
        "WO-2": "800.50",
    }
    assert sum(Decimal(line["costs"]) for line in posted["lines"]) == Decimal("350.00")
    notices_before = len(desk.notices_to("ap@gone.example"))
    for _day in range(30):
        desk.tick()
    assert len(desk.notices_to("ap@gone.example")) == notices_before, subjects(
        desk.notices_to("ap@gone.example")
    )
    assert customer_file(desk, customer)["blocked"] is True
    assert [c["status"] for c in dunning_cases(desk, customer)] == ["closed"]  # no second case
    # manager1 was asked to approve, and legal1 is told the decision.
    assert any(
        m["Subject"].startswith("Write-off to approve") for m in desk.notices_to("manager1@example.com")
    )
    assert any("write off" in m["Subject"] for m in desk.notices_to("legal1@example.com"))


def test_a_settled_case_writes_off_the_rest_and_a_later_recovery_posts(desk: Collections) -> None:
    customer = desk.customer("Halfway Imports")
    desk.invoice(customer, "ST-1", "1000.00")
    desk.invoice(customer, "ST-2", "1000.00")
    walk_to_legal(desk, customer)
    pursue = task_named(desk, "legal1", "pursue_legally")
    done = desk.complete("legal1", pursue["id"], legal_outcome="settled", legal_amount="600.00")
    assert done.status_code == 200, done.json
    desk.tick(days=0)
    approval = task_named(desk, "manager1", "manager_approval")
    assert desk.complete("manager1", approval["id"], decision="approve").status_code == 200
    invoices = invoices_of(desk, customer)
    # 1,400 written off from the newest invoice back; the settlement's 600 stays owed on the oldest.
    assert {n: (i["status"], i["open_amount"]) for n, i in invoices.items()} == {
        "ST-1": ("written_off", "600.00"),
        "ST-2": ("written_off", "0.00"),
    }
    [posted] = write_offs_of(desk, customer)
    assert {line["invoice_number"]: (line["amount"], line["provision_used"]) for line in posted["lines"]} == {
        "ST-2": ("1000.00", "1000.00"),
        "ST-1": ("400.00", "400.00"),
    }
    # The settlement is paid as a payment; money beyond what was settled is a recovery.
    paid = desk.client.post(
        "/api/payments",
        json={
            "customer_id": customer,
            "amount": "600.00",
            "currency": "EUR",
            "date": desk.clock.now.date().isoformat(),
            "invoice_number": "ST-1",
            "reference": "SETTLEMENT-1",
        },
        headers=auth(desk.tokens["finance1"]),
    )
    assert paid.status_code == 201, paid.json
    settled = invoices_of(desk, customer)["ST-1"]
    assert (settled["status"], settled["open_amount"]) == ("written_off", "0.00")  # stays written off
    more = {
        "customer_id": customer,
        "amount": "250.00",
        "currency": "EUR",
        "date": desk.clock.now.date().isoformat(),
        "invoice_number": "ST-2",
        "reference": "RECOVERY-1",
    }
    refused = desk.client.post("/api/payments", json=more, headers=auth(desk.tokens["finance1"]))
    assert refused.status_code == 409 and "/api/recoveries" in refused.json["error"]["message"]
    recovered = desk.client.post("/api/recoveries", json=more, headers=auth(desk.tokens["finance1"]))
    assert recovered.status_code == 201, recovered.json
    assert (recovered.json["invoice_number"], recovered.json["amount"], recovered.json["posted_by"]) == (
        "ST-2",
        "250.00",
        "finance1",
    )
    again = desk.client.post("/api/recoveries", json=more, headers=auth(desk.tokens["finance1"]))
    assert again.status_code == 409  # the same bank reference is never counted twice
    too_much = {**more, "amount": "750.01", "reference": "RECOVERY-2"}
    over = desk.client.post("/api/recoveries", json=too_much, headers=auth(desk.tokens["finance1"]))
    assert over.status_code == 422 and "amount" in over.json["error"]["fields"]
    listed = desk.client.get(f"/api/recoveries?customer_id={customer}", headers=auth(desk.tokens["auditor1"]))
    assert [r["reference"] for r in listed.json["items"]] == ["RECOVERY-1"]
    assert [r["amount"] for r in customer_file(desk, customer)["recoveries"]] == ["250.00"]
    page = logged_in(desk.client.application, "manager1").get(f"/customers/{customer}").get_data(as_text=True)
    assert "Legal outcomes and write-offs" in page and "RECOVERY-1" in page and "€1,400.00" in page
    for _day in range(20):
        desk.tick()
    assert [c["status"] for c in dunning_cases(desk, customer)] == ["closed"]


def test_only_a_credit_manager_lifts_the_block_a_legal_outcome_left(desk: Collections) -> None:
    customer = desk.customer("Blocked Forever")
    desk.invoice(customer, "BF-1", "900.00")
    walk_to_legal(desk, customer)
    pursue = task_named(desk, "legal1", "pursue_legally")
    desk.complete("legal1", pursue["id"], legal_outcome="uncollectable")
    desk.tick(days=0)
    desk.complete("manager1", task_named(desk, "manager1", "manager_approval")["id"], decision="approve")
    body = {"reason": "new owner, cash in advance"}
    for user in ("collector1", "legal1", "finance1", "analyst1", "auditor1"):
        refused = desk.client.post(
            f"/api/customers/{customer}/unblock", json=body, headers=auth(desk.tokens[user])
        )
        assert refused.status_code == 403, user
    lifted = desk.client.post(
        f"/api/customers/{customer}/unblock", json=body, headers=auth(desk.tokens["manager1"])
    )
    assert lifted.status_code == 200, lifted.json
    assert lifted.json == {
        "id": customer,
        "blocked": False,
        "unblocked_by": "manager1",
        "reason": body["reason"],
    }
    assert customer_file(desk, customer)["blocked"] is False
    again = desk.client.post(
        f"/api/customers/{customer}/unblock", json=body, headers=auth(desk.tokens["manager1"])
    )
    assert again.status_code == 409
    audit = desk.client.get(
        "/api/audit?kind=customer_unblocked&actor=manager1", headers=auth(desk.tokens["auditor1"])
    )
    assert audit.status_code == 200 and audit.json["total"] == 1


def user_in(app: Flask, name: str, groups: list[str]) -> str:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, name, groups=groups, now=svc.clock(), email=f"{name}@example.com")
        return issue_token(session, name, svc.clock())


def start_write_off(desk: Collections, token: str, customer: int, **data: Any) -> Any:
    body = {"process_key": "write_off", "data": {"customer_id": customer, **data}}
    return desk.client.post("/api/process-instances", json=body, headers=auth(token))


def test_the_proposer_cannot_approve_and_above_the_threshold_the_cfo_must(
    app: Flask, desk: Collections
) -> None:
    customer = desk.customer("Big Loss Holdings")
    desk.invoice(customer, "BL-1", "60000.00")
    both = user_in(app, "legalmanager1", ["legal", "credit_manager"])
    started = start_write_off(desk, both, customer, outcome="uncollectable", amount=0, costs=1200)
    assert started.status_code == 201, started.json
    instance = started.json["id"]
    [task] = [t for t in started.json["tasks"] if t["name"] == "manager_approval"]
    refused = desk.client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(both)
    )
    assert refused.status_code == 403  # the proposer never approves
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    # 60,000 EUR is above the 50,000 threshold: nothing is written off until the CFO approves.
    assert invoices_of(desk, customer)["BL-1"]["status"] == "open"
    cfo_task = task_named(desk, "cfo1", "cfo_approval")
    assert cfo_task["instance_id"] == instance
    assert desk.complete("cfo1", cfo_task["id"], decision="approve").status_code == 200
    assert invoices_of(desk, customer)["BL-1"]["status"] == "written_off"
    [posted] = write_offs_of(desk, customer)
    assert posted["approved_by"] == ["manager1", "cfo1"] and posted["requested_by"] == "legalmanager1"


def test_without_an_exchange_rate_the_cfo_decides(desk: Collections) -> None:
    customer = desk.customer("Dollar Debtor", currency="USD")
    body = {
        "customer_id": customer,
        "number": "USD-1",
        "amount": "100.00",
        "currency": "USD",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
    }
    assert (
        desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    desk.complete("manager1", task_named(desk, "manager1", "manager_approval")["id"], decision="approve")
    assert invoices_of(desk, customer)["USD-1"]["status"] == "open"
    assert task_named(desk, "cfo1", "cfo_approval")["instance_id"] == started.json["id"]


def test_a_rejected_write_off_leaves_the_invoices_open_and_tells_legal(desk: Collections) -> None:
    customer = desk.customer("Not Yet Lost")
    desk.invoice(customer, "NY-1", "700.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="settled", amount="300.00")
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    assert desk.complete("manager1", task["id"], decision="reject", comment="keep suing").status_code == 200
    assert invoices_of(desk, customer)["NY-1"]["status"] == "open"
    [rejected] = write_offs_of(desk, customer)
    assert (rejected["status"], rejected["decided_by"], rejected["lines"]) == ("rejected", "manager1", [])
    desk.tick(days=0)
    assert any("rejected" in m["Subject"] for m in desk.notices_to("legal1@example.com"))


def test_a_settlement_must_be_less_than_the_open_amount(desk: Collections) -> None:
    customer = desk.customer("Overpromise Ltd")
    desk.invoice(customer, "OP-1", "500.00")
    too_much = start_write_off(desk, desk.tokens["legal1"], customer, outcome="settled", amount="500.00")
    assert too_much.status_code == 422, too_much.json
    assert write_offs_of(desk, customer) == []
    not_legal = start_write_off(desk, desk.tokens["collector1"], customer, outcome="uncollectable", amount=0)
    assert not_legal.status_code == 403


def test_a_write_off_uses_only_the_provision_a_recovery_left(desk: Collections) -> None:
    """A payment on provided invoices releases its share of the provision; the write-off uses only the rest,
    never the released part (an invoice issued after the handover has no provision behind it)."""
    customer = desk.customer("Partly Paid Ltd")
    desk.invoice(customer, "PP-1", "1200.00")
    desk.invoice(customer, "PP-2", "800.50")
    walk_to_legal(desk, customer)
    paid = desk.client.post(
        "/api/payments",
        json={
            "customer_id": customer,
            "amount": "1200.00",
            "currency": "EUR",
            "date": desk.clock.now.date().isoformat(),
            "invoice_number": "PP-1",
            "reference": "PP-BANK-1",
        },
        headers=auth(desk.tokens["finance1"]),
    )
    assert paid.status_code == 201, paid.json
    desk.invoice(customer, "PP-3", "500.00", due=desk.clock.now.date() + timedelta(days=30))
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    desk.complete("manager1", task_named(desk, "manager1", "manager_approval")["id"], decision="approve")
    [posted] = [w for w in write_offs_of(desk, customer) if w["status"] == "posted"]
    assert posted["write_off_amount"] == "1300.50"
    assert sum(Decimal(line["provision_used"]) for line in posted["lines"]) == Decimal("800.50")
