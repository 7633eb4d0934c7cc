"""The auditor reads customers, suppliers, contracts, receivables and every instance, and changes nothing
(the domain side; the full endpoint-by-role matrix is tested with the API)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")

READS = (
    "/api/customers",
    "/api/suppliers",
    "/api/contracts",
    "/api/invoices",
    "/api/dunning-cases",
    "/api/provisions",
    "/api/process-instances",
    "/api/tasks",
)


def test_the_auditor_reads_and_cannot_write(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    auditor = auth(demo_tokens["auditor1"])
    for path in READS:
        response = client.get(path, headers=auditor)
        assert response.status_code == 200, (path, response.json)
    writes = (
        ("/api/customers", {"name": "Audit Probe", "currency": "EUR"}),
        ("/api/suppliers", {"name": "Audit Probe", "currency": "EUR"}),
        ("/api/process-instances", {"process_key": "credit_application", "data": {}}),
        ("/api/messages", {"name": "promise_to_pay", "correlation_key": "1", "data": {}}),
        ("/api/admin/tick", {}),
    )
    for path, body in writes:
        response = client.post(path, json=body, headers=auditor)
        assert response.status_code == 403, (path, response.json)
