"""Hostile review of the audit trail's numbers (issue 14, "An auditor's view"): amounts that an auditor
reconciles came without their currency or without an amount at all.

- The segregation-of-duties report's credit note row said "credit note for INV-41": no amount, no
  currency. A 700.00 credit and a 7,000,000.00 one read the same.
- A contract version's row said "value impact -250000.00" with no currency.
- `invoice_posted` and `payment_received` in the trail carried amounts without their currency (and the
  invoice's issue date, the payment's value date).
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.bpmn import test_supplier_contract_change as contract_change
from tests.collections_desk import Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_credit_note_row_says_how_much_and_in_which_currency(desk: Collections) -> None:
    customer = desk.customer("Argue Bargain")
    desk.invoice(customer, "INV-40", "100.00")
    desk.invoice(customer, "INV-41", "700.00")
    for _ in range(5):
        desk.tick()
    lines = [{"number": "INV-41", "amount": "700.00", "reason": "quality"}]
    message = {
        "name": "dispute",
        "correlation_key": str(customer),
        "data": {"invoices": lines, "owner_group": "sales", "description": "goods damaged"},
    }
    sent = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert sent.json["delivered_to"], sent.json
    desk.tick(days=0)  # the dispute_resolution instance the case queued starts
    [task] = desk.open_tasks("sales1")
    assert desk.complete("sales1", task["id"], decision="accept", credit_amount="700.00").status_code == 200
    [approval] = desk.open_tasks("lead1")
    assert desk.complete("lead1", approval["id"], decision="approve").status_code == 200

    report = desk.client.get("/api/audit/sod", headers=auth(desk.tokens["auditor1"])).json
    [credit] = [r for r in report["items"] if r["kind"] == "dispute_credit"]
    assert "INV-41" in credit["summary"] and "€700.00" in credit["summary"], credit["summary"]
    assert "raised by collector1" in credit["summary"]
    assert (credit["requester"], credit["approvers"]) == ("sales1", ["lead1"])


def test_a_contract_version_row_names_the_currency_of_its_value_impact(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = contract_change.make_contract(client, demo_tokens)
    change = contract_change.started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "900 t"}, "-250000.00"
    )
    contract_change.approve(
        client, demo_tokens["finance1"], contract_change.open_tasks(change)["finance_review"]
    )
    waiting = contract_change.refresh(client, demo_tokens, change["id"])
    contract_change.approve(
        client, demo_tokens["pm1"], contract_change.open_tasks(waiting)["manager_approval"]
    )
    assert contract_change.countersign(client, demo_tokens["buyer1"], change["id"], "Jan Berg")
    report = client.get("/api/audit/sod", headers=auth(demo_tokens["auditor1"])).json
    [version] = [
        r for r in report["items"] if r["kind"] == "contract_version" and r["summary"].startswith("version 2")
    ]
    assert "value impact -€250,000.00" in version["summary"], version["summary"]


def test_invoices_and_payments_in_the_trail_carry_their_currency_and_dates(desk: Collections) -> None:
    customer = desk.customer("Ledger Ltd")
    desk.invoice(customer, "INV-50", "100.00")
    desk.pay(customer, "40.00", "REF-50")
    auditor = auth(desk.tokens["auditor1"])
    [posted] = desk.client.get("/api/audit?kind=invoice_posted", headers=auditor).json["items"]
    assert posted["after"]["currency"] == "EUR" and posted["after"]["issue_date"], posted["after"]
    [paid] = desk.client.get("/api/audit?kind=payment_received", headers=auditor).json["items"]
    assert paid["detail"]["currency"] == "EUR" and paid["detail"]["paid_on"], paid["detail"]
