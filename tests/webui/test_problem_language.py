"""Deploy problems, form field messages and engine refusals in the reader's language (issue 20): the
sentence of a FILE:LINE: ELEMENT_ID: problem is Chinese for a zh reader and unchanged English otherwise, while
the file, line and element id (what a reader finds the element by) stay the same; a refused task form names
its fields' problems in Chinese; and every sentence the definitions/engine/store/mail/batch code raises is a
Text."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext

from tests.helpers import ACCEPTANCE, auth, credit_hold_files
from tests.webui.test_customer_pages import open_task, overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_definition_diff import RAISED, deploy_raised_threshold
from tests.webui.test_language import as_user
from tests.webui.test_pages import _upload_page, csrf_token
from workflows.definitions.forms import validate_form
from workflows.definitions.validation import InvalidBundle, validate_bundle
from workflows.engine.failures import EngineError
from workflows.engine.refusals import refuse_bad_input
from workflows.engine.service_tasks import HandlerInputError, build_request
from workflows.errors import Invalid
from workflows.messages import Worded, _, translated

pytestmark = pytest.mark.usefixtures("shipped")

ROOT = Path(__file__).resolve().parents[2]
# A real diagram from another tool (Camunda's examples): a service task without our operator, and JUEL
# conditions that are no Python.
CAMUNDA = (
    ROOT.parent
    / "shared"
    / "corpus"
    / "bpmn"
    / "camunda-bpm-examples"
    / "camunda-testing-job-announcement.bpmn"
)
LOCATION = re.compile(r"^([^:]+:\d+: [^:]+: )(.*)$", re.DOTALL)
HAN = re.compile(r"[\u4e00-\u9fff]")


def _split(problem: str) -> tuple[str, str]:
    found = LOCATION.match(problem)
    assert found is not None, problem
    return found.group(1), found.group(2)


def _post_bundle(client: FlaskClient, token: str, files: dict[str, bytes], language: str) -> Any:
    response = client.post(
        "/api/process-definitions",
        data={"files": [(BytesIO(data), name) for name, data in files.items()]},
        headers={**auth(token), "Accept-Language": language},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]


@pytest.mark.skipif(not CAMUNDA.exists(), reason="the shared corpus is not on this machine")
def test_a_refused_bundle_s_problems_are_chinese_for_zh_and_unchanged_english_for_en(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    files = {CAMUNDA.name: CAMUNDA.read_bytes()}
    with pytest.raises(InvalidBundle) as raised:
        validate_bundle(files, {"no_such_operation"})
    zh = _post_bundle(client, demo_tokens["owner1"], files, "zh-CN,zh;q=0.9")
    en = _post_bundle(client, demo_tokens["owner1"], files, "en-GB")
    assert zh["code"] == en["code"] == "invalid_definition"
    assert len(zh["problems"]) == len(en["problems"]) >= 3
    # English: exactly what the validation says (and `creditflow validate` prints).
    assert all(str(p).startswith(f"{CAMUNDA.name}:") for p in raised.value.problems)
    assert en["message"] == "\n".join(en["problems"])
    for chinese, english in zip(zh["problems"], en["problems"], strict=True):
        (zh_at, zh_said), (en_at, en_said) = _split(chinese), _split(english)
        assert zh_at == en_at  # FILE:LINE: ELEMENT_ID:
        assert HAN.search(zh_said) and not HAN.search(en_said), (chinese, english)
    said = "\n".join(zh["problems"])
    assert "服务任务缺少 spiffworkflow:serviceTaskOperator" in said
    # Nested sentences: the label, the sandbox's sentence and its hint, each in Chinese.
    assert "条件表达式：Python 语法错误" in said and "流程图中的表达式使用 Python" in said
    assert "the service task has no spiffworkflow:serviceTaskOperator" in "\n".join(en["problems"])
    assert zh["message"] == said


def test_the_modeler_s_validation_shows_a_zh_owner_chinese_problems_at_the_same_element(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = as_user(app, "owner1", "zh")
    assert _upload_page(owner, credit_hold_files()).status_code == 302
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions")}
    xml = (ACCEPTANCE / "credit_hold.bpmn").read_text()
    broken = xml.replace('targetRef="review_hold"', 'targetRef="review_hol"')
    checked = owner.post("/definitions/credit_hold/1/validate", json={"xml": broken}, headers=headers).json
    assert checked["ok"] is False
    problem = next(p for p in checked["problems"] if p["element_id"] == "to_review_hold")
    assert problem["file"] == "credit_hold.bpmn" and problem["line"] > 0
    assert problem["message"] == (
        "顺序流的 targetRef“review_hol”指向的元素不在本流程中；请在建模器中重新连接或删除该顺序流"
    )
    assert problem["text"] == f"credit_hold.bpmn:{problem['line']}: to_review_hold: {problem['message']}"
    refused = owner.post("/definitions/credit_hold/1/deploy", json={"xml": broken}, headers=headers)
    assert refused.status_code == 422 and "顺序流的 targetRef" in refused.json["problems"][0]["message"]

    english = as_user(app, "owner1", "en")
    headers = {"X-CSRFToken": csrf_token(english, "/definitions")}
    again = english.post("/definitions/credit_hold/1/validate", json={"xml": broken}, headers=headers).json
    assert next(p for p in again["problems"] if p["element_id"] == "to_review_hold")["message"] == (
        "the sequence flow's targetRef 'review_hol' names no element in this process; "
        "reconnect or delete the flow in the modeler"
    )


def test_an_upload_refused_on_the_definitions_page_lists_chinese_problems_for_a_zh_owner(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = as_user(app, "owner1", "zh")
    broken = ACCEPTANCE / "credit_hold.bpmn"
    token = csrf_token(owner, "/definitions")
    xml = broken.read_text().replace('targetRef="review_hold"', 'targetRef="review_hol"')
    page = owner.post(
        "/definitions/upload",
        data={"csrf_token": token, "files": [(BytesIO(xml.encode()), "credit_hold.bpmn")]},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "credit_hold.bpmn:" in text and "to_review_hold: 顺序流的 targetRef" in text


def test_a_task_form_with_a_wrong_type_and_a_missing_field_is_refused_in_chinese(
    client: FlaskClient,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    headers = auth(demo_tokens["analyst1"])
    # No decision (required), a limit of 0 (exclusiveMinimum), a rating in words (integer), one above 5.
    sent = {"recommended_limit": "0", "management_rating": "nine", "industry_rating": 9}
    refused = {
        language: client.post(
            f"/api/tasks/{task_id}/complete",
            json={"data": sent},
            headers={**headers, "Accept-Language": language},
        )
        for language in ("zh-CN", "en")
    }
    assert refused["zh-CN"].status_code == refused["en"].status_code == 422
    zh, en = refused["zh-CN"].get_json()["error"], refused["en"].get_json()["error"]
    assert set(zh["fields"]) == set(en["fields"]) and zh["code"] == en["code"] == "invalid"
    assert all(HAN.search(message) for message in zh["fields"].values()), zh["fields"]
    assert not any(HAN.search(message) for message in en["fields"].values()), en["fields"]
    assert en["fields"] == {
        "decision": "This field is required.",
        "recommended_limit": "Must be greater than 0.",
        "management_rating": "Must be an integer.",
        "industry_rating": "Must be at most 5.",
    }
    assert zh["fields"] == {
        "decision": "此项为必填项。",
        "recommended_limit": "必须大于 0。",
        "management_rating": "必须是整数。",
        "industry_rating": "不得大于 5。",
    }


def test_the_type_sentence_says_an_integer_not_a_integer() -> None:
    schema = {
        "type": "object",
        "properties": {"days": {"type": "integer"}, "tags": {"type": ["array", "null"]}},
    }
    with pytest.raises(Invalid) as refused:
        validate_form(schema, {"days": "ten", "tags": 3})
    assert refused.value.details["fields"] == {
        "days": "Must be an integer.",
        "tags": "Must be an array or null.",
    }


# --- every refusal of these directories is a Text ---------------------------------------------------------

SCANNED = (
    "workflows/definitions",
    "workflows/engine",
    "workflows/store",
    "workflows/mail",
    "workflows/batch",
    "workflows/decision_log.py",
    "workflows/audit_trail.py",
)
REFUSALS = {
    "Invalid",
    "Conflict",
    "NotFound",
    "Forbidden",
    "BadRequest",
    "Problem",
    "HandlerInputError",
    "DmnDiffError",
    "ObjectRefError",
}


def _sentences(call: ast.Call, name: str) -> list[ast.expr]:
    """The arguments of a refusal that are its sentence: a Problem's fourth, any other error's first."""
    if name == "Problem":
        return call.args[3:4]
    return call.args[:1]


def _plain(node: ast.expr) -> bool:
    """A sentence written as a literal or an f-string (not a Text made with _(), nor a name holding one)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def test_every_refusal_in_the_definitions_engine_store_mail_and_batch_code_is_a_text() -> None:
    found = []
    for part in SCANNED:
        path = ROOT / part
        for file in sorted(path.rglob("*.py") if path.is_dir() else [path]):
            if "migrations" in file.parts:
                continue
            tree = ast.parse(file.read_text(), filename=str(file))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in REFUSALS and any(_plain(arg) for arg in _sentences(node, name)):
                    found.append(f"{file.relative_to(ROOT)}:{node.lineno}: {name}")
                if name == "problem" and any(_plain(arg) for arg in node.args[1:2]):  # Document.problem
                    found.append(f"{file.relative_to(ROOT)}:{node.lineno}: problem")
    assert found == [], "sentences not made with workflows.messages._:\n" + "\n".join(found)


