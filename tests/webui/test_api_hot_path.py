"""The REST approval hot path (issue 19) answers as before: the instance after a completion comes from
the step, not a second read."""

from __future__ import annotations

from flask.testing import FlaskClient

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
