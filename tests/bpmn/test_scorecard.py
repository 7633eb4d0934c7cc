"""The scorecard in the shipped processes (issue 15): the demo's Helios grades A, a new company without
history or rating grades C at best whatever its analyst ratings and collateral, the analyst's ratings go on
the credit file under the analyst's name, and collateral and the relationship date come over the API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import SteppingClock
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in, text_of
from workflows.cli.demo import seed_demo
from workflows.credit.models import Customer
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def words(html: str) -> str:
    """The page's text without tags, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def start(client: FlaskClient, token: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances", json={"process_key": key, "data": data}, headers=auth(token)
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_demo_helios_paying_on_time_grades_a(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
        helios = session.scalar(select(Customer.id).where(Customer.external_id == "C-1004"))
    review = start(
        client, demo_tokens["analyst1"], "credit_limit_review", {"customer_id": helios, "reason": "manual"}
    )
    scoring = review["data"]["scoring"]
    assert review["data"]["grade"] == "A", scoring
    assert scoring["scorecard"] == "listed" and not scoring["thin_file"]
    # A customer since 1998 paying on the due date: the factors the old scorecard got wrong.
    assert scoring["score_factors"]["relationship"] == 100
    assert scoring["score_factors"]["payment_history"] == 100
    credit_file = client.get(f"/api/customers/{helios}", headers=auth(demo_tokens["analyst1"])).json
    assert (credit_file["grade"], credit_file["customer_since"], credit_file["ownership"]) == (
        "A",
        "1998-06-01",
        "listed",
    )


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


def test_new_company_without_history_or_rating_grades_c_at_best_even_rated_and_secured(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    tokens = demo_tokens
    company = {**NEW_COMPANY, "founded_year": app_clock.now.year - 1}
    created = client.post("/api/customers", json=company, headers=auth(tokens["sales1"]))
    assert created.status_code == 201, created.json
    customer_id = created.json["id"]
    assert created.json["customer_since"] is None  # no invoice yet: a new relationship
    expires = (app_clock.now.date() + timedelta(days=365)).isoformat()
    guarantee = {
        "kind": "bank_guarantee",
        "provider": "Deutsche Bank",
        "value": "500000.00",
        "currency": "EUR",
    }
    posted = client.post(
        f"/api/customers/{customer_id}/collateral",
        json={**guarantee, "expires_on": expires},
        headers=auth(tokens["analyst1"]),
    )
    assert posted.status_code == 201, posted.json
    assert posted.json["active"] is True
    application = {
        "customer_id": customer_id,
        "requested_limit": "400000",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "First order of a new utility",
    }
    first = start(client, tokens["sales1"], "credit_application", application)
    assert first["data"]["scoring"]["score_factors"]["collateral"] == 100
    assert first["data"]["grade"] == "C"
    # The analyst rates the customer as well as it gets; the ratings go on the file under the analyst's name.
    [review] = [t for t in first["tasks"] if t["name"] == "review_application" and t["status"] == "open"]
    ratings = {"management_rating": 5, "industry_rating": 5, "strategic_rating": 5}
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "reject", "comment": "Ask again with a year of history", **ratings}},
        headers=auth(tokens["analyst1"]),
    )
    assert done.status_code == 200, done.json
    credit_file = client.get(f"/api/customers/{customer_id}", headers=auth(tokens["analyst1"])).json
    assert {k: credit_file[k] for k in ratings} == ratings
    assert credit_file["ratings_by"] == "analyst1"

    second = start(client, tokens["sales1"], "credit_application", application)
    scoring = second["data"]["scoring"]
    assert scoring["score_factors"]["management"] == scoring["score_factors"]["strategic_importance"] == 100
    assert scoring["thin_file"] and scoring["score"] >= 70  # the factors alone would grade it B
    assert second["data"]["grade"] == "C"


