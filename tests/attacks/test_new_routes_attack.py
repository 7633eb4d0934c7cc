"""Hostile review of GET /api/operations, POST /api/what-if and the definition page's POST
/definitions/KEY/VERSION/dmn-diff and /what-if: no token or session is refused (401, or a redirect to /login),
the wrong group is 403, a page POST without its CSRF token is 400, crafted bodies and huge numbers are a
clear 4xx (the contract's JSON error on /api), never a 500, and a what-if writes nothing.

Broke (fixed in webui/definitions.py's _edited_tables): a JSON body that was a list or a number, not an
object, was taken as "nothing edited", so the dmn-diff answered 200 with no decisions; now it is a 400 as for
any other malformed "files". Held: everything else below (a billion-laughs or external-entity DMN is a 4xx,
never expanded; an upload's path-like name is only a label, nothing is read or written from it)."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from workflows.store.models import Base

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
AUTHORITY = (BPMN / "approval_authority.dmn").read_text(encoding="utf-8")
RAISED = AUTHORITY.replace("&gt; 100000<", "&gt; 150000<")
KEY = "credit_application"
OUTSIDERS = ("sales1", "collector1", "auditor1")
PERIOD = {"from": "2026-01-01", "to": "2026-03-01"}
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    + ']><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="&lol9;" '
    'namespace="x"/>'
)


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The contract's error object, after checking the status and the shape."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.json["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def what_if(client: FlaskClient, token: str | None, files: dict[str, bytes | str], **fields: Any) -> Any:
    uploads = [(BytesIO(t.encode() if isinstance(t, str) else t), name) for name, t in files.items()]
    form = {"definition_key": KEY, **PERIOD, **fields}
    return client.post(
        "/api/what-if",
        data={"files": uploads, **form},
        content_type="multipart/form-data",
        headers=auth(token) if token else {},
    )


def row_counts(app: Flask) -> dict[str, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


# --- GET /api/operations ----------------------------------------------------------------------------------


def test_operations_without_a_token_is_401(client: FlaskClient) -> None:
    error_of(client.get("/api/operations"), 401)
    error_of(client.get("/api/operations", headers=auth("not-a-token")), 401)


@pytest.mark.parametrize("user", OUTSIDERS + ("owner1",))
def test_operations_is_read_by_any_token_holder(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    answer = client.get("/api/operations", headers=auth(demo_tokens[user]))
    assert answer.status_code == 200
    names = [op["name"] for op in answer.json]
    assert "credit.load_file" in names and len(names) == len(set(names))


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_operations_refuses_writes(client: FlaskClient, demo_tokens: dict[str, str], method: str) -> None:
    answer = getattr(client, method)(
        "/api/operations", json={"typename": "x"}, headers=auth(demo_tokens["owner1"])
    )
    error_of(answer, 405)


def test_operations_ignores_a_hostile_query_string(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    plain = client.get("/api/operations", headers=auth(demo_tokens["owner1"]))
    crafted = client.get(
        "/api/operations?page=-1&per_page=" + str(10**30) + "&typename=x",
        headers=auth(demo_tokens["owner1"]),
    )
    assert crafted.status_code == 200 and crafted.json == plain.json
    nul = client.get("/api/operations?name=%00", headers=auth(demo_tokens["owner1"]))
    assert "NUL" in error_of(nul, 400)["message"]


# --- POST /api/what-if ------------------------------------------------------------------------------------


def test_what_if_without_a_token_is_401(client: FlaskClient) -> None:
    error_of(what_if(client, None, {"approval_authority.dmn": RAISED}), 401)


@pytest.mark.parametrize("user", OUTSIDERS)
def test_what_if_by_the_wrong_group_is_403(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    error_of(what_if(client, demo_tokens[user], {"approval_authority.dmn": RAISED}), 403)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"per_page": str(10**30)}, "per_page"),
        ({"per_page": "-1"}, "per_page"),
        ({"page": "-1"}, "page"),
        ({"page": str(2**63)}, "page"),
        ({"page": "1e3"}, "page"),
        ({"from": "99999-01-01"}, "from"),
        ({"to": "99999-01-01"}, "to"),
        ({"from": "2026-01-01\x00"}, "from"),
        ({"from": "+275760-09-13T00:00:00Z"}, "from"),
        ({"definition_key": ""}, ""),
    ],
)
def test_what_if_crafted_fields_are_a_clear_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], fields: dict[str, str], says: str
) -> None:
    error = error_of_4xx(what_if(client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED}, **fields))
    assert says in error["message"]


def error_of_4xx(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:500]
    return error_of(response, response.status_code)


def test_what_if_of_an_unknown_key_is_404(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    for key in ("no_such_process", "../../etc/passwd", "k" * 120):
        error = error_of(
            what_if(client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED}, definition_key=key),
            404,
        )
        assert error["code"] == "not_found"


def test_what_if_key_with_a_nul_is_400(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    answer = what_if(
        client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED}, definition_key="x\x00y"
    )
    assert "NUL" in error_of(answer, 400)["message"]


def test_what_if_without_files_is_400(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    error_of_4xx(what_if(client, demo_tokens["owner1"], {}))
    answer = client.post(
        "/api/what-if", json={"files": {"typename": "x"}, **PERIOD}, headers=auth(demo_tokens["owner1"])
    )
    error_of_4xx(answer)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("approval_authority.dmn", b"not xml at all"),
        ("approval_authority.dmn", b"\x00\xff\xfe" * 1000),
        ("approval_authority.dmn", BOMB),
        (
            "approval_authority.dmn",
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        ),
        ("approval_authority.txt", RAISED),
        ("approval_authority.dmn", "<a>" * 5000 + "</a>" * 5000),
    ],
)
def test_what_if_hostile_files_are_a_4xx_and_write_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], name: str, content: bytes | str
) -> None:
    before = row_counts(app)
    answer = what_if(client, demo_tokens["owner1"], {name: content})
    error = error_of_4xx(answer)
    assert "lol" * 100 not in json.dumps(answer.json)  # the entities were never expanded
    assert "root:" not in error["message"]
    assert row_counts(app) == before


def test_what_if_path_like_file_name_is_only_a_label(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The upload's name is never a path: the table is read from the body and the name only echoed."""
    before = row_counts(app)
    answer = what_if(client, demo_tokens["owner1"], {"../../etc/passwd.dmn": RAISED})
    assert answer.status_code == 200, answer.json
    assert [t["file"] for t in answer.json["summary"]["tables"]] == ["../../etc/passwd.dmn"]
    assert "root:" not in answer.get_data(as_text=True)
    assert row_counts(app) == before


