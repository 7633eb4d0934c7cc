"""dispute_resolution end to end over the REST API: a collector raises a dispute, the owner group proposes,
a second person approves by amount, and an approved credit posts credit notes for the disputed amount only.

Before this process, a dispute's "upheld" resolution cancelled every disputed invoice in full, and the
collector who upheld it could approve it in a diagram without four-eyes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.collections_desk import Collections
from tests.handlers.test_money_moves import person
from tests.helpers import auth
from tests.webui.test_pages import logged_in

pytestmark = pytest.mark.usefixtures("shipped")


def raise_dispute(
    desk: Collections, token: str, customer: int, *lines: tuple[str, str, str], owner: str = "sales"
) -> Any:
    data = {
        "customer_id": customer,
        "invoices": [{"number": n, "amount": a, "reason": r} for n, a, r in lines],
        "owner_group": owner,
        "description": "the customer says the price was agreed lower",
    }
    return desk.client.post(
        "/api/process-instances",
        json={"process_key": "dispute_resolution", "data": data},
        headers=auth(token),
    )


def task_named(desk: Collections, token: str, name: str) -> dict[str, Any]:
    [task] = [
        t for t in desk.client.get("/api/tasks", headers=auth(token)).json["items"] if t["name"] == name
    ]
    return dict(task)


def complete(desk: Collections, token: str, task_id: int, **data: Any) -> Any:
    return desk.client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(token))


def invoices(desk: Collections, customer: int) -> dict[str, dict[str, Any]]:
    rows = desk.client.get(
        f"/api/invoices?customer_id={customer}", headers=auth(desk.tokens["finance1"])
    ).json
    return {i["number"]: i for i in rows["items"]}


def credit_notes(desk: Collections, customer: int) -> list[dict[str, Any]]:
    answer = desk.client.get(
        f"/api/credit-notes?customer_id={customer}", headers=auth(desk.tokens["finance1"])
    )
    assert answer.status_code == 200, answer.json
    return list(answer.json["items"])


def test_an_accepted_dispute_credits_only_the_disputed_amount_with_a_credit_note(desk: Collections) -> None:
    customer = desk.customer("Partial Credit Ltd")
    desk.invoice(customer, "INV-D1", "25650.00")
    desk.invoice(customer, "INV-D2", "1000.00")
    started = raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-D1", "1200.00", "price"))
    assert started.status_code == 201, started.json
    held = invoices(desk, customer)["INV-D1"]
    assert (held["open_amount"], held["disputed_amount"]) == ("25650.00", "1200.00")
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    # More than the disputed amount is refused, naming the field; nothing is written.
    too_much = complete(
        desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="1200.01"
    )
    assert too_much.status_code == 422, too_much.json
    assert "credit_amount" in too_much.json["error"]["message"]
    ok = complete(desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="1000.00")
    assert ok.status_code == 200, ok.json
    # 1,000 EUR is within the collections lead's authority.
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert (
        complete(desk, desk.tokens["lead1"], approval["id"], decision="approve", comment="ok").status_code
        == 200
    )
    after = invoices(desk, customer)
    assert (after["INV-D1"]["status"], after["INV-D1"]["open_amount"]) == ("open", "24650.00")
    assert after["INV-D1"]["disputed_amount"] == "0.00"
    assert (after["INV-D2"]["status"], after["INV-D2"]["open_amount"]) == ("open", "1000.00")
    [note] = credit_notes(desk, customer)
    assert (note["invoice_number"], note["amount"], note["approved_by"]) == ("INV-D1", "1000.00", ["lead1"])
    assert note["requested_by"] == "sales1"
    dispute = desk.client.get(
        f"/api/disputes/{note['dispute_id']}", headers=auth(desk.tokens["collector1"])
    ).json
    assert (dispute["status"], dispute["credited_amount"], dispute["raised_by"]) == (
        "credited",
        "1000.00",
        "collector1",
    )
    customer_file = desk.client.get(f"/api/customers/{customer}", headers=auth(desk.tokens["sales1"])).json
    assert [n["amount"] for n in customer_file["credit_notes"]] == ["1000.00"]
    page = logged_in(desk.client.application, "sales1").get(f"/customers/{customer}").get_data(as_text=True)
    assert "Disputes and credit notes" in page and "€1,000.00" in page and "lead1" in page
    desk.tick(days=0)
    told = desk.notices_to("ap@partial.example")
    assert told and "1,000.00" in told[0].get_body(preferencelist=("plain",)).get_content()


def test_the_collector_who_proposes_a_dispute_credit_cannot_approve_it(app: Flask, desk: Collections) -> None:
    # A collector who also works in finance (the owner group) and holds both approving groups.
    dual = person(app, "dual", "collections", "finance", "collections_lead", "credit_manager")
    customer = desk.customer("Selfcredit Trading")
    desk.invoice(customer, "INV-S1", "25650.00")
    started = raise_dispute(
        desk, desk.tokens["collector1"], customer, ("INV-S1", "25650.00", "quality"), owner="finance"
    )
    assert started.status_code == 201, started.json
    proposal = task_named(desk, dual, "propose_finance")
    assert (
        complete(desk, dual, proposal["id"], decision="accept", credit_amount="25650.00").status_code == 200
    )
    # Above 5,000 EUR: the credit manager; dual is one, but proposed the credit.
    approval = task_named(desk, desk.tokens["manager1"], "approve_as_manager")
    refused = complete(desk, dual, approval["id"], decision="approve")
    assert refused.status_code == 403, refused.json
    assert invoices(desk, customer)["INV-S1"]["open_amount"] == "25650.00"
    assert credit_notes(desk, customer) == []
    assert complete(desk, desk.tokens["manager1"], approval["id"], decision="approve").status_code == 200
    after = invoices(desk, customer)["INV-S1"]
    assert (after["status"], after["open_amount"]) == ("credited", "0.00")
    [note] = credit_notes(desk, customer)
    assert (note["approved_by"], note["requested_by"]) == (["manager1"], "dual")


def test_a_rejected_dispute_releases_the_hold_and_credits_nothing(desk: Collections) -> None:
    customer = desk.customer("Wrongclaim GmbH")
    desk.invoice(customer, "INV-R1", "500.00")
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-R1", "500.00", "delivery")).status_code
        == 201
    )
    assert invoices(desk, customer)["INV-R1"]["disputed_amount"] == "500.00"
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="reject", comment="delivered"
        ).status_code
        == 200
    )
    assert invoices(desk, customer)["INV-R1"]["disputed_amount"] == "0.00"
    assert credit_notes(desk, customer) == []
    listed = desk.client.get(
        f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"])
    ).json
    assert [(d["status"], d["proposed_by"]) for d in listed["items"]] == [("rejected", "sales1")]


def test_the_summary_counts_disputes_by_reason_and_month(desk: Collections) -> None:
    customer = desk.customer("Counted Ltd")
    desk.invoice(customer, "INV-C1", "300.00")
    desk.invoice(customer, "INV-C2", "700.00")
    lines = (("INV-C1", "100.00", "price"), ("INV-C2", "250.50", "price"))
    assert raise_dispute(desk, desk.tokens["collector1"], customer, *lines).status_code == 201
    assert (
        raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-C1", "50.00", "duplicate")).status_code
        == 201
    )
    answer = desk.client.get(
        "/api/disputes/summary?from=2026-03-01&to=2026-03-31", headers=auth(desk.tokens["manager1"])
    )
    assert answer.status_code == 200, answer.json
    rows = {(r["month"], r["reason"]): r for r in answer.json["items"]}
    assert (rows[("2026-03", "price")]["count"], rows[("2026-03", "price")]["amount"]) == (2, "350.50")
    assert (rows[("2026-03", "duplicate")]["count"], rows[("2026-03", "duplicate")]["amount"]) == (1, "50.00")
    assert answer.json["currency"] == "EUR"
    assert Decimal(answer.json["total_amount"]) == Decimal("400.50")


def test_the_demo_has_one_open_dispute_in_the_owner_groups_inbox(desk: Collections) -> None:
    from workflows.cli.demo import seed_demo, start_demo_cases
    from workflows.store.db import transaction

    svc = desk.client.application.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
    start_demo_cases(svc.rt, svc.clock())
    [dispute] = desk.client.get("/api/disputes?status=open", headers=auth(desk.tokens["sales1"])).json[
        "items"
    ]
    assert (dispute["customer_name"], dispute["owner_group"], dispute["raised_by"]) == (
        "Helios Utilities plc",
        "sales",
        "collector1",
    )
    task = task_named(desk, desk.tokens["sales1"], "propose_sales")
    assert task["subject"] == "Helios Utilities plc: dispute 1, £2,400.00", task


def test_a_promise_is_measured_against_the_undisputed_rest_of_the_case(desk: Collections) -> None:
    customer = desk.customer("Promising Partly")
    desk.invoice(customer, "INV-P1", "1000.00")
    for _ in range(5):
        desk.tick()
    lines = [{"number": "INV-P1", "amount": "800.00", "reason": "quality"}]
    dispute = {"invoices": lines, "owner_group": "sales", "description": "half the goods were broken"}
    for name, data in (
        ("dispute", dispute),
        # 60.00 is 30 % of the 200.00 dunned, but 6 % of the 1,000.00 open: within the 25 % floor only if
        # the held amount is left out.
        (
            "promise_to_pay",
            {"promised_date": (desk.clock.now.date().replace(day=20)).isoformat(), "amount": "60.00"},
        ),
    ):
        body = {"name": name, "correlation_key": str(customer), "data": data}
        sent = desk.client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"]))
        assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    case = desk.case(customer)
    assert case["status"] == "paused", case["history"][-3:]
    assert [t["name"] for t in desk.open_tasks("manager1")] == []