def test_an_expired_collateral_does_not_count(
    client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    tokens = demo_tokens
    company = {**NEW_COMPANY, "founded_year": 1990, "external_rating": "BBB"}
    # A rated customer is created by credit staff: only they may type an external rating.
    customer_id = client.post("/api/customers", json=company, headers=auth(tokens["analyst1"])).json["id"]
    expires = (app_clock.now.date() + timedelta(days=10)).isoformat()
    for kind in ("bank_guarantee", "credit_insurance"):
        posted = client.post(
            f"/api/customers/{customer_id}/collateral",
            json={"kind": kind, "value": "100000.00", "currency": "EUR", "expires_on": expires},
            headers=auth(tokens["analyst1"]),
        )
        assert posted.status_code == 201, posted.json
    application = {
        "customer_id": customer_id,
        "requested_limit": "100000",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Secured order",
    }
    secured = start(client, tokens["sales1"], "credit_application", application)
    assert secured["data"]["scoring"]["score_factors"]["collateral"] == 100
    app_clock.advance(days=11)
    listed = client.get(f"/api/customers/{customer_id}/collateral", headers=auth(tokens["sales1"])).json
    assert [item["active"] for item in listed["items"]] == [False, False]
    expired = start(client, tokens["sales1"], "credit_application", application)
    assert expired["data"]["scoring"]["score_factors"]["collateral"] == 0
    assert expired["data"]["scoring"]["score"] < secured["data"]["scoring"]["score"]


def test_the_customer_page_shows_the_relationship_collateral_and_ratings(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
        ids = {row.external_id: row.id for row in session.execute(select(Customer.external_id, Customer.id))}
    page = words(text_of(logged_in(app, "analyst1").get(f"/customers/{ids['C-1002']}")))
    assert "Customer since 1 Sep 2019" in page and "Ownership private" in page
    assert "credit insurance" in page and "Allianz Trade" in page
    app_clock.advance(days=800)  # past the insurance's expiry
    page = words(text_of(logged_in(app, "analyst1").get(f"/customers/{ids['C-1002']}")))
    assert "expired: does not count" in page


def test_the_analyst_rates_on_the_review_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    created = client.post(
        "/api/customers", json={**NEW_COMPANY, "founded_year": 2001}, headers=auth(demo_tokens["sales1"])
    )
    customer_id = created.json["id"]
    application = {
        "customer_id": customer_id,
        "requested_limit": "50000",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Web form",
    }
    instance = start(client, demo_tokens["sales1"], "credit_application", application)
    [review] = [t for t in instance["tasks"] if t["name"] == "review_application" and t["status"] == "open"]
    instructions = review["context"]["instructions"]
    assert "general scorecard; no payment history and no external rating, so C at best" in instructions
    assert "ratings on file: management none" in instructions
    analyst = logged_in(app, "analyst1")
    page = analyst.get(f"/tasks/{review['id']}").get_data(as_text=True)
    assert 'name="management_rating"' in page and 'name="exception_reason"' in page
    form = {
        "csrf_token": csrf_token(analyst, f"/tasks/{review['id']}"),
        "decision": "reject",
        "comment": "Not this year",
        "management_rating": "4",
        "industry_rating": "0",  # keeps what is on file (nothing)
        "strategic_rating": "2",
    }
    assert analyst.post(f"/tasks/{review['id']}", data=form).status_code in (200, 302, 303)
    credit_file = client.get(f"/api/customers/{customer_id}", headers=auth(demo_tokens["analyst1"])).json
    assert (
        credit_file["management_rating"],
        credit_file["industry_rating"],
        credit_file["strategic_rating"],
    ) == (
        4,
        None,
        2,
    )
    assert credit_file["ratings_by"] == "analyst1"


def test_collateral_in_another_currency_waits_for_its_rate_instead_of_a_guess(
    client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    tokens = demo_tokens
    customer_id = client.post(
        "/api/customers", json={**NEW_COMPANY, "founded_year": 1990}, headers=auth(tokens["sales1"])
    ).json["id"]
    guarantee = {"kind": "bank_guarantee", "value": "200000.00", "currency": "USD"}
    posted = client.post(
        f"/api/customers/{customer_id}/collateral", json=guarantee, headers=auth(tokens["analyst1"])
    )
    assert posted.status_code == 201, posted.json
    application = {
        "customer_id": customer_id,
        "requested_limit": "150000",
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Secured by a US bank",
    }
    refused = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": application},
        headers=auth(tokens["sales1"]),
    )
    assert refused.status_code == 422, refused.json
    assert "no exchange rate USD->EUR" in refused.json["error"]["message"]
    rate = {"currency": "USD", "rate": "0.92", "date": app_clock.now.date().isoformat()}
    assert client.post("/api/fx-rates", json=rate, headers=auth(tokens["finance1"])).status_code == 201
    scored = start(client, tokens["sales1"], "credit_application", application)
    # USD 200,000 at 0.92 = EUR 184,000 covers the EUR 150,000 asked for.
    assert scored["data"]["scoring"]["score_factors"]["collateral"] == 100
