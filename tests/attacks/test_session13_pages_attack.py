"""Session 13, attacker A24, part 2: pages and messages built from what a user deployed or typed.

1. X4's refused choices named by the form's labels (384f585, F-15): hostile, mismatched or missing enum
   labels, enums of numbers, null and records, an enum of hundreds of choices.
2. X4's decision tables' Chinese names (7e336f8, F-12): a user's DMN whose name_zh/label_zh/description_zh
   are markup, huge or script.
3. X3's history lines with the start data field by field (04750ba) and English names (4387a98): hostile
   start data (typename, __class__, markup keys, deep nesting, 10,000 keys).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import ACCEPTANCE, auth
from tests.webui.test_language import as_user
from tests.webui.test_pages import START, csrf_token, logged_in, review_task_id
from webui import stored_sentences
from workflows.definitions.forms import validate_form
from workflows.errors import Invalid

MARKUP = '<img src=x onerror="alert(1)">'
SCRIPT = "<script>alert(1)</script>"
ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"


def upload(client: FlaskClient, token: str, files: dict[str, bytes]) -> Any:
    return client.post(
        "/api/process-definitions",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=auth(token),
        content_type="multipart/form-data",
    )


def credit_hold(review_form: dict[str, Any]) -> dict[str, bytes]:
    """The acceptance diagram (credit_hold) with its review form replaced."""
    return {
        "credit_hold.bpmn": (ACCEPTANCE / "credit_hold.bpmn").read_bytes(),
        "credit_hold_review.json": json.dumps(review_form).encode(),
        "chase_customer.json": (ACCEPTANCE / "chase_customer.json").read_bytes(),
    }


def review_form(decision: dict[str, Any]) -> dict[str, Any]:
    form = json.loads((ACCEPTANCE / "credit_hold_review.json").read_text(encoding="utf-8"))
    form["properties"]["decision"] = {"title": "Decision", "type": "string", **decision}
    form.pop("if", None)
    form.pop("then", None)
    return form


def hold_task(client: FlaskClient, tokens: dict[str, str], decision: dict[str, Any]) -> int | None:
    """The review task of a credit_hold started with `decision` as its review form's field; None when the
    deploy check refused the form (a 422, never a 500)."""
    deployed = upload(client, tokens["owner1"], credit_hold(review_form(decision)))
    if deployed.status_code == 422 and "enum_titles_zh" in deployed.json["error"]["message"]:
        return None
    assert deployed.status_code == 201, deployed.get_data(as_text=True)[:2000]
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": START},
        headers=auth(tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    return review_task_id(started.json)


# --- 1. refused choices named by the form's labels ------------------------------------------------------

NUMBER_CHOICES = {
    "enum": ["release", "keep", 1, 2.5],
    "type": ["string", "number"],
    "enum_titles_zh": {"release": "放行", "keep": "保持", "1": "一", "2.5": MARKUP},
}
HOSTILE_ENUMS = [
    {"enum": ["release", "keep"], "enum_titles_zh": {"release": SCRIPT, "keep": MARKUP}},
    {"enum": ["release", "keep"], "enum_titles": {"release": SCRIPT}, "enum_titles_zh": "not a mapping"},
    {"enum": ["release", "keep"], "enum_titles_zh": {"release": "%(x)s %s %%", "keep": "{{ 7*7 }}"}},
    {"enum": ["release", "keep"], "enum_titles_zh": {"nobody": "无", "release": ["a"], "keep": None}},
    {"enum": ["release", "keep"], "enum_titles_zh": {"release": "放" * 20_000}},
    {
        "enum": ["release", "keep", 1, 2.5, None, True],
        "type": ["string", "number", "boolean", "null"],
        "enum_titles_zh": {"1": "一", "None": "空", "True": "真", "2.5": MARKUP},
    },
    {
        "enum": ["release", "keep", {"a": [1]}, [1, 2]],
        "type": ["string", "object", "array"],
        "enum_titles_zh": {"{'a': [1]}": MARKUP},
    },
]


@pytest.mark.parametrize("decision", HOSTILE_ENUMS, ids=[f"enum{n}" for n in range(len(HOSTILE_ENUMS))])
def test_a_refused_choice_with_hostile_labels_is_a_422_escaped_on_the_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], decision: dict[str, Any]
) -> None:
    task_id = hold_task(client, demo_tokens, decision)
    if task_id is None:  # labels that name no choice, or none at all: refused at deploy
        assert decision is not HOSTILE_ENUMS[0], "markup labels of string choices deploy"
        return
    for language in (ZH, EN):
        answer = client.post(
            f"/api/tasks/{task_id}/complete",
            json={"data": {"decision": "bogus", "release_amount": 1}},
            headers=auth(demo_tokens["analyst1"]) | {"Accept-Language": language},
        )
        assert answer.status_code == 422, (language, answer.status_code, answer.get_data(as_text=True)[:500])
        message = answer.json["error"]["message"]
        assert "{{ 7*7 }}" not in message or "49" not in message
    reader = as_user(app, "analyst1", "zh")
    page = reader.get(f"/tasks/{task_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert SCRIPT not in html and MARKUP not in html
    # A forged choice through the web form: the refusal names the (hostile) labels, escaped.
    form = {"csrf_token": csrf_token(reader, f"/tasks/{task_id}"), "decision": "bogus", "release_amount": "1"}
    refused = reader.post(f"/tasks/{task_id}", data=form)
    assert refused.status_code == 422, refused.status_code
    html = refused.get_data(as_text=True)
    assert SCRIPT not in html and MARKUP not in html
    if decision.get("enum_titles_zh", {}) == HOSTILE_ENUMS[0]["enum_titles_zh"]:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;（release）" in html


def test_number_choices_can_be_labelled_and_are_named_by_their_labels(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    task_id = hold_task(client, demo_tokens, NUMBER_CHOICES)
    assert task_id is not None, "refused at deploy"
    answer = client.post(
        f"/api/tasks/{task_id}/complete",
        json={"data": {"decision": "bogus", "release_amount": 1}},
        headers=auth(demo_tokens["analyst1"]) | {"Accept-Language": ZH},
    )
    assert answer.status_code == 422 and "一（1）" in answer.json["error"]["message"], answer.json


@pytest.mark.parametrize("count", [100, 400, 2_000])
def test_an_enum_of_hundreds_of_choices_refused_is_a_422_in_either_language(
    client: FlaskClient, demo_tokens: dict[str, str], count: int
) -> None:
    """A form may offer hundreds of choices (branches, product codes, currencies)."""
    codes = ["release", "keep"] + [f"c{n}" for n in range(count)]
    task_id = hold_task(
        client, demo_tokens, {"enum": codes, "enum_titles_zh": {c: f"选项{c}" for c in codes}}
    )
    assert task_id is not None
    for language in (ZH, EN):
        began = time.monotonic()
        answer = client.post(
            f"/api/tasks/{task_id}/complete",
            json={"data": {"decision": "bogus", "release_amount": 1}},
            headers=auth(demo_tokens["analyst1"]) | {"Accept-Language": language},
        )
        assert answer.status_code == 422, (language, answer.status_code, answer.get_data(as_text=True)[:300])
        assert time.monotonic() - began < 10


def test_an_enum_of_a_thousand_choices_is_said_without_recursing_per_choice() -> None:
    from babel.support import NullTranslations, Translations

    from workflows.messages import translated

    schema = {
        "type": "object",
        "properties": {"d": {"type": "string", "enum": [f"v{n}" for n in range(1000)]}},
    }
    with pytest.raises(Invalid) as refused:
        validate_form(schema, {"d": "nope"})
    message = refused.value.details["fields"]["d"]
    zh = Translations.load(str(Path("webui/translations")), ["zh_Hans"]).gettext
    assert translated(message, NullTranslations().gettext).startswith("Choose one of: v0, v1")
    assert "v999" in translated(message, zh)


def test_a_refused_choice_named_by_labels_can_be_copied_and_pickled_like_any_sentence() -> None:
    import copy
    import pickle

    schema = {
        "type": "object",
        "properties": {"d": {"type": "string", "enum": ["a", "b"], "enum_titles_zh": {"a": "甲", "b": "乙"}}},
    }
    with pytest.raises(Invalid) as refused:
        validate_form(schema, {"d": "x"})
    message = refused.value.details["fields"]["d"]
    assert copy.deepcopy(message) == message
    assert pickle.loads(pickle.dumps(message)) == message
    copy.deepcopy(refused.value)


# --- 2. a user's decision table with hostile Chinese words ---------------------------------------------

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"
             xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="hold_rules"
             name="Hold rules" namespace="http://creditflow.example/dmn">
  <decision id="hold_decision" name="Hold &lt;b&gt;decision&lt;/b&gt;">
    <extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="name_zh" value="{name}" />
      <spiffworkflow:property name="description_zh" value="{description}" />
      <spiffworkflow:property name="name_zh" value="second" />
    </spiffworkflow:properties></extensionElements>
    <decisionTable id="hold_table" hitPolicy="FIRST">
      <input id="amount_input" label="Amount">
        <extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="label_zh" value="{label}" />
        </spiffworkflow:properties></extensionElements>
        <inputExpression id="amount_expression" typeRef="integer"><text>order_amount</text></inputExpression>
      </input>
      <output id="result_output" label="Result" name="result" typeRef="string">
        <extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="label_zh" value="{label}" />
        </spiffworkflow:properties></extensionElements>
      </output>
      <rule id="any_amount">
        <extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="description_zh" value="{description}" />
        </spiffworkflow:properties></extensionElements>
        <inputEntry id="any_amount_in"><text>&gt;= 0</text></inputEntry>
        <outputEntry id="any_amount_out"><text>"hold"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""
_X = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def _attr(text: str) -> str:
    return "".join(_X.get(c, c) for c in text)


@pytest.mark.parametrize(
    ("name", "label", "description"),
    [
        (SCRIPT, MARKUP, "</p><script>alert(2)</script>"),
        ("{{ 7*7 }}", "%(x)s", "%s %%"),
        ("名" * 20_000, "标" * 20_000, "说" * 20_000),  # under the test client's 500 kB spill to a file
        ("   ", "", "\t"),  # blank: the English words
        ("&#x202E;反转", "a\u2028b", "\U0001f600"),
    ],
    ids=["markup", "formats", "huge", "blank", "odd_characters"],
)
def test_a_user_decision_table_s_chinese_words_show_escaped_on_the_definition_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], name: str, label: str, description: str
) -> None:
    files = {
        "credit_hold.bpmn": (ACCEPTANCE / "credit_hold.bpmn").read_bytes(),
        "credit_hold_review.json": (ACCEPTANCE / "credit_hold_review.json").read_bytes(),
        "chase_customer.json": (ACCEPTANCE / "chase_customer.json").read_bytes(),
        "hold_rules.dmn": DMN.format(
            name=_attr(name), label=_attr(label), description=_attr(description)
        ).encode(),
    }
    deployed = upload(client, demo_tokens["owner1"], files)
    if deployed.status_code != 201:  # refused at deploy (a size cap) is fine; never a 500
        assert deployed.status_code < 500, deployed.get_data(as_text=True)[:500]
        return
    version = deployed.json.get("version", 1)
    for language in ("zh", "en"):
        page = as_user(app, "owner1", language).get(f"/definitions/credit_hold/{version}")
        assert page.status_code == 200, (language, page.status_code)
        html = page.get_data(as_text=True)
        assert SCRIPT not in html and MARKUP not in html and "<script>alert(2)" not in html
        assert "<b>decision</b>" not in html
        if language == "zh" and name == "{{ 7*7 }}":
            assert "{{ 7*7 }}" in html  # the name as typed, never rendered


# --- 3. history lines: hostile start data said field by field -------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "<b>bottom</b>"
    for n in range(depth):
        value = {f"<i>k{n}</i>": [value, {"amount": "1e999999", "currency": "<u>"}]}
    return value


HOSTILE_START: dict[str, Any] = {
    **START,
    "typename": SCRIPT,
    "__class__": {"__init__": {"__globals__": MARKUP}},
    "__proto__": [MARKUP],
    SCRIPT: MARKUP,
    "outside": [{"limit": "date", "days": MARKUP, "max": "x"}, {"limit": SCRIPT}, MARKUP],
    "currency": "<s>EUR</s>",
    "due_date": "2026-02-30",
    "amount": "1e999999",
    "deep": _nested(20),
    "wide": {f"<k{n}>": n for n in range(10_000)},
    "many": [{"number": f"<n{n}>", "amount": "-1"} for n in range(2_000)],
    # A list of plain values reads as a list (2ead97b): markup, days that are none, odd amounts, 10,000 items.
    "invoice_numbers": [SCRIPT, MARKUP, 1, True, 2.5, "2026-02-30", "1e999999", "{{ 7*7 }}"],
    "recipients": [f"<p{n}>@x.example" for n in range(10_000)],
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_hostile_start_data_is_said_in_the_history_escaped_and_quickly(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], language: str
) -> None:
    deployed = upload(client, demo_tokens["owner1"], credit_hold(review_form({"enum": ["release", "keep"]})))
    assert deployed.status_code == 201
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": HOSTILE_START},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.get_data(as_text=True)[:500]
    instance_id = started.json["id"]
    task_id = review_task_id(started.json)
    admin = logged_in(app, "admin")
    reader = as_user(app, "analyst1", language)
    for viewer, path in ((admin, f"/instances/{instance_id}"), (reader, f"/tasks/{task_id}")):
        began = time.monotonic()
        page = viewer.get(path, headers={"Accept-Language": ZH if language == "zh" else EN})
        took = time.monotonic() - began
        assert page.status_code == 200, (path, page.status_code)
        html = page.get_data(as_text=True)
        for raw in (
            SCRIPT,
            MARKUP,
            "<b>bottom</b>",
            "<i>k0</i>",
            "<k9999>",
            "<n1999>",
            "<s>EUR</s>",
            "<u>",
            "<p9999>",
        ):
            assert raw not in html, (path, raw)
        assert took < 30, (path, took)  # ~6 s at a load of 8 on 2 cores: 3 MB of page
        # The history's start line says the data (escaped), the deepest and the widest too.
        assert "&lt;k9999&gt;" in html and "&lt;i&gt;k0&lt;/i&gt;" in html and "&lt;n1999&gt;" in html, path
        assert "&lt;p9999&gt;@x.example" in html, path
    # The API gives the data as it was sent.
    shown = client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"]))
    assert shown.status_code == 200


# --- 4. the decision log in a user table's Chinese words (3d84451) -------------------------------------

DECIDING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="words_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="words" name="Words" isExecutable="true">
    <bpmn:startEvent id="words_started"><bpmn:outgoing>to_decide</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="to_decide" sourceRef="words_started" targetRef="decide" />
    <bpmn:businessRuleTask id="decide"><bpmn:extensionElements>
      <spiffworkflow:calledDecisionId>hold_decision</spiffworkflow:calledDecisionId>
    </bpmn:extensionElements><bpmn:incoming>to_decide</bpmn:incoming><bpmn:outgoing>to_done</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="to_done" sourceRef="decide" targetRef="words_done" />
    <bpmn:endEvent id="words_done"><bpmn:incoming>to_done</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("name", "label", "description"),
    [
        (SCRIPT, MARKUP, "</small><script>alert(2)</script>"),
        ("industry", "grade", "{{ 7*7 }}"),  # labels that are case-data keys the page says itself
    ],
    ids=["markup", "known_keys"],
)
def test_a_user_table_s_chinese_words_in_the_decision_log_show_escaped(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], name: str, label: str, description: str
) -> None:
    dmn = DMN.format(name=_attr(name), label=_attr(label), description=_attr(description))
    files = {"words.bpmn": DECIDING.encode(), "hold_rules.dmn": dmn.encode()}
    deployed = upload(client, demo_tokens["owner1"], files)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)[:500]
    started = client.post(
        "/api/process-instances",
        json={"process_key": "words", "data": {"order_amount": 5}},
        headers=auth(demo_tokens["admin"]),
    )
    assert started.status_code == 201, started.get_data(as_text=True)[:500]
    for language in ("zh", "en"):
        page = as_user(app, "auditor1", language).get(f"/instances/{started.json['id']}")
        assert page.status_code == 200, (language, page.status_code)
        html = page.get_data(as_text=True)
        assert SCRIPT not in html and MARKUP not in html and "<script>alert(2)" not in html
        if language == "zh" and name == SCRIPT:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the table's zh name, escaped


# --- 5. English names of processes and steps from a user diagram (4387a98) ------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_user_diagram_s_process_and_step_names_show_escaped_on_the_english_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], language: str
) -> None:
    bpmn = (ACCEPTANCE / "credit_hold.bpmn").read_text(encoding="utf-8")
    bpmn = bpmn.replace('name="Credit hold on a sales order"', f'name="{_attr(SCRIPT)}"')
    bpmn = bpmn.replace('name="Review credit hold"', f'name="{_attr(MARKUP)}"')
    bpmn = bpmn.replace('name="Compute limit shortfall"', 'name="{{ 7*7 }} %(x)s"')
    files = {
        "credit_hold.bpmn": bpmn.encode(),
        "credit_hold_review.json": (ACCEPTANCE / "credit_hold_review.json").read_bytes(),
        "chase_customer.json": (ACCEPTANCE / "chase_customer.json").read_bytes(),
    }
    deployed = upload(client, demo_tokens["owner1"], files)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)[:500]
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": START},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    task_id = review_task_id(started.json)
    analyst = as_user(app, "analyst1", language)
    auditor = as_user(app, "auditor1", language)
    pages = [
        (analyst, "/inbox"),
        (analyst, "/inbox?process=credit_hold"),
        (analyst, f"/tasks/{task_id}"),
        (auditor, f"/instances/{started.json['id']}"),
        (auditor, "/instances"),
        (auditor, "/audit"),
    ]
    for viewer, path in pages:
        page = viewer.get(path)
        assert page.status_code == 200, (path, page.status_code)
        html = page.get_data(as_text=True)
        assert SCRIPT not in html and MARKUP not in html, path
    if language == "en":  # the English page names the process by the diagram's (escaped) name
        assert "&lt;script&gt;" in analyst.get(f"/tasks/{task_id}").get_data(as_text=True)


# --- 6. a dunning-shaped case currency in a user's case data (d6a8236) ----------------------------------


@pytest.mark.parametrize(
    "currency",
    [MARKUP, ["EUR"], {"code": "EUR"}, 5, None, "E" * 10_000, "", "cny", "€"],
    ids=["markup", "list", "dict", "int", "none", "huge", "empty", "lower", "symbol"],
)
def test_a_hostile_case_currency_under_case_is_shown_escaped(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], currency: Any
) -> None:
    deployed = upload(client, demo_tokens["owner1"], credit_hold(review_form({"enum": ["release", "keep"]})))
    assert deployed.status_code == 201
    data = {
        **START,
        "case": {"currency": currency, "customer_name": SCRIPT},
        "review": {"overdue": "128000.50"},
        "promise_record": {"amount": "1e999999", "overdue": "-5", "outside": [{"limit": "date", "days": 1}]},
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.get_data(as_text=True)[:500]
    for language in ("zh", "en"):
        for path in (f"/instances/{started.json['id']}", f"/tasks/{review_task_id(started.json)}"):
            page = as_user(app, "auditor1" if "instances" in path else "analyst1", language).get(path)
            assert page.status_code == 200, (language, path, page.status_code)
            html = page.get_data(as_text=True)
            assert MARKUP not in html and SCRIPT not in html, (language, path)


# --- 7. our-sentence keys in a user's case data, item by item (2ead97b, 04750ba) ---------------------------


def _almost_a_sentence(n: int) -> str:
    """290 characters of one msgid's literal parts over and over, failing at the end: said_stored tries
    every shape on it (~7 ms on this machine, its full search runs on texts up to 300 characters)."""
    inner = "x: provisions at x x → x (x"
    text = inner
    while len(text) + len(inner) < 290:
        text += inner
    return f"{text}#{n}"


def test_a_long_list_under_an_our_sentence_key_does_not_make_the_zh_page_slow(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = upload(client, demo_tokens["owner1"], credit_hold(review_form({"enum": ["release", "keep"]})))
    assert deployed.status_code == 201
    data = {**START, "basis": [_almost_a_sentence(n) for n in range(300)]}
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": "CUST-1", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.get_data(as_text=True)[:300]
    # Counted, not timed: each search of a 290-character text against every msgid shape costs ~7 ms here.
    searched: list[str] = []
    recognised = stored_sentences._recognised

    def counted(sentence: str, depth: int, source: Any = None) -> Any:
        if depth == 0:
            searched.append(sentence)
        return recognised(sentence, depth, source)

    monkeypatch.setattr(stored_sentences, "_recognised", counted)
    began = time.monotonic()
    page = as_user(app, "auditor1", "zh").get(f"/instances/{started.json['id']}")
    assert page.status_code == 200
    took = time.monotonic() - began
    assert len(searched) < 50, (len(searched), round(took, 1))
