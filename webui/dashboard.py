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
from flask_babel import gettext, lazy_gettext

from webui.auth import login_required_view, require_groups
from webui.customer_labels import reason_word
from webui.customers import BUCKET_TITLES
from webui.decision_sources import snapshot_title, source_html, source_text
from webui.formatting import said
from webui.i18n import list_separator
from webui.jobs import day_filter
from webui.kpi_help import KPI_HELP
from webui.services import services
from webui.stored_sentences import said_stored
from workflows.credit.aging_history import AgingPoint
from workflows.credit.aging_snapshots import dashboard_views
from workflows.credit.concentration_cap import concentration_cap
from workflows.credit.kpi_process import AUTO
from workflows.credit.kpis import KPI_NAMES, NO_AR, NO_SALES, NOT_IN_SNAPSHOT, KpiRatesMissing, compute_kpis
from workflows.credit.portfolio_balances import ensure_rolled
from workflows.credit.provisions import BUCKETS
from workflows.credit.record_fields import money_text
from workflows.credit.roles import CFO, CREDIT_ANALYST, CREDIT_MANAGER
from workflows.credit.watchlist import counts_by_action, open_entries
from workflows.errors import BadRequest, message_of
from workflows.messages import _

bp = Blueprint("dashboard", __name__)

DASHBOARD_READERS = frozenset({CREDIT_MANAGER, CREDIT_ANALYST, CFO})
PERIODS = ("month", "quarter")
WATCHLIST_ROWS = 10
WATCHLIST_PAGE = "watchlist_pages.index"
UNIT_TEXT = {"days": lazy_gettext("days"), "percent": "%", "hours": lazy_gettext("h")}
# The routes of kpi_process.ROUTES, in their order.
ROUTE_TITLES = {AUTO: "Automatic", "analyst": "Analyst", "manager": "Manager", CFO: "CFO"}
# The same routes in the page's language (ROUTE_TITLES stays English: tests/e2e read it).
ROUTE_NAMES = {
    AUTO: lazy_gettext("Automatic"),
    "analyst": lazy_gettext("Analyst"),
    "manager": lazy_gettext("Manager"),
    CFO: lazy_gettext("CFO"),
}
PERIOD_NAMES = {"month": lazy_gettext("month"), "quarter": lazy_gettext("quarter")}
# Why a KPI has no value (workflows.credit.kpis, kpi_extras: the API's English), in the page's language; a
# reason not here (e.g. a missing exchange rate, naming its currencies) is shown as the API gives it.
REASON_TEXT = {
    NO_SALES: lazy_gettext("no credit sales in the period"),
    NO_AR: lazy_gettext("no receivables open at the period end"),
    NOT_IN_SNAPSHOT: lazy_gettext("not in the period's snapshot, which was stored before this KPI existed"),
    "no credit application was decided in the period": lazy_gettext(
        "no credit application was decided in the period"
    ),
    "no promise to pay was judged in the period": lazy_gettext("no promise to pay was judged in the period"),
    "no dunning case's 30 days after its first level-1 notice ended in the period": lazy_gettext(
        "no dunning case's 30 days after its first level-1 notice ended in the period"
    ),
    "no dispute was closed in the period": lazy_gettext("no dispute was closed in the period"),
    "no dispute was opened in the period": lazy_gettext("no dispute was opened in the period"),
}


def reason_text(reason: str | None) -> str | None:
    """Why a KPI has no value, in the page's language."""
    if reason is None:
        return None
    known = REASON_TEXT.get(reason)
    # Another reason (a missing rate, a provision that cannot be computed) was stored in a snapshot as
    # its English sentence: said again from the catalogue's msgids.
    return str(known) if known is not None else said_stored(reason)


def _note(name: str, kpi: dict[str, Any]) -> str | None:
    """The figures behind a process KPI's value, in words (None for the others, or without a value)."""
    if kpi["value"] is None:
        return None
    if name == "dunning_paid_within_30_days_rate":
        paid, cases = kpi["paid_within_30_days"], kpi["cases"]
        return str(
            gettext(
                "%(paid)s of %(cases)s cases closed paid within 30 days of the first notice",
                paid=paid,
                cases=cases,
            )
        )
    if name == "approval_within_sla_rate":
        return str(
            gettext(
                "%(within)s of %(count)s decisions within the SLA",
                within=kpi["within_sla"],
                count=kpi["count"],
            )
        )
    if name == "approval_cycle_p90_hours":
        return str(gettext("of %(count)s decisions", count=kpi["count"]))
    if name == "dispute_cycle_days":
        return str(gettext("median of %(closed)s disputes closed", closed=kpi["closed"]))
    return None


