"""The dashboard's aging history and top exposures (issue 17), aggregated in SQL for all month ends at
once: each day's buckets equal GET /api/aging's total of that day (the per-customer path), and a hand
computation on a book in EUR, GBP and CNY with payments dated in the past."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, migrated_customer
from workflows.credit.aging_history import aging_history, chart_days, top_exposures
from workflows.credit.aging_snapshots import aging_with_snapshots, matrix_bucket_map, snapshot_points
from workflows.credit.provision_matrix import deployed_matrix
from workflows.credit.provision_snapshots import post_run
from workflows.store.db import transaction

# db: CI runs these again on PostgreSQL (the CTE of days, the CASE indexes and the grouping are portable SQL).
pytestmark = [pytest.mark.db, pytest.mark.usefixtures("shipped")]

TODAY = date(2026, 3, 2)  # the app clock's day (tests/conftest.py)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_book(app: Flask, client: FlaskClient, token: str) -> dict[str, int]:
    """EUR, GBP and CNY customers with invoices over the last year and payments dated in the past."""
    ids = {}
    for name, currency in (("Euro AG", "EUR"), ("Pound Ltd", "GBP"), ("Yuan Co", "CNY")):
        ids[currency] = migrated_customer(
            app, {"external_id": name, "name": name, "currency": currency, "email": "ap@x.example"}
        )
    head = auth(token)
    for currency, rate in (("GBP", "1.1700"), ("CNY", "0.1283")):
        body = {"currency": currency, "rate": rate, "date": "2025-01-01"}
        assert client.post("/api/fx-rates", json=body, headers=head).status_code == 201
    invoices: list[tuple[str, str, str, str, str]] = [
        ("EUR", "A-1", "1000.00", "2025-06-01", "2025-07-01"),
        ("EUR", "A-2", "500.00", "2026-01-10", "2026-02-09"),
        ("GBP", "B-1", "2000.00", "2025-09-01", "2025-10-01"),
        ("CNY", "C-1", "100000.00", "2025-12-01", "2026-01-15"),
    ]
    for currency, number, amount, issued, due in invoices:
        body = {
            "customer_id": ids[currency],
            "number": number,
            "amount": amount,
            "currency": currency,
            "issue_date": issued,
            "due_date": due,
        }
        assert client.post("/api/invoices", json=body, headers=head).status_code == 201, number
    payments: list[tuple[str, str, str, str]] = [
        ("EUR", "A-1", "400.00", "2025-10-15"),
        ("GBP", "B-1", "2000.00", "2026-01-20"),
    ]
    for currency, number, amount, day in payments:
        body: dict[str, Any] = {
            "customer_id": ids[currency],
            "amount": amount,
            "currency": currency,
            "date": day,
            "invoice_number": number,
        }
        assert client.post("/api/payments", json=body, headers=head).status_code == 201, number
    return ids


def test_chart_days_are_the_eleven_month_ends_before_as_of_and_as_of() -> None:
    days = chart_days(TODAY)
    assert len(days) == 12 and days[-1] == TODAY and days[-2] == date(2026, 2, 28)
    assert days[0] == date(2025, 4, 30)
    assert chart_days(date(2026, 1, 31))[-2:] == [date(2025, 12, 31), date(2026, 1, 31)]


def test_each_days_buckets_equal_the_aging_report_of_that_day(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    rt = app.extensions["creditflow"].rt
    days = chart_days(TODAY)
    with rt.factory() as session:
        points = aging_history(session, days, "EUR")
    assert [p.day for p in points] == days
    for point in points:
        report = client.get(f"/api/aging?as_of={point.day}", headers=auth(demo_tokens["finance1"])).json
        assert point.missing_rates == []
        assert point.as_dict()["buckets"] == report["total"], point.day
    by_day = {p.day: p for p in points}
    # 31 October 2025: A-1 600.00 open after the 400.00 of 15 October, 122 days past due; B-1 GBP 2000.00
    # 30 days past due at 1.17.
    october = by_day[date(2025, 10, 31)]
    assert october.buckets is not None
    assert october.buckets["over_120"] == Decimal("600.00")
    assert october.buckets["days_1_30"] == Decimal("2340.00")
    assert october.total == Decimal("2940.00")
    # Before anything was issued the book is empty; today B-1 is paid and C-1 is 46 days past due.
    assert by_day[date(2025, 4, 30)].total == Decimal("0.00")
    today = by_day[TODAY].buckets
    assert today is not None
    assert today["days_31_60"] == Decimal("12830.00") and today["days_1_30"] == Decimal("500.00")
    assert today["over_120"] == Decimal("600.00")


def test_a_currency_without_a_rate_is_named_and_leaves_that_days_total_empty(
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
    rt = app.extensions["creditflow"].rt
    with rt.factory() as session:
        january, february = aging_history(session, [date(2026, 1, 31), date(2026, 2, 28)], "EUR")
        exposures = top_exposures(session, TODAY, "EUR")
    assert january.missing_rates == [] and january.total is not None  # U-1 was not issued yet
    assert february.missing_rates == ["USD"] and february.buckets is None
    assert february.as_dict()["total"] is None
    # The ranking leaves the dollar customer out and says so; the total of all receivables is unknown.
    assert exposures.missing_rates == ["USD"] and exposures.total is None
    assert dollar not in [e.customer_id for e in exposures.top] and len(exposures.top) == 2


def test_top_exposures_rank_customers_in_the_base_currency(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = make_book(app, client, demo_tokens["finance1"])
    rt = app.extensions["creditflow"].rt
    with rt.factory() as session:
        found = top_exposures(session, TODAY, "EUR")
        assert found.missing_rates == [] and found.total == Decimal("13930.00")
        assert [(e.customer_id, e.currency, e.open_amount, e.in_base) for e in found.top] == [
            (ids["CNY"], "CNY", Decimal("100000.00"), Decimal("12830.00")),
            (ids["EUR"], "EUR", Decimal("1100.00"), Decimal("1100.00")),
        ]
        assert [found.share(e) for e in found.top] == [Decimal("92.1"), Decimal("7.9")]
        # On 31 October 2025 the pound customer still owed its invoice: it leads.
        october = top_exposures(session, date(2025, 10, 31), "EUR", limit=1)
        assert [(e.customer_id, e.in_base) for e in october.top] == [(ids["GBP"], Decimal("2340.00"))]


def test_a_month_end_with_a_provision_snapshot_is_read_from_it_and_keeps_its_history(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """31 January 2026 has a provision snapshot: its bar is the snapshot's matrix lines summed into the
    aging buckets (equal to the live computation when posted) and stays so when a payment dated 15 January
    is entered later; 31 December 2025 has none and follows the book, as does today."""
    ids = make_book(app, client, demo_tokens["finance1"])
    rt = app.extensions["creditflow"].rt
    days = chart_days(TODAY)
    january = date(2026, 1, 31)
    with transaction(rt.factory) as session:
        post_run(session, january, base="EUR", actor="finance1", now=NOW)
    with rt.factory() as session:
        live = {p.day: p for p in aging_history(session, days, "EUR")}
        mixed = {p.day: p for p in aging_with_snapshots(session, days, "EUR")}
        assert matrix_bucket_map(deployed_matrix(session, january)) == {
            "not_due": "not_due",
            "days_1_30": "days_1_30",
            "days_31_60": "days_31_60",
            "days_61_90": "days_61_90",
            "days_91_120": "days_91_120",
            "days_121_180": "over_120",
            "days_181_365": "over_120",
            "over_365": "over_120",
        }
    assert [d for d, p in mixed.items() if p.snapshot] == [january]
    assert "provision run of 2026-01-31" in (mixed[january].snapshot or "")
    assert mixed[january].buckets == live[january].buckets and mixed[january].total == Decimal("13930.00")
    assert all(
        mixed[d].snapshot is None and mixed[d].buckets == live[d].buckets for d in days if d != january
    )
    paid = {"customer_id": ids["EUR"], "amount": "100.00", "currency": "EUR", "date": "2026-01-15"}
    paid |= {"invoice_number": "A-1"}
    assert client.post("/api/payments", json=paid, headers=auth(demo_tokens["finance1"])).status_code == 201
    with rt.factory() as session:
        after = {p.day: p for p in aging_with_snapshots(session, days, "EUR")}
        relive = {p.day: p for p in aging_history(session, days, "EUR")}
    assert after[january].total == Decimal("13930.00")  # as posted
    assert relive[january].total == Decimal("13830.00")  # the ledger now
    assert after[date(2025, 12, 31)].total == Decimal("15770.00")  # no snapshot: live
    assert after[TODAY].snapshot is None and after[TODAY].buckets == relive[TODAY].buckets


def test_the_day_asked_for_is_computed_live_even_with_a_snapshot(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    rt = app.extensions["creditflow"].rt
    january = date(2026, 1, 31)
    with transaction(rt.factory) as session:
        post_run(session, january, base="EUR", actor="finance1", now=NOW)
    with rt.factory() as session:
        points = aging_with_snapshots(session, chart_days(january), "EUR")
        assert points[-1].day == january and points[-1].snapshot is None
        # A snapshot in another base currency is not read.
        assert snapshot_points(session, [january], "GBP") == {}
