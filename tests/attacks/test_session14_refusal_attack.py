"""Attack A28 (session 14) on the refusal wording of L1/L2 (fc3862f, 7375bbd, 35c6480, bf5a752, d237782,
2a51953, 6b81914, 8a844d5) and queue_email_by_language's 'sent once' rule (8676229).

A hostile diagram author names the process, its steps and its message-catching step with markup, Jinja,
%-format specs, NUL-free control text, RTL marks and 10,000 characters; a hostile starter types values
that are such markup. Refusals (API and start form) and mails must escape them, never 500, never leak a
handler's internal exception text, and keep the ids API clients need in details.fields.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from markupsafe import Markup

from handlers.registry import build_operations
from workflows.definitions.deploy import deploy_files
from workflows.engine.service_tasks import HandlerInputError, Operation, TaskContext
from workflows.messages import _, translated
from workflows.store.db import transaction

SECRET = "SECRET-dsn postgresql://creditflow:hunter2@db.internal/prod"
PROCESS_KEY = "hostile_refusals"
MESSAGE = "hostile_msg"


@dataclass(frozen=True)
class HostileRequest:
    value: str
    mode: str


def hostile_service(ctx: TaskContext, request: HostileRequest) -> dict[str, Any]:
    if request.mode == "refuse":
        raise HandlerInputError(_("The value '%(value)s' is refused.", value=request.value))
    if request.mode == "empty":
        raise HandlerInputError()
    if request.mode == "two":
        raise HandlerInputError("first", "second")
    if request.mode == "internal":
        raise RuntimeError(f"{SECRET} {request.value}")
    if request.mode == "keyerror":
        raise KeyError(SECRET)
    return {"echo": request.value}


OPERATIONS = {
    **build_operations(),
    "test.hostile": Operation("test.hostile", hostile_service, HostileRequest),
}


def _names(name: str, name_zh: str | None) -> tuple[str, str]:
    attr = f" name={quoteattr(name)}" if name else ""
    props = (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="name_zh" value={quoteattr(name_zh)} />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        if name_zh
        else ""
    )
    return attr, props


def _service(task_id: str, value: str, mode: str, incoming: str, outgoing: str) -> str:
    return (
        f'<bpmn:serviceTask id="{task_id}" name="Check"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="test.hostile" resultVariable="result_'
        f'{task_id}"><spiffworkflow:parameters>'
        f'<spiffworkflow:parameter id="value" type="str" value={quoteattr(value)} />'
        f'<spiffworkflow:parameter id="mode" type="str" value={quoteattr(mode)} />'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>"
        f"<bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>"
        "</bpmn:serviceTask>"
    )


START_FORM = json.dumps(
    {
        "type": "object",
        "required": ["value", "mode"],
        "properties": {
            "value": {"type": "string", "title": "Value"},
            "mode": {"type": "string", "title": "Mode"},
        },
    }
).encode()


def bundle(process: str, process_zh: str | None, step: str, step_zh: str | None) -> dict[str, bytes]:
    return {
        "hostile.bpmn": diagram(process, process_zh, step, step_zh),
        "hostile_refusals_start.json": START_FORM,
    }


def diagram(process: str, process_zh: str | None, step: str, step_zh: str | None) -> bytes:
    """start -> service (start data) -> message catch (named `step`) -> service (message data) -> end."""
    p_attr, p_props = _names(process, process_zh)
    s_attr, s_props = _names(step, step_zh)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" '
        'targetNamespace="http://creditflow.example/bpmn/attacks">'
        f'<bpmn:message id="m1" name="{MESSAGE}" />'
        f'<bpmn:process id="{PROCESS_KEY}"{p_attr} isExecutable="true">{p_props}'
        '<bpmn:startEvent id="s"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="startGroups" value="procurement,sales,admin" />'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="hostile_refusals_start.json" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        "<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>"
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check_start" />'
        + _service("check_start", "value", "mode", "f1", "f2")
        + '<bpmn:sequenceFlow id="f2" sourceRef="check_start" targetRef="wait" />'
        f'<bpmn:intermediateCatchEvent id="wait"{s_attr}>{s_props}'
        "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>"
        '<bpmn:messageEventDefinition id="wait_def" messageRef="m1"><bpmn:extensionElements>'
        "<spiffworkflow:messageVariable>incoming</spiffworkflow:messageVariable>"
        "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="check_message" />'
        + _service("check_message", 'incoming["value"]', 'incoming["mode"]', "f3", "f4")
        + '<bpmn:sequenceFlow id="f4" sourceRef="check_message" targetRef="e" />'
        '<bpmn:endEvent id="e"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>'
        "</bpmn:process></bpmn:definitions>"
    )
    return text.encode()


# --- hostile names in refused starts and messages -------------------------------------------------------

HOSTILE_NAMES = {
    "markup": ("<script>alert(1)</script>", "<b onmouseover=x>坏</b>"),
    "jinja": ("{{ config.SECRET_KEY }} {% raw %}", "{{7*7}}流程"),
    "format": ("%(x)s %s %(where)s %%", "%(problem)s 流程"),
    "rtl": ("\u202eevil\u202c \u200fname", "\u202e恶意\u202c"),
    "long": ("N" * 200, "长" * 300),  # the longest names deploy accepts (10,000 are refused: see below)
}


@pytest.fixture
def hostile_app(app: Flask, clock: datetime, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(app.extensions["creditflow"].rt, "operations", OPERATIONS)
    return app


def _deploy(app: Flask, clock: datetime, process: str, process_zh: str, step: str, step_zh: str) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(
            session, bundle(process, process_zh, step, step_zh), OPERATIONS, deployed_by="system", now=clock
        )


def _start(client: FlaskClient, token: str, language: str, **data: str) -> Any:
    return client.post(
        "/api/process-instances",
        json={"process_key": PROCESS_KEY, "data": data},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )


@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
def test_a_start_refused_under_a_hostile_process_name_says_it_as_typed_without_ids(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime, kind: str
) -> None:
    """HELD: the name is said as the diagram gives it in each language (JSON: no markup interpreted, no
    %-format applied to it, no Jinja evaluated), 422 not 500, never the operation or element id."""
    name, name_zh = HOSTILE_NAMES[kind]
    _deploy(hostile_app, clock, name, name_zh, "Step", "环节")
    for language, said in (("en", name), ("zh", name_zh)):
        response = _start(
            client, demo_tokens["buyer1"], language, value="<img src=x onerror=1>", mode="refuse"
        )
        assert response.status_code == 422, response.json
        message = response.json["error"]["message"]
        assert said in message, message[:300]
        assert "<img src=x onerror=1>" in message  # the typed value echoed as typed (JSON)
        assert "test.hostile" not in message and "check_start" not in message, message[:300]
        assert "49" not in message.replace(said, "")  # no template evaluated


@pytest.mark.parametrize("where", ["process", "step"])
def test_a_name_of_10000_characters_is_refused_at_deploy(
    hostile_app: Flask, clock: datetime, where: str
) -> None:
    """HELD: a 10,000-character name never reaches a refusal: deploy refuses it (a 422 bundle problem)."""
    from workflows.definitions.validation import InvalidBundle

    long = ("N" * 10_000, "长" * 10_000)
    names = (*long, "s", "s") if where == "process" else ("P", "流程", *long)
    with pytest.raises(InvalidBundle, match="10000 characters"):
        _deploy(hostile_app, clock, *names)


def test_a_process_without_any_name_is_refused_by_its_key(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    """HELD: a diagram naming its process in no language: the key, not an empty '“” 流程'."""
    _deploy(hostile_app, clock, "", "", "Step", "")
    for language in ("en", "zh"):
        response = _start(client, demo_tokens["buyer1"], language, value="v", mode="refuse")
        assert response.status_code == 422, response.json
        assert PROCESS_KEY in response.json["error"]["message"]


def test_a_process_named_by_blanks_is_refused_by_its_key(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy(hostile_app, clock, "   ", "", "Step", "")
    response = _start(client, demo_tokens["buyer1"], "en", value="v", mode="refuse")
    assert response.status_code == 422, response.json
    assert PROCESS_KEY in response.json["error"]["message"], response.json


def test_the_start_form_escapes_a_hostile_process_name_in_the_refusal(
    hostile_app: Flask, demo_tokens: dict[str, str], clock: datetime
) -> None:
    """HELD: the start form and its 422 refusal say the diagram's name and the typed value escaped, never
    raw markup."""
    from tests.webui.test_pages import csrf_token, logged_in
    from workflows.users import set_language

    _deploy(hostile_app, clock, "<script>alert(1)</script>", "<script>alert(2)</script>", "s", "s")
    buyer = logged_in(hostile_app, "buyer1")
    form = f"/start/{PROCESS_KEY}"
    page = buyer.get(form)
    assert page.status_code == 200
    response = buyer.post(
        form, data={"csrf_token": csrf_token(buyer, form), "value": "<img src=x onerror=1>", "mode": "refuse"}
    )
    assert response.status_code == 422
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())
    assert (
        "<script>alert(1)</script> could not be started: The value '<img src=x onerror=1>' is refused."
        in said
    )
    with transaction(hostile_app.extensions["creditflow"].rt.factory) as session:
        set_language(session, "buyer1", "zh", clock)
    chinese = buyer.post(
        form, data={"csrf_token": csrf_token(buyer, form), "value": "<img src=x onerror=1>", "mode": "refuse"}
    )
    assert chinese.status_code == 422
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", chinese.get_data(as_text=True))).split())
    assert "无法发起“<script>alert(2)</script>”流程：" in said, said
    for shown in (page, response, chinese):
        text = shown.get_data(as_text=True)
        assert "<script>alert(" not in text and "<img src=x onerror=1>" not in text


@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
def test_a_message_refused_under_a_hostile_step_name_says_it_as_typed(
    hostile_app: Flask, clock: datetime, kind: str
) -> None:
    """HELD: the message-catching step's name (8a844d5) said as given, in en and zh, no ids, no format."""
    from workflows.engine.runner import deliver_message, start_instance
    from workflows.errors import Invalid
    from workflows.users import SYSTEM

    rt = hostile_app.extensions["creditflow"].rt
    name, name_zh = HOSTILE_NAMES[kind]
    _deploy(hostile_app, clock, "P", "流程", name, name_zh)
    start_instance(rt, PROCESS_KEY, {"value": "v", "mode": "ok"}, actor=SYSTEM, now=clock, business_key="BK")
    with pytest.raises(Invalid) as refused:
        deliver_message(
            rt, MESSAGE, "BK", {"value": "<b>x</b>", "mode": "refuse"}, actor=SYSTEM, now=clock, internal=True
        )
    message = refused.value.message
    with hostile_app.test_request_context():
        english = translated(message, gettext)
        with force_locale("zh_Hans"):
            chinese = translated(message, gettext)
    assert english.startswith(f"The message for '{name}' in instance "), english[:200]
    assert chinese.startswith("实例 ") and f"的“{name_zh}”环节无法使用此消息：" in chinese, chinese[:200]
    for said in (english, chinese):
        assert "<b>x</b>" in said and "test.hostile" not in said and "check_message" not in said


