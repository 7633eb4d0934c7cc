"""A customer's or supplier's `language` is one creditflow writes letters in (issue 20): en or zh, in any
case; any other code is refused with a 422 that names the languages there are, in the caller's language,
instead of being stored and silently falling back to English. (Users: workflows.users, `users add
--language`, tested in tests/cli/test_cli.py.)"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

ZH, EN = "zh-CN,zh;q=0.9", "en-GB,en;q=0.8"
PARTIES = [("/api/customers", "sales1"), ("/api/suppliers", "buyer1")]


def body(name: str, language: str) -> dict[str, str]:
    return {"name": name, "currency": "EUR", "email": "ap@example.com", "language": language}


@pytest.mark.parametrize(("path", "user"), PARTIES)
@pytest.mark.parametrize("language", ["fr", "zh-TW", "english", "x" * 11])
def test_a_language_creditflow_does_not_write_is_refused_in_the_callers_language(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, user: str, language: str
) -> None:
    said = {}
    for asked in (ZH, EN):
        headers = {**auth(demo_tokens[user]), "Accept-Language": asked}
        response = client.post(path, json=body("Lingua GmbH", language), headers=headers)
        assert response.status_code == 422, response.json
        said[asked] = response.json["error"]["fields"]["language"]
    assert said[EN] == f"language must be one of en, zh, got {language[:20]!r}"
    assert "语言须为" in said[ZH] and "en, zh" in said[ZH], said[ZH]
    listed = client.get(f"{path}?q=Lingua", headers=auth(demo_tokens[user])).json
    assert listed["items"] == []  # nothing was stored


@pytest.mark.parametrize(("path", "user"), PARTIES)
def test_en_and_zh_are_taken_in_any_case_and_stored_as_their_code(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, user: str
) -> None:
    for name, sent, stored in [("Upper Ltd", "ZH", "zh"), ("Spaced Ltd", " en ", "en")]:
        response = client.post(path, json=body(name, sent), headers=auth(demo_tokens[user]))
        assert response.status_code == 201, response.json
        assert response.json["language"] == stored, (path, sent, response.json)
