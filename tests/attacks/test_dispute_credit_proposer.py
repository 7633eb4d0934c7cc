"""A dispute credit (an upheld dispute cancels invoices) is proposed by the collector who recorded the dispute
and upheld it, and approved by a credit manager. The engine excluded only the instance's initiator (the
system, for dunning) from the approvers: only the shipped diagram's four-eyes property kept a user in both
collections and credit_manager from approving the credit they proposed. A diagram without it (a new dunning
version, approved by a second process owner as a money move) let them cancel invoices alone. The credit's
proposers are now excluded by `dunning.resolve_dispute` itself. Found by an attack on the build."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.collections_desk import Collections
from tests.handlers.test_money_moves import deploy, person
from tests.helpers import auth
from workflows.credit.models import DunningEvent
from workflows.definitions.deploy import read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.models import InboxItem

pytestmark = pytest.mark.usefixtures("shipped")

FOUR_EYES = b'<spiffworkflow:property name="fourEyes" value="resolve_dispute" />'


def dunning_without_four_eyes() -> dict[str, bytes]:
    """The shipped dunning bundle, its credit approval without the four-eyes property."""
    [paths] = [b for b in shipped_bundles() if b[0].name == "dunning.bpmn"]
    files = read_files(paths)
    assert files["dunning.bpmn"].count(FOUR_EYES) == 1
    files["dunning.bpmn"] = files["dunning.bpmn"].replace(FOUR_EYES, b"")
    return files


def invoice_status(desk: Collections, customer: int) -> dict[str, str]:
    invoices = desk.client.get(
        f"/api/invoices?customer_id={customer}", headers=auth(desk.tokens["finance1"])
    ).json["items"]
    return {i["number"]: i["status"] for i in invoices}


def complete(desk: Collections, token: str, task_id: int, **data: Any) -> Any:
    return desk.client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(token))


def open_task(desk: Collections, token: str, name: str) -> dict[str, Any]:
    [task] = [
        t for t in desk.client.get("/api/tasks", headers=auth(token)).json["items"] if t["name"] == name
    ]
    return dict(task)


# Who upholds the dispute dual recorded: dual (recorded and upheld it), or another collector (dual only
# recorded it, still a proposer).
@pytest.mark.parametrize("upheld_by", ["dual", "collector1"])
def test_the_proposer_of_a_dispute_credit_cannot_approve_it_even_without_four_eyes_in_the_diagram(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], desk: Collections, upheld_by: str
) -> None:
    deployed = deploy(app, client, demo_tokens, dunning_without_four_eyes())
    assert deployed["key"] == "dunning"
    dual = person(app, "dual", "collections", "credit_manager")
    customer = desk.customer("Selfcredit Trading")
    desk.invoice(customer, "INV-90", "100.00")
    desk.invoice(customer, "INV-91", "9000.00")
    for _ in range(5):
        desk.tick()
    case = desk.case(customer)
    instance = client.get(f"/api/process-instances/{case['instance_id']}", headers=auth(demo_tokens["admin"]))
    assert instance.json["version"] == deployed["version"]  # the case runs the version without four-eyes

    message = {"name": "dispute", "correlation_key": str(customer), "data": {"invoice_numbers": ["INV-91"]}}
    sent = client.post("/api/messages", json=message, headers=auth(dual))
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    upholder = dual if upheld_by == "dual" else demo_tokens[upheld_by]
    resolve = open_task(desk, upholder, "resolve_dispute")
    assert complete(desk, upholder, resolve["id"], resolution="upheld", comment="mine").status_code == 200
    approval = open_task(desk, dual, "approve_dispute_credit")
    with app.extensions["creditflow"].rt.factory() as session:
        item = session.get(InboxItem, approval["id"])
        assert item is not None and item.four_eyes == []  # nothing in the diagram stops dual

    refused = complete(desk, dual, approval["id"], decision="approve")
    assert refused.status_code == 422, refused.json
    text = refused.json["error"]["message"]
    proposers = "dual" if upheld_by == "dual" else "collector1, dual"
    assert "dunning.resolve_dispute" in text and f"proposed by {proposers}" in text
    assert invoice_status(desk, customer) == {"INV-90": "open", "INV-91": "open"}

    # Another credit manager approves: the credit note cancels the disputed invoice and names them.
    approval = open_task(desk, demo_tokens["manager1"], "approve_dispute_credit")
    done = complete(desk, demo_tokens["manager1"], approval["id"], decision="approve")
    assert done.status_code == 200, done.json
    assert invoice_status(desk, customer) == {"INV-90": "open", "INV-91": "cancelled"}
    with app.extensions["creditflow"].rt.factory() as session:
        resolved = session.scalars(
            select(DunningEvent).where(
                DunningEvent.case_id == case["id"], DunningEvent.kind == "dispute_resolved"
            )
        ).one()
    assert (resolved.detail["resolution"], resolved.detail["approved_by"]) == ("upheld", ["manager1"])
