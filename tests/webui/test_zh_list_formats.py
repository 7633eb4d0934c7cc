"""Small zh format slips (issue 20, R21 F-13): a Chinese page lists with "、", not ASCII commas (a dunning
event's invoices on the customer page's timeline, a definition's start groups); a supplier's language is
named in the page's language (英语 on a Chinese page, Chinese on an English one), not by its autonym in the
middle of the other language. The legal case file's days and missing values: tests/bpmn/
test_dunning_languages.py."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_customer_pages import SUPPLIER
from tests.webui.test_language import switch, visible
from tests.webui.test_pages import logged_in
from webui.event_details import describe_event


@pytest.mark.parametrize(
    ("language", "said"),
    [("zh", "发票：QB-9001、QB-9002"), ("en", "invoices: QB-9001, QB-9002")],
)
def test_a_dunning_events_invoices_are_listed_as_the_page_lists(app: Flask, language: str, said: str) -> None:
    with app.test_request_context("/customers/1", headers={"Accept-Language": language}):
        assert describe_event({"invoices": ["QB-9001", "QB-9002"]}) == said


@pytest.mark.usefixtures("shipped")
def test_a_suppliers_language_is_named_in_the_pages_language(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = {}
    for language in ("en", "zh"):
        supplier = {**SUPPLIER, "external_id": f"S-{language}", "name": f"Supplier {language}"}
        created = client.post(
            "/api/suppliers", json={**supplier, "language": language}, headers=auth(demo_tokens["buyer1"])
        )
        assert created.status_code == 201, created.json
        ids[language] = created.json["id"]  # type: ignore[index]
    finance = logged_in(app, "finance1")

    def language_row(supplier: int) -> str:
        page = visible(finance.get(f"/suppliers/{supplier}").get_data(as_text=True))
        found = re.search(r"(语言|Language) (\S+)", page)
        assert found, page
        return found.group(0)

    switch(finance, "zh", "/suppliers")
    assert (language_row(ids["en"]), language_row(ids["zh"])) == ("语言 英语", "语言 中文")
    switch(finance, "en", "/suppliers")
    assert (language_row(ids["en"]), language_row(ids["zh"])) == ("Language English", "Language Chinese")


@pytest.mark.usefixtures("shipped", "demo_tokens")
def test_a_definitions_start_groups_are_listed_with_the_chinese_comma(app: Flask) -> None:
    owner = logged_in(app, "owner1")
    switch(owner, "zh", "/definitions")
    for path in ("/definitions", "/definitions/credit_limit_review/1"):
        page = owner.get(path).get_data(as_text=True)
        groups = re.findall(r'</span>(.{1,2})<span data-group="', page)
        assert groups and set(groups) == {"、"}, (path, groups)
    switch(owner, "en", "/definitions")
    page = owner.get("/definitions/credit_limit_review/1").get_data(as_text=True)
    assert set(re.findall(r'</span>(.{1,2})<span data-group="', page)) == {", "}
