"""Hostile review of the audit trail's exports (issue 14, "An auditor's view"): both lists were cut at a
fixed number of rows without a word.

- The segregation-of-duties report read at most 10,000 rows of each kind, oldest first. In a busy period
  a limit change that one person requested and approved, made after 10,000 others, was silently left out:
  the report answered 200 with `flagged: 0` ("No row is flagged"), the one thing an auditor signs.
- The audit trail's CSV export stopped at 50,000 rows; neither the file nor the response said so, so an
  auditor took a partial file for the whole period.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from tests.helpers import auth, migrated_customer
from workflows.audit_trail import MAX_EXPORT_ROWS
from workflows.credit.models import LimitChange
from workflows.sod_report import MAX_ROWS
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


def test_the_sod_report_never_hides_a_flagged_row_behind_its_row_cap(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    customer_id = migrated_customer(
        app, {"name": "Busy GmbH", "currency": "EUR", "credit_limit": "1000.00", "external_id": "busy"}
    )
    start = clock - timedelta(days=60)
    plain = {
        "customer_id": customer_id,
        "old_limit": Decimal("1000.00"),
        "new_limit": Decimal("1000.00"),
        "currency": "EUR",
        "reason": "migrated from erp.csv",
        "approvers": [],
        "instance_id": None,
        "changed_by": "admin",
    }
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            insert(LimitChange),
            [{**plain, "changed_at": start + timedelta(seconds=i)} for i in range(MAX_ROWS)],
        )
        # The last of the period: manager1 asked and approved alone.
        session.add(
            LimitChange(
                **{
                    **plain,
                    "new_limit": Decimal("900000.00"),
                    "changed_by": "manager1",
                    "approvers": ["manager1"],
                },
                changed_at=start + timedelta(days=30),
            )
        )
    auditor = auth(demo_tokens["auditor1"])
    period = f"from={start.date().isoformat()}&to={clock.date().isoformat()}"
    for path in (f"/api/audit/sod?{period}", f"/api/audit/sod?format=csv&{period}"):
        report = client.get(path, headers=auditor)
        if report.status_code == 200 and report.is_json:
            assert report.json["flagged"] >= 1, "a flagged row was left out and the report said none"
        else:
            assert report.status_code == 400, (path, report.status_code)
            assert "narrow the period" in report.json["error"]["message"]
    # A period that fits shows the row, flagged.
    narrow = client.get(
        f"/api/audit/sod?from={(start + timedelta(days=29)).date()}&to={clock.date()}", headers=auditor
    )
    assert narrow.status_code == 200 and narrow.json["flagged"] == 1, narrow.json


def test_a_csv_export_cut_at_its_cap_says_so(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            insert(AuditEvent),
            [
                {"actor": "finance1", "action": "probe_recorded", "detail": {"n": i}, "at": clock}
                for i in range(MAX_EXPORT_ROWS + 1)
            ],
        )
    response = client.get("/api/audit?format=csv&kind=probe_recorded", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 200
    assert response.headers.get("X-Export-Truncated") == str(MAX_EXPORT_ROWS)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1 + MAX_EXPORT_ROWS + 1  # the header, the rows, and the line that says so
    assert rows[-1][0].startswith("truncated:") and "narrow the period" in rows[-1][0]
    # A complete export says nothing of the kind.
    small = client.get(
        "/api/audit?format=csv&kind=probe_recorded&actor=nobody", headers=auth(demo_tokens["auditor1"])
    )
    assert "X-Export-Truncated" not in small.headers
    assert len(list(csv.reader(io.StringIO(small.get_data(as_text=True))))) == 1