def test_what_if_huge_dmn_is_refused(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    huge = AUTHORITY.replace("</definitions>", "<!--" + "x" * (15 * 2**20) + "--></definitions>")
    form = {
        "files": FileStorage(BytesIO(huge.encode()), "approval_authority.dmn"),
        "definition_key": KEY,
        **PERIOD,
    }
    # encoded in memory: the test client would spool it to a temporary file it never closes
    boundary, body = encode_multipart(form)
    answer = client.post(
        "/api/what-if",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=auth(demo_tokens["owner1"]),
    )
    error = error_of(answer, 422)
    assert error["code"] == "invalid_definition" and "not well-formed XML" in error["message"]
    over = AUTHORITY.replace("</definitions>", "<!--" + "x" * (17 * 2**20) + "--></definitions>")
    boundary, body = encode_multipart(
        {**form, "files": FileStorage(BytesIO(over.encode()), "approval_authority.dmn")}
    )
    answer = client.post(
        "/api/what-if",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=auth(demo_tokens["owner1"]),
    )
    error_of(answer, 413)  # over MAX_CONTENT_LENGTH (16 MiB)


def test_what_if_of_a_good_table_writes_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    before = row_counts(app)
    answer = what_if(client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED})
    assert answer.status_code == 200, answer.json
    assert row_counts(app) == before


# --- the definition page's POST /definitions/KEY/VERSION/{dmn-diff,what-if} --------------------------------

PAGE_ACTIONS = ("dmn-diff", "what-if")


def page_post(
    browser: FlaskClient, action: str, body: Any, version: Any = 1, key: str = KEY, csrf: bool = True
) -> Any:
    headers = {"X-CSRFToken": csrf_token(browser, "/inbox")} if csrf else {}
    return browser.post(f"/definitions/{key}/{version}/{action}", json=body, headers=headers)


