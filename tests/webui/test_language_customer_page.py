"""The customer page in the user's language (issue 20): a zh user reads it in Chinese with
no English msgid of the catalogue left on the page; an en user reads English."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.webui.test_customer_orders_and_block import _blocked_customer
from tests.webui.test_customer_pages import overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_language import as_user, english_left
from tests.webui.test_pages import csrf_token, text_of

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_zh_user_reads_the_customer_page_in_chinese_and_an_en_user_in_english(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    path = f"/customers/{overdue_customer['id']}"
    analyst = as_user(app, "analyst1", "zh")
    response = analyst.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-Hans">' in page
    assert english_left(page) == []
    text = text_of(response)
    for chinese in (
        "信用档案",
        "信用额度",
        "风险敞口",
        "额度使用率",
        "逾期",
        "未结发票",
        "未结金额",  # the open amount's column, not 在册 (the watchlist's "open") (R22-3)
        "截至今日的账龄",
        "31–60 天",
        "催收案件",
        "催收级别",
        "法律处置结果与核销",
        "争议与贷项通知单",
        "额度变更记录",
        "抵押物及担保",
        "最近的信用检查",
        "订单",
        "没有争议。",
        "没有贷项通知单。",
    ):
        assert chinese in text, chinese
    assert "Slowpay Trading" in text and "INV-1" in text  # the data stays as stored
    assert "Credit file" not in text and "Dunning cases" not in text

    english = text_of(as_user(app, "manager1", "en").get(path))
    for phrase in (
        "Credit file",
        "Credit limit",
        "Open invoices",
        "31–60 days",
        "Dunning cases",
        "No disputes.",
    ):
        assert phrase in english, phrase
    assert "信用档案" not in english and "催收案件" not in english


def test_a_zh_credit_manager_lifts_a_block_in_chinese(app: Flask, demo_tokens: dict[str, str]) -> None:
    customer = _blocked_customer(app)
    path = f"/customers/{customer}"
    manager = as_user(app, "manager1", "zh")
    page = manager.get(path).get_data(as_text=True)
    name = "Blocked Trading Ltd"  # the customer's stored name: in <title>, which can mark nothing as data
    assert english_left(page, data=[name]) == []
    assert "为何解除信用冻结？" in page and "解除信用冻结" in page and "复核信用额度" in page
    empty = manager.post(f"{path}/unblock", data={"csrf_token": csrf_token(manager, path), "reason": " "})
    assert empty.status_code == 422
    refused = empty.get_data(as_text=True)
    assert (
        "请说明解除冻结的原因（1 至 1000 个字符）。" in refused and english_left(refused, data=[name]) == []
    )
    lifted = manager.post(
        f"{path}/unblock", data={"csrf_token": csrf_token(manager, path), "reason": "已全额付清。"}
    )
    assert lifted.status_code == 302
    assert english_left(manager.get(path).get_data(as_text=True), data=[name]) == []
