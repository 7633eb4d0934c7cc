"""A credit application's review task in Chinese (issue 20, must-show 1): besides the catalogue's sentences
(tests/webui/test_language.py), the parts of the task page that show data our diagrams and handlers wrote
speak Chinese too: the instructions (the scorecard's name, money as a zh reader writes it), the case data
table (a label for every key we write, our handlers' sentences and coded values said), and the history's
task column (the element's name_zh, not its id). English pages read the same labels in English and keep our
stored sentences as stored."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask

from tests.webui.test_customer_pages import open_task, overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_language import as_user, switch
from webui.case_labels import LABELS

pytestmark = pytest.mark.usefixtures("shipped")

# An id as our code writes it (annual_revenue, score_customer, credit.propose_limit): no reader's word.
SNAKE = re.compile(r"(?<![\w@.-])[a-z]+(?:[_.][a-z]+)+(?![\w@-])")


class _Regions(HTMLParser):
    """The text of every element, by class: `.instructions`, the case-data table `.kv`, the history
    table's task column and its detail lines (`small`); and `all`, the page's text without scripts and
    without the values marked as stored (`data-value`: what people typed, a case's start data)."""

    HIDDEN = frozenset({"script", "style", "template"})
    VOID = frozenset({"input", "br", "meta", "link", "img", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, list[str]] = {
            "instructions": [],
            "kv": [],
            "task-column": [],
            "small": [],
            "all": [],
        }
        self.stack: list[tuple[str, set[str]]] = []
        self.cells = 0  # the cell index in a history row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag == "small":
            classes.add("small")
        if "data-value" in values:
            classes.add("data-value")
        if tag == "tr":
            self.cells = 0
        if tag == "td" and any("history" in c for _, c in self.stack):
            self.cells += 1
            if self.cells == 4:
                classes.add("task-column")
        self.stack.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if any(tag in self.HIDDEN or "data-value" in classes for tag, classes in self.stack):
            return
        self.texts["all"].append(data)
        for region in ("instructions", "kv", "task-column", "small"):
            if any(region in classes for _, classes in self.stack):
                self.texts[region].append(data)


def regions(page: str) -> dict[str, str]:
    parser = _Regions()
    parser.feed(page)
    return {name: " ".join(" ".join(parts).split()) for name, parts in parser.texts.items()}


def test_a_zh_analyst_reads_the_review_task_s_data_instructions_and_history_in_chinese(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    analyst = as_user(app, "analyst1", "zh")
    page = analyst.get(f"/tasks/{task_id}").get_data(as_text=True)
    text = regions(page)
    # No id of ours anywhere a reader looks: keys, element ids, operation names.
    assert SNAKE.findall(text["all"]) == []
    for key in LABELS:
        assert not re.search(rf"(?<![\w@.-]){key}(?![\w@-])", text["all"]), key  # not in an e-mail address
    # The instructions: the scorecard by its Chinese name, amounts as a zh reader writes euros.
    instructions = text["instructions"]
    assert "通用评分卡" in instructions and "额度公式建议 €200,000.00" in instructions
    assert "default" not in instructions and "EUR" not in instructions
    # The case data: every key labelled, the handler's basis and the scorecard said in Chinese.
    kv = text["kv"]
    assert "年营业收入" in kv and "额度建议" in kv and "评分因子" in kv and "缺失资料 财务比率" in kv
    assert "建议依据 按公式计算，以申请额度为上限" in kv and "评分卡 通用评分卡" in kv
    assert "the formula" not in kv and "financial_ratios" not in kv
    assert re.search(r"行业 \S*制造", kv)  # the customer's industry as the customer page says it
    # The history names the service tasks as the diagram does in Chinese; the id stays in data-element.
    assert "客户信用评分" in text["task-column"] and "调取信用档案" in text["task-column"]
    assert 'data-element="score_customer"' in page and 'data-key="annual_revenue"' in page
    # The history's details: keys labelled, statuses, groups and the process said; ids kept as stored values.
    details = text["small"]
    assert "派发给：信用分析师" in details and "审批人：" in details and "原额度：" in details, details
    assert "状态：运行中" in details and "流程：信用额度申请" in details, details
    # A service call's operation id is left out (R21's F-6): the task column names the service task.
    assert "credit.score" not in page and "服务操作" not in details

    switch(analyst, "en", f"/tasks/{task_id}")
    english = regions(analyst.get(f"/tasks/{task_id}").get_data(as_text=True))
    # English reads the same labels in English (keys stay in data-key); our stored sentences as stored.
    kv = english["kv"]
    assert "Annual revenue €50,000,000.00" in kv and "Missing data Financial ratios" in kv, kv
    assert "Basis of the proposal the formula, at most the request" in kv
    assert "Scorecard general scorecard" in kv
    # The service tasks by their English names, not their element ids (R21's F-11).
    assert 'data-key="annual_revenue"' in page and "Score customer" in english["task-column"]
    assert "score_customer" not in english["task-column"]
    assert SNAKE.findall(kv) == [] and "general scorecard" in english["instructions"]
    details = english["small"]
    assert "customer number: 1 · old limit: €10,000.00" in details and "offered to: Credit analyst" in details
    assert "score valid until: 2 Jun 2026" in details and "customer_id" not in details, details
    assert "年营业收入" not in english["all"]


def test_our_handlers_sentences_and_unknown_keys_in_a_zh_page(app: Flask) -> None:
    from webui.case_labels import data_label, data_list, data_value

    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert data_label("current_limit") == "当前额度" and data_label("a_key_of_yours") == "a_key_of_yours"
        assert data_list(["financial_ratios", "annual_revenue"]) == "财务比率、年营业收入"
        assert data_list(["financial_ratios", "something_else"]) is None and data_list("text") is None
        said = {
            "current limit kept: annual_revenue missing, an analyst decides": "（缺少：年营业收入）",
            "no increase on a scheduled review": "不上调额度",
            "missing on the credit file: annual_revenue, financial_ratios": "缺少：年营业收入、财务比率",
            "an increase": "上调额度",
            "a fall of 2 grades": "信用等级下调 2 级",
        }
        for stored, chinese in said.items():
            key = "why" if stored.startswith(("missing", "an ", "a fall")) else "basis"
            assert chinese in data_value(key, stored, stored), stored
        # A sentence we did not write, or under another key, is shown as stored.
        assert data_value("basis", "set by hand", "set by hand") == "set by hand"
        assert data_value("comment", "an increase", "an increase") == "an increase"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert data_label("current_limit") == "Current limit"
        assert data_label("a_key_of_yours") == "a_key_of_yours"
        assert data_label("decision") == "Decision"  # a shipped form's own English title
        assert data_value("basis", "the formula", "the formula") == "the formula"
        assert data_list(["financial_ratios", "annual_revenue"]) == "Financial ratios, Annual revenue"
        assert data_value("scorecard", "default", "default") == "general scorecard"


# What handlers/limit_decision.py (basis), handlers/limit_review.py (why) and the review sweep (reason)
# store, and what a limit review's zh instructions say for each (bpmn/credit_limit_review.bpmn).
REVIEW_CASES = [
    (
        "scheduled",
        "missing on the credit file: annual_revenue, financial_ratios",
        "定期复核",
        "信用档案缺少营业收入、财务比率",
    ),
    ("overdue", "a fall of 2 grades", "发票逾期", "信用等级下调 2 级"),
    ("top_exposure", "an increase", "大额风险敞口客户", "拟上调额度"),
]
BASES = [
    ("current limit kept: annual_revenue missing, an analyst decides", "资料不全，维持当前额度"),
    ("no increase on a dunning review: the customer is in dunning", "客户处于催收中，本次复核不上调额度"),
    ("no increase on a overdue review: the customer is in overdue", "客户有逾期发票，本次复核不上调额度"),
    ("no increase on a rating_change review", "本次复核的触发原因不允许上调额度"),
    ("the formula", "（按公式计算）"),
]


def test_a_limit_review_s_zh_instructions_say_the_trigger_the_reason_and_the_basis_in_chinese() -> None:
    import html

    from workflows.engine.task_texts import render_instructions, renders_in_process

    with open("bpmn/credit_limit_review.bpmn", encoding="utf-8") as diagram:
        texts = re.findall(r'name="instructions_zh" value="([^"]*)"', diagram.read())
    review = html.unescape(next(text for text in texts if text.startswith("触发原因：")))
    assert renders_in_process(review)  # plain comparisons only: no script worker per task
    for (reason, why, trigger, said), (basis, basis_said) in zip(REVIEW_CASES * 2, BASES, strict=False):
        data = {
            "reason": reason,
            "assessment": {"why": why, "grade_drop": 2},
            "proposal": {"basis": basis, "missing_data": ["annual_revenue", "financial_ratios"]},
            "scoring": {"score": 40, "scorecard": "construction"},
            "credit_file": {"customer_currency": "CNY", "current_limit": "10000"},
        }
        text = render_instructions(review, data, language="zh")
        assert f"触发原因：{trigger}（须人工决策：{said}）" in text and basis_said in text, text
        assert "建筑业评分卡" in text and "¥10,000.00" in text
        assert not re.search(r"[A-Za-z]{3}", text), text
