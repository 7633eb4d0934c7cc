"""Crafted data over the REST API against the shipped processes: answered with 2xx or a 422 naming the
field, and the instance always goes on with its next task (issue 13's hostile review)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import make_contract
from tests.collections_desk import Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

CRAFTED = {"typename": "zzz", "nested": [{"typename": "BpmnWorkflow"}, {"typename": "Decimal", "value": "x"}]}


def dunning_case(desk: Collections, name: str) -> int:
    customer = desk.customer(name)
    desk.invoice(customer, "INV-1", "100.00")
    desk.invoice(customer, "INV-2", "700.00")
    for _ in range(5):
        desk.tick()
    return customer


def message(desk: Collections, name: str, customer: int, data: dict[str, Any]) -> Any:
    body = {"name": name, "correlation_key": str(customer), "data": data}
    return desk.client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"]))


def test_a_typename_dispute_is_answered_and_its_resolution_completes_its_next_task(desk: Collections) -> None:
    customer = dunning_case(desk, "Typename Trading")
    lines = [{"number": "INV-2", "amount": "700.00", "reason": "quality"}]
    data = {
        "invoices": lines,
        "owner_group": "sales",
        "description": "goods damaged",
        "x": {"typename": "zzz"},
    }
    data["y"] = CRAFTED
    sent = message(desk, "dispute", customer, data)
    assert sent.status_code == 200, sent.json
    assert len(sent.json["delivered_to"]) == 1
    desk.tick(days=0)  # the dispute_resolution instance the case queued starts
    [task] = desk.open_tasks("sales1")
    assert task["name"] == "propose_sales"
    # A form with a crafted field next to the declared ones: the extra field is dropped, the process goes on.
    done = desk.complete("sales1", task["id"], decision="reject", comment="ok", x={"typename": "zzz"})
    assert done.status_code == 200, done.json
    desk.tick()  # the next step loads the saved state again
    [instance_id] = sent.json["delivered_to"]
    instance = desk.client.get(f"/api/process-instances/{instance_id}", headers=auth(desk.tokens["admin"]))
    assert instance.status_code == 200 and instance.json["status"] == "running"
    # The message's schema drops fields it does not declare; whatever is kept comes back exactly.
    kept = instance.json["data"]["dispute"]
    assert "x" not in kept and "y" not in kept
    assert kept["invoices"] == lines and kept["owner_group"] == "sales"


@pytest.mark.parametrize("amount", ["1e400", '"1e400"', '"1e30"', "NaN", '"NaN"', "-Infinity", '"0.001"'])
def test_a_promise_with_an_unusable_amount_is_a_422_and_the_case_is_untouched(
    desk: Collections, amount: str
) -> None:
    customer = dunning_case(desk, "Huge Promises")
    before = desk.case(customer)
    body = (
        f'{{"name": "promise_to_pay", "correlation_key": "{customer}", '
        f'"data": {{"promised_date": "2026-04-30", "amount": {amount}}}}}'
    )
    sent = desk.client.post(
        "/api/messages", data=body, content_type="application/json", headers=auth(desk.tokens["collector1"])
    )
    assert sent.status_code == 422, sent.json
    assert "amount" in sent.json["error"]["message"]
    assert desk.case(customer) == before
    fine = {"promised_date": "2026-04-30", "amount": "900.00"}
    assert message(desk, "promise_to_pay", customer, fine).status_code == 200


def test_a_nul_character_in_a_message_is_refused_and_the_case_is_untouched(desk: Collections) -> None:
    customer = dunning_case(desk, "Nul Bytes")
    before = desk.case(customer)
    lines = [{"number": "INV-1", "amount": "1.00", "reason": "other"}]
    sent = message(
        desk, "dispute", customer, {"invoices": lines, "owner_group": "sales", "description": "a\x00b"}
    )
    assert sent.status_code in (400, 422) and "NUL" in sent.json["error"]["message"]
    assert desk.case(customer) == before


def start(client: FlaskClient, token: str, key: str, data: dict[str, Any]) -> Any:
    body = {"process_key": key, "data": data}
    return client.post("/api/process-instances", json=body, headers=auth(token))


def test_a_typename_start_field_starts_the_change_and_its_tasks_complete(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    data = {
        "contract_id": contract["id"],
        "change_type": "clauses",
        "changes": {"typename": "zzz", "penalty": "5 % per week"},
        "value_impact": "-1500.00",  # as the API writes amounts
        "reason": "new clause",
    }
    started = start(client, demo_tokens["buyer1"], "supplier_contract_change", data)
    assert started.status_code == 201, started.json
    instance = client.get(f"/api/process-instances/{started.json['id']}", headers=auth(demo_tokens["admin"]))
    assert instance.json["data"]["changes"] == data["changes"]
    tasks = client.get("/api/tasks", headers=auth(demo_tokens["finance1"])).json["items"]
    [review] = [t for t in tasks if t["instance_id"] == started.json["id"]]
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "approve", "comment": "fine"}},
        headers=auth(demo_tokens["finance1"]),
    )
    assert done.status_code == 200, done.json


CREDIT_APPLICATION = {
    "currency": "EUR",
    "payment_terms_days": 30,
    "justification": "Season orders",
}


@pytest.mark.parametrize("amount", ["1800000.00", 1800000, "250000.5"])
def test_credit_application_takes_the_amount_as_the_api_writes_it(
    client: FlaskClient, demo_tokens: dict[str, str], amount: Any
) -> None:
    customer = client.post(
        "/api/customers",
        json={"name": "Amount Strings AG", "email": "ap@amount.example", "currency": "EUR"},
        headers=auth(demo_tokens["sales1"]),
    ).json["id"]
    data = {**CREDIT_APPLICATION, "customer_id": customer, "requested_limit": amount}
    started = start(client, demo_tokens["sales1"], "credit_application", data)
    assert started.status_code == 201, started.json


@pytest.mark.parametrize(
    ("raw_amount", "complaint"),
    [
        ('"1e30"', "Must be between"),
        ("1e400", "Must be between"),
        ('"0.001"', "two decimal places"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
    ],
)
def test_credit_application_with_an_impossible_amount_is_a_422_naming_the_field(
    client: FlaskClient, demo_tokens: dict[str, str], raw_amount: str, complaint: str
) -> None:
    body = (
        '{"process_key": "credit_application", "data": {"customer_id": 1, "currency": "EUR", '
        f'"payment_terms_days": 30, "justification": "x", "requested_limit": {raw_amount}}}}}'
    )
    answer = client.post(
        "/api/process-instances",
        data=body,
        content_type="application/json",
        headers=auth(demo_tokens["sales1"]),
    )
    assert answer.status_code == 422, answer.json
    assert (
        complaint in answer.json["error"]["message"] and "requested_limit" in answer.json["error"]["message"]
    )
    listed = client.get(
        "/api/process-instances?process_key=credit_application", headers=auth(demo_tokens["admin"])
    )
    assert listed.json["items"] == []


def test_payment_terms_exception_has_a_start_schema(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    request = {
        "customer_name": "Acme Machinery GmbH",
        "order_value": "250000.00",
        "standard_terms_days": 30,
        "requested_terms_days": 60,
        "justification": "framework order",
    }
    missing = start(client, demo_tokens["sales1"], "payment_terms_exception", {"customer_name": "Acme"})
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) >= {"order_value", "requested_terms_days"}
    huge = start(client, demo_tokens["sales1"], "payment_terms_exception", {**request, "order_value": "1e30"})
    assert huge.status_code == 422 and "order_value" in huge.json["error"]["fields"]
    started = start(
        client, demo_tokens["sales1"], "payment_terms_exception", {**request, "x": {"typename": 1}}
    )
    assert started.status_code == 201, started.json
    assert "x" not in started.json["data"]  # undeclared start fields are dropped
    assert started.json["data"]["order_value"] == "250000.00"
