"""POST /api/definitions/validate (issue 18): the deploy's checks on uploaded files, nothing deployed; the
problems name file, line and element id, with the sentence in the caller's language; bad input is a 4xx."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.e2e.test_browser import deploy_shipped
from tests.helpers import ACCEPTANCE, auth
from workflows.store.models import Deployment, ProcessDefinition

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "broken"
HAN = re.compile(r"[\u4e00-\u9fff]")
URL = "/api/definitions/validate"
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    + ']><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" name="&lol9;"/>'
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'


def _post(client: FlaskClient, token: str, files: dict[str, bytes], language: str = "en", **form: str) -> Any:
    return client.post(
        URL,
        data={"files": [(BytesIO(data), name) for name, data in files.items()], **form},
        headers={**auth(token), "Accept-Language": language},
        content_type="multipart/form-data",
    )


def _stored(app: Flask) -> tuple[int, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Deployment)) or 0,
            session.scalar(select(func.count()).select_from(ProcessDefinition)) or 0,
        )


def test_a_valid_bundle_is_ok_and_nothing_is_deployed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    before = _stored(app)
    files = {p.name: p.read_bytes() for p in sorted(ACCEPTANCE.glob("*"))}
    response = _post(client, demo_tokens["owner1"], files)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"ok": True, "problems": []}
    assert _stored(app) == before  # validated, not deployed
    assert client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).get_json() == []


def test_problems_name_file_line_element_and_speak_the_callers_language(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    files = {"bad_condition.bpmn": (BROKEN / "bad_condition.bpmn").read_bytes()}
    en = _post(client, demo_tokens["owner1"], files)
    zh = _post(client, demo_tokens["owner1"], files, "zh-CN,zh;q=0.9")
    assert en.status_code == zh.status_code == 200
    en_problems, zh_problems = en.get_json()["problems"], zh.get_json()["problems"]
    assert en.get_json()["ok"] is False and en_problems
    for english, chinese in zip(en_problems, zh_problems, strict=True):
        assert (english["file"], english["line"], english["element_id"]) == (
            chinese["file"],
            chinese["line"],
            chinese["element_id"],
        )
        assert english["file"] == "bad_condition.bpmn" and english["line"] > 0
        assert (
            english["text"]
            == f"bad_condition.bpmn:{english['line']}: {english['element_id']}: " + english["message"]
        )
        assert not HAN.search(english["message"])
    assert any(HAN.search(p["message"]) for p in zh_problems), zh_problems
    # The same problems deploy reports (422), line for line.
    deployed = client.post(
        "/api/process-definitions",
        data={"files": [(BytesIO(files["bad_condition.bpmn"]), "bad_condition.bpmn")]},
        headers=auth(demo_tokens["owner1"]),
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 422
    assert deployed.get_json()["error"]["problems"] == [p["text"] for p in en_problems]


def test_an_edited_table_is_checked_with_the_deployed_versions_other_files(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deploy_shipped(app, "credit_application")
    owner = demo_tokens["owner1"]
    table = (ROOT / "bpmn" / "approval_authority.dmn").read_bytes()
    alone = _post(client, owner, {"approval_authority.dmn": table})
    assert alone.status_code == 200 and alone.get_json()["ok"] is False  # no executable process alone
    edited = table.replace(b"100000", b"150000")  # the manager's threshold raised
    assert edited != table
    with_version = _post(
        client, owner, {"approval_authority.dmn": edited}, definition_key="credit_application"
    )
    assert with_version.get_json() == {"ok": True, "problems": []}
    broken = _post(
        client,
        owner,
        {"approval_authority.dmn": b"<definitions"},
        definition_key="credit_application",
        version="1",
    )
    problems = broken.get_json()["problems"]
    assert broken.get_json()["ok"] is False
    assert problems[0]["file"] == "approval_authority.dmn" and problems[0]["line"] == 1
    assert {p["file"] for p in problems} <= {"approval_authority.dmn", "credit_application.bpmn"}
    assert _post(client, owner, {"x.dmn": table}, definition_key="no_such_process").status_code == 404
    over = _post(client, owner, {"x.dmn": table}, definition_key="credit_application", version="2147483648")
    assert over.status_code == 400, (
        over.get_json()
    )  # beyond an INTEGER: refused alike on SQLite and PostgreSQL
    assert (
        _post(client, owner, {"x.dmn": table}, definition_key="credit_application", version="9").status_code
        == 404
    )


@pytest.mark.parametrize("user", ["sales1", "auditor1", "analyst1"])
def test_only_process_owners_may_validate(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    files = {"bad_condition.bpmn": (BROKEN / "bad_condition.bpmn").read_bytes()}
    assert _post(client, demo_tokens[user], files).status_code == 403
    assert client.post(URL, data={"files": [(BytesIO(b"x"), "a.bpmn")]}).status_code == 401
    assert _post(client, demo_tokens["admin"], files).status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        "not xml at all",
        "<definitions>\x00</definitions>",
        LAUGHS,
        EXTERNAL,
        '<?xml version="1.0" encoding="latin-1"?><d name="\xe9"/>',
        "<a>" * 5000 + "</a>" * 5000,
    ],
    ids=["not_xml", "nul", "billion_laughs", "external_entity", "latin1", "deep"],
)
def test_hostile_files_are_problems_never_expanded_nor_a_500(
    client: FlaskClient, demo_tokens: dict[str, str], text: str
) -> None:
    data = text.encode("latin-1") if "latin-1" in text else text.encode("utf-8")
    response = _post(client, demo_tokens["owner1"], {"hostile.bpmn": data})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["ok"] is False and body["problems"]
    text_said = response.get_data(as_text=True)
    assert "lollollol" not in text_said and "root:" not in text_said


def test_bad_requests_are_4xx(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    headers = auth(demo_tokens["owner1"])
    assert client.post(URL, headers=headers).status_code == 400  # nothing uploaded
    assert client.post(URL, headers=headers, json={"xml": "<a/>"}).status_code == 400  # JSON, not multipart
    as_text = client.post(URL, headers=headers, data={"files": "<a/>"}, content_type="multipart/form-data")
    assert as_text.status_code == 400  # a text field, not a file
    many = {f"f{i}.json": b"{}" for i in range(101)}
    assert _post(client, demo_tokens["owner1"], many).status_code == 400
    one = {"a.bpmn": b"<a/>"}
    assert _post(client, demo_tokens["owner1"], one, definition_key="x" * 121).status_code == 400
    assert _post(client, demo_tokens["owner1"], one, definition_key="k\x00").status_code == 400
    assert _post(client, demo_tokens["owner1"], one, definition_key="k", version="1e3").status_code == 400
    assert _post(client, demo_tokens["owner1"], one, definition_key="k", version="-1").status_code == 400
    # encoded in memory: the test client would spool a big upload to a temporary file it never closes
    huge = FileStorage(BytesIO(b"<a>" + b" " * (17 * 1024 * 1024) + b"</a>"), "huge.bpmn")
    boundary, body = encode_multipart({"files": huge})
    answer = client.post(
        URL, data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=headers
    )
    assert answer.status_code == 413 and answer.get_json()["error"]["code"]
