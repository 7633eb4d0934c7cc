"""Nobody forges a customer's or supplier's answer: each message name declares its sender groups on the
diagram's catch events, and its data is checked against a schema like a form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import (
    approve,
    get_contract,
    make_contract,
    open_tasks,
    refresh,
    started,
)
from tests.collections_desk import Collections
from tests.helpers import auth
from workflows.credit.roles import DEMO_USERS
from workflows.engine import runner
from workflows.errors import Forbidden
from workflows.users import Actor

pytestmark = pytest.mark.usefixtures("shipped")

FORGED_PROMISE = {"promised_date": "2099-01-01", "amount": "1.00"}


def send(client: FlaskClient, token: str | None, name: str, key: Any, data: dict[str, Any]) -> Any:
    headers = auth(token) if token else {}
    body = {"name": name, "correlation_key": str(key), "data": data}
    return client.post("/api/messages", json=body, headers=headers)


def dunned_customer(desk: Collections) -> int:
    customer = desk.customer("Forgery Target Ltd")
    desk.invoice(customer, "INV-F1", "1200.00")
    for _ in range(10):
        desk.tick()
    assert desk.case(customer)["status"] == "open" and desk.case(customer)["level"] >= 1
    return customer


def test_only_collections_send_promises_and_disputes_and_only_finance_payments(
    desk: Collections, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = dunned_customer(desk)
    before = desk.case(customer)
    senders = {"promise_to_pay": "collections", "dispute": "collections", "payment_received": "finance"}
    data = {
        "promise_to_pay": FORGED_PROMISE,
        "dispute": {
            "invoices": [{"number": "INV-F1", "amount": "1.00", "reason": "other"}],
            "owner_group": "sales",
        },
        "payment_received": {"payment_id": 1, "amount": "1200.00"},
    }
    for name, group in senders.items():
        for user, user_group in DEMO_USERS.items():
            if user_group in (group, "admin"):
                continue
            refused = send(client, demo_tokens[user], name, customer, data[name])
            assert refused.status_code == 403, (name, user, refused.json)
            message = refused.json["error"]["message"]
            why = "auditors read everything" if user == "auditor1" else f"only members of {group} may"
            assert why in message, (name, user, message)
        assert send(client, None, name, customer, data[name]).status_code == 401
    assert desk.case(customer) == before  # not paused until 2099, no dispute, no payment

    # The right sender with data the schema refuses gets 422 naming the field; the case keeps waiting.
    bad = send(client, demo_tokens["collector1"], "promise_to_pay", customer, {"promised_date": "2026-04-01"})
    assert bad.status_code == 422 and "amount" in bad.json["error"]["fields"], bad.json
    assert desk.case(customer) == before
    promised = desk.clock.now.date().replace(day=28).isoformat()
    ok = send(
        client,
        demo_tokens["collector1"],
        "promise_to_pay",
        customer,
        {"promised_date": promised, "amount": "1200.00"},
    )
    assert ok.status_code == 200 and ok.json["delivered_to"], ok.json
    assert desk.case(customer)["status"] == "paused"


def test_a_message_nobody_waits_for_is_refused_to_those_who_may_not_send_it(
    desk: Collections, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # No probing: the answer does not depend on whether a case waits under that key.
    refused = send(client, demo_tokens["sales1"], "promise_to_pay", "no-such-customer", FORGED_PROMISE)
    assert refused.status_code == 403
    unknown = send(client, demo_tokens["sales1"], "anything_at_all", "1", {})
    assert unknown.status_code == 403 and "no deployed process catches it" in unknown.json["error"]["message"]
    allowed = send(client, demo_tokens["collector1"], "promise_to_pay", "no-such-customer", FORGED_PROMISE)
    assert allowed.status_code == 200 and allowed.json == {"delivered_to": []}


def test_payments_reach_the_case_through_the_payments_endpoint_as_an_internal_message(
    app: Flask, desk: Collections, clock: datetime
) -> None:
    customer = dunned_customer(desk)
    collector = Actor("collector1", frozenset({"collections"}))
    svc = app.extensions["creditflow"]
    payload = {"payment_id": 1, "amount": "1.00"}
    with pytest.raises(Forbidden):
        runner.deliver_message(svc.rt, "payment_received", str(customer), payload, actor=collector, now=clock)
    # What the payments endpoint does for a payment booked by a collector: creditflow relays its own record.
    reached = runner.deliver_message(
        svc.rt, "payment_received", str(customer), payload, actor=collector, now=desk.clock.now, internal=True
    )
    assert len(reached) == 1


def test_only_procurement_reports_a_countersignature(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = started(
        client, demo_tokens["buyer1"], contract["id"], "quantity", {"quantity": "900 t per year"}, -1000
    )
    approve(client, demo_tokens["finance1"], open_tasks(instance)["finance_review"])
    approve(
        client,
        demo_tokens["pm1"],
        open_tasks(refresh(client, demo_tokens, instance["id"]))["manager_approval"],
    )
    before = get_contract(client, demo_tokens, contract["id"])
    for user, group in DEMO_USERS.items():
        if group in ("procurement", "admin"):
            continue
        forged = send(
            client, demo_tokens[user], "supplier_countersigned", instance["id"], {"signed_by": "Mallory"}
        )
        assert forged.status_code == 403, (user, forged.json)
    assert get_contract(client, demo_tokens, contract["id"]) == before and before["version"] == 1
    blank = send(client, demo_tokens["buyer1"], "supplier_countersigned", instance["id"], {"signed_by": " "})
    assert blank.status_code == 422 and "signed_by" in blank.json["error"]["fields"]
    signed = send(
        client, demo_tokens["buyer1"], "supplier_countersigned", instance["id"], {"signed_by": "Jan Berg"}
    )
    assert signed.json == {"delivered_to": [instance["id"]]}
    assert get_contract(client, demo_tokens, contract["id"])["version"] == 2
