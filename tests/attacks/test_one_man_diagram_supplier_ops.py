"""Process owners may not read suppliers (GET /api/suppliers/ID answers them 403), yet a one-man diagram (no
money move, so it deploys at once) calling `supplier.risk_check` put any supplier's scorecard (revenue,
litigation, penalties, delivery record) into its instance's data, which its initiator reads, and one calling
`supplier.record_evaluation` graded any supplier A for years. Both now run only in an instance started by
someone who may read suppliers (roles.SUPPLIER_READERS), an admin or the system, as the customer operations
do (tests/attacks/test_one_man_diagram_reads.py). Found by an attack on the build."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.attacks.test_foreign_records import one_task_diagram
from tests.bpmn.test_supplier_contract_change import make_contract
from tests.handlers.test_money_moves import start
from tests.helpers import auth
from workflows.credit.models import Supplier, SupplierEvaluation

pytestmark = pytest.mark.usefixtures("shipped")


def supplier_grade(app: Flask, supplier_id: int) -> tuple[Any, ...]:
    with app.extensions["creditflow"].rt.factory() as session:
        supplier = session.get(Supplier, supplier_id)
        assert supplier is not None
        evaluations = session.scalars(
            select(SupplierEvaluation.id).where(SupplierEvaluation.supplier_id == supplier_id)
        ).all()
        return supplier.score, supplier.grade, supplier.grade_valid_to, list(evaluations)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("supplier.risk_check", {}),
        ("supplier.record_evaluation", {"score": "99", "grade": '"A"', "valid_months": "1200"}),
    ],
)
def test_a_process_owner_cannot_read_or_grade_a_supplier_through_a_one_man_diagram(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], operation: str, params: dict[str, str]
) -> None:
    supplier_id = make_contract(client, demo_tokens)["supplier"]["id"]
    owner = demo_tokens["owner1"]
    assert client.get(f"/api/suppliers/{supplier_id}", headers=auth(owner)).status_code == 403
    before = supplier_grade(app, supplier_id)

    key = one_task_diagram(app, client, demo_tokens, operation, supplier_id="supplier_id", **params)
    refused = start(client, owner, key, {"supplier_id": supplier_id})
    assert refused.status_code == 422, refused.json
    message = refused.json["error"]["message"]
    # Named as the reader knows it (the operation is in the refusal's log line, not the sentence).
    assert "The supplier's file could not be loaded (instance " in message, message
    assert operation not in message, message
    assert "may read suppliers" in message and "owner1" in message
    assert '"factors"' not in refused.get_data(as_text=True)
    assert supplier_grade(app, supplier_id) == before
