"""The English a reviewer still found on zh pages (issue 20, must-show 1), each spot now in the reader's
language: the header's groups and language switch, the customer page's order statuses, language, ownership,
industry, limit reasons, dunning event details and process names, and the dashboard's exposure amounts; an en
user reads the same spots in English."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credit.test_aging_history import make_book
from tests.webui.test_customer_pages import overdue_customer, section, set_fields  # noqa: F401 - a fixture
from tests.webui.test_language import as_user
from tests.webui.test_pages import text_of
from webui.customer_labels import reason_word
from webui.dashboard import reason_view
from webui.stored_sentences import said_stored

pytestmark = pytest.mark.usefixtures("shipped")


def _who(page: str) -> str:
    found = re.search(r'<span class="who" title="([^"]*)"', page)
    assert found, "no user in the header"
    return found.group(1)


SWITCH = re.compile(r'<button type="submit" name="language" value="(\w+)"[^>]*?title="([^"]*)"', re.S)
OPEN_AMOUNT = re.compile(r'<td><a href="/customers/\d+">[^<]*</a></td>\s*<td class="num">([^<]*)</td>')


def _switch_titles(page: str) -> dict[str, str]:
    return dict(SWITCH.findall(page))


def _options(page: str, name: str) -> dict[str, str]:
    select = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
    assert select, name
    return dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1)))


def _file_row(page: str, label: str) -> str:
    found = re.search(rf'<th scope="row">{re.escape(label)}</th><td>([^<]*)</td>', page)
    assert found, label
    return found.group(1)


def test_the_header_names_the_groups_and_the_switch_in_the_readers_language(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    zh = as_user(app, "analyst1", "zh").get("/inbox").get_data(as_text=True)
    assert _who(zh) == "信用分析师"
    assert "credit_analyst" not in _who(zh)
    assert _switch_titles(zh) == {"en": "切换为英文界面", "zh": "切换为中文界面"}
    manager = as_user(app, "manager1", "zh").get("/inbox").get_data(as_text=True)
    assert _who(manager) == "信用经理"

    en = as_user(app, "analyst1", "en").get("/inbox").get_data(as_text=True)
    assert _who(en) == "Credit analyst"
    assert _switch_titles(en) == {"en": "Switch to English", "zh": "Switch to Chinese"}
    assert "以English" not in zh and "Show the pages in" not in en


def test_the_customer_page_says_our_codes_in_chinese_and_keeps_them_english_for_an_en_user(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    customer_id = overdue_customer["id"]
    set_fields(app, customer_id, ownership="foreign", language="zh")
    path = f"/customers/{customer_id}"
    response = as_user(app, "analyst1", "zh").get(path)
    assert response.status_code == 200
    page = text_of(response)

    statuses = _options(page, "orders_status")
    assert statuses == {
        "": "全部",
        "open": "待处理",
        "held": "待放行",
        "released": "已放行",
        "invoiced": "已开票",
        "cancelled": "已取消",
    }
    assert _file_row(page, "语言") == "中文"
    assert _file_row(page, "所有制形式") == "外资企业"
    assert _file_row(page, "行业") == "制造业"

    history = section(page, "limit-history")
    assert "信用额度申请" in history and "从 ERP 迁移" in history
    assert "credit application" not in history and "migrated from ERP" not in history

    dunning = section(page, "dunning")
    timeline = " ".join(re.findall(r"<small>(.*?)</small>", dunning, re.S))
    assert "发票：INV-1" in timeline, timeline
    for english in ("invoices:", "queued", "next_step_on", "last_notice_at", "T09:00:00", "True", "False"):
        assert english not in timeline, (english, timeline)
    assert re.search(r"上次催款函：\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", timeline), timeline

    processes = section(page, "instances")
    assert "信用额度申请" in processes and "催款" in processes  # the diagrams' name_zh
    assert "credit_application" not in re.sub(r'(href|class)="[^"]*"', "", processes)
    assert ">dunning<" not in processes

    en = text_of(as_user(app, "manager1", "en").get(path))
    assert _options(en, "orders_status")["held"] == "held"
    assert _options(en, "orders_status")["invoiced"] == "invoiced"
    assert _file_row(en, "Language") == "Chinese"
    assert _file_row(en, "Ownership") == "foreign"
    assert _file_row(en, "Industry") == "manufacturing"
    assert "credit application" in section(en, "limit-history")
    assert "migrated from ERP" in section(en, "limit-history")
    en_timeline = section(en, "dunning")
    assert "invoices: INV-1" in en_timeline and "last notice: 2 Mar 2026 " in en_timeline
    assert "next_step_on" not in en_timeline and "T09:00:00" not in en_timeline


@pytest.mark.parametrize(
    ("stored", "zh", "en"),
    [
        ("credit application", "信用额度申请", "credit application"),
        ("migrated from ERP", "从 ERP 迁移", "migrated from ERP"),
        ("migrated from ERP: erp_2026.csv", "从 ERP 迁移：erp_2026.csv", "migrated from ERP: erp_2026.csv"),
        ("review:turnover doubled", "额度复核：turnover doubled", "review:turnover doubled"),
        ("a reason someone typed", "a reason someone typed", "a reason someone typed"),
    ],
)
def test_limit_reasons_our_code_wrote_are_said_in_the_readers_language(
    app: Flask, demo_tokens: dict[str, str], stored: str, zh: str, en: str
) -> None:
    for language, expected in (("zh", zh), ("en", en)):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            assert said_stored(stored) == expected, language


def test_the_dashboard_writes_each_exposure_with_its_currency_as_the_locale_does(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    zh = as_user(app, "manager1", "zh").get("/dashboard?period=quarter").get_data(as_text=True)
    exposures = section(zh, "exposures")
    opens = OPEN_AMOUNT.findall(exposures)
    assert opens, exposures
    # zh writes the currency's symbol before the amount ("€1,200.00", "¥1,200.00"), never "1,200.00 EUR".
    for amount in opens:
        assert not re.search(r"\d [A-Z]{3}$", amount), amount
        assert re.match(r"^-?[^\d\s-]+\s?-?[\d,]+\.\d\d$", amount), amount
    en = as_user(app, "manager1", "en").get("/dashboard?period=quarter").get_data(as_text=True)
    en_opens = OPEN_AMOUNT.findall(section(en, "exposures"))
    # English writes CLDR's en symbols too: the yuan is CN¥ there, ¥ for a zh reader.
    assert (opens, en_opens) == (["¥100,000.00", "€1,100.00"], ["CN¥100,000.00", "€1,100.00"])


def test_the_dashboard_names_dispute_reason_codes_in_chinese_and_keeps_the_codes_in_english(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    cases = (("zh", ["价格", "重复开票", "其他原因"]), ("en", ["price", "duplicate", "other"]))
    for language, expected in cases:
        with app.test_request_context("/", headers={"Accept-Language": language}):
            assert [reason_word(c) for c in ("price", "duplicate", "other")] == expected, language


def test_the_dispute_reason_chart_names_its_series_as_the_tables_beside_it(app: Flask) -> None:
    # webui/dashboard.reason_view's chart spec: the legend of the stacked bars (static/dashboard.js draws it).
    by_reason = {"price": "4.00", "duplicate": "6.00"}
    period = {"period_end": "2026-01-31", "value": "10.00", "by_reason": by_reason}
    kpis = {"kpis": {"disputed_amount": {"value": "10.00", "trend": [period]}}}
    for language, expected in (("zh", ["重复开票", "价格"]), ("en", ["duplicate", "price"])):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            series = reason_view(kpis)["chart"]["series"]
        assert [s["label"] for s in series] == expected, language
        assert [s["data"] for s in series] == [["6.00"], ["4.00"]]
