"""Hostile review A22 of the twelfth session's issue-20 work (git log 60d1fc8..): the `dispute_lines` filter
and the dispute lines in case data and history, PDF attachment names and the MIME headers that carry them,
the company that signs letters, stored odd JSON on the task API, labelled history lines on English and
Chinese pages (typed values stay typed), limit and contract amounts in odd currencies, and ISO days as
dates. Each finding is a test here: fixed, or a strict xfail naming the fix."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import json
import re
import time
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import Markup
from pypdf import PdfReader
from sqlalchemy import text

from tests.bpmn.test_dispute_resolution import complete as complete_dispute_task
from tests.bpmn.test_dispute_resolution import raise_dispute, task_named
from tests.bpmn.test_supplier_contract_change import complete as complete_task
from tests.bpmn.test_supplier_contract_change import make_contract, open_tasks, started
from tests.collections_desk import Collections
from tests.helpers import auth
from tests.mail.test_mail_languages import CONTEXT
from tests.webui.test_language import as_user
from tests.webui.test_language_case_data import cells
from workflows.credit.dispute_reasons import MAX_SHOWN, dispute_lines_filter, lines_said
from workflows.engine.task_texts import MAX_INSTRUCTIONS_CHARS, render_instructions, renders_in_process
from workflows.mail import letter_names
from workflows.mail.letters_pdf import letter_pdf
from workflows.mail.sender import CompanyNames
from workflows.mail.smtp import Attachment, YagmailMailer, _one_line_name
from workflows.mail.templates import render_email
from workflows.settings import SettingsError, load_settings
from workflows.store.db import transaction

# Tests here bound a call's CPU time: a garbage collection of the whole worker must not land in it.
pytestmark = pytest.mark.usefixtures("no_gc")

# Jinja that would print 1337 / QQQ if anything rendered what a person typed as a template.
JINJA = "{{ 7*191 }}{% for x in range(3) %}Q{% endfor %}"
SCRIPT = "<script>alert(1)</script>"
RENDERED = ("1337", "QQQ")


def _never_rendered(said: str) -> None:
    assert not any(mark in said for mark in RENDERED), said[:500]


# --- 1. the `dispute_lines` filter on hostile lines ------------------------------------------------------

HOSTILE_LINES: dict[str, Any] = {
    "jinja in every field": [{"number": JINJA, "amount": "10.00", "reason": JINJA}],
    "script": [{"number": SCRIPT, "amount": "10.00", "reason": SCRIPT}],
    "NUL and surrogate": [{"number": "A\x00B\ud800", "amount": "1", "reason": "price\x00"}],
    "1e308": [{"number": "N", "amount": 1e308, "reason": "price"}],
    "NaN": [{"number": "N", "amount": float("nan"), "reason": "price"}],
    "Infinity": [{"number": "N", "amount": float("-inf"), "reason": "price"}],
    "minus zero": [
        {"number": "N", "amount": -0.0, "reason": "price"},
        {"number": "M", "amount": "-0", "reason": "quality"},
    ],
    "10**30": [{"number": "N", "amount": 10**30, "reason": "price"}],
    "1e999999 text": [{"number": "N", "amount": "1e999999", "reason": "price"}],
    "not an amount": [
        {"number": "N", "amount": [1, 2], "reason": "price"},
        {"number": "M", "amount": {"a": 1}, "reason": "price"},
    ],
    "a reason not in the enum": [{"number": "N", "amount": "1", "reason": "x" * 10_000}],
    "a reason of another type": [{"number": "N", "amount": "1", "reason": ["price"]}],
    "dunder reason": [{"number": "N", "amount": "1", "reason": "__class__"}],
    "no number": [{"amount": "1", "reason": "price"}],
    "a number of another type": [{"number": {"k": JINJA}, "amount": "1", "reason": "price"}],
    "a huge number": [{"number": "9" * 100_000, "amount": "1", "reason": "price"}],
    "no amount": [{"number": "N", "reason": "price"}],
    "no reason": [{"number": "N", "amount": "1"}],
    "a line that is no mapping": ["N 1 price", None, 5],
    "the most lines shown": [{"number": f"N{k}", "amount": "1", "reason": "price"} for k in range(MAX_SHOWN)],
    "a huge list": [{"number": f"N{k}", "amount": "1", "reason": "price"} for k in range(50_000)],
    "lines as text": JINJA,
    "lines as a mapping": {"number": "N", "amount": "1", "reason": "price"},
    "lines as a number": 10**30,
}
ODD_CURRENCIES = ["EUR", "XXX", "eur", "ABCDEFGHIJ", "", None, 5, ["EUR"], JINJA, "E\u202eR"]


@pytest.mark.parametrize("language", ["en", "zh", "fr"])
@pytest.mark.parametrize("name", list(HOSTILE_LINES))
def test_the_dispute_lines_filter_writes_text_and_never_renders_what_the_lines_hold(
    name: str, language: str
) -> None:
    for currency in ODD_CURRENCIES:
        dispute = {"lines": HOSTILE_LINES[name], "currency": currency, "lines_text": f"old {JINJA} {SCRIPT}"}
        started_at = time.thread_time()
        said = dispute_lines_filter(language)(dispute)
        assert time.thread_time() - started_at < 1, (name, currency)
        assert isinstance(said, str) and not isinstance(said, Markup)  # escaped wherever a page writes it
        _never_rendered(said)
        # Invoice numbers and typed reasons are cut (80 and 40 characters a line); past MAX_SHOWN lines, or
        # lines that are no list of mappings, the old text stands in.
        assert len(said) <= MAX_SHOWN * 200, (name, len(said))
        # Instructions that use it render in the server, and what they write holds no NUL or surrogate.
        template = "{{ dispute.customer_name }}: {{ dispute | dispute_lines }}. {{ dispute.description }}"
        assert renders_in_process(template)
        data = {"dispute": {**dispute, "customer_name": JINJA, "description": SCRIPT}}
        shown = render_instructions(template, data, language=language if language != "fr" else "en")
        _never_rendered(shown)
        assert "\x00" not in shown and not re.search("[\ud800-\udfff]", shown), (name, currency)
        assert JINJA in shown and SCRIPT in shown  # what people typed stays as typed, as text


def test_the_dispute_lines_filter_says_odd_reasons_and_missing_parts_as_typed_not_as_ours() -> None:
    odd = [{"number": "HX-1", "amount": "10.00", "reason": "pricing"}]  # not one of the form's choices
    assert lines_said(odd, "EUR", "zh") == "发票 HX-1 €10.00（pricing）"
    assert lines_said(odd, "EUR", "en") == "HX-1 €10.00 (pricing)"
    # A line without amount or reason is no line the handler writes: the old English text stands in.
    assert dispute_lines_filter("zh")(
        {"lines": [{"number": "HX-1"}], "lines_text": "HX-1 10.00 (price)"}
    ) == ("HX-1 10.00 (price)")
    # An old instance: only lines_text, shown as stored, whatever it holds.
    assert dispute_lines_filter("zh")({"lines_text": JINJA}) == JINJA
    # -0 owes nothing: no "-€0.00".
    assert lines_said([{"number": "N", "amount": "-0", "reason": "price"}], "EUR", "en") == "N €0.00 (price)"


# --- 2. dispute lines on the task and instance pages, the task API and the history -----------------------

TYPED_NUMBERS = [JINJA, SCRIPT, "INV\u202eFDP.exe", "INV-😀", "a\r\nBcc: x@example.com", "../../etc/passwd",
                 'q"u\'o', "x" * 80]  # fmt: skip


def _dispute_with(desk: Collections, numbers: list[str]) -> dict[str, Any]:
    """A dispute over invoices with these numbers (the invoice API takes them), its sales proposal task."""
    customer = desk.customer("Helios Lines plc")
    for number in numbers:
        desk.invoice(customer, number, "100.00")
    opened = raise_dispute(
        desk, desk.tokens["collector1"], customer, *[(n, "10.00", "price") for n in numbers]
    )
    assert opened.status_code == 201, opened.json
    return task_named(desk, desk.tokens["sales1"], "propose_sales")


def _pages(app: Flask, task: dict[str, Any]) -> dict[str, str]:
    """The task page and the instance page in both languages (each a 200)."""
    shown = {}
    for language in ("en", "zh"):
        for kind, user, url in (
            ("task", "sales1", f"/tasks/{task['id']}"),
            ("instance", "admin", f"/instances/{task['instance_id']}"),
        ):
            response = as_user(app, user, language).get(url)
            assert response.status_code == 200, (language, url, response.status_code)
            shown[f"{kind} {language}"] = response.get_data(as_text=True)
    return shown


@pytest.mark.usefixtures("shipped")
def test_typed_invoice_numbers_reach_every_page_and_the_api_as_text(app: Flask, desk: Collections) -> None:
    task = _dispute_with(desk, TYPED_NUMBERS)
    for name, page in _pages(app, task).items():
        _never_rendered(page)
        assert SCRIPT not in page, name  # escaped: &lt;script&gt;
        assert "{{ 7*191 }}" in page, name  # shown as typed
    api = desk.client.get(f"/api/tasks/{task['id']}", headers=auth(desk.tokens["sales1"]))
    assert api.status_code == 200
    instructions = api.json["context"]["instructions"]  # type: ignore[index]
    _never_rendered(instructions)
    assert JINJA in instructions and SCRIPT in instructions  # JSON text, as typed (the page escapes it)


def _store(app: Flask, task: dict[str, Any], dispute: dict[str, Any]) -> None:
    """Put `dispute` into the case data, the task's context and the opening event, as an older version, an
    import or a hand edit may have left them."""
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        data = session.scalar(
            text("SELECT data FROM process_instances WHERE id = :i"), {"i": task["instance_id"]}
        )
        data = json.loads(data) if isinstance(data, str) else dict(data)
        data["dispute"] = dispute
        data["invoices"] = dispute.get("lines")
        stored = json.dumps(data, allow_nan=True)
        session.execute(
            text("UPDATE process_instances SET data = :d WHERE id = :i"),
            {"d": stored, "i": task["instance_id"]},
        )
        session.execute(
            text("UPDATE inbox_items SET context = :d WHERE id = :i"), {"d": stored, "i": task["id"]}
        )
        detail = json.dumps(
            {"dispute_id": 1, "owner_group": "sales", "lines": dispute.get("lines")}, allow_nan=True
        )
        session.execute(
            text("UPDATE audit_events SET detail = :d WHERE instance_id = :i AND action = 'dispute_opened'"),
            {"d": detail, "i": task["instance_id"]},
        )  # fmt: skip


STORED_LINES = {
    name: lines
    for name, lines in HOSTILE_LINES.items()
    if name not in ("NUL and surrogate", "a huge list", "a huge number")  # stored rows: tested below / by A21
}
STORED_LINES["many lines"] = [
    {"number": f"N{k}", "amount": "1", "reason": "price"} for k in range(5_000) if "1337" not in str(k)
]


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("name", list(STORED_LINES))
def test_stored_odd_dispute_lines_are_shown_on_every_page_never_rendered_never_a_500(
    app: Flask, desk: Collections, name: str
) -> None:
    task = _dispute_with(desk, ["HX-1"])
    if name in ("NaN", "Infinity") and app.extensions["creditflow"].rt.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's json type refuses NaN and Infinity: such a value cannot be stored there")
    for currency in ("eur", "ABCDEFGHIJ") if name != "jinja in every field" else ("XXX", None):
        _store(app, task, {"lines": STORED_LINES[name], "currency": currency, "lines_text": f"old {JINJA}"})
        for page_name, page in _pages(app, task).items():
            _never_rendered(page)
            assert SCRIPT not in page, (name, page_name)
        for url in (
            f"/api/tasks/{task['id']}",
            "/api/tasks",
            f"/api/process-instances/{task['instance_id']}",
        ):
            token = desk.tokens["sales1" if "tasks" in url else "admin"]
            assert desk.client.get(url, headers=auth(token)).status_code == 200, (name, url)


# --- 3. the largest dispute the API takes ---------------------------------------------------------------


@pytest.mark.usefixtures("shipped")
def test_the_largest_dispute_the_api_takes_opens_and_its_task_pages_show(
    app: Flask, desk: Collections
) -> None:
    # 200 invoices (dispute_input.MAX_LINES) with 80-character numbers and a 4,000-character description are
    # a dispute parse_dispute accepts. Their lines said by the filter took ~23,000 characters, past the
    # instructions' cap of 20,000, and POST /api/process-instances answered 500 (the task could not be shown:
    # EngineError raised again by the non-strict snapshot). The filter now writes the lines that fit in
    # MAX_SAID_CHARS and how many more there are; the case data still lists them all.
    customer = desk.customer("Helios Lines plc")
    numbers = [f"{k:03d}-" + "汉" * 76 for k in range(200)]
    for number in numbers:
        desk.invoice(customer, number, "999999.99")
    data = {
        "customer_id": customer,
        "invoices": [{"number": n, "amount": "999999.99", "reason": "duplicate"} for n in numbers],
        "owner_group": "sales",
        "description": "说" * 4000,
    }
    opened = desk.client.post(
        "/api/process-instances",
        json={"process_key": "dispute_resolution", "data": data},
        headers=auth(desk.tokens["collector1"]),
    )
    assert opened.status_code == 201, opened.json
    task = task_named(desk, desk.tokens["sales1"], "propose_sales")
    instructions = task["context"]["instructions"]
    assert len(instructions) < MAX_INSTRUCTIONS_CHARS
    assert re.search(r"and \d+ more invoices", instructions), instructions[-300:]
    zh = as_user(app, "sales1", "zh").get(f"/tasks/{task['id']}")
    assert zh.status_code == 200
    said = zh.get_data(as_text=True)
    assert re.search(r"另有 \d+ 张发票未列出", said) and "199-" in said  # the table lists every line
    # The approval (the proposal's findings beside the lines) fits too.
    done = complete_dispute_task(
        desk, desk.tokens["sales1"], task["id"], decision="accept", credit_amount="1.00", comment="查" * 4000
    )
    assert done.status_code == 200, done.json
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    assert len(approval["context"]["instructions"]) < MAX_INSTRUCTIONS_CHARS
    assert as_user(app, "lead1", "en").get(f"/tasks/{approval['id']}").status_code == 200


def test_the_filter_s_cut_keeps_whole_lines_and_counts_the_rest() -> None:
    lines = [{"number": f"INV-{k:04d}", "amount": "10.00", "reason": "price"} for k in range(200)]
    for language, more in (("en", r", and (\d+) more invoices$"), ("zh", r"；另有 (\d+) 张发票未列出$")):
        whole = lines_said(lines, "EUR", language)
        assert whole is not None and len(whole) < 8_000 and "more" not in whole and "另有" not in whole
        cut = lines_said(lines, "EUR", language, max_chars=300)
        assert cut is not None and len(cut) <= 300 + 40, cut
        found = re.search(more, cut)
        assert found is not None, cut
        shown = cut.count("INV-")
        assert shown + int(found.group(1)) == 200 and cut.startswith(whole[: len(cut) // 2])


def test_instructions_past_the_cap_at_a_start_are_an_incident_or_a_4xx_never_a_500(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    from tests.helpers import credit_hold_files, upload

    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    # credit_hold's instructions: "Order {{ order_number }} exceeds the available limit."
    data = {"order_amount": 150, "available_limit": 100, "order_number": "SO-" + "9" * MAX_INSTRUCTIONS_CHARS}
    response = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert response.status_code != 500, response.json
    assert response.status_code < 500
    # The start stands, failed at the task whose instructions went past the cap, with an incident naming it.
    assert response.status_code == 201, response.json
    assert response.json["status"] == "error", response.json
    [incident] = response.json["incidents"]
    # The starter is no admin: the cause is kept back from them (741a6d3); an admin reads it.
    assert incident["bpmn_id"] == "review_hold" and "administrator" in incident["message"]
    shown = client.get(f"/api/process-instances/{response.json['id']}", headers=auth(demo_tokens["admin"]))
    assert "longer than 20,000 characters" in shown.json["incidents"][0]["message"]


# --- 4. history lines: typed values stay typed, impossible days, what a change asked for ------------------


def _contract_change(app: Flask, client: FlaskClient, tokens: dict[str, str], reason: str) -> dict[str, Any]:
    """A quantity change requested with a typed `reason`, rejected by finance with the same typed comment."""
    contract = make_contract(client, tokens)
    instance = started(
        client,
        tokens["buyer1"],
        contract["id"],
        "quantity",
        {"quantity": "900 t per year"},
        "100.00",
        reason=reason,
    )
    review = open_tasks(instance)["finance_review"]
    rejected = complete_task(client, tokens["finance1"], review["id"], decision="reject", comment=reason)
    assert rejected.status_code == 200, rejected.json
    return instance


def _history(app: Flask, instance_id: int, language: str) -> list[str]:
    page = as_user(app, "admin", language).get(f"/instances/{instance_id}")
    assert page.status_code == 200, (language, page.status_code)
    return list(cells(page.get_data(as_text=True)).details)


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("typed", ["2026-02-30", "0000-01-01", "2026-13-01", "9999-99-99"])
def test_a_typed_reason_shaped_like_an_impossible_day_is_shown_as_typed_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], typed: str
) -> None:
    # The requester's reason and the reviewer's comment land in the history's detail line; a value with the
    # shape of an ISO day went to format_day unguarded (webui/history_details._said), so the instance page
    # answered 500 in both languages.
    instance = _contract_change(app, client, demo_tokens, typed)
    for language in ("en", "zh"):
        lines = _history(app, instance["id"], language)
        assert sum(typed in line for line in lines) >= 3, lines  # reason, comment, and the start data


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("typed", ["overdue", "open"])  # one contract each: make_contract's supplier is S-1
def test_a_typed_contract_change_reason_equal_to_a_msgid_stays_typed_in_the_zh_history(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], typed: str
) -> None:
    instance = _contract_change(app, client, demo_tokens, typed)
    for language in ("en", "zh"):
        [requested] = [
            line
            for line in _history(app, instance["id"], language)
            if "change request" in line or "变更申请" in line
        ][:1]
        assert requested.endswith(f"：{typed}") or requested.endswith(f": {typed}"), (language, requested)


@pytest.mark.usefixtures("shipped")
def test_a_change_requests_history_line_says_what_was_asked_for(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    instance = _contract_change(app, client, demo_tokens, "volume rebate")
    for language in ("en", "zh"):
        [requested] = [line for line in _history(app, instance["id"], language) if "rebate" in line][:1]
        assert "900 t per year" in requested, (language, requested)


def _proposed_dispute(desk: Collections) -> dict[str, Any]:
    task = _dispute_with(desk, ["HX-1"])
    done = complete_dispute_task(
        desk, desk.tokens["sales1"], task["id"], decision="accept", credit_amount="5.00", comment="agreed"
    )
    assert done.status_code == 200, done.json
    return task


@pytest.mark.usefixtures("shipped")
def test_a_completed_task_s_data_is_not_called_start_data(app: Flask, desk: Collections) -> None:
    task = _proposed_dispute(desk)
    for language, label in (("en", "start data"), ("zh", "发起数据")):
        lines = _history(app, task["instance_id"], language)
        assert sum(label in line for line in lines) == 1, [line for line in lines if label in line]


@pytest.mark.usefixtures("shipped")
def test_a_dispute_proposal_s_history_line_is_a_dispute_s_words(app: Flask, desk: Collections) -> None:
    task = _proposed_dispute(desk)
    [zh] = [line for line in _history(app, task["instance_id"], "zh") if "待审批" in line]
    assert "额度" not in zh and "accept" not in zh and "proposed_credit" not in zh and "€5.00" in zh, zh
    [en] = [line for line in _history(app, task["instance_id"], "en") if "status: proposed" in line]
    assert "limit proposal" not in en and "€5.00" in en, en


# --- 5. PDF attachment names and the MIME headers that carry them ----------------------------------------

PART_HEADERS = {"Content-Type", "MIME-Version", "Content-Disposition", "Content-Transfer-Encoding"}


def _wire(filename: str, to: str = "ar@example.com") -> tuple[list[str], str]:
    """The recipients and the raw message the mailer writes for one PDF attachment named `filename`."""
    mailer = YagmailMailer(load_settings({}).mail, "127.0.0.1", 25)
    attachment = Attachment.of_bytes(filename, "application/pdf", b"%PDF-1.4\n%%EOF\n")
    row = SimpleNamespace(
        to=to,
        subject="第二次催款函：逾期款项¥1.00",
        body_html="<p>您好</p>",
        body_text="您好",
        message_id="<a22@creditflow.example>",
        attachments=[dataclasses.asdict(attachment)],
    )
    return mailer._message(mailer._client(), row)  # type: ignore[arg-type]


def _only_the_attachment(raw: str, to: str = "ar@example.com") -> email.message.EmailMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert [k for k, _v in message.raw_items() if k.lower() in ("bcc", "cc")] == []
    assert str(message["To"]) == to and len(message.get_all("Subject") or []) == 1
    [part] = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    assert {k for k, _v in part.raw_items()} == PART_HEADERS, part.raw_items()
    return part


@pytest.mark.parametrize("case_id", [0, 1, 7, 2**31 - 1, 2**63 - 1])
def test_every_letter_name_we_make_travels_whole_on_short_lines_in_both_languages(case_id: int) -> None:
    names = [
        *letter_names.dunning_notice_files(case_id, 2).values(),
        *letter_names.dunning_notice_files(case_id, 3).values(),
        *letter_names.dunning_notice_files(case_id, 99).values(),
        *letter_names.approval_letter_files(case_id).values(),
        *letter_names.legal_case_file_files(case_id).values(),
    ]
    for name in names:
        assert "/" not in name and "\\" not in name and name.isprintable() and name.endswith(".pdf")
        recipients, raw = _wire(name)
        assert recipients == ["ar@example.com"]
        assert max(len(line) for line in raw.splitlines()) <= 998  # RFC 5322's hard limit
        part = _only_the_attachment(raw)
        assert part.get_filename() == name
        # Older clients read Content-Type's name: the same name, as RFC 2047 encoded words.
        assert part.get_content_type() == "application/pdf" and part["Content-Type"].params["name"] == name
    assert letter_names.file_for(letter_names.approval_letter_files(5), "fr") == "credit-limit-letter-5.pdf"
    assert letter_names.file_for("x.pdf", "zh") == "x.pdf"


HOSTILE_FILE_NAMES = [
    '催款函"\r\nBcc: evil@example.com\r\n.pdf',
    # No "/" in it: yagmail keeps only what follows the last one.
    "催款函\r\n\r\n--boundary\r\nContent-Type: text-html\r\n\r\n<script>.pdf",
    '催款函"; filename="evil.exe',
    "../../etc/催款函.pdf",
    "催款函\u202efdp.exe",
    "😀催款函.pdf",
    "=?utf-8?b?ZXZpbC5leGU=?=催.pdf",
    "催" * 60 + ".pdf",
    'notice "7"; x=y.pdf',
    "notice\t7.pdf",
]


@pytest.mark.parametrize("name", HOSTILE_FILE_NAMES)
def test_a_hostile_attachment_name_never_makes_a_header_or_a_part_of_its_own(name: str) -> None:
    # Our names hold only case and instance ids (letter_names); should a name ever carry a reference a
    # person typed, the RFC 2047 name that smtp._name_for_every_client writes must stay one parameter.
    recipients, raw = _wire(name)
    assert recipients == ["ar@example.com"]
    part = _only_the_attachment(raw)
    message = email.message_from_string(raw, policy=email.policy.default)
    assert sum(1 for p in message.walk() if not p.is_multipart()) == 3  # text, html, the PDF
    # yagmail takes the type from the name's extension ("….exe" is no PDF: no name of ours ends so).
    if name.endswith(".pdf"):
        assert part.get_content_type() == "application/pdf"
    # The name travels whole, its line breaks and other unprintable runs made "_" (smtp._one_line_name).
    assert "evil" not in str(part.get_filename()).replace(_one_line_name(name), "") and "<script>" not in raw


@pytest.mark.parametrize(
    ("name", "sent_as"),
    [
        ("notice-7\r\n\r\nbody.pdf", "notice-7_body.pdf"),
        ("notice-7\r\nBcc: evil@example.com.pdf", "notice-7_Bcc: evil@example.com.pdf"),
        ("notice-7\u2028\u202e.pdf", "notice-7_.pdf"),
        ("催款函\r\n-7.pdf", "催款函_-7.pdf"),
    ],
)
def test_a_line_break_in_an_ascii_attachment_name_never_breaks_the_part(name: str, sent_as: str) -> None:
    # smtp._attachment_file makes each run of unprintable characters one "_" (stored rows of any age too).
    recipients, raw = _wire(name)
    assert recipients == ["ar@example.com"]
    part = _only_the_attachment(raw)
    assert part.get_payload(decode=True) == b"%PDF-1.4\n%%EOF\n"
    assert part.get_filename() == sent_as and part.get_content_type() == "application/pdf"


# --- 6. the company that signs: hostile or missing names ------------------------------------------------

HOSTILE_COMPANIES = [
    CompanyNames(f"Müller & <Söhne> {JINJA} 100%", f"杭州<b>示例</b>{JINJA}"),
    CompanyNames("", ""),
    CompanyNames("   ", ""),
    CompanyNames("", "只有中文名有限公司"),
    CompanyNames("😀 Emoji Trading \u202eLtd", "𠀀𪚥 机械"),
    CompanyNames("x" * 200, "汉" * 200),
]
CONTEXT_DAY = date(2027, 1, 14)
LETTERS = [
    "dunning_notice",
    "approval_letter",
    "dispute_outcome",
    "countersign_request",
    "countersign_reminder",
]


@pytest.mark.parametrize("company", HOSTILE_COMPANIES, ids=range(len(HOSTILE_COMPANIES)))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_hostile_company_name_signs_as_text_and_the_pdf_letter_still_renders(
    company: CompanyNames, language: str
) -> None:
    signed = company.in_language(language)
    for template in LETTERS:
        rendered = render_email(
            template, {**CONTEXT, "to_customer": True}, language=language, company=company
        )
        for part in (rendered.subject, rendered.text, rendered.html):
            _never_rendered(part)
        assert "<b>示例</b>" not in rendered.html and "<Söhne>" not in rendered.html
        if signed.strip():
            assert signed in rendered.text, (template, rendered.text[-300:])
        assert "\n" not in rendered.subject
    notice = render_email("dunning_notice", CONTEXT, language=language, company=company)
    data = letter_pdf(notice.html, language=language, on=CONTEXT_DAY, title=notice.subject, company=signed)
    first = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    _never_rendered(first)
    assert len(data) < 120_000


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Acme\u2028Bcc: x@evil.example", "must be one line"),
        ("Acme\u2029Ltd", "must be one line"),
        ("Acme\u2028", "must be one line"),  # trailing: len(str.splitlines()) would still be 1
        ("Acme \u202eLtd", r"must not hold bidirectional control characters \(U\+202E\)"),
        ("\u2067Acme", r"must not hold bidirectional control characters \(U\+2067\)"),
        ("\u202aAcme\u202c", r"must not hold bidirectional control characters \(U\+202A, U\+202C\)"),
    ],
)
def test_a_company_name_with_a_unicode_line_break_or_bidi_override_is_refused(name: str, said: str) -> None:
    with pytest.raises(SettingsError, match=f"mail.company_name {said}"):
        load_settings({}, mail={"company_name": name})
    with pytest.raises(SettingsError, match=f"mail.company_name_zh {said}"):
        load_settings({}, mail={"company_name_zh": name})


# --- 7. a zh customer's dunning notices over SMTP, with typed names and references -----------------------

HOSTILE_CUSTOMER = "上海<b>精密</b> {{ 7*191 }} 零件有限公司"


@pytest.mark.usefixtures("shipped")
def test_typed_names_and_invoice_numbers_in_a_zh_dunning_notice_stay_text_on_the_wire(
    desk: Collections,
) -> None:
    from tests.bpmn.test_dunning_languages import assert_named_for_every_client, pdf_text, pdfs, post_invoice

    refused = desk.client.post(
        "/api/customers",
        json={"name": "Evil\r\nBcc: x@evil.example", "email": "ar@evil.example", "currency": "CNY"},
        headers=auth(desk.tokens["sales1"]),
    )
    assert refused.status_code in (201, 422), refused.json  # a line break in a name: refused or kept as text
    customer = desk.customer(HOSTILE_CUSTOMER, email="ar@sh-precision.example", currency="CNY", language="zh")
    numbers = ["SH-{{ 7*191 }}", "SH-<i>2</i>", "SH-\u202e3", "SH-😀"]
    for number in numbers:
        post_invoice(desk, customer, number, "1000.00", "CNY")
    for _day in range(40):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            done = desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
            assert done.status_code == 200, done.json
        if len(desk.notices_to("ar@sh-precision.example")) >= 2:
            break
    first, second = desk.notices_to("ar@sh-precision.example")[:2]
    case_id = desk.case(customer)["id"]
    for message in (first, second):
        assert [k for k in message.keys() if k.lower() in ("bcc", "cc")] == []
        assert "\n" not in str(message["Subject"]) and HOSTILE_CUSTOMER in str(message["Subject"])
        _never_rendered(str(message["Subject"]))
        plain = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        _never_rendered(plain + html)
        assert all(number in plain for number in numbers), plain
        assert "<b>精密</b>" not in html and "<i>2</i>" not in html  # escaped in the HTML part
        assert "杭州示例机械有限公司信用管理部" in plain  # the demo company signs
    [(filename, data)] = pdfs(second)
    assert filename == letter_names.dunning_notice_files(case_id, 2)["zh"]
    assert_named_for_every_client(
        next(p for p in second.walk() if p.get_content_type() == "application/pdf"),
        filename,
    )
    text = pdf_text(data)
    _never_rendered(text)
    assert "SH-{{ 7*191 }}" in text and "SH-<i>2</i>" in text and "<b>精密</b>" in text, text
    assert text.splitlines()[0] == "杭州示例机械有限公司 · 信用管理部"


# --- 8. odd JSON through every way in: starts, forms, messages; shown by the task API -------------------

KEPT_AS_SENT: dict[str, Any] = {
    "typename dict": {"typename": "Decimal", "value": "1"},
    "typename datetime": {"typename": "datetime", "value": "2026-01-01T00:00:00"},
    "dunder keys": {"__class__": {"__mro__": 1}, "__init__": "x", "typename": None},
    "64-bit ints": [2**63 - 1, -(2**63)],
    "a date-shaped text": "0001-01-01",
    "an exponent past float": Decimal("1E+400"),  # JSON 1e400 arrives as an exact Decimal, kept as its text
}
REFUSED_BODIES = {
    "lone surrogate": '"\\ud800"',
    "a surrogate key": '{"\\udfff": 1}',
    "NaN": "NaN",
    "Infinity": "-Infinity",
    "deep": "[" * 300 + "]" * 300,
    "an int past 64 bits": str(10**30),  # refused: "send big amounts as decimal strings"
    "an int of 5,000 digits": "1" * 5000,
    "NUL": '"a\\u0000b"',
}


def _api_start(client: FlaskClient, token: str, extra_json: str) -> Any:
    body = (
        '{"process_key": "credit_hold", "data": {"order_amount": 150, "available_limit": 100, '
        f'"order_number": "SO-A22", "extra": {extra_json}}}}}'
    )
    return client.post(
        "/api/process-instances", data=body, content_type="application/json", headers=auth(token)
    )


def test_odd_json_a_client_sends_is_kept_as_sent_or_refused_with_a_4xx_and_the_task_api_shows_it(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    from tests.helpers import credit_hold_files, upload

    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    analyst = auth(demo_tokens["analyst1"])
    for name, value in KEPT_AS_SENT.items():
        sent = str(value) if isinstance(value, Decimal) else json.dumps(value)
        started_at = _api_start(client, demo_tokens["sales1"], sent)
        assert started_at.status_code == 201, (name, started_at.json)
        [task] = started_at.json["tasks"]
        one = client.get(f"/api/tasks/{task['id']}", headers=analyst)
        assert one.status_code == 200, name
        shown = one.json["context"]["data"]["extra"]  # type: ignore[index]
        assert shown == (str(value) if isinstance(value, Decimal) else value), (name, shown)
        listed = client.get("/api/tasks?per_page=200", headers=analyst)
        assert listed.status_code == 200, name
        for language in ("zh", "en"):
            page = as_user(client.application, "analyst1", language).get(f"/tasks/{task['id']}")
            assert page.status_code == 200, (name, language)
        # A form answer carrying the same value: kept, or refused with a 4xx (never a 500).
        done = client.post(
            f"/api/tasks/{task['id']}/complete",
            data='{"data": {"decision": "release", "release_amount": 150, "note": ' + sent + "}}",
            content_type="application/json",
            headers=analyst,
        )
        assert done.status_code < 500, (name, done.status_code)
    fresh = _api_start(client, demo_tokens["sales1"], '"plain"')
    assert fresh.status_code == 201, fresh.json
    task = fresh.json["tasks"][0]["id"]
    for name, body in REFUSED_BODIES.items():
        refused = _api_start(client, demo_tokens["sales1"], body)
        assert 400 <= refused.status_code < 500, (name, refused.status_code)
        assert client.get("/api/tasks?per_page=200", headers=analyst).status_code == 200, name
        done = client.post(
            f"/api/tasks/{task}/complete",
            data='{"data": {"decision": "release", "release_amount": ' + body + "}}",  # a field the form has
            content_type="application/json",
            headers=analyst,
        )
        assert 400 <= done.status_code < 500, ("form", name, done.status_code)
        answer = client.post(
            "/api/messages",
            data='{"name": "supplier_countersigned", "correlation_key": "1", "data": {"x": ' + body + "}}",
            content_type="application/json",
            headers=auth(demo_tokens["buyer1"]),
        )
        assert 400 <= answer.status_code < 500, ("message", name, answer.status_code, answer.json)


# --- 9. amounts in odd currencies, days in sentences ---------------------------------------------------


def test_limit_history_amounts_take_the_event_s_currency_else_the_case_s_whatever_they_hold(
    app: Flask,
) -> None:
    from webui.history_details import history_detail

    cases = {
        ("eur", "GBP"): ("€10,000.00", "€0.00"),  # the event's own currency, however it is spelt
        (None, "GBP"): ("£10,000.00", "£0.00"),  # an older event: the case's
        ("ABCDEFGHIJ", "GBP"): ("£10,000.00", "£0.00"),  # no currency code: the case's
        (5, None): ("10,000.00", "0.00"),  # neither: the grouped number
        ("XXX", None): ("10,000.00", "0.00"),  # ISO's "no currency": Babel's ¤ or XXX, never an error
    }
    for language in ("en", "zh"):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            for (event_currency, case_currency), (old, new) in cases.items():
                detail = {"old": "10000", "new": "-0", "currency": event_currency, "reason": "manual"}
                said = str(history_detail(detail, case_currency))
                assert old in said and new in said and "-" not in said.split(new)[0][-2:], (language, said)
                assert "currency" not in said and "币种" not in said, said  # said with the amounts
            # Far past any limit: as stored or grouped, never a 500.
            said = str(history_detail({"old": "1e308", "new": 10**30, "currency": "EUR"}, None))
            assert "1e308" in said and "€1,000,000,000,000,000,000,000,000,000,000.00" in said, said


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_typed_value_shaped_like_a_day_is_echoed_as_typed_in_an_api_message(
    client: FlaskClient, demo_tokens: dict[str, str], language: str
) -> None:
    for typed in ("2026-01-01", "0001-01-01", "2026-01-01T10:00"):
        response = client.get(
            f"/api/disputes?status={typed}",
            headers={**auth(demo_tokens["admin"]), "Accept-Language": language},
        )
        assert response.status_code == 422
        assert typed in response.json["error"]["message"], response.json  # type: ignore[index]


@pytest.mark.parametrize("typed", ["2026-02-30", "2026-01-01T25:00", "9999-12-31", "0001-01-01T00:00"])
def test_odd_days_in_an_api_message_are_dates_or_as_typed_never_a_500(
    client: FlaskClient, demo_tokens: dict[str, str], typed: str
) -> None:
    for language in ("en", "zh"):
        response = client.get(
            f"/api/disputes?status={typed}",
            headers={**auth(demo_tokens["admin"]), "Accept-Language": language},
        )
        assert response.status_code == 422, (typed, language, response.status_code)


# --- 10. the must-shows, again on the demo data -------------------------------------------------


def _typed_strings(app: Flask) -> list[str]:
    """Every text the demo's people typed or imported (every string in every instance's data), longest first:
    shown as stored, so the catalogue check skips them."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) > 2:
            found.update((value, value.rstrip(".。")))  # a zh sentence ends a typed reason with its own 。
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    with app.extensions["creditflow"].rt.factory() as session:
        for (data,) in session.execute(text("SELECT data FROM process_instances")):
            walk(json.loads(data) if isinstance(data, str) else data)
    return sorted(found, key=len, reverse=True)


