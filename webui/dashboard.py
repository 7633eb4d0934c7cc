"""/dashboard: the credit manager's cockpit (issue 17). The KPI tiles with their 12-period trends
(workflows.credit.kpis), the aging by bucket at the last 12 month ends, the largest exposures, and the open
watchlist entries (workflows.credit.watchlist), for credit managers, analysts and the CFO.

Every chart is drawn by static/dashboard.js (Chart.js, vendored) from the numbers embedded in its canvas's
`data-chart` attribute, and the same numbers stand in a table next to it (accessibility, export).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for

from webui.auth import login_required_view, require_groups
from webui.customers import BUCKET_LABELS
from webui.jobs import day_filter
from webui.services import services
from workflows.credit.aging_history import AgingPoint
from workflows.credit.aging_snapshots import dashboard_views
from workflows.credit.concentration_cap import concentration_cap
from workflows.credit.kpis import KPI_NAMES, KpiRatesMissing, compute_kpis
from workflows.credit.portfolio_balances import ensure_rolled
from workflows.credit.provisions import BUCKETS
from workflows.credit.record_fields import money_text
from workflows.credit.roles import CFO, CREDIT_ANALYST, CREDIT_MANAGER
from workflows.credit.watchlist import counts_by_action, open_entries
from workflows.errors import BadRequest

bp = Blueprint("dashboard", __name__)

DASHBOARD_READERS = frozenset({CREDIT_MANAGER, CREDIT_ANALYST, CFO})
PERIODS = ("month", "quarter")
WATCHLIST_ROWS = 10
WATCHLIST_PAGE = "watchlist_pages.index"
# Each KPI's tile title and its definition (docs/kpis.md has them in full); "period" is the calendar month
# or quarter ending on or before the day shown, "AR" the receivables open (after payments and credit notes).
KPI_HELP: dict[str, tuple[str, str]] = {
    "dso": ("DSO", "Days sales outstanding: AR at the period end ÷ credit sales in the period × days in it."),
    "best_possible_dso": (
        "Best possible DSO",
        "Current (not yet due) AR at the period end ÷ credit sales in the period × days in it.",
    ),
    "add": ("ADD", "Average days delinquent: DSO − best possible DSO."),
    "cei": (
        "CEI",
        "Collection effectiveness index: (AR at the start + credit sales − AR at the end) ÷ "
        "(AR at the start + credit sales − current AR at the end) × 100.",
    ),
    "overdue_ratio": ("Overdue", "AR past its due date ÷ AR, at the period end."),
    "over_90_ratio": ("Over 90 days", "AR more than 90 days past due ÷ AR, at the period end."),
    "bad_debt_ratio": ("Bad debt", "Written off in the period ÷ credit sales in the period."),
    "provision_ratio": ("Provision", "The provision (allowance) at the period end ÷ AR."),
    "approval_cycle_hours": (
        "Approval cycle",
        "Median hours from the start of a credit application to its decision, of those decided in the "
        "period (also the 90th percentile and the share decided within the SLA).",
    ),
    "promise_kept_rate": (
        "Promises kept",
        "Promises to pay judged in the period that were kept in full ÷ all judged in it.",
    ),
    "top10_concentration": (
        "Top-10 concentration",
        "The share of AR held by the 10 largest customers; the largest one is shown against the "
        "concentration cap, a policy in concentration_cap.dmn.",
    ),
}
UNIT_TEXT = {"days": "days", "percent": "%", "hours": "h"}


def as_of_arg(today: date) -> date:
    """?as_of=YYYY-MM-DD, on or before today (default today).

    Raises:
        BadRequest: naming the parameter.
    """
    as_of = day_filter("as_of") or today
    if as_of > today:
        raise BadRequest(f"as_of must be on or before today ({today.isoformat()}), not {as_of.isoformat()}")
    return as_of


def period_arg() -> str:
    """?period=month|quarter (default month).

    Raises:
        BadRequest: anything else.
    """
    period = request.args.get("period", "") or "month"
    if period not in PERIODS:
        raise BadRequest(f"period must be month or quarter, not {period[:40]!r}")
    return period


def kpi_tiles(kpis: dict[str, Any]) -> list[dict[str, Any]]:
    """One tile per KPI: title, value, unit, why it has none, its definition, and its trend as a sparkline
    (a period without a value is a gap)."""
    tiles = []
    for name in KPI_NAMES:
        kpi = kpis["kpis"][name]
        title, definition = KPI_HELP[name]
        trend = kpi["trend"]
        tiles.append(
            {
                "name": name,
                "title": title,
                "definition": definition,
                "value": kpi["value"],
                "unit": UNIT_TEXT.get(kpi["unit"], kpi["unit"]),
                "reason": kpi.get("reason"),
                "p90": kpi.get("p90"),
                "within_sla": kpi.get("within_sla_percent"),
                "largest": kpi.get("largest_exposure"),
                "trend": trend,
                "chart": {
                    "type": "sparkline",
                    "labels": [t["period_end"] for t in trend],
                    "series": [{"label": title, "data": [t["value"] for t in trend]}],
                },
            }
        )
    return tiles


def aging_chart(points: list[AgingPoint]) -> dict[str, Any]:
    """The stacked bar chart's data: one series per bucket, one bar per day (a day without a total is
    a gap)."""
    return {
        "type": "stacked-bar",
        "labels": [p.day.isoformat() for p in points],
        "series": [
            {
                "label": BUCKET_LABELS[b],
                "data": [None if p.buckets is None else money_text(p.buckets[b]) for p in points],
            }
            for b in BUCKETS
        ],
    }


@bp.get("/dashboard")
@login_required_view
def index() -> str:
    require_groups(DASHBOARD_READERS, "open the dashboard")
    svc = services()
    today = svc.clock().date()
    as_of = as_of_arg(today)
    period = period_arg()
    base = svc.rt.settings.credit.base_currency
    kpis, kpi_error = None, None
    with svc.rt.factory() as session:
        # First, before the session opens a transaction: roll the maintained balances to today when they
        # are behind (as the portfolio does), so today's aging and exposures are read from them.
        ensure_rolled(session, as_of, base)
        try:
            kpis = compute_kpis(session, as_of, period, base)
        except KpiRatesMissing as missing:
            kpi_error = str(missing)
        points, exposures = dashboard_views(session, as_of, base)
        cap = concentration_cap(session)
        watchlist, watch_counts = open_entries(session, WATCHLIST_ROWS), counts_by_action(session)
    # The watchlist page is helper W's; linked when it is there.
    watchlist_url = url_for(WATCHLIST_PAGE) if WATCHLIST_PAGE in current_app.view_functions else None
    return render_template(
        "dashboard/index.html",
        as_of=as_of,
        today=today,
        period=period,
        kpis=kpis,
        tiles=kpi_tiles(kpis) if kpis else [],
        kpi_error=kpi_error,
        kpi_help=[KPI_HELP[name] for name in KPI_NAMES],
        base=base,
        points=points,
        buckets=BUCKETS,
        bucket_labels=BUCKET_LABELS,
        aging=aging_chart(points),
        exposures=exposures,
        cap=cap,
        cap_amount=cap.against(Decimal(0), exposures.total or Decimal(0))["cap_amount"],
        against_cap={
            e.customer_id: cap.against(e.in_base, exposures.total or Decimal(0)) for e in exposures.top
        },
        watchlist=watchlist,
        watch_counts=watch_counts,
        watchlist_url=watchlist_url,
        args={k: v for k, v in {"as_of": request.args.get("as_of"), "period": period}.items() if v},
    )