def test_a_row_s_cell_error_finds_its_cell_in_chinese_too() -> None:
    from webui.schema_forms import _cell_errors

    for said, cell in (
        ("/0/amount: Must be greater than 0.", "Must be greater than 0."),
        ("/0/amount：必须大于 0。", "必须大于 0。"),
    ):
        assert _cell_errors("invoices", {"invoices": said}) == {(0, "amount"): cell}


@dataclass
class _Amount:
    amount: Decimal


def test_a_handler_s_refusal_stays_a_text_through_the_engine_to_the_422(app: Flask) -> None:
    """service_tasks' HandlerInputError (a Text) -> spiff's "<operation> failed: ..." EngineError (its
    refusal: the handler's Text) -> refuse_bad_input's Invalid: the caller's sentence wraps the handler's
    Text, not the operation's id (P-1: that goes to the log), so a zh reader gets all of it in Chinese
    (webui/errors.py translates the message with the request's catalogue)."""
    with pytest.raises(HandlerInputError) as by_handler:
        build_request(_Amount, {"amount": "NaN"}, "credit.check")
    said = by_handler.value.args[0]
    failed = _("%(operation)s failed: %(error)s", operation="credit.check", error=said)
    failure = EngineError(failed, "check_credit", input_error=True, refusal=said)
    step = SimpleNamespace(failure=failure, instance=SimpleNamespace(process_key="credit_application", id=1))
    process = Worded("Credit application", {"zh": "信用额度申请"})
    with pytest.raises(Invalid) as refused:
        refuse_bad_input(step, _("%(process)s could not be started", process=process))  # type: ignore[arg-type]
    assert refused.value.message == (
        "Credit application could not be started: Amount: 'NaN' is not a finite number"
    )
    with app.test_request_context(), force_locale("zh_Hans"):
        assert translated(refused.value.message, gettext) == (
            "无法发起“信用额度申请”流程：金额：'NaN' 不是有限数值"
        )


