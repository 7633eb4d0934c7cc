"""Chinese clauses joined by ； keep one stop (R22 P-2): a typed note that ends in 。 ("不同意，继续催收。")
followed by our ； read "继续催收。；" in the legal case file's history. The joining code drops a part's own
closing 。 before the ； (workflows.languages.clauses_joined): in the case file (mail and PDF), a history
row's start data and a contract change's summary on the pages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask

from webui.history_details import history_detail
from webui.instruction_sentences import change_summary
from workflows.credit import roles
from workflows.languages import clauses_joined
from workflows.mail.case_history import event_detail

NOTE = "不同意，继续催收。"


def test_a_closing_stop_is_dropped_before_the_chinese_semicolon_only() -> None:
    assert clauses_joined([NOTE, "金额：¥1.00"], "；") == "不同意，继续催收；金额：¥1.00"
    assert clauses_joined(["甲。", "乙；", "丙。"], "；") == "甲；乙；丙。"  # the last part keeps its own
    # A question keeps its mark and ends the sentence: no ； after it; in English the next part is a sentence.
    assert clauses_joined(["它怎么了？", "丙"], "；") == "它怎么了？丙"
    assert clauses_joined(["credit_hold?", "add the file"], "; ") == "credit_hold? Add the file"
    # English joins are left alone: a part may end in an abbreviation ("Acme Co.").
    assert clauses_joined(["sold to Acme Co.", "amount: €1.00"], "; ") == "sold to Acme Co.; amount: €1.00"
    assert clauses_joined([], "；") == ""


def test_the_case_file_history_says_a_typed_note_with_one_stop() -> None:
    detail = {"comment": NOTE, "promised_amount": "1200.50"}
    said = event_detail(detail, "zh", lambda amount: f"¥{Decimal(amount):,.2f}")
    assert said.startswith("备注：不同意，继续催收；"), said
    assert "。；" not in said and said.endswith("¥1,200.50"), said
    last = event_detail({"promised_amount": "1.00", "comment": NOTE}, "zh", lambda amount: f"¥{amount}")
    assert last.endswith("备注：不同意，继续催收。"), last  # nothing follows it: its stop stays


@pytest.mark.usefixtures("shipped")
def test_the_pages_join_typed_values_with_one_stop(app: Flask) -> None:
    with app.test_request_context("/instances/1", headers={"Accept-Language": "zh"}):
        marked = str(history_detail({"after": {"data": {"comment": NOTE, "reason": "客户拒付"}}}))
        assert '<span data-value="">不同意，继续催收</span>；' in marked, marked  # the mark kept whole
        started = re.sub(r"<[^>]+>", "", marked)
        assert "不同意，继续催收；原因" in started and "。；" not in started, started
        request = {
            "summary": "price: EUR 900 per tonne -> EUR 850 per tonne。; delivery: - -> 次月交货",
            "changes": {"price": "每吨 850 欧元。", "delivery": "次月交货"},
            "current": {"price": "每吨 900 欧元"},
        }
        summary = change_summary(request, roles.SUPPLIER_CONTRACT_CHANGE)
        assert "每吨 850 欧元；" in summary and "。；" not in summary, summary
