"""A form whose `$ref` leads back to itself on the same value (`{"$ref": "#/properties/decision"}` at
properties/decision, or two $defs naming each other) deployed, and every completion of its task then ran
until Python's stack gave out: a 500, the task could never be completed. Deploy refuses such a loop with
FILE:LINE; a form stored before that check answers 422. Found by an attack on the build."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth
from tests.sod_diagrams import bundle, money_diagram
from workflows.store.db import transaction
from workflows.store.models import Deployment

pytestmark = pytest.mark.usefixtures("shipped")

NOTIFY = {"to": '"initiator"', "template": '"generic"', "context": '{"subject": "s", "message": "m"}'}
SELF = {"type": "object", "properties": {"decision": {"$ref": "#/properties/decision"}}}
MUTUAL = {
    "type": "object",
    "properties": {"decision": {"$ref": "#/$defs/a"}},
    "$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}},
}
TREE = {  # recursion through items stops with the data: allowed
    "type": "object",
    "properties": {"decision": {"type": "string"}, "tree": {"$ref": "#/$defs/node"}},
    "$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
}


def files_with(key: str, form: dict[str, Any]) -> dict[str, bytes]:
    text = money_diagram(key, "notify.email", NOTIFY, approvals=["credit_analyst"])
    files = bundle(key, text.replace("credit_approval.json", "custom.json"))
    files["custom.json"] = json.dumps(form, indent=2).encode()
    return files


def deploy(client: FlaskClient, token: str, files: dict[str, bytes]) -> Any:
    return client.post(
        "/api/process-definitions",
        data={"files": [(io.BytesIO(data), name) for name, data in files.items()]},
        headers=auth(token),
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("form", [SELF, MUTUAL])
def test_deploy_refuses_a_reference_loop(client: FlaskClient, demo_tokens: dict[str, str], form: Any) -> None:
    refused = deploy(client, demo_tokens["owner1"], files_with("looped", form))
    assert refused.status_code == 422, refused.json
    assert "custom.json:" in refused.json["error"]["message"] and "loop" in refused.json["error"]["message"]


def test_a_stored_loop_answers_422_and_a_tree_deploys(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    deployed = deploy(client, demo_tokens["owner1"], files_with("stored", TREE))
    assert deployed.status_code == 201, deployed.json
    with transaction(app.extensions["creditflow"].rt.factory) as session:  # as if deployed before the check
        for deployment in session.scalars(select(Deployment)):
            if "custom.json" in deployment.files:
                deployment.files = {**deployment.files, "custom.json": json.dumps(SELF)}
    started = client.post(
        "/api/process-instances",
        json={"process_key": "stored", "data": {}},
        headers=auth(demo_tokens["owner1"]),
    )
    assert started.status_code == 201, started.json
    [task] = [t for t in started.json["tasks"] if t["status"] == "open"]
    done = client.post(
        f"/api/tasks/{task['id']}/complete",
        json={"data": {"decision": "approve"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 422, done.json
    assert "loop" in done.json["error"]["message"]
