"""Must-show 2 of issue 17 for /dashboard in chromium, on the book whose KPIs are computed by hand
(tests/credit/kpi_hand_book.py, tests/credit/test_kpis_by_hand.py): every chart is drawn (Chart.js holds it
and its canvas has painted pixels), every chart's numbers table holds exactly the chart's data, and every
table's numbers equal the API's (GET /api/kpis for every KPI trend and for the approval-route and
dispute-reason breakdowns, GET /api/aging for each row of the aging chart); the period and as-of filters
change the tables to the API's answer for that filter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SteppingClock
from tests.credit.kpi_hand_book import build_book
from tests.credit.test_kpis_by_hand import EXPECTED
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.e2e.test_csp import assert_clean, watch
from tests.helpers import auth
from webui.dashboard import ROUTE_TITLES
from workflows.credit.kpis import KPI_NAMES
from workflows.credit.provisions import BUCKETS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

CHARTJS = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "chartjs" / "chart.umd.min.js"
# Every canvas of the page: whether it was drawn, its painted pixels, and Chart.js's labels and data.
CHARTS = """
() => Array.from(document.querySelectorAll("canvas[data-chart]")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {
    drawn: canvas.dataset.drawn,
    painted: painted,
    labels: chart ? chart.data.labels : null,
    data: chart ? chart.data.datasets.map((d) => d.data) : null,
  };
})
"""
# A numbers table as rows of cell texts (header row first).
# A dated row's first cell as its ISO data-day / data-period: the page writes the day as "31 Jan 2026".
TABLE = """
(name) => Array.from(document.querySelectorAll(`table[data-numbers="${name}"] tr`)).map(
  (row) => Array.from(row.querySelectorAll("th, td")).map((cell, i) =>
    i === 0 && (row.dataset.day || row.dataset.period) ? row.dataset.day || row.dataset.period
      : cell.textContent.trim()))
