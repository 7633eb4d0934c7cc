"""Sentences stored as English text (an incident's message, a credit check's reason, a KPI snapshot's
reason) are shown in the reader's language: webui/stored_sentences.py reads the msgid and parameters back
from the catalogue, including a sentence inside a sentence, and its days as the page writes them
(issue 20)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.ctx import RequestContext
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_customer_pages import overdue_customer  # noqa: F401 - a fixture
from tests.webui.test_language import switch
from tests.webui.test_pages import logged_in, text_of
from webui.stored_sentences import said_stored
from workflows.credit.fx import MissingRate
from workflows.messages import _
from workflows.store.db import transaction
from workflows.store.models import Incident

CJK = re.compile(r"[\u4e00-\u9fff]")
# A credit check's reason as stored before its Text was kept: a missing rate inside the check's sentence.
MISSING = str(MissingRate("USD", date(2027, 1, 14), "CNY"))
STORED = f"no exchange rate: {MISSING}; a credit manager decides on the release"


def _in(app: Flask, language: str) -> RequestContext:
    return app.test_request_context("/api/said", headers={"Accept-Language": language})


def test_a_stored_sentence_and_the_sentence_inside_it_are_said_in_chinese(app: Flask) -> None:
    with _in(app, "zh"):
        said = said_stored(STORED)
    assert said.startswith("缺少汇率："), said
    # The missing rate inside it is Chinese too, its values as stored.
    assert "2027年1月14日 及之前没有 USD→CNY 的汇率" in said and "由信用经理决定是否放行" in said
    assert "no exchange rate" not in said


def test_an_incident_naming_an_operation_is_said_with_the_handler_s_sentence(app: Flask) -> None:
    stored = str(
        _(
            "no exchange rate %(currency)s->%(base)s on or before %(day)s; post one (POST /api/fx-rates "
            "or `creditflow import fx-rates`) before this step can convert",
            currency="EUR",
            base="CNY",
            day="2027-02-01",
        )
    )
    with _in(app, "zh"):
        said = said_stored(stored)
    assert said.startswith("2027年2月1日 及之前没有 EUR→CNY 的汇率"), said


def test_english_unknown_text_and_a_text_stay_as_they_should(app: Flask) -> None:
    with _in(app, "en"):  # our English, with its day written as English readers write days
        assert said_stored(STORED) == STORED.replace("2027-01-14", "14 Jan 2027")
    with _in(app, "zh"):
        # Free text no msgid has the shape of is shown as stored.
        assert said_stored("ZeroDivisionError: division by zero") == "ZeroDivisionError: division by zero"
        assert said_stored("") == "" and said_stored(None) == ""
        # A Text (a sentence computed in this request) is said from its own msgid.
        assert CJK.search(said_stored(_("no receivables open")))


@pytest.mark.usefixtures("shipped")
def test_an_incident_stored_in_english_shows_in_chinese_on_the_instance_page(
    app: Flask,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    instance_id = overdue_customer["application"]["id"]
    rt = app.extensions["creditflow"].rt
    message = f"credit.score failed: {MISSING}"  # as an older step stored it: plain text, no msgid kept
    with transaction(rt.factory) as session:
        session.add(
            Incident(
                instance_id=instance_id,
                bpmn_id="score_customer",
                message=message,
                traceback="",
                created_at=app.extensions["creditflow"].clock(),
            )
        )
    admin = logged_in(app, "admin")
    switch(admin, "zh", f"/instances/{instance_id}")
    page = text_of(admin.get(f"/instances/{instance_id}"))
    assert "credit.score 执行失败：2027年1月14日 及之前没有 USD→CNY 的汇率" in page, page
    assert "no exchange rate" not in page
    switch(admin, "en", f"/instances/{instance_id}")
    assert message.replace("2027-01-14", "14 Jan 2027") in text_of(admin.get(f"/instances/{instance_id}"))


def test_a_failure_stored_with_its_exception_s_name_keeps_the_name_and_says_the_sentence(app: Flask) -> None:
    with _in(app, "zh"):
        said = said_stored(f"MissingRate: {MISSING}")
        assert said.startswith("MissingRate: 2027年1月14日 及之前没有 USD→CNY 的汇率"), said
        assert said_stored("ValueError: something nobody wrote") == "ValueError: something nobody wrote"


@pytest.mark.usefixtures("shipped")
def test_the_api_says_a_stored_incident_in_the_caller_s_language(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    overdue_customer: dict[str, Any],  # noqa: F811
) -> None:
    instance_id = overdue_customer["application"]["id"]
    message = f"credit.score failed: {MISSING}"
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            Incident(
                instance_id=instance_id,
                bpmn_id="score_customer",
                message=message,
                traceback="",
                created_at=app.extensions["creditflow"].clock(),
            )
        )
    path = f"/api/process-instances/{instance_id}"
    zh = client.get(path, headers={**auth(demo_tokens["admin"]), "Accept-Language": "zh"}).get_json()
    assert zh["incidents"][0]["message"].startswith("credit.score 执行失败：2027年1月14日 及之前没有 USD→CNY")
    en = client.get(path, headers=auth(demo_tokens["admin"])).get_json()
    assert en["incidents"][0]["message"] == message.replace("2027-01-14", "14 Jan 2027")  # a person's field
