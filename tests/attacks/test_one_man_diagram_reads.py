"""Process owners may not read customers (GET /api/customers/ID answers them 403), yet a one-man diagram
(no money move, so it deploys at once) calling `credit.load_file`, `credit.score` or `credit.propose_limit`
on any customer id put the credit file, the scorecard or the revenue-based cap into its instance's data,
which its initiator reads. The operations that read a customer's file now run only in an instance started
by someone who may read customers (or the system, or an admin). Found by an attack on the build."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.attacks.test_foreign_records import one_task_diagram
from tests.handlers.test_money_moves import start
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

CUSTOMER = {"name": "Secret Revenue GmbH", "currency": "EUR", "annual_revenue": "73500000.00"}


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("credit.load_file", {}),
        ("credit.score", {}),
        (
            "credit.propose_limit",
            {
                "requested_limit": "1000000",
                "payment_terms_days": "30",
                "revenue_cap_pct": "100",
                "grace_days": "15",
                "limit_rounding": "1000",
            },
        ),
        # Its policy_limit is a share of the revenue, and its base-currency amount a conversion.
        ("credit.check_recommendation", {"recommended_limit": "1000000", "formula_limit": "99999999"}),
    ],
)
def test_a_process_owner_cannot_read_a_customer_through_a_one_man_diagram(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], operation: str, params: dict[str, str]
) -> None:
    created = client.post("/api/customers", json=CUSTOMER, headers=auth(demo_tokens["sales1"]))
    assert created.status_code == 201, created.json
    customer_id = created.json["id"]
    owner = demo_tokens["owner1"]
    assert client.get(f"/api/customers/{customer_id}", headers=auth(owner)).status_code == 403

    key = one_task_diagram(app, client, demo_tokens, operation, customer_id="customer_id", **params)
    refused = start(client, owner, key, {"customer_id": customer_id})
    assert refused.status_code == 422, refused.json
    assert "may read customers" in refused.json["error"]["message"]
    assert "73500000" not in refused.get_data(as_text=True)
