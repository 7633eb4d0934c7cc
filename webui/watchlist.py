"""/watchlist: the early-warning watchlist, filtered by status, indicator and owner, paged."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext

from webui.auth import login_required_view, require_groups
from webui.i18n import label_of
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
from workflows.messages import _
from workflows.store.paging import Page

bp = Blueprint("watchlist_pages", __name__)

INDICATOR_LABELS = {
    "utilisation": lazy_gettext("Utilisation ≥ 90 %"),
    "over_limit": lazy_gettext("Over the limit"),
    "dbt_rising": lazy_gettext("Days beyond terms rising"),
    "first_late_payment": lazy_gettext("First late payment (A/B)"),
    "broken_promise": lazy_gettext("Broken promise"),
    "rating_downgrade": lazy_gettext("Rating downgrade"),
    "dispute_rate": lazy_gettext("Dispute rate above normal"),
    "concentration": lazy_gettext("Concentration cap exceeded"),
}
# The same indicators in a word or two, as the dashboard's watchlist table lists them ("over limit").
INDICATOR_SHORT_NAMES = {
    "utilisation": lazy_gettext("utilisation"),
    "over_limit": lazy_gettext("over limit"),
    "dbt_rising": lazy_gettext("dbt rising"),
    "first_late_payment": lazy_gettext("first late payment"),
    "broken_promise": lazy_gettext("broken promise"),
    "rating_downgrade": lazy_gettext("rating downgrade"),
    "dispute_rate": lazy_gettext("dispute rate"),
    "concentration": lazy_gettext("concentration"),
}
UNITS = {
    "utilisation_percent": "%",
    "dbt_rising_months": lazy_gettext("months"),
    "first_late_days": lazy_gettext("days ago"),
    "broken_promise_days": lazy_gettext("days ago"),
    "downgrade_days": lazy_gettext("days ago"),
    "dispute_rate_percent": "%",
    "ar_share_percent": lazy_gettext("%(percent)s of AR", percent="%"),
}
# The required actions (watchlist_rules.ACTIONS) and severities as the pages say them.
WATCH_ACTIONS = {
    "review": lazy_gettext("review"),
    "call": lazy_gettext("call"),
    "credit_hold": lazy_gettext("credit hold"),
}
SEVERITIES = {"low": lazy_gettext("low"), "medium": lazy_gettext("medium"), "high": lazy_gettext("high")}


@bp.app_template_global()
def watch_action_label(action: str) -> str:
    """A watchlist entry's required action in the page's language ("credit_hold" -> "credit hold")."""
    return label_of(WATCH_ACTIONS, action)


@bp.app_template_global()
def watch_indicator_label(indicator: str) -> str:
    """An early-warning indicator's name in the page's language; a process owner's own one in words."""
    return label_of(INDICATOR_LABELS, indicator)


@bp.app_template_global()
def watch_indicator_short(indicator: str) -> str:
    return label_of(INDICATOR_SHORT_NAMES, indicator)


@bp.app_template_global()
def severity_label(severity: str) -> str:
    return label_of(SEVERITIES, severity)


@bp.get("/watchlist")
@login_required_view
def index() -> str:
    svc = services()
    actor = require_groups(READERS, _("read the watchlist"))
    status = request.args.get("status", "open")
    wanted = request.args.get("indicator", "")
    owner = (request.args.get("owner") or "").strip()[:80]
    own = sales_only(actor)
    with svc.rt.factory() as session:
        # A salesperson's list names only themselves: the other owners are other people's customers.
        known_owners = [o for o in owners(session) if not own or o == actor.username]
        found = indicator_names(session)  # a process owner's new rule names its own indicators
        labels = {n: watch_indicator_label(n) for n in [*INDICATOR_LABELS, *found]}
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
