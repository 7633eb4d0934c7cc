"""Credit limit reviews: the sweep's triggers, automatic decreases, approved increases, no duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.helpers import auth, migrated_customer

pytestmark = pytest.mark.usefixtures("shipped")

# Financial ratios on file: without them (or without revenue) a review goes to an analyst.
FINANCIALS = {"current_ratio": "1.40", "debt_ratio": "0.55"}


class Desk:
    def __init__(self, app: Flask, client: FlaskClient, tokens: dict[str, str], clock: SteppingClock) -> None:
        self.app, self.client, self.tokens, self.clock = app, client, tokens, clock

    def customer(self, **fields: Any) -> int:
        body = {"currency": "EUR", "sales_owner": "sales1", **fields}
        if "credit_limit" in body:  # an existing limit comes from the ERP migration
            return migrated_customer(self.app, body)
        response = self.client.post("/api/customers", json=body, headers=auth(self.tokens["analyst1"]))
        assert response.status_code == 201, response.json
        return int(response.json["id"])

    def tick(self, days: float = 1) -> dict[str, Any]:
        self.clock.advance(days=days)
        response = self.client.post(
            "/api/admin/tick", json={"now": self.clock.now.isoformat()}, headers=auth(self.tokens["admin"])
        )
        assert response.status_code == 200, response.json
        return dict(response.json)

    def reviews(self, customer_id: int) -> list[dict[str, Any]]:
        url = f"/api/process-instances?process_key=credit_limit_review&business_key={customer_id}"
        # The daily sweep starts reviews as the system; a review decided without people is read by the
        # customer's sales owner, auditors and admins (workflows/readers.py), not by every analyst.
        return list(self.client.get(url, headers=auth(self.tokens["auditor1"])).json["items"])

    def credit_file(self, customer_id: int) -> dict[str, Any]:
        return dict(
            self.client.get(f"/api/customers/{customer_id}", headers=auth(self.tokens["analyst1"])).json
        )

    def task(self, user: str) -> dict[str, Any]:
        [task] = self.client.get("/api/tasks", headers=auth(self.tokens[user])).json["items"]
        return dict(task)

    def complete(self, user: str, task_id: int, **data: Any) -> Any:
        return self.client.post(
            f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(self.tokens[user])
        )


@pytest.fixture
def desk(app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock) -> Desk:
    return Desk(app, client, demo_tokens, app_clock)


def test_utilisation_and_scheduled_reviews_run_once_and_complete(desk: Desk, app: Flask) -> None:
    busy = desk.customer(
        name="Busy Machinery AG",
        industry="manufacturing",
        founded_year=1990,
        annual_revenue="50000000.00",
        credit_limit="100000.00",
        next_review_date=(desk.clock.now.date() + timedelta(days=200)).isoformat(),
        **FINANCIALS,
    )
    retailer = desk.customer(
        name="Corner Retail GmbH",
        industry="retail",
        founded_year=2015,
        annual_revenue="2000000.00",
        credit_limit="900000.00",
        next_review_date=(desk.clock.now.date() - timedelta(days=1)).isoformat(),
        **FINANCIALS,  # with revenue or financials missing an analyst decides (test_limit_policy.py)
    )
    due = (desk.clock.now.date() + timedelta(days=30)).isoformat()
    posted = desk.client.post(
        "/api/invoices",
        json={
            "customer_id": busy,
            "number": "INV-96",
            "amount": "96000.00",
            "currency": "EUR",
            "issue_date": desk.clock.now.date().isoformat(),
            "due_date": due,
        },
        headers=auth(desk.tokens["finance1"]),
    )
    assert posted.status_code == 201

    first = desk.tick()
    sweep = next(j for j in first["jobs"] if j["job"] == "limit_review_sweep")
    assert sweep["reviews_started"] == 2
    assert [r["status"] for r in desk.reviews(busy)] == ["running"]
    [scheduled] = desk.reviews(retailer)
    assert scheduled["status"] == "completed"  # a decrease applies at once

    retail_file = desk.credit_file(retailer)
    assert retail_file["credit_limit"] < "900000.00" and float(retail_file["credit_limit"]) < 900000
    assert retail_file["limit_history"][-1]["reason"] == "review:scheduled"
    assert retail_file["next_review_date"] > desk.clock.now.date().isoformat()

    review = desk.task("analyst1")
    assert review["name"] == "review_limit"
    # The trigger by its English words, not its code "utilisation" (R21's F-11).
    assert review["subject"] == "Busy Machinery AG, limit review (high utilisation of the limit)"
    assert "Trigger: high utilisation of the limit" in review["context"]["instructions"]
    proposed = review["context"]["data"]["proposal"]["proposed_limit"]
    assert (
        desk.complete(
            "analyst1", review["id"], decision="approve", recommended_limit=float(proposed)
        ).status_code
        == 200
    )
    approval = desk.task("manager1")
    assert desk.complete("manager1", approval["id"], decision="approve").status_code == 200
    assert [r["status"] for r in desk.reviews(busy)] == ["completed"]
    busy_file = desk.credit_file(busy)
    assert busy_file["credit_limit"] == proposed
    last = busy_file["limit_history"][-1]
    assert (last["reason"], last["approvers"]) == ("review:utilisation", ["analyst1", "manager1"])

    for _ in range(5):
        later = desk.tick()
        assert all(j.get("reviews_started", 0) == 0 for j in later["jobs"])
    assert len(desk.reviews(busy)) == 1 and len(desk.reviews(retailer)) == 1
    outbox = desk.client.get("/api/emails", headers=auth(desk.tokens["admin"])).json["items"]
    assert any(e["subject"].startswith("Limit review Corner Retail GmbH (scheduled review)") for e in outbox)


def test_rating_change_triggers_a_review_and_manual_reviews_need_credit_staff(desk: Desk) -> None:
    customer = desk.customer(
        name="Rated Ltd",
        industry="services",
        annual_revenue="5000000.00",
        credit_limit="50000.00",
        next_review_date=(desk.clock.now.date() + timedelta(days=300)).isoformat(),
    )
    headers = auth(desk.tokens["analyst1"])
    bad = desk.client.post(
        f"/api/customers/{customer}/rating", json={"agency": "", "rating": "BB"}, headers=headers
    )
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"agency", "date"}
    rated = desk.client.post(
        f"/api/customers/{customer}/rating",
        json={"agency": "Creditreform", "rating": "bb", "date": "2026-03-01"},
        headers=headers,
    )
    assert rated.status_code == 200, rated.json
    assert (rated.json["external_rating"], rated.json["rating_agency"]) == ("BB", "Creditreform")
    desk.tick()
    [review] = desk.reviews(customer)
    assert review["process_key"] == "credit_limit_review"
    reader = auth(desk.tokens["auditor1"])  # a review without tasks: not every analyst's to read
    detail = desk.client.get(f"/api/process-instances/{review['id']}", headers=reader).json
    assert detail["data"]["reason"] == "rating_change"

    start = {
        "process_key": "credit_limit_review",
        "business_key": str(customer),
        "data": {"customer_id": customer, "reason": "manual"},
    }
    denied = desk.client.post("/api/process-instances", json=start, headers=auth(desk.tokens["sales1"]))
    assert denied.status_code == 403
    manual = desk.client.post("/api/process-instances", json=start, headers=auth(desk.tokens["manager1"]))
    assert manual.status_code == 201
    assert manual.json["data"]["reason"] == "manual"
