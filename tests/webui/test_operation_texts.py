"""The studio's operation descriptions in the page's language (issue 20, webui/operation_texts.py): every
live operation's description is a catalogue msgid with a Chinese msgstr, a zh process owner's edit page
offers them in Chinese, an English one as the handler's docstring says them."""

from __future__ import annotations

import pytest
from flask import Flask

from handlers.registry import build_operations
from tests.e2e.test_browser import deploy_shipped
from tests.webui.test_language import switch
from tests.webui.test_operations_api import _studio_attribute
from tests.webui.test_pages import logged_in
from tests.webui.test_translations import catalogue
from webui.operation_texts import operation_text
from workflows.definitions.operation_catalog import describe_operations

pytestmark = pytest.mark.usefixtures("shipped")


def test_every_operation_description_has_its_chinese_in_the_catalogue() -> None:
    # A handler whose docstring changed without webui/operation_texts.py following fails here: its msgid
    # (the first paragraph, "%" written "%%") is gone from the catalogue, and so is its Chinese.
    translated = {m.id: m.string for m in catalogue("zh_Hans") if m.id and not isinstance(m.id, tuple)}
    missing = [
        op["name"]
        for op in describe_operations(build_operations())
        if not translated.get(op["description"].replace("%", "%%"))
    ]
    assert missing == []


def test_the_edit_page_offers_the_operations_described_in_the_owner_s_language(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    deploy_shipped(app, "credit_application")
    owner = logged_in(app, "owner1")
    path = "/definitions/credit_application/1/edit"
    switch(owner, "zh", path)
    zh = {
        op["name"]: op["description"]
        for op in _studio_attribute(owner.get(path).get_data(as_text=True))["operations"]
    }
    assert (
        zh["credit.load_file"] == "调取审批人审阅案件所需的信息：客户基本情况、信用额度、风险敞口及信用等级。"
    )
    assert "计提 100% 的个别坏账准备" in zh["dunning.legal_handover"]  # "%%" in the catalogue, "%" shown
    assert "`min_pct`%" in zh["dunning.record_promise"]
    switch(owner, "en", path)
    en = {
        op["name"]: op["description"]
        for op in _studio_attribute(owner.get(path).get_data(as_text=True))["operations"]
    }
    assert en == {op["name"]: op["description"] for op in describe_operations(build_operations())}
    assert "100 % specific provision" in en["dunning.legal_handover"]


def test_a_description_no_catalogue_knows_is_shown_as_written(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert operation_text("A handler of this deployment's own: 50 % off.") == (
            "A handler of this deployment's own: 50 % off."
        )
        assert operation_text("") == ""
