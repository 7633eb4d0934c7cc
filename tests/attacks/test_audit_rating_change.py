"""Hostile review of the audit trail's before/after (issue 14, "An auditor's view"): recording an external
rating sets the rating, the agency and the rating date, but the trail's before/after showed the rating
only. An analyst who replaced "BB by Creditreform, 2026-03-01" with "BB by Nobody Ratings, 2026-03-02"
left a change reading BB -> BB; the agency and date it replaced were recorded nowhere."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, migrated_customer

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_rating_change_shows_the_agency_and_date_it_replaced(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, {"name": "Rated Ltd", "currency": "EUR", "credit_limit": "1000.00"})
    analyst = auth(demo_tokens["analyst1"])
    for agency, day in (("Creditreform", "2026-03-01"), ("Nobody Ratings", "2026-03-02")):
        rated = client.post(
            f"/api/customers/{customer}/rating",
            json={"agency": agency, "rating": "BB", "date": day},
            headers=analyst,
        )
        assert rated.status_code == 200, rated.json
    found = client.get(
        f"/api/audit?kind=external_rating_changed&object=customer:{customer}",
        headers=auth(demo_tokens["auditor1"]),
    ).json
    newest = found["items"][0]
    assert newest["before"] == {"rating_agency": "Creditreform", "rating_date": "2026-03-01"}, newest
    assert newest["after"] == {"rating_agency": "Nobody Ratings", "rating_date": "2026-03-02"}, newest
    first = found["items"][1]
    assert first["before"] == {"external_rating": None, "rating_agency": None, "rating_date": None}
    assert first["after"] == {
        "external_rating": "BB",
        "rating_agency": "Creditreform",
        "rating_date": "2026-03-01",
    }
