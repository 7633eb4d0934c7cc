"""/jobs: the daily job days (dunning run, limit-review sweep) for admins and auditors.

Each row is one day of one job with its whole-day counts, as GET /api/jobs lists them.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext

from webui.auth import login_required_view, require_groups
from webui.services import page_arg, services
from workflows.batch.job_days import stale_after
from workflows.batch.job_history import JOB_READERS, JobDayFilter, job_day_json, list_job_days
from workflows.clock import utcnow
from workflows.errors import BadRequest
from workflows.messages import _
from workflows.store.paging import Page

bp = Blueprint("jobs_pages", __name__)

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The shipped daily jobs (workflows.batch.jobs.DAILY_JOBS) by name in the page's language; the id stays
# beside it, as the job filter and GET /api/jobs take it.
JOB_NAMES = {
    "dunning_run": lazy_gettext("Dunning run"),
    "limit_review_sweep": lazy_gettext("Limit review sweep"),
    "provision_run": lazy_gettext("Month-end provision run"),
    "kpi_snapshot": lazy_gettext("KPI snapshot"),
    "watchlist_run": lazy_gettext("Early-warning watchlist"),
    "balances_roll": lazy_gettext("Portfolio balances roll"),
}


def day_filter(name: str) -> date | None:
    """A YYYY-MM-DD query parameter; absent or empty means none.

    Raises:
        BadRequest: anything else, naming the parameter.
    """
    value = request.args.get(name, "")
    if not value:
        return None
    if _DAY.fullmatch(value):
        with contextlib.suppress(ValueError):  # 2026-02-30 has the shape but is no day
            return date.fromisoformat(value)
    raise BadRequest(_("%(name)s must be a day as YYYY-MM-DD, not '%(value)s'", name=name, value=value[:40]))


@bp.get("/jobs")
@login_required_view
def index() -> str:
    svc = services()
    require_groups(JOB_READERS, _("read the daily job runs"))
    job = (request.args.get("job") or "").strip()[:80]
    where = JobDayFilter(job or None, day_filter("from"), day_filter("to"))
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_job_days(session, where, page=page, per_page=per_page)
        days = [job_day_json(row, utcnow(), stale_after(svc.rt)) for row in rows]
    args = {
        k: v
        for k, v in {"job": job, "from": request.args.get("from"), "to": request.args.get("to")}.items()
        if v
    }
    return render_template(
        "jobs/list.html", found=Page(days, total, page, per_page), args=args, job_names=JOB_NAMES
    )
