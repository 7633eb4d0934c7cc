"""/portfolio: aging per customer in the base currency, with filters, sorting and paging, tabs for key
customers and the top exposures, and the same rows as CSV (/portfolio.csv) and XLSX (/portfolio.xlsx).
Credit staff, the CFO and auditors read it (roles.PORTFOLIO_READERS)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext, lazy_gettext

from webui.auth import login_required_view, require_groups
from webui.customers import BUCKET_TITLES
from webui.export_headers import export_header
from webui.services import MAX_PAGE, services
from workflows.credit.customers import GRADES
from workflows.credit.portfolio import (
    OVER_90,
    SORTS,
    TABS,
    TOP_DEFAULT,
    TOP_MAX,
    PortfolioFilter,
)
from workflows.credit.portfolio_export import (
    COLUMNS,
    XLSX_MEDIA_TYPE,
    ExportWords,
    portfolio_csv,
    portfolio_xlsx,
)
from workflows.credit.portfolio_pages import export_rows, load_portfolio
from workflows.credit.provisions import BUCKETS
from workflows.credit.roles import PORTFOLIO_READERS
from workflows.errors import BadRequest
from workflows.messages import _

bp = Blueprint("portfolio", __name__)

TEXT_FILTERS = ("region", "industry", "sales_owner")
PARAMS = ("tab", "grade", *TEXT_FILTERS, "currency", "key", "sort", "dir", "page", "top")
SORT_LABELS = {
    "total": lazy_gettext("Total"),
    "overdue": lazy_gettext("Overdue"),
    "over_90": lazy_gettext("Over 90 days"),
    "name": lazy_gettext("Name"),
    "grade": lazy_gettext("Grade"),
}
_CURRENCY = re.compile(r"[A-Z]{3}")
_TEXT_MAX = 80  # the columns' length (customers.region, industry, sales_owner)


def query_args() -> dict[str, str]:
    """The query's known parameters, each given at most once, trimmed; empty ones dropped.

    Raises:
        BadRequest: a parameter given twice or longer than any value it can match.
    """
    args: dict[str, str] = {}
    for name in PARAMS:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise BadRequest(_("%(name)s: give it once, not %(values)s times", name=name, values=len(values)))
        value = values[0].strip() if values else ""
        if len(value) > _TEXT_MAX:
            raise BadRequest(_("%(name)s: at most %(text_max)s characters", name=name, text_max=_TEXT_MAX))
        if value:
            args[name] = value
    return args


def _whole(args: dict[str, str], name: str, default: int, upper: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and 1 <= int(value) <= upper):
        raise BadRequest(_("%(name)s: a whole number from 1 to %(upper)s", name=name, upper=upper))
    return int(value)


def _one_of(args: dict[str, str], name: str, allowed: tuple[str, ...], default: str = "") -> str:
    value = args.get(name, default)
    if value and value not in allowed:
        raise BadRequest(_("%(name)s: one of %(allowed)s", name=name, allowed=", ".join(allowed)))
    return value


def portfolio_filter(args: dict[str, str]) -> tuple[PortfolioFilter, str]:
    """The filter the query asks for, and its tab.

    Raises:
        BadRequest: naming the parameter and what it takes.
    """
    tab = _one_of(args, "tab", TABS, "all")
    sort = _one_of(args, "sort", SORTS, "total")
    direction = _one_of(args, "dir", ("asc", "desc"), "asc" if sort in ("name", "grade") else "desc")
    key = _one_of(args, "key", ("yes", "no"))
    currency = args.get("currency")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise BadRequest(_("currency: a three-letter ISO code such as EUR"))
    flt = PortfolioFilter(
        grade=_one_of(args, "grade", GRADES) or None,
        currency=currency,
        key_customer=True if tab == "key" else {"yes": True, "no": False}.get(key),
        sort=sort,
        descending=direction == "desc",
        top=_whole(args, "top", TOP_DEFAULT, TOP_MAX) if tab == "top" else None,
        **{name: args.get(name) for name in TEXT_FILTERS},
    )
    return flt, tab


def _context() -> tuple[PortfolioFilter, str, dict[str, str], int]:
    require_groups(PORTFOLIO_READERS, _("read the portfolio"))
    args = query_args()
    flt, tab = portfolio_filter(args)
    return flt, tab, args, _whole(args, "page", 1, MAX_PAGE)


@bp.get("/portfolio")
@login_required_view
def index() -> str:
    flt, tab, args, page = _context()
    svc = services()
    base = svc.rt.settings.credit.base_currency
    with svc.rt.factory() as session:
        found = load_portfolio(
            session,
            flt,
            as_of=svc.clock().date(),
            base=base,
            page=page,
            per_page=svc.rt.settings.web.page_size,
        )
    return render_template(
        "portfolio/index.html",
        found=found,
        flt=flt,
        tab=tab,
        args=args,
        tab_args={k: v for k, v in args.items() if k not in ("tab", "page", "top")},
        grades=GRADES,
        sorts=SORT_LABELS,
        buckets=BUCKETS,
        bucket_labels=BUCKET_TITLES,
        over_90=OVER_90,
        top_max=TOP_MAX,
    )


def _export(kind: str) -> Response:
    flt, _tab, _args, _page = _context()
    svc = services()
    base = svc.rt.settings.credit.base_currency
    today = svc.clock().date()
    with svc.rt.factory() as session:
        rows, totals = export_rows(session, flt, as_of=today, base=base)
    name = f"portfolio-{today.isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    header = export_header(COLUMNS)  # the reader's language (webui/export_headers.py)
    # The file's own words in the reader's language too; "%(base)s" is filled by portfolio_export.
    total = str(gettext("Total (%(base)s)"))
    words = ExportWords(yes=str(gettext("yes")), no=str(gettext("no")), total=total)
    if kind == "csv":
        body = portfolio_csv(rows, totals, base, header, words)
        return Response(body, mimetype="text/csv", headers=headers)
    body_xlsx = portfolio_xlsx(rows, totals, base, header, words)
    return Response(body_xlsx, mimetype=XLSX_MEDIA_TYPE, headers=headers)


@bp.get("/portfolio.csv")
@login_required_view
def export_csv() -> Response:
    return _export("csv")


@bp.get("/portfolio.xlsx")
@login_required_view
def export_xlsx() -> Response:
    return _export("xlsx")
