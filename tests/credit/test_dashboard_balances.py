"""The dashboard's day-asked-for views read from the maintained balances (workflows/credit/
dashboard_balances.py): the aging buckets and the largest exposures equal the ledger's answer
(aging_history, top_exposures) exactly, and the ledger answers whenever the balances cannot: not rolled for
the day, something posted with a later date, a currency without a rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credit.test_aging_history import TODAY, make_book
from tests.helpers import auth, migrated_customer
from workflows.credit.aging_history import AgingPoint, Exposures, aging_history, top_exposures
from workflows.credit.aging_snapshots import dashboard_views
from workflows.credit.dashboard_balances import balance_views
from workflows.credit.portfolio_balances import ensure_rolled

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("shipped")]


def rolled_views(
    app: Flask, day: date = TODAY, limit: int = 10
) -> tuple[AgingPoint, Exposures | None] | None:
    rt = app.extensions["creditflow"].rt
    with rt.factory() as session:
        ensure_rolled(session, TODAY, "EUR")
    with rt.factory() as session:
        return balance_views(session, day, "EUR", limit)


def ledger(app: Flask, day: date = TODAY, limit: int = 10) -> tuple[AgingPoint, Exposures]:
    with app.extensions["creditflow"].rt.factory() as session:
        return aging_history(session, [day], "EUR")[0], top_exposures(session, day, "EUR", limit)


def test_the_balances_give_the_ledgers_aging_and_exposures_exactly(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = make_book(app, client, demo_tokens["finance1"])
    found = rolled_views(app)
    assert found is not None and found[1] is not None
    point, exposures = found
    live_point, live_exposures = ledger(app)
    assert point == live_point and exposures == live_exposures
    # The figures by hand (test_aging_history): C-1 100,000 CNY at 0.1283, 46 days past due; A-2 500 EUR
    # 21 days past due; A-1 600 EUR left, over 120 days; B-1 paid.
    assert point.buckets == {
        "not_due": Decimal("0.00"),
        "days_1_30": Decimal("500.00"),
        "days_31_60": Decimal("12830.00"),
        "days_61_90": Decimal("0.00"),
        "days_91_120": Decimal("0.00"),
        "over_120": Decimal("600.00"),
    }
    assert exposures.total == Decimal("13930.00")
    assert [(e.customer_id, e.currency, e.open_amount, e.in_base) for e in exposures.top] == [
        (ids["CNY"], "CNY", Decimal("100000.00"), Decimal("12830.00")),
        (ids["EUR"], "EUR", Decimal("1100.00"), Decimal("1100.00")),
    ]
    # The top N is cut after the exact ranking, as the ledger's.
    one = rolled_views(app, limit=1)
    assert one is not None and one[1] is not None
    assert one[1].top == ledger(app, limit=1)[1].top == exposures.top[:1]
    # The dashboard reads them so (its cache holds the same answer).
    with app.extensions["creditflow"].rt.factory() as session:
        points, shown = dashboard_views(session, TODAY, "EUR")
    assert points[-1] == point and shown == exposures


def test_the_ledger_answers_a_day_the_balances_do_not_hold(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    with app.extensions["creditflow"].rt.factory() as session:  # never rolled: no answer from the tables
        assert balance_views(session, TODAY, "EUR") is None
    assert rolled_views(app, day=date(2026, 2, 28)) is None  # a past day: the tables hold today
    with app.extensions["creditflow"].rt.factory() as session:
        points, shown = dashboard_views(session, date(2026, 2, 28), "EUR")
    assert (points[-1], shown) == ledger(app, date(2026, 2, 28))


def test_a_payment_dated_after_the_day_sends_the_dashboard_to_the_ledger(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """A payment with tomorrow's value date is open at today's end for the dashboard, paid for the
    balances: the tables cannot say it, so the ledger answers (and counts A-2 as still owed)."""
    ids = make_book(app, client, demo_tokens["finance1"])
    body = {
        "customer_id": ids["EUR"],
        "amount": "500.00",
        "currency": "EUR",
        "date": "2026-03-03",
        "invoice_number": "A-2",
    }
    assert client.post("/api/payments", json=body, headers=auth(demo_tokens["finance1"])).status_code == 201
    assert rolled_views(app) is None
    with app.extensions["creditflow"].rt.factory() as session:
        points, shown = dashboard_views(session, TODAY, "EUR")
    assert (points[-1], shown) == ledger(app)
    assert points[-1].buckets is not None and points[-1].buckets["days_1_30"] == Decimal("500.00")


def test_a_currency_without_a_rate_is_named_as_the_ledger_names_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    dollar = migrated_customer(
        app, {"external_id": "usd", "name": "Dollar Inc", "currency": "USD", "email": "ap@usd.example"}
    )
    body = {
        "customer_id": dollar,
        "number": "U-1",
        "amount": "50.00",
        "currency": "USD",
        "issue_date": "2026-02-01",
        "due_date": "2026-03-01",
    }
    assert client.post("/api/invoices", json=body, headers=auth(demo_tokens["finance1"])).status_code == 201
    found = rolled_views(app)
    assert found is not None
    point, exposures = found
    live_point, live_exposures = ledger(app)
    assert point == live_point and point.missing_rates == ["USD"] and point.buckets is None
    assert exposures is None  # the exposures come from the ledger, which ranks by the other currencies
    with app.extensions["creditflow"].rt.factory() as session:
        points, shown = dashboard_views(session, TODAY, "EUR")
    assert points[-1] == live_point and shown == live_exposures
