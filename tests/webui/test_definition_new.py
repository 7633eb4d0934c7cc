"""A new process from the template (issue 18): the choices checked on the form, the template's XML, validate
and deploy of the edited diagram as version 1 (then started by the lane's group), a taken key refused,
rights."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_definitions_validate_api import EXTERNAL, LAUGHS
from tests.webui.test_pages import csrf_token, logged_in

NEW = {"key": "supplier_onboarding", "name": "Supplier onboarding", "group": "procurement"}


def test_a_new_process_from_the_template_deploys_as_version_1_and_starts(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    assert 'href="/definitions/new"' in owner.get("/definitions").get_data(as_text=True)
    assert owner.get("/definitions/new").status_code == 200
    page = owner.get("/definitions/new/edit", query_string=NEW)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-validate-url="/definitions/new/validate?key=supplier_onboarding"' in text
    template = owner.get("/definitions/new/template.bpmn", query_string=NEW)
    assert template.status_code == 200 and template.mimetype == "application/xml"
    xml = template.get_data(as_text=True)
    assert 'id="supplier_onboarding"' in xml and 'name="procurement"' in xml and "startEvent" in xml
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    checked = owner.post(
        "/definitions/new/validate?key=supplier_onboarding", json={"xml": xml}, headers=headers
    )
    assert checked.get_json() == {"ok": True, "problems": []}
    deployed = owner.post(
        "/definitions/new/deploy?key=supplier_onboarding", json={"xml": xml}, headers=headers
    )
    assert deployed.status_code == 201, deployed.get_json()
    [answer] = deployed.get_json()["deployed"]
    assert (answer["key"], answer["version"]) == ("supplier_onboarding", 1)
    assert answer["url"] == "/definitions/supplier_onboarding/1"
    # Procurement starts it (the lane's group); it runs to its end event.
    started = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_onboarding", "data": {}},
        headers=auth(demo_tokens["buyer1"]),
    )
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["status"] == "completed"
    refused = client.post(
        "/api/process-instances",
        json={"process_key": "supplier_onboarding", "data": {}},
        headers=auth(demo_tokens["sales1"]),
    )
    assert refused.status_code == 403
    # The key is taken now: the form says so, and deploying it again as "new" is a conflict.
    again = owner.get("/definitions/new/edit", query_string=NEW)
    assert again.status_code == 400 and "deployed already" in again.get_data(as_text=True)
    twice = owner.post("/definitions/new/deploy?key=supplier_onboarding", json={"xml": xml}, headers=headers)
    assert twice.status_code == 409 and twice.get_json()["ok"] is False
    assert twice.get_json()["problems"][0]["element_id"] == "supplier_onboarding"


def test_an_invalid_new_diagram_deploys_nothing(app: Flask, demo_tokens: dict[str, str]) -> None:
    owner = logged_in(app, "owner1")
    xml = owner.get("/definitions/new/template.bpmn", query_string=NEW).get_data(as_text=True)
    broken = xml.replace('name="procurement"', 'name="auditor"')  # auditors change nothing
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    checked = owner.post(
        "/definitions/new/validate?key=supplier_onboarding", json={"xml": broken}, headers=headers
    )
    problems = checked.get_json()["problems"]
    assert checked.get_json()["ok"] is False and problems[0]["element_id"] == "supplier_onboarding_start_lane"
    refused = owner.post(
        "/definitions/new/deploy?key=supplier_onboarding", json={"xml": broken}, headers=headers
    )
    assert refused.status_code == 422
    assert owner.get("/definitions/supplier_onboarding/1").status_code == 404


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({**NEW, "key": "Bad-Key"}, "key"),
        ({**NEW, "key": "ab"}, "key"),
        ({**NEW, "key": "x" * 61}, "key"),
        ({**NEW, "name": ""}, "name"),
        ({**NEW, "name": "a\x07b"}, "name"),
        ({**NEW, "name": "a\x00b"}, None),  # NUL: refused before the view (webui/input_checks.py)
        ({**NEW, "name": "n" * 121}, "name"),
        ({**NEW, "group": "auditor"}, "group"),
        ({**NEW, "group": "nobody"}, "group"),
        ({"key": "k\x00ey"}, None),
    ],
)
def test_bad_choices_are_named_on_the_form(
    app: Flask, demo_tokens: dict[str, str], args: dict[str, str], field: str | None
) -> None:
    owner = logged_in(app, "owner1")
    page = owner.get("/definitions/new/edit", query_string=args)
    assert page.status_code == 400
    assert field is None or re.search(
        rf'<div class="field has-error">\s*<label for="f-{field}"', page.get_data(as_text=True)
    )
    assert owner.get("/definitions/new/template.bpmn", query_string=args).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"xml": 5},
        {"xml": ""},
        {"xml": "<a/>", "forms": []},
        {"xml": "<a/>", "forms": {"../x.json": "{}"}},
    ],
    ids=["none", "list", "number", "empty", "forms_list", "forms_path"],
)
def test_bad_posts_are_400(app: Flask, demo_tokens: dict[str, str], body: Any) -> None:
    owner = logged_in(app, "owner1")
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    for action in ("validate", "deploy"):
        answer = owner.post(f"/definitions/new/{action}?key=supplier_onboarding", json=body, headers=headers)
        assert answer.status_code == 400, (action, answer.get_data(as_text=True)[:200])
    assert (
        owner.post("/definitions/new/validate?key=Bad", json={"xml": "<a/>"}, headers=headers).status_code
        == 400
    )
    assert (
        owner.post("/definitions/new/deploy?key=supplier_onboarding", json={"xml": "<a/>"}).status_code == 400
    )


def test_only_process_owners_create(app: Flask, demo_tokens: dict[str, str]) -> None:
    for user in ("auditor1", "sales1"):
        browser = logged_in(app, user)
        assert browser.get("/definitions/new").status_code == 403
        assert browser.get("/definitions/new/edit", query_string=NEW).status_code == 403
    assert app.test_client().get("/definitions/new").status_code == 302


def test_the_panels_previews_work_before_anything_is_deployed(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    page = owner.get("/definitions/new/edit", query_string=NEW).get_data(as_text=True)
    studio = json.loads(html.unescape(re.search(r"data-studio='([^']*)'", page).group(1)))  # type: ignore[union-attr]
    assert studio["previewTimerUrl"] == "/definitions/new/preview/timer"
    assert studio["previewTextsUrl"] == "/definitions/new/preview/texts"
    assert studio["instances"] == []
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    body = {"kind": "timeDuration", "expression": '"P2D"', "start": "2027-01-12 09:00"}
    fired = owner.post(studio["previewTimerUrl"], json=body, headers=headers).get_json()
    assert fired["ok"] is True and fired["fires"] == ["2027-01-14T09:00:00+00:00"]
    texts = {"instance_id": None, "subject": '"Onboard " + "supplier"', "instructions": "Check {{ 1 + 1 }}"}
    said = owner.post(studio["previewTextsUrl"], json=texts, headers=headers).get_json()
    assert said["subject"] == {"ok": True, "text": "Onboard supplier"}
    assert said["instructions"]["ok"] is True and said["instructions"]["text"] == "Check 2"
    # No case of a new process exists: an instance id finds nothing of it.
    other = owner.post(studio["previewTextsUrl"], json={**texts, "instance_id": 1}, headers=headers)
    assert other.status_code == 404
    sales = logged_in(app, "sales1")
    refused = sales.post(studio["previewTimerUrl"], json=body, headers={"X-CSRFToken": csrf_token(sales)})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "xml",
    ["not xml", "<a>\x00</a>", LAUGHS, EXTERNAL, "<a>" * 5000 + "</a>" * 5000, "\ud800"],
    ids=["not_xml", "nul", "billion_laughs", "external_entity", "deep", "lone_surrogate"],
)
def test_hostile_diagrams_are_refused_unexpanded_and_deploy_nothing(
    app: Flask, demo_tokens: dict[str, str], xml: str
) -> None:
    owner = logged_in(app, "owner1")
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    checked = owner.post("/definitions/new/validate?key=hostile_key", json={"xml": xml}, headers=headers)
    deployed = owner.post("/definitions/new/deploy?key=hostile_key", json={"xml": xml}, headers=headers)
    if checked.status_code == 400:  # NUL and a lone surrogate: refused before the view (input_checks)
        assert deployed.status_code == 400
    else:
        assert checked.status_code == 200 and checked.get_json()["ok"] is False
        assert deployed.status_code == 422 and deployed.get_json()["problems"]
    said = checked.get_data(as_text=True) + deployed.get_data(as_text=True)
    assert "lollollol" not in said and "root:" not in said
    assert owner.get("/definitions/hostile_key/1").status_code == 404


def test_a_process_keyed_new_keeps_its_own_edit_page(app: Flask, demo_tokens: dict[str, str]) -> None:
    """The new-process routes carry no key segment, so /definitions/new/1/validate (the edit page of a process
    keyed "new") reaches the edit page's routes, not the new-process ones."""
    owner = logged_in(app, "owner1")
    xml = owner.get("/definitions/new/template.bpmn", query_string={**NEW, "key": "new_x"}).get_data(
        as_text=True
    )
    xml = xml.replace("new_x", "new")
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions/new")}
    deployed = owner.post("/definitions/new/deploy?key=new", json={"xml": xml}, headers=headers)
    assert deployed.status_code == 201, deployed.get_json()
    assert deployed.get_json()["deployed"][0]["url"] == "/definitions/new/1"
    assert owner.get("/definitions/new/1").status_code == 200
    assert owner.get("/definitions/new/1/edit").status_code == 200
    edited = xml.replace('name="Done"', 'name="Finished"')
    checked = owner.post("/definitions/new/1/validate", json={"xml": edited}, headers=headers)
    assert checked.get_json() == {"ok": True, "problems": []}
    again = owner.post("/definitions/new/1/deploy", json={"xml": edited}, headers=headers)
    assert again.status_code == 201 and again.get_json()["deployed"][0]["version"] == 2
    texts = {"instance_id": None, "subject": '"x"'}
    preview = owner.post("/definitions/new/1/preview/texts", json=texts, headers=headers)
    assert preview.get_json()["subject"] == {"ok": True, "text": "x"}
