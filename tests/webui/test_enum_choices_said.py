"""A refused choice names the choices by the labels the form gives them (issue 20, R21 F-15): a forged or
mistyped enum value is answered "请从以下选项中选择：人工发起（manual）、…", the label a person picks on
the form and, in brackets, the code a client sends; in English by `enum_titles` when the form has
them, else the codes as before. The web form and the JSON API say the same sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_language import switch
from tests.webui.test_pages import csrf_token, logged_in
from workflows.definitions.forms import validate_form
from workflows.errors import Invalid
from workflows.messages import translated

REVIEW_START = json.loads(Path("bpmn/credit_limit_review_start.json").read_text(encoding="utf-8"))
CODES = "manual, scheduled, utilisation, overdue, dunning, rating_change, top_exposure"
ZH_CHOICES = (
    "请从以下选项中选择：人工发起（manual）、定期复核（scheduled）、额度使用率（utilisation）、逾期（overdue）、"
    "催款（dunning）、外部评级变化（rating_change）、大额风险敞口客户（top_exposure）。"
)
ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"


def _refused(schema: dict[str, Any], data: dict[str, Any], field: str) -> str:
    with pytest.raises(Invalid) as refused:
        validate_form(schema, data)
    message: str = refused.value.details["fields"][field]
    return message


def _zh(sentence: str) -> str:
    return translated(sentence, Translations.load("webui/translations", ["zh_Hans"]).gettext)


def test_a_refused_choice_is_named_by_the_forms_labels_and_its_code() -> None:
    said = _refused(REVIEW_START, {"customer_id": 1, "reason": "bribery"}, "reason")
    assert said == f"Choose one of: {CODES}."  # the form gives no English titles: the codes, as before
    assert _zh(said) == ZH_CHOICES


def test_english_titles_name_the_choices_in_english_and_a_label_is_never_a_format() -> None:
    schema = {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "enum": ["approve", "reject", "hold", 5],
                "enum_titles": {"approve": "Approve", "reject": "100% no", "hold": "hold"},
                "enum_titles_zh": {"approve": "批准", "reject": "%(x)s 驳回", "5": " "},
            }
        },
    }
    said = _refused(schema, {"decision": "maybe"}, "decision")
    # A title equal to its code is not said twice; a value without a title is the value alone.
    assert said == "Choose one of: Approve (approve), 100% no (reject), hold, 5."
    assert _zh(said) == "请从以下选项中选择：批准（approve）、%(x)s 驳回（reject）、hold、5。"
    # Inside an array's row: the row's schema gives the labels.
    rows = {
        "type": "object",
        "properties": {"lines": {"type": "array", "items": schema["properties"]["decision"]}},
    }
    assert _zh(_refused(rows, {"lines": ["approve", "no"]}, "lines")) == (
        "/1：请从以下选项中选择：批准（approve）、%(x)s 驳回（reject）、hold、5。"
    )


def _customer(client: FlaskClient, tokens: dict[str, str]) -> int:
    created = client.post(
        "/api/customers",
        json={"name": "Choice Trading", "industry": "manufacturing", "currency": "EUR"},
        headers=auth(tokens["sales1"]),
    )
    assert created.status_code == 201, created.json
    return int(created.json["id"])  # type: ignore[index]


@pytest.mark.usefixtures("shipped")
def test_the_api_and_the_web_form_name_the_choices_in_the_readers_language(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = _customer(client, demo_tokens)
    body = {"process_key": "credit_limit_review", "data": {"customer_id": customer, "reason": "bribery"}}
    said = {}
    for language in (ZH, EN):
        headers = {**auth(demo_tokens["analyst1"]), "Accept-Language": language}
        refused = client.post("/api/process-instances", json=body, headers=headers)
        assert refused.status_code == 422, refused.get_data(as_text=True)
        said[language] = refused.json["error"]  # type: ignore[index]
    assert said[ZH]["fields"]["reason"] == ZH_CHOICES and ZH_CHOICES in said[ZH]["message"]
    assert said[EN]["fields"]["reason"] == f"Choose one of: {CODES}."
    analyst = logged_in(app, "analyst1")
    switch(analyst, "zh", "/inbox")
    form = {
        "csrf_token": csrf_token(analyst, "/start/credit_limit_review"),
        "customer_id": str(customer),
        "reason": "bribery",  # not a choice the form offers: a forged request
    }
    page = analyst.post("/start/credit_limit_review", data=form)
    assert page.status_code == 422
    assert ZH_CHOICES in page.get_data(as_text=True)
