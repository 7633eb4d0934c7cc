"""The demo a new user meets after `make run`, read in Chinese (issue 20): tests elsewhere build their own
cases, so this one seeds what `creditflow init --demo` seeds and reads what the demo's people see. Every page
their inbox links to is Chinese (<html lang>, 200), and what our code wrote into the demo's cases is said in
Chinese: a limit review's trigger inside a customer's limit history ("review:overdue"; English says it by
its label too), and the legal costs
of the write-off proposal, as money."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import Flask
from flask_babel import gettext

from tests.webui.test_language import switch, visible
from tests.webui.test_pages import logged_in
from webui.case_labels import TRIGGERS, limit_reason
from webui.history_details import history_detail
from workflows.batch.month_end import post_last_month_end
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.messages import _, translated
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def demo(app: Flask, demo_tokens: dict[str, str], clock: datetime) -> Flask:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, clock)
    start_demo_cases(svc.rt, clock)
    post_last_month_end(svc.rt, clock)
    return app


def test_the_demos_people_read_their_inbox_and_every_task_it_links_in_chinese(demo: Flask) -> None:
    for user in ("analyst1", "manager1", "legal1", "finance1", "sales1", "collector1"):
        client = logged_in(demo, user)
        switch(client, "zh", "/inbox")
        inbox = client.get("/inbox").get_data(as_text=True)
        tasks = sorted(set(re.findall(r'href="(/tasks/\d+)"', inbox)))
        for path in ["/inbox", "/dashboard", *tasks]:
            response = client.get(path)
            if path == "/dashboard" and response.status_code == 403:
                continue
            page = response.get_data(as_text=True)
            assert response.status_code == 200 and '<html lang="zh-Hans">' in page, (user, path)


def test_a_limit_reviews_trigger_in_the_limit_history_is_said_by_its_label(app: Flask) -> None:
    # credit_limit_review.bpmn stores "review:" + the trigger code; the customer page and the task's customer
    # panel say the reason through limit_reason (the sweep's review is not part of the seeded demo).
    with app.test_request_context("/customers/1", headers={"Accept-Language": "zh"}):
        assert limit_reason("review:overdue") == "额度复核：" + str(TRIGGERS["overdue"])
        assert limit_reason("review:someone typed this") == "额度复核：someone typed this"
        assert limit_reason("credit application") == "信用额度申请"
    with app.test_request_context("/customers/1", headers={"Accept-Language": "en"}):
        # English says the trigger by its label too (R21's F-11: the customer page read 'review:overdue').
        assert limit_reason("review:overdue") == "limit review: overdue invoices"
        assert limit_reason("review:someone typed this") == "review:someone typed this"


def task_texts(demo: Flask, user: str, language: str) -> list[str]:
    """What `user` reads on each task page their inbox links to, in `language`."""
    client = logged_in(demo, user)
    switch(client, language, "/inbox")
    inbox = client.get("/inbox").get_data(as_text=True)
    paths = sorted(set(re.findall(r'href="(/tasks/\d+)"', inbox)))
    return [visible(client.get(path).get_data(as_text=True)) for path in paths]


def test_the_write_off_proposals_legal_costs_are_money_in_both_languages(demo: Flask) -> None:
    proposal = next(text for text in task_texts(demo, "manager1", "zh") if "法律费用" in text)
    assert re.search(r"法律费用 ¥[\d,]+\.\d\d", proposal), proposal
    english = task_texts(demo, "manager1", "en")
    assert any(re.search(r"legal costs CN¥[\d,]+\.\d\d", text) for text in english), english


def test_a_contract_changes_terms_are_named_by_their_labels_in_the_instructions(demo: Flask) -> None:
    review = next(text for text in task_texts(demo, "finance1", "zh") if "价格变更" in text)
    assert "价格：EUR 820 per tonne → EUR 860 per tonne" in review, review
    # The case data's summary too (the handler stores it in English: "price: EUR 820 per tonne -> ...").
    assert "price：" not in review and "price:" not in review and "->" not in review, review


def test_a_limit_changes_history_line_says_the_reviews_trigger(app: Flask) -> None:
    with app.test_request_context("/instances/1", headers={"Accept-Language": "zh"}):
        # A credit_limit_changed event's detail: a reason beside old/new is a limit reason (any other event's
        # reason, a contract change's typed 'overdue', stays as typed: tests/attacks/test_session12_attack).
        limit = {"customer_id": 5, "old": "10000", "new": "8000", "currency": "EUR"}
        line = str(history_detail({**limit, "reason": "review:overdue"}))
        assert "额度复核：" + str(TRIGGERS["overdue"]) in line and "overdue" not in line, line


def test_a_status_inside_an_error_sentence_is_said_in_the_readers_language(app: Flask) -> None:
    retry = "instance %(id)s is %(status)s, not error; there is nothing to retry"
    sentence = _(retry, id=5, status="running")
    with app.test_request_context("/api/process-instances/5/retry", headers={"Accept-Language": "zh"}):
        said = translated(sentence, gettext)
        assert "运行中" in said and "running" not in said, said
        unknown = _(retry, id=5, status="x_y")
        assert "x_y" in translated(unknown, gettext)  # a code the catalogue does not hold stays as it is
    with app.test_request_context("/api/process-instances/5/retry", headers={"Accept-Language": "en"}):
        assert translated(sentence, gettext) == str(sentence)
