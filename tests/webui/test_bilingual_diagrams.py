"""Bilingual diagrams and forms (issue 20): a task, its lane (group) and its process carry a Chinese name
(`spiffworkflow:property name="name_zh"`), a form its `title_zh` / `description_zh` / `enum_titles_zh`; the
inbox, the task page and the instance page show the user's language, English where the diagram or form
gives no Chinese; deploy refuses an empty translation with FILE:LINE."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from handlers.registry import build_operations
from tests.helpers import auth
from tests.webui.test_customer_pages import open_task, overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_language import as_user, switch, visible
from tests.webui.test_pages import csrf_token, text_of
from webui.schema_forms import form_widgets, translated_problem
from workflows.definitions.display_names import PROPERTY_PATH, read_names
from workflows.definitions.problems import BPMN_NS, NS
from workflows.definitions.validation import InvalidBundle, validate_bundle

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
CJK = re.compile(r"[\u4e00-\u9fff]")


def inbox_row(client: FlaskClient, task_id: int) -> str:
    """The HTML of one task's inbox row."""
    page = text_of(client.get("/inbox"))
    found = re.search(rf'<tr id="task-{task_id}".*?</tr>', page, re.S)
    assert found, f"task {task_id} is not in the inbox"
    return found.group(0)


def _bundle(**changed: bytes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in BPMN.iterdir() if p.suffix in (".bpmn", ".dmn", ".json")}
    return {**files, **changed}


