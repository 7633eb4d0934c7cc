"""The decision log (issue 18, must-show 4): one row per DMN evaluation a step makes (a business rule task's,
or a handler's of a table deployed with the instance's version), with what the table was asked and answered,
written in the step's transaction and read by whoever may read the instance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, complete, create_customer, open_task
from tests.helpers import auth
from tests.webui.test_customer_pages import set_page_size
from tests.webui.test_pages import logged_in
from workflows.store.decision_log_table import DecisionLogEntry

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
DECISION_ROW = re.compile(r'<tr data-decision="([^"]+)">')
DMN_NS = {"d": "https://www.omg.org/spec/DMN/20191111/MODEL/"}


def rule_ids(dmn_file: str) -> list[str]:
    """The rule ids of a shipped table in row order (row 1 first)."""
    root = etree.parse(str(BPMN / dmn_file))
    return [str(r.get("id")) for r in root.iterfind(".//d:decisionTable/d:rule", DMN_NS)]


def decisions(client: FlaskClient, token: str, instance_id: int, **query: Any) -> Any:
    return client.get(
        f"/api/process-instances/{instance_id}/decisions", query_string=query, headers=auth(token)
    )


def expected_grade_rule(score: int, thin_file: bool) -> str:
    """credit_scorecard.dmn by hand: hit policy FIRST, the thin-file cap before the score bands."""
    if thin_file and score >= 55:
        return "grade_thin_file_cap"
    bands = [(85, "grade_a"), (70, "grade_b"), (55, "grade_c"), (40, "grade_d")]
    return next((rule for floor, rule in bands if score >= floor), "grade_e")


def test_a_credit_application_logs_each_evaluation_once_with_its_inputs_and_outputs(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    data = instance["data"]
    first = decisions(client, demo_tokens["sales1"], instance["id"])
    assert first.status_code == 200, first.json
    assert first.json["total"] == 3
    weights, grade, policy = first.json["items"]

    # credit.score's handler picks the segment scorecard (scorecard_weights.dmn): a row of its service task.
    assert (weights["decision_id"], weights["bpmn_id"]) == ("scorecard_weights", "score_customer")
    assert (weights["process_key"], weights["version"]) == ("credit_application", instance["version"])
    assert weights["inputs"] == {"industry": "manufacturing", "region": "", "ownership": ""}
    assert weights["outputs"] == {"scorecard": data["scoring"]["scorecard"], **data["scoring"]["weights"]}
    assert (
        weights["rules"]
        == [{"row": 5, "id": "weights_default"}]
        == [{"row": rule_ids("scorecard_weights.dmn").index("weights_default") + 1, "id": "weights_default"}]
    )

    score, thin = data["scoring"]["score"], data["scoring"]["thin_file"]
    assert (grade["decision_id"], grade["bpmn_id"]) == ("credit_scorecard", "grade_customer")
    assert (grade["process_key"], grade["version"], grade["instance_id"]) == (
        "credit_application",
        instance["version"],
        instance["id"],
    )
    assert grade["inputs"] == {'scoring["score"]': score, 'scoring["thin_file"]': thin}
    assert grade["outputs"] == {"grade": data["grade"]}
    rule = expected_grade_rule(score, thin)
    assert grade["rules"] == [{"row": rule_ids("credit_scorecard.dmn").index(rule) + 1, "id": rule}]

    assert (policy["decision_id"], policy["bpmn_id"]) == ("limit_policy", "apply_limit_policy")
    key = bool(data["credit_file"].get("key_customer", False))
    assert policy["inputs"] == {"grade": data["grade"], 'credit_file.get("key_customer", False)': key}
    # Decimal outputs are stored as their exact strings, as in the instance's data.
    assert policy["outputs"] == {
        name: data[name]
        for name in ("revenue_cap_pct", "score_valid_months", "review_months", "grace_days", "limit_rounding")
    }
    assert isinstance(policy["outputs"]["revenue_cap_pct"], str)
    policy_rule = f"policy_{data['grade'].lower()}" + ("_key" if key else "")
    assert policy["rules"] == [
        {"row": rule_ids("limit_policy.dmn").index(policy_rule) + 1, "id": policy_rule}
    ]
    assert grade["at"] == policy["at"] == instance["started_at"]

    review = open_task(instance, "review_application")
    reviewed = complete(
        client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit="500000.50"
    )
    assert reviewed.status_code == 200, reviewed.json
    after = decisions(client, demo_tokens["analyst1"], instance["id"]).json
    assert after["total"] == 5
    # credit.check_recommendation reads the limit policy again (its handler), then the business rule task.
    assert [d["bpmn_id"] for d in after["items"][3:]] == ["check_recommendation", "decide_authority"]
    authority = after["items"][4]
    assert (authority["decision_id"], authority["bpmn_id"]) == ("approval_authority", "decide_authority")
    assert authority["inputs"] == {
        'recommendation["rate_missing"]': False,
        'recommendation["limit_in_base"]': "500000.50",
        "grade": data["grade"],
        'recommendation["above_policy"]': authority["inputs"]['recommendation["above_policy"]'],
    }
    assert authority["outputs"] == {"approval_level": "manager"}
    assert len(authority["rules"]) == 1

    manager_task = open_task(
        client.get(f"/api/process-instances/{instance['id']}", headers=auth(demo_tokens["admin"])).json,
        "manager_approval",
    )
    done = complete(client, demo_tokens["manager1"], manager_task["id"], decision="approve")
    assert done.json["instance"]["status"] == "completed"
    # credit.apply_limit checks the authority table and the limit policy (twice) once more before applying.
    with app.extensions["creditflow"].rt.factory() as session:
        query = select(DecisionLogEntry.bpmn_id, DecisionLogEntry.decision_id).where(
            DecisionLogEntry.instance_id == instance["id"]
        )
        rows = session.execute(query.order_by(DecisionLogEntry.id))
        assert [tuple(r) for r in rows] == [
            ("score_customer", "scorecard_weights"),
            ("grade_customer", "credit_scorecard"),
            ("apply_limit_policy", "limit_policy"),
            ("check_recommendation", "limit_policy"),
            ("decide_authority", "approval_authority"),
            ("apply_limit", "limit_policy"),
            ("apply_limit", "approval_authority"),
            ("apply_limit", "limit_policy"),
        ]
        assert session.scalar(select(func.count()).select_from(DecisionLogEntry)) == 8


def test_the_log_pages_and_filters_by_decision(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    token = demo_tokens["sales1"]
    second = decisions(client, token, instance["id"], page=2, per_page=1).json
    assert (second["total"], second["page"], second["per_page"]) == (3, 2, 1)
    assert [d["decision_id"] for d in second["items"]] == ["credit_scorecard"]
    third = decisions(client, token, instance["id"], page=3, per_page=1).json
    assert [d["decision_id"] for d in third["items"]] == ["limit_policy"]
    assert decisions(client, token, instance["id"], page=4, per_page=1).json["items"] == []
    only = decisions(client, token, instance["id"], decision="credit_scorecard").json
    assert (only["total"], [d["bpmn_id"] for d in only["items"]]) == (1, ["grade_customer"])
    assert decisions(client, token, instance["id"], decision="nothing_like_it").json["total"] == 0


def test_the_log_is_read_only_by_readers_of_the_instance(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    for reader in ("sales1", "analyst1", "auditor1", "admin"):
        assert decisions(client, demo_tokens[reader], instance["id"]).status_code == 200, reader
    # Neither the CFO (no task of it reached them), nor collections, nor a process owner may read it.
    for outsider in ("cfo1", "collector1", "owner1", "manager1"):
        answer = decisions(client, demo_tokens[outsider], instance["id"])
        assert answer.status_code == 403, outsider
        assert "inputs" not in answer.get_data(as_text=True)
    assert decisions(client, demo_tokens["admin"], 999_999).status_code == 404
    assert client.get(f"/api/process-instances/{instance['id']}/decisions").status_code == 401


def test_the_instance_page_pages_the_decisions_and_filters_them(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    instance = apply(client, demo_tokens["sales1"], customer["id"], 600_000)
    set_page_size(app, 1)
    browser = logged_in(app, "sales1")
    path = f"/instances/{instance['id']}"
    first = browser.get(path).get_data(as_text=True)
    section = first[first.index('id="decisions"') :]
    # The handler's row (credit.score's scorecard_weights) is paged like a business rule task's.
    assert DECISION_ROW.findall(section) == ["scorecard_weights"]
    assert "score_customer" in section and "payment_history" in section and "weights_default" in section
    assert "Page 1 of 3 · 3 in all" in section and "decisions_page=2" in section
    second = browser.get(path, query_string={"decisions_page": 2}).get_data(as_text=True)
    assert DECISION_ROW.findall(second) == ["credit_scorecard"]
    assert "scoring[&#34;score&#34;]" in second
    third = browser.get(path, query_string={"decisions_page": 3}).get_data(as_text=True)
    assert DECISION_ROW.findall(third) == ["limit_policy"]
    assert "revenue_cap_pct" in third
    only = browser.get(path, query_string={"decision": "limit_policy"}).get_data(as_text=True)
    assert DECISION_ROW.findall(only) == ["limit_policy"]
    assert "Page 1 of" not in only[only.index('id="decisions"') :]
    none = browser.get(path, query_string={"decision": "x" * 5000}).get_data(as_text=True)
    assert DECISION_ROW.findall(none) == [] and "No decisions of" in none
    assert logged_in(app, "cfo1").get(path).status_code == 403