def test_an_internal_handler_error_at_start_is_no_refusal_and_keeps_no_refusal_text(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    """HELD: a handler failing with a non-input error (RuntimeError, KeyError) is no 422 whose sentence
    could carry the exception text: the start records an incident (201, status error); EngineError.refusal
    stays None for it."""
    from workflows.engine.failures import EngineError

    assert EngineError("x", "b", input_error=False, refusal="secret").refusal is None
    _deploy(hostile_app, clock, "P", "流程", "s", "s")
    for mode in ("internal", "keyerror"):
        response = _start(client, demo_tokens["buyer1"], "zh", value="v", mode=mode)
        assert response.status_code == 201, response.json
        assert response.json["status"] == "error"


def test_the_starter_does_not_read_a_handler_s_internal_exception_text(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy(hostile_app, clock, "P", "流程", "s", "s")
    response = _start(client, demo_tokens["buyer1"], "en", value="v", mode="internal")
    assert response.status_code == 201
    assert SECRET not in response.get_data(as_text=True)
    shown = client.get(
        f"/api/process-instances/{response.json['id']}",
        headers={"Authorization": f"Bearer {demo_tokens['buyer1']}"},
    )
    assert SECRET not in shown.get_data(as_text=True)


def test_an_empty_handler_refusal_names_no_operation(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy(hostile_app, clock, "P", "流程", "s", "s")
    response = _start(client, demo_tokens["buyer1"], "en", value="v", mode="empty")
    assert response.status_code == 422, response.json
    message = response.json["error"]["message"]
    assert "test.hostile" not in message and not message.rstrip().endswith(":"), message


def test_a_handler_refusal_of_two_arguments_is_not_said_as_a_tuple(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _deploy(hostile_app, clock, "P", "流程", "s", "s")
    response = _start(client, demo_tokens["buyer1"], "en", value="v", mode="two")
    assert response.status_code == 422, response.json
    assert "('first'" not in response.json["error"]["message"]


def test_a_process_name_cannot_forge_a_refusal_log_line(
    hostile_app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    clock: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    _deploy(hostile_app, clock, "P\nERROR forged line", "流程", "s", "s")
    with caplog.at_level(logging.INFO, logger="workflows.engine.refusals"):
        response = _start(client, demo_tokens["buyer1"], "en", value="v", mode="refuse")
    assert response.status_code == 422
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "workflows.engine.refusals"]
    assert "\n" not in logged, logged


@pytest.mark.parametrize("character", ["&#0;", "&#xD800;", "&#xFFFE;"])
def test_a_name_with_nul_or_a_lone_surrogate_is_refused_at_deploy(
    hostile_app: Flask, clock: datetime, character: str
) -> None:
    """HELD: XML cannot carry NUL or a lone surrogate: deploy refuses the bundle (a problem, not a crash),
    so no refusal or mail ever meets such a name."""
    from workflows.definitions.validation import InvalidBundle

    files = bundle("PLACEHOLDER", "流程", "s", "s")
    files["hostile.bpmn"] = files["hostile.bpmn"].replace(b"PLACEHOLDER", f"P{character}".encode())
    with transaction(hostile_app.extensions["creditflow"].rt.factory) as session:
        with pytest.raises(InvalidBundle):
            deploy_files(session, files, OPERATIONS, deployed_by="system", now=clock)


# --- contract-change refusal: labels said, ids kept ----------------------------------------------------


def test_a_contract_change_refusal_keeps_hostile_term_names_out_of_its_labels_and_ids_in_details() -> None:
    """HELD: a term name of markup or 61 characters is refused under the label 'New values'; details.fields
    keeps the column ids an API client needs (2a51953)."""
    from datetime import date

    from workflows.credit.contract_changes import parse_changes
    from workflows.errors import Invalid

    with pytest.raises(Invalid) as refused:
        parse_changes({"currency": "USD", "x" * 61: "y", "payment_terms_days": -1}, today=date(2026, 12, 7))
    fields = refused.value.details["fields"]
    assert "currency" in fields and "payment_terms_days" in fields, fields
    message = str(refused.value.message)
    assert message.startswith("The change has errors: ")
    assert "payment_terms_days" not in message and "Payment terms (days)" in message, message


# --- clauses_joined ----------------------------------------------------------------------------------------


def test_clauses_joined_escapes_plain_parts_and_keeps_markup_parts_under_a_markup_separator() -> None:
    """HELD: a typed '<script>…。' is escaped (its stop dropped); a Markup part's stop inside its closing tag
    is dropped without escaping the tag; the last part keeps its own stop."""
    from workflows.languages import clauses_joined

    joined = clauses_joined(
        [Markup('<span data-value="">不同意。</span>'), "<script>x</script>。", "末。"], Markup("；")
    )
    assert isinstance(joined, Markup)
    assert joined == Markup('<span data-value="">不同意</span>；&lt;script&gt;x&lt;/script&gt;；末。')
    english = clauses_joined(["what?", "<b>x</b>"], Markup("; "))
    assert english == Markup("what? &lt;b&gt;x&lt;/b&gt;")


def test_a_zh_history_row_joins_typed_markup_ending_in_a_stop_escaped_and_with_one_stop(
    hostile_app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    """HELD: the instance page's history row (webui/history_details._fields, 35c6480) drops a typed value's
    own 。 before ； and escapes the typed markup."""
    from tests.webui.test_pages import logged_in
    from workflows.users import set_language

    _deploy(hostile_app, clock, "P", "流程", "s", "s")
    started = _start(client, demo_tokens["buyer1"], "zh", value="<script>x</script>。", mode="ok。")
    assert started.status_code == 201, started.json
    with transaction(hostile_app.extensions["creditflow"].rt.factory) as session:
        set_language(session, "buyer1", "zh", clock)
    page = logged_in(hostile_app, "buyer1").get(f"/instances/{started.json['id']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<script>x</script>" not in text
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    assert "发起数据：" in said and re.search(r"ok\s*；", said), said
    assert not re.search(r"。\s*；", said), said


def test_clauses_joined_on_stops_only_and_empty_values() -> None:
    """HELD as designed: a value that is only stops keeps nothing of them but its place; plain parts stay
    plain (escaped by whoever writes them); an English join is untouched ('Co.')."""
    from workflows.languages import clauses_joined

    assert clauses_joined(["备注：。", "金额：5"], "；") == "备注：；金额：5"
    assert clauses_joined(["？", "乙"], "；") == "？乙"
    assert clauses_joined(["！！", "乙。"], "；") == "！！乙。"
    assert clauses_joined(["Acme Co.", "b"], "; ") == "Acme Co.; b"
    assert clauses_joined([], "；") == ""
    assert clauses_joined(["。"], "；") == "。"


# --- cjk_spaced --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spaced"),
    [
        ("Acme GmbH", " Acme GmbH "),
        ("上海精密零件有限公司", "上海精密零件有限公司"),
        ("ＡＢＣ有限公司", "ＡＢＣ有限公司"),  # full-width Latin sets as Chinese does
        (12, " 12 "),
        ("", ""),
        ("삼성전자", " 삼성전자 "),  # Hangul is another script: spaced
        ("😀公司", " 😀公司"),
        ("上海 Acme", "上海 Acme "),
    ],
)
def test_cjk_spaced_on_scripts(name: object, spaced: str) -> None:
    from workflows.mail.templates import cjk_spaced

    assert cjk_spaced(name) == spaced


@pytest.mark.parametrize("name", ["𠮷野家", "\uf900氏", "山田たろう"])
def test_cjk_spaced_treats_every_cjk_ideograph_and_kana_as_chinese_text(name: str) -> None:
    from workflows.mail.templates import cjk_spaced

    assert cjk_spaced(name) == name


def test_a_chinese_mail_escapes_a_hostile_contact_name_in_html_once() -> None:
    """HELD: cjk_spaced returns plain text, so the HTML part escapes the name ('<script>' never raw); the
    text part keeps it as typed."""
    from tests.mail.test_mail_languages import CONTEXT
    from workflows.mail.templates import render_email

    mail = render_email(
        "approval_letter", {**CONTEXT, "contact_name": "<script>alert(1)</script> & Co"}, language="zh"
    )
    assert "<script>alert(1)</script>" not in mail.html
    assert "尊敬的 &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co 先生/女士" in mail.html, mail.html
    assert "尊敬的 <script>alert(1)</script> & Co 先生/女士" in mail.text


# --- queue_email_by_language: sent once (8676229) ------------------------------------------------------


def _queue(factory: Any, clock: datetime, to: list[str], key: str = "weekly:A28") -> list[int]:
    from workflows.mail.outbox import queue_email_by_language

    with transaction(factory) as session:
        return queue_email_by_language(
            session,
            to=to,
            template="generic",
            context={"subject": "s", "message": "m"},
            dedupe_key=key,
            now=clock,
        )


def _outbox(factory: Any) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from workflows.store.models import OutboxEmail

    with factory() as session:
        return sorted(
            (key, to) for key, to in session.execute(select(OutboxEmail.dedupe_key, OutboxEmail.to))
        )


def test_two_members_switching_languages_between_three_runs_get_one_mail_each(
    session_factory: Any, clock: datetime
) -> None:
    """HELD: zh+en (two mails), then both switch (en+zh), then back: still the first two mails only."""
    from workflows.users import add_user, set_language

    with transaction(session_factory) as session:
        add_user(session, "li", groups=["finance"], now=clock, email="li@example.com", language="zh")
        add_user(session, "ann", groups=["finance"], now=clock, email="ann@example.com", language="en")
    to = ["li@example.com", "ann@example.com"]
    assert len(_queue(session_factory, clock, to)) == 2
    for li, ann in (("en", "zh"), ("zh", "en"), ("en", "en")):
        with transaction(session_factory) as session:
            set_language(session, "li", li, clock)
            set_language(session, "ann", ann, clock)
        assert _queue(session_factory, clock, to) == []
    assert _outbox(session_factory) == [
        ("weekly:A28:en", "ann@example.com"),
        ("weekly:A28:zh", "li@example.com"),
    ]


def test_a_member_of_two_groups_and_a_user_without_language_get_one_mail_each(
    session_factory: Any, clock: datetime
) -> None:
    """HELD: an address listed twice (a member of both groups the job writes to) is one recipient; a user
    who chose no language reads English; each reader is in exactly one mail."""
    from workflows.users import add_user

    with transaction(session_factory) as session:
        add_user(
            session,
            "li",
            groups=["finance", "credit_manager"],
            now=clock,
            email="li@example.com",
            language="zh",
        )
        add_user(session, "nolang", groups=["finance"], now=clock, email="nolang@example.com")
    to = ["li@example.com", "nolang@example.com", "li@example.com", " li@example.com "]
    assert len(_queue(session_factory, clock, to)) == 2
    assert _outbox(session_factory) == [
        ("weekly:A28:en", "nolang@example.com"),
        ("weekly:A28:zh", "li@example.com"),
    ]


def test_one_reader_listed_in_two_spellings_gets_one_mail(session_factory: Any, clock: datetime) -> None:
    from workflows.users import add_user

    with transaction(session_factory) as session:
        add_user(session, "li", groups=["finance"], now=clock, email="li@example.com", language="zh")
    assert len(_queue(session_factory, clock, ["Li@Example.com", "li@example.com"])) == 1
    ((key, to),) = _outbox(session_factory)
    assert to.count("@") == 1, to