def test_a_zh_user_sees_the_task_lane_process_and_form_in_chinese_and_an_en_user_in_english(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    instance_id = overdue_customer["application"]["id"]
    analyst = as_user(app, "analyst1", "zh")

    row = inbox_row(analyst, task_id)
    assert "审核信用申请" in row and "Review credit application" not in row  # the task, from name_zh
    # Its lane: the group it is offered to.
    assert "<td>信用分析师</td>" in row and "credit_analyst" not in row
    assert "信用额度申请 #" in row and "credit_application" not in row  # the process

    page = analyst.get(f"/tasks/{task_id}").get_data(as_text=True)
    task = text_of(analyst.get(f"/tasks/{task_id}"))
    assert "<h1>审核信用申请</h1>" in page and "<title>审核信用申请" in page
    assert "信用分析师" in task and "信用额度申请" in task
    # The form: field titles, a description and the decision's choices (the values sent stay English).
    for label in ("决定", "建议额度", "建议额度超出政策的理由", "行业前景（1 差 - 5 优）", "备注"):
        assert label in task, label
    assert "建议额度高于公式计算额度时必填。" in task
    assert re.search(r'value="approve"[^>]*> 批准</label>', page) and 'value="request_info"' in page
    assert "要求补充资料" in task
    shown = re.sub(r"<[^>]*>", " ", task)  # the text, without the values the form sends
    for english in ("Recommended limit", "Decision", "Comment", "request_info", "Industry outlook"):
        assert english not in shown, english

    instance = text_of(analyst.get(f"/instances/{instance_id}"))
    assert "信用额度申请" in instance and "审核信用申请" in instance and "信用分析师" in instance
    # The process filters of the inbox and the instance list, and the instance list's rows.
    assert '<option value="credit_application" >信用额度申请</option>' in text_of(analyst.get("/inbox"))
    instances = text_of(analyst.get("/instances"))
    assert '<option value="dunning" >催款</option>' in instances
    assert re.search(rf">{instance_id}</a></td>\s*<td>信用额度申请</td>", instances)

    switch(analyst, "en", f"/tasks/{task_id}")
    english_task = analyst.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "<h1>Review credit application</h1>" in english_task
    # English names the lane's group and the process by name too, not by id (R21's F-11).
    assert "Recommended limit" in english_task and "Credit analyst" in english_task
    assert "Credit application #" in english_task and "credit_application #" not in english_task
    english_row = inbox_row(analyst, task_id)
    assert not CJK.search(english_row)
    assert "Review credit application" in english_row and "<td>Credit analyst</td>" in english_row
    assert "Credit application #" in english_row and "credit_analyst" not in visible(english_row)


def test_a_task_without_name_zh_and_a_form_without_title_zh_fall_back_to_english(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # Version 2 of payment_terms_exception whose review task has no Chinese name, and whose form's
    # decision field has no Chinese title (its other fields keep theirs).
    diagram = (BPMN / "payment_terms_exception.bpmn").read_text(encoding="utf-8")
    stripped = diagram.replace('<spiffworkflow:property name="name_zh" value="审核付款条件" />', "")
    assert stripped != diagram
    form = json.loads((BPMN / "payment_terms_review.json").read_text(encoding="utf-8"))
    del form["properties"]["decision"]["title_zh"]
    files = _bundle()
    upload = [
        (name, data)
        for name, data in files.items()
        if name.endswith((".json", ".dmn")) or name == "payment_terms_exception.bpmn"
    ]
    changed = {
        "payment_terms_exception.bpmn": stripped.encode(),
        "payment_terms_review.json": json.dumps(form, ensure_ascii=False).encode(),
    }
    from io import BytesIO

    response = client.post(
        "/api/process-definitions",
        data={"files": [(BytesIO(changed.get(name, data)), name) for name, data in upload]},
        headers=auth(demo_tokens["owner1"]),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    data = {
        "customer_name": "上海精密零件有限公司",
        "order_value": "250000.00",
        "standard_terms_days": 30,
        "requested_terms_days": 60,
        "justification": "框架订单",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "payment_terms_exception", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.get_json()
    task_id = open_task(started.get_json(), "review_terms")

    analyst = as_user(app, "analyst1", "zh")
    page = analyst.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "<h1>Review payment terms</h1>" in page  # no name_zh: the English name
    task = text_of(analyst.get(f"/tasks/{task_id}"))
    assert "信用分析师" in task and "付款条件例外申请" in task  # the lane and process keep theirs
    assert "Decision" in task and "批准" in task  # no title_zh: English; the choices keep theirs
    assert "批准账期（天）" in task
    row = inbox_row(analyst, task_id)
    assert "Review payment terms" in row and "<td>信用分析师</td>" in row


def test_read_names_falls_back_to_english_per_element() -> None:
    names = read_names((BPMN / "dunning.bpmn").read_bytes(), "dunning")
    assert names.process_name("zh", "dunning") == "催款"
    assert names.element("call_customer", "zh", "Call the customer") == "致电客户催款"
    assert names.element("call_customer", "en", "Call the customer") == "Call the customer"
    assert names.element("no_such_task", "zh", "Stored title") == "Stored title"
    assert names.group("legal", "zh") == "法务" and names.group("legal", "en") == "legal"
    assert names.group("no_lane_group", "zh") == "no_lane_group"
    assert read_names(b"<not xml", "dunning").element("x", "zh", "fallback") == "fallback"


def test_form_widgets_use_the_language_s_texts_and_english_where_missing() -> None:
    schema = {
        "properties": {
            "decision": {
                "title": "Decision",
                "title_zh": "决定",
                "enum": ["approve", "reject"],
                "enum_titles_zh": {"approve": "批准"},
            },
            "comment": {"title": "Comment", "description": "Say why.", "description_zh": "请说明理由。"},
        }
    }
    zh = {w.name: w for w in form_widgets(schema, language="zh")}
    assert zh["decision"].label == "决定" and zh["decision"].option_labels == {"approve": "批准"}
    assert zh["comment"].label == "Comment" and zh["comment"].description == "请说明理由。"
    en = {w.name: w for w in form_widgets(schema)}
    assert en["decision"].label == "Decision" and en["decision"].option_labels == {}
    assert en["comment"].description == "Say why."


def test_every_shipped_diagram_and_form_is_bilingual() -> None:
    for path in sorted(BPMN.glob("*.bpmn")):
        names = read_names(path.read_bytes(), path.stem)
        assert CJK.search(names.process.get("zh", "")), path.name
        for lane, by_language in names.lanes.items():
            assert CJK.search(by_language.get("zh", "")), (path.name, lane)
        text = path.read_text(encoding="utf-8")
        for task in re.findall(r'<bpmn:userTask id="(\w+)"', text):
            assert CJK.search(names.element(task, "zh", "")), (path.name, task)
        # Every other element the drawing labels (events, gateways, service and rule tasks, sequence flows,
        # the pool) too: a zh reader's diagram has no English label left. A message's name is the key the
        # engine correlates on, never drawn, so it has none.
        root = etree.fromstring(path.read_bytes())
        for element in root.iter(f"{{{BPMN_NS}}}*"):
            kind = etree.QName(element).localname
            if not element.get("name") or kind in ("message", "lane", "process"):
                continue
            zh = [
                prop.get("value") or ""
                for prop in element.iterfind(PROPERTY_PATH, NS)
                if prop.get("name") == "name_zh"
            ]
            assert zh and CJK.search(zh[0]), (path.name, kind, element.get("id"), element.get("name"))

    def texts(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key in ("title", "description"):
                if key in node and key != "properties":
                    assert CJK.search(str(node.get(f"{key}_zh", ""))), (where, node[key])
            if isinstance(node.get("enum"), list):
                assert set(node.get("enum_titles_zh", {})) == set(node["enum"]), (where, node["enum"])
            for key, value in node.items():
                if key == "properties":
                    for child in value.values():
                        texts(child, where)
                elif key not in ("enum", "const", "default", "examples", "enum_titles_zh"):
                    texts(value, where)
        elif isinstance(node, list):
            for item in node:
                texts(item, where)

    for path in sorted(BPMN.glob("*.json")):
        texts(json.loads(path.read_text(encoding="utf-8")), path.name)


def _problems(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(InvalidBundle) as refused:
        validate_bundle(files, list(build_operations()))
    return [str(p) for p in refused.value.problems]


def test_deploy_accepts_name_zh_and_refuses_an_empty_one_with_file_and_line() -> None:
    diagram = (BPMN / "order_release.bpmn").read_text(encoding="utf-8")
    validate_bundle(_bundle(), list(build_operations()))  # the shipped, bilingual diagrams deploy
    empty = diagram.replace('name="name_zh" value="放行被冻结的订单"', 'name="name_zh" value=" "')
    line = next(n for n, text in enumerate(empty.splitlines(), 1) if 'value=" "' in text)
    problems = _problems(_bundle(**{"order_release.bpmn": empty.encode()}))
    where = f"order_release.bpmn:{line}: approve_release: "
    assert any(p.startswith(f"{where}name_zh is empty") for p in problems), problems
    unknown = diagram.replace('name="name_zh" value="订单放行"', 'name="name_fr" value="Libération"')
    problems = _problems(_bundle(**{"order_release.bpmn": unknown.encode()}))
    assert any("name_fr names no language creditflow speaks; use name_zh" in p for p in problems)


def test_deploy_refuses_an_empty_title_zh_and_enum_titles_of_values_the_enum_lacks() -> None:
    form = json.loads((BPMN / "order_release_approval.json").read_text(encoding="utf-8"))
    form["properties"]["comment"]["title_zh"] = ""
    form["properties"]["decision"]["enum_titles_zh"]["maybe"] = "也许"
    data = json.dumps(form, indent=2, ensure_ascii=False).encode()
    problems = _problems(_bundle(**{"order_release_approval.json": data}))
    lines = data.decode().splitlines()
    empty_line = next(n for n, text in enumerate(lines, 1) if '"title_zh": ""' in text)
    empty = "title_zh at properties/comment is empty"
    at = f"order_release_approval.json:{empty_line}:"
    assert any(p.startswith(at) and empty in p for p in problems), problems
    assert any("enum_titles_zh at properties/decision names 'maybe'" in p for p in problems), problems


def test_a_refused_form_s_field_problems_are_in_the_user_s_language(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    sent = {"decision": "approve", "recommended_limit": "0", "management_rating": "9"}
    for language, expected in (
        ("zh", ("必须大于 0。", "此项为必填项。")),
        ("en", ("Must be greater than 0.", "This field is required.")),
    ):
        analyst = as_user(app, "analyst1", language)
        token = csrf_token(analyst, f"/tasks/{task_id}")
        refused = analyst.post(f"/tasks/{task_id}", data={**sent, "csrf_token": token})
        assert refused.status_code == 422
        page = text_of(refused)
        assert expected[0] in page, language
        empty = analyst.post(f"/tasks/{task_id}", data={"csrf_token": token})
        assert empty.status_code == 422 and expected[1] in text_of(empty), language
    # Outside a request (and in English) the sentence stays as validate_form wrote it.
    assert translated_problem("/0/amount: Must be at least 1.") == "/0/amount: Must be at least 1."
