"""The studio panel's previews (issue 18, webui/studio_previews.py): a task's subject and instructions over an
instance's data with the runtime's sandboxes, a timer's firings for a start date, and new forms deployed with
the diagram. Page routes: session + CSRF, process owners only; crafted input is a 4xx, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, credit_hold_files
from tests.webui.test_pages import START, csrf_token, deploy_credit_hold, logged_in, start_hold
from workflows.store.db import transaction
from workflows.users import add_user

TEXTS = "/definitions/credit_hold/1/preview/texts"
TIMER = "/definitions/credit_hold/1/preview/timer"


@pytest.fixture
def owner(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> tuple[FlaskClient, dict[str, str]]:
    """owner1, also a credit analyst (so credit_hold's instances, offered to analysts, are theirs to read)."""
    deploy_credit_hold(client, demo_tokens)
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner1", groups=["credit_analyst"], now=svc.clock())
    browser = logged_in(app, "owner1")
    return browser, {"X-CSRFToken": csrf_token(browser, "/definitions")}


def test_subject_and_instructions_render_over_an_instance_s_data(
    owner: tuple[FlaskClient, dict[str, str]], client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    browser, headers = owner
    instance = start_hold(client, demo_tokens["sales1"], business_key="CUST-PREVIEW")
    page = browser.get("/definitions/credit_hold/1/edit").get_data(as_text=True)
    assert f"#{instance['id']} CUST-PREVIEW (v1)" in page  # offered in the panel's choice
    body = {
        "instance_id": instance["id"],
        "subject": '"Order " + order_number',
        "instructions": "Amount {{ order_amount }}, limit {{ available_limit }}{{ missing.deep }}.",
    }
    answer = browser.post(TEXTS, json=body, headers=headers).json
    assert answer["subject"] == {"ok": True, "text": f"Order {START['order_number']}"}
    assert answer["instructions"] == {"ok": True, "text": "Amount 1200.5, limit 1000."}
    # No instance: an empty case (a name the data lacks is a problem in a subject, empty in instructions).
    empty = browser.post(TEXTS, json={**body, "instance_id": None}, headers=headers).json
    assert not empty["subject"]["ok"] and "order_number" in empty["subject"]["error"]
    assert empty["instructions"] == {"ok": True, "text": "Amount , limit ."}
    # The sandbox hides what a template may not reach, as on a task.
    unsafe = browser.post(
        TEXTS, json={"instructions": "{{ ''.__class__ }}{{ x.__globals__ }}"}, headers=headers
    )
    assert unsafe.json["instructions"] == {"ok": True, "text": ""}


@pytest.mark.parametrize(
    ("field", "text", "said"),
    [
        ("subject", "__import__('os')", "not allowed"),
        ("subject", "order_number +", "syntax error"),
        ("instructions", "{% for x in %}", "TemplateSyntaxError"),
        # Loops and memory: the script worker's budget (range cap, time, length), as on a task.
        ("instructions", "{% for i in range(10**9) %}x{% endfor %}", "MAX_RANGE"),
        (
            "instructions",
            "{% for i in range(99999) %}{% for j in range(99999) %}xx{% endfor %}{% endfor %}",
            "",
        ),
        ("instructions", "{{ 'x' * 10**9 }}", ""),
    ],
)
def test_a_broken_or_runaway_text_is_a_problem_shown_in_place(
    owner: tuple[FlaskClient, dict[str, str]], field: str, text: str, said: str
) -> None:
    browser, headers = owner
    started = time.monotonic()
    response = browser.post(TEXTS, json={"instance_id": None, field: text}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    outcome = response.json[field]
    assert outcome["ok"] is False and said in outcome["error"], outcome
    assert time.monotonic() - started < 20  # stopped by the budget, not left running


def test_a_timer_computed_from_the_case_fires_by_the_instance_s_data(
    owner: tuple[FlaskClient, dict[str, str]], client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    browser, headers = owner
    instance = start_hold(client, demo_tokens["sales1"])  # order_number "SO-7"
    body = {
        "kind": "timeDuration",
        "expression": '"PT" + order_number[-1] + "H"',
        "start": "2027-01-12 09:00",
    }
    answer = browser.post(TIMER, json={**body, "instance_id": instance["id"]}, headers=headers).json
    assert answer["fires"] == ["2027-01-12T16:00:00+00:00"]
    without = browser.post(TIMER, json=body, headers=headers).json
    assert without["ok"] is False and "order_number" in without["error"]
    assert browser.post(TIMER, json={**body, "instance_id": 999_999}, headers=headers).status_code == 404


def test_timer_firings_for_a_start_date(owner: tuple[FlaskClient, dict[str, str]]) -> None:
    browser, headers = owner

    def fires(kind: str, expression: str, start: str = "2027-01-12 09:00") -> dict[str, Any]:
        body = {"kind": kind, "expression": expression, "start": start}
        response = browser.post(TIMER, json=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return dict(response.json)

    assert fires("timeDuration", '"P2D"')["text"] == "Fires 14 Jan 2027 09:00 UTC for this start date."
    # SpiffWorkflow's calendar: a month from 31 January adds January's 31 days.
    assert fires("timeDuration", '"P1M"', "2027-01-31")["fires"] == ["2027-03-03T00:00:00+00:00"]
    cycle = fires("timeCycle", '"R3/PT1H"')
    assert cycle["fires"] == [f"2027-01-12T{h}:00:00+00:00" for h in (10, 11, 12)]
    assert cycle["text"].startswith(
        "Fires 12 Jan 2027 10:00 UTC for this start date, then 12 Jan 2027 11:00 UTC"
    )
    date = fires("timeDate", '"2027-01-14T09:00:00+01:00"')
    assert date["text"] == "Fires 14 Jan 2027 08:00 UTC, whatever the start date."
    assert fires("timeCycle", '"R0/PT1H"')["text"] == "It never fires (zero repetitions)."
    for kind, expression, said in [
        ("timeDuration", '"P2X"', "not a valid ISO 8601"),
        ("timeDuration", "P2D", "NameError"),  # unquoted: a Python name
        ("timeDuration", '"P99999999Y"', "longer than 100 years"),
        ("nonsense", '"P2D"', "date, a duration or a cycle"),
    ]:
        answer = fires(kind, expression)
        assert answer["ok"] is False and said in answer["error"], (expression, answer)
    past_the_calendar = fires("timeDuration", '"P5D"', "9999-12-30")
    assert past_the_calendar["ok"] is False and "calendar" in past_the_calendar["error"]


CRAFTED = [
    (TEXTS, "not json", 400),
    (TEXTS, [1, 2], 400),
    (TEXTS, {"instance_id": "1"}, 400),
    (TEXTS, {"instance_id": True}, 400),
    (TEXTS, {"instance_id": 2**63}, 400),
    (TEXTS, {"instance_id": -1}, 400),
    (TEXTS, {"instance_id": 999_999}, 404),
    (TEXTS, {"subject": ["x"]}, 400),
    (TEXTS, {"instructions": "x" * 20_001}, 400),
    (TIMER, {"kind": "timeDuration", "expression": '"P1D"', "start": "2027-02-30"}, 400),
    (TIMER, {"kind": "timeDuration", "expression": '"P1D"', "start": "tomorrow"}, 400),
    (TIMER, {"kind": "timeDuration", "expression": '"P1D"', "start": "2027-01-12T09:00+05:00"}, 400),
    (TIMER, {"kind": 7, "expression": '"P1D"'}, 400),
    ("/definitions/credit_hold/9/preview/timer", {"kind": "timeDuration", "expression": '"P1D"'}, 404),
    ("/definitions/nope/1/preview/texts", {"subject": "1"}, 404),
]


@pytest.mark.parametrize(("url", "body", "status"), CRAFTED)
def test_crafted_requests_are_refused_as_4xx(
    owner: tuple[FlaskClient, dict[str, str]], url: str, body: Any, status: int
) -> None:
    browser, headers = owner
    if isinstance(body, str):
        response = browser.post(url, data=body, headers={**headers, "Content-Type": "application/json"})
    else:
        response = browser.post(url, json=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)


def test_an_instance_the_owner_may_not_read_or_of_another_process_is_not_previewed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deploy_credit_hold(client, demo_tokens)
    instance = start_hold(client, demo_tokens["sales1"])
    browser = logged_in(app, "owner1")  # a process owner only: not involved in the instance
    headers = {"X-CSRFToken": csrf_token(browser, "/definitions")}
    assert f"#{instance['id']}" not in browser.get("/definitions/credit_hold/1/edit").get_data(as_text=True)
    body = {"instance_id": instance["id"], "subject": "order_number"}
    assert browser.post(TEXTS, json=body, headers=headers).status_code == 403
    assert browser.post(TEXTS, json={"subject": "1"}).status_code == 400  # no CSRF token


def test_a_form_made_from_a_field_list_deploys_with_the_diagram(
    owner: tuple[FlaskClient, dict[str, str]], app: Flask
) -> None:
    browser, headers = owner
    diagram = next(p for p in credit_hold_files() if p.suffix == ".bpmn").read_text()
    old = next(p.name for p in credit_hold_files() if p.suffix == ".json")
    xml = diagram.replace(f'value="{old}"', 'value="hold_note.json"')
    assert xml != diagram
    schema = {"title": "hold note", "type": "object", "properties": {"note": {"type": "string"}}}
    forms = {"hold_note.json": json.dumps(schema)}
    missing = browser.post("/definitions/credit_hold/1/validate", json={"xml": xml}, headers=headers).json
    assert not missing["ok"] and "hold_note.json" in missing["problems"][0]["message"]
    body = {"xml": xml, "forms": forms}
    assert browser.post("/definitions/credit_hold/1/validate", json=body, headers=headers).json["ok"]
    broken = {
        "xml": xml,
        "forms": {"hold_note.json": '{"type": "object", "properties": {"note": {"type": 7}}}'},
    }
    refused = browser.post("/definitions/credit_hold/1/deploy", json=broken, headers=headers)
    assert refused.status_code == 422 and "hold_note.json" in refused.get_data(as_text=True)
    deployed = browser.post("/definitions/credit_hold/1/deploy", json=body, headers=headers)
    assert deployed.status_code == 201, deployed.get_data(as_text=True)
    svc = app.extensions["creditflow"]
    from webui.diagrams import deployment_files
    from workflows.definitions.versions import get_definition

    with svc.rt.factory() as session:
        files = deployment_files(session, get_definition(session, "credit_hold", 2))
    assert json.loads(files["hold_note.json"]) == schema and old in files


@pytest.mark.parametrize(
    "forms",
    [
        [],
        {"../x.json": "{}"},
        {"a/b.json": "{}"},
        {"x.bpmn": "{}"},
        {"x.json": 7},
        {"x.json": "x" * (256 * 1024 + 1)},
        {f"f{i}.json": "{}" for i in range(21)},
    ],
)
def test_crafted_forms_are_refused(owner: tuple[FlaskClient, dict[str, str]], forms: Any) -> None:
    browser, headers = owner
    diagram = next(p for p in credit_hold_files() if p.suffix == ".bpmn").read_text()
    body = {"xml": diagram, "forms": forms}
    assert browser.post("/definitions/credit_hold/1/deploy", json=body, headers=headers).status_code == 400


def test_an_existing_form_is_not_replaced_through_forms(
    owner: tuple[FlaskClient, dict[str, str]], demo_tokens: dict[str, str]
) -> None:
    browser, headers = owner
    diagram = next(p for p in credit_hold_files() if p.suffix == ".bpmn").read_text()
    old = next(p.name for p in credit_hold_files() if p.suffix == ".json")
    body = {"xml": diagram, "forms": {old: "{}"}}
    response = browser.post("/definitions/credit_hold/1/deploy", json=body, headers=headers)
    assert response.status_code == 400 and "already deployed" in response.get_data(as_text=True)
    assert auth(demo_tokens["owner1"])  # the API token is untouched by the page's session
