"""What a process owner's one-man diagram (no money move, so it deploys at once) can still write. Found by an
attack on the build:

- `contract.open_change` opened a change request on any contract for an instance that then ended, so the
  request stayed in review for good, and a contract has at most one open request: no buyer could change
  that contract ever again (nothing can close a request of another instance). Only an instance a buyer
  (procurement, procurement_manager), an admin or the system started opens one.
- `supplier.record_evaluation` graded any supplier as "system": the audit trail and the evaluation did not
  name the person whose action ran the step. (It now also runs only in an instance started by someone who
  may read suppliers: tests/attacks/test_one_man_diagram_supplier_ops.py.)
- `credit.record_score` graded any customer (a score valid for 100 years); it now runs only in an instance
  started by someone who may read customers, an admin or the system."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.attacks.test_foreign_records import one_task_diagram
from tests.bpmn.test_supplier_contract_change import make_contract, start_change
from tests.handlers.test_money_moves import person, start
from tests.helpers import auth
from workflows.credit.models import ContractChangeRequest, SupplierEvaluation
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


def change_requests(app: Flask, contract_id: int) -> list[tuple[Any, ...]]:
    with app.extensions["creditflow"].rt.factory() as session:
        rows = session.scalars(
            select(ContractChangeRequest).where(ContractChangeRequest.contract_id == contract_id)
        )
        return [(r.status, r.requested_by, r.instance_id) for r in rows]


def test_a_one_man_diagram_cannot_lock_a_contract_with_a_change_request_nobody_can_close(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    key = one_task_diagram(
        app,
        client,
        demo_tokens,
        "contract.open_change",
        contract_id="contract_id",
        change_type='"price"',
        changes='{"price": "EUR 1 per tonne"}',
        value_impact="0",
        reason='"lock it"',
    )
    refused = start(client, demo_tokens["owner1"], key, {"contract_id": contract["id"]})
    assert refused.status_code == 422, refused.json
    assert "opened by an instance a buyer" in refused.json["error"]["message"]
    assert change_requests(app, contract["id"]) == []
    # The buyer can still ask for a change.
    genuine = start_change(
        client, demo_tokens["buyer1"], contract["id"], "payment_terms", {"payment_terms_days": 90}, 1000
    )
    assert genuine.status_code == 201, genuine.json
    assert change_requests(app, contract["id"]) == [("in_review", "buyer1", genuine.json["id"])]


def test_a_supplier_evaluation_names_the_person_whose_action_ran_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    supplier_id = contract["supplier"]["id"]
    key = one_task_diagram(
        app,
        client,
        demo_tokens,
        "supplier.record_evaluation",
        supplier_id="supplier_id",
        score="99",
        grade='"A"',
        valid_months="12",
    )
    # A process owner alone may not grade a supplier (tests/attacks/test_one_man_diagram_supplier_ops.py);
    # one who is also a buyer may, and the evaluation names them.
    owner_buyer = person(app, "owner_buyer", "process_owner", "procurement")
    started = start(client, owner_buyer, key, {"supplier_id": supplier_id})
    assert started.status_code == 201, started.json
    with app.extensions["creditflow"].rt.factory() as session:
        evaluation = session.scalars(
            select(SupplierEvaluation).where(SupplierEvaluation.instance_id == started.json["id"])
        ).one()
        actors = session.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.action == "supplier_evaluated", AuditEvent.instance_id == started.json["id"]
            )
        ).all()
    assert (evaluation.grade, evaluation.evaluated_by) == ("A", "owner_buyer")
    assert actors == ["owner_buyer"]


def test_a_one_man_diagram_cannot_grade_a_customer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    created = client.post(
        "/api/customers",
        json={"name": "Graded Elsewhere Ltd", "currency": "EUR"},
        headers=auth(demo_tokens["sales1"]),
    )
    assert created.status_code == 201, created.json
    key = one_task_diagram(
        app,
        client,
        demo_tokens,
        "credit.record_score",
        customer_id="customer_id",
        score="99",
        grade='"A"',
        score_valid_months="1200",
    )
    refused = start(client, demo_tokens["owner1"], key, {"customer_id": created.json["id"]})
    assert refused.status_code == 422, refused.json
    assert "may read customers" in refused.json["error"]["message"]
    after = client.get(f"/api/customers/{created.json['id']}", headers=auth(demo_tokens["sales1"])).json
    assert (after["grade"], after["score"]) == (None, None)
