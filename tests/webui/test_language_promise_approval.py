"""A promise to pay outside the limits, read by the credit manager who approves it (issue 20, R21's F-1, F-2).

The approver's inbox subject wrote the promised day ISO ("承诺于 2026-05-01 前付款"), the task's instructions
printed the broken limits as the English sentences the handler stored ("the date is 35 days ahead, more than
30；CN¥20,000.00 is less than 25 % of …" on a Chinese page), and the customer page re-said those sentences
around amounts stored the English way ("CN¥20,000.00" in Chinese). The limits are now stored as codes with
their figures and said by each reader; days in subjects go through `day(...)`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.dunning_promises import MAX_DAYS_AHEAD
from tests.bpmn.test_dunning_languages import post_invoice
from tests.bpmn.test_dunning_policy import walk_to
from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_language import as_user, english_left, visible
from tests.webui.test_pages import deploy_credit_hold, start_hold
from webui import stored_sentences
from workflows.credit.promise_limits import count_limit, date_limit, limits_said, share_limit
from workflows.engine.script_days import day, day_zh
from workflows.engine.script_money import money
from workflows.engine.task_texts import render_instructions, renders_in_process
from workflows.mail.case_history import event_detail, event_name
from workflows.mail.templates import format_when_for

pytestmark = pytest.mark.usefixtures("shipped")

CHINESE_NAME = "上海精密零件有限公司"
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _promise_outside_the_limits(desk: Collections) -> tuple[int, date, dict[str, Any]]:
    """The Chinese demo customer owes CNY 120,000.00; on the reminder's day the collector records a promise of
    20,000.00 (less than 25 %) 35 days ahead (more than 30): two limits broken, the credit manager decides."""
    customer = desk.customer(CHINESE_NAME, email="ar@sh-precision.example", currency="CNY", language="zh")
    post_invoice(desk, customer, "SH-1", "120000.00", "CNY")
    walk_to(desk, 3)
    promised = desk.clock.now.date() + timedelta(days=35)
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": promised.isoformat(), "amount": "20000.00"},
    }
    response = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    assert response.status_code == 200 and response.json["delivered_to"], response.json
    [task] = [t for t in desk.open_tasks("manager1") if t["name"] == "approve_promise"]
    return customer, promised, task


def test_a_zh_approver_reads_the_promise_task_inbox_and_customer_page_in_chinese(
    app: Flask, desk: Collections
) -> None:
    customer, promised, task = _promise_outside_the_limits(desk)
    reader = as_user(app, "manager1", "zh")
    shown_day = format_when_for(promised, language="zh")
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", shown_day), shown_day

    inbox_page = reader.get("/inbox").get_data(as_text=True)
    assert english_left(inbox_page, [CHINESE_NAME]) == []
    inbox = visible(inbox_page)
    assert f"{CHINESE_NAME}：承诺于 {shown_day} 前付款 ¥20,000.00" in inbox, inbox
    assert promised.isoformat() not in inbox

    page = reader.get(f"/tasks/{task['id']}").get_data(as_text=True)
    text = visible(page)
    limits = (
        "超出付款承诺的限制：承诺付款日在 35 天之后，超过上限 30 天；"
        "承诺金额 ¥20,000.00 低于逾期金额 ¥120,000.00 的 25%（¥30,000.00）。"
    )
    assert limits in text, text
    assert f"于 {shown_day} 前支付 ¥20,000.00" in text, text
    assert "CN¥" not in text and promised.isoformat() not in text, text
    assert english_left(page, [CHINESE_NAME, "SH-1", "ar@sh-precision.example"]) == []

    customer_page = reader.get(f"/customers/{customer}").get_data(as_text=True)
    customer_text = visible(customer_page)
    said = limits.removeprefix("超出付款承诺的限制：").removesuffix("。")
    # The promises table and the dunning timeline's "promise outside policy" event say the limits alike.
    assert customer_text.count(said) == 2, customer_text
    assert "CN¥" not in customer_text, customer_text
    assert english_left(customer_page, [CHINESE_NAME, "SH-1", "ar@sh-precision.example"]) == []


def test_an_en_approver_reads_the_same_promise_in_english(app: Flask, desk: Collections) -> None:
    customer, promised, task = _promise_outside_the_limits(desk)
    reader = as_user(app, "manager1", "en")
    shown_day = format_when_for(promised, language="en")
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}", shown_day), shown_day

    inbox = visible(reader.get("/inbox").get_data(as_text=True))
    assert f"{CHINESE_NAME}: promise of CN¥20,000.00 by {shown_day}" in inbox, inbox

    text = visible(reader.get(f"/tasks/{task['id']}").get_data(as_text=True))
    limits = (
        "outside the promise limits: the date is 35 days ahead, more than 30; "
        "CN¥20,000.00 is less than 25 % of the CN¥120,000.00 overdue (CN¥30,000.00)."
    )
    assert limits in text, text
    assert promised.isoformat() not in text
    # Our words are English (the customer's name and the header's switch to 中文 are not ours to say).
    assert not CJK.search(text.replace(CHINESE_NAME, "").replace("中文", "")), text

    customer_text = visible(reader.get(f"/customers/{customer}").get_data(as_text=True))
    assert customer_text.count("CN¥20,000.00 is less than 25 % of the CN¥120,000.00 overdue") == 2

    # The API gives the limits as the English sentences it gave when they were stored as such.
    cases = desk.client.get(
        f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["manager1"])
    )
    [promise] = cases.json["items"][0]["promises"]
    assert promise["outside"] == [
        "the date is 35 days ahead, more than 30",
        "CN¥20,000.00 is less than 25 % of the CN¥120,000.00 overdue (CN¥30,000.00)",
    ]


LIMITS = [
    date_limit(35, 30),
    share_limit(Decimal("20000.00"), Decimal("25"), Decimal("120000.00"), Decimal("30000.00"), "CNY"),
    count_limit(2, 2),
]


def test_a_diagram_deployed_before_the_codes_joins_them_as_sentences_in_its_text_s_language() -> None:
    """An instance of an older dunning version that records a promise now gets the codes; its instructions
    template still says `promise_record.outside | join('；')`, and reads sentences, not dicts."""
    data = {"promise_record": {"outside": LIMITS}}
    template = "{{ promise_record.outside | join('；') }}"
    assert renders_in_process(template)
    zh = render_instructions(template, data, language="zh")
    assert zh == limits_said(LIMITS, "zh")
    assert zh.startswith("承诺付款日在 35 天之后，超过上限 30 天；承诺金额 ¥20,000.00") and "{" not in zh
    en = render_instructions("{{ promise_record.outside | join('; ') }}", data, language="en")
    assert en.endswith("the case holds 2 open or broken promises already, at most 2")
    # An English sentence stored before the codes, or an odd value, is joined as stored.
    old = ["the date is 45 days ahead, more than 30", "{'x': 1}"]
    said = render_instructions("{{ o | promise_limits }}", {"o": old}, language="zh")
    assert said == "the date is 45 days ahead, more than 30；{'x': 1}"


def test_subjects_write_days_as_their_reader_does() -> None:
    assert (day("2026-05-01"), day_zh("2026-05-01")) == ("1 May 2026", "2026年5月1日")
    assert day_zh(date(2026, 5, 1)) == "2026年5月1日"
    assert (day(None), day_zh("not a day"), day(7)) == ("", "not a day", "7")
    assert day_zh("0001-01-01T00:00:00+14:00") == "0001-01-01T00:00:00+14:00"  # shown as typed
    # A helper passed by mistake shows nothing, not "<function day at 0x7f…>" (attack A24).
    assert (day(day), day_zh(money), money(money), money(1, money)) == ("", "", "-", "-")


def test_the_legal_case_file_names_promise_events_and_says_the_limits_in_the_lawyer_s_language() -> None:
    """R22-1: a zh case file read '付款承诺：outside_policy' and the English limit sentences."""
    assert event_name("promise_outside_policy", "zh") == "付款承诺超出限制，提交信用经理审批"
    assert event_name("promise_to_pay", "zh") == "登记付款承诺"
    assert event_name("promise_approved", "zh") == "信用经理批准付款承诺"
    assert event_name("promise_to_pay", "en") == "Promise to pay recorded"
    assert event_name("promise_broken", "zh") == "付款承诺：未履行"  # a verdict: the promise's status

    def money(amount: Decimal) -> str:
        return f"¥{amount:,.2f}"

    zh = event_detail({"promise_id": 1, "outside": LIMITS}, "zh", money)
    assert "承诺付款日在 35 天之后，超过上限 30 天；承诺金额 ¥20,000.00 低于逾期金额 ¥120,000.00" in zh, zh
    assert "CN¥" not in zh and "limit" not in zh
    en = event_detail({"outside": LIMITS[:1]}, "en", money)
    assert en == "outside the policy: the date is 35 days ahead, more than 30"
    # A case file of a case whose promise was recorded before the codes: the sentences as stored.
    old = event_detail({"outside": ["the date is 45 days ahead, more than 30"]}, "zh", money)
    assert old.endswith("the date is 45 days ahead, more than 30")


def test_a_promise_beyond_five_years_is_refused_in_the_reader_s_language(desk: Collections) -> None:
    """Attack A24: a promise for 31 Dec 9999, once approved, overflowed the review's 'promised date plus
    grace' and stopped the case's dunning for good. A promise is at most MAX_DAYS_AHEAD ahead (a 422)."""
    customer = desk.customer("Far Promiser")
    desk.invoice(customer, "INV-F1", "4000.00")
    walk_to(desk, 3)
    today = desk.clock.now.date()

    def promised(day: date, language: str) -> Any:
        message = {
            "name": "promise_to_pay",
            "correlation_key": str(customer),
            "data": {"promised_date": day.isoformat(), "amount": "100.00"},
        }
        headers = auth(desk.tokens["collector1"]) | {"Accept-Language": language}
        return desk.client.post("/api/messages", json=message, headers=headers)

    far = promised(date(9999, 12, 31), "zh")
    assert far.status_code == 422, far.json
    assert "承诺付款日最晚只能在 1,830 天之后，不能是 9999年12月31日" in far.json["error"]["message"]
    beyond = promised(today + timedelta(days=MAX_DAYS_AHEAD + 1), "en")
    assert beyond.status_code == 422 and "at most 1,830 days ahead" in beyond.json["error"]["message"]
    assert desk.case(customer)["promises"] == []  # nothing recorded
    at_most = promised(today + timedelta(days=MAX_DAYS_AHEAD), "en")
    assert at_most.status_code == 200 and at_most.json["delivered_to"], at_most.json  # outside the limits


def test_a_long_typed_outside_list_is_not_searched_item_by_item(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As attack A24 found for `basis`: an `outside` list a starter typed (300 near-sentences) was tried
    against every catalogue msgid item by item on a zh page. Only the first few items holding a limit
    sentence's words are, and the rest are shown as typed."""
    deploy_credit_hold(client, demo_tokens)
    near = "the date is x days ahead, more than x; " * 7
    started = start_hold(client, demo_tokens["sales1"], outside=[f"{near}#{n}" for n in range(300)])
    searched: list[str] = []
    recognised = stored_sentences._recognised

    def counted(sentence: str, depth: int, source: Any = None) -> Any:
        if depth == 0:
            searched.append(sentence)
        return recognised(sentence, depth, source)

    monkeypatch.setattr(stored_sentences, "_recognised", counted)
    page = as_user(app, "auditor1", "zh").get(f"/instances/{started['id']}")
    assert page.status_code == 200
    assert f"{near}#299" in visible(page.get_data(as_text=True))
    # At most 3 items each time the page says the list (the case data table asks twice, the start data of
    # the history again): 18 searches, where it was 300 per time.
    assert len(searched) <= 18, len(searched)
