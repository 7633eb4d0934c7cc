"""Hostile review of the audit trail (issue 14, "An auditor's view"): creating a customer, a supplier or a
contract recorded only its name or number. What a sales user typed in at creation and what the scorecard
then graded (external rating, revenue, ratios, founding year), whose customer it is (`sales_owner`, who
may read it), when it is reviewed next, and a contract's value, currency, payment terms and dates were set
with no trace: the trail's `after` said `{"name": ...}`. Every field a creation sets is now its `after`."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.bpmn.test_supplier_contract_change import SOLID_SUPPLIER, make_contract
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def _created(client: FlaskClient, tokens: dict[str, str], kind: str, obj: str) -> dict[str, Any]:
    found = client.get(f"/api/audit?kind={kind}&object={obj}", headers=auth(tokens["auditor1"])).json
    assert found["total"] == 1, found
    change = found["items"][0]
    assert change["before"] is None
    return dict(change["after"])


def test_a_customer_creation_records_every_field_it_set(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    fields = {
        "name": "Self Graded AG",
        "currency": "EUR",
        "external_id": "SG-1",
        "founded_year": 1901,
        "annual_revenue": "900000000.00",
        "current_ratio": "4.5",
        "debt_ratio": "0.05",
        "external_rating": "AAA",
        "sales_owner": "sales1",
        "next_review_date": "2026-06-01",
    }
    # Created by an analyst: only credit staff may type an external rating.
    created = client.post("/api/customers", json=fields, headers=auth(demo_tokens["analyst1"]))
    assert created.status_code == 201, created.json
    after = _created(client, demo_tokens, "customer_created", f"customer:{created.json['id']}")
    assert after["credit_limit"] == "0.00"
    for key, value in fields.items():
        assert str(after.get(key)) == str(value) or after.get(key) == value, (key, after.get(key))
    assert after["annual_revenue"] == "900000000.00" and after["next_review_date"] == "2026-06-01"


def test_a_supplier_and_a_contract_creation_record_every_field_they_set(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    supplier = _created(client, demo_tokens, "supplier_created", f"supplier:{contract['supplier']['id']}")
    assert supplier["external_rating"] == "A" and supplier["annual_revenue"] == "85000000.00"
    assert supplier["registration_no"] == SOLID_SUPPLIER["registration_no"]
    terms = _created(client, demo_tokens, "contract_created", f"contract:{contract['id']}")
    assert (terms["value"], terms["currency"], terms["payment_terms_days"]) == ("1200000.00", "EUR", 60)
    assert (terms["start_date"], terms["end_date"]) == ("2026-01-01", "2027-12-31")
    assert terms["supplier_id"] == contract["supplier"]["id"] and terms["terms"]
