"""Hostile calls of the scorecard's inputs: collateral (POST /api/customers/ID/collateral) with crafted JSON,
NUL bytes, huge numbers, past expiry and wrong groups; bad segment and relationship fields on a customer;
and a one-man diagram that rates a customer without being a credit analyst."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.attacks.test_foreign_records import one_task_diagram
from tests.handlers.test_money_moves import person, start
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

GOOD = {"kind": "bank_guarantee", "value": "100000.00", "currency": "EUR", "expires_on": "2027-12-31"}


def customer(client: FlaskClient, tokens: dict[str, str], **fields: Any) -> int:
    body = {"name": "Target Trading Ltd", "currency": "EUR", "industry": "retail", **fields}
    response = client.post("/api/customers", json=body, headers=auth(tokens["sales1"]))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def collateral_of(client: FlaskClient, tokens: dict[str, str], customer_id: int) -> list[Any]:
    response = client.get(f"/api/customers/{customer_id}/collateral", headers=auth(tokens["auditor1"]))
    assert response.status_code == 200, response.json
    return list(response.json["items"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "value": "1e400"}, "value"),
        ({**GOOD, "value": "NaN"}, "value"),
        ({**GOOD, "value": "-5.00"}, "value"),
        ({**GOOD, "value": "0"}, "value"),
        ({**GOOD, "value": "1.001"}, "value"),
        ({**GOOD, "value": 1.5e300}, None),  # a float: refused by the body's schema or the parser
        ({**GOOD, "value": 10**30}, None),
        ({**GOOD, "value": True}, None),
        ({**GOOD, "value": ["100"]}, None),
        ({**GOOD, "kind": "promise_of_the_owner"}, "kind"),
        ({**GOOD, "kind": "bank_guarantee\x00"}, None),
        ({**GOOD, "currency": "eur"}, None),
        ({**GOOD, "currency": "EU\x00"}, None),
        ({**GOOD, "expires_on": "2026-02-30"}, None),
        ({**GOOD, "expires_on": "2020-01-01"}, "expires_on"),  # expired already: secures nothing
        ({**GOOD, "provider": "x" * 201}, None),
        ({**GOOD, "provider": "Bank\x00"}, None),
        ({**GOOD, "owner": "me"}, None),
        ({k: v for k, v in GOOD.items() if k != "value"}, None),
    ],
)
def test_a_crafted_collateral_is_refused_and_nothing_is_stored(
    client: FlaskClient, demo_tokens: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    customer_id = customer(client, demo_tokens)
    response = client.post(
        f"/api/customers/{customer_id}/collateral", json=body, headers=auth(demo_tokens["analyst1"])
    )
    assert response.status_code in (400, 422), (body, response.status_code, response.get_data(as_text=True))
    if field is not None:
        assert response.status_code == 422 and field in response.json["error"]["fields"], response.json
    assert collateral_of(client, demo_tokens, customer_id) == []


@pytest.mark.parametrize("body", [[GOOD], "bank_guarantee", None, 5])
def test_a_collateral_body_that_is_not_an_object_is_refused(
    client: FlaskClient, demo_tokens: dict[str, str], body: Any
) -> None:
    customer_id = customer(client, demo_tokens)
    response = client.post(
        f"/api/customers/{customer_id}/collateral", json=body, headers=auth(demo_tokens["analyst1"])
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert collateral_of(client, demo_tokens, customer_id) == []


def test_only_credit_staff_record_collateral_and_an_unknown_customer_is_404(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = customer(client, demo_tokens)
    for user in ("sales1", "collector1", "auditor1", "owner1", "cfo1"):
        response = client.post(
            f"/api/customers/{customer_id}/collateral", json=GOOD, headers=auth(demo_tokens[user])
        )
        assert response.status_code == 403, (user, response.json)
    assert collateral_of(client, demo_tokens, customer_id) == []
    missing = client.post(
        "/api/customers/999999/collateral", json=GOOD, headers=auth(demo_tokens["manager1"])
    )
    assert missing.status_code == 404
    assert (
        client.get("/api/customers/999999/collateral", headers=auth(demo_tokens["manager1"])).status_code
        == 404
    )
    recorded = client.post(
        f"/api/customers/{customer_id}/collateral", json=GOOD, headers=auth(demo_tokens["manager1"])
    )
    assert recorded.status_code == 201 and recorded.json["created_by"] == "manager1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ownership": "mine"}, "ownership"),
        ({"ownership": "listed\x00"}, None),
        ({"customer_since": "2999-01-01"}, "customer_since"),
        ({"customer_since": "1700-01-01"}, "customer_since"),
        ({"customer_since": "not a date"}, None),
        ({"region": "x" * 81}, None),
    ],
)
def test_bad_segment_or_relationship_fields_are_refused(
    client: FlaskClient, demo_tokens: dict[str, str], fields: dict[str, Any], field: str | None
) -> None:
    body = {"name": "Segment Ltd", "currency": "EUR", **fields}
    response = client.post("/api/customers", json=body, headers=auth(demo_tokens["sales1"]))
    assert response.status_code in (400, 422), (fields, response.status_code, response.get_data(as_text=True))
    if field is not None:
        assert field in response.json["error"]["fields"], response.json
    listed = client.get("/api/customers?q=Segment", headers=auth(demo_tokens["sales1"])).json
    assert listed["total"] == 0


def test_a_one_man_diagram_cannot_rate_a_customer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = customer(client, demo_tokens)
    key = one_task_diagram(
        app,
        client,
        demo_tokens,
        "credit.record_ratings",
        customer_id="customer_id",
        management_rating="5",
        industry_rating="5",
        strategic_rating="5",
    )
    # A process owner may not read customers into an instance at all.
    refused = start(client, demo_tokens["owner1"], key, {"customer_id": customer_id})
    assert refused.status_code == 422, refused.json
    # A process owner who is also in sales may read customers, but rating one is the credit analysts' job.
    seller = person(app, "owner_seller", "process_owner", "sales")
    refused = start(client, seller, key, {"customer_id": customer_id})
    assert refused.status_code == 422, refused.json
    assert "only they rate a customer" in refused.json["error"]["message"]
    credit_file = client.get(f"/api/customers/{customer_id}", headers=auth(demo_tokens["analyst1"])).json
    assert (credit_file["management_rating"], credit_file["ratings_by"]) == (None, None)
