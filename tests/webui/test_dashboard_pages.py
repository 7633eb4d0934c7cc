"""/dashboard and /provisions (issue 17): who may open them, and every chart's numbers table (and the data
the chart is drawn from) equal to the book: the aging per month end, the top exposures, the provision
snapshots with their movements and the deployed matrix, the KPI tiles and the watchlist. Hostile parameters
are in tests/attacks/test_cockpit_pages_attack.py."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from tests.credit.test_aging_history import TODAY, make_book
from tests.helpers import auth, migrated_customer
from tests.webui.test_customer_pages import set_page_size
from tests.webui.test_language import as_user
from tests.webui.test_pages import logged_in
from workflows.credit.aging_history import aging_history, chart_days, month_end
from workflows.credit.kpis import KPI_NAMES, compute_kpis
from workflows.credit.provision_snapshots import post_run
from workflows.credit.provision_tables import ProvisionRun
from workflows.credit.watchlist import WatchlistEntry
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped", "demo_tokens")

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class PageTables(HTMLParser):
    """The page's <table data-numbers=NAME> as rows of cell texts, and each canvas's data-chart JSON."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.charts: list[dict[str, Any]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._day: str | None = None  # the row's data-day: its month end in ISO (shown as 31 Jan 2026)
        self.shown_days: list[str] = []  # how the page wrote those days
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("data-numbers"):
            self._table = found["data-numbers"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
            self._day = found.get("data-day") or found.get("data-period")
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "canvas" and found.get("data-chart"):
            self.charts.append(json.loads(found["data-chart"] or "{}"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).split())
            if self._day and not self._row:  # a month-end row is keyed by its ISO day
                self.shown_days.append(text)
                text = self._day
            self._row.append(text)
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def plain(cell: str) -> str:
    """A money cell as the API writes it: "12,830.00" -> "12830.00"."""
    return cell.replace(",", "")


@pytest.mark.parametrize(
    ("user", "dashboard", "provisions"),
    [
        ("manager1", 200, 200),
        ("analyst1", 200, 403),
        ("cfo1", 200, 200),
        ("finance1", 403, 200),
        ("auditor1", 403, 200),
        ("sales1", 403, 403),
        ("collector1", 403, 200),
    ],
)
def test_who_may_open_the_dashboard_and_the_provisions(
    app: Flask, user: str, dashboard: int, provisions: int
) -> None:
    web = logged_in(app, user)
    assert web.get("/dashboard").status_code == dashboard
    assert web.get("/provisions").status_code == provisions
    nav = web.get("/inbox").get_data(as_text=True)
    assert ('href="/dashboard"' in nav) is (dashboard == 200)
    assert ('href="/provisions"' in nav) is (provisions == 200)
    assert app.test_client().get("/dashboard").status_code == 302  # to the login page


def test_the_aging_table_and_chart_hold_each_month_ends_buckets(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = make_book(app, client, demo_tokens["finance1"])
    page = logged_in(app, "manager1").get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in html and 'src="/static/dashboard.js"' in html
    found = PageTables(html)
    with app.extensions["creditflow"].rt.factory() as session:
        points = aging_history(session, chart_days(TODAY), "EUR")
    header, *rows = found.tables["aging"]
    assert header == [
        "Day",
        "Not due",
        "1–30 days",
        "31–60 days",
        "61–90 days",
        "91–120 days",
        "Over 120 days",
        "Total",
    ]
    assert [row[0] for row in rows] == [p.day.isoformat() for p in points]
    # Shown as an English reader writes a date (data-day keeps ISO for scripts and this test).
    assert found.shown_days[-1] == f"{points[-1].day.day} {points[-1].day:%b %Y}", found.shown_days
    for row, point in zip(rows, points, strict=True):
        expected = point.as_dict()
        assert [plain(c) for c in row[1:]] == [*expected["buckets"].values(), expected["total"]], point.day
    # 31 October 2025 by hand: A-1 600.00 over 120 days, B-1 GBP 2000.00 at 1.17 in 1-30 days.
    october = next(row for row in rows if row[0] == "2025-10-31")
    assert [plain(c) for c in october[1:]] == ["0.00", "2340.00", "0.00", "0.00", "0.00", "600.00", "2940.00"]
    # The chart is drawn from the same numbers.
    (chart,) = [c for c in found.charts if c.get("name") == "aging"]
    assert chart["labels"] == [row[0] for row in rows]
    for i, series in enumerate(chart["series"]):
        assert series["data"] == [plain(row[1 + i]) for row in rows]
    # Top exposures: Yuan Co's CNY 100,000.00 at 0.1283, then Euro AG's 1,100.00; of 13,930.00 in all.
    top = found.tables["exposures"]
    # Against the shipped 10 % cap (concentration_cap.dmn): 1,393.00; Yuan Co over it by 12,830.00 - 1,393.00.
    assert top[1:3] == [
        ["1", "Yuan Co", "CN¥100,000.00", "12,830.00", "92.1 %", "over the cap by 11,437.00"],
        ["2", "Euro AG", "€1,100.00", "1,100.00", "7.9 %", "under, 293.00 left"],
    ]
    assert top[-1] == ["All open receivables", "13,930.00", "", "cap 1,393.00"]
    assert f'href="/customers/{ids["CNY"]}"' in html
    assert "Days past the due date" in html  # the glossary
    # The KPI tiles: each value, and its trend in a table and a sparkline, as compute_kpis gives them.
    with app.extensions["creditflow"].rt.factory() as session:
        kpis = compute_kpis(session, TODAY, "month", "EUR")
    sparklines = [c for c in found.charts if c["type"] == "sparkline"]
    assert len(sparklines) == len(KPI_NAMES)
    for name, spark in zip(KPI_NAMES, sparklines, strict=True):
        trend = kpis["kpis"][name]["trend"]
        table = found.tables[f"kpi-{name}"][1:]
        assert [row[0] for row in table] == [t["period_end"] for t in trend] == spark["labels"]
        assert [None if row[1] == "—" else row[1] for row in table] == [t["value"] for t in trend]
        assert spark["series"][0]["data"] == [t["value"] for t in trend]
        assert f'data-kpi="{name}"' in html
    assert kpis["kpis"]["overdue_ratio"]["value"] is not None
    assert f"<span data-value>{kpis['kpis']['overdue_ratio']['value']}</span> %" in html
    assert "Collection effectiveness index" in html


def test_the_watchlist_section_lists_the_open_entries(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    ids = make_book(app, client, demo_tokens["finance1"])
    fired = [
        {"indicator": "utilisation", "severity": "medium", "action": "call", "measure": "95"},
        {"indicator": "broken_promise", "severity": "high", "action": "credit_hold", "measure": None},
    ]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        # The invoices posted put customers on the watchlist at once (an event's evaluation): this test sets
        # the entries by hand instead.
        session.execute(delete(WatchlistEntry))
        for customer, cleared in ((ids["CNY"], None), (ids["EUR"], NOW)):
            session.add(
                WatchlistEntry(
                    customer_id=customer,
                    owner="manager1",
                    indicators=fired,
                    indicator_names=",utilisation,broken_promise,",
                    action="credit_hold",
                    severity="high",
                    rules="early_warning.dmn of credit_limit_review v1",
                    opened_at=NOW,
                    evaluated_on=NOW.date(),
                    cleared_at=cleared,
                )
            )
    html = logged_in(app, "analyst1").get("/dashboard").get_data(as_text=True)
    rows = PageTables(html).tables["watchlist"]
    # Only the open entry: the cleared one is history (on /watchlist); the day as the page writes days.
    assert rows[1:] == [
        ["Yuan Co", "utilisation, broken promise", "credit hold (high)", "manager1", "2 Mar 2026"]
    ]
    assert "open now: 1 credit hold, 0 call, 0 review" in " ".join(html.split())


def test_the_kept_aging_follows_a_change_in_the_book(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The aging and exposures are kept until the book changes (kpi_cache): a payment dated in the past
    changes the months after it on the next load."""
    ids = make_book(app, client, demo_tokens["finance1"])
    web = logged_in(app, "manager1")

    def aging_total(day: str) -> str:
        rows = PageTables(web.get("/dashboard").get_data(as_text=True)).tables["aging"]
        return next(plain(row[-1]) for row in rows if row[0] == day)

    assert aging_total("2026-01-31") == "13930.00" and aging_total("2026-01-31") == "13930.00"
    paid = {"customer_id": ids["EUR"], "amount": "100.00", "currency": "EUR", "date": "2026-01-15"}
    paid |= {"invoice_number": "A-1"}
    assert client.post("/api/payments", json=paid, headers=auth(demo_tokens["finance1"])).status_code == 201
    assert aging_total("2026-01-31") == "13830.00" and aging_total("2025-12-31") == "15770.00"


def test_a_currency_without_a_rate_is_named_on_the_page_not_guessed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    dollar = migrated_customer(
        app, {"external_id": "usd", "name": "Dollar Inc", "currency": "USD", "email": "ap@usd.example"}
    )
    body = {"customer_id": dollar, "number": "U-1", "amount": "50.00", "currency": "USD"}
    body |= {"issue_date": "2026-02-01", "due_date": "2026-03-01"}
    assert client.post("/api/invoices", json=body, headers=auth(demo_tokens["finance1"])).status_code == 201
    page = logged_in(app, "manager1").get("/dashboard")
    assert page.status_code == 200
    html = " ".join(page.get_data(as_text=True).split())
    rows = {row[0]: row for row in PageTables(html).tables["aging"][1:]}
    assert rows["2026-01-31"][-1] == "13,930.00"  # before U-1 was issued
    assert rows["2026-02-28"][1:] == [
        "No exchange rate into EUR on or before this day for USD: post one to see the total."
    ]
    assert "customers owing in it are not ranked" in html
    # The KPIs' refusal, in place of the tiles, in the page's language with the days as the reader writes
    # them (it was an English f-string with ISO days on the zh page too).
    assert "no exchange rate into EUR on or before these days (" in html
    assert re.search(r"these days \(\d{1,2} \w{3} \d{4}: USD", html), html
    assert not re.search(r"\d{4}-\d\d-\d\d: USD", html)
    zh = " ".join(as_user(app, "manager1", "zh").get("/dashboard").get_data(as_text=True).split())
    assert "以下日期及之前缺少折算为 EUR 的汇率（" in zh, zh
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日：USD", zh), zh
    assert "no exchange rate" not in zh


def test_an_earlier_as_of_shows_the_book_as_it_stood(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    page = logged_in(app, "cfo1").get("/dashboard?as_of=2025-10-31")
    assert page.status_code == 200
    found = PageTables(page.get_data(as_text=True))
    assert found.tables["aging"][-1][0] == "2025-10-31"
    assert [row[1] for row in found.tables["exposures"][1:3]] == ["Pound Ltd", "Euro AG"]


def post_snapshots(app: Flask, *days: date) -> None:
    rt = app.extensions["creditflow"].rt
    for day in days:
        with transaction(rt.factory) as session:
            post_run(session, day, base="EUR", actor="finance1", now=NOW)


def test_a_month_end_with_a_snapshot_is_read_from_it_and_named_on_the_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """31 January 2026 has a provision snapshot: the page names it as read from the snapshot, its row and
    bar keep the posted numbers after a payment dated 15 January is entered, while 31 December 2025 (no
    snapshot) and today follow the book; the chart still holds the table's numbers."""
    ids = make_book(app, client, demo_tokens["finance1"])
    post_snapshots(app, date(2026, 1, 31))
    web = logged_in(app, "manager1")
    paid = {"customer_id": ids["EUR"], "amount": "100.00", "currency": "EUR", "date": "2026-01-15"}
    paid |= {"invoice_number": "A-1"}
    assert client.post("/api/payments", json=paid, headers=auth(demo_tokens["finance1"])).status_code == 201
    html = web.get("/dashboard").get_data(as_text=True)
    found = PageTables(html)
    rows = {row[0]: row for row in found.tables["aging"][1:]}
    assert plain(rows["2026-01-31"][-1]) == "13930.00"  # as posted, before the payment
    assert plain(rows["2025-12-31"][-1]) == "15770.00"  # live: the payment counts
    assert 'data-day="2026-01-31" data-source="snapshot"' in html
    assert 'data-day="2025-12-31" data-source="live"' in html
    assert f'data-day="{TODAY.isoformat()}" data-source="live"' in html
    assert '<span data-snapshot="2026-01-31" title="the provision run of 31 Jan 2026' in html
    assert html.count("data-snapshot=") == 1
    (chart,) = [c for c in found.charts if c.get("name") == "aging"]
    ordered = found.tables["aging"][1:]
    assert chart["labels"] == [row[0] for row in ordered]
    for i, series in enumerate(chart["series"]):
        assert series["data"] == [plain(row[1 + i]) for row in ordered]


def test_the_provisions_page_shows_the_matrix_snapshots_movements_and_a_chart(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_book(app, client, demo_tokens["finance1"])
    post_snapshots(app, date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28))
    page = logged_in(app, "finance1").get("/provisions")
    assert page.status_code == 200
    found = PageTables(page.get_data(as_text=True))
    matrix = found.tables["matrix"]
    assert matrix[1] == ["not due", "0.5 %"] and matrix[-1] == ["over 365 days", "100 %"]
    with app.extensions["creditflow"].rt.factory() as session:
        runs = list(session.scalars(select(ProvisionRun).order_by(ProvisionRun.as_of)))
    assert [r.as_of for r in runs] == [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28)]
    # Snapshots newest first, with the movement of each month.
    snapshots = found.tables["snapshots"][1:]
    assert [row[0] for row in snapshots] == ["2026-02-28", "2026-01-31", "2025-12-31"]
    for row, run in zip(snapshots, runs[::-1], strict=True):
        amounts = [run.balance, run.opening, run.charge, run.release, run.used, run.closing]
        assert [plain(c) for c in row[1:7]] == [f"{a:.2f}" for a in amounts]
        assert row[7].startswith("finance1")
    # Each month opens with the previous month's closing.
    assert snapshots[0][2] == snapshots[1][6] and snapshots[1][2] == snapshots[2][6]
    # The chart and its table: matrix and specific provisions per month end, oldest first.
    totals = found.tables["totals"][1:]
    (chart,) = found.charts
    assert chart["labels"] == [row[0] for row in totals] == ["2025-12-31", "2026-01-31", "2026-02-28"]
    assert chart["series"][0]["data"] == [plain(row[1]) for row in totals]
    assert chart["series"][1]["data"] == [plain(row[2]) for row in totals]
    assert [plain(row[3]) for row in totals] == [f"{r.closing:.2f}" for r in runs]
    assert runs[-1].closing > 0

    detail = logged_in(app, "auditor1").get("/provisions?month=2026-02-28")
    assert detail.status_code == 200
    assert "Snapshot of 28 Feb 2026" in detail.get_data(as_text=True)  # the day as pages write it
    lines = PageTables(detail.get_data(as_text=True)).tables["detail"]
    assert lines[-1] == ["Total", f"{runs[-1].balance:,.2f}", f"{runs[-1].closing:,.2f}"]


def test_the_provisions_page_pages_its_snapshots(app: Flask) -> None:
    months = [month_end(date(2024, m, 1)) for m in range(1, 13)]
    post_snapshots(app, *months)
    set_page_size(app, 5)
    web = logged_in(app, "cfo1")
    pages = [PageTables(web.get(f"/provisions?page={n}").get_data(as_text=True)) for n in (1, 2, 3)]
    shown = [row[0] for found in pages for row in found.tables["snapshots"][1:]]
    assert shown == [m.isoformat() for m in months[::-1]]
    assert [len(found.tables["snapshots"]) - 1 for found in pages] == [5, 5, 2]
    # The chart shows the last 12 month ends whatever the page.
    assert all(found.charts[0]["labels"] == [m.isoformat() for m in months] for found in pages)
    # Filtered to the month ends of the second quarter; the chart still shows the last 12.
    quarter = PageTables(web.get("/provisions?from=2024-04-01&to=2024-06-30").get_data(as_text=True))
    assert [row[0] for row in quarter.tables["snapshots"][1:]] == ["2024-06-30", "2024-05-31", "2024-04-30"]
    assert len(quarter.charts[0]["labels"]) == 12
    empty = PageTables(web.get("/provisions?from=2025-01-01").get_data(as_text=True)).tables["snapshots"]
    assert empty[1:] == [["No provision snapshot has been posted for these month ends."]]
