"""The segregation-of-duties report lists order releases and write-offs: who asked, who approved, and a
flag when one person is on both sides (workflows/sod_credit_moves.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.bpmn.test_order_release import CUSTOMER, check, decide, invoice, person, release_task
from tests.collections_desk import Collections
from tests.helpers import auth, migrated_customer
from tests.webui.test_pages import logged_in
from workflows.credit.order_tables import Order
from workflows.credit.write_offs import WriteOffRequest
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def _rows(client: FlaskClient, tokens: dict[str, str], kind: str) -> list[dict[str, Any]]:
    response = client.get("/api/audit/sod", headers=auth(tokens["auditor1"]))
    assert response.status_code == 200, response.json
    return [r for r in response.json["items"] if r["kind"] == kind]


def test_an_order_release_names_who_asked_and_the_credit_manager_and_flags_one_person_twice(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-700-2", "90000.00")
    dual = person(app, "dual", "sales", "credit_manager")
    answer = check(client, dual, customer, "SO-2", "20000.00")
    task = release_task(client, demo_tokens["manager1"], answer["release_instance_id"])
    assert decide(client, demo_tokens["manager1"], task["id"], "approve", "Paid by phone.").status_code == 200
    [row] = _rows(client, demo_tokens, "order_released")
    assert (row["requester"], row["approvers"], row["made_by"]) == ("dual", ["manager1"], "manager1")
    assert row["instance_id"] == answer["release_instance_id"] and not row["flagged"]
    assert "SO-2" in row["summary"] and "checked by dual" in row["summary"]
    assert "credit_manager" in row["rule"]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        # Written straight into the table, past the release's four-eyes check: what the report must catch.
        order = session.scalars(select(Order).where(Order.order_ref == "SO-2")).one()
        order.created_by = "Manager1"
    [forged] = _rows(client, demo_tokens, "order_released")
    assert forged["flagged"] and forged["repeated"] == ["manager1"]
    page = logged_in(app, "auditor1").get("/audit/sod").get_data(as_text=True)
    assert 'data-kind="order_released"' in page and "manager1 twice" in page


def test_a_write_off_names_legal_and_its_approvers_and_flags_one_person_twice(
    app: Flask, desk: Collections
) -> None:
    customer = desk.customer("Small Loss Ltd")
    desk.invoice(customer, "SL-1", "12000.00")
    body = {
        "process_key": "write_off",
        "data": {"customer_id": customer, "outcome": "uncollectable", "amount": 0},
    }
    started = desk.client.post("/api/process-instances", json=body, headers=auth(desk.tokens["legal1"]))
    assert started.status_code == 201, started.json
    [task] = [t for t in started.json["tasks"] if t["name"] == "manager_approval"]
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    [row] = _rows(desk.client, desk.tokens, "legal_outcome")
    assert (row["requester"], row["approvers"], row["flagged"]) == ("legal1", ["manager1"], False)
    assert row["instance_id"] == started.json["id"]
    assert "written off €12,000.00 of €12,000.00 open" in row["summary"], row["summary"]
    assert row["rule"] == "write_off_authority.dmn: level credit_manager (credit_manager)"
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        request = session.scalars(select(WriteOffRequest)).one()
        request.requested_by = "manager1"
    [forged] = _rows(desk.client, desk.tokens, "legal_outcome")
    assert forged["flagged"] and forged["repeated"] == ["manager1"]
    exported = desk.client.get("/api/audit/sod?format=csv", headers=auth(desk.tokens["auditor1"]))
    assert "legal_outcome" in exported.get_data(as_text=True)
