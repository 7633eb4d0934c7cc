"""A deploy problem and its hint keep one stop (R22 P-2, left by L1): SpiffWorkflow's "Did you mean one of
the following: …?" followed by our "；请加入…" read "credit_hold？；请加入…". The problem and its hint are
joined by workflows.languages.clauses_joined: after a question no ； (zh) and a new sentence (en)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext

from tests.definitions.test_validation import approval_bundle, edited_approval
from tests.helpers import auth
from workflows.definitions.problems import _explain, message_said

pytestmark = pytest.mark.usefixtures("shipped")

MISSING = "The process 'collect' was not found. Did you mean one of the following: dunning, credit_hold?"


def test_a_question_is_followed_by_the_hint_without_a_semicolon(app: Flask) -> None:
    said = _explain(MISSING)
    assert message_said(said, str) == (
        "The process 'collect' was not found. Did you mean one of the following: dunning, credit_hold? "
        "Add the BPMN file that defines the called process, or fix calledElement"
    )
    with app.test_request_context(), force_locale("zh_Hans"):
        assert message_said(said, gettext) == (
            "找不到流程“collect”。是否指以下流程之一：dunning, credit_hold？"
            "请加入定义被调用流程的 BPMN 文件，或更正 calledElement"
        )
        # A problem without a question keeps the ；.
        unasked = message_said(_explain("No start event found"), gettext)
        assert unasked == "未找到开始事件；请为流程添加开始事件"


def _refused(client: FlaskClient, token: str, files: dict[str, bytes], language: str) -> Any:
    response = client.post(
        "/api/process-definitions",
        data={"files": [(BytesIO(data), name) for name, data in files.items()]},
        headers={**auth(token), "Accept-Language": language},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]


def test_a_deploy_refused_for_a_missing_called_process_says_one_mark(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    text = edited_approval(
        '<bpmn:scriptTask id="classify_application" name="Classify application">',
        '<bpmn:callActivity id="classify_application" name="Classify application" '
        'calledElement="classification">',
    ).decode()
    text = text.replace("</bpmn:scriptTask>", "</bpmn:callActivity>").replace(
        '<bpmn:script>risk_band = "high" if requested_amount &gt; 50000 else "standard"</bpmn:script>', ""
    )
    files = approval_bundle(**{"approval.bpmn": text.encode()})
    zh = _refused(client, demo_tokens["owner1"], files, "zh-CN,zh;q=0.9")
    en = _refused(client, demo_tokens["owner1"], files, "en-GB")
    (zh_said,) = [p for p in zh["problems"] if "classification" in p]
    (en_said,) = [p for p in en["problems"] if "classification" in p]
    assert "？请加入定义被调用流程的 BPMN 文件" in zh_said and "？；" not in zh_said, zh_said
    assert "? Add the BPMN file that defines the called process" in en_said and "?;" not in en_said, en_said
