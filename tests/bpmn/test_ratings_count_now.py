"""The analyst's ratings count in the case where they are given (issue 15, "Scoring"): ratings that change
the credit file re-score the case before the recommendation is checked, so the grade that decides who must
approve and the formula limit are those of the new score."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from handlers.registry import build_operations
from tests.bpmn.test_credit_application import apply, complete, create_customer, open_task, refresh
from tests.conftest import SteppingClock
from tests.helpers import auth, migrated_customer
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

# Created by credit staff, who alone may type an external rating (POST /api/customers).
# Rated A by an agency (not a thin file, so the grade is not capped at C), EUR 10,000,000 revenue: the
# grade's revenue cap of limit_policy.dmn decides the formula limit (C 3 % = 300,000, B 5 %, D 1.5 %).
RATED_MAKER: dict[str, Any] = {
    "name": "Borderline Maschinenbau GmbH",
    "email": "ap@borderline.example",
    "industry": "manufacturing",
    "founded_year": 2015,
    "annual_revenue": "10000000.00",
    "currency": "EUR",
    "external_rating": "A",
    "current_ratio": "1.5",
    "debt_ratio": "0.5",
}
TOP = {"management_rating": 5, "industry_rating": 5, "strategic_rating": 5}
POOR = {"management_rating": 1, "industry_rating": 1, "strategic_rating": 1}


def audit(client: FlaskClient, tokens: dict[str, str], kind: str, customer_id: int) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/audit?kind={kind}&object=customer:{customer_id}", headers=auth(tokens["auditor1"])
    )
    assert response.status_code == 200, response.json
    return list(response.json["items"])


def credit_file(client: FlaskClient, tokens: dict[str, str], customer_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/customers/{customer_id}", headers=auth(tokens["analyst1"])).json)


def test_ratings_that_raise_c_to_b_apply_grade_bs_formula_and_authority_in_this_case(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    tokens = demo_tokens
    customer = create_customer(client, tokens["analyst1"], RATED_MAKER)
    instance = apply(client, tokens["sales1"], customer["id"], 400_000)
    first = instance["data"]
    assert (first["grade"], first["proposal"]["formula_limit"]) == ("C", "300000.00"), first["scoring"]
    assert 55 <= first["scoring"]["score"] < 70
    review = open_task(instance, "review_application")
    assert "count in this decision" in review["context"]["instructions"]

    # 400,000 lies above grade C's formula (300,000) but within grade B's (5 % of 10,000,000, the need
    # 400,000 below it): with the ratings counted now no exception reason is needed, and the credit manager
    # alone approves (an exception above 100,000 would need the CFO as well).
    done = complete(
        client, tokens["analyst1"], review["id"], decision="approve", recommended_limit=400_000, **TOP
    )
    assert done.status_code == 200, done.json
    data = refresh(client, tokens, instance["id"])
    assert data["data"]["grade"] == "B" and data["data"]["scoring"]["score"] >= 70
    assert data["data"]["proposal"]["formula_limit"] == "400000.00"
    assert data["data"]["recommendation"]["above_policy"] is False
    assert data["data"]["approval_level"] == "manager"
    manager_task = open_task(data, "manager_approval")
    finished = complete(client, tokens["manager1"], manager_task["id"], decision="approve")
    assert finished.status_code == 200, finished.json
    assert finished.json["instance"]["status"] == "completed"

    on_file = credit_file(client, tokens, customer["id"])
    assert (on_file["credit_limit"], on_file["grade"]) == ("400000.00", "B")
    [entry] = on_file["limit_history"]
    assert entry["approvers"] == ["analyst1", "manager1"]
    # History shows both scorings: the first when the case started, the second with the analyst's ratings.
    first_score, second_score = sorted(
        audit(client, tokens, "credit_score_recorded", customer["id"]), key=lambda e: e["id"]
    )
    assert (
        first_score["after"]["grade"],
        second_score["before"]["grade"],
        second_score["after"]["grade"],
    ) == (
        "C",
        "C",
        "B",
    )
    assert second_score["actor"] == "analyst1"
    [rated] = audit(client, tokens, "customer_rated", customer["id"])
    assert rated["actor"] == "analyst1" and rated["after"] == TOP


def test_ratings_that_lower_the_grade_make_a_recommendation_above_the_new_formula_an_exception(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    tokens = demo_tokens
    fields = {**RATED_MAKER, "name": "Slipping Metall AG", "external_rating": "BBB"}
    del fields["current_ratio"], fields["debt_ratio"]
    customer = create_customer(client, tokens["analyst1"], fields)
    instance = apply(client, tokens["sales1"], customer["id"], 200_000)
    assert (instance["data"]["grade"], instance["data"]["proposal"]["formula_limit"]) == ("C", "200000.00")
    review = open_task(instance, "review_application")

    # Within grade C's formula, but the analyst's poor ratings grade the customer D (1.5 % = 150,000):
    # the recommendation is an exception now, refused at submit with the field and the new grade named.
    refused = complete(
        client, tokens["analyst1"], review["id"], decision="approve", recommended_limit=200_000, **POOR
    )
    assert refused.status_code == 422, refused.json
    message = refused.json["error"]["message"]
    assert "exception_reason" in message and "grade D" in message and "€150,000.00" in message
    # Nothing of the refused step is kept: neither the ratings nor the second scoring.
    on_file = credit_file(client, tokens, customer["id"])
    assert (on_file["grade"], on_file["management_rating"]) == ("C", None)
    assert open_task(refresh(client, tokens, instance["id"]), "review_application")["id"] == review["id"]

    done = complete(
        client,
        tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=200_000,
        exception_reason="Parent company letter of comfort",
        **POOR,
    )
    assert done.status_code == 200, done.json
    data = refresh(client, tokens, instance["id"])["data"]
    assert (data["grade"], data["proposal"]["formula_limit"]) == ("D", "150000.00")
    assert data["recommendation"]["above_policy"] is True
    assert data["approval_level"] == "cfo"  # approval_authority.dmn: grade D above policy
    assert credit_file(client, tokens, customer["id"])["grade"] == "D"


def test_a_limit_reviews_ratings_count_in_the_review(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    tokens = demo_tokens
    fields = {
        **RATED_MAKER,
        "name": "Reviewed Metall AG",
        "external_rating": "BBB",
        "credit_limit": "100000.00",
    }
    del fields["current_ratio"], fields["debt_ratio"]  # no ratios on file: an analyst reviews
    customer_id = migrated_customer(app, {**fields, "sales_owner": "sales1"})
    today = app_clock.now.date()
    invoice = {
        "customer_id": customer_id,
        "number": "INV-150",
        "amount": "150000.00",
        "currency": "EUR",
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
    }
    assert client.post("/api/invoices", json=invoice, headers=auth(tokens["finance1"])).status_code == 201
    start = {
        "process_key": "credit_limit_review",
        "business_key": str(customer_id),
        "data": {"customer_id": customer_id, "reason": "manual"},
    }
    started = client.post("/api/process-instances", json=start, headers=auth(tokens["manager1"]))
    assert started.status_code == 201, started.json
    # The need (exposure 150,000 x 1.2) lies within grade C's cap (3 % of 10,000,000).
    assert (started.json["data"]["grade"], started.json["data"]["proposal"]["formula_limit"]) == (
        "C",
        "180000.00",
    )
    review = open_task(started.json, "review_limit")
    assert "count in this decision" in review["context"]["instructions"]

    # The analyst's poor ratings grade it D (cap 1.5 % = 150,000): the proposal's 180,000 is an exception now.
    refused = complete(
        client, tokens["analyst1"], review["id"], decision="approve", recommended_limit=180_000, **POOR
    )
    assert refused.status_code == 422, refused.json
    message = refused.json["error"]["message"]
    assert "exception_reason" in message and "grade D" in message and "€150,000.00" in message
    done = complete(
        client,
        tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=180_000,
        exception_reason="Order book secured by the parent",
        **POOR,
    )
    assert done.status_code == 200, done.json
    data = refresh(client, tokens, started.json["id"])["data"]
    assert (data["grade"], data["proposal"]["formula_limit"]) == ("D", "150000.00")
    assert data["recommendation"]["above_policy"] is True and data["approval_level"] == "cfo"
    second = max(audit(client, tokens, "credit_score_recorded", customer_id), key=lambda e: e["id"])
    assert (second["after"]["grade"], second["actor"]) == ("D", "analyst1")


# credit_application.bpmn as deployed before the re-score chain (git show 7507ee7:bpmn/...): record_ratings
# leads straight to the analyst's decision.
BEFORE_RESCORE = Path(__file__).parents[1] / "fixtures" / "credit_application_before_rescore"


def deploy(app: Flask, paths: list[Path], now: datetime) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, read_files(paths), build_operations(), deployed_by="system", now=now)


def test_a_case_on_the_version_before_the_rescore_keeps_running_with_its_grade(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    tokens = demo_tokens
    [bundle] = [b for b in shipped_bundles() if b[0].name == "credit_application.bpmn"]
    deploy(app, [BEFORE_RESCORE / "credit_application.bpmn", *bundle[1:]], app_clock.now)
    customer = create_customer(
        client, tokens["analyst1"], {**RATED_MAKER, "name": "Old Version Maschinen AG"}
    )
    instance = apply(client, tokens["sales1"], customer["id"], 400_000)
    deploy(app, bundle, app_clock.now)  # the upgrade: today's diagram is the latest version again
    review = open_task(instance, "review_application")
    assert "count from the next scoring" in review["context"]["instructions"]

    # That version counts the ratings from the next scoring: the case keeps grade C and its formula.
    done = complete(
        client,
        tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=400_000,
        exception_reason="Framework agreement with the parent",
        **TOP,
    )
    assert done.status_code == 200, done.json
    data = refresh(client, tokens, instance["id"])["data"]
    assert (data["grade"], data["proposal"]["formula_limit"], data["approval_level"]) == (
        "C",
        "300000.00",
        "cfo",
    )
    assert data["ratings"]["changed"] == sorted(TOP)
    assert credit_file(client, tokens, customer["id"])["management_rating"] == 5
    # The next application, on today's version, scores with them from the start.
    later = apply(client, tokens["sales1"], customer["id"], 400_000)
    assert later["data"]["grade"] == "B"
