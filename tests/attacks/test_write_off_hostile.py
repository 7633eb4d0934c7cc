"""Hostile calls on write-offs, recoveries and the block a legal outcome leaves: crafted bodies, wrong groups,
the same person on both sides, and diagrams that would lower the bar (no four-eyes, no CFO step)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import IntegrityError

from tests.bpmn.test_write_off import invoices_of, start_write_off, task_named, write_offs_of
from tests.collections_desk import Collections
from tests.handlers.test_money_moves import deploy, person
from tests.helpers import auth
from workflows.credit.write_offs import Proposal, WriteOffRequest, open_request
from workflows.definitions.deploy import read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def shipped_write_off() -> dict[str, bytes]:
    [paths] = [b for b in shipped_bundles() if b[0].name == "write_off.bpmn"]
    return read_files(paths)


def written_off_invoice(desk: Collections, name: str) -> int:
    """A customer whose only invoice (WX-<name>, 500.00) legal1 wrote off and manager1 approved."""
    customer = desk.customer(name)
    desk.invoice(customer, f"WX-{customer}", "500.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    approval = task_named(desk, "manager1", "manager_approval")
    assert desk.complete("manager1", approval["id"], decision="approve").status_code == 200
    return customer


def recovery(customer: int, **fields: Any) -> dict[str, Any]:
    body = {
        "customer_id": customer,
        "invoice_number": f"WX-{customer}",
        "amount": "100.00",
        "currency": "EUR",
        "date": "2026-03-05",
        "reference": f"R-{customer}",
    }
    return {**body, **fields}


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"amount": 1.005}, "amount"),  # a JSON number past the cent
        ({"amount": "1e400"}, "amount"),
        ({"amount": "99999999999999999999999.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"amount": "500.01"}, "amount"),  # one cent more than was written off
        ({"currency": "eur"}, "currency"),
        ({"currency": "USD"}, "currency"),
        ({"invoice_number": None}, "invoice_number"),
        ({"invoice_number": ""}, "invoice_number"),
        ({"date": "2026-02-30"}, "date"),
        ({"customer_id": True}, "customer_id"),
        ({"customer_id": "1"}, "customer_id"),
    ],
)
def test_a_crafted_recovery_is_refused_naming_the_field(
    desk: Collections, fields: dict[str, Any], bad: str
) -> None:
    customer = written_off_invoice(desk, "Crafted Recovery")
    answer = desk.client.post(
        "/api/recoveries", json=recovery(customer, **fields), headers=auth(desk.tokens["finance1"])
    )
    assert answer.status_code in (400, 422), answer.json
    if answer.status_code == 422:
        assert bad in answer.json["error"].get("fields", {}), answer.json
    listed = desk.client.get(f"/api/recoveries?customer_id={customer}", headers=auth(desk.tokens["finance1"]))
    assert listed.json["items"] == []  # nothing half-written


def test_broken_bodies_and_wrong_callers_of_a_recovery(desk: Collections) -> None:
    customer = written_off_invoice(desk, "Broken Bodies")
    headers = {**auth(desk.tokens["finance1"]), "Content-Type": "application/json"}
    for raw in (
        b"[1, 2]",
        b'{"amount": "1\\u0000"}',
        b'{"customer_id": 1e999}',
        b"{",
        b'{"reference": "a\\ud800"}',
    ):
        answer = desk.client.post("/api/recoveries", data=raw, headers=headers)
        assert answer.status_code in (400, 422), (raw, answer.status_code, answer.json)
    nul = recovery(customer, reference="R\x00X")
    assert (
        desk.client.post("/api/recoveries", json=nul, headers=auth(desk.tokens["finance1"])).status_code
        == 400
    )
    huge_id = recovery(2**63)
    assert desk.client.post(
        "/api/recoveries", json=huge_id, headers=auth(desk.tokens["finance1"])
    ).status_code in (
        400,
        404,
        422,
    )
    for user in ("sales1", "legal1", "manager1", "auditor1", "cfo1"):
        answer = desk.client.post("/api/recoveries", json=recovery(customer), headers=auth(desk.tokens[user]))
        assert answer.status_code == 403, user
    assert desk.client.post("/api/recoveries", json=recovery(customer)).status_code == 401
    # An open invoice is paid, not recovered; a reference a payment used is not counted twice.
    desk.invoice(customer, "OPEN-1", "50.00")
    open_one = recovery(customer, invoice_number="OPEN-1")
    assert (
        desk.client.post("/api/recoveries", json=open_one, headers=auth(desk.tokens["finance1"])).status_code
        == 409
    )
    assert desk.pay(customer, "50.00", "BANK-77").status_code == 201
    reused = recovery(customer, reference="BANK-77")
    assert (
        desk.client.post("/api/recoveries", json=reused, headers=auth(desk.tokens["collector1"])).status_code
        == 409
    )
    other = desk.customer("Someone Else")
    foreign = recovery(other, invoice_number=f"WX-{customer}")
    assert (
        desk.client.post("/api/recoveries", json=foreign, headers=auth(desk.tokens["finance1"])).status_code
        == 404
    )


def test_crafted_unblocks_are_refused(desk: Collections) -> None:
    customer = desk.customer("Crafted Unblock")
    url = f"/api/customers/{customer}/unblock"
    manager = auth(desk.tokens["manager1"])
    for body in (
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": 7},
        {"reason": "x" * 1001},
        {"reason": "ok", "blocked": True},
    ):
        answer = desk.client.post(url, json=body, headers=manager)
        assert answer.status_code == 422, (body, answer.json)
    assert desk.client.post(url, json={"reason": "a\x00b"}, headers=manager).status_code == 400
    assert (
        desk.client.post(url, data=b"[]", headers={**manager, "Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        desk.client.post("/api/customers/999999/unblock", json={"reason": "x"}, headers=manager).status_code
        == 404
    )
    assert (
        desk.client.post(f"/api/customers/{2**63}/unblock", json={"reason": "x"}, headers=manager).status_code
        == 404
    )
    # Not blocked: nothing to lift (409), and nothing recorded.
    assert desk.client.post(url, json={"reason": "x"}, headers=manager).status_code == 409


def test_crafted_legal_outcomes_are_refused_and_write_nothing(desk: Collections) -> None:
    customer = desk.customer("Crafted Outcome")
    desk.invoice(customer, "CO-1", "1000.00")
    legal = desk.tokens["legal1"]
    for data in (
        {"outcome": "forgiven", "amount": 0},
        {"outcome": "settled", "amount": 1000},  # a settlement of everything writes nothing off
        {"outcome": "settled", "amount": 0},
        {"outcome": "uncollectable", "amount": 10},  # something was obtained: that is a settlement
        {"outcome": "uncollectable", "amount": -1},
        {"outcome": "uncollectable", "amount": 0, "costs": -5},
        {"outcome": "uncollectable", "amount": "1e400"},
        {"outcome": "uncollectable", "amount": 0, "costs": 10**20},
        {"outcome": "uncollectable", "amount": 0.001},
    ):
        answer = start_write_off(desk, legal, customer, **data)
        assert answer.status_code in (400, 422), (data, answer.status_code, answer.json)
    missing = start_write_off(desk, legal, 999999, outcome="uncollectable", amount=0)
    assert missing.status_code == 422
    assert write_offs_of(desk, customer) == []
    for user in ("collector1", "manager1", "finance1", "sales1", "auditor1"):
        assert (
            start_write_off(desk, desk.tokens[user], customer, outcome="uncollectable", amount=0).status_code
            == 403
        )
    first = start_write_off(desk, legal, customer, outcome="uncollectable", amount=0)
    assert first.status_code == 201
    second = start_write_off(desk, legal, customer, outcome="settled", amount=100)
    assert second.status_code == 422 and "waiting for approval" in second.json["error"]["message"]


def test_a_write_off_diagram_without_four_eyes_still_keeps_the_proposer_from_approving(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], desk: Collections
) -> None:
    files = shipped_write_off()
    four_eyes = b'<spiffworkflow:property name="fourEyes" value="initiator" />'
    assert files["write_off.bpmn"].count(four_eyes) == 1
    files["write_off.bpmn"] = files["write_off.bpmn"].replace(four_eyes, b"")
    deployed = deploy(app, client, demo_tokens, files)
    dual = person(app, "dual", "legal", "credit_manager")
    customer = desk.customer("Self Forgiven")
    desk.invoice(customer, "SF-1", "800.00")
    started = start_write_off(desk, dual, customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201 and started.json["version"] == deployed["version"], started.json
    task = task_named(desk, "manager1", "manager_approval")
    refused = desk.client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(dual)
    )
    assert refused.status_code == 422, refused.json
    assert "write_off.post" in refused.json["error"]["message"]
    assert invoices_of(desk, customer)["SF-1"]["status"] == "open"
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    assert invoices_of(desk, customer)["SF-1"]["status"] == "written_off"


def test_a_diagram_that_skips_the_cfo_cannot_write_off_above_the_threshold(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], desk: Collections
) -> None:
    files = shipped_write_off()
    text = files["write_off.bpmn"]
    text = text.replace(
        b'approval_level == "cfo"</bpmn:conditionExpression>', b"False</bpmn:conditionExpression>"
    )
    text = text.replace(
        b'approval_level != "cfo"</bpmn:conditionExpression>', b"True</bpmn:conditionExpression>"
    )
    files["write_off.bpmn"] = text
    deploy(app, client, demo_tokens, files)
    customer = desk.customer("Too Big To Skip")
    desk.invoice(customer, "TB-1", "75000.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    refused = desk.complete("manager1", task["id"], decision="approve")
    assert refused.status_code == 422 and "cfo" in refused.json["error"]["message"], refused.json
    assert invoices_of(desk, customer)["TB-1"]["status"] == "open"


def test_the_database_keeps_one_waiting_proposal_per_customer(app: Flask, desk: Collections) -> None:
    """Two proposals made at once both pass the "none waiting" check; the unique index lets one commit."""
    customer = desk.customer("Twice At Once")
    desk.invoice(customer, "TA-1", "300.00")
    factory = app.extensions["creditflow"].rt.factory
    proposal = Proposal(customer, "uncollectable", Decimal("0.00"), Decimal("0.00"))
    now = desk.clock.now
    with transaction(factory) as session:
        open_request(session, proposal, requested_by="legal1", instance_id=None, now=now)
    with pytest.raises(IntegrityError), transaction(factory) as session:
        session.add(
            WriteOffRequest(
                customer_id=customer,
                outcome="uncollectable",
                amount=Decimal("0.00"),
                costs=Decimal("0.00"),
                currency="EUR",
                invoices=["TA-1"],
                open_amount=Decimal("300.00"),
                write_off_amount=Decimal("300.00"),
                status="proposed",
                requested_by="legal1",
                approved_by=[],
                created_at=now,
            )
        )


def test_the_unblock_reason_rule_lives_in_lift_block() -> None:
    """The API measured the reason before trimming it and the page after, and lift_block took anything:
    one rule now, in the domain, for every caller."""
    from datetime import UTC, datetime

    from workflows.credit.recoveries import UNBLOCK_REASON_MAX, lift_block, unblock_reason
    from workflows.errors import Invalid

    assert unblock_reason("  paid by guarantor  ") == "paid by guarantor"
    assert unblock_reason(" " * 5 + "x" * UNBLOCK_REASON_MAX + " " * 5) == "x" * UNBLOCK_REASON_MAX
    for bad in ("", "   ", "a\x00b", "x" * (UNBLOCK_REASON_MAX + 1), None, 7):
        assert unblock_reason(bad) is None
    with pytest.raises(Invalid):  # refused before the customer is even looked up
        lift_block(None, 1, actor="manager1", reason="  untrimmed", now=datetime.now(UTC))  # type: ignore[arg-type]