@pytest.mark.usefixtures("shipped")
def test_the_demo_s_zh_people_read_every_page_they_reach_in_chinese(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    from tests.webui.test_language import english_left, switch
    from tests.webui.test_language_demo import demo as seeded
    from tests.webui.test_pages import logged_in

    demo = seeded.__wrapped__(app, demo_tokens, app.extensions["creditflow"].clock())  # type: ignore[attr-defined]
    typed = [*_typed_strings(demo), "ADD", "CEI", "DSO"]  # the KPI acronyms stay beside their Chinese names
    for user in ("analyst1", "manager1", "legal1", "finance1", "sales1", "collector1", "admin"):
        client = logged_in(demo, user)
        switch(client, "zh", "/inbox")
        inbox = client.get("/inbox").get_data(as_text=True)
        paths = [
            "/inbox",
            "/dashboard",
            "/customers/1",
            *sorted(set(re.findall(r'href="(/tasks/\d+)"', inbox))),
        ]
        if user == "admin":
            paths += [f"/instances/{n}" for n in range(1, 12)]
        for path in paths:
            response = client.get(path)
            if response.status_code in (403, 404):
                continue
            page = response.get_data(as_text=True)
            assert response.status_code == 200 and '<html lang="zh-Hans">' in page, (user, path)
            assert english_left(page, typed) == [], (user, path)


@pytest.mark.usefixtures("shipped")
def test_the_demo_s_amounts_are_money_on_the_task_pages(app: Flask, demo_tokens: dict[str, str]) -> None:
    from tests.webui.test_language import switch
    from tests.webui.test_language_demo import demo as seeded
    from tests.webui.test_pages import logged_in

    demo = seeded.__wrapped__(app, demo_tokens, app.extensions["creditflow"].clock())  # type: ignore[attr-defined]
    client = logged_in(demo, "admin")
    for language in ("zh", "en"):
        switch(client, language, "/inbox")
        shown: dict[str, str] = {}
        for n in range(1, 10):
            page = client.get(f"/tasks/{n}").get_data(as_text=True)
            shown.update(re.findall(r'data-key="([^"]+)">[^<]*</th>\s*<td>([^<]*)</td>', page))
        for key in ("costs", "write_off_base", "amount", "order_value"):
            assert key in shown and re.search(r"[¥€£$]|CN¥", shown[key]), (language, key, shown.get(key))


@pytest.mark.usefixtures("shipped")
def test_a_stored_lone_surrogate_reads_on_the_task_and_instance_pages(app: Flask, desk: Collections) -> None:
    # An older version's row or a hand edit: the pages encode it as U+FFFD (webui/responses.ShownResponse),
    # as GET /api/tasks(/ID) shows it (workflows/store/shown_json); werkzeug's UTF-8 encoding raised a 500.
    task = _dispute_with(desk, ["HX-1"])
    _store(app, task, {"lines": HOSTILE_LINES["NUL and surrogate"], "currency": "EUR", "lines_text": "old"})
    for url in (f"/api/tasks/{task['id']}", f"/api/process-instances/{task['instance_id']}"):
        token = desk.tokens["sales1" if "tasks" in url else "admin"]
        assert desk.client.get(url, headers=auth(token)).status_code == 200, url  # repaired since 31df14b
    for page in _pages(app, task).values():
        assert "\ufffd" in page
    # The audit trail's exports write the opening event's stored details (the same response class).
    exported = as_user(app, "admin", "en").get("/audit.csv")
    api_csv = desk.client.get("/api/audit?format=csv", headers=auth(desk.tokens["admin"]))
    for response in (exported, api_csv):
        assert response.status_code == 200 and "\ufffd" in response.get_data(as_text=True)


# --- 11. typed values equal to our codes, in a process that never offers them ----------------------------

TYPED_CODES = {
    "action": "wait",
    "change": "increase",
    "status": "posted",
    "scorecard": "default",
    "change_type": "price",
    "owner_group": "sales",
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_typed_values_equal_to_our_codes_stay_typed_in_a_process_that_never_offers_them(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], language: str
) -> None:
    from tests.helpers import credit_hold_files, upload

    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    data = {"order_amount": 150, "available_limit": 100, "order_number": "SO-A22", **TYPED_CODES}
    started_hold = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started_hold.status_code == 201, started_hold.json
    task = started_hold.json["tasks"][0]["id"]  # type: ignore[index]
    page = as_user(app, "analyst1", language).get(f"/tasks/{task}").get_data(as_text=True)
    shown = dict(re.findall(r'data-key="([^"]+)">[^<]*</th>\s*<td>(?:<span data-value="">)?([^<]*)<', page))
    assert {key: shown.get(key) for key in TYPED_CODES} == TYPED_CODES, shown
