"""Hostile review of the audit trail (issue 14, "An auditor's view"): a supplier contract change request
was listed as `contract_change_requested` with the after `{"change_type": "quantity"}` only. What was asked
for (the changes, the current values they replace), the declared value impact that sets the approval level
and the reason were not in the trail, so an auditor could not see that a request was understated before
it was approved."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.bpmn import test_supplier_contract_change as contract_change
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_change_request_records_what_was_asked_and_its_value_impact(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = contract_change.make_contract(client, demo_tokens)
    contract_change.started(
        client,
        demo_tokens["buyer1"],
        contract["id"],
        "payment_terms",
        {"payment_terms_days": 90},
        "0.00",
        reason="Supplier asked for longer terms",
    )
    found = client.get(
        f"/api/audit?kind=contract_change_requested&object=contract:{contract['id']}",
        headers=auth(demo_tokens["auditor1"]),
    ).json
    [change] = found["items"]
    assert change["actor"] == "buyer1"
    after = change["after"]
    assert after["change_type"] == "payment_terms"
    assert after["changes"] == {"payment_terms_days": 90} and after["previous"] == {"payment_terms_days": 60}
    assert (after["value_impact"], after["currency"]) == ("0.00", "EUR")
    assert after["reason"] == "Supplier asked for longer terms"
