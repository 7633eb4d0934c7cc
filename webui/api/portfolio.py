"""GET /api/portfolio: the /portfolio page's rows and totals as JSON, with the same parameters and readers
(credit analysts, credit managers, the CFO, auditors)."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, require_groups
from webui.api.openapi import Day, Id, Model, Money, Page, PageQuery, api, responses
from webui.portfolio import portfolio_filter, query_args
from webui.services import services
from workflows.credit.customers import GRADES
from workflows.credit.portfolio import SORTS, TABS, TOP_MAX, PortfolioRow, PortfolioTotals
from workflows.credit.portfolio_pages import load_portfolio
from workflows.credit.provisions import BUCKETS
from workflows.credit.record_fields import money_text
from workflows.credit.roles import PORTFOLIO_READERS
from workflows.messages import _
from workflows.store.paging import MAX_PER_PAGE

_TEXT = Field(None, max_length=80, description="an exact value of the customer's field")


class PortfolioQuery(PageQuery):
    tab: Literal[TABS] | None = Field(None, description="all (default), key (key customers), top (exposures)")  # type: ignore[valid-type]
    grade: Literal[GRADES] | None = None  # type: ignore[valid-type]
    region: str | None = _TEXT
    industry: str | None = _TEXT
    sales_owner: str | None = _TEXT
    currency: str | None = Field(None, pattern="^[A-Z]{3}$", description="the customer's currency")
    key: Literal["yes", "no"] | None = Field(None, description="key customers only, or the others")
    sort: Literal[SORTS] | None = Field(None, description="total (default), overdue, over_90, name, grade")  # type: ignore[valid-type]
    dir: Literal["asc", "desc"] | None = Field(None, description="desc for amounts, asc for names by default")
    top: int | None = Field(None, ge=1, le=TOP_MAX, description="tab=top: how many (default 20)")


class PortfolioBuckets(Model):
    not_due: Money
    days_1_30: Money
    days_31_60: Money
    days_61_90: Money
    days_91_120: Money
    over_120: Money


class PortfolioItem(Model):
    customer_id: Id
    external_id: str | None
    name: str
    grade: str | None
    region: str | None
    industry: str | None
    sales_owner: str | None
    currency: str = Field(description="the customer's currency")
    key_customer: bool
    account_owner: str | None
    buckets: PortfolioBuckets = Field(description="open amounts by days past due, in the base currency")
    total: Money
    overdue: Money
    over_90: Money
    rate_missing: bool = Field(description="an invoice currency has no rate: see unconverted")
    unconverted: dict[str, Money] = Field(description="open amounts left unconverted, by currency")


class PortfolioSums(Model):
    buckets: PortfolioBuckets
    total: Money
    overdue: Money
    over_90: Money
    unconverted: dict[str, Money] = Field(description="amounts of currencies without a rate, not in total")


class PortfolioPage(Page):
    as_of: Day
    currency: str = Field(description="the base currency of every amount but `unconverted`")
    items: list[PortfolioItem]
    totals: PortfolioSums = Field(description="of every row of the filter (tab=top: of its rows)")


def _amounts(buckets: dict[str, Any], unconverted: dict[str, Any], sums: Any) -> dict[str, Any]:
    return {
        "buckets": {b: money_text(buckets[b]) for b in BUCKETS},
        "total": money_text(sums.total),
        "overdue": money_text(sums.overdue),
        "over_90": money_text(sums.over_90),
        "unconverted": {currency: money_text(amount) for currency, amount in sorted(unconverted.items())},
    }


def _item(row: PortfolioRow) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "external_id": row.external_id,
        "name": row.name,
        "grade": row.grade,
        "region": row.region,
        "industry": row.industry,
        "sales_owner": row.sales_owner,
        "currency": row.currency,
        "key_customer": row.key_customer,
        "account_owner": row.account_owner,
        "rate_missing": row.rate_missing,
        **_amounts(row.buckets, row.unconverted, row),
    }


def _totals(totals: PortfolioTotals) -> dict[str, Any]:
    return _amounts(totals.buckets, totals.unconverted, totals)


@bp.get("/portfolio")
@api.validate(resp=responses(200, PortfolioPage, 400, 403))
def get_portfolio(query: PortfolioQuery) -> Response:
    """The aging per customer in the base currency, filtered, sorted and paged as on /portfolio; a
    parameter given twice is a 400. Rows whose invoice currency has no rate say so (rate_missing,
    unconverted) and stay out of the base-currency figures."""
    actor = current_actor()
    require_groups(actor, PORTFOLIO_READERS, _("read the portfolio"))
    flt, _tab = portfolio_filter(query_args())
    svc = services()
    per_page = min(query.per_page, MAX_PER_PAGE)
    with svc.rt.factory() as session:
        found = load_portfolio(
            session,
            flt,
            as_of=svc.clock().date(),
            base=svc.rt.settings.credit.base_currency,
            page=query.page,
            per_page=per_page,
        )
    return jsonify(
        {
            "as_of": found.as_of.isoformat(),
            "currency": found.base,
            "items": [_item(row) for row in found.rows],
            "total": found.total_rows,
            "page": found.page,
            "per_page": found.per_page,
            "totals": _totals(found.totals),
        }
    )
