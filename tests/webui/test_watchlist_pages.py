"""GET /api/watchlist and /watchlist (issue 17): paged, filtered by status, indicator and owner; sales read
their own customers' entries only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.credit.test_watchlist import NOW, TODAY, Book, build_book, runtime
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit.models import Invoice
from workflows.credit.watchlist import WatchlistEntry
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


def flagged_book(app: Flask) -> dict[str, int]:
    ids = build_book(app)
    with transaction(runtime(app).factory) as session:
        b = Book(session, n=1000)
        ids["owned"] = customer = b.customer("owned-util", limit="1000")
        b.invoice(customer, "990.00")
    watchlist_run(runtime(app), TODAY, NOW)
    return ids


def test_the_api_pages_and_filters_the_watchlist(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = flagged_book(app)
    manager = auth(demo_tokens["manager1"])
    body = client.get("/api/watchlist", headers=manager).json
    assert body["total"] == 9 and body["page"] == 1 and len(body["items"]) == 9
    first = body["items"][0]
    assert (first["customer_id"], first["action"], first["status"]) == (
        ids["over_limit"],
        "credit_hold",
        "open",
    )
    assert [i["indicator"] for i in first["indicators"]] == ["utilisation", "over_limit"]
    one = client.get("/api/watchlist?indicator=dispute_rate", headers=manager).json
    assert [e["customer_id"] for e in one["items"]] == [ids["dispute_rate"]] and one["total"] == 1
    owned = client.get("/api/watchlist?owner=sales1", headers=manager).json
    assert [e["customer_id"] for e in owned["items"]] == [ids["owned"]]
    second = client.get("/api/watchlist?per_page=2&page=2", headers=manager).json
    assert second["total"] == 9 and len(second["items"]) == 2 and second["per_page"] == 2
    assert client.get("/api/watchlist?status=cleared", headers=manager).json["total"] == 0
    # Sales read only their own customers' entries, whatever they ask for.
    sales = client.get("/api/watchlist?status=all&owner=credit_manager", headers=auth(demo_tokens["sales1"]))
    assert sales.status_code == 200 and sales.json["total"] == 0
    mine = client.get("/api/watchlist", headers=auth(demo_tokens["sales1"])).json
    assert [e["customer_id"] for e in mine["items"]] == [ids["owned"]]
    # A cleared entry is listed as history with status=cleared (and all).
    with transaction(runtime(app).factory) as session:
        for invoice in session.query(Invoice).filter(Invoice.customer_id == ids["owned"]):
            invoice.open_amount = invoice.open_amount / 10
    watchlist_run(runtime(app), TODAY + timedelta(days=1), NOW + timedelta(days=1))
    cleared = client.get("/api/watchlist?status=cleared", headers=manager).json
    assert [(e["customer_id"], e["status"]) for e in cleared["items"]] == [(ids["owned"], "cleared")]
    assert client.get("/api/watchlist?status=all", headers=manager).json["total"] == 9


def test_the_page_lists_filters_and_links_the_entries(app: Flask, demo_tokens: dict[str, str]) -> None:
    ids = flagged_book(app)
    browser = logged_in(app, "manager1")
    page = browser.get("/watchlist")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "9 entries" in html and "credit hold" in html and "Over the limit" in html
    assert f'href="/customers/{ids["over_limit"]}"' in html
    assert ">Watchlist</a>" in html  # the nav link
    filtered = browser.get("/watchlist?indicator=broken_promise").get_data(as_text=True)
    assert "1 entry" in filtered and f'href="/customers/{ids["broken_promise"]}"' in filtered
    # A filter value the page does not know is ignored, not an error.
    assert "9 entries" in browser.get("/watchlist?indicator=nope&owner=nobody&status=x").get_data(
        as_text=True
    )
    with transaction(runtime(app).factory) as session:  # a rule a process owner added names its own
        entry = session.scalars(
            select(WatchlistEntry).where(WatchlistEntry.customer_id == ids["dbt_rising"])
        ).one()
        entry.indicator_names, entry.indicators = (
            ",late_filings,",
            [{"indicator": "late_filings", "severity": "low", "action": "review", "measure": None}],
        )
    custom = browser.get("/watchlist?indicator=late_filings").get_data(as_text=True)
    assert '<option value="late_filings" selected>late filings</option>' in custom and "1 entry" in custom
    sales = logged_in(app, "sales1").get("/watchlist").get_data(as_text=True)
    assert "1 entry" in sales and f'href="/customers/{ids["owned"]}"' in sales
    assert logged_in(app, "collector1").get("/watchlist").status_code == 403


def test_a_downgrade_recorded_through_the_api_flags_the_customer_at_once(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    with transaction(runtime(app).factory) as session:
        b = Book(session)
        b.fillers()  # no concentration: the rating alone decides
        customer = b.customer("rated")
        b.invoice(customer, "100.00")
    analyst, manager = auth(demo_tokens["analyst1"]), auth(demo_tokens["manager1"])

    def rate(value: str, day: str) -> None:
        body = {"agency": "Fitch", "rating": value, "date": day}
        answer = client.post(f"/api/customers/{customer}/rating", json=body, headers=analyst)
        assert answer.status_code == 200, answer.json

    rate("A", "2026-01-15")
    assert client.get(f"/api/watchlist?customer_id={customer}", headers=manager).json["total"] == 0
    rate("BBB-", "2026-02-27")  # a downgrade: on the watchlist with no daily run in between
    (entry,) = client.get(f"/api/watchlist?customer_id={customer}", headers=manager).json["items"]
    assert [(i["indicator"], i["measure"]) for i in entry["indicators"]] == [("rating_downgrade", "0")]
    assert (entry["action"], entry["owner"]) == ("review", "credit_manager")
    with runtime(app).factory() as session:  # the analyst's rating flagged it: the audit trail names them
        flagged = session.scalars(select(AuditEvent).where(AuditEvent.action == "watchlist_evaluated")).all()
    assert [(e.actor, e.detail["customer_ids"], e.detail["opened"]) for e in flagged] == [
        ("analyst1", [customer], 1)
    ]
    rate("A-", "2026-03-01")  # back up: the latest change is no downgrade, the entry clears
    every = client.get(f"/api/watchlist?customer_id={customer}&status=all", headers=manager).json["items"]
    assert [e["status"] for e in every] == ["cleared"]
