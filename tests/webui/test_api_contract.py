"""Must-show 2 of the engine issue: a diagram never seen before, deployed and run over the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.helpers import auth, credit_hold_files, upload

START = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}


def _deploy(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = upload(client, tokens["owner1"], credit_hold_files())
    assert response.status_code == 201, response.json
    assert response.json == {"key": "credit_hold", "version": 1}


def _start(client: FlaskClient, token: str, business_key: str) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "business_key": business_key, "data": START},
        headers=auth(token),
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def _open_task(instance: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in instance["tasks"] if t["name"] == name and t["status"] == "open")


def test_only_process_owners_deploy(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    forbidden = upload(client, demo_tokens["sales1"], credit_hold_files())
    assert forbidden.status_code == 403
    assert forbidden.json["error"]["code"] == "forbidden"
    _deploy(client, demo_tokens)


def test_a_diagram_that_is_not_utf8_is_refused_with_422_naming_the_file(
    client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    # lxml and the validator read any encoding the XML declares; storage needs UTF-8 text.
    files = []
    for path in credit_hold_files():
        copy = tmp_path / path.name
        if path.suffix == ".bpmn":
            text = path.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
            copy.write_bytes(
                text.replace("</bpmn:definitions>", "<!-- Zähler --></bpmn:definitions>").encode("latin-1")
            )
        else:
            copy.write_bytes(path.read_bytes())
        files.append(copy)
    response = upload(client, demo_tokens["owner1"], files)
    assert response.status_code == 422, response.json
    bpmn = next(p.name for p in files if p.suffix == ".bpmn")
    assert any(p.startswith(f"{bpmn}:") and "UTF-8" in p for p in response.json["error"]["problems"])


def test_tasks_reach_only_their_lane_group(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    _deploy(client, demo_tokens)
    instance = _start(client, demo_tokens["sales1"], "CUST-1")
    review = _open_task(instance, "review_hold")
    assert review["group"] == "credit_analyst"
    assert review["form"]["fields"][0] == {
        "name": "decision",
        "type": "string",
        "required": True,
        "options": ["release", "keep"],
        "title": "Decision",
    }
    analyst_tasks = client.get("/api/tasks", headers=auth(demo_tokens["analyst1"])).json
    assert [t["id"] for t in analyst_tasks["items"]] == [review["id"]]
    assert client.get("/api/tasks", headers=auth(demo_tokens["sales1"])).json["items"] == []
    assert client.get(f"/api/tasks/{review['id']}", headers=auth(demo_tokens["sales1"])).status_code == 403
    assert (
        client.post(f"/api/tasks/{review['id']}/claim", headers=auth(demo_tokens["manager1"])).status_code
        == 403
    )
    completed = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "keep"}},
        headers=auth(demo_tokens["cfo1"]),
    )
    assert completed.status_code == 403


def test_invalid_form_data_is_422_with_field_names(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    _deploy(client, demo_tokens)
    review = _open_task(_start(client, demo_tokens["sales1"], "CUST-1"), "review_hold")
    url, headers = f"/api/tasks/{review['id']}/complete", auth(demo_tokens["analyst1"])
    cases = [
        ({}, "decision"),
        ({"decision": "maybe"}, "decision"),
        ({"decision": "release"}, "release_amount"),
        ({"decision": "release", "release_amount": -5}, "release_amount"),
    ]
    for data, field in cases:
        response = client.post(url, json={"data": data}, headers=headers)
        assert response.status_code == 422, (data, response.json)
        assert field in response.json["error"]["fields"], (data, response.json)
    still_open = client.get(f"/api/tasks/{review['id']}", headers=headers).json
    assert still_open["status"] == "open"


def test_message_reaches_only_the_matching_business_key(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    _deploy(client, demo_tokens)
    first = _start(client, demo_tokens["sales1"], "CUST-1")
    second = _start(client, demo_tokens["sales1"], "CUST-2")
    for instance in (first, second):
        review = _open_task(instance, "review_hold")
        done = client.post(
            f"/api/tasks/{review['id']}/complete",
            json={"data": {"decision": "release", "release_amount": 200.5}},
            headers=auth(demo_tokens["analyst1"]),
        )
        assert done.status_code == 200, done.json
    message = {
        "name": "customer_confirmed",
        "correlation_key": "CUST-2",
        "data": {"confirmed_by": "buyer@acme"},
    }
    response = client.post("/api/messages", json=message, headers=auth(demo_tokens["sales1"]))
    assert response.json == {"delivered_to": [second["id"]]}
    nobody = client.post(
        "/api/messages", json={**message, "correlation_key": "CUST-9"}, headers=auth(demo_tokens["sales1"])
    )
    assert nobody.json == {"delivered_to": []}

    def status(instance_id: int) -> dict[str, Any]:
        return dict(
            client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"])).json
        )

    assert status(first["id"])["status"] == "running"
    finished = status(second["id"])
    assert finished["status"] == "completed"
    assert finished["data"]["confirmation"] == {"confirmed_by": "buyer@acme"}
    assert finished["data"]["release_amount"] == "200.5"  # Decimal kept exact through the engine


def test_tick_past_boundary_timer_moves_case_to_sales(
    client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    _deploy(client, demo_tokens)
    instance = _start(client, demo_tokens["sales1"], "CUST-1")
    review = _open_task(instance, "review_hold")
    admin = auth(demo_tokens["admin"])
    early = client.post("/api/admin/tick", json={"now": app_clock.advance(days=1).isoformat()}, headers=admin)
    assert early.json["timers"] == 0
    assert client.post("/api/admin/tick", json={}, headers=auth(demo_tokens["analyst1"])).status_code == 403
    late = client.post(
        "/api/admin/tick", json={"now": app_clock.advance(days=1, minutes=1).isoformat()}, headers=admin
    )
    assert late.json["timers"] == 1
    after = client.get(f"/api/process-instances/{instance['id']}", headers=admin).json
    interrupted = next(t for t in after["tasks"] if t["id"] == review["id"])
    assert interrupted["status"] == "cancelled"
    chase = _open_task(after, "chase_customer")
    assert chase["group"] == "sales"
    assert (
        client.post(
            f"/api/tasks/{review['id']}/complete",
            json={"data": {"decision": "keep"}},
            headers=auth(demo_tokens["analyst1"]),
        ).status_code
        == 409
    )
    sales_tasks = client.get("/api/tasks", headers=auth(demo_tokens["sales1"])).json["items"]
    assert [t["id"] for t in sales_tasks] == [chase["id"]]


def test_instance_completes_with_audit_trail(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    _deploy(client, demo_tokens)
    instance = _start(client, demo_tokens["sales1"], "CUST-1")
    review = _open_task(instance, "review_hold")
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "keep", "comment": "<b>no</b>"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 200
    assert done.json["instance"]["status"] == "completed"
    again = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "keep"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert again.status_code == 409
    assert "already completed by analyst1" in again.json["error"]["message"]
    view = client.get(f"/api/process-instances/{instance['id']}", headers=auth(demo_tokens["sales1"])).json
    actions = [(e["action"], e["actor"]) for e in view["events"]]
    assert actions[0] == ("instance_started", "sales1")
    assert ("task_created", "sales1") in actions
    assert ("task_completed", "analyst1") in actions
    assert actions[-1] == ("instance_completed", "analyst1")
    completed_event = next(e for e in view["events"] if e["action"] == "task_completed")
    assert completed_event["detail"]["data"] == {"decision": "keep", "comment": "<b>no</b>"}


def test_redeploy_makes_version_two_and_running_instances_stay(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    _deploy(client, demo_tokens)
    old = _start(client, demo_tokens["sales1"], "CUST-1")
    paths = credit_hold_files()
    changed = (
        [p for p in paths if p.suffix == ".bpmn"][0]
        .read_text()
        .replace("Review credit hold", "Review hold v2")
    )
    bpmn = next(p for p in paths if p.suffix == ".bpmn")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / bpmn.name
        copy.write_text(changed)
        response = upload(client, demo_tokens["owner1"], [copy, *[p for p in paths if p.suffix == ".json"]])
    assert response.status_code == 201
    assert response.json == {"key": "credit_hold", "version": 2}
    new = _start(client, demo_tokens["sales1"], "CUST-2")
    assert (old["version"], new["version"]) == (1, 2)
    assert _open_task(new, "review_hold")["title"] == "Review hold v2"
    old_review = _open_task(old, "review_hold")
    assert old_review["title"] == "Review credit hold"
    done = client.post(
        f"/api/tasks/{old_review['id']}/complete",
        json={"data": {"decision": "keep"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 200
    assert done.json["instance"]["version"] == 1


def test_status_codes_of_the_contract(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    health = client.get("/api/health").json
    assert health["status"] == "ok" and health["clock"]["mode"] == "real"
    assert client.get("/api/tasks").status_code == 401
    assert client.get("/api/tasks", headers=auth("not-a-token")).status_code == 401
    headers = auth(demo_tokens["sales1"])
    malformed = client.post(
        "/api/process-instances", data="{not json", headers=headers, content_type="application/json"
    )
    assert malformed.status_code == 400
    assert client.get("/api/process-instances/999", headers=headers).status_code == 404
    assert client.get("/api/tasks/999", headers=headers).status_code == 404
    unknown = client.post("/api/process-instances", json={"process_key": "nope", "data": {}}, headers=headers)
    assert unknown.status_code == 404
    _deploy(client, demo_tokens)
    not_a_starter = client.post(
        "/api/process-instances",
        json={"process_key": "credit_hold", "data": START},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert not_a_starter.status_code == 403


def test_initiator_may_not_complete_four_eyes_task(
    client: FlaskClient, demo_tokens: dict[str, str], app: Any
) -> None:
    from workflows.users import add_user

    factory = app.extensions["creditflow"].rt.factory
    with factory() as session, session.begin():
        add_user(session, "sales1", groups=["credit_analyst"], now=app.extensions["creditflow"].clock())
    _deploy(client, demo_tokens)
    review = _open_task(_start(client, demo_tokens["sales1"], "CUST-1"), "review_hold")
    refused = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "keep"}},
        headers=auth(demo_tokens["sales1"]),
    )
    assert refused.status_code == 403
    assert "Four-eyes" in refused.json["error"]["message"]


def test_four_eyes_applies_to_claims_and_mail_lists_match_whole_addresses(
    client: FlaskClient, demo_tokens: dict[str, str], app: Any
) -> None:
    from workflows.users import add_user, issue_token

    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session, session.begin():
        add_user(session, "sales1", groups=["credit_analyst"], now=svc.clock())
        add_user(session, "les1", groups=["sales"], now=svc.clock())  # les1@example.com is inside sales1@...
        les1 = issue_token(session, "les1", svc.clock())
    _deploy(client, demo_tokens)
    review = _open_task(_start(client, demo_tokens["sales1"], "CUST-1"), "review_hold")
    claim = client.post(f"/api/tasks/{review['id']}/claim", headers=auth(demo_tokens["sales1"]))
    assert claim.status_code == 403 and "Four-eyes" in claim.json["error"]["message"]
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "keep"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 200
    from workflows.mail.outbox import queue_email

    with svc.rt.factory() as session, session.begin():
        queue_email(
            session,
            to=["sales1@example.com"],
            template="generic",
            context={"subject": "s", "message": "m"},
            dedupe_key="k1",
            now=svc.clock(),
        )
    mine = client.get("/api/emails", headers=auth(demo_tokens["sales1"])).json["items"]
    assert [e["to"] for e in mine] == ["sales1@example.com"]
    assert client.get("/api/emails", headers=auth(les1)).json["items"] == []