@pytest.mark.parametrize(
    ("spiff", "english", "chinese"),
    [
        (
            "No start event found",
            "No start event found; add a start event to the process",
            "未找到开始事件；请为流程添加开始事件",
        ),
        (
            "The process 'collect' was not found. Did you mean one of the following: dunning, credit_hold?",
            "The process 'collect' was not found. Did you mean one of the following: dunning, credit_hold? "
            "Add the BPMN file that defines the called process, or fix calledElement",
            "找不到流程“collect”。是否指以下流程之一：dunning, credit_hold？"
            "请加入定义被调用流程的 BPMN 文件，或更正 calledElement",
        ),
        (
            "Something SpiffWorkflow 3.3 may say.",
            "Something SpiffWorkflow 3.3 may say; fix this element and validate again",
            "Something SpiffWorkflow 3.3 may say；请修正该元素后重新校验",
        ),
    ],
)
def test_spiffworkflow_s_known_sentences_are_said_in_chinese_and_an_unknown_one_keeps_its_english(
    app: Flask, spiff: str, english: str, chinese: str
) -> None:
    from workflows.definitions.problems import _explain, message_said

    said = _explain(spiff)
    assert message_said(said, str) == english
    with app.test_request_context(), force_locale("zh_Hans"):
        assert message_said(said, gettext) == chinese


def test_the_policy_change_a_zh_owner_reads_on_the_definition_page_is_chinese(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    deploy_raised_threshold(app, clock)
    page = as_user(app, "owner1", "zh").get("/definitions/credit_application/2").get_data(as_text=True)
    # The column's title is the DMN's own label: the diagram's words, not ours.
    assert (
        "规则 4（above_hundred_thousand）：Recommended limit in the base currency &gt; 100000 → &gt; 150000"
        in page
    )
    english = as_user(app, "owner1", "en").get("/definitions/credit_application/2").get_data(as_text=True)
    assert RAISED.replace(">", "&gt;") in english
    # The API's diff stays the contract's English text: a program reads it (errors follow Accept-Language).
    answer = client.get(
        "/api/process-definitions/credit_application/diff",
        headers={**auth(demo_tokens["owner1"]), "Accept-Language": "zh"},
    )
    assert [c["text"] for d in answer.json["decisions"] for c in d["changes"]] == [RAISED]
