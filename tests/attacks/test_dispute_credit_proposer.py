"""A dispute credit is proposed by a member of the owner group and approved by a collections lead or a credit
manager. Only the diagram's four-eyes property keeps a user in the owner group and the approving group from
approving the credit they proposed: a version without it (a new dispute_resolution, approved by a second
process owner as a money move) would let them credit invoices alone. `dispute.post_credit` therefore
excludes the proposer and the collector who raised the dispute itself, whatever the diagram says.

This replaces the attack on dunning.bpmn's old dispute branch (resolve_dispute -> approve_dispute_credit),
which is gone: disputes are settled by dispute_resolution.bpmn.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_dispute_resolution import complete, credit_notes, invoices, raise_dispute, task_named
from tests.collections_desk import Collections
from tests.handlers.test_money_moves import deploy, person
from workflows.definitions.deploy import read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.models import InboxItem

pytestmark = pytest.mark.usefixtures("shipped")

FOUR_EYES = (
    b'<spiffworkflow:property name="fourEyes" value="initiator,'
    + b'propose_sales,propose_logistics,propose_finance" />'
)


def resolution_without_four_eyes() -> dict[str, bytes]:
    """The shipped dispute_resolution bundle, its approvals without the four-eyes property."""
    [paths] = [b for b in shipped_bundles() if b[0].name == "dispute_resolution.bpmn"]
    files = read_files(paths)
    assert files["dispute_resolution.bpmn"].count(FOUR_EYES) == 2
    files["dispute_resolution.bpmn"] = files["dispute_resolution.bpmn"].replace(FOUR_EYES, b"")
    return files


@pytest.mark.parametrize(
    ("amount", "approval"), [("900.00", "approve_as_lead"), ("9000.00", "approve_as_manager")]
)
def test_the_proposer_of_a_dispute_credit_cannot_approve_it_even_without_four_eyes_in_the_diagram(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    desk: Collections,
    amount: str,
    approval: str,
) -> None:
    deployed = deploy(app, client, demo_tokens, resolution_without_four_eyes())
    assert deployed["key"] == "dispute_resolution"
    dual = person(app, "dual", "sales", "collections_lead", "credit_manager")
    customer = desk.customer("Selfcredit Trading")
    desk.invoice(customer, "INV-90", "100.00")
    desk.invoice(customer, "INV-91", "9000.00")
    started = raise_dispute(desk, desk.tokens["collector1"], customer, ("INV-91", amount, "price"))
    assert started.status_code == 201 and started.json["version"] == deployed["version"], started.json
    proposal = task_named(desk, dual, "propose_sales")
    assert complete(desk, dual, proposal["id"], decision="accept", credit_amount=amount).status_code == 200
    task = task_named(desk, dual, approval)
    with app.extensions["creditflow"].rt.factory() as session:
        item = session.get(InboxItem, task["id"])
        assert item is not None and item.four_eyes == []  # nothing in the diagram stops dual

    refused = complete(desk, dual, task["id"], decision="approve")
    assert refused.status_code == 422, refused.json
    text = refused.json["error"]["message"]
    assert "dispute.post_credit" in text and "proposed by dual" in text
    assert invoices(desk, customer)["INV-91"]["open_amount"] == "9000.00"
    assert credit_notes(desk, customer) == []

    # Someone else of the approving group approves: the credit note names them and the proposer.
    other = "lead1" if approval == "approve_as_lead" else "manager1"
    task = task_named(desk, demo_tokens[other], approval)
    done = complete(desk, demo_tokens[other], task["id"], decision="approve")
    assert done.status_code == 200, done.json
    [note] = credit_notes(desk, customer)
    assert (note["amount"], note["approved_by"], note["requested_by"]) == (amount, [other], "dual")


def test_the_collector_who_raised_a_dispute_cannot_propose_or_approve_its_credit(
    app: Flask, desk: Collections
) -> None:
    both = person(app, "both", "collections", "sales", "collections_lead")
    customer = desk.customer("Own Goal Ltd")
    desk.invoice(customer, "INV-92", "800.00")
    assert raise_dispute(desk, both, customer, ("INV-92", "800.00", "quality")).status_code == 201
    proposal = task_named(desk, both, "propose_sales")
    assert complete(desk, both, proposal["id"], decision="accept", credit_amount="800.00").status_code == 403
    assert (
        complete(
            desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="800.00"
        ).status_code
        == 200
    )
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert complete(desk, both, approval["id"], decision="approve").status_code == 403
    assert credit_notes(desk, customer) == []
