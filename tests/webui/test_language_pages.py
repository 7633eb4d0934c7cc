"""The credit desk's pages in the user's language (issue 20): collections (worklist and a case), the
watchlist, the portfolio and the provisions. A zh user sees no English string of the catalogue on them;
the header's switch brings the English words back and no Chinese stays (the switch names 中文 in Chinese)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from tests.collections_desk import Collections
from tests.credit.test_aging_history import make_book
from tests.webui.test_dashboard_pages import post_snapshots
from tests.webui.test_language import english_left, switch, visible
from tests.webui.test_pages import csrf_token, logged_in, text_of
from tests.webui.test_watchlist_pages import flagged_book
from webui.collection_labels import next_action_text
from workflows.credit.collection_next import NextAction, Source
from workflows.credit.models import DunningCase

pytestmark = pytest.mark.usefixtures("shipped")

HAN = re.compile(r"[\u4e00-\u9fff]")


def chinese_left(page: str) -> list[str]:
    """Chinese words still on an English page, but the language switch's own name for Chinese."""
    return sorted({word for word in re.findall(r"[\u4e00-\u9fff]+", visible(page)) if word != "中文"})


def read_in_chinese(client: FlaskClient, *paths: str, names: tuple[str, ...] = ()) -> dict[str, str]:
    """Each page as text, after checking it is Chinese through and through (`names`: data, such as customer
    names, that happen to spell a msgid)."""
    texts = {}
    for path in paths:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert '<html lang="zh-Hans">' in page, path
        left = [word for word in english_left(page) if word not in names]
        assert left == [], (path, left, visible(page))
        texts[path] = visible(page)
    return texts


def read_in_english(client: FlaskClient, *paths: str) -> dict[str, str]:
    texts = {}
    for path in paths:
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and '<html lang="en">' in page, path
        assert chinese_left(page) == [], path
        texts[path] = visible(page)
    return texts


def test_a_zh_collector_works_the_worklist_and_a_case_in_chinese_and_the_switch_brings_english_back(
    desk: Collections, app: Flask
) -> None:
    customer = desk.customer("Langcase GmbH")
    desk.invoice(customer, "LC-1", "750.00")
    for _ in range(5):
        desk.tick()
    case_id = desk.case(customer)["id"]
    collector = logged_in(app, "collector1")
    switch(collector, "zh", "/collections")
    paths = ("/collections", "/collections?due=all", f"/collections/{case_id}")
    zh = read_in_chinese(collector, *paths)
    assert "优先级" in zh["/collections"] and "下一步行动" in zh["/collections"]
    assert "下一催收步骤：第 2 级" in zh["/collections"]  # the ladder's next step, said in Chinese
    assert "€750.00" in zh["/collections"] and "Langcase GmbH" in zh["/collections"]
    assert "登记联系记录" in zh[f"/collections/{case_id}"] and "承诺付款日" in zh[f"/collections/{case_id}"]
    # A date in the past: the form comes back with the field's error in Chinese.
    past = (desk.clock.now.date() - timedelta(days=1)).isoformat()
    refused = collector.post(
        f"/collections/{case_id}/contacts",
        data={
            "csrf_token": csrf_token(collector, f"/collections/{case_id}"),
            "kind": "call",
            "outcome": "reached",
            "next_action_date": past,
        },
    )
    day = date.fromisoformat(past)  # the refusal writes the day as the page does
    said = f"{day.year}年{day.month}月{day.day}日 已是过去的日期"
    assert refused.status_code == 422 and said in visible(refused.get_data(as_text=True))
    # A promise logged on the form: the flash, the contact and the promise in Chinese.
    promised = desk.clock.now.date() + timedelta(days=7)
    logged = collector.post(
        f"/collections/{case_id}/contacts",
        data={
            "csrf_token": csrf_token(collector, f"/collections/{case_id}"),
            "kind": "call",
            "outcome": "promise",
            "promised_date": promised.isoformat(),
            "promised_amount": "750.00",
        },
    )
    assert logged.status_code == 302
    case_page = read_in_chinese(collector, f"/collections/{case_id}")[f"/collections/{case_id}"]
    assert f"已为案件 {case_id} 登记联系记录" in case_page or "联系" in case_page
    assert "电话" in case_page and "承诺付款" in case_page and "€750.00" in case_page
    # The promise's day and the working group as a Chinese reader writes them (R22-7, R22-8).
    zh_day = f"{promised.year}年{promised.month}月{promised.day}日"
    assert zh_day in case_page and promised.isoformat() not in case_page, case_page
    assert "经办组 催收专员" in case_page or "经办组：催收专员" in case_page, case_page
    listed = read_in_chinese(collector, "/collections?due=all")["/collections?due=all"]
    assert "电话: 承诺付款" in listed or "电话：承诺付款" in listed

    switch(collector, "en", "/collections")
    en = read_in_english(collector, *paths)
    assert "Priority" in en["/collections?due=all"] and "call: promise" in en["/collections?due=all"]
    assert "Log a contact" in en[f"/collections/{case_id}"] and "€750.00" in en[f"/collections/{case_id}"]
    assert f"{promised.day} {promised:%b} {promised.year}" in en[f"/collections/{case_id}"]
    assert promised.isoformat() not in en[f"/collections/{case_id}"]


