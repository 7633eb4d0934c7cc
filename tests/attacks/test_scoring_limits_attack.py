"""Attacks on the rebuilt scoring, limits and currency authority (issue 15, "Scoring" and "Limits"): a
salesperson, analyst and auditor trying to move the grade, the limit, the approvers or the exchange rate."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bpmn.test_credit_application import (
    SOLID_CUSTOMER,
    apply,
    complete,
    create_customer,
    open_task,
    refresh,
)
from tests.bpmn.test_credit_limit_review import Desk
from tests.bpmn.test_limit_policy import _overdue_customer
from tests.conftest import SteppingClock
from tests.helpers import auth
from workflows.credit.fx import RateInput, store_rate
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

RATIOS = {"current_ratio": "1.60", "debt_ratio": "0.45"}
GUARANTEE = {
    "kind": "bank_guarantee",
    "provider": "Hausbank AG",
    "value": "100000.00",
    "currency": "EUR",
    "reference": "BG-2027-0042",
}


def post_collateral(client: FlaskClient, token: str, customer_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/api/customers/{customer_id}/collateral", json=body, headers=auth(token))


def collateral_values(client: FlaskClient, tokens: dict[str, str], customer_id: int) -> list[str]:
    response = client.get(f"/api/customers/{customer_id}/collateral", headers=auth(tokens["auditor1"]))
    assert response.status_code == 200, response.json
    return [row["value"] for row in response.json["items"]]


@pytest.mark.parametrize(
    "since",
    ["1900-01-01", "2019-12-31"],  # before a company founded in 2020: years it cannot have
)
def test_a_relationship_older_than_the_company_is_refused(
    client: FlaskClient, demo_tokens: dict[str, str], since: str
) -> None:
    response = client.post(
        "/api/customers",
        json={**SOLID_CUSTOMER, "founded_year": 2020, "customer_since": since},
        headers=auth(demo_tokens["sales1"]),
    )
    assert response.status_code == 422, response.json
    assert "customer_since" in response.json["error"]["fields"]
    listed = client.get("/api/customers", headers=auth(demo_tokens["auditor1"])).json["items"]
    assert listed == []  # nothing half-written
    # The founding year itself is fine.
    ok = {**SOLID_CUSTOMER, "founded_year": 2020, "customer_since": "2020-01-01"}
    assert create_customer(client, demo_tokens["sales1"], ok)["customer_since"] == "2020-01-01"


def test_the_same_guarantee_posted_twice_counts_once(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # Posted again by a second person, with other spelling: the same bank guarantee doubled the collateral
    # cover of the scorecard (two rows of 100,000.00 counted as 200,000.00).
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    first = post_collateral(client, demo_tokens["analyst1"], customer["id"], GUARANTEE)
    assert first.status_code == 201, first.json
    again = {**GUARANTEE, "provider": "HAUSBANK AG.", "reference": "bg 2027 0042"}
    repeated = post_collateral(client, demo_tokens["manager1"], customer["id"], again)
    assert repeated.status_code == 409, repeated.json
    assert collateral_values(client, demo_tokens, customer["id"]) == ["100000.00"]
    # Another guarantee of the same bank (another reference) is another collateral.
    other = post_collateral(
        client, demo_tokens["analyst1"], customer["id"], {**GUARANTEE, "reference": "BG-43"}
    )
    assert other.status_code == 201, other.json


@pytest.mark.parametrize(
    "kind", ["parent_guarantee", "bank_guarantee", "credit_insurance", "letter_of_credit"]
)
def test_a_guarantee_by_the_customer_itself_is_refused(
    client: FlaskClient, demo_tokens: dict[str, str], kind: str
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)  # "Acme Machinery GmbH"
    body = {**GUARANTEE, "kind": kind, "provider": "  ACME machinery GmbH. "}
    response = post_collateral(client, demo_tokens["analyst1"], customer["id"], body)
    assert response.status_code == 422, response.json
    assert "provider" in response.json["error"]["fields"]
    assert collateral_values(client, demo_tokens, customer["id"]) == []
    # A cash deposit or a pledge of the customer's own assets does secure its receivables.
    deposit = {**GUARANTEE, "kind": "cash_deposit", "provider": "Acme Machinery GmbH"}
    assert post_collateral(client, demo_tokens["analyst1"], customer["id"], deposit).status_code == 201


def test_sales_records_neither_collateral_nor_ratings(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], SOLID_CUSTOMER)
    assert post_collateral(client, demo_tokens["sales1"], customer["id"], GUARANTEE).status_code == 403
    rating = {"agency": "S&P", "rating": "AAA", "date": "2026-01-01"}
    denied = client.post(
        f"/api/customers/{customer['id']}/rating", json=rating, headers=auth(demo_tokens["sales1"])
    )
    assert denied.status_code == 403
    assert collateral_values(client, demo_tokens, customer["id"]) == []


@pytest.mark.parametrize(
    ("limit", "status"),
    [
        ("1e400", 422),
        (-5, 422),
        ("60000.001", 422),
        ("NaN", 422),
        ("Infinity", 422),
        (10**30, 400),
        (True, 422),
    ],
)
def test_a_crafted_recommendation_is_refused_and_the_review_stays_open(
    client: FlaskClient, demo_tokens: dict[str, str], limit: Any, status: int
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 40_000)
    review = open_task(instance, "review_application")
    response = complete(
        client,
        demo_tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=limit,
        exception_reason="x",
    )
    assert response.status_code == status, (limit, response.get_data(as_text=True))
    assert open_task(refresh(client, demo_tokens, instance["id"]), "review_application")["id"] == review["id"]


def test_exactly_the_formula_is_within_policy_and_one_cent_more_is_an_exception(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS})
    over = apply(client, demo_tokens["sales1"], customer["id"], 40_000)
    review = open_task(over, "review_application")
    formula = Decimal(review["context"]["data"]["proposal"]["formula_limit"])
    cent_more = complete(
        client,
        demo_tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=str(formula + Decimal("0.01")),
    )
    assert cent_more.status_code == 422 and "exception_reason" in cent_more.json["error"]["message"]
    at = complete(
        client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit=str(formula)
    )
    assert at.status_code == 200, at.json
    assert at.json["instance"]["status"] == "completed"  # within policy, small: the analyst alone
    file = client.get(f"/api/customers/{customer['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert (file["limit_history"][-1]["new"], file["limit_history"][-1]["above_policy"]) == (
        str(formula),
        False,
    )


def test_a_rate_corrected_the_same_day_does_not_strand_the_approval(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    # The builder's test posts the later rate on a later day. A rate corrected on the recommendation's own
    # day replaced the rate the routing used: credit.apply_limit then asked for the CFO, whom the routing
    # never asked, and refused the credit manager's approval (422) with the case stuck at manager_approval.
    svc = app.extensions["creditflow"]

    def post_rate(rate: str) -> None:
        with transaction(svc.rt.factory) as session:
            data = RateInput("CHF", svc.clock().date(), Decimal(rate), "ECB")
            store_rate(session, data, actor="finance1", now=svc.clock())

    post_rate("1.0650")  # 150,000 CHF = 159,750 EUR: analyst and credit manager
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS, "currency": "CHF"})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 150_000, currency="CHF")
    review = open_task(instance, "review_application")
    done = complete(
        client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit=150_000
    )
    assert done.status_code == 200, done.json
    manager_task = open_task(refresh(client, demo_tokens, instance["id"]), "manager_approval")
    post_rate("7.0000")  # the same day: 1,050,000 EUR would be the CFO's level
    approved = complete(client, demo_tokens["manager1"], manager_task["id"], decision="approve")
    assert approved.status_code == 200, approved.json
    assert approved.json["instance"]["status"] == "completed"
    file = client.get(f"/api/customers/{customer['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert file["limit_history"][-1]["approvers"] == ["analyst1", "manager1"]


def test_a_rate_that_lowers_the_level_the_same_day_skips_no_approver(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # The other way round: routed to the credit manager at 1.0650, then the rate is cut to 0.0000000001 the
    # same day. The analyst alone must not be enough for the limit now: the manager's step still decides.
    svc = app.extensions["creditflow"]

    def post_rate(rate: str) -> None:
        with transaction(svc.rt.factory) as session:
            data = RateInput("CHF", svc.clock().date(), Decimal(rate), "ECB")
            store_rate(session, data, actor="finance1", now=svc.clock())

    post_rate("1.0650")
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS, "currency": "CHF"})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 150_000, currency="CHF")
    review = open_task(instance, "review_application")
    assert (
        complete(
            client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit=150_000
        ).status_code
        == 200
    )
    post_rate("0.0000000001")
    manager_task = open_task(refresh(client, demo_tokens, instance["id"]), "manager_approval")
    rejected = complete(client, demo_tokens["manager1"], manager_task["id"], decision="reject")
    assert rejected.status_code == 200, rejected.json
    file = client.get(f"/api/customers/{customer['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert file["credit_limit"] == "0.00"


@pytest.fixture
def review_desk(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> Desk:
    return Desk(app, client, demo_tokens, app_clock)


@pytest.mark.parametrize("reason", ["utilisation", "manual", "scheduled", "rating_change"])
def test_a_hand_started_review_of_an_overdue_customer_proposes_no_increase(
    review_desk: Desk, reason: str
) -> None:
    # An analyst starts the review of a customer 60 days late by hand and names it "utilisation" (or manual,
    # scheduled, rating_change): limit_review_trigger.dmn allowed an increase for those reasons, and the
    # formula proposed 114,000 on a 100,000 limit to a customer the overdue trigger would give none.
    desk = review_desk
    customer = _overdue_customer(desk)  # 95,000 open, 60 days overdue, limit 100,000
    started = desk.client.post(
        "/api/process-instances",
        json={
            "process_key": "credit_limit_review",
            "business_key": str(customer),
            "data": {"customer_id": customer, "reason": reason},
        },
        headers=auth(desk.tokens["analyst1"]),
    )
    assert started.status_code == 201, started.json
    detail = desk.client.get(
        f"/api/process-instances/{started.json['id']}", headers=auth(desk.tokens["auditor1"])
    ).json
    proposal = detail["data"]["proposal"]
    assert Decimal(proposal["formula_limit"]) > Decimal("100000.00")  # what the formula alone says
    assert Decimal(proposal["proposed_limit"]) == Decimal("100000.00"), proposal
    assert proposal["basis"].endswith("the customer is in overdue"), proposal
    assert desk.credit_file(customer)["credit_limit"] == "100000.00"


@pytest.mark.parametrize(
    ("financials", "missing"),
    [
        ({"annual_revenue": "80000000.00"}, ["financial_ratios"]),  # revenue but no ratios
        (RATIOS, ["annual_revenue"]),  # ratios but no revenue
        ({**RATIOS, "annual_revenue": "0.00"}, ["annual_revenue"]),  # a revenue of 0 is none
    ],
)
def test_a_scheduled_sweep_over_a_thin_credit_file_never_cuts_and_asks_an_analyst(
    review_desk: Desk, financials: dict[str, str], missing: list[str]
) -> None:
    desk = review_desk
    customer = desk.customer(
        name="Half Filed GmbH",
        industry="wholesale",
        founded_year=2001,
        credit_limit="250000.00",
        next_review_date=(desk.clock.now.date() - timedelta(days=1)).isoformat(),
        **financials,
    )
    desk.tick()
    [review] = desk.reviews(customer)
    assert review["status"] == "running"
    task = desk.task("analyst1")
    assert task["context"]["data"]["proposal"]["missing_data"] == missing
    assert Decimal(task["context"]["data"]["proposal"]["proposed_limit"]) == Decimal("250000.00")
    assert desk.credit_file(customer)["credit_limit"] == "250000.00"


@pytest.mark.parametrize("reason", ["Utilisation", "overdue\x00", "", "x" * 5000, "__class__"])
def test_a_review_reason_outside_the_list_is_refused(review_desk: Desk, reason: str) -> None:
    desk = review_desk
    customer = _overdue_customer(desk)
    started = desk.client.post(
        "/api/process-instances",
        json={
            "process_key": "credit_limit_review",
            "business_key": str(customer),
            "data": {"customer_id": customer, "reason": reason},
        },
        headers=auth(desk.tokens["analyst1"]),
    )
    assert started.status_code in (400, 422), started.get_data(as_text=True)[:300]
    assert desk.reviews(customer) == []


def _rate(app: Flask, currency: str, rate: str) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        data = RateInput(currency, svc.clock().date() - timedelta(days=1), Decimal(rate), "ECB")
        store_rate(session, data, actor="finance1", now=svc.clock())


def _routed_level(
    client: FlaskClient, tokens: dict[str, str], currency: str, limit: str, **fields: Any
) -> tuple[dict[str, Any], Any]:
    customer = create_customer(
        client, tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS, "currency": currency, **fields}
    )
    # Expected sales of 3,650,000 a year need 450,000 (30 days and 15 grace days): the policy's limit.
    instance = apply(
        client, tokens["sales1"], customer["id"], limit, currency=currency, expected_annual_sales="3650000.00"
    )
    review = open_task(instance, "review_application")
    done = complete(
        client,
        tokens["analyst1"],
        review["id"],
        decision="approve",
        recommended_limit=limit,
        exception_reason="Parent guarantee of the group's holding",
    )
    return refresh(client, tokens, instance["id"]), done


@pytest.mark.parametrize(
    ("limit", "level"),
    [
        ("333200.05", "manager"),  # 999,999.99 EUR at 3.0012: a cent under the million
        ("333200.06", "cfo"),  # 1,000,000.02 EUR: just over
    ],
)
def test_a_kwd_limit_is_weighed_against_the_cfo_threshold_in_euro(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], limit: str, level: str
) -> None:
    _rate(app, "KWD", "3.0012")
    instance, done = _routed_level(client, demo_tokens, "KWD", limit, annual_revenue="900000000.00")
    assert done.status_code == 200, done.json
    assert instance["data"]["recommendation"]["above_policy"] is False  # within the formula's 450,000
    assert instance["data"]["approval_level"] == level, instance["data"]["recommendation"]


def test_a_limit_in_the_base_currency_needs_no_rate(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    instance, done = _routed_level(client, demo_tokens, "EUR", "150000.00")
    assert done.status_code == 200, done.json
    recommendation = instance["data"]["recommendation"]
    assert (recommendation["limit_in_base"], recommendation["rate_missing"]) == ("150000.00", False)
    assert instance["data"]["approval_level"] in ("manager", "cfo")


def test_the_largest_rate_on_the_largest_limit_is_refused_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    _rate(app, "CHF", "1000000")  # MAX_RATE: 999,999,999,999.99 CHF is beyond any amount in euro
    instance, done = _routed_level(
        client, demo_tokens, "CHF", "999999999999.99", annual_revenue="999999999999.99"
    )
    assert done.status_code in (200, 409, 422), done.get_data(as_text=True)[:500]
    if done.status_code == 200:  # weighed at all: the highest level signs
        print("HUGE", instance["data"]["recommendation"])
        assert instance["data"]["approval_level"] == "cfo", instance["data"]["recommendation"]


def test_a_limit_resting_on_a_guarantee_that_expires_tomorrow_is_reviewed_when_it_lapses(
    review_desk: Desk,
) -> None:
    # The guarantee counts today (100 % cover), so the application grades on it, and the limit was then
    # left for the policy's full review cycle (12 months or more) on a guarantee gone the day after.
    desk = review_desk
    today = desk.clock.now.date()
    customer = create_customer(desk.client, desk.tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS})
    tomorrow = (today + timedelta(days=1)).isoformat()
    posted = post_collateral(
        desk.client, desk.tokens["analyst1"], customer["id"], {**GUARANTEE, "expires_on": tomorrow}
    )
    assert posted.status_code == 201, posted.json
    instance = apply(desk.client, desk.tokens["sales1"], customer["id"], 40_000)
    assert instance["data"]["scoring"]["score_factors"]["collateral"] == 100
    review = open_task(instance, "review_application")
    done = complete(
        desk.client, desk.tokens["analyst1"], review["id"], decision="approve", recommended_limit=40_000
    )
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed", done.json
    file = desk.credit_file(customer["id"])
    assert file["credit_limit"] == "40000.00"
    assert file["next_review_date"] == (today + timedelta(days=2)).isoformat()  # the day it no longer counts
    desk.tick(days=2)
    [started] = desk.reviews(customer["id"])
    detail = desk.client.get(
        f"/api/process-instances/{started['id']}", headers=auth(desk.tokens["auditor1"])
    ).json
    assert detail["data"]["reason"] == "scheduled"
    assert detail["data"]["scoring"]["score_factors"]["collateral"] == 0  # re-scored without it


def _start_application(client: FlaskClient, tokens: dict[str, str], customer_id: int, **extra: Any) -> Any:
    data = {
        "customer_id": customer_id,
        "requested_limit": 40_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Framework agreement for 2027",
        **extra,
    }
    body = {"process_key": "credit_application", "data": data}
    return client.post("/api/process-instances", json=body, headers=auth(tokens["sales1"]))


@pytest.mark.parametrize("smuggled", ["Sales vouches for the customer", "x" * 5000])
def test_a_salesperson_cannot_supply_the_analysts_exception_reason(
    client: FlaskClient, demo_tokens: dict[str, str], smuggled: str
) -> None:
    # The salesperson puts exception_reason into the application's start data, or into the answer to the
    # analyst's questions; the analyst's above-policy recommendation must still need her own reason.
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS})
    started = _start_application(client, demo_tokens, customer["id"], exception_reason=smuggled)
    assert started.status_code in (201, 422), started.get_data(as_text=True)[:300]
    if started.status_code == 422:
        return
    review = open_task(started.json, "review_application")
    asked = complete(
        client, demo_tokens["analyst1"], review["id"], decision="request_info", comment="Latest accounts?"
    )
    assert asked.status_code == 200, asked.json
    answer = open_task(refresh(client, demo_tokens, started.json["id"]), "provide_information")
    answered = complete(
        client, demo_tokens["sales1"], answer["id"], answer="Attached", exception_reason=smuggled
    )
    assert answered.status_code in (200, 400, 422), answered.get_data(as_text=True)[:300]
    if answered.status_code != 200:  # the extra field is refused: answer without it
        answered = complete(client, demo_tokens["sales1"], answer["id"], answer="Attached")
        assert answered.status_code == 200, answered.json
    again = open_task(refresh(client, demo_tokens, started.json["id"]), "review_application")
    done = complete(
        client, demo_tokens["analyst1"], again["id"], decision="approve", recommended_limit=60_000
    )
    assert done.status_code == 422 and "exception_reason" in done.json["error"]["message"], done.json


def test_an_exception_reason_of_5000_characters_is_refused_and_500_are_kept_whole(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = create_customer(client, demo_tokens["sales1"], {**SOLID_CUSTOMER, **RATIOS})
    instance = apply(client, demo_tokens["sales1"], customer["id"], 40_000)
    review = open_task(instance, "review_application")

    def recommend(reason: str) -> Any:
        return complete(
            client,
            demo_tokens["analyst1"],
            review["id"],
            decision="approve",
            recommended_limit=60_000,
            exception_reason=reason,
        )

    too_long = recommend("r" * 5000)
    assert too_long.status_code == 422 and "exception_reason" in too_long.json["error"]["fields"]
    assert recommend("r" * 500).status_code == 200
    manager_task = open_task(refresh(client, demo_tokens, instance["id"]), "manager_approval")
    assert (
        complete(client, demo_tokens["manager1"], manager_task["id"], decision="approve").status_code == 200
    )
    file = client.get(f"/api/customers/{customer['id']}", headers=auth(demo_tokens["analyst1"])).json
    assert file["limit_history"][-1]["exception_reason"] == "r" * 500
