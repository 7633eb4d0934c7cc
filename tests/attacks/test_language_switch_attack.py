"""POST /language (the header's language switch, issue 20) under hostile input: a forged form (no CSRF token),
values creditflow does not speak (NUL bytes, markup, 10,000 characters, none, two at once, JSON instead of a
form) and redirects off the site. Each refusal is a 4xx naming the field, and nothing is written: not the
user's language, not the audit trail, not a visitor's session."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from tests.webui.test_pages import csrf_token, logged_in, text_of
from workflows.store.models import AuditEvent, User


def state(app: Flask, username: str) -> tuple[str | None, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        language = session.scalar(select(User.language).where(User.username == username))
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user_changed")
        )
    return language, int(events or 0)


def post(
    client: FlaskClient, data: dict[str, str] | list[tuple[str, str]], token: str | None
) -> TestResponse:
    pairs = list(data) if isinstance(data, list) else list(data.items())
    if token is not None:
        pairs.append(("csrf_token", token))
    return client.post("/language", data=MultiDict(pairs))


@pytest.mark.parametrize(
    "value",
    [
        "fr",
        "",
        "zh\x00",
        "zh\x00en",
        "<script>alert(1)</script>",
        "z" * 10_000,
        "zh-Hans; DROP TABLE users",
        "１",
    ],
)
def test_a_language_creditflow_does_not_speak_is_a_422_naming_the_field_and_writes_nothing(
    app: Flask, demo_tokens: dict[str, str], value: str
) -> None:
    client = logged_in(app, "analyst1")
    before = state(app, "analyst1")
    response = client.post("/language", data={"language": value, "csrf_token": csrf_token(client, "/inbox")})
    page = text_of(response)
    if "\x00" in value:  # refused before any view (webui/input_checks.py), naming the field
        assert response.status_code == 400 and "language" in page and "NUL" in page
    else:
        assert response.status_code == 422 and "language must be one of en, zh" in page
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert len(page) < 20_000  # the 10,000 characters are not echoed back
    assert state(app, "analyst1") == before


def test_two_languages_at_once_none_and_json_are_refused(app: Flask, demo_tokens: dict[str, str]) -> None:
    client = logged_in(app, "analyst1")
    token = csrf_token(client, "/inbox")
    before = state(app, "analyst1")
    both = post(client, [("language", "zh"), ("language", "en")], token)
    assert both.status_code == 422 and "send one language, not 2" in text_of(both)
    assert post(client, {}, token).status_code == 422
    as_json = client.post("/language", json={"language": "zh"}, headers={"X-CSRFToken": token})
    assert as_json.status_code == 422
    assert state(app, "analyst1") == before


def test_a_forged_form_without_the_csrf_token_changes_nothing(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    client = logged_in(app, "analyst1")
    before = state(app, "analyst1")
    assert post(client, {"language": "zh"}, None).status_code == 400
    assert post(client, {"language": "zh"}, "forged").status_code == 400
    assert state(app, "analyst1") == before
    visitor = app.test_client()
    assert post(visitor, {"language": "zh"}, None).status_code == 400
    assert "User name" in text_of(visitor.get("/login"))


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\r\nSet-Cookie: x=1", "inbox"],
)
def test_the_redirect_after_switching_stays_on_the_site(
    app: Flask, demo_tokens: dict[str, str], target: str
) -> None:
    client = logged_in(app, "auditor1")  # anyone may choose a language: it changes no credit record
    response = post(client, {"language": "zh", "next": target}, csrf_token(client, "/inbox"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert state(app, "auditor1")[0] == "zh"


def test_switching_to_the_language_one_has_records_no_change(app: Flask, demo_tokens: dict[str, str]) -> None:
    client = logged_in(app, "analyst1")
    token = csrf_token(client, "/inbox")
    assert post(client, {"language": "ZH "}, token).status_code == 302
    after_first = state(app, "analyst1")
    assert after_first[0] == "zh"
    assert post(client, {"language": "zh"}, token).status_code == 302
    assert state(app, "analyst1") == after_first  # no second audit event for no change
