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
from workflows.credit.kpi_process import AUTO
from workflows.credit.kpis import KPI_NAMES, NOT_IN_SNAPSHOT, KpiRatesMissing, compute_kpis
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
    "approval_cycle_p90_hours": (
        "Approval cycle p90",
        "The 90th percentile (nearest rank) of the hours from the start of a credit application to its "
        "decision, of those decided in the period: 90 % took no longer. Per route in the table below.",
    ),
    "approval_within_sla_rate": (
        "Approvals within the SLA",
        "Credit applications decided in the period whose every deciding task (analyst review, manager, "
        "CFO approval) was completed by its due time ÷ all decided in the period × 100; an automatic "
        "decision is within it. Per route in the table below.",
    ),
    "dunning_paid_within_30_days_rate": (
        "Dunning paid within 30 days",
        "Dunning effectiveness: of the dunning cases whose 30 days after their first level-1 notice ended "
        "in the period, the share closed paid within those 30 days × 100.",
    ),
    "dispute_cycle_days": (
        "Dispute cycle",
        "Median days from the opening of a dispute to its closing, of the disputes closed in the period.",
    ),
    "disputed_amount": (
        "Disputed",
        "The amounts of the disputes opened in the period, in the base currency at the period end's rate; "
        "by reason code in the table below.",
    ),
}
UNIT_TEXT = {"days": "days", "percent": "%", "hours": "h"}
# The routes of kpi_process.ROUTES, in their order.
ROUTE_TITLES = {AUTO: "Automatic", "analyst": "Analyst", "manager": "Manager", CFO: "CFO"}


def _note(name: str, kpi: dict[str, Any]) -> str | None:
    """The figures behind a process KPI's value, in words (None for the others, or without a value)."""
    if kpi["value"] is None:
        return None
    if name == "dunning_paid_within_30_days_rate":
        paid, cases = kpi["paid_within_30_days"], kpi["cases"]
        return f"{paid} of {cases} cases closed paid within 30 days of the first notice"
    if name == "approval_within_sla_rate":
        return f"{kpi['within_sla']} of {kpi['count']} decisions within the SLA"
    if name == "approval_cycle_p90_hours":
        return f"of {kpi['count']} decisions"
    if name == "dispute_cycle_days":
        return f"median of {kpi['closed']} disputes closed"
    return None


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


def kpi_tiles(kpis: dict[str, Any], base: str) -> list[dict[str, Any]]:
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
                "unit": base if kpi["unit"] == "money" else UNIT_TEXT.get(kpi["unit"], kpi["unit"]),
                "reason": kpi.get("reason"),
                "note": _note(name, kpi),
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


def route_view(kpis: dict[str, Any]) -> dict[str, Any]:
    """Approval cycle per route: the period's count, median, p90 and SLA share per route (`rows`), and the
    median per route over the 12 periods (`trend`: a line per route, a period read from a snapshot stored
    before the breakdown existed is None: not recorded)."""
    kpi = kpis["kpis"]["approval_within_sla_rate"]
    current = kpi.get("per_route")
    routes = list(ROUTE_TITLES)
    rows = [{"route": r, "title": ROUTE_TITLES[r], **(current or {}).get(r, {})} for r in routes]
    trend = [
        {
            "period_end": p["period_end"],
            "recorded": p.get("per_route") is not None,
            "medians": {r: ((p.get("per_route") or {}).get(r) or {}).get("median") for r in routes},
        }
        for p in kpi["trend"]
    ]
    chart = {
        "type": "line",
        "name": "approval-routes",
        "labels": [t["period_end"] for t in trend],
        "series": [{"label": ROUTE_TITLES[r], "data": [t["medians"][r] for t in trend]} for r in routes],
    }
    return {
        "recorded": current is not None,
        "reason": kpi.get("reason"),
        "rows": rows,
        "titles": ROUTE_TITLES,
        "trend": trend,
        "chart": chart,
    }


def reason_view(kpis: dict[str, Any]) -> dict[str, Any]:
    """Disputed amounts by reason code: the period's (`current`), and per period over the 12 (`trend`, a
    stacked bar per period, a series per reason code; a period whose snapshot predates it: not recorded)."""
    kpi = kpis["kpis"]["disputed_amount"]
    points = kpi["trend"]
    reasons = sorted({r for p in points for r in (p.get("by_reason") or {})})
    trend = [
        {
            "period_end": p["period_end"],
            "recorded": p.get("by_reason") is not None,
            "amounts": {r: (p.get("by_reason") or {}).get(r) for r in reasons},
            "total": p["value"],
        }
        for p in points
    ]
    chart = {
        "type": "stacked-bar",
        "name": "dispute-reasons",
        "labels": [t["period_end"] for t in trend],
        "series": [{"label": r, "data": [t["amounts"][r] for t in trend]} for r in reasons],
    }
    return {
        "current": kpi.get("by_reason"),
        "value": kpi["value"],
        "reason": kpi.get("reason"),
        "unconverted": kpi.get("unconverted"),
        "reasons": reasons,
        "trend": trend,
        "chart": chart,
    }


def aging_chart(points: list[AgingPoint]) -> dict[str, Any]:
    """The stacked bar chart's data: one series per bucket, one bar per day (a day without a total is
    a gap)."""
    return {
        "type": "stacked-bar",
        "name": "aging",
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
        tiles=kpi_tiles(kpis, base) if kpis else [],
        routes=route_view(kpis) if kpis and "approval_within_sla_rate" in kpis["kpis"] else None,
        reasons=reason_view(kpis) if kpis and "disputed_amount" in kpis["kpis"] else None,
        kpi_error=kpi_error,
        not_in_snapshot=NOT_IN_SNAPSHOT,
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
