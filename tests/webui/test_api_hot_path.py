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

from tests.helpers import auth

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
