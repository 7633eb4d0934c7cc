"""The process KPIs of issue 17 beside the receivables ones (workflows/credit/kpi_extras.py, docs/kpis.md):
approval cycle time per route (median, p90, share within the SLA), dunning effectiveness (cases closed
paid within 30 days of their first level-1 notice) and disputes (cycle time, amount by reason code), each
with its 12-period trend, equal to hand computations on the book of tests/credit/kpi_book_fixture.py plus
two disputes; shown on /dashboard; stored in new snapshots, and "not recorded" for a period read from a
snapshot stored before they existed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import SteppingClock
from tests.credit.kpi_book_fixture import at, build_book
from tests.helpers import auth
from tests.webui.test_dashboard_pages import PageTables
from tests.webui.test_pages import logged_in
from workflows.batch.kpi_month_end import post_kpi_snapshot
from workflows.credit import roles
from workflows.credit.disputes import Dispute, DisputeInput, DisputeStatus, LineInput, open_dispute
from workflows.credit.kpi_extras import EXTRA_UNITS
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.credit.kpis import NOT_IN_SNAPSHOT, compute_kpis, period_kpis
from workflows.store.db import transaction

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("shipped")]

# Per route, the applications decided in March (kpi_book_fixture.APPLICATIONS): automatic 0.5 h in time;
# analyst 30 h in time and 102 h with the review late; manager 120 h with the manager late; CFO 60 h in time.
MARCH_ROUTES = {
    "auto": {"count": 1, "median": "0.5", "p90": "0.5", "within_sla": 1, "within_sla_percent": "100.00"},
    # median (30 + 102) / 2 = 66.0; p90 nearest rank ceil(0.9 x 2) = 2nd = 102.0
    "analyst": {"count": 2, "median": "66.0", "p90": "102.0", "within_sla": 1, "within_sla_percent": "50.00"},
    "manager": {"count": 1, "median": "120.0", "p90": "120.0", "within_sla": 0, "within_sla_percent": "0.00"},
    "cfo": {"count": 1, "median": "60.0", "p90": "60.0", "within_sla": 1, "within_sla_percent": "100.00"},
}
# February: one review, 2 h, completed before its due time.
FEBRUARY_ROUTES = {
    "analyst": {"count": 1, "median": "2.0", "p90": "2.0", "within_sla": 1, "within_sla_percent": "100.00"}
}


def add_disputes(app: Flask, ids: dict[str, int]) -> None:
    """Beside the fixture's A2 dispute (1,000.00 EUR, quality, opened 8 March 10:00, credited 10 March
    10:00: 2.0 days): B's on B2 500.00 GBP (price) and B1 250.00 GBP (delivery), opened 3 March 10:00 and
    rejected 8 March 22:00 (5.5 days); C's on C1 10,000.00 CNY (price), opened 20 February 10:00, resolved
    13 March 10:00 (21.0 days)."""
    rt = app.extensions["creditflow"].rt
    disputes = [
        (ids["B"], (("B2", "500.00", "price"), ("B1", "250.00", "delivery")), date(2026, 3, 3), 10),
        (ids["C"], (("C1", "10000.00", "price"),), date(2026, 2, 20), 10),
    ]
    closings = [
        (at(date(2026, 3, 8), 22), DisputeStatus.REJECTED),
        (at(date(2026, 3, 13)), DisputeStatus.RESOLVED),
    ]
    for (customer, lines, day, hour), (closed, status) in zip(disputes, closings, strict=True):
        with transaction(rt.factory) as session:
            data = DisputeInput(
                customer,
                tuple(LineInput(n, Decimal(a), r) for n, a, r in lines),
                roles.SALES,
                "disputed",
            )
            dispute = open_dispute(session, data, raised_by="collector1", now=at(day, hour))
            dispute_id = dispute.id
        with transaction(rt.factory) as session:
            found = session.get(Dispute, dispute_id)
            assert found is not None
            found.status, found.closed_at = status, closed


def book(app: Flask) -> dict[str, int]:
    ids = build_book(app)
    add_disputes(app, ids)
    return ids


def kpis_of(app: Flask, as_of: date) -> dict[str, Any]:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        return compute_kpis(session, as_of, "month", "EUR")


def point(kpi: dict[str, Any], end: str) -> dict[str, Any]:
    (found,) = [p for p in kpi["trend"] if p["period_end"] == end]
    return found


def test_each_process_kpi_and_its_trend_equal_the_hand_computation(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    book(app)
    app_clock.advance(days=44)  # 15 April 2026: the month reported is March
    answer = client.get("/api/kpis?as_of=2026-04-15&period=month", headers=auth(demo_tokens["manager1"]))
    assert answer.status_code == 200, answer.json
    kpis = answer.json["kpis"]
    assert kpis == kpis_of(app, date(2026, 4, 15))["kpis"]
    for name, unit in EXTRA_UNITS.items():
        assert kpis[name]["unit"] == unit and len(kpis[name]["trend"]) == 12, name

    # Approval cycle: March's five decisions take 0.5, 30, 60, 102, 120 hours; p90 = the 5th (ceil 4.5).
    p90 = kpis["approval_cycle_p90_hours"]
    assert (p90["value"], p90["count"], p90["per_route"]) == ("120.0", 5, MARCH_ROUTES)
    sla = kpis["approval_within_sla_rate"]
    assert (sla["value"], sla["within_sla"], sla["count"]) == ("60.00", 3, 5)  # 3 of 5 in time
    assert sla["per_route"] == MARCH_ROUTES
    assert kpis["approval_cycle_hours"]["per_route"] == MARCH_ROUTES  # the median KPI's details agree
    assert point(sla, "2026-03-31") == {
        "period_end": "2026-03-31",
        "value": "60.00",
        "source": "live",
        "per_route": MARCH_ROUTES,
    }
    assert point(sla, "2026-02-28")["value"] == "100.00"
    assert point(sla, "2026-02-28")["per_route"] == FEBRUARY_ROUTES
    assert point(p90, "2026-02-28")["value"] == "2.0"
    january = point(p90, "2026-01-31")  # nothing decided in January: null, with the reason, no breakdown
    assert january["value"] is None and january["reason"] == "no credit application was decided in the period"
    assert january["per_route"] == {}

    # Dunning: the 30 days after A's, C's and D's first level-1 notices (10, 15, 20 February) end in March;
    # A's closed paid after 15 days, C's paid after 33, D's is open: 1 of 3.
    dunning = kpis["dunning_paid_within_30_days_rate"]
    assert (dunning["value"], dunning["cases"], dunning["paid_within_30_days"]) == ("33.33", 3, 1)
    february = point(dunning, "2026-02-28")
    assert february["value"] is None and "no dunning case" in february["reason"]

    # Disputes closed in March: A2's 2.0 days, B's 5.5 days (3 March 10:00 to 8 March 22:00), C's 21.0 days
    # (20 February 10:00 to 13 March 10:00): the median is 5.5. None closed in February.
    cycle = kpis["dispute_cycle_days"]
    assert (cycle["value"], cycle["closed"]) == ("5.5", 3)
    assert point(cycle, "2026-02-28")["value"] is None

    # Opened in March, at March's rates (GBP 1.10): quality 1,000.00 EUR; price 500.00 GBP = 550.00;
    # delivery 250.00 GBP = 275.00; in all 1,825.00. February: C's 10,000.00 CNY x 0.13 = 1,300.00 price.
    disputed = kpis["disputed_amount"]
    by_reason = {"delivery": "275.00", "price": "550.00", "quality": "1000.00"}
    assert (disputed["value"], disputed["unit"], disputed["by_reason"]) == ("1825.00", "money", by_reason)
    assert point(disputed, "2026-03-31")["by_reason"] == by_reason
    assert point(disputed, "2026-02-28") == {
        "period_end": "2026-02-28",
        "value": "1300.00",
        "source": "live",
        "by_reason": {"price": "1300.00"},
    }
    assert point(disputed, "2026-01-31")["value"] is None and point(disputed, "2026-01-31")["by_reason"] == {}

    # /dashboard shows every one: a tile with its value, the route table, and the reasons with their trend.
    html = logged_in(app, "manager1").get("/dashboard?as_of=2026-04-15").get_data(as_text=True)
    page = PageTables(html)
    for name, value in (
        ("approval_cycle_p90_hours", "120.0"),
        ("approval_within_sla_rate", "60.00"),
        ("dunning_paid_within_30_days_rate", "33.33"),
        ("dispute_cycle_days", "5.5"),
        ("disputed_amount", "1825.00"),
    ):
        assert f'data-kpi="{name}"' in html, name
        assert page.tables[f"kpi-{name}"][-1] == ["2026-03-31", value], name
        # The trend table writes the period end as the page writes days (data-period keeps it ISO).
        assert '<tr data-period="2026-03-31"><th scope="row">31 Mar 2026</th>' in html, name
    assert "1 of 3 cases closed paid within 30 days of the first notice" in html
    assert "3 of 5 decisions within the SLA" in html
    assert page.tables["approval-routes"][1:] == [
        ["Automatic", "1", "0.5", "0.5", "1", "100.00"],
        ["Analyst", "2", "66.0", "102.0", "1", "50.00"],
        ["Manager", "1", "120.0", "120.0", "0", "0.00"],
        ["CFO", "1", "60.0", "60.0", "1", "100.00"],
    ]
    header, *trend = page.tables["approval-routes-trend"]
    assert header[1:] == ["Automatic median h", "Analyst median h", "Manager median h", "CFO median h"]
    assert trend[-1] == ["2026-03-31", "0.5", "66.0", "120.0", "60.0"]
    assert trend[-2] == ["2026-02-28", "—", "2.0", "—", "—"]
    assert page.tables["dispute-reasons"][1:] == [
        ["delivery", "275.00"],
        ["price", "550.00"],
        ["quality", "1,000.00"],
        ["All reasons", "1,825.00"],
    ]
    header, *trend = page.tables["dispute-reasons-trend"]
    assert header == ["Period end", "delivery", "price", "quality", "Total"]
    assert trend[-2:] == [
        ["2026-02-28", "—", "1,300.00", "—", "1,300.00"],
        ["2026-03-31", "275.00", "550.00", "1,000.00", "1,825.00"],
    ]
    charts = {c.get("name"): c for c in page.charts}
    assert charts["dispute-reasons"]["series"][1] == {
        "label": "price",
        "data": [None] * 10 + ["1300.00", "550.00"],
    }
    assert charts["approval-routes"]["series"][1]["data"][-2:] == ["2.0", "66.0"]


def test_a_new_snapshot_stores_them_and_an_older_one_says_not_recorded(
    app: Flask, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    """February's snapshot is one stored before the process KPIs existed (the stored KPIs without them):
    its trend points and, reported, its values are null with the reason, never recomputed. March's snapshot
    is stored now, by the month-end job's function: it holds them, and they read back equal."""
    book(app)
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        old = period_kpis(session, [date(2026, 2, 28)], "month", "EUR")[date(2026, 2, 28)]
        for name in EXTRA_UNITS:
            del old[name]
        session.add(
            KpiSnapshot(
                period="month",
                period_end=date(2026, 2, 28),
                base_currency="EUR",
                kpis=old,
                posted_by="system",
                posted_at=at(date(2026, 3, 1), 2),
            )
        )
        stored = post_kpi_snapshot(
            session, "month", date(2026, 3, 31), base="EUR", actor="system", now=at(date(2026, 4, 1), 2)
        )
        assert stored is not None and set(EXTRA_UNITS) <= set(stored.kpis)
        assert stored.kpis["disputed_amount"]["by_reason"] == {
            "delivery": "275.00",
            "price": "550.00",
            "quality": "1000.00",
        }
    with transaction(rt.factory) as session:
        assert session.scalar(select(KpiSnapshot.id).where(KpiSnapshot.period_end == date(2026, 3, 31)))
    march = kpis_of(app, date(2026, 4, 15))
    assert march["source"] == "snapshot"
    assert march["kpis"]["approval_within_sla_rate"]["per_route"] == MARCH_ROUTES
    assert march["kpis"]["dispute_cycle_days"]["value"] == "5.5"
    for name in EXTRA_UNITS:
        february = point(march["kpis"][name], "2026-02-28")
        assert (february["value"], february["source"], february["reason"]) == (
            None,
            "snapshot",
            NOT_IN_SNAPSHOT,
        )
    assert point(march["kpis"]["disputed_amount"], "2026-02-28")["by_reason"] is None
    assert point(march["kpis"]["approval_within_sla_rate"], "2026-02-28")["per_route"] is None
    # Reported: February from its old snapshot; its receivables KPIs are there, the process ones are not.
    reported = kpis_of(app, date(2026, 3, 15))
    assert reported["source"] == "snapshot" and reported["kpis"]["dso"]["value"] == "69.8"
    for name in EXTRA_UNITS:
        assert (reported["kpis"][name]["value"], reported["kpis"][name]["reason"]) == (None, NOT_IN_SNAPSHOT)

    app_clock.advance(days=44)
    html = logged_in(app, "cfo1").get("/dashboard?as_of=2026-03-15").get_data(as_text=True)
    page = PageTables(html)
    assert "data-not-recorded" in html and page.tables["approval-routes"][1][1] == "not recorded"
    assert page.tables["dispute-reasons"][1][0].startswith("not recorded")
    assert page.tables["kpi-dispute_cycle_days"][-1] == ["2026-02-28", "not recorded"]
    month = logged_in(app, "cfo1").get("/dashboard?as_of=2026-04-15").get_data(as_text=True)
    trend = PageTables(month).tables["dispute-reasons-trend"]
    assert trend[-2] == ["2026-02-28", "not recorded"] and trend[-1][0] == "2026-03-31"
    assert trend[-1][-1] == "1,825.00"
