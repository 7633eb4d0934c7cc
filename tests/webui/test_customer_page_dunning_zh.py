"""The customer page of a dunned customer in Chinese (issue 20, R21's F-2/F-3): a promise's broken
limits, the dunning timeline's events and the people (the system's own steps as 系统) read in the reader's
language."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.bpmn.test_dunning_policy import on, promise, walk_to
from tests.collections_desk import Collections
from tests.webui.test_language import as_user, english_left, visible

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_promise_outside_the_limits_and_the_system_s_steps_read_in_chinese(
    app: Flask, desk: Collections
) -> None:
    customer = desk.customer("Slow Promiser")
    desk.invoice(customer, "INV-S1", "4000.00")
    walk_to(desk, 3)
    # 45 days ahead (at most 30) and 100.00 of 4,000.00 overdue (at least 25 %): outside two limits.
    assert promise(desk, customer, on(3 + 45), "100.00").json["delivered_to"]
    zh_page = as_user(app, "manager1", "zh").get(f"/customers/{customer}").get_data(as_text=True)
    text = visible(zh_page)
    assert "承诺付款日在 45 天之后，超过上限 30 天；" in text, text
    assert re.search(r"承诺金额 €100\.00 低于逾期金额 €4,000\.00 的 25%（€1,000\.00）", text), text
    assert "催收案件已立案 · 系统" in text and " system" not in text, text
    assert "立案日期" in text and "列入日期" not in text  # a case is opened (立案), not listed (R22-3)
    assert english_left(zh_page, ["Slow Promiser", "INV-S1"]) == []
    en_page = as_user(app, "manager1", "en").get(f"/customers/{customer}").get_data(as_text=True)
    en_text = visible(en_page)
    assert "€100.00 is less than 25 % of the €4,000.00 overdue (€1,000.00)" in en_text, en_text
