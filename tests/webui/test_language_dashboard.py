"""The dashboard in the user's language (issue 20): a zh credit manager reads /dashboard in Chinese (tiles,
definitions, tables, the charts' series names) with no English msgid of the catalogue left on the page; an en
user reads it in English, as the dashboard tests (English users) read it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credit.test_aging_history import make_book
from tests.webui.test_dashboard_pages import PageTables
from tests.webui.test_language import as_user, english_left
from tests.webui.test_pages import text_of

pytestmark = pytest.mark.usefixtures("shipped")

# Kept as the Chinese credit professional writes them: "DSO 应收账款周转天数", "CEI 回款效率指数", ...
ACRONYMS = {"DSO", "CEI", "ADD"}


def test_a_zh_manager_reads_the_dashboard_in_chinese_and_an_en_analyst_in_english(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    response = as_user(app, "manager1", "zh").get("/dashboard?period=quarter")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    assert [left for left in english_left(page) if left not in ACRONYMS] == []
    text = text_of(response)
    for chinese in (
        "驾驶舱",
        "关键绩效指标",
        "DSO 应收账款周转天数",
        "应收账款周转天数（DSO）：期末应收账款 ÷ 本期赊销额 × 本期天数。",
        "CEI 回款效率指数",
        "逾期 90 天以上",
        "坏账准备率",
        "前十大客户集中度",
        "审批周期",
        "最近 12 个季度",
        "趋势数据",
        "各审批路径的审批周期",
        "按原因代码分列的争议金额",
        "应收账款账龄分布",
        "31–60 天",
        "超出上限",
        "全部未结应收账款",
        "预警名单",
        "已决定数",
        "负责人",
        "指标说明",
        "集中度上限属于政策",
    ):
        assert chinese in text, chinese
    assert "Yuan Co" in text  # the data stays as stored
    found = PageTables(page)
    assert found.tables["aging"][0][:3] == ["日期", "未到期", "1–30 天"]
    assert found.tables["approval-routes"][1][0] == "自动审批"
    charts = {c.get("name"): c for c in found.charts}
    assert [s["label"] for s in charts["approval-routes"]["series"]] == [
        "自动审批",
        "信用分析师",
        "信用经理",
        "首席财务官",
    ]
    assert charts["aging"]["series"][0]["label"] == "未到期"
    # The numbers are the same as an English reader's: only the words change.
    english_page = as_user(app, "analyst1", "en").get("/dashboard?period=quarter").get_data(as_text=True)
    english_found = PageTables(english_page)
    assert found.tables["aging"][1:] == english_found.tables["aging"][1:]
    # The open amount is written with its currency as each locale does ("¥100,000.00" / "CN¥100,000.00").
    assert [row[:2] + row[3:5] for row in found.tables["exposures"][1:-1]] == [
        row[:2] + row[3:5] for row in english_found.tables["exposures"][1:-1]
    ]
    assert found.tables["exposures"][1][2] == "¥100,000.00"
    assert english_found.tables["exposures"][1][2] == "CN¥100,000.00"
    english = " ".join(english_page.split())
    for phrase in (
        "Days sales outstanding: AR at the period end",
        "Collection effectiveness index",
        "the last 12 quarters",
        "Trend numbers",
        "Approval cycle per route",
        "Aging by bucket",
        "over the cap",
        "All open receivables",
        "What the figures mean",
        "Over 120 days",
    ):
        assert phrase in english, phrase
    assert [
        s["label"] for s in {c.get("name"): c for c in english_found.charts}["approval-routes"]["series"]
    ] == [
        "Automatic",
        "Analyst",
        "Manager",
        "CFO",
    ]
    assert "驾驶舱" not in english_page and "应收账款" not in english_page
