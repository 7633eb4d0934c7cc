"""Hostile review A22 of the twelfth session's issue-20 work (git log 60d1fc8..): the `dispute_lines` filter
and the dispute lines in case data and history, PDF attachment names and the MIME headers that carry them,
the company that signs letters, stored odd JSON on the task API, labelled history lines on English and
Chinese pages (typed values stay typed), limit and contract amounts in odd currencies, and ISO days as
dates. Each finding is a test here: fixed, or a strict xfail naming the fix."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import Markup
from sqlalchemy import text

from tests.bpmn.test_dispute_resolution import complete as complete_dispute_task
from tests.bpmn.test_dispute_resolution import raise_dispute, task_named
from tests.bpmn.test_supplier_contract_change import complete as complete_task
from tests.bpmn.test_supplier_contract_change import make_contract, open_tasks, started
from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_language import as_user
from tests.webui.test_language_case_data import cells
from workflows.credit.dispute_reasons import MAX_SHOWN, dispute_lines_filter, lines_said
from workflows.engine.task_texts import MAX_INSTRUCTIONS_CHARS, render_instructions, renders_in_process
from workflows.store.db import transaction

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


@pytest.mark.xfail(
    strict=True,
    reason="workflows/engine/waits._instructions: with strict=False (advance()'s second snapshot after an "
    "EngineError) an in-process template is rendered again and its ScriptLimitExceeded raised again, so the "
    "start answers 500 instead of recording the incident (fix: strict=False falls back to the template, or "
    "a cut text, instead of raising)",
)
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
@pytest.mark.xfail(
    strict=True,
    reason="webui/history_details._said says every 'reason' through limit_reason/said_stored, so a contract "
    "change's typed reason that is a msgid ('overdue', 'open') is re-said on zh pages (已逾期, 待处理); fix: "
    "only a limit change's reason (its event has old/new) is a limit reason, any other is shown as stored",
)
def test_a_typed_contract_change_reason_equal_to_a_msgid_stays_typed_in_the_zh_history(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for typed in ("overdue", "open"):
        instance = _contract_change(app, client, demo_tokens, typed)
        for language in ("en", "zh"):
            [requested] = [
                line
                for line in _history(app, instance["id"], language)
                if "change request" in line or "变更申请" in line
            ][:1]
            assert requested.endswith(f"：{typed}") or requested.endswith(f": {typed}"), (language, requested)


@pytest.mark.usefixtures("shipped")
@pytest.mark.xfail(
    strict=True,
    reason="webui/history_details.history_detail flattens `changes` and then `previous` into one set of "
    "keys, so the contract_change_requested line says 'quantity: 1,500 t per year' (the value it replaces) "
    "and never the 900 t asked for (English pages too since 7c39555); fix: say a change as 'old → new'",
)
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
@pytest.mark.xfail(
    strict=True,
    reason="webui/history_details.AUDIT_LABELS labels every event's `data` 'start data' (发起数据), so a "
    "task_completed line reads 'start data: {comment, decision}' for what the approver submitted; fix: "
    "label `data` by the event (instance_started: start data; task_completed: submitted data)",
)
def test_a_completed_task_s_data_is_not_called_start_data(app: Flask, desk: Collections) -> None:
    task = _proposed_dispute(desk)
    for language, label in (("en", "start data"), ("zh", "发起数据")):
        lines = _history(app, task["instance_id"], language)
        assert sum(label in line for line in lines) == 1, [line for line in lines if label in line]


@pytest.mark.usefixtures("shipped")
@pytest.mark.xfail(
    strict=True,
    reason="the dispute_proposed event's `proposal` is labelled 'Limit proposal' (额度建议, "
    "webui/case_labels _OWN_LABELS) and its code 'accept' and amount 'proposed_credit' stay raw on zh pages "
    "(额度建议：accept · proposed_credit：5.00); fix: labels for a dispute's proposal/proposed_credit, "
    "the credit as money",
)
def test_a_dispute_proposal_s_history_line_is_a_dispute_s_words(app: Flask, desk: Collections) -> None:
    task = _proposed_dispute(desk)
    [zh] = [line for line in _history(app, task["instance_id"], "zh") if "待审批" in line]
    assert "额度" not in zh and "accept" not in zh and "proposed_credit" not in zh and "€5.00" in zh, zh
    [en] = [line for line in _history(app, task["instance_id"], "en") if "status: proposed" in line]
    assert "limit proposal" not in en and "€5.00" in en, en
