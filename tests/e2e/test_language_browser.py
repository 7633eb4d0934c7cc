"""Issue 20, must-show 1 in Debian chromium: a user whose language is zh reads the inbox, a task page, the
customer page and the dashboard in Chinese, with no English msgid of the catalogue left on any of them
(tests.webui.test_language.english_left); the header's switch to English turns every one of those pages
English, and back. The task page's diagram: bpmn-js draws every named element (tasks, lanes, events,
gateways, flows) with its name_zh (webui/diagram_labels.py) for a zh reader, no English name left, and
their English names for an en one."""

from __future__ import annotations

import html as markup
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.webui.test_customer_pages import overdue_customer  # noqa: F401 (a fixture)
from tests.webui.test_language import english_left
from tests.webui.test_language_dashboard import ACRONYMS
from workflows.store.db import transaction
from workflows.users import set_language

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

CJK = "\u4e00-\u9fff"
DIAGRAM = Path(__file__).resolve().parents[2] / "bpmn" / "credit_application.bpmn"


def english_names() -> set[str]:
    """The English names of the credit application's elements that carry a name_zh (all that are drawn),
    but a grade's letter ("E" on a flow reads the same in Chinese)."""
    text = DIAGRAM.read_text(encoding="utf-8")
    named = re.findall(r'<bpmn:\w+ id="\w+" name="([^"]+)"(?:(?!<bpmn:\w+ id=).)*?name="name_zh"', text, re.S)
    names = {" ".join(markup.unescape(name).split()) for name in named}
    return {name for name in names if re.search(r"[A-Za-z]{2}", name)}


def pages(tab: Any, customer_id: int) -> dict[str, str]:
    """The four pages' HTML as chromium shows them, the task page reached from the inbox's first task (with
    the diagram's drawn labels under "drawing")."""
    shown: dict[str, str] = {}
    tab.goto("/inbox")
    shown["inbox"] = tab.content()
    tab.goto(str(tab.locator("a[href^='/tasks/']").first.get_attribute("href")))
    # The drawing's labels are checked on their own (bpmn.io's licence watermark is not ours to translate).
    tab.wait_for_selector(".bjs-container .djs-element")
    shown["drawing"] = str(tab.locator(".bjs-container .djs-container").first.inner_text())
    tab.evaluate("document.querySelectorAll('.bjs-container').forEach((drawn) => drawn.remove())")
    shown["task"] = tab.content()
    tab.goto(f"/customers/{customer_id}")
    shown["customer"] = tab.content()
    tab.goto("/dashboard")
    shown["dashboard"] = tab.content()
    return shown


def switch_to(tab: Any, language: str) -> None:
    tab.locator(f"form.language button[value={language}]").click()
    tab.wait_for_load_state()


def test_a_zh_analyst_reads_inbox_task_customer_and_dashboard_in_chinese_and_switches_to_english(
    app: Flask,
    page: Any,  # noqa: F811
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        set_language(session, "analyst1", "zh", svc.clock())
    log_in(page, "analyst1")
    assert page.url.endswith("/inbox")
    chinese = pages(page, overdue_customer["id"])
    # The dashboard's charts write their axis and tooltip numbers in the page's locale (Chart.js Intl).
    page.wait_for_selector("canvas[data-drawn=true]")
    assert page.evaluate(
        "Chart.getChart(document.querySelector('canvas[data-drawn=true]')).options.locale"
    ) == ("zh-Hans")
    drawing = chinese.pop("drawing")
    # The drawn task and lanes, in Chinese (bpmn-js may break a label into lines).
    for label in ("审核信用申请", "信用分析师", "信用经理"):
        assert label in drawing.replace("\n", ""), (label, drawing)
    assert "Review credit application" not in drawing
    drawn = " ".join(drawing.split())
    assert sorted(name for name in english_names() if name in drawn) == [], drawing
    for name, html in chinese.items():
        assert '<html lang="zh-Hans"' in html, name
        assert [left for left in english_left(html) if left not in ACRONYMS] == [], (name, english_left(html))
    assert "审核信用申请" in chinese["inbox"] and "审核信用申请" in chinese["task"]  # the task's name_zh
    assert "信用档案" in chinese["customer"] and "DSO 应收账款周转天数" in chinese["dashboard"]

    switch_to(page, "en")
    english = pages(page, overdue_customer["id"])
    drawing = english.pop("drawing")
    assert "Review credit application" in drawing.replace("\n", " ") and "审核信用申请" not in drawing
    for name, html in english.items():
        assert '<html lang="en"' in html, name
    assert "Inbox" in english["inbox"] and "Credit file" in english["customer"]
    assert "审核信用申请" not in english["task"] and "信用档案" not in english["customer"]

    switch_to(page, "zh")  # remembered on the user: the next page is Chinese again
    page.goto("/inbox")
    assert '<html lang="zh-Hans"' in page.content()


def test_a_zh_manager_reads_the_credit_desk_pages_in_chinese_in_chromium_and_switches_to_english(
    app: Flask,
    page: Any,  # noqa: F811
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    """Portfolio, provisions (with its chart), collections and watchlist: one load each per language."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        set_language(session, "manager1", "zh", svc.clock())
    log_in(page, "manager1")
    desk = ("/portfolio", "/provisions", "/collections?due=all", "/watchlist")
    for path in desk:
        page.goto(path)
        html = page.content()
        assert '<html lang="zh-Hans"' in html and english_left(html) == [], (path, english_left(html))
    switch_to(page, "en")
    for path in desk:
        page.goto(path)
        html = page.content()
        assert '<html lang="en"' in html and not re.search(
            rf"[{CJK}]{{2,}}(?<!中文)", html.split("</header>")[1]
        )
