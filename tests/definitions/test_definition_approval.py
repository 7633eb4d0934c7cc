"""A diagram that moves money is not used until a second process owner approves it in the inbox; every
other diagram deploys at once. The uploader cannot approve their own, however they try."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.helpers import auth, migrated_customer
from tests.sod_diagrams import bundle, money_diagram
from tests.webui.test_pages import logged_in
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")

APPLY = {"customer_id": "customer_id", "new_limit": "new_limit", "reason": '"granted"', "review_months": "12"}
CUSTOMER = {
    "name": "Target GmbH",
    "currency": "EUR",
    "annual_revenue": "50000000.00",
    "credit_limit": "10000.00",
}


def upload(client: FlaskClient, token: str, files: dict[str, bytes]) -> Any:
    return client.post(
        "/api/process-definitions",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=auth(token),
        content_type="multipart/form-data",
    )


def grant_bundle(key: str, approvals: list[str] | None = None) -> dict[str, bytes]:
    text = money_diagram(key, "credit.apply_limit", APPLY, approvals=approvals or ["credit_analyst"])
    return bundle(key, text, "approval_authority.dmn")


def tick(client: FlaskClient, tokens: dict[str, str], clock: SteppingClock) -> None:
    """What the scheduler does next: the timer sweep starts the queued approval."""
    now = clock.advance(seconds=5).isoformat()
    assert client.post("/api/admin/tick", json={"now": now}, headers=auth(tokens["admin"])).status_code == 200


def approval_task(client: FlaskClient, token: str, key: str, version: int) -> dict[str, Any]:
    tasks = client.get("/api/tasks", headers=auth(token)).json["items"]
    [task] = [
        t
        for t in tasks
        if t["process_key"] == "definition_approval" and t["subject"].startswith(f"{key} v{version}")
    ]
    return dict(task)


def decide(client: FlaskClient, token: str, task_id: int, decision: str) -> Any:
    body = {"data": {"decision": decision, "comment": "read it"}}
    return client.post(f"/api/tasks/{task_id}/complete", json=body, headers=auth(token))


def start(client: FlaskClient, token: str, key: str, data: dict[str, Any]) -> Any:
    return client.post("/api/process-instances", json={"process_key": key, "data": data}, headers=auth(token))


@pytest.fixture
def owner2(app: Flask, demo_tokens: dict[str, str]) -> str:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        return issue_token(session, "owner2", svc.clock())


def test_a_money_moving_diagram_waits_for_a_second_process_owner(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock, owner2: str
) -> None:
    customer_id = migrated_customer(app, CUSTOMER)
    deployed = upload(client, demo_tokens["owner1"], grant_bundle("grant_limit"))
    assert deployed.status_code == 201 and deployed.json == {
        "key": "grant_limit",
        "version": 1,
        "status": "pending",
    }
    data = {"customer_id": customer_id, "new_limit": "50000"}
    not_yet = start(client, demo_tokens["owner1"], "grant_limit", data)
    assert (
        not_yet.status_code == 404 and "waits for a second process owner" in not_yet.json["error"]["message"]
    )
    # Deploying the same files again starts no second approval.
    assert upload(client, demo_tokens["owner1"], grant_bundle("grant_limit")).json["version"] == 1
    # The list says the version waits, in the API and on the workbench page.
    listed = client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).json
    assert [(v["status"], v["decided_by"]) for v in listed if v["key"] == "grant_limit"] == [
        ("pending", None)
    ]
    page = logged_in(app, "owner1").get("/definitions?q=grant_limit").get_data(as_text=True)
    assert "pending approval" in page

    tick(client, demo_tokens, app_clock)
    task = approval_task(client, owner2, "grant_limit", 1)
    assert "calls credit.apply_limit" in task["context"]["instructions"]
    # The uploader sees the task (a process owner) but can neither claim nor approve it.
    mine = approval_task(client, demo_tokens["owner1"], "grant_limit", 1)
    claim = client.post(f"/api/tasks/{mine['id']}/claim", headers=auth(demo_tokens["owner1"]))
    assert claim.status_code == 403 and "Four-eyes" in claim.json["error"]["message"]
    assert decide(client, demo_tokens["owner1"], task["id"], "approve").status_code == 403
    for outsider in ("sales1", "analyst1", "auditor1", "cfo1"):
        assert decide(client, demo_tokens[outsider], task["id"], "approve").status_code == 403
    assert start(client, demo_tokens["owner1"], "grant_limit", data).status_code == 404

    done = decide(client, owner2, task["id"], "approve")
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed", done.json
    versions = client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).json
    assert [(v["version"], v["status"], v["decided_by"]) for v in versions if v["key"] == "grant_limit"] == [
        (1, "active", "owner2")
    ]
    started = start(client, demo_tokens["owner1"], "grant_limit", data)
    assert started.status_code == 201 and started.json["version"] == 1


def test_new_instances_keep_the_previous_version_until_the_next_is_approved_and_a_rejected_one_never_runs(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock, owner2: str
) -> None:
    first = upload(client, demo_tokens["owner1"], grant_bundle("grant_limit"))
    tick(client, demo_tokens, app_clock)
    assert (
        decide(client, owner2, approval_task(client, owner2, "grant_limit", 1)["id"], "approve").status_code
        == 200
    )
    second = upload(
        client, demo_tokens["owner1"], grant_bundle("grant_limit", ["credit_analyst", "credit_manager"])
    )
    assert (first.json["version"], second.json) == (
        1,
        {"key": "grant_limit", "version": 2, "status": "pending"},
    )
    customer_id = migrated_customer(app, CUSTOMER)
    data = {"customer_id": customer_id, "new_limit": "50000"}
    assert start(client, demo_tokens["owner1"], "grant_limit", data).json["version"] == 1

    tick(client, demo_tokens, app_clock)
    rejected = decide(client, owner2, approval_task(client, owner2, "grant_limit", 2)["id"], "reject")
    assert rejected.status_code == 200, rejected.json
    assert start(client, demo_tokens["owner1"], "grant_limit", data).json["version"] == 1
    # Deploying the rejected content again is a new version with a new approval.
    again = upload(
        client, demo_tokens["owner1"], grant_bundle("grant_limit", ["credit_analyst", "credit_manager"])
    )
    assert again.json == {"key": "grant_limit", "version": 3, "status": "pending"}


def test_every_other_diagram_deploys_at_once(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    text = money_diagram(
        "say_hello",
        "notify.email",
        {"to": '"initiator"', "template": '"generic"', "context": '{"subject": "hi", "message": "hello"}'},
    )
    deployed = upload(client, demo_tokens["owner1"], bundle("say_hello", text))
    assert deployed.status_code == 201 and deployed.json == {"key": "say_hello", "version": 1}
    assert start(client, demo_tokens["owner1"], "say_hello", {}).status_code == 201


def test_the_uploader_cannot_approve_through_a_back_door(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    pending = upload(client, demo_tokens["owner1"], grant_bundle("grant_limit"))
    tick(client, demo_tokens, app_clock)
    with app.extensions["creditflow"].rt.factory() as session:
        from workflows.store.models import ProcessDefinition

        definition_id = session.query(ProcessDefinition.id).filter_by(process_key="grant_limit").scalar()
    approval_data = {
        "definition_id": definition_id,
        "process_key": "grant_limit",
        "version": pending.json["version"],
        "deployed_by": "owner1",
        "operations": ["credit.apply_limit"],
    }
    # Starting an approval of one's own: only admins (and deploy) start definition_approval.
    assert start(client, demo_tokens["owner1"], "definition_approval", approval_data).status_code == 403
    # An admin starts one, so the four-eyes rule does not name owner1; the activation still refuses him.
    other = start(client, demo_tokens["admin"], "definition_approval", approval_data)
    assert other.status_code == 201, other.json
    [task] = [t for t in other.json["tasks"] if t["status"] == "open"]
    refused = decide(client, demo_tokens["owner1"], task["id"], "approve")
    assert refused.status_code == 422 and "owner1" in refused.json["error"]["message"]
    # A diagram that activates versions is itself a money move: it waits for a second owner too.
    text = money_diagram("self_service", "definition.activate", {"definition_id": str(definition_id)})
    sneaky = upload(client, demo_tokens["owner1"], bundle("self_service", text))
    assert sneaky.json["status"] == "pending"
    assert (
        start(client, demo_tokens["owner1"], "grant_limit", {"customer_id": 1, "new_limit": "1"}).status_code
        == 404
    )
