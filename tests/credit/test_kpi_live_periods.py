"""Live periods of the KPIs (issue 17) computed from what the ends share: the earliest issue date kept per
engine (workflows/credit/kpi_cache.first_issue_date) and the provision read once per request
(workflows/credit/kpi_provision.Allowances). The answers stay those of a full computation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.credit.kpi_book_fixture import at, build_book
from workflows.credit.kpis import compute_kpis
from workflows.credit.models import Provision
from workflows.credit.provisions import compute_provisions
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def kpis_of(app: Flask, as_of: date, period: str = "month") -> dict[str, Any]:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        return compute_kpis(session, as_of, period, "EUR")


def point(answer: dict[str, Any], name: str, end: str) -> Any:
    (found,) = [p for p in answer["kpis"][name]["trend"] if p["period_end"] == end]
    return found["value"]


def test_an_invoice_issued_before_the_earliest_one_known_is_counted_in_the_periods_before_the_book(
    app: Flask,
) -> None:
    ids = build_book(app)  # the first invoice (D0) is issued on 1 October 2025
    before = kpis_of(app, date(2025, 9, 30))  # every month of the trend ends before it: nothing open
    assert point(before, "dso", "2025-06-30") is None and point(before, "overdue_ratio", "2025-09-30") is None
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        data = InvoiceInput(ids["D"], "E-0", Decimal("1000.00"), "EUR", date(2025, 6, 10), date(2025, 7, 10))
        post_invoice(session, data, actor="finance1", now=at(date(2026, 4, 2)))  # posted late, issued in June
    after = kpis_of(app, date(2025, 9, 30))
    # June: 1,000.00 sold and open, 30 days: DSO 1,000 / 1,000 x 30; September: all of it overdue.
    assert point(after, "dso", "2025-06-30") == "30.0" and after["kpis"]["dso"]["value"] is None
    assert after["kpis"]["overdue_ratio"]["value"] == "100.00"
    assert after["kpis"]["dso"]["ar"] == "1000.00"


def test_the_provision_of_each_live_end_equals_the_provision_run_before_and_after_the_first_specific_one(
    app: Flask,
) -> None:
    ids = build_book(app)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            Provision(
                customer_id=ids["B"],
                amount=Decimal("2000.00"),
                currency="GBP",
                rate=Decimal("0.50"),
                reason="legal handover",
                created_by="manager1",
                created_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
            )
        )
    kpis = kpis_of(app, date(2026, 3, 31))["kpis"]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        february = compute_provisions(session, date(2026, 2, 28), "EUR").total()
        march = compute_provisions(session, date(2026, 3, 31), "EUR").total()
    # February ends before the specific provision was booked; March counts B's 2,000.00 GBP at 1.10 instead
    # of the matrix on B's balances.
    assert march != Decimal("874.75")
    assert kpis["provision_ratio"]["provision"] == str(march)
    assert kpis["provision_ratio"]["provision_source"] == "computed"
    feb = [p for p in kpis["provision_ratio"]["trend"] if p["period_end"] == "2026-02-28"][0]
    assert feb["source"] == "live" and february > 0
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        february_kpis = compute_kpis(session, date(2026, 2, 28), "month", "EUR")["kpis"]
    assert february_kpis["provision_ratio"]["provision"] == str(february)
