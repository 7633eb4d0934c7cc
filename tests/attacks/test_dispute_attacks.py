"""Hostile tests of dispute_resolution and the dispute routes: crafted amounts, NUL characters, unknown and
foreign invoices, the wrong groups, and a process owner's one-man diagram. Every refusal is a 4xx naming the
field, and nothing is written: no dispute, no hold on the invoice, no credit note."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.attacks.test_foreign_records import one_task_diagram
from tests.bpmn.test_dispute_resolution import complete, credit_notes, invoices, task_named
from tests.collections_desk import Collections
from tests.handlers.test_money_moves import start
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def raw_start(desk: Collections, token: str, data: dict[str, Any]) -> Any:
    body = {"process_key": "dispute_resolution", "data": data}
    return desk.client.post("/api/process-instances", json=body, headers=auth(token))


def dispute_data(customer: int, number: str, amount: Any, **extra: Any) -> dict[str, Any]:
    line = {"number": number, "amount": amount, "reason": "price"}
    return {"customer_id": customer, "invoices": [line], "owner_group": "sales", **extra}


def nothing_written(desk: Collections, customer: int) -> None:
    listed = desk.client.get(f"/api/disputes?customer_id={customer}", headers=auth(desk.tokens["collector1"]))
    assert listed.json["items"] == []
    assert all(i["disputed_amount"] == "0.00" for i in invoices(desk, customer).values())


@pytest.mark.parametrize("amount", ["-1.00", "0", "1e30", '"1e400"', "NaN", "0.001", '"12,00"'])
def test_a_disputed_amount_that_is_no_positive_amount_is_refused(desk: Collections, amount: str) -> None:
    customer = desk.customer("Crafted Amounts")
    desk.invoice(customer, "INV-A1", "500.00")
    body = (
        f'{{"process_key": "dispute_resolution", "data": {{"customer_id": {customer}, '
        f'"owner_group": "sales", "invoices": [{{"number": "INV-A1", "amount": {amount}, '
        '"reason": "price"}]}}'
    )
    refused = desk.client.post(
        "/api/process-instances",
        data=body,
        content_type="application/json",
        headers=auth(desk.tokens["collector1"]),
    )
    assert refused.status_code in (400, 422), refused.json
    assert refused.status_code == 400 or "invoices" in refused.json["error"]["message"]
    nothing_written(desk, customer)


def test_more_than_is_open_an_unknown_invoice_and_another_customers_invoice_are_refused_alike(
    desk: Collections,
) -> None:
    customer = desk.customer("Greedy Claims")
    other = desk.customer("Someone Else")
    desk.invoice(customer, "INV-G1", "500.00")
    desk.invoice(other, "INV-O1", "900.00")
    too_much = raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-G1", "500.01"))
    assert too_much.status_code == 422 and "invoices[0].amount" in too_much.json["error"]["message"]
    unknown = raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-NONE", "1.00"))
    foreign = raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-O1", "1.00"))
    for refused, number in ((unknown, "INV-NONE"), (foreign, "INV-O1")):
        assert refused.status_code == 422, refused.json
        assert f"has no invoice {number}" in refused.json["error"]["message"]
    nothing_written(desk, customer)
    nothing_written(desk, other)
    # Two disputes may not hold more than is open between them.
    assert (
        raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-G1", "400.00")).status_code
        == 201
    )
    again = raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-G1", "100.01"))
    assert again.status_code == 422 and "€100.00 open and not yet disputed" in again.json["error"]["message"]


def test_a_nul_character_in_a_dispute_is_refused(desk: Collections) -> None:
    customer = desk.customer("Nul Disputes")
    desk.invoice(customer, "INV-N1", "500.00")
    for data in (
        dispute_data(customer, "INV-N1", "10.00", description="a\x00b"),
        dispute_data(customer, "INV-\x00N1", "10.00"),
    ):
        refused = raw_start(desk, desk.tokens["collector1"], data)
        assert refused.status_code in (400, 422) and "NUL" in refused.json["error"]["message"], refused.json
    nothing_written(desk, customer)


@pytest.mark.parametrize("credit", ["-1.00", "1e30", "NaN", "500.01", "0.001"])
def test_a_credit_below_zero_above_the_disputed_amount_or_huge_is_refused(
    desk: Collections, credit: str
) -> None:
    customer = desk.customer("Credit Crafters")
    desk.invoice(customer, "INV-K1", "900.00")
    assert (
        raw_start(desk, desk.tokens["collector1"], dispute_data(customer, "INV-K1", "500.00")).status_code
        == 201
    )
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    refused = complete(desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount=credit)
    assert refused.status_code == 422 and "credit_amount" in refused.json["error"]["message"], refused.json
    # A rejection that credits something is refused too.
    refused = complete(desk, desk.tokens["sales1"], proposal["id"], decision="reject", credit_amount="1.00")
    assert refused.status_code == 422 and "credit_amount" in refused.json["error"]["message"], refused.json
    assert task_named(desk, desk.tokens["sales1"], "propose_sales")["id"] == proposal["id"]  # still open
    assert credit_notes(desk, customer) == []


def test_only_collections_raise_disputes_and_only_the_owner_and_approving_groups_act(
    desk: Collections,
) -> None:
    customer = desk.customer("Wrong Hands")
    desk.invoice(customer, "INV-W1", "900.00")
    data = dispute_data(customer, "INV-W1", "300.00")
    for user in ("sales1", "finance1", "lead1", "manager1", "auditor1", "logistics1"):
        assert raw_start(desk, desk.tokens[user], data).status_code == 403, user
    nothing_written(desk, customer)
    assert raw_start(desk, desk.tokens["collector1"], data).status_code == 201
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    for user in ("logistics1", "finance1", "collector1", "lead1", "auditor1"):
        refused = complete(desk, desk.tokens[user], proposal["id"], decision="accept", credit_amount="300.00")
        assert refused.status_code == 403, user
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="300.00"
        ).status_code
        == 200
    )
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    for user in ("sales1", "collector1", "manager1", "auditor1"):  # 300 EUR: the lead's, not the manager's
        assert complete(desk, desk.tokens[user], approval["id"], decision="approve").status_code == 403, user
    assert credit_notes(desk, customer) == []
    for route in ("/api/disputes", "/api/credit-notes", "/api/disputes/summary"):
        assert desk.client.get(route, headers=auth(desk.tokens["owner1"])).status_code == 403
        assert desk.client.get(route).status_code == 401


def test_a_one_man_diagram_cannot_hold_invoices_out_of_dunning(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], desk: Collections
) -> None:
    customer = desk.customer("Held Hostage")
    desk.invoice(customer, "INV-H1", "900.00")
    key = one_task_diagram(
        app,
        client,
        demo_tokens,
        "dispute.open",
        customer_id="customer_id",
        invoices='[{"number": "INV-H1", "amount": "900.00", "reason": "other"}]',
        owner_group='"sales"',
    )
    refused = start(client, demo_tokens["owner1"], key, {"customer_id": customer})
    assert refused.status_code == 422, refused.json
    assert "raised by collections" in refused.json["error"]["message"]
    nothing_written(desk, customer)


@pytest.mark.parametrize(
    "query",
    ["from=2026-13-01", "from=x&to=y", "from=2026-03-31&to=2026-03-01", "from=1900-01-01&to=2026-01-01"],
)
def test_a_crafted_summary_period_is_refused(desk: Collections, query: str) -> None:
    answer = desk.client.get(f"/api/disputes/summary?{query}", headers=auth(desk.tokens["manager1"]))
    assert answer.status_code in (400, 422), answer.json


def test_a_crafted_dispute_list_query_is_a_4xx(desk: Collections) -> None:
    for query in ("status=nope", "status=%00", "customer_id=-1", "customer_id=99999999999999999999999"):
        answer = desk.client.get(f"/api/disputes?{query}", headers=auth(desk.tokens["manager1"]))
        assert answer.status_code in (400, 422), (query, answer.json)
    assert desk.client.get("/api/disputes/99999", headers=auth(desk.tokens["manager1"])).status_code == 404