def test_the_ladder_s_sentences_are_said_in_the_page_s_language_and_a_collector_s_words_stay(
    app: Flask,
) -> None:
    case = DunningCase(level=1)
    ladder = NextAction(
        "Next dunning step: level 2, second reminder with fee", date(2027, 1, 14), Source.LADDER
    )
    mixed = NextAction(
        "ring back (Next dunning step: level 2, second reminder with fee)", None, Source.LADDER
    )
    own = NextAction("ring back", date(2027, 1, 14), Source.CONTACT)
    gone = NextAction("The logged promise was lapsed: check the case", None, Source.VOID_PROMISE)
    with app.test_request_context(), force_locale("zh_Hans"):
        assert next_action_text(case, ladder) == "下一催收步骤：第 2 级，第二次催款并加收费用"
        assert next_action_text(case, mixed) == "ring back (下一催收步骤：第 2 级，第二次催款并加收费用)"
        assert next_action_text(case, own) == "ring back"
        assert next_action_text(case, gone) == "已记录的付款承诺已失效：请核查案件"
    with app.test_request_context(), force_locale("en"):
        for said in (ladder, mixed, own, gone):
            assert next_action_text(case, said) == said.text


def test_a_zh_manager_reads_the_watchlist_in_chinese_and_back_in_english(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    flagged_book(app)
    manager = logged_in(app, "manager1")
    switch(manager, "zh", "/watchlist")
    paths = (
        "/watchlist",
        "/watchlist?status=cleared",
        "/watchlist?indicator=over_limit",
        "/watchlist?status=all",
    )
    zh = read_in_chinese(manager, *paths, names=("broken", "over"))  # tests/credit/test_watchlist's customers
    assert (
        "预警名单" in zh["/watchlist"]
        and "信用冻结" in zh["/watchlist"]
        and "超出信用额度" in zh["/watchlist"]
    )
    assert "条" in zh["/watchlist"] and "在册" in zh["/watchlist"]
    # An indicator's severity and measure in Chinese punctuation (R22-11): （高；…）, never "(高; …)".
    assert re.search(r"（(高|中|低)(；[^）]+)?）", zh["/watchlist"]), zh["/watchlist"]
    assert not re.search(r"\((高|中|低)[;)]", zh["/watchlist"]), zh["/watchlist"]
    watch = visible(manager.get("/dashboard").get_data(as_text=True)).split("预警名单", 1)[1]
    assert "信用冻结" in watch and "超额度" in watch  # the dashboard's watchlist table too
    switch(manager, "en", "/watchlist")
    en = read_in_english(manager, *paths)
    assert "credit hold" in en["/watchlist"] and "Over the limit" in en["/watchlist"]
    assert "Required action" in en["/watchlist"]


def test_a_zh_cfo_reads_the_portfolio_and_the_provisions_in_chinese_and_back_in_english(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    post_snapshots(app, date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28))
    finance = logged_in(app, "cfo1")  # the CFO reads both
    switch(finance, "zh", "/portfolio")
    paths = (
        "/portfolio",
        "/portfolio?tab=key",
        "/portfolio?tab=top&top=2",
        "/portfolio?grade=E",
        "/provisions",
        "/provisions?month=2026-02-28",
        "/provisions?from=2020-01-31&to=2020-02-29",
    )
    zh = read_in_chinese(finance, *paths)
    assert (
        "客户组合" in zh["/portfolio"] and "合计（EUR" in zh["/portfolio"] and "1–30 天" in zh["/portfolio"]
    )
    assert "没有符合筛选条件且有未结应收账款的客户" in zh["/portfolio?grade=E"]
    provisions = zh["/provisions"]
    assert "坏账准备计提矩阵" in provisions and "期末余额" in provisions and "365 天以上" in provisions
    assert "未到期" in provisions and "0.5 %" in provisions
    assert "2026年2月28日 快照" in zh["/provisions?month=2026-02-28"]
    chart = finance.get("/provisions").get_data(as_text=True)
    assert "&#34;label&#34;: &#34;组合计提&#34;" in chart or "组合计提" in chart  # the chart's series
    missing = finance.get("/provisions?month=2020-01-31")
    assert missing.status_code == 404 and "2020-01-31 没有已入账的坏账准备快照" in text_of(missing)

    switch(finance, "en", "/portfolio")
    en = read_in_english(finance, *paths)
    assert "Portfolio" in en["/portfolio"] and "Total EUR" in en["/portfolio"]
    assert "Provision matrix" in en["/provisions"] and "over 365 days" in en["/provisions"]
