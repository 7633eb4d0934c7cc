"""A failed step's own text (a handler's exception: here a database address with its password) is read by
administrators only (webui/incident_texts.py). Everyone else who may read the instance reads that the step
failed and that an administrator can see the details: in the API's answer to a start and to GET
/api/process-instances/ID (incidents[].message, the instance_failed event's detail), on the instance
page (its incidents panel and its history) and on a task page's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.helpers import auth
from tests.sod_diagrams import bundle, money_diagram
from tests.webui.test_language import switch
from tests.webui.test_pages import logged_in, text_of
from webui.history_details import history_detail
from webui.incident_texts import KEPT_BACK, detail_as_read
from workflows.definitions.deploy import deploy_files
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.store.db import transaction

SECRET = "postgresql://creditflow:hunter2@db.internal/prod"
# What an admin reads of it: the failure text without the password (workflows/redaction.py).
STORED = "postgresql://creditflow:***@db.internal/prod"
KEY = "failing_after_approval"
NEUTRAL = "The step failed; an administrator can see the details."
NEUTRAL_ZH = "该环节执行失败，管理员可查看详细信息。"


@dataclass(frozen=True)
class NoRequest:
    pass


def failing(ctx: TaskContext, request: NoRequest) -> dict[str, Any]:
    raise RuntimeError(f"could not connect to {SECRET}")


OPERATIONS = {**build_operations(), "test.failing": Operation("test.failing", failing, NoRequest)}


@pytest.fixture
def failed(app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime) -> dict[str, int]:
    """buyer1 starts a process whose approval task (procurement) buyer1 completes; the service task after
    it fails with the secret in its exception."""
    rt = app.extensions["creditflow"].rt
    rt.operations = OPERATIONS
    diagram = money_diagram(KEY, "test.failing", {}, approvals=["procurement"], start_groups="procurement")
    with transaction(rt.factory) as session:
        deploy_files(session, bundle(KEY, diagram), OPERATIONS, deployed_by="system", now=clock)
    started = client.post(
        "/api/process-instances", json={"process_key": KEY, "data": {}}, headers=auth(demo_tokens["buyer1"])
    )
    assert started.status_code == 201, started.json
    (task,) = started.json["tasks"]
    done = client.post(
        f"/api/tasks/{task['id']}/complete",
        json={"data": {"decision": "approve"}},
        headers=auth(demo_tokens["buyer1"]),
    )
    assert done.status_code == 200, done.json
    assert SECRET not in done.get_data(as_text=True)
    return {"instance": started.json["id"], "task": task["id"]}


def test_the_api_tells_a_non_admin_the_step_failed_and_an_admin_why(
    client: FlaskClient, demo_tokens: dict[str, str], failed: dict[str, int]
) -> None:
    path = f"/api/process-instances/{failed['instance']}"
    for language, neutral in (("en", NEUTRAL), ("zh", NEUTRAL_ZH)):
        shown = client.get(path, headers={**auth(demo_tokens["buyer1"]), "Accept-Language": language})
        assert shown.status_code == 200 and SECRET not in shown.get_data(as_text=True)
        (incident,) = shown.json["incidents"]
        assert incident["message"] == neutral and incident["bpmn_id"] == "move_money"
        (event,) = [e for e in shown.json["events"] if e["action"] == "instance_failed"]
        assert event["detail"]["message"] == neutral
        assert event["detail"]["after"] == {"status": "error"}  # the status change stays
    admin = client.get(path, headers=auth(demo_tokens["admin"])).json
    assert STORED in admin["incidents"][0]["message"]
    assert any(STORED in e["detail"].get("message", "") for e in admin["events"])


def test_the_instance_and_task_pages_tell_a_non_admin_the_step_failed_and_an_admin_why(
    app: Flask, failed: dict[str, int]
) -> None:
    pages = (f"/instances/{failed['instance']}", f"/tasks/{failed['task']}")
    buyer = logged_in(app, "buyer1")
    for path in pages:
        page = text_of(buyer.get(path))
        assert SECRET not in page and NEUTRAL in page, page
    switch(buyer, "zh", pages[0])
    for path in pages:
        page = text_of(buyer.get(path))
        assert SECRET not in page and NEUTRAL_ZH in page, page
    admin = logged_in(app, "admin")
    for path in pages:
        page = text_of(admin.get(path))
        assert STORED in page and NEUTRAL not in page, page


def test_only_a_failure_s_message_is_kept_back(app: Flask) -> None:
    """A completed task's submitted data may have a field named 'message': shown to everyone as typed."""
    typed = {"data": {"message": "call me back"}}
    assert detail_as_read("task_completed", typed, False) is typed
    failure = {"message": SECRET, "before": {"status": "running"}, "after": {"status": "error"}}
    assert detail_as_read("instance_failed", failure, True) is failure
    assert detail_as_read("instance_failed", failure, False) == {**failure, "message": KEPT_BACK}
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert "call me back" in history_detail(typed)
        said = str(history_detail(detail_as_read("instance_failed", failure, False)))
        assert NEUTRAL in said and SECRET not in said and "data-value" not in said, said
