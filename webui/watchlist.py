"""/watchlist: the early-warning watchlist, filtered by status, indicator and owner, paged."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webui.auth import login_required_view, require_groups
from webui.services import page_arg, services
from workflows.credit.watchlist import (
    MEASURES,
    READERS,
    STATUSES,
    EntryFilter,
    counts_by_action,
    indicator_names,
    list_entries,
    owners,
    sales_only,
)
from workflows.store.paging import Page

bp = Blueprint("watchlist_pages", __name__)

INDICATOR_LABELS = {
    "utilisation": "Utilisation ≥ 90 %",
    "over_limit": "Over the limit",
    "dbt_rising": "Days beyond terms rising",
    "first_late_payment": "First late payment (A/B)",
    "broken_promise": "Broken promise",
    "rating_downgrade": "Rating downgrade",
    "dispute_rate": "Dispute rate above normal",
    "concentration": "Concentration cap exceeded",
}
UNITS = {
    "utilisation_percent": "%",
    "dbt_rising_months": "months",
    "first_late_days": "days ago",
    "broken_promise_days": "days ago",
    "downgrade_days": "days ago",
    "dispute_rate_percent": "%",
    "ar_share_percent": "% of AR",
}


@bp.get("/watchlist")
@login_required_view
def index() -> str:
    svc = services()
    actor = require_groups(READERS, "read the watchlist")
    status = request.args.get("status", "open")
    wanted = request.args.get("indicator", "")
    owner = (request.args.get("owner") or "").strip()[:80]
    own = sales_only(actor)
    with svc.rt.factory() as session:
        # A salesperson's list names only themselves: the other owners are other people's customers.
        known_owners = [o for o in owners(session) if not own or o == actor.username]
        found = indicator_names(session)  # a process owner's new rule names its own indicators
        labels = INDICATOR_LABELS | {n: n.replace("_", " ") for n in found if n not in INDICATOR_LABELS}
        flt = {
            "status": status if status in STATUSES else "open",
            "indicator": wanted if wanted in labels else "",
            "owner": owner if owner in known_owners else "",
        }
        page, per_page = page_arg(), svc.rt.settings.web.page_size
        rows, total = list_entries(
            session,
            EntryFilter(
                status=flt["status"],
                indicator=flt["indicator"] or None,
                owner=flt["owner"] or None,
                sales_owner=actor.username if own else None,
            ),
            page=page,
            per_page=per_page,
        )
        counts = None if own else counts_by_action(session)
    return render_template(
        "watchlist/list.html",
        found=Page(rows, total, page, per_page),
        flt=flt,
        args={k: v for k, v in flt.items() if v},
        statuses=STATUSES,
        indicators=labels,
        owners=known_owners,
        counts=counts,
        units={name: UNITS.get(measure, "") for name, measure in MEASURES.items()},
    )
