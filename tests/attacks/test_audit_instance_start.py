"""Hostile review of the audit trail (issue 14, "An auditor's view"): starting an instance was listed with
the after `{"status": "running"}` only. A task's completion records the data it was completed with, but what
the initiator asked for at the start (the customer, the requested limit and currency, the justification of
a credit application) was in the trail nowhere, though it is what every later approval decided on."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.bpmn import test_credit_application as application
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_an_instance_start_records_the_data_it_was_started_with(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = application.create_customer(client, demo_tokens["sales1"], application.SOLID_CUSTOMER)
    instance = application.apply(client, demo_tokens["sales1"], customer["id"], "600000.00")
    found = client.get(
        f"/api/audit?kind=instance_started&object=instance:{instance['id']}",
        headers=auth(demo_tokens["auditor1"]),
    ).json
    [started] = found["items"]
    assert started["actor"] == "sales1" and started["before"] is None
    assert started["after"]["status"] == "running"
    data = started["after"]["data"]
    assert data["customer_id"] == customer["id"] and str(data["requested_limit"]) in ("600000.00", "600000")
    assert data["currency"] == "EUR" and data["justification"] == "Framework agreement for 2027"
