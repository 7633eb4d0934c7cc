"""Starting a process does not open every instance of it: an instance is read by its initiator, the groups
and people its tasks were offered to or done by, its customer's or contract's owner, auditors, admins."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.usefixtures("shipped")

CUSTOMER = {
    "name": "Private Matters GmbH",
    "email": "ap@private.example",
    "currency": "EUR",
    "industry": "manufacturing",
    "founded_year": 1990,
    "annual_revenue": "50000000.00",
}


def new_user(app: Flask, name: str, group: str) -> str:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, name, groups=[group], now=svc.clock())
        return issue_token(session, name, svc.clock())


def get(client: FlaskClient, token: str, path: str) -> Any:
    return client.get(path, headers=auth(token))


def listed(client: FlaskClient, token: str, path: str) -> list[int]:
    response = get(client, token, path)
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


@pytest.fixture
def application(client: FlaskClient, demo_tokens: dict[str, str]) -> dict[str, Any]:
    """sales1's application for a customer whose sales owner is sales1, waiting for the analyst."""
    customer = client.post(
        "/api/customers", json={**CUSTOMER, "sales_owner": "sales1"}, headers=auth(demo_tokens["sales1"])
    )
    assert customer.status_code == 201, customer.json
    data = {
        "customer_id": customer.json["id"],
        "requested_limit": 600_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "confidential figures",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    return dict(started.json)


def test_a_new_sales_user_cannot_read_another_users_application_or_see_it_listed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], application: dict[str, Any]
) -> None:
    sales2 = new_user(app, "sales2", "sales")
    path = f"/api/process-instances/{application['id']}"
    refused = get(client, sales2, path)
    assert refused.status_code in (403, 404), refused.json
    assert "confidential" not in refused.get_data(as_text=True)
    for listing in ("/api/process-instances", "/api/process-instances?process_key=credit_application"):
        assert application["id"] not in listed(client, sales2, listing)
    [review] = [t for t in application["tasks"] if t["status"] == "open"]
    assert get(client, sales2, f"/api/tasks/{review['id']}").status_code == 403
    assert listed(client, sales2, "/api/tasks") == []

    # Those who may read it: the initiator, the analysts it was offered to, auditors and admins.
    for user in ("sales1", "analyst1", "auditor1", "admin"):
        assert get(client, demo_tokens[user], path).status_code == 200, user
        assert application["id"] in listed(client, demo_tokens[user], "/api/process-instances"), user
    # The task itself belongs to its group (auditors and admins read every task).
    for user, status in (("analyst1", 200), ("auditor1", 200), ("admin", 200), ("sales1", 403)):
        assert get(client, demo_tokens[user], f"/api/tasks/{review['id']}").status_code == status, user
    # Not offered to them (yet): the credit manager, the CFO, collections, a process owner.
    for user in ("manager1", "cfo1", "collector1", "owner1"):
        assert get(client, demo_tokens[user], path).status_code == 403, user
        assert application["id"] not in listed(client, demo_tokens[user], "/api/process-instances"), user


def test_the_customers_sales_owner_reads_its_applications_and_auditors_change_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], application: dict[str, Any]
) -> None:
    owner = new_user(app, "sales_owner2", "sales")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        from workflows.credit.models import Customer

        customer = session.get(Customer, application["data"]["customer_id"])
        assert customer is not None
        customer.sales_owner = "sales_owner2"
    assert get(client, owner, f"/api/process-instances/{application['id']}").status_code == 200
    assert application["id"] in listed(client, owner, "/api/process-instances")

    [review] = [t for t in application["tasks"] if t["status"] == "open"]
    auditor = demo_tokens["auditor1"]
    done = client.post(
        f"/api/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(auditor)
    )
    assert done.status_code == 403
    assert client.post(f"/api/tasks/{review['id']}/claim", headers=auth(auditor)).status_code == 403


def test_a_task_assigned_to_the_requester_is_theirs_alone(
    client: FlaskClient, demo_tokens: dict[str, str], application: dict[str, Any], app: Flask
) -> None:
    [review] = [t for t in application["tasks"] if t["status"] == "open"]
    asked = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "request_info", "comment": "Latest balance sheet?"}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert asked.status_code == 200, asked.json
    instance = get(client, demo_tokens["admin"], f"/api/process-instances/{application['id']}").json
    [question] = [
        t for t in instance["tasks"] if t["name"] == "provide_information" and t["status"] == "open"
    ]
    assert (question["assignee"], question["groups"]) == ("sales1", [])
    sales2 = new_user(app, "sales2", "sales")
    assert get(client, sales2, f"/api/tasks/{question['id']}").status_code == 403
    assert listed(client, sales2, "/api/tasks") == []
    assert [t["id"] for t in client.get("/api/tasks", headers=auth(demo_tokens["sales1"])).json["items"]] == [
        question["id"]
    ]
    given_back = client.post(f"/api/tasks/{question['id']}/unclaim", headers=auth(demo_tokens["sales1"]))
    assert given_back.status_code == 409
