"""Hostile review of the audit trail's paging (issue 14, "An auditor's view"): GET /api/audit returns at
most 200 rows a page but echoed the `per_page` that was asked for. An auditor's export script asked for
per_page=500, read `total` 450 and `per_page` 500, fetched the one page that implied, got 200 rows, and
took the period for complete; pages computed with the echoed size skipped rows 201-500 of every 500."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from tests.helpers import auth
from workflows.store.db import transaction
from workflows.store.models import AuditEvent


def test_the_page_size_the_trail_reports_is_the_one_it_used(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "actor": "finance1",
                    "action": "probe_recorded",
                    "detail": {"n": n},
                    "at": clock + timedelta(seconds=n),
                }
                for n in range(450)
            ],
        )
    auditor = auth(demo_tokens["auditor1"])
    first = client.get("/api/audit?kind=probe_recorded&per_page=500", headers=auditor).json
    assert first["total"] == 450
    assert first["per_page"] == len(first["items"]) == 200, (first["per_page"], len(first["items"]))
    # Walking the pages the answer describes reads every row once.
    seen: list[int] = []
    pages = -(-first["total"] // first["per_page"])
    for page in range(1, pages + 1):
        body = client.get(f"/api/audit?kind=probe_recorded&per_page=500&page={page}", headers=auditor).json
        seen += [item["detail"]["n"] for item in body["items"]]
    assert sorted(seen) == list(range(450))
