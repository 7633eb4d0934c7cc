"""/dashboard and /provisions in Debian chromium (issue 17): every chart is drawn by Chart.js (non-blank
pixels, and the chart's data equal to the numbers table next to it), under the Content-Security-Policy with
no console error."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credit.test_aging_history import make_book
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.e2e.test_csp import assert_clean, watch
from tests.webui.test_dashboard_pages import post_snapshots
from workflows.credit.kpis import KPI_NAMES

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

CHARTJS = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "chartjs" / "chart.umd.min.js"

# Per canvas: whether Chart.js holds a chart for it, how many of its pixels are painted, and its datasets.
CHARTS = """
() => Array.from(document.querySelectorAll("canvas[data-chart]")).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {
    drawn: canvas.dataset.drawn,
    painted: painted,
    name: JSON.parse(canvas.dataset.chart).name || null,
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


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_the_dashboard_and_provisions_charts_are_drawn_from_their_tables(
    app: Flask,
    client: FlaskClient,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
) -> None:
    if not CHARTJS.exists():
        pytest.skip("Chart.js is not in webui/static/vendor/; run `make setup` (it needs npm)")
    make_book(app, client, demo_tokens["finance1"])
    post_snapshots(app, date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28))
    errors = watch(page)
    log_in(page, "manager1")
    page.click("nav >> text=Dashboard")
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("canvas[data-drawn=true]")
    charts = page.evaluate(CHARTS)
    # A sparkline per KPI, the approval routes' and dispute reasons' charts and the aging chart, each
    # painted and holding its table's numbers.
    sparklines = [c for c in charts if c["name"] is None]
    named = {c["name"]: c for c in charts if c["name"] is not None}
    routes, reasons, aging = named["approval-routes"], named["dispute-reasons"], named["aging"]
    assert len(sparklines) == len(KPI_NAMES) and all(c["drawn"] == "true" for c in sparklines)
    assert routes["drawn"] == reasons["drawn"] == "true"
    _, *route_rows = page.evaluate(TABLE, "approval-routes-trend")
    assert routes["labels"] == [row[0] for row in route_rows] and len(route_rows) == 12
    assert routes["data"] == [
        [None if row[1 + i] == "—" else number(row[1 + i]) for row in route_rows] for i in range(4)
    ]
    _, *reason_rows = page.evaluate(TABLE, "dispute-reasons-trend")
    assert reasons["labels"] == [row[0] for row in reason_rows] and len(reason_rows) == 12
    # A line needs two values: a KPI without any in the book's periods (no application decided, say) is blank.
    lines = [c for c in sparklines if sum(v is not None for v in c["data"][0]) >= 2]
    assert len(lines) >= 5 and all(c["painted"] > 0 for c in lines), [c["painted"] for c in sparklines]
    for spark, tile in zip(sparklines, page.locator("article.tile").all(), strict=True):
        name = tile.get_attribute("data-kpi")
        _, *trend = page.evaluate(TABLE, f"kpi-{name}")
        assert spark["labels"] == [row[0] for row in trend] and len(trend) == 12
        assert spark["data"] == [
            [None if row[1] in ("—", "not recorded") else number(row[1]) for row in trend]
        ], name
    assert aging["drawn"] == "true" and aging["painted"] > 1000, aging["painted"]
    header, *rows = page.evaluate(TABLE, "aging")
    assert len(rows) == 12 and header[-1] == "Total"
    assert aging["labels"] == [row[0] for row in rows]
    # One dataset per bucket; each bar's segment is the table's cell.
    assert len(aging["data"]) == len(header) - 2
    for i, series in enumerate(aging["data"]):
        assert series == [number(row[1 + i]) for row in rows]
    assert rows[-1][0] == "2026-03-02" and number(rows[-1][-1]) == 13930.00
    # The axis and the table write the day as the page does; the chart's data keeps it ISO.
    ticks = page.evaluate(
        """() => Chart.getChart(document.querySelector("#aging canvas[data-chart]")).scales.x.ticks
             .map((t) => t.label)"""
    )
    assert ticks[-1] == "2 Mar 2026"
    assert page.locator('#aging tr[data-day="2026-03-02"] th').inner_text() == "2 Mar 2026"
    exposures = page.evaluate(TABLE, "exposures")
    assert [row[1] for row in exposures[1:3]] == ["Yuan Co", "Euro AG"]
    assert_clean(page, errors, "/dashboard")

    page.click("nav >> text=Provisions")
    page.wait_for_url("**/provisions")
    page.wait_for_selector("canvas[data-drawn=true]")
    (totals,) = page.evaluate(CHARTS)
    assert totals["drawn"] == "true" and totals["painted"] > 1000
    _, *months = page.evaluate(TABLE, "totals")
    assert totals["labels"] == [row[0] for row in months] == ["2025-12-31", "2026-01-31", "2026-02-28"]
    assert totals["data"] == [[number(row[1]) for row in months], [number(row[2]) for row in months]]
    assert number(months[-1][3]) > 0
    assert len(page.evaluate(TABLE, "snapshots")) == 4 and page.evaluate(TABLE, "matrix")[1] == [
        "not due",
        "0.5 %",
    ]
    assert_clean(page, errors, "/provisions")
