"""The REST approval hot path (issue 19) answers as before: the instance after a completion comes from
the step, not a second read, and JSON answers are encoded by orjson exactly as Flask's encoder did."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from flask.testing import FlaskClient
from markupsafe import Markup

from handlers.registry import build_operations
from tests.helpers import auth
from workflows.definitions.deploy import deploy_files
from workflows.store.db import transaction

START = {
    "customer_name": "Hot Path Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "issue 19",
}


def test_a_completion_answers_the_instance_as_a_fresh_read_shows_it(
    client: FlaskClient, demo_tokens: dict[str, str], shipped: None
) -> None:
    started = client.post(
        "/api/process-instances",
        json={"process_key": "payment_terms_exception", "business_key": "HP-1", "data": START},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    statuses = []
    for user, form in (
        ("analyst1", {"decision": "approve", "approved_terms_days": 45}),
        ("manager1", {"decision": "approve"}),
    ):
        [task] = client.get("/api/tasks?per_page=1", headers=auth(demo_tokens[user])).json["items"]
        done = client.post(
            f"/api/tasks/{task['id']}/complete", json={"data": form}, headers=auth(demo_tokens[user])
        )
        assert done.status_code == 200, done.json
        fresh = client.get(
            f"/api/process-instances/{task['instance_id']}", headers=auth(demo_tokens["admin"])
        )
        assert {key: fresh.json[key] for key in done.json["instance"]} == done.json["instance"]
        assert done.json["status"] == "completed" and done.json["completed_by"] == user
        statuses.append(done.json["instance"]["status"])
    assert statuses == ["running", "completed"]


# A start whose first step runs a script or a writing handler (notify.email), then waits on a task.
_STARTED_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="answer_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="answer_{name}" name="Answer" isExecutable="true">
    <bpmn:startEvent id="begun"><bpmn:outgoing>to_first</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="to_first" sourceRef="begun" targetRef="first" />
    {first}
    <bpmn:sequenceFlow id="to_look" sourceRef="first" targetRef="look" />
    <bpmn:userTask id="look" name="Look at it"><bpmn:incoming>to_look</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="to_end" sourceRef="look" targetRef="ended" />
    <bpmn:endEvent id="ended"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
_FIRST = {
    "script": '<bpmn:scriptTask id="first"><bpmn:incoming>to_first</bpmn:incoming>'
    "<bpmn:outgoing>to_look</bpmn:outgoing><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>",
    "failing": '<bpmn:scriptTask id="first"><bpmn:incoming>to_first</bpmn:incoming>'
    "<bpmn:outgoing>to_look</bpmn:outgoing><bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>",
    "writing": '<bpmn:serviceTask id="first"><bpmn:extensionElements>'
    '<spiffworkflow:serviceTaskOperator id="notify.email" resultVariable="sent"><spiffworkflow:parameters>'
    '<spiffworkflow:parameter id="to" type="str" value="&quot;initiator&quot;" />'
    '<spiffworkflow:parameter id="template" type="str" value="&quot;decision&quot;" />'
    '<spiffworkflow:parameter id="context" type="dict" '
    'value="{&quot;outcome&quot;: &quot;approve&quot;, &quot;comment&quot;: &quot;ok&quot;}" />'
    "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>"
    "<bpmn:incoming>to_first</bpmn:incoming><bpmn:outgoing>to_look</bpmn:outgoing></bpmn:serviceTask>",
}


def test_a_start_answers_the_instance_as_a_fresh_read_shows_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], shipped: None, clock: datetime
) -> None:
    """The start's answer comes from its step (no read back): the same JSON as GET of the instance, for a
    shipped diagram, a script, a first step that fails (incident), and a writing handler (read back)."""
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        for name, first in _FIRST.items():
            files = {f"answer_{name}.bpmn": _STARTED_DIAGRAM.format(name=name, first=first).encode()}
            deploy_files(session, files, build_operations(), deployed_by="system", now=clock)
    # The test diagrams have no start lane: only admins start them.
    starts = [("payment_terms_exception", START, "sales1")]
    starts += [(f"answer_{name}", {"amount": 1}, "admin") for name in _FIRST]
    statuses = []
    for n, (key, data, user) in enumerate(starts):
        body = {"process_key": key, "business_key": f"ANSWER-{n}", "data": data}
        started = client.post("/api/process-instances", json=body, headers=auth(demo_tokens[user]))
        assert started.status_code == 201, started.json
        fresh = client.get(f"/api/process-instances/{started.json['id']}", headers=auth(demo_tokens[user]))
        assert fresh.status_code == 200, fresh.json
        assert started.json == fresh.json
        assert started.json["events"] and len(started.json["tasks"]) == (key != "answer_failing"), (
            started.json
        )
        statuses.append((started.json["status"], len(started.json["incidents"])))
    assert statuses == [("running", 0), ("running", 0), ("error", 1), ("running", 0)]


@dataclass
class _Row:
    name: str
    amount: Decimal


def _both(app: Flask, value: object) -> tuple[bytes, bytes]:
    with app.test_request_context():
        new = jsonify(value).get_data()
        old = DefaultJSONProvider.response(app.json, value).get_data()  # type: ignore[arg-type]
    return new, old


def test_json_answers_are_the_bytes_flask_wrote(app: Flask) -> None:
    value = {
        "z": [1, 2.5, None, True, "x"],
        "amount": Decimal("1800000.00"),
        "when": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "day": date(2026, 3, 1),
        "id": uuid.UUID(int=7),
        "row": _Row("b", Decimal("0.10")),
        "html": Markup("<b>x</b>"),
        "nested": {"b": 1, "a": {"d": 2, "c": 3}},
        7: "a number key",
    }
    value.pop(7)  # the stdlib encoder cannot sort int and str keys together; orjson's answer is checked below
    new, old = _both(app, value)
    assert new == old
    assert new.endswith(b"\n") and b'"amount":"1800000.00"' in new and b"Sun, 01 Mar 2026" in new


def test_what_orjson_cannot_encode_falls_back_to_the_stdlib_encoder(app: Flask) -> None:
    huge = {"n": 2**70, "s": "lone \udc80 surrogate"}
    new, old = _both(app, huge)
    assert new == old
    text, escaped = _both(app, {"name": "Müller Šťastný 中"})
    assert json.loads(text) == json.loads(escaped) == {"name": "Müller Šťastný 中"}
    with app.test_request_context():
        assert json.loads(jsonify({1: "a"}).get_data()) == {"1": "a"}
