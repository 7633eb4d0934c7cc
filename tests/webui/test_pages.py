"""The web UI through Flask's test client: login, inbox, task pages, instances, start forms, definitions."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.conftest import SteppingClock
from tests.helpers import ACCEPTANCE, FIXTURES, auth, credit_hold_files, upload
from webui.schema_forms import form_widgets
from workflows.engine import runner
from workflows.store.models import ProcessDefinition
from workflows.store.sink_tables import SinkMessage
from workflows.users import Actor, add_user

START = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}
MARKUP = "<script>alert('x')</script>"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers -------------------------------------------------------------------------------------------


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the session, scraped from a form on `path` as a browser would see it."""
    found = CSRF_INPUT.search(client.get(path).get_data(as_text=True))
    assert found, f"no csrf_token input on {path}"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = "demo") -> TestResponse:
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def logged_in(app: Flask, username: str) -> FlaskClient:
    """A fresh browser-like client with its own session cookie."""
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def deploy_credit_hold(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = upload(client, tokens["owner1"], credit_hold_files())
    assert response.status_code == 201, response.json


def start_hold(client: FlaskClient, token: str, business_key: str = "CUST-1", **data: Any) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": business_key, "data": {**START, **data}},
        headers=auth(token),
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def review_task_id(instance: dict[str, Any]) -> int:
    return next(
        int(t["id"]) for t in instance["tasks"] if t["name"] == "review_hold" and t["status"] == "open"
    )


def text_of(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def field_block(page: str, name: str) -> str:
    """The HTML of one form field's wrapper (input, label and inline error)."""
    found = re.search(rf'<div class="field[^"]*" data-field="{name}">(.*?)\n</div>', page, re.S)
    assert found, f"no field {name!r} on the page"
    return found.group(1)


@pytest.fixture
def hold(client: FlaskClient, demo_tokens: dict[str, str]) -> dict[str, Any]:
    """credit_hold deployed and one instance started by sales1, waiting on the analysts' review."""
    deploy_credit_hold(client, demo_tokens)
    return start_hold(client, demo_tokens["sales1"], customer_name="Kunde GmbH")


# --- login and CSRF ------------------------------------------------------------------------------------


def test_wrong_password_stays_on_login_with_an_error(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    response = login(client, "analyst1", "wrong")
    assert response.status_code in (200, 401)
    page = text_of(response)
    assert "Unknown user name or wrong password." in page
    assert 'name="username"' in page and 'name="password"' in page
    assert client.get("/inbox").status_code == 302  # still not logged in


def test_login_lands_in_inbox_and_logout_is_a_post(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    response = login(client, "analyst1")
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    assert client.get("/logout").status_code == 405
    token = csrf_token(client, "/inbox")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/inbox").status_code == 302


def test_post_without_csrf_token_is_refused_with_400(
    client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    assert client.post("/login", data={"username": "analyst1", "password": "demo"}).status_code == 400
    login(client, "analyst1")
    task_id = review_task_id(hold)
    for path, data in [
        (f"/inbox/{task_id}/claim", {}),
        (f"/tasks/{task_id}", {"decision": "keep"}),
        ("/logout", {}),
        ("/start/credit_hold", {"data": "{}"}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "reload the page" in text_of(response)
    assert client.get(f"/api/tasks/{task_id}", headers=auth("x")).status_code == 401  # the API is not CSRF'd


# --- inbox ---------------------------------------------------------------------------------------------


def test_inbox_shows_only_tasks_of_my_groups(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    page = text_of(analyst.get("/inbox"))
    assert "Review credit hold" in page and "Kunde GmbH" in page and "credit_analyst" in page
    assert f"/tasks/{review_task_id(hold)}" in page
    assert "1 open task" in page
    for other in ("sales1", "manager1"):
        assert "Nothing waits for you" in text_of(logged_in(app, other).get("/inbox"))


def test_inbox_filters_sort_page_and_answer_htmx_with_the_results_only(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    deploy_credit_hold(client, demo_tokens)
    start_hold(client, demo_tokens["sales1"], customer_name="Early Ltd")
    app_clock.advance(days=2)  # the first review (due in one day) is overdue now
    start_hold(client, demo_tokens["sales1"], "CUST-2", customer_name="Late Ltd")
    analyst = logged_in(app, "analyst1")

    overdue = text_of(analyst.get("/inbox?overdue=1"))
    assert "Early Ltd" in overdue and "Late Ltd" not in overdue
    assert 'class="overdue"' in overdue and "overdue</strong>" in overdue
    search = text_of(analyst.get("/inbox?q=late"))
    assert "Late Ltd" in search and "Early Ltd" not in search
    assert "Nothing waits for you" in text_of(analyst.get("/inbox?process=nope"))
    assert "Nothing waits for you" in text_of(analyst.get("/inbox?group=sales"))
    newest = text_of(analyst.get("/inbox?sort=-created"))
    assert newest.index("Late Ltd") < newest.index("Early Ltd")
    by_due = text_of(analyst.get("/inbox"))
    assert by_due.index("Early Ltd") < by_due.index("Late Ltd")

    fragment = analyst.get("/inbox?q=late", headers={"HX-Request": "true", "HX-Target": "inbox-results"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True) and "Late Ltd" in text_of(fragment)

    app.extensions["creditflow"].rt.settings = app.extensions["creditflow"].rt.settings.replace(
        "web", page_size=1
    )
    first, second = text_of(analyst.get("/inbox")), text_of(analyst.get("/inbox?page=2"))
    assert "Page 1 of 2" in first and "Early Ltd" in first and "Late Ltd" not in first
    assert "Late Ltd" in second and "Early Ltd" not in second


def test_claim_and_unclaim_in_place_return_the_row(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    task_id = review_task_id(hold)
    token = csrf_token(analyst, "/inbox")
    htmx = {"HX-Request": "true", "X-CSRFToken": token}

    claimed = analyst.post(f"/inbox/{task_id}/claim", headers=htmx)
    row = claimed.get_data(as_text=True)
    assert claimed.status_code == 200
    assert f'<tr id="task-{task_id}"' in row and "<html" not in row
    assert "analyst1" in row and ">Unclaim</button>" in row
    api_task = client.get(f"/api/tasks/{task_id}", headers=auth(demo_tokens["analyst1"])).json
    assert api_task["assignee"] == "analyst1"

    # A colleague's claim on it is refused in place: the row comes back with the sentence.
    with app.extensions["creditflow"].rt.factory() as session, session.begin():
        add_user(session, "analyst2", groups=["credit_analyst"], now=datetime.now(UTC), password="pw2")
    colleague = app.test_client()
    login(colleague, "analyst2", "pw2")
    refused = colleague.post(
        f"/inbox/{task_id}/claim",
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(colleague, "/inbox")},
    )
    assert refused.status_code == 200
    assert f"Task {task_id} is claimed by analyst1." in text_of(refused)

    released = analyst.post(f"/inbox/{task_id}/unclaim", headers=htmx).get_data(as_text=True)
    assert ">Claim</button>" in released and f'<tr id="task-{task_id}"' in released

    # Without htmx the same form posts and redirects back, with a confirmation.
    plain = analyst.post(f"/inbox/{task_id}/claim", data={"csrf_token": token, "next": "/inbox?q=x"})
    assert plain.status_code == 302 and plain.headers["Location"] == "/inbox?q=x"
    assert "You claimed task" in text_of(analyst.get("/inbox"))


# --- task page -----------------------------------------------------------------------------------------


def test_task_page_shows_case_diagram_and_inputs_named_like_the_schema(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    task_id = review_task_id(hold)
    response = analyst.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Order SO-7 exceeds the available limit." in page  # instructions with {{ order_number }}
    assert "Kunde GmbH" in page and "1,200.50" in page  # case data, money formatted
    assert "instance_started" in page.replace(" ", "_") or "instance started" in page
    decision = field_block(page, "decision")
    assert decision.count('type="radio" name="decision"') == 2 and "required" in decision
    assert 'value="release"' in decision and 'value="keep"' in decision
    amount = field_block(page, "release_amount")
    assert 'type="number" step="any"' in amount and 'name="release_amount"' in amount
    assert '<textarea rows="4" id="f-comment" name="comment"' in field_block(page, "comment")

    diagram_url = "/definitions/credit_hold/1/diagram.bpmn"
    assert f'data-xml-url="{diagram_url}?names=en"' in page  # the viewer's labels in the page's language
    markers = html.unescape(re.search(r"data-markers='([^']*)'", page).group(1))  # type: ignore[union-attr]
    assert '"cf-current": ["review_hold"]' in markers
    xml = analyst.get(diagram_url)
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b'id="review_hold"' in xml.data
    assert "sandbox" in xml.headers["Content-Security-Policy"]
    assert logged_in(app, "collector1").get(diagram_url).status_code == 403


def test_invalid_submit_is_422_with_the_error_next_to_its_field(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    task_id = review_task_id(hold)
    token = csrf_token(analyst, f"/tasks/{task_id}")
    response = analyst.post(
        f"/tasks/{task_id}", data={"csrf_token": token, "decision": "release", "comment": "kept text"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    amount = field_block(page, "release_amount")
    assert 'class="field-error" id="err-release_amount"' in amount and "required" in amount
    assert "field-error" not in field_block(page, "decision")
    assert "checked" in field_block(page, "decision").split('value="release"')[1].split(">")[0]
    assert "kept text" in field_block(page, "comment")  # what the user typed survives

    not_a_number = analyst.post(
        f"/tasks/{task_id}", data={"csrf_token": token, "decision": "release", "release_amount": "lots"}
    )
    assert not_a_number.status_code == 422
    assert "Must be a number." in field_block(not_a_number.get_data(as_text=True), "release_amount")


def test_valid_submit_returns_to_inbox_with_a_confirmation(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    task_id = review_task_id(hold)
    token = csrf_token(analyst, f"/tasks/{task_id}")
    response = analyst.post(
        f"/tasks/{task_id}",
        data={"csrf_token": token, "decision": "release", "release_amount": "200.50", "comment": "ok"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    inbox = text_of(analyst.get("/inbox"))
    assert "Done: “Review credit hold” (Kunde GmbH" in inbox
    assert "Nothing waits for you" in inbox
    task = client.get(f"/api/tasks/{task_id}", headers=auth(demo_tokens["analyst1"])).json
    assert task["status"] == "completed" and task["completed_by"] == "analyst1"
    instance = client.get(f"/api/process-instances/{hold['id']}", headers=auth(demo_tokens["admin"])).json
    assert instance["data"]["release_amount"] == "200.50"  # the form's string became an exact Decimal


def test_four_eyes_refusal_shows_the_sentence(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deploy_credit_hold(client, demo_tokens)
    instance = start_hold(client, demo_tokens["admin"])  # admin started it, so admin may not review it
    admin = logged_in(app, "admin")
    task_id = review_task_id(instance)
    token = csrf_token(admin, f"/tasks/{task_id}")
    response = admin.post(f"/tasks/{task_id}", data={"csrf_token": token, "decision": "keep"})
    assert response.status_code == 403
    assert "Four-eyes rule: admin started this case and may not complete 'Review credit hold'." in text_of(
        response
    )


def test_task_completed_meanwhile_says_by_whom(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    analyst = logged_in(app, "analyst1")
    task_id = review_task_id(hold)
    token = csrf_token(analyst, f"/tasks/{task_id}")
    svc = app.extensions["creditflow"]
    colleague = Actor("analyst2", frozenset({"credit_analyst"}))
    runner.complete_task(svc.rt, task_id, {"decision": "keep"}, actor=colleague, now=svc.clock())
    response = analyst.post(f"/tasks/{task_id}", data={"csrf_token": token, "decision": "keep"})
    assert response.status_code == 409
    assert f"Task {task_id} was already completed by analyst2 at" in text_of(response)


# --- definitions workbench -----------------------------------------------------------------------------


def test_definitions_are_for_process_owners_only(app: Flask, demo_tokens: dict[str, str]) -> None:
    sales = logged_in(app, "sales1")
    assert sales.get("/definitions").status_code == 403
    assert ">Definitions</a>" not in sales.get("/inbox").get_data(as_text=True)
    owner = logged_in(app, "owner1")
    assert ">Definitions</a>" in owner.get("/inbox").get_data(as_text=True)
    assert owner.get("/definitions").status_code == 200
    assert ">Definitions</a>" in logged_in(app, "admin").get("/inbox").get_data(as_text=True)


def _upload_page(client: FlaskClient, paths: list[Path]) -> TestResponse:
    token = csrf_token(client, "/definitions")
    files = [(p.open("rb"), p.name) for p in paths]
    try:
        return client.post(
            "/definitions/upload",
            data={"csrf_token": token, "files": files},
            content_type="multipart/form-data",
        )
    finally:
        for fh, _ in files:
            fh.close()


def _definition_count(app: Flask) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition)) or 0


def test_broken_upload_lists_each_problem_and_deploys_nothing(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    response = _upload_page(
        owner, [FIXTURES / "broken" / "dangling_flow.bpmn", FIXTURES / "broken" / "bad_timer.bpmn"]
    )
    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was deployed" in page
    lines = re.findall(r"<li><code>([^<]+)</code></li>", page)
    assert "dangling_flow.bpmn:29: to_review_application: the sequence flow's targetRef" in "\n".join(lines)
    assert all(re.match(r"^[\w.]+:\d+: [\w-]+: .+", line) for line in lines), lines
    assert _definition_count(app) == 0


def test_acceptance_upload_creates_version_1(app: Flask, demo_tokens: dict[str, str]) -> None:
    owner = logged_in(app, "owner1")
    response = _upload_page(owner, credit_hold_files())
    assert response.status_code == 302
    page = text_of(owner.get(response.headers["Location"]))
    assert "Deployed credit_hold version 1." in page
    assert "/definitions/credit_hold/1" in page and "owner1" in page
    assert _definition_count(app) == 1
    detail = owner.get("/definitions/credit_hold/1")
    assert detail.status_code == 200 and "credit_hold_review.json" in text_of(detail)
    assert owner.get("/definitions/credit_hold/1/edit").status_code == 200


def test_modeler_endpoints_validate_and_deploy_edited_xml(app: Flask, demo_tokens: dict[str, str]) -> None:
    owner = logged_in(app, "owner1")
    _upload_page(owner, credit_hold_files())
    headers = {"X-CSRFToken": csrf_token(owner, "/definitions")}
    xml = (ACCEPTANCE / "credit_hold.bpmn").read_text()
    broken = xml.replace('targetRef="review_hold"', 'targetRef="review_hol"')
    checked = owner.post("/definitions/credit_hold/1/validate", json={"xml": broken}, headers=headers).json
    assert not checked["ok"] and "to_review_hold" in [p["element_id"] for p in checked["problems"]]
    refused = owner.post("/definitions/credit_hold/1/deploy", json={"xml": broken}, headers=headers)
    assert refused.status_code == 422 and _definition_count(app) == 1

    renamed = xml.replace('name="Review credit hold"', 'name="Check credit hold"')
    assert owner.post("/definitions/credit_hold/1/validate", json={"xml": renamed}, headers=headers).json[
        "ok"
    ]
    deployed = owner.post("/definitions/credit_hold/1/deploy", json={"xml": renamed}, headers=headers)
    assert deployed.status_code == 201
    assert deployed.json["deployed"][0]["version"] == 2
    assert (
        owner.post("/definitions/credit_hold/1/deploy", json={"xml": renamed}).status_code == 400
    )  # no CSRF


# --- instances and start forms -------------------------------------------------------------------------


def test_instances_list_filters_and_detail(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], hold: dict[str, Any]
) -> None:
    start_hold(client, demo_tokens["sales1"], "CUST-2")
    sales = logged_in(app, "sales1")
    listing = text_of(sales.get("/instances?business_key=CUST-2"))
    assert "CUST-2" in listing and "CUST-1" not in listing and "1 instance" in listing
    assert "2 instances" in text_of(sales.get("/instances?process=credit_hold&status=running"))
    assert "No instances" in text_of(sales.get("/instances?status=completed"))
    detail = text_of(sales.get(f"/instances/{hold['id']}"))
    assert "Review credit hold" in detail and "Kunde GmbH" in detail and "instance started" in detail
    assert "data-bpmn-viewer" in detail and "Retry" not in detail
    assert logged_in(app, "collector1").get(f"/instances/{hold['id']}").status_code == 403


def _failed_instance(client: FlaskClient, tokens: dict[str, str]) -> dict[str, Any]:
    deploy_credit_hold(client, tokens)
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "data": {"order_number": "SO-9"}},  # the script lacks its inputs
        headers=auth(tokens["sales1"]),
    ).json
    assert started["status"] == "error"
    return dict(started)


def test_only_admins_see_and_use_retry(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    failed = _failed_instance(client, demo_tokens)
    sales = logged_in(app, "sales1")
    page = text_of(sales.get(f"/instances/{failed['id']}"))
    assert "compute_shortfall" in page and "Retry the failed step" not in page
    token = csrf_token(sales, f"/instances/{failed['id']}")
    assert sales.post(f"/instances/{failed['id']}/retry", data={"csrf_token": token}).status_code == 403
    assert "Retry the failed step" in text_of(logged_in(app, "admin").get(f"/instances/{failed['id']}"))


def test_admin_retry_of_a_still_failing_step_records_a_new_incident(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    failed = _failed_instance(client, demo_tokens)
    admin = logged_in(app, "admin")
    token = csrf_token(admin, f"/instances/{failed['id']}")
    response = admin.post(f"/instances/{failed['id']}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Retried credit_hold" in text_of(admin.get(response.headers["Location"]))


def test_start_form_with_json_data(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    deploy_credit_hold(client, demo_tokens)
    sales = logged_in(app, "sales1")
    assert "credit_hold" in text_of(sales.get("/start"))
    assert ">Start</a>" in sales.get("/inbox").get_data(as_text=True)
    assert ">Start</a>" not in logged_in(app, "collector1").get("/inbox").get_data(as_text=True)
    assert logged_in(app, "collector1").get("/start/credit_hold").status_code == 403
    token = csrf_token(sales, "/start/credit_hold")
    bad = sales.post("/start/credit_hold", data={"csrf_token": token, "data": "{nope"})
    assert bad.status_code == 422 and "Not valid JSON" in text_of(bad)
    good = sales.post(
        "/start/credit_hold",
        data={
            "csrf_token": token,
            "business_key": "CUST-7",
            "data": '{"order_amount": 10.5, "available_limit": 5}',
        },
    )
    assert good.status_code == 302 and good.headers["Location"].startswith("/instances/")
    page = text_of(sales.get(good.headers["Location"]))
    assert "Started credit_hold #" in page and "CUST-7" in page and "5.50" in page  # shortfall as money


def test_start_form_from_the_deployments_start_schema(
    app: Flask, tmp_path: Path, demo_tokens: dict[str, str]
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for path in credit_hold_files():
        (bundle / path.name).write_bytes(path.read_bytes())
    (bundle / "credit_hold_start.json").write_text(
        '{"type": "object", "required": ["order_amount", "available_limit", "order_number"], "properties": {'
        '"order_number": {"type": "string", "title": "Order"},'
        '"order_amount": {"type": "number", "title": "Order amount"},'
        '"available_limit": {"type": "number"}}}'
    )
    owner = logged_in(app, "owner1")
    assert _upload_page(owner, sorted(bundle.iterdir())).status_code == 302
    sales = logged_in(app, "sales1")
    page = sales.get("/start/credit_hold").get_data(as_text=True)
    assert 'type="number" step="any"' in field_block(page, "order_amount")
    token = csrf_token(sales, "/start/credit_hold")
    missing = sales.post("/start/credit_hold", data={"csrf_token": token, "order_amount": "12"})
    assert missing.status_code == 422
    assert "This field is required." in field_block(missing.get_data(as_text=True), "order_number")
    started = sales.post(
        "/start/credit_hold",
        data={"csrf_token": token, "order_number": "SO-1", "order_amount": "12", "available_limit": "2"},
    )
    assert started.status_code == 302


# --- escaping ------------------------------------------------------------------------------------------


def test_markup_in_subjects_comments_and_keys_is_shown_as_text_everywhere(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deploy_credit_hold(client, demo_tokens)
    instance = start_hold(client, demo_tokens["sales1"], MARKUP, customer_name=MARKUP, order_number=MARKUP)
    done = start_hold(client, demo_tokens["sales1"], "CUST-9", customer_name="<b>Escaped</b> Co")
    analyst = logged_in(app, "analyst1")
    token = csrf_token(analyst, "/inbox")
    analyst.post(
        f"/tasks/{review_task_id(done)}", data={"csrf_token": token, "decision": "keep", "comment": MARKUP}
    )
    admin = logged_in(app, "admin")
    pages = {
        "inbox": analyst.get("/inbox"),
        "task": analyst.get(f"/tasks/{review_task_id(instance)}"),
        "done task": analyst.get(f"/tasks/{review_task_id(done)}"),
        "instance": admin.get(f"/instances/{instance['id']}"),
        "done instance": admin.get(f"/instances/{done['id']}"),
        "instances": admin.get("/instances"),
        "inbox search": analyst.get("/inbox", query_string={"q": MARKUP}),
    }
    for name, response in pages.items():
        body = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "<script>alert" not in body and "<b>Escaped" not in body, name
    assert "&lt;script&gt;alert(" in pages["task"].get_data(as_text=True)
    assert "&lt;b&gt;Escaped&lt;/b&gt; Co" in pages["inbox"].get_data(as_text=True)
    # The completion's submitted data, flattened and labelled; what was typed sits in data-value.
    assert 'comment: <span data-value="">&lt;script&gt;' in pages["done instance"].get_data(as_text=True)


# --- mail ----------------------------------------------------------------------------------------------


def test_mail_shows_own_messages_with_the_html_body_sandboxed(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = (
        "Decision <i>ready</i>",
        "creditflow@example.com",
        "analyst1@example.com",
    )
    mail.set_content("Plain body")
    mail.add_alternative(f"<p>Hello</p>{MARKUP}", subtype="html")
    with app.extensions["creditflow"].rt.factory() as session, session.begin():
        stored = SinkMessage(
            received_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            mail_from="creditflow@example.com",
            rcpt_to="analyst1@example.com",
            subject=str(mail["Subject"]),
            message_id="<m1@example.com>",
            raw=mail.as_string(),
        )
        session.add(stored)
        session.flush()
        message_id = stored.id
    analyst = logged_in(app, "analyst1")
    listing = analyst.get("/mail").get_data(as_text=True)
    assert "Decision &lt;i&gt;ready&lt;/i&gt;" in listing and f"/mail/{message_id}" in listing
    page = analyst.get(f"/mail/{message_id}").get_data(as_text=True)
    assert '<iframe class="mail-html" sandbox srcdoc=' in page and "Plain body" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert logged_in(app, "sales1").get(f"/mail/{message_id}").status_code == 403
    assert logged_in(app, "admin").get(f"/mail/{message_id}").status_code == 200


# --- form widgets --------------------------------------------------------------------------------------


def test_schema_types_map_to_input_kinds() -> None:
    schema = {
        "required": ["decision"],
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject", "request_info"]},
            "grade": {"type": "string", "enum": ["A", "B", "C", "D"]},
            "limit": {"type": "number", "minimum": 0},
            "days": {"type": "integer", "maximum": 120},
            "review_on": {"type": "string", "format": "date"},
            "notes": {"type": "string", "maxLength": 500},
            "comment": {"type": "string", "format": "textarea"},
            "urgent": {"type": "boolean", "default": True},
            "ref": {"type": "string", "maxLength": 20},
        },
    }
    kinds = {w.name: w.kind for w in form_widgets(schema)}
    assert kinds == {
        "decision": "radios",
        "grade": "select",
        "limit": "number",
        "days": "integer",
        "review_on": "date",
        "notes": "textarea",
        "comment": "textarea",
        "urgent": "checkbox",
        "ref": "text",
    }
    widgets = {w.name: w for w in form_widgets(schema, {"limit": 1.5}, {"days": "Must be at most 120."})}
    assert widgets["decision"].required and not widgets["grade"].required
    assert widgets["limit"].value == "1.5" and widgets["limit"].attrs == {"min": "0"}
    assert widgets["days"].error == "Must be at most 120." and widgets["urgent"].checked


@pytest.mark.usefixtures("shipped")
def test_definition_page_shows_its_decision_tables(app: Flask, demo_tokens: dict[str, str]) -> None:
    page = text_of(logged_in(app, "owner1").get("/definitions/credit_application/1"))
    # The table's name is the DMN file's (a stored value, data-value: the language tests skip it).
    assert "Decision table: <span data-value>Credit grade from the scorecard score</span>" in page
    assert "Decision table: <span data-value>Who approves a credit limit</span>" in page
    assert '"cfo"' in page and "Above 1,000,000: analyst, credit manager, then CFO" in page
