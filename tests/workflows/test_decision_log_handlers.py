"""Issue 18, must-show 4 for the tables handlers read: a DMN evaluation a handler makes while its service task
runs (engine.decisions.evaluate_decision) is a decision_log row like a business rule task's, so the instance
page pages it and a what-if on the table (scorecard_weights.dmn) replays it. Outside a step, or on a table not
deployed with the instance's version, or by a handler that fails, nothing is logged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, create_customer
from tests.helpers import auth
from tests.workflows.test_what_if import period, what_if
from workflows.credit.dunning import first_level_days
from workflows.engine.decisions import evaluate_decision
from workflows.store.decision_log_table import DecisionLogEntry

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
WEIGHTS = (BPMN / "scorecard_weights.dmn").read_text(encoding="utf-8")
# Real estate leaves the construction scorecard: those customers fall to the ownership or default one.
EDITED = WEIGHTS.replace('? in ("construction", "real estate")', '"construction"')
# Each customer's industry and ownership, and the applications its sales owner files.
CUSTOMERS = [
    ("real estate", None, 2),
    ("real estate", "listed", 1),
    ("construction", None, 1),
    ("manufacturing", None, 1),
]


def scorecard_by_hand(industry: str, ownership: str, *, real_estate_is_construction: bool) -> str:
    """scorecard_weights.dmn's segment (hit policy FIRST) written out, before and after the edit."""
    if industry == "construction" or (industry == "real estate" and real_estate_is_construction):
        return "construction"
    return ownership if ownership in ("state_owned", "listed", "foreign") else "default"


def weights_rows(app: Flask, **where: Any) -> list[DecisionLogEntry]:
    with app.extensions["creditflow"].rt.factory() as session:
        query = select(DecisionLogEntry).filter_by(decision_id="scorecard_weights", **where)
        return list(session.scalars(query.order_by(DecisionLogEntry.id)))


def test_a_what_if_on_scorecard_weights_replays_the_handlers_rows(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    assert EDITED != WEIGHTS
    applications = []
    for n, (industry, ownership, count) in enumerate(CUSTOMERS):
        fields = {
            **SOLID_CUSTOMER,
            "external_id": f"G1-{n}",
            "name": f"Segment {n} GmbH",
            "industry": industry,
        }
        customer = create_customer(client, demo_tokens["sales1"], {**fields, "ownership": ownership})
        for _ in range(count):
            instance = apply(client, demo_tokens["sales1"], customer["id"], 50_000)
            applications.append((instance, industry, ownership or ""))
    # One row per application, of its credit.score service task, with the outputs the handler acted on.
    rows = weights_rows(app)
    assert [(r.instance_id, r.bpmn_id) for r in rows] == [
        (i["id"], "score_customer") for i, _, _ in applications
    ]
    for row, (instance, industry, ownership) in zip(rows, applications, strict=True):
        assert row.inputs == {"industry": industry, "region": "", "ownership": ownership}
        assert row.outputs["scorecard"] == instance["data"]["scoring"]["scorecard"]
        assert row.outputs["scorecard"] == scorecard_by_hand(
            industry, ownership, real_estate_is_construction=True
        )

    same = what_if(client, demo_tokens["owner1"], {"scorecard_weights.dmn": WEIGHTS}, **period(clock))
    assert same.status_code == 200, same.json
    [unchanged] = same.json["summary"]["tables"]
    # The recorded inputs re-evaluate to the recorded outputs: the replay rebuilds what the handler passed.
    assert (unchanged["rows"], unchanged["changed"], unchanged["failed"]) == (len(applications), 0, 0)

    answer = what_if(client, demo_tokens["owner1"], {"scorecard_weights.dmn": EDITED}, **period(clock))
    assert answer.status_code == 200, answer.json
    [table] = answer.json["summary"]["tables"]
    expected: dict[str, int] = {}
    for _instance, industry, ownership in applications:
        old = scorecard_by_hand(industry, ownership, real_estate_is_construction=True)
        new = scorecard_by_hand(industry, ownership, real_estate_is_construction=False)
        if old != new:
            expected[f"{old} → {new}"] = expected.get(f"{old} → {new}", 0) + 1
    assert expected == {"construction → default": 2, "construction → listed": 1}
    assert table["kind"] == "scorecard"
    assert (table["rows"], table["failed"]) == (len(applications), 0), table["failure"]
    assert table["changed"] == answer.json["changes"]["total"] == sum(expected.values())
    assert table["outputs"]["scorecard"] == expected
    changed = {c["instance_id"] for c in answer.json["changes"]["items"]}
    assert changed == {i["id"] for i, industry, _ in applications if industry == "real estate"}


def test_the_collateral_haircut_is_logged_when_the_score_weighs_collateral(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    guarantee = {
        "kind": "bank_guarantee",
        "provider": "Deutsche Bank",
        "value": "500000.00",
        "currency": "EUR",
    }
    posted = client.post(
        f"/api/customers/{customer['id']}/collateral", json=guarantee, headers=auth(demo_tokens["analyst1"])
    )
    assert posted.status_code == 201, posted.json
    instance = apply(client, demo_tokens["sales1"], customer["id"], 400_000)
    answer = client.get(
        f"/api/process-instances/{instance['id']}/decisions",
        query_string={"decision": "collateral_haircut"},
        headers=auth(demo_tokens["sales1"]),
    )
    [haircut] = answer.json["items"]
    assert (haircut["bpmn_id"], haircut["inputs"]) == ("score_customer", {"kind": "bank_guarantee"})
    assert set(haircut["outputs"]) == {"counted_pct"} and len(haircut["rules"]) == 1


def test_nothing_is_logged_outside_a_step(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    def count() -> int:
        with app.extensions["creditflow"].rt.factory() as session:
            return session.scalar(select(func.count()).select_from(DecisionLogEntry)) or 0

    before = count()
    # The dunning ladder per grade, as the daily batch reads it; a handler's table read on its own.
    with app.extensions["creditflow"].rt.factory() as session:
        assert first_level_days(session)
    assert evaluate_decision(WEIGHTS, "scorecard_weights", {"industry": "x", "region": "", "ownership": ""})
    assert count() == before


def test_a_failing_handler_s_evaluations_are_not_logged(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.credit_scoring as scoring

    def weights_then_fail(*args: Any, **kwargs: Any) -> Any:
        evaluate_decision(WEIGHTS, "scorecard_weights", {"industry": "x", "region": "", "ownership": ""})
        raise RuntimeError("the credit bureau is down")

    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    monkeypatch.setattr(scoring, "gather_inputs", weights_then_fail)
    failed = apply(client, demo_tokens["sales1"], customer["id"], 50_000)
    assert failed["status"] == "error"
    assert weights_rows(app, instance_id=failed["id"]) == []


def test_a_table_not_deployed_with_the_instance_s_version_is_not_logged(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.credit_scoring as scoring

    gather = scoring.gather_inputs

    def also_reads_another_table(*args: Any, **kwargs: Any) -> Any:
        # Another version's table (here: the edited one): the row could not say where it came from.
        evaluate_decision(EDITED, "scorecard_weights", {"industry": "x", "region": "", "ownership": ""})
        return gather(*args, **kwargs)

    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    monkeypatch.setattr(scoring, "gather_inputs", also_reads_another_table)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 50_000)
    assert instance["status"] == "running"
    [row] = weights_rows(app, instance_id=instance["id"])
    assert row.inputs["industry"] == "manufacturing"
