"""The JSON API's error `message` wholly in the caller's language (issue 20, R20 finding 4): a 422's listing
of bad fields says each field's problem as `fields` does (no English sentence inside a Chinese message), and
a 403 names the groups who may act by their names (信用经理, not credit_manager) — in English too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")
ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"
LATIN_WORDS = re.compile(r"[A-Za-z]{3,}")


def _body(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    return body


def _customer(client: FlaskClient, tokens: dict[str, str]) -> int:
    created = client.post(
        "/api/customers",
        json={"name": "Yuyan Trading", "industry": "manufacturing", "currency": "EUR"},
        headers=auth(tokens["sales1"]),
    )
    assert created.status_code == 201, created.json
    return int(_body(created)["id"])


def _said(client: FlaskClient, token: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """{language: the error object} for the same request in Chinese and in English."""
    said = {}
    for language in (ZH, EN):
        headers = {**auth(token), "Accept-Language": language}
        response = client.open(path, method=method, json=body, headers=headers)
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        said[language] = _body(response)["error"]
    return said


def test_a_start_with_bad_fields_lists_each_fields_problem_in_the_callers_language(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = _customer(client, demo_tokens)
    body = {"process_key": "credit_application", "data": {"customer_id": customer, "requested_limit": -5}}
    said = _said(client, demo_tokens["sales1"], "POST", "/api/process-instances", body)
    zh, en = said[ZH], said[EN]
    assert zh["code"] == en["code"] == "invalid" and set(zh["fields"]) == set(en["fields"])
    assert {"currency", "requested_limit"} <= set(zh["fields"])
    assert zh["message"].startswith("表单有误：")
    for name, problem in zh["fields"].items():
        assert f"{name}：{problem}" in zh["message"], (name, zh["message"])
    # The field ids stay (programs read them); no English sentence is left in the Chinese message.
    without_ids = zh["message"]
    for name in zh["fields"]:
        without_ids = without_ids.replace(f"{name}：", "")
    assert not LATIN_WORDS.findall(without_ids), zh["message"]
    assert "This field is required." in en["message"] and en["message"].startswith("The form has errors: ")
    for name, problem in en["fields"].items():
        assert f"{name}: {problem}" in en["message"], (name, en["message"])


def test_a_403_for_a_group_names_the_group_not_its_id(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = _customer(client, demo_tokens)
    said = _said(
        client, demo_tokens["analyst1"], "POST", f"/api/customers/{customer}/unblock", {"reason": "paid"}
    )
    assert said[ZH]["code"] == said[EN]["code"] == "forbidden"
    assert said[ZH]["message"] == "analyst1 无权解除信用冻结：仅信用经理或管理员可以操作"
    assert said[EN]["message"] == "analyst1 may not lift a credit block: only Credit manager or admin may"


def test_a_task_of_another_group_is_refused_naming_that_group(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = _customer(client, demo_tokens)
    data = {
        "customer_id": customer,
        "requested_limit": 80_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "New distributor for the northern region.",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "business_key": "ZH-403", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    task = next(t for t in _body(started)["tasks"] if t["status"] == "open")
    said = _said(client, demo_tokens["collector1"], "GET", f"/api/tasks/{task['id']}")
    assert said[ZH]["code"] == said[EN]["code"] == "forbidden"
    assert said[ZH]["message"] == f"任务 {task['id']} 属于信用分析师；collector1 不是其成员"
    assert said[EN]["message"] == f"task {task['id']} belongs to Credit analyst; collector1 is not a member"
    assert "credit_analyst" not in said[ZH]["message"]


def test_a_process_that_is_not_deployed_is_quoted_as_chinese_writes_quotes(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {"process_key": "nope", "data": {}}
    said = _said(client, demo_tokens["sales1"], "POST", "/api/process-instances", body)
    assert said[ZH]["code"] == said[EN]["code"] == "not_found"
    assert said[ZH]["message"].startswith("流程“nope”尚未部署"), said[ZH]["message"]
    assert said[EN]["message"].startswith("process 'nope' is not deployed"), said[EN]["message"]
