"""/provisions: the deployed provision matrix, the monthly snapshots with their movements (paged), one
snapshot's lines by bucket, and a chart of the allowance per month with its numbers in a table.

The read side of GET /api/provisions; finance, credit managers, the CFO, collections and auditors read it
(PROVISION_READERS).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from webui.auth import login_required_view, require_groups
from webui.decision_sources import source_html
from webui.formatting import page_locale
from webui.jobs import day_filter
from webui.services import page_arg, services
from workflows.credit.provision_matrix import MatrixError, deployed_matrix
from workflows.credit.provision_snapshots import list_runs, recent_runs, run_json, run_of
from workflows.credit.provision_tables import ProvisionRun
from workflows.credit.provisions import matrix_rates
from workflows.credit.record_fields import money_text
from workflows.credit.roles import PROVISION_READERS
from workflows.errors import NotFound
from workflows.store.paging import Page

bp = Blueprint("provisions_pages", __name__)

CHART_MONTHS = 12


def bucket_label(bucket: str) -> str:
    """ "days_1_30" -> "1–30 days", "over_365" -> "over 365 days", "not_due" -> "not due" (in the page's
    language: "1–30 天", "365 天以上", "未到期"); a bucket of another shape in words."""
    if bucket.startswith("days_"):
        return str(_("%(range)s days", range=bucket.removeprefix("days_").replace("_", "–")))
    if bucket.startswith("over_"):
        return str(_("over %(days)s days", days=bucket.removeprefix("over_")))
    if bucket == "not_due":
        return str(_("not due"))
    return bucket.replace("_", " ")


def percent(rate: str) -> str:
    """A rate as the table writes it ("0.005") in percent in the page's language ("0.5 %")."""
    value = (Decimal(rate) * 100).normalize()
    return format_decimal(value, locale=page_locale(), decimal_quantization=False) + " %"


def totals_chart(runs: list[ProvisionRun]) -> dict[str, Any]:
    """The allowance at each month end, stacked: the matrix part and the specific provisions."""
    return {
        "type": "stacked-bar",
        "labels": [r.as_of.isoformat() for r in runs],
        "series": [
            {
                "label": _("Matrix"),
                "data": [money_text(r.matrix_provision) for r in runs],
                "color": "#1d6fd6",
            },
            {
                "label": _("Specific"),
                "data": [money_text(r.specific_provision) for r in runs],
                "color": "#c77700",
            },
        ],
    }


@bp.get("/provisions")
@login_required_view
def index() -> str:
    require_groups(PROVISION_READERS, _("read provisions"))
    svc = services()
    today = svc.clock().date()
    month, start, end = day_filter("month"), day_filter("from"), day_filter("to")
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        try:
            matrix = deployed_matrix(session, today)
            rates, source, matrix_error = matrix_rates(matrix), matrix.source, None
            buckets = list(matrix.buckets)
        except MatrixError as refused:
            rates, source, matrix_error, buckets = {}, None, refused.message, []
        rows, total = list_runs(session, page=page, per_page=per_page, start=start, end=end)
        recent = recent_runs(session, CHART_MONTHS)
        chosen = None
        if month is not None:
            run = run_of(session, month)
            if run is None:
                raise NotFound(_("no provision snapshot of %(month)s was posted", month=month.isoformat()))
            chosen = run_json(session, run)
    return render_template(
        "provisions/index.html",
        base=svc.rt.settings.credit.base_currency,
        matrix_source_html=source_html(source),
        source_html=source_html,
        matrix_error=matrix_error,
        buckets=buckets,
        rates=rates,
        found=Page(rows, total, page, per_page),
        recent=recent,
        chart=totals_chart(recent),
        chosen=chosen,
        bucket_label=bucket_label,
        percent=percent,
        filters={"from": start, "to": end},
        args={k: v for k in ("month", "from", "to") if (v := request.args.get(k))},
    )
