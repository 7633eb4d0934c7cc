"""Attacking the decision log (issue 18): GET /api/process-instances/ID/decisions and the instance page's
decisions section. Paging and the decision filter refuse hostile values with a 4xx, outsiders learn nothing,
and a step that is refused leaves no decision behind."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, create_customer
from tests.helpers import auth
from workflows.errors import InputError
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.models import ProcessInstance

pytestmark = pytest.mark.usefixtures("shipped")


def started(client: FlaskClient, tokens: dict[str, str]) -> int:
    customer = create_customer(client, tokens["sales1"], SOLID_CUSTOMER)
    return int(apply(client, tokens["sales1"], customer["id"], 600_000)["id"])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=2147483647", 200),
        ("page=2147483648", 400),
        ("page=0", 400),
        ("page=-1", 400),
        ("per_page=0", 400),
        ("page=%00", 400),
        ("page=1&page=2", 400),
        ("per_page=" + "9" * 40, 400),
        ("decision=" + "d" * 121, 400),
        ("decision=a%00b", 400),
        ("decision=credit_scorecard&decision=limit_policy", 400),
        ("decision=%F0%9F%92%A3", 200),
        ("decision=' OR 1=1 --", 200),
    ],
)
def test_hostile_decision_log_queries(
    client: FlaskClient, demo_tokens: dict[str, str], query: str, status: int
) -> None:
    instance_id = started(client, demo_tokens)
    answer = client.get(
        f"/api/process-instances/{instance_id}/decisions?{query}", headers=auth(demo_tokens["sales1"])
    )
    assert answer.status_code in ((400, 422) if status == 400 else (status,)), (query, answer.status_code)
    if status == 200:
        assert answer.json["items"] == []
        # scorecard_weights (credit.score's handler), credit_scorecard and limit_policy at the start.
        assert answer.json["total"] == (3 if query.startswith("page") else 0)


@pytest.mark.parametrize(
    ("instance_id", "status"),
    [("0", 404), ("-1", 404), ("99999999", 404), ("9" * 30, 404), ("1.5", 404), ("%00", 400)],
)
def test_unknown_instances_are_refused(
    client: FlaskClient, demo_tokens: dict[str, str], instance_id: str, status: int
) -> None:
    answer = client.get(f"/api/process-instances/{instance_id}/decisions", headers=auth(demo_tokens["admin"]))
    assert answer.status_code == status, instance_id


def test_outsiders_and_bad_tokens_learn_nothing(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    instance_id = started(client, demo_tokens)
    path = f"/api/process-instances/{instance_id}/decisions"
    for outsider in ("cfo1", "collector1", "owner1", "logistics1", "buyer1"):
        answer = client.get(path, headers=auth(demo_tokens[outsider]))
        assert answer.status_code == 403, outsider
        assert "credit_scorecard" not in answer.get_data(as_text=True)
    for header in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer \x00"}):
        assert client.get(path, headers=header).status_code == 401


def test_a_refused_step_leaves_no_decision_behind(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """credit.record_score runs right after both tables; when it refuses the data, the start is a 422 and
    neither the instance nor the two decisions it evaluated are kept."""
    rt = app.extensions["creditflow"].rt

    def refuse(_ctx: Any, _request: Any) -> Any:
        raise InputError("the score cannot be recorded")

    record_score = rt.operations["credit.record_score"]
    monkeypatch.setitem(rt.operations, "credit.record_score", dataclasses.replace(record_score, func=refuse))
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    data = {
        "customer_id": customer["id"],
        "requested_limit": "600000.00",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Refused on the way",
    }
    answer = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert answer.status_code == 422, answer.json
    with rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
        assert session.scalar(select(func.count()).select_from(DecisionLogEntry)) == 0
