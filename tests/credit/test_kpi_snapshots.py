"""Issue 17: the month-end KPI snapshot (daily job `kpi_snapshot`) keeps a finished period's figures when
the book is corrected later; periods without one are computed live."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import SteppingClock
from tests.credit.kpi_book_fixture import at, build_book
from tests.credit.test_kpis import EXPECTED
from tests.helpers import auth, migrated_customer
from workflows.batch.jobs import DAILY_JOBS, run_daily_jobs
from workflows.batch.kpi_month_end import month_end_kpi_snapshot
from workflows.credit import kpis as kpi_module
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")
JOB = {"kpi_snapshot": DAILY_JOBS["kpi_snapshot"]}


def run_job(app: Flask, day: date) -> dict[str, Any]:
    """The job as the scheduler runs it (once a day: the day's claim makes a second run a no-op)."""
    rt = app.extensions["creditflow"].rt
    (ran,) = run_daily_jobs(rt, datetime(day.year, day.month, day.day, 22, 0, tzinfo=UTC), JOB)
    return {k: v for k, v in ran.items() if k not in ("job", "as_of")}


def test_the_month_end_snapshot_keeps_march_when_a_late_payment_is_dated_into_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    ids = build_book(app)
    app_clock.advance(days=44)
    # On the month end itself the day's postings are still to come: the job waits for the next day. It
    # stores the periods before it that have none (the book's first invoice is of 1 October 2025).
    months = ["2025-10-31", "2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28"]
    day_before = run_job(app, date(2026, 3, 31))
    assert day_before == {"last_day": "2026-03-30", "snapshots": {"month": months, "quarter": ["2025-12-31"]}}
    posted = run_job(app, date(2026, 4, 1))
    day = {"month": [*months, "2026-03-31"], "quarter": ["2025-12-31", "2026-03-31"]}
    assert posted == {"last_day": "2026-03-31", "snapshots": day}, posted
    rt = app.extensions["creditflow"].rt
    # Idempotent: run again (a second scheduler, a retried day), it finds them and stores nothing; its
    # summary is the day's, the same whichever runner posted.
    again = month_end_kpi_snapshot(rt, date(2026, 4, 1), datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
    assert again == posted
    with transaction(rt.factory) as session:
        assert session.scalar(select(func.count()).select_from(KpiSnapshot)) == 8
        actors = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "kpi_snapshot_posted"))
        assert list(actors) == ["system"] * 8
        # A bank line of 30 March entered in April: B pays the rest of B1 (3,000.00 GBP).
        paid = PaymentInput(ids["B"], Decimal("3000.00"), "GBP", date(2026, 3, 30), "B1", "LATE-B1")
        post_payment(session, paid, actor="finance1", now=at(date(2026, 4, 2)))
    token = demo_tokens["manager1"]
    stored = client.get("/api/kpis?as_of=2026-04-15", headers=auth(token)).json
    assert stored["source"] == "snapshot" and stored["kpis"]["dso"]["value"] == EXPECTED["2026-03-31"]["dso"]
    assert stored["kpis"]["dso"]["trend"][-1] == {
        "period_end": "2026-03-31",
        "value": "68.2",
        "source": "snapshot",
    }
    assert stored["kpis"]["dso"]["trend"][-2]["source"] == "snapshot"  # February's, stored on 31 March
    assert stored["kpis"]["approval_cycle_hours"]["per_route"]["analyst"]["median"] == "66.0"
    # The quarter's snapshot too; February (live) sees the late payment not at all (it is dated in March).
    quarter = client.get("/api/kpis?as_of=2026-04-15&period=quarter", headers=auth(token)).json
    assert quarter["source"] == "snapshot" and quarter["kpis"]["bad_debt_ratio"]["value"] == "3.84"
    # Live, March now has 3,300.00 less open: AR 29,150.00, DSO 29,150 / 14,750 x 31 = 61.3.
    with transaction(rt.factory) as session:
        session.execute(KpiSnapshot.__table__.delete())
    live = client.get("/api/kpis?as_of=2026-04-15", headers=auth(token)).json
    assert live["source"] == "live" and live["kpis"]["dso"]["value"] == "61.3"


def test_a_missing_rate_refuses_the_snapshot_and_says_so(app: Flask) -> None:
    usd = migrated_customer(
        app, {"external_id": "U", "name": "usd", "currency": "USD", "email": "a@u.example"}
    )
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        data = InvoiceInput(usd, "U-1", Decimal("100.00"), "USD", date(2026, 1, 5), date(2026, 2, 4))
        post_invoice(session, data, actor="finance1", now=at(date(2026, 1, 5)))
    refused = run_job(app, date(2026, 2, 1))
    assert refused["snapshots"] == {"month": [], "quarter": []}
    assert refused["missing_rates"] == {"2026-01-31": ["USD"]}
    with transaction(rt.factory) as session:
        assert session.scalar(select(func.count()).select_from(KpiSnapshot)) == 0
        (reason,) = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "kpi_snapshot_refused")
        )
        assert "USD" in reason["reason"]


def test_a_snapshot_stored_before_a_kpi_existed_reads_as_null_with_the_reason(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        old = {"dso": {"value": "40.0", "unit": "days"}}  # an older snapshot: one KPI only
        session.add(
            KpiSnapshot(
                period="month",
                period_end=date(2026, 1, 31),
                base_currency="EUR",
                kpis=old,
                posted_by="system",
                posted_at=datetime(2026, 2, 1, 1, 0, tzinfo=UTC),
            )
        )
    body = client.get("/api/kpis?as_of=2026-02-01", headers=auth(demo_tokens["cfo1"])).json
    assert body["source"] == "snapshot" and body["kpis"]["dso"]["value"] == "40.0"
    cei = body["kpis"]["cei"]
    assert cei["value"] is None and "stored before this KPI existed" in cei["reason"]


def test_periods_before_the_first_invoice_are_answered_without_scanning_the_book(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_book(app)  # the first invoice (D0) is of 1 October 2025

    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("the book was scanned for periods before its first invoice")

    monkeypatch.setattr(kpi_module, "ledger_book", no_scan)
    monkeypatch.setattr(kpi_module, "customer_totals", no_scan)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        found = kpi_module.period_kpis(session, [date(2025, 6, 30), date(2025, 9, 30)], "quarter", "EUR")
    for entries in found.values():
        assert entries["dso"]["value"] is None and entries["dso"]["reason"] == "no credit sales in the period"
        assert entries["overdue_ratio"]["value"] is None and entries["top10_concentration"]["value"] is None