"""
# The KPIs issue 17 names: each has a tile (more may follow).
ISSUE_KPIS = tuple(EXPECTED["2026-03-31"])
# The KPI tiles' names, in page order.
TILES = """
() => Array.from(document.querySelectorAll("article.tile[data-kpi]")).map((tile) => tile.dataset.kpi)"""
# One canvas (a CSS selector): whether it was drawn, its painted pixels, and Chart.js's labels and data.
CHART = """
(selector) => {
  const canvas = document.querySelector(selector);
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {
    drawn: canvas.dataset.drawn,
    painted: painted,
    labels: chart ? chart.data.labels : null,
    data: chart ? chart.data.datasets.map((d) => d.data) : null,
  };
}
"""


def money(cell: str) -> Decimal:
    return Decimal(cell.replace(",", ""))


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def api_kpis(client: FlaskClient, token: str, as_of: str, period: str) -> dict[str, Any]:
    answer = client.get(f"/api/kpis?as_of={as_of}&period={period}&currency=EUR", headers=auth(token))
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def check_kpi_charts(tab: Any, api: dict[str, Any]) -> None:
    """Every KPI of the API has a tile; each tile's sparkline holds its table's numbers, its table is the
    API's trend (the same period ends, each value the API's decimal string, "—" for null), and its canvas
    is painted when the trend has a value; every chart on the page is drawn and painted."""
    names = tab.evaluate(TILES)
    assert set(ISSUE_KPIS) <= set(names) <= set(KPI_NAMES) == set(api["kpis"]), names
    for name in names:
        spark = tab.evaluate(CHART, f'article.tile[data-kpi="{name}"] canvas[data-chart]')
        _, *rows = tab.evaluate(TABLE, f"kpi-{name}")
        trend = api["kpis"][name]["trend"]
        assert rows == [[p["period_end"], "—" if p["value"] is None else p["value"]] for p in trend], name
        assert spark["labels"] == [p["period_end"] for p in trend], name
        assert spark["data"] == [[None if p["value"] is None else float(p["value"]) for p in trend]], name
        assert spark["drawn"] == "true", name
        if any(p["value"] is not None for p in trend):
            assert spark["painted"] > 0, (name, spark["painted"])
        shown = tab.locator(f'article.tile[data-kpi="{name}"] .value').inner_text()
        value = api["kpis"][name]["value"]
        assert shown.startswith("—" if value is None else value), (name, shown)
    for chart in tab.evaluate(CHARTS):  # every chart on the page: drawn, and painted when it has a value
        assert chart["drawn"] == "true", chart
        if any(v is not None for series in chart["data"] for v in series):
            assert chart["painted"] > 0, chart


def cell(text: str) -> Decimal | None:
    return None if text == "—" else money(text)


def check_breakdown_charts(tab: Any, api: dict[str, Any]) -> None:
    """The approval cycle per route and the disputed amounts by reason: each chart painted, its data its
    trend table, and both tables (the period's and the trend) the API's breakdowns."""
    kpi = api["kpis"]["approval_within_sla_rate"]
    routes = list(ROUTE_TITLES)
    chart = tab.evaluate(CHART, "#approval-routes canvas[data-chart]")
    _, *rows = tab.evaluate(TABLE, "approval-routes-trend")
    expected = [
        [p["period_end"], *(((p["per_route"] or {}).get(r) or {}).get("median") or "—" for r in routes)]
        for p in kpi["trend"]
    ]
    assert rows == expected
    assert chart["labels"] == [row[0] for row in rows] and chart["drawn"] == "true"
    assert chart["data"] == [
        [None if row[1 + i] == "—" else float(row[1 + i]) for row in rows] for i in range(4)
    ]
    if any(v is not None for series in chart["data"] for v in series):
        assert chart["painted"] > 0
    _, *period = tab.evaluate(TABLE, "approval-routes")
    for row, route in zip(period, routes, strict=True):
        entry = (kpi["per_route"] or {}).get(route)
        if entry is None:
            assert row == [ROUTE_TITLES[route], "0", "—", "—", "—", "—"], row
        else:
            assert row == [
                ROUTE_TITLES[route],
                str(entry["count"]),
                entry["median"],
                entry["p90"],
                str(entry["within_sla"]),
                entry["within_sla_percent"],
            ], (row, entry)

    disputed = api["kpis"]["disputed_amount"]
    points = disputed["trend"]
    reasons = sorted({r for p in points for r in (p["by_reason"] or {})})
    _, *rows = tab.evaluate(TABLE, "dispute-reasons-trend")
    assert [[r[0], *(cell(c) for c in r[1:])] for r in rows] == [
        [
            p["period_end"],
            *(Decimal(p["by_reason"][r]) if (p["by_reason"] or {}).get(r) else None for r in reasons),
            None if not p["value"] or Decimal(p["value"]) == 0 else Decimal(p["value"]),
        ]
        for p in points
    ]
    if reasons:
        chart = tab.evaluate(CHART, "#dispute-reasons canvas[data-chart]")
        assert chart["drawn"] == "true" and chart["painted"] > 0 and chart["labels"] == [r[0] for r in rows]
        assert chart["data"] == [
            [None if (p["by_reason"] or {}).get(r) is None else float(p["by_reason"][r]) for p in points]
            for r in reasons
        ]
    shown = {r[0]: money(r[1]) for r in tab.evaluate(TABLE, "dispute-reasons")[1:] if len(r) == 2}
    total = shown.pop("All reasons", None)
    assert shown == {r: Decimal(v) for r, v in (disputed["by_reason"] or {}).items()}
    assert total == (None if disputed["value"] is None else Decimal(disputed["value"]))


def test_every_dashboard_chart_is_drawn_and_its_table_equals_the_api(
    app: Flask,
    client: FlaskClient,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
    app_clock: SteppingClock,
) -> None:
    if not CHARTJS.exists():
        pytest.skip("Chart.js is not in webui/static/vendor/; run `make setup` (it needs npm)")
    build_book(app)
    app_clock.advance(days=44)  # 15 April 2026: the month is March
    token = demo_tokens["manager1"]
    errors = watch(page)
    log_in(page, "manager1")
    page.click("nav >> text=Dashboard")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("canvas[data-drawn=true]")
    month = api_kpis(client, token, "2026-04-15", "month")
    check_kpi_charts(page, month)
    # The tiles show the hand-computed March figures, and each of their lines has values, so is painted.
    for name, value in EXPECTED["2026-03-31"].items():
        assert page.evaluate(CHART, f'article.tile[data-kpi="{name}"] canvas')["painted"] > 0, name
        assert page.locator(f'article.tile[data-kpi="{name}"] [data-value]').inner_text() == value, name

    check_breakdown_charts(page, month)
    # By hand (test_kpis_by_hand): March's disputes, and its decisions per route.
    assert page.locator('#dispute-reasons [data-amount="disputed"]').inner_text() == "1,550.00"
    analyst = page.evaluate(TABLE, "approval-routes")[2]
    assert analyst == ["Analyst", "2", "66.0", "102.0", "2", "100.00"]  # 30 and 102 hours

    # The aging chart: painted, its datasets the table's cells, each row GET /api/aging of its day.
    aging = page.evaluate(CHART, "#aging canvas[data-chart]")
    assert aging["drawn"] == "true" and aging["painted"] > 1000, aging["painted"]
    header, *rows = page.evaluate(TABLE, "aging")
    assert len(rows) == 12 and header[-1] == "Total" and rows[-1][0] == "2026-04-15"
    assert aging["labels"] == [row[0] for row in rows]
    assert aging["data"] == [[number(row[1 + i]) for row in rows] for i in range(len(BUCKETS))]
    for row in rows:
        answer = client.get(f"/api/aging?as_of={row[0]}", headers=auth(token))
        assert answer.status_code == 200, answer.json
        total = answer.json["total"]
        assert [money(c) for c in row[1:-1]] == [Decimal(total[b]) for b in BUCKETS], row
        assert money(row[-1]) == sum((Decimal(total[b]) for b in BUCKETS), Decimal(0)), row
    # Each month end's total is the hand computation's AR (test_kpis_by_hand), at the same rates.
    totals = {row[0]: money(row[-1]) for row in rows}
    assert (totals["2026-01-31"], totals["2026-02-28"], totals["2026-03-31"]) == (
        Decimal("40677.60"),
        Decimal("34944.00"),
        Decimal("40586.00"),
    )
    assert_clean(page, errors, "/dashboard")

    # Filter: the quarter. Every table is the API's quarter trend, and differs from the month's.
    page.select_option("select[name=period]", "quarter")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**period=quarter**")
    page.wait_for_selector("canvas[data-drawn=true]")
    quarter = api_kpis(client, token, "2026-04-15", "quarter")
    check_kpi_charts(page, quarter)
    check_breakdown_charts(page, quarter)
    assert quarter["kpis"]["dso"]["trend"] != month["kpis"]["dso"]["trend"]

    # Filter: as of 28 February, the month is February: its tiles are the hand-computed February figures.
    page.fill("input[name=as_of]", "2026-02-28")
    page.select_option("select[name=period]", "month")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**as_of=2026-02-28**")
    page.wait_for_selector("canvas[data-drawn=true]")
    february = api_kpis(client, token, "2026-02-28", "month")
    check_kpi_charts(page, february)
    check_breakdown_charts(page, february)
    for name, value in EXPECTED["2026-02-28"].items():
        assert page.locator(f'article.tile[data-kpi="{name}"] [data-value]').inner_text() == value, name
    assert page.evaluate(TABLE, "aging")[-1][0] == "2026-02-28"
    assert_clean(page, errors, "/dashboard?as_of=2026-02-28")
