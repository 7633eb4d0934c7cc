"""Hostile review of the credit policy (issue 15): sales could type a customer's external rating when
creating it, while POST /api/customers/ID/rating is the credit staff's. A new company without history,
capped at grade C, graded B with a typed "AAA". Only credit analysts, credit managers and admins may send
external_rating on creation; a sales user gets 403 naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import SteppingClock
from tests.helpers import auth
from workflows.credit.models import Customer

pytestmark = pytest.mark.usefixtures("shipped")

NEW_COMPANY = {
    "name": "Brandnew Energy GmbH",
    "email": "finance@brandnew.example",
    "industry": "utilities",
    "annual_revenue": "80000000.00",
    "currency": "EUR",
    "current_ratio": "2.50",
    "debt_ratio": "0.30",
    "ownership": "private",
    "region": "EU",
}


def customers(app: Flask) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def apply(client: FlaskClient, token: str, customer_id: int) -> dict[str, Any]:
    data = {
        "customer_id": customer_id,
        "requested_limit": "400000",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "First order of a new utility",
    }
    response = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(token),
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_a_sales_users_typed_aaa_is_refused_and_the_grade_is_not_lifted(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    company = {**NEW_COMPANY, "founded_year": app_clock.now.year - 1}
    typed = client.post(
        "/api/customers", json={**company, "external_rating": "AAA"}, headers=auth(demo_tokens["sales1"])
    )
    assert typed.status_code == 403, typed.json
    assert list(typed.json["error"]["fields"]) == ["external_rating"]
    assert "external_rating" in typed.json["error"]["message"]
    assert customers(app) == 0  # nothing half-written
    # The fields the rating route records are not creation fields at all (422, for anyone).
    for extra in ({"rating_agency": "S&P"}, {"rating_date": "2026-01-01"}):
        refused = client.post(
            "/api/customers", json={**company, **extra}, headers=auth(demo_tokens["analyst1"])
        )
        assert refused.status_code == 422, (extra, refused.json)
    assert customers(app) == 0

    # An empty rating counts as absent; without it the new company grades C at best.
    created = client.post(
        "/api/customers", json={**company, "external_rating": ""}, headers=auth(demo_tokens["sales1"])
    )
    assert created.status_code == 201, created.json
    assert created.json["external_rating"] is None
    assert apply(client, demo_tokens["sales1"], created.json["id"])["data"]["grade"] == "C"


@pytest.mark.parametrize("user", ["analyst1", "manager1", "admin"])
def test_credit_staff_and_admins_may_type_the_rating_at_creation(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    body = {**NEW_COMPANY, "founded_year": 1990, "external_rating": "BBB"}
    created = client.post("/api/customers", json=body, headers=auth(demo_tokens[user]))
    assert created.status_code == 201, created.json
    assert created.json["external_rating"] == "BBB"