def as_of_arg(today: date) -> date:
    """?as_of=YYYY-MM-DD, on or before today (default today).

    Raises:
        BadRequest: naming the parameter.
    """
    as_of = day_filter("as_of") or today
    if as_of > today:
        raise BadRequest(
            _(
                "as_of must be on or before today (%(today)s), not %(as_of)s",
                today=today.isoformat(),
                as_of=as_of.isoformat(),
            )
        )
    return as_of


def period_arg() -> str:
    """?period=month|quarter (default month).

    Raises:
        BadRequest: anything else.
    """
    period = request.args.get("period", "") or "month"
    if period not in PERIODS:
        raise BadRequest(_("period must be month or quarter, not '%(period)s'", period=period[:40]))
    return period


def kpi_tiles(kpis: dict[str, Any], base: str) -> list[dict[str, Any]]:
    """One tile per KPI: title, value, unit, why it has none, its definition, and its trend as a sparkline
    (a period without a value is a gap)."""
    tiles = []
    for name in KPI_NAMES:
        kpi = kpis["kpis"][name]
        title, definition = str(KPI_HELP[name][0]), str(KPI_HELP[name][1])
        trend = kpi["trend"]
        tiles.append(
            {
                "name": name,
                "title": title,
                "definition": definition,
                "value": kpi["value"],
                "unit": base if kpi["unit"] == "money" else str(UNIT_TEXT.get(kpi["unit"], kpi["unit"])),
                "reason": reason_text(kpi.get("reason")),
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
    titles = {r: str(ROUTE_NAMES[r]) for r in routes}
    rows = [{"route": r, "title": titles[r], **(current or {}).get(r, {})} for r in routes]
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
        "series": [{"label": titles[r], "data": [t["medians"][r] for t in trend]} for r in routes],
    }
    return {
        "recorded": current is not None,
        "reason": reason_text(kpi.get("reason")),
        "rows": rows,
        "titles": titles,
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
        # The legend says each reason as the tables beside it do (the code on an English page).
        "series": [{"label": reason_word(r), "data": [t["amounts"][r] for t in trend]} for r in reasons],
    }
    return {
        "current": kpi.get("by_reason"),
        "value": kpi["value"],
        "reason": reason_text(kpi.get("reason")),
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
                "label": str(BUCKET_TITLES[b]),
                "data": [None if p.buckets is None else money_text(p.buckets[b]) for p in points],
            }
            for b in BUCKETS
        ],
    }


@bp.get("/dashboard")
@login_required_view
def index() -> str:
    require_groups(DASHBOARD_READERS, _("open the dashboard"))
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
            kpi_error = said(message_of(missing))  # in the page's language, its days as the page writes them
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
        kpi_help=[(str(title), str(text)) for title, text in (KPI_HELP[name] for name in KPI_NAMES)],
        period_name=str(PERIOD_NAMES[period]),
        period_names={p: str(name) for p, name in PERIOD_NAMES.items()},
        base=base,
        points=points,
        buckets=BUCKETS,
        bucket_labels={b: str(title) for b, title in BUCKET_TITLES.items()},
        aging=aging_chart(points),
        exposures=exposures,
        cap=cap,
        cap_source=source_text(cap.source),
        cap_source_html=source_html(cap.source),
        snapshot_title=snapshot_title,
        list_comma=list_separator(),
        reason_text=reason_text,
        cap_amount=cap.against(Decimal(0), exposures.total or Decimal(0))["cap_amount"],
        against_cap={
            e.customer_id: cap.against(e.in_base, exposures.total or Decimal(0)) for e in exposures.top
        },
        watchlist=watchlist,
        watch_counts=watch_counts,
        watchlist_url=watchlist_url,
        args={k: v for k, v in {"as_of": request.args.get("as_of"), "period": period}.items() if v},
    )
