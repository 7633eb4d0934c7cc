"""Amounts issue 20 left without their currency (session 11's "Left"): a supplier contract's `value` and
a change's `impact_in_base` in the case data (价值 1200000.00), a limit change's old and new limit in the
history (原额度：40,000.00: the event named no currency), and a countersign request's `value` change (the
diagram sent no currency to the mail)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.mail.test_mail_languages import CONTEXT
from tests.webui.test_language import as_user
from tests.webui.test_language_case_data import cells
from tests.webui.test_language_case_data import demo_cases as demo_cases  # noqa: F401 - the fixture
from workflows.credit import roles
from workflows.mail.templates import render_email
from workflows.settings import BPMN_DIR

pytestmark = pytest.mark.usefixtures("shipped")


def _instance(demo_cases: dict[str, Any], process: str) -> int:  # noqa: F811
    [found] = [i for i, key in demo_cases["instances"].items() if key == process]
    return int(found)


def test_a_contract_s_value_and_its_change_s_base_impact_read_as_money(
    app: Flask,
    demo_cases: dict[str, Any],  # noqa: F811
) -> None:
    instance = _instance(demo_cases, roles.SUPPLIER_CONTRACT_CHANGE)
    for language, value, impact in (
        ("zh", "€1,200,000.00", "€60,000.00"),
        ("en", "€1,200,000.00", "€60,000.00"),
    ):
        page = as_user(app, "admin", language).get(f"/instances/{instance}").get_data(as_text=True)
        found = cells(page)
        assert value in found.values and "1200000.00" not in found.values, (language, found.values)
        # impact_in_base (base currency EUR) and value_impact (the contract's EUR), never bare.
        assert found.values.count(impact) >= 2 and "60000.00" not in found.values, (language, found.values)
        assert "60,000.00" not in found.values, (language, found.values)
        # The change's history line says the impact in the contract's currency too.
        assert any(f"：{impact}" in d or f": {impact}" in d for d in found.details), found.details


def test_a_limit_change_s_history_says_its_currency_and_older_events_take_the_case_s(
    app: Flask,
    demo_cases: dict[str, Any],  # noqa: F811
) -> None:
    instance = _instance(demo_cases, roles.CREDIT_LIMIT_REVIEW)
    page = as_user(app, "admin", "zh").get(f"/instances/{instance}").get_data(as_text=True)
    [line] = [d for d in cells(page).details if "原额度" in d]
    assert "原额度：€750,000.00 · 新额度：€750,000.00" in line and "币种" not in line, line
    from webui.history_details import history_detail

    # An event written before the currency was (only old/new): the case's currency, given by the page.
    old_event = {"customer_id": 3, "old": "40000", "new": "50000.00", "reason": "manual"}
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        said = str(history_detail(old_event, "CNY"))
        assert "原额度：¥40,000.00 · 新额度：¥50,000.00" in said, said
        assert "原额度：¥40,000.00" in str(history_detail({**old_event, "currency": "CNY"}, "EUR"))
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        said = str(history_detail({**old_event, "currency": "GBP"}))
        assert "£40,000.00" in said and "£50,000.00" in said and "GBP" not in said, said


def test_a_countersign_request_writes_a_contract_value_change_as_money() -> None:
    context = {
        **CONTEXT,
        "change_type": "clauses",
        "currency": "EUR",
        "changes": {"value": "1300000.00"},
        "current": {"value": "1200000.00"},
    }
    chinese = render_email("countersign_request", context, language="zh")
    assert "合同金额：€1,200,000.00 → €1,300,000.00" in chinese.text, chinese.text
    assert "€1,300,000.00" in chinese.html
    english = render_email("countersign_request", context, language="en")
    assert "€1,200,000.00 -> €1,300,000.00" in english.text and "€1,300,000.00" in english.html, english.text
    # A request queued before the diagram sent the currency still renders: the amount, grouped.
    del context["currency"]
    assert "1,200,000.00 → 1,300,000.00" in render_email("countersign_request", context, language="zh").text
    # The shipped diagram hands the mail the contract's currency.
    diagram = (BPMN_DIR / "supplier_contract_change.bpmn").read_text(encoding="utf-8")
    [request] = re.findall(r'"countersign_request"[^\n]*\n[^\n]*\n[^\n]*context[^\n]*', diagram)
    assert '"currency": change_request["currency"]' in request, request
