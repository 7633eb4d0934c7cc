"""`money(amount, currency)` in subjects and the `money` filter in instructions write amounts as the text's
language does (issue 20): CLDR for the reader, "CN¥1,200,000.00" in English, "¥1,200,000.00" in Chinese, in
the server and in the script worker alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.engine.test_script_budgets import NoWorker
from workflows.engine.sandbox import SafeEnvironment
from workflows.engine.script_money import MONEY_BY_LANGUAGE, money, money_zh
from workflows.engine.task_texts import render_instructions, render_subject

DATA = {"customer": "Slowpay Trading", "requested_limit": 200000, "currency": "CNY"}


@pytest.mark.parametrize(
    ("amount", "currency", "english", "chinese"),
    [
        (200000, "EUR", "€200,000.00", "€200,000.00"),
        (Decimal("1200000.00"), "CNY", "CN¥1,200,000.00", "¥1,200,000.00"),
        ("25650.5", "gbp", "£25,650.50", "£25,650.50"),
        (-5, "USD", "-$5.00", "-US$5.00"),
        (1234.5, None, "1,234.50", "1,234.50"),
        (None, "EUR", "-", "-"),
        ("n/a", "EUR", "n/a", "n/a"),  # no amount: shown as it is, never a failing subject
        (Decimal("1e5000"), "EUR", "1E+5000 EUR", "1E+5000 EUR"),  # not 5,000 grouped digits
    ],
)
def test_money_writes_an_amount_as_each_language_does(
    amount: Any, currency: Any, english: str, chinese: str
) -> None:
    assert (money(amount, currency), money_zh(amount, currency)) == (english, chinese)


def test_a_subject_expression_calls_money_in_the_server_and_the_zh_one_when_handed_it() -> None:
    expression = 'customer + ", " + money(requested_limit, currency)'
    server = SafeEnvironment(pool=NoWorker())
    assert server.evaluate(expression, DATA) == "Slowpay Trading, CN¥200,000.00"
    zh = {"money": MONEY_BY_LANGUAGE["zh"]}
    assert server.evaluate(expression, DATA, zh) == "Slowpay Trading, ¥200,000.00"
    # Task data named `money` wins over the helper, as with every helper.
    assert server.evaluate("money", {"money": 5}, zh) == 5


def test_a_subject_in_the_script_worker_gets_the_same_money() -> None:
    # A comprehension sends the expression to the worker; the zh helper travels there by reference.
    expression = '"，".join([money(requested_limit, currency) for _ in range(2)])'
    worker = SafeEnvironment()
    assert worker.evaluate(expression, DATA) == "CN¥200,000.00，CN¥200,000.00"
    assert worker.evaluate(expression, DATA, {"money": MONEY_BY_LANGUAGE["zh"]}) == "¥200,000.00，¥200,000.00"


def test_the_instructions_money_filter_follows_the_language_of_the_text() -> None:
    simple = "额度 {{ requested_limit | money(currency) }}"
    assert render_instructions(simple, DATA, NoWorker(), language="zh") == "额度 ¥200,000.00"
    assert render_instructions(simple, DATA, NoWorker()) == "额度 CN¥200,000.00"
    # The filter's old keywords still choose (diagrams deployed before it followed the language).
    zh_locale = "{{ requested_limit | money(currency, locale='zh_Hans') }}"
    assert render_instructions(zh_locale, DATA) == "¥200,000.00"
    assert render_instructions("{{ none | money(empty='') }}", {"none": None}, language="zh") == ""
    looped = "{% for x in [requested_limit] %}{{ x | money(currency) }}{% endfor %}"  # the worker renders it
    assert render_instructions(looped, DATA, language="zh") == "¥200,000.00"
    assert render_instructions(looped, DATA) == "CN¥200,000.00"


def test_a_task_without_a_subject_expression_names_its_amount_as_money_writes_it() -> None:
    # engine.step falls back to render_subject: the name and the first well-known amount of the task data.
    data = {"customer_name": "Slowpay Trading", "requested_limit": "1200000", "currency": "CNY"}
    assert render_subject(data, "B-1") == "Slowpay Trading · CN¥1,200,000.00"
    assert render_subject({"amount": 1234.5}, None) == "1,234.50"  # no currency: a grouped number
    assert render_subject({"amount": "n/a", "currency": "EUR"}, None) == "n/a"
    assert render_subject({}, "B-1") == "B-1"
