"""The web UI in the user's language (issue 20): the user's choice (users add --language, the header's
switch), else the browser's Accept-Language, else [web] default_language; pages that are translated show
no English string from the catalogue to a zh user, and switch back to English with the switch."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import credit_hold_files
from tests.webui.test_customer_pages import open_task, overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_jobs import ticked  # noqa: F401 - a fixture
from tests.webui.test_pages import _upload_page, csrf_token, logged_in, text_of
from tests.webui.test_translations import catalogue
from webui import create_app
from workflows.money import format_money
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, User
from workflows.store.sink_tables import SinkMessage
from workflows.users import add_user

pytestmark = pytest.mark.usefixtures("shipped")

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


class _Visible(HTMLParser):
    """The text a reader sees (with title, placeholder and aria-label attributes), without what shows data
    as it is stored. Only what no reader sees is skipped by tag (script, style, template); stored values
    are skipped where the page marks them (a `data-value` attribute: case data, stored JSON, e-mail
    addresses) or are e-mail addresses. Headings, <title>, <small>, <option>, <code>, <pre>, the task's
    subject and instructions are all checked: they carry our words too (an order-status filter's options,
    a history line's keys), and the diagrams' and forms' texts are bilingual (name_zh, title_zh)."""

    HIDDEN_TAGS = frozenset({"script", "style", "template"})  # never shown as text
    VOID = frozenset({"input", "br", "meta", "link", "img", "hr", "source", "col", "wbr"})
    # An address is data wherever it stands ("ap@customer.example" holds the msgid "customer").
    EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: does it hide its text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("title", "placeholder", "aria-label"):
            if values.get(name):
                self.parts.append(self.EMAIL.sub(" ", str(values[name])))
        if tag in self.VOID:
            return
        self.stack.append(tag in self.HIDDEN_TAGS or "data-value" in values)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.parts.append(self.EMAIL.sub(" ", data))


def visible(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def english_left(page: str, data: Iterable[str] = ()) -> list[str]:
    """The catalogue's English (each msgid's text between placeholders) still on the page as a phrase.

    `data`: stored strings the caller knows the page shows as they are (a customer's name in <title>,
    which can hold no markup).
    """
    text = visible(page)
    for value in data:
        text = text.replace(value, " ")
    left = []
    for message in catalogue("zh_Hans"):
        if not message.id:
            continue
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            for piece in PLACEHOLDER.split(msgid):
                piece = piece.strip(" :·,.()“”")
                if re.search(r"[A-Za-z]{2}", piece) and re.search(
                    rf"(?<![\w-]){re.escape(piece)}(?![\w-])", text
                ):
                    left.append(piece)
    return sorted(set(left))


def as_user(app: Flask, username: str, language: str | None) -> FlaskClient:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        add_user(session, username, groups=[], now=app.extensions["creditflow"].clock(), language=language)
    return logged_in(app, username)


def switch(client: FlaskClient, language: str, back: str) -> None:
    token = csrf_token(client, back)
    response = client.post("/language", data={"language": language, "next": back, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == back


# --- the pages --------------------------------------------------------------------------------------------


def test_a_zh_user_reads_the_inbox_and_the_task_page_in_chinese_and_the_switch_brings_english_back(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    analyst = as_user(app, "analyst1", "zh")
    pages = {"/inbox": analyst.get("/inbox"), f"/tasks/{task_id}": analyst.get(f"/tasks/{task_id}")}
    for path, response in pages.items():
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert '<html lang="zh-Hans">' in page, path
        assert english_left(page) == [], path
    inbox = text_of(pages["/inbox"])
    assert "待办" in inbox and "认领" in inbox and "项待办任务" in inbox and "催收" not in inbox
    # The group filter names the groups as the lanes do, not by their ids.
    assert '<option value="credit_analyst" >信用分析师</option>' in inbox, inbox
    task = text_of(pages[f"/tasks/{task_id}"])
    # The customer panel: 信用额度 and money as a Chinese reader writes euros, dates as 2026年1月16日.
    assert "信用额度" in task and "€15,000.00" in task and "€1,200.00" in task and "2026年1月16日" in task
    assert "未结发票" in task and "逾期天数" in task and "催收案件" in task and "15,000.00 EUR" not in task
    assert "未结金额" in task and "在册" not in task  # the open amount's column (R22-3)
    assert "English" in task  # the switch names each language in that language
    assert re.search(r"\d+天后", task)  # the due date relative to now (Flask-Babel's format_timedelta)

    switch(analyst, "en", f"/tasks/{task_id}")
    for path in pages:
        page = analyst.get(path).get_data(as_text=True)
        assert '<html lang="en">' in page and "信用额度" not in page and "待办" not in page, path
    english = text_of(analyst.get(f"/tasks/{task_id}"))
    assert "Limit" in english and "€15,000.00" in english and "16 Jan 2026" in english
    assert "Open invoices" in text_of(analyst.get(f"/tasks/{task_id}"))
    assert "Nothing waits for you" in text_of(analyst.get("/inbox?process=nope"))
    switch(analyst, "zh", "/inbox?process=nope")
    assert "没有待您处理的任务" in text_of(analyst.get("/inbox?process=nope"))


def test_a_zh_user_reads_the_customer_list_in_chinese_and_the_switch_brings_english_back(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    sales = as_user(app, "sales1", "zh")
    for path in ("/customers", "/customers?q=nobody", "/customers?blocked=yes&grade=D"):
        page = sales.get(path).get_data(as_text=True)
        assert '<html lang="zh-Hans">' in page and english_left(page) == [], path
    listed = text_of(sales.get("/customers"))
    assert (
        "1 家客户" in listed
        and "额度使用率" in listed
        and "€15,000.00" in listed
        and "Slowpay Trading" in listed
    )
    assert "没有符合筛选条件的客户" in text_of(sales.get("/customers?q=nobody"))
    switch(sales, "en", "/customers")
    english = text_of(sales.get("/customers"))
    assert "1 customer" in english and "Utilisation" in english and "€15,000.00" in english
    assert "额度使用率" not in english


def test_flash_messages_of_other_pages_follow_the_user_s_language(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = as_user(app, "owner1", "zh")
    response = _upload_page(owner, credit_hold_files())
    assert response.status_code == 302
    assert "已部署 credit_hold 第 1 版。" in text_of(owner.get(response.headers["Location"]))
    switch(owner, "en", "/definitions")
    again = _upload_page(owner, credit_hold_files())
    assert "credit_hold version 1 already has this content" in text_of(owner.get(again.headers["Location"]))


def test_a_zh_user_reads_the_mail_pages_in_chinese_and_the_switch_brings_english_back(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = ("", "creditflow@example.com", "analyst1@example.com")
    mail.set_content("正文")
    mail.add_alternative("<p>正文</p>", subtype="html")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        stored = SinkMessage(
            received_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            mail_from="creditflow@example.com",
            rcpt_to="analyst1@example.com",
            subject="",
            message_id="<zh1@example.com>",
            raw=mail.as_string(),
        )
        session.add(stored)
        session.flush()
        message_id = stored.id
    analyst = as_user(app, "analyst1", "zh")
    for path in ("/mail", f"/mail/{message_id}"):
        page = analyst.get(path).get_data(as_text=True)
        assert '<html lang="zh-Hans">' in page and english_left(page) == [], path
    assert "（无主题）" in text_of(analyst.get("/mail")) and "收件人" in text_of(
        analyst.get(f"/mail/{message_id}")
    )
    switch(analyst, "en", "/mail")
    assert "(no subject)" in text_of(analyst.get("/mail")) and "Plain text" in text_of(
        analyst.get(f"/mail/{message_id}")
    )


def test_a_zh_user_reads_the_instance_list_and_the_start_page_in_chinese_and_back_in_english(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    sales = as_user(app, "sales1", "zh")
    paths = ("/instances", "/instances?status=running", "/instances?status=completed", "/start")
    for path in paths:
        page = sales.get(path).get_data(as_text=True)
        assert '<html lang="zh-Hans">' in page and english_left(page) == [], path
    listed = text_of(sales.get("/instances?status=running"))
    assert "个流程实例" in listed and "运行中" in listed and "发起人" in listed
    assert "没有符合筛选条件的流程实例" in text_of(sales.get("/instances?status=completed"))
    assert "可发起人" in text_of(sales.get("/start"))
    switch(sales, "en", "/instances")
    assert "Started by" in text_of(sales.get("/instances")) and "Who may start it" in text_of(
        sales.get("/start")
    )


def test_an_admin_reads_the_daily_jobs_page_in_chinese_and_back_in_english(
    app: Flask,
    demo_tokens: dict[str, str],
    ticked: datetime,  # noqa: F811
) -> None:
    admin = as_user(app, "admin", "zh")
    for path in ("/jobs", "/jobs?job=nope"):
        page = admin.get(path).get_data(as_text=True)
        assert '<html lang="zh-Hans">' in page and english_left(page) == [], path
    html = admin.get("/jobs").get_data(as_text=True)
    row = html[html.index('data-job="dunning_run"') :].split("</tr>")[0]
    assert ">已完成<" in row and " 秒" in row  # the day's status and duration, in Chinese
    assert "在当前筛选条件下没有运行过的每日作业" in text_of(admin.get("/jobs?job=nope"))
    switch(admin, "en", "/jobs")
    html = admin.get("/jobs").get_data(as_text=True)
    assert "Daily jobs" in html and ">done<" in html[html.index('data-job="dunning_run"') :].split("</tr>")[0]


def test_the_login_page_and_the_layout_in_chinese_for_a_browser_that_asks_for_it(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page and "登录" in page and "用户名" in page and "密码" in page
    assert english_left(page) == []
    failed = client.post(
        "/login",
        data={"username": "nobody", "password": "x", "csrf_token": csrf_token(client)},
        headers={"Accept-Language": "zh-CN"},
    )
    assert failed.status_code == 401 and "用户名不存在或密码错误" in text_of(failed)
    # Flask-Login's sentence when a page needs a login, in the browser's language.
    assert client.get("/inbox", headers={"Accept-Language": "zh-CN"}).status_code == 302
    assert "请先登录" in text_of(client.get("/login", headers={"Accept-Language": "zh-CN"}))
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "User name" in english and "用户名" not in english


def test_a_visitor_s_choice_beats_the_browser_and_a_user_s_choice_beats_both(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    visitor = app.test_client()
    switch(visitor, "zh", "/login")
    assert "用户名" in text_of(visitor.get("/login", headers={"Accept-Language": "en"}))
    # The user's own language (none chosen yet: the browser's decides), remembered across logins.
    client = logged_in(app, "collector1")
    assert "Inbox" in text_of(client.get("/inbox", headers={"Accept-Language": "en"}))
    assert "待办" in text_of(client.get("/inbox", headers={"Accept-Language": "zh-Hans"}))
    switch(client, "zh", "/inbox")
    assert "待办" in text_of(client.get("/inbox", headers={"Accept-Language": "en"}))
    again = logged_in(app, "collector1")
    assert "待办" in text_of(again.get("/inbox", headers={"Accept-Language": "en"}))
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        assert session.scalar(select(User.language).where(User.username == "collector1")) == "zh"
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user_changed").order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.actor == "collector1"
    assert event.detail["before"] == {"language": None} and event.detail["after"] == {"language": "zh"}
    # The flash after logging out is in the user's language too (the session ends, the language stays).
    out = again.post("/logout", data={"csrf_token": csrf_token(again, "/inbox")}, follow_redirects=False)
    assert out.status_code == 302


def test_the_configured_default_speaks_when_neither_user_nor_browser_chose(
    settings: Settings, app_clock: Any
) -> None:
    app = create_app(settings.replace("web", default_language="zh"), clock=app_clock)
    try:
        client = app.test_client()
        assert "用户名" in text_of(client.get("/login"))
        assert "User name" in text_of(client.get("/login", headers={"Accept-Language": "en-US"}))
        assert "用户名" in text_of(client.get("/login", headers={"Accept-Language": "fr-FR, de;q=0.5"}))
    finally:
        app.extensions["creditflow"].engine.dispose()


# --- formats ----------------------------------------------------------------------------------------------


def test_money_is_written_as_each_locale_writes_it_english_too() -> None:
    assert format_money("1200000", "CNY", locale="zh_Hans") == "¥1,200,000.00"
    assert format_money("1200000", "EUR", locale="zh_Hans") == "€1,200,000.00"
    assert format_money("25650.5", "GBP", locale="zh_Hans") == "£25,650.50"
    assert format_money("12", "USD", locale="zh_Hans") == "US$12.00"
    assert format_money("-25650.5", "GBP", locale="zh_Hans") == "-£25,650.50"
    # English (and mail, messages without a reader's locale): CLDR's en symbols, the yuan as CN¥.
    assert format_money("1200000", "CNY", locale="en") == format_money("1200000", "CNY") == "CN¥1,200,000.00"
    assert format_money("1200.5", "EUR") == "€1,200.50" and format_money("1800000") == "1,800,000.00"
    # Cents whatever the currency (amounts are stored in hundredths), and odd values as they are.
    assert format_money("1200", "JPY", locale="zh_Hans") == "JP¥1,200.00"
    assert (
        format_money(None, "EUR", locale="zh_Hans") == "-" and format_money("n/a", locale="zh_Hans") == "n/a"
    )


def test_dates_ages_and_relative_times_follow_the_page_s_language(app: Flask) -> None:
    from datetime import timedelta

    from webui.formatting import format_age, format_ago, format_day

    now = datetime(2027, 1, 14, 9, 0, tzinfo=UTC)
    for accept, day, age, ago in [
        ("en", "14 Jan 2027", "3 d 4 h", "3 days ago"),
        ("zh-CN", "2027年1月14日", "3 天 4 小时", "3天前"),
    ]:
        with app.test_request_context("/", headers={"Accept-Language": accept}):
            assert format_day(date(2027, 1, 14)) == day
            assert format_age(now - timedelta(days=3, hours=4), now) == age
            assert format_ago(now - timedelta(days=3), now) == ago