@pytest.mark.parametrize("action", PAGE_ACTIONS)
def test_page_without_a_session_redirects_to_login(client: FlaskClient, action: str) -> None:
    token = csrf_token(client)  # a visitor's CSRF token, so the refusal comes from the missing login
    answer = client.post(
        f"/definitions/{KEY}/1/{action}",
        json={"files": {"approval_authority.dmn": RAISED}},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code in (302, 401)
    if answer.status_code == 302:
        assert "/login" in answer.headers["Location"]


@pytest.mark.parametrize("action", PAGE_ACTIONS)
@pytest.mark.parametrize("user", OUTSIDERS)
def test_page_by_the_wrong_group_is_403(
    app: Flask, demo_tokens: dict[str, str], action: str, user: str
) -> None:
    answer = page_post(logged_in(app, user), action, {"files": {"approval_authority.dmn": RAISED}, **PERIOD})
    assert answer.status_code == 403


@pytest.mark.parametrize("action", PAGE_ACTIONS)
def test_page_without_csrf_is_400(app: Flask, demo_tokens: dict[str, str], action: str) -> None:
    browser = logged_in(app, "owner1")
    before = row_counts(app)
    answer = page_post(browser, action, {"files": {"approval_authority.dmn": RAISED}}, csrf=False)
    assert answer.status_code == 400
    assert row_counts(app) == before


def _nested(depth: int) -> Any:
    value: Any = RAISED
    for _ in range(depth):
        value = {"typename": value}
    return value


PAGE_BODIES = {
    "typename_object": {"files": {"typename": "x"}},
    "files_a_list": {"files": [RAISED]},
    "files_a_string": {"files": RAISED},
    "text_not_a_string": {"files": {"approval_authority.dmn": {"typename": "x"}}},
    "nested_deep": {"files": {"approval_authority.dmn": _nested(200)}},
    "path_like_name": {"files": {"../../etc/passwd.dmn": RAISED}},
    "bpmn_name": {"files": {"credit_application.bpmn": RAISED}},
    "nul_name": {"files": {"approval_authority.dmn\x00": RAISED}},
    "body_a_list": [{"files": {"approval_authority.dmn": RAISED}}],
    "body_a_number": 10**30,
}


@pytest.mark.parametrize("action", PAGE_ACTIONS)
@pytest.mark.parametrize("body", PAGE_BODIES.values(), ids=PAGE_BODIES.keys())
def test_page_crafted_bodies_are_400(app: Flask, demo_tokens: dict[str, str], action: str, body: Any) -> None:
    answer = page_post(logged_in(app, "owner1"), action, body)
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]


@pytest.mark.parametrize("action", PAGE_ACTIONS)
@pytest.mark.parametrize(
    "text",
    [
        "not xml",
        "\x00\x01",
        BOMB,
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    ],
    ids=["not_xml", "nul_bytes", "billion_laughs", "external_entity"],
)
def test_page_hostile_dmn_text_is_a_4xx(
    app: Flask, demo_tokens: dict[str, str], action: str, text: str
) -> None:
    browser = logged_in(app, "owner1")
    before = row_counts(app)
    answer = page_post(browser, action, {"files": {"approval_authority.dmn": text}, **PERIOD})
    assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)[:300]
    assert "lol" * 100 not in answer.get_data(as_text=True)
    assert "root:" not in answer.get_data(as_text=True)
    assert row_counts(app) == before


@pytest.mark.parametrize("action", PAGE_ACTIONS)
@pytest.mark.parametrize(("key", "version"), [(KEY, 2**63), (KEY, 99), ("no_such_process", 1), (KEY, 0)])
def test_page_unknown_key_or_version_is_404(
    app: Flask, demo_tokens: dict[str, str], action: str, key: str, version: int
) -> None:
    answer = page_post(
        logged_in(app, "owner1"),
        action,
        {"files": {"approval_authority.dmn": RAISED}, **PERIOD},
        version,
        key,
    )
    assert answer.status_code == 404, answer.get_data(as_text=True)[:300]


@pytest.mark.parametrize(
    "period",
    [
        {"from": "99999-01-01", "to": "2026-03-01"},
        {"from": "2026-01-01", "to": "99999-01-01"},
        {"from": 10**30, "to": "2026-03-01"},
        {"from": {"typename": "x"}, "to": "2026-03-01"},
        {"from": "2026-01-01\x00", "to": "2026-03-01"},
        {"from": "2025-01-01", "to": "2026-03-01"},
    ],
    ids=["from_year_99999", "to_year_99999", "from_huge_number", "from_object", "from_nul", "over_a_year"],
)
def test_page_what_if_crafted_period_is_400(
    app: Flask, demo_tokens: dict[str, str], period: dict[str, Any]
) -> None:
    answer = page_post(
        logged_in(app, "owner1"), "what-if", {"files": {"approval_authority.dmn": RAISED}, **period}
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]


def test_page_what_if_of_a_good_table_writes_nothing(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = logged_in(app, "owner1")
    before = row_counts(app)
    answer = page_post(browser, "what-if", {"files": {"approval_authority.dmn": RAISED}, **PERIOD})
    assert answer.status_code == 200 and answer.json["ok"] is True, answer.get_data(as_text=True)[:300]
    diff = page_post(browser, "dmn-diff", {"files": {"approval_authority.dmn": RAISED}})
    assert diff.status_code == 200 and diff.json["decisions"], diff.get_data(as_text=True)[:300]
    assert row_counts(app) == before
