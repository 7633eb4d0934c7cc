"""A dispute's lines as its readers see them (issue 20): the owner's proposal task and the approval say each
line's invoice, amount (money in the dispute's currency, as the page's language writes it) and reason in the
page's language, through the instructions' `dispute_lines` filter, which renders in the server (no template
loop); the case-data table shows the lines alike. Before, every page showed the handler's English
`lines_text` ("HX-4410 2400.00 (price)") and the raw JSON of the lines."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.bpmn.test_dispute_resolution import complete, raise_dispute, task_named
from tests.collections_desk import Collections
from tests.webui.test_language import as_user
from tests.webui.test_language_case_data import cells
from workflows.credit.dispute_reasons import REASON_WORDS, REASONS, dispute_lines_filter, lines_said
from workflows.engine.task_texts import render_instructions, renders_in_process
from workflows.settings import BPMN_DIR

pytestmark = pytest.mark.usefixtures("shipped")
INSTRUCTIONS = re.compile(r'class="instructions"[^>]*>(.*?)</', re.S)


def _instructions(page: str) -> str:
    found = INSTRUCTIONS.search(page)
    assert found, page[:2000]
    return " ".join(found.group(1).split())


def test_the_reason_words_are_the_dispute_form_s_choices() -> None:
    form = json.loads((BPMN_DIR / "dispute_resolution_start.json").read_text(encoding="utf-8"))
    reason = form["properties"]["invoices"]["items"]["properties"]["reason"]
    assert tuple(reason["enum"]) == REASONS == tuple(REASON_WORDS["en"]) == tuple(REASON_WORDS["zh"])
    assert reason["enum_titles_zh"] == REASON_WORDS["zh"]


def test_the_filter_writes_each_line_in_the_text_s_language_and_falls_back_to_the_old_text() -> None:
    dispute = {
        "currency": "GBP",
        "lines": [
            {"number": "HX-4410", "amount": Decimal("2400.00"), "reason": "price"},
            {"number": "HX-4411", "amount": "1200000", "reason": "duplicate"},
        ],
        "lines_text": "HX-4410 2400.00 (price), HX-4411 1200000.00 (duplicate)",
    }
    assert (
        dispute_lines_filter("en")(dispute)
        == "HX-4410 £2,400.00 (price), HX-4411 £1,200,000.00 (duplicate invoice)"
    )
    assert (
        dispute_lines_filter("zh")(dispute)
        == "发票 HX-4410 £2,400.00（价格）；发票 HX-4411 £1,200,000.00（重复开票）"
    )
    # An instance that stored only the text (or odd lines) reads that text; no dispute at all, nothing.
    assert dispute_lines_filter("zh")({"lines_text": "HX-1 10.00 (price)"}) == "HX-1 10.00 (price)"
    assert dispute_lines_filter("zh")({**dispute, "lines": "odd"}) == dispute["lines_text"]
    assert dispute_lines_filter("en")(None) == "" and lines_said([], "EUR", "zh") is None
    template = "{{ dispute | dispute_lines }}."
    assert renders_in_process(template)  # in the server: no loop, no script worker
    assert render_instructions(template, {"dispute": dispute}, language="zh").startswith(
        "发票 HX-4410 £2,400.00"
    )


def _proposal(desk: Collections) -> dict[str, Any]:
    customer = desk.customer("Helios Lines plc")
    desk.invoice(customer, "HX-4410", "25650.00")
    desk.invoice(customer, "HX-4411", "3000.00")
    lines = (("HX-4410", "2400.00", "price"), ("HX-4411", "300.00", "duplicate"))
    started = raise_dispute(desk, desk.tokens["collector1"], customer, *lines)
    assert started.status_code == 201, started.json
    proposal = task_named(desk, desk.tokens["sales1"], "propose_sales")
    return proposal


def test_the_proposal_and_the_approval_say_the_lines_in_chinese_and_in_english(
    app: Flask, desk: Collections
) -> None:
    proposal = _proposal(desk)
    zh = as_user(app, "sales1", "zh").get(f"/tasks/{proposal['id']}").get_data(as_text=True)
    said = _instructions(zh)
    assert "发票 HX-4410 €2,400.00（价格）；发票 HX-4411 €300.00（重复开票）" in said, said
    assert "(price)" not in said and "2400.00 (" not in said
    # The case data's lines and the old text row read the same, not JSON or English.
    values = cells(zh).values
    assert "发票 HX-4410 €2,400.00（价格）；发票 HX-4411 €300.00（重复开票）" in values, values
    assert not [v for v in values if "(price)" in v or '"reason"' in v], values
    # The history's line of the opened dispute says them so too, with the disputed amount as money.
    history = cells(
        as_user(app, "admin", "zh").get(f"/instances/{proposal['instance_id']}").get_data(as_text=True)
    )
    [opened] = [d for d in history.details if "争议金额" in d]
    assert "发票 HX-4410 €2,400.00（价格）；发票 HX-4411 €300.00（重复开票）" in opened, opened
    assert "争议金额：€2,700.00" in opened and '"reason"' not in opened, opened
    page = as_user(app, "sales1", "en").get(f"/tasks/{proposal['id']}").get_data(as_text=True)
    assert "HX-4410 €2,400.00 (price), HX-4411 €300.00 (duplicate invoice)" in _instructions(page)
    assert "HX-4410 €2,400.00 (price), HX-4411 €300.00 (duplicate invoice)" in cells(page).values
    assert "（" not in page
    done = complete(desk, desk.tokens["sales1"], proposal["id"], decision="accept", credit_amount="2000.00")
    assert done.status_code == 200, done.json
    approval = task_named(desk, desk.tokens["lead1"], "approve_as_lead")
    approve_zh = _instructions(
        as_user(app, "lead1", "zh").get(f"/tasks/{approval['id']}").get_data(as_text=True)
    )
    assert "争议金额 €2,700.00" in approve_zh and "发票 HX-4411 €300.00（重复开票）" in approve_zh, approve_zh
    # The base-currency figure carries the base currency's symbol (the proposal names it since Proposal's
    # base_currency; it was a bare "2,000.00").
    assert "折合本位币 €2,000.00" in approve_zh, approve_zh
    approve_en = _instructions(
        as_user(app, "lead1", "en").get(f"/tasks/{approval['id']}").get_data(as_text=True)
    )
    # The English text had the disputed amount and the base-currency figure unformatted ("2700.00").
    assert (
        "(disputed €2,700.00; weighed with the rest of its claim: €2,000.00 in the base currency"
        in approve_en
    ), approve_en
    assert "HX-4410 €2,400.00 (price)" in approve_en
