"""A task's subject and instructions in the reader's language (issue 20): the diagram's `subject_zh` and
`instructions_zh` are filled in when the task opens, beside the English ones, so a zh user's inbox and task
page read Chinese and an en user's English, without a query more per inbox row."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2.sandbox import SandboxedEnvironment

from tests.webui.test_bilingual_diagrams import inbox_row
from tests.webui.test_customer_pages import open_task, overdue_customer, start  # noqa: F401 - a fixture
from tests.webui.test_language import as_user, switch
from tests.webui.test_pages import text_of
from workflows.store.models import InboxItem

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_zh_user_reads_the_subject_and_instructions_in_chinese_an_en_user_in_english(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    review = start(
        client,
        demo_tokens["analyst1"],
        "credit_limit_review",
        {"customer_id": overdue_customer["id"], "reason": "manual"},
    )
    task_id = open_task(review, "review_limit")
    application_task = open_task(overdue_customer["application"], "review_application")
    analyst = as_user(app, "analyst1", "zh")

    assert "<td>Slowpay Trading，额度复核（人工发起）</td>" in inbox_row(analyst, task_id)
    page = text_of(analyst.get(f"/tasks/{task_id}"))
    assert '<p class="subject">Slowpay Trading，额度复核（人工发起）</p>' in page
    assert "触发原因：人工发起" in page and "当前额度" in page and "Trigger: manual" not in page
    # Amounts read as a zh reader writes them: in the subject (money() in subject_zh) and the instructions.
    application_page = text_of(analyst.get(f"/tasks/{application_task}"))
    assert '<p class="subject">Slowpay Trading，申请额度 €200,000.00</p>' in application_page
    assert "额度公式建议" in application_page and "200,000.00 EUR" not in application_page
    assert "<td>Slowpay Trading，申请额度 €200,000.00</td>" in inbox_row(analyst, application_task)

    switch(analyst, "en", "/inbox")
    # The trigger by its English words, not its code "manual" (R21's F-11).
    assert "<td>Slowpay Trading, limit review (started by hand)</td>" in inbox_row(analyst, task_id)
    page = text_of(analyst.get(f"/tasks/{task_id}"))
    assert '<p class="subject">Slowpay Trading, limit review (started by hand)</p>' in page
    assert "Trigger: started by hand" in page and "触发原因" not in page
    application_page = text_of(analyst.get(f"/tasks/{application_task}"))
    assert "The limit formula proposes" in application_page
    assert '<p class="subject">Slowpay Trading, €200,000.00</p>' in application_page

    with app.extensions["creditflow"].rt.factory() as session:
        row = session.get(InboxItem, task_id)
        assert row is not None and row.translations is not None
        assert row.subject == "Slowpay Trading, limit review (started by hand)"  # the stored English
        # title: the task's name_zh, kept for the inbox search
        assert set(row.translations["zh"]) == {"title", "subject", "instructions"}


def test_a_task_opened_without_translations_reads_in_english_for_everyone(
    app: Flask,
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    task_id = open_task(overdue_customer["application"], "review_application")
    with app.extensions["creditflow"].rt.factory() as session:
        row = session.get(InboxItem, task_id)
        assert row is not None
        english = row.instructions
        row.translations = None  # as a task opened before migration 0014g
        session.commit()
    page = text_of(as_user(app, "analyst1", "zh").get(f"/tasks/{task_id}"))
    assert english.split("(")[0] in page and "额度公式建议" not in page


def test_every_shipped_task_with_instructions_or_a_worded_subject_has_them_in_chinese() -> None:
    env = SandboxedEnvironment()
    env.filters["money"] = str
    for path in sorted(BPMN.glob("*.bpmn")):
        text = path.read_text(encoding="utf-8")
        for task_id, body in re.findall(r'<bpmn:userTask id="(\w+)"(.*?)</bpmn:userTask>', text, re.S):
            where = (path.name, task_id)
            if "<spiffworkflow:instructionsForEndUser>" in body:
                found = re.search(r"name=\"instructions_zh\" value=(\"[^\"]*\"|'[^']*')", body)
                assert found and CJK.search(found.group(1)), where
                env.parse(html.unescape(found.group(1)[1:-1]))  # valid Jinja
                # "{{ amount }} {{ currency }}" reads "200000.0 EUR"; `| money(currency)` "€200,000.00".
                assert not re.search(r"\}\} \{\{ [\w.]*currency \}\}", found.group(1)), where
                # The English instructions too: "{{ amount | money(currency) }}" writes "CN¥200,000.00".
                english = body.split("<spiffworkflow:instructionsForEndUser>")[1].split("</spiffworkflow:")[0]
                assert not re.search(r"\}\} *\{\{ *[\w.]*currency *\}\}", english), where
            subject = re.search(r"name=\"subject\" value='([^']*)'", body)
            # A subject with English words in its string literals (", limit review (") needs a Chinese one;
            # keys (credit_file["customer_name"]) and f-strings are no words.
            expression = re.sub(r'f"[^"]*"', "", subject.group(1).replace("&apos;", "'")) if subject else ""
            if re.search(r'(?<!\[)"[^"]*[A-Za-z]{2,}[^"]*"(?!\])', expression):
                assert 'name="subject_zh"' in body, where
            # Amounts go through money(), which writes them as each language does ("¥200,000.00" in zh,
            # "CN¥200,000.00" in English): an f-string or str() of an amount knows no reader's locale.
            for found in re.finditer(r"name=\"subject(?:_zh)?\" value=('[^']*'|\"[^\"]*\")", body):
                written = html.unescape(found.group(1))
                assert ":,.2f}" not in written, where
                assert not re.search(r"str\([^)]*(amount|limit|value)", written), where
            if subject and "money(" in subject.group(1):
                assert 'name="subject_zh"' in body, where


def test_the_viewer_draws_chinese_labels_and_the_editor_gets_the_diagram_as_deployed(
    app: Flask,
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    analyst = as_user(app, "analyst1", "zh")
    task_id = open_task(overdue_customer["application"], "review_application")
    version = overdue_customer["application"]["version"]
    url = f"/definitions/credit_application/{version}/diagram.bpmn"
    assert f'data-xml-url="{url}?names=zh"' in text_of(analyst.get(f"/tasks/{task_id}"))
    labelled = analyst.get(f"{url}?names=zh").get_data(as_text=True)
    assert 'name="审核信用申请"' in labelled and 'name="Review credit application"' not in labelled
    assert 'name="信用分析师"' in labelled  # a lane
    assert 'name="name_zh" value="审核信用申请"' in labelled  # the properties stay as they are
    # The editor (and anyone without ?names) gets the deployed text, byte for byte.
    deployed = (BPMN / "credit_application.bpmn").read_text(encoding="utf-8")
    assert analyst.get(url).get_data(as_text=True) == deployed
    assert analyst.get(f"{url}?names=en").get_data(as_text=True) == deployed
    assert analyst.get(f"{url}?names=xx").get_data(as_text=True) == deployed
