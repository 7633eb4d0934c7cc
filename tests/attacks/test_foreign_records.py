"""An instance acts only on the records it opened. A process owner's one-man diagram naming another
instance's dunning case or contract change (an id is easy to guess) is refused with nothing written, and
only the daily dunning run or an admin opens dunning cases. Found by an attack on the build."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.collections_desk import Collections
from tests.engine.test_message_senders import dunned_customer
from tests.handlers.test_money_moves import deploy, start
from tests.helpers import auth
from tests.sod_diagrams import bundle, money_diagram
from workflows.credit.contract_changes import open_change_request
from workflows.credit.contracts import get_contract
from workflows.credit.models import Contract, ContractChangeRequest, DunningCase
from workflows.credit.suppliers import seed_demo_suppliers
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def one_task_diagram(
    app: Flask, client: FlaskClient, tokens: dict[str, str], operation: str, **params: str
) -> str:
    key = operation.replace(".", "_")
    return str(deploy(app, client, tokens, bundle(key, money_diagram(key, operation, params)))["key"])


def case_row(app: Flask, case_id: int) -> tuple[Any, ...]:
    with app.extensions["creditflow"].rt.factory() as session:
        case = session.get(DunningCase, case_id)
        assert case is not None
        return (case.status, case.level, case.promised_date, case.promised_amount, case.closed_at)


def test_a_diagram_cannot_pause_or_close_another_instances_dunning_case(
    app: Flask, desk: Collections, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    case_id = desk.case(dunned_customer(desk))["id"]
    before = case_row(app, case_id)
    for operation, params in (
        (
            "dunning.record_promise",
            {
                # Within the 1,830 days a promise may lie ahead (5e31871): 2099 is refused for that first.
                "promised_date": '"2030-01-01"',
                "amount": '"1.00"',
                "max_days": "99999",
                "min_pct": "0",
                "max_count": "9",
            },
        ),
        ("dunning.close_case", {"outcome": '"paid"'}),
        ("dunning.escalate", {}),
        ("dunning.current_grade", {}),
        ("dunning.decide_promise", {"promise_id": "1", "decision": '"approve"'}),
    ):
        key = one_task_diagram(app, client, demo_tokens, operation, case_id="case_id", **params)
        refused = start(client, demo_tokens["owner1"], key, {"case_id": case_id})
        assert refused.status_code == 422, (operation, refused.json)
        assert f"dunning case {case_id} belongs to instance" in refused.json["error"]["message"]
        assert case_row(app, case_id) == before, operation


def test_only_the_dunning_run_or_an_admin_opens_a_dunning_case(
    app: Flask, desk: Collections, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = desk.customer("Kept Out Ltd")
    key = one_task_diagram(app, client, demo_tokens, "dunning.open_case", customer_id="customer_id")
    refused = start(client, demo_tokens["owner1"], key, {"customer_id": customer})
    assert refused.status_code == 422, refused.json
    assert "opened by the daily dunning run or an admin" in refused.json["error"]["message"]
    with app.extensions["creditflow"].rt.factory() as session:
        cases = session.scalars(select(DunningCase).where(DunningCase.customer_id == customer)).all()
        assert cases == []  # the customer stays in every dunning run


def test_a_diagram_cannot_reject_or_expire_another_instances_contract_change(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        seed_demo_suppliers(session, now)
        contract = session.scalars(select(Contract).order_by(Contract.id)).first()
        assert contract is not None
        request = open_change_request(
            session,
            get_contract(session, contract.id),
            change_type="payment_terms",
            changes={"payment_terms_days": 90},
            value_impact=Decimal("1000"),
            reason="a buyer's real request",
            requested_by="buyer1",
            now=now,
        )
        request_id, status = request.id, request.status
    for operation in ("contract.reject_change", "contract.expire_change"):
        key = one_task_diagram(app, client, demo_tokens, operation, change_request_id="change_request_id")
        refused = start(client, demo_tokens["owner1"], key, {"change_request_id": request_id})
        assert refused.status_code == 422, (operation, refused.json)
        assert "belongs to instance" in refused.json["error"]["message"]
        with svc.rt.factory() as session:
            assert session.get(ContractChangeRequest, request_id).status == status  # type: ignore[union-attr]


def test_a_rating_takes_its_three_fields_as_text_and_no_future_date(
    desk: Collections, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = desk.customer("Rated Ltd")
    url, headers = f"/api/customers/{customer}/rating", auth(demo_tokens["analyst1"])
    for body, field in (
        ({"agency": {"typename": "x"}, "rating": "BBB", "date": "2026-03-01"}, "agency"),
        ({"agency": "S&P", "rating": "BBB", "date": "2026-03-01", "grade": "A"}, "grade"),
        ({"agency": "S&P", "rating": "BBB", "date": "2099-01-01"}, "future"),
    ):
        refused = client.post(url, json=body, headers=headers)
        assert refused.status_code in (400, 422), (body, refused.json)
        assert field in refused.get_data(as_text=True), (body, refused.json)
    customer_now = client.get(f"/api/customers/{customer}", headers=headers).json
    assert not customer_now.get("external_rating")


def test_a_record_field_refuses_a_json_object_instead_of_its_python_spelling(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {"name": {"typename": "x"}, "currency": "EUR"}
    refused = client.post("/api/customers", json=body, headers=auth(demo_tokens["sales1"]))
    assert refused.status_code in (400, 422), refused.json
    listed = client.get("/api/customers?q=typename", headers=auth(demo_tokens["sales1"])).json
    assert listed["items"] == []


def test_a_misspelt_tick_time_is_refused_rather_than_run_at_the_real_time(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    refused = client.post(
        "/api/admin/tick", json={"nwo": "2030-01-01T00:00:00Z"}, headers=auth(demo_tokens["admin"])
    )
    assert refused.status_code == 400 and "nwo" in refused.json["error"]["message"]
