"""R21's review of issue 20, finding F-1b: the credit manager's approval page of every credit application
showed the history action `limit recommendation weighed` and the key `limit` in English on a zh page."""

from __future__ import annotations

from flask import Flask

from handlers.limit_weighing import RECOMMENDATION_WEIGHED
from tests.webui.test_stored_sentence_marks import _in
from webui.history_details import history_detail
from webui.i18n import action_label

WEIGHED = {
    "customer_id": 2,
    "limit": "50000",
    "currency": "CNY",
    "limit_in_base": "6400.00",
    "base_currency": "EUR",
}


def test_a_weighed_recommendation_reads_in_chinese_and_in_english(app: Flask) -> None:
    with _in(app, "zh"):
        assert action_label(RECOMMENDATION_WEIGHED) == "建议额度已按本位币折算"
        line = str(history_detail(WEIGHED))
        assert "信用额度：¥50,000.00" in line and "limit：" not in line, line
    with _in(app, "en"):
        assert action_label(RECOMMENDATION_WEIGHED) == "limit recommendation weighed"
        assert "credit limit: CN¥50,000.00" in str(history_detail(WEIGHED))
