"""GET /api/watchlist: the early-warning watchlist (workflows/credit/watchlist.py), paged and filtered."""

from __future__ import annotations

from typing import Literal

from flask import Response
from pydantic import Field

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Day, Id, Model, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit.watchlist import READERS, EntryFilter, list_entries, sales_only
from workflows.credit.watchlist_rules import ACTIONS, SEVERITIES
from workflows.messages import _


class WatchlistQuery(PageQuery):
    status: Literal["open", "cleared", "all"] = Field("open", description="open (default), cleared or all")
    indicator: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["utilisation", "broken_promise"]
    )
    owner: str | None = Field(
        None, max_length=80, description="the owner: a sales owner's user name or credit_manager"
    )
    customer_id: Id | None = None


class FiredIndicator(Model):
    indicator: str = Field(examples=["utilisation", "over_limit", "dbt_rising", "broken_promise"])
    severity: str = Field(examples=list(SEVERITIES))
    action: str = Field(examples=list(ACTIONS))
    measure: str | None = Field(
        description="what the indicator measured (a percent, days or months), as the table read it"
    )


class WatchlistEntry(Model):
    id: Id
    customer_id: int
    customer_name: str | None
    owner: str = Field(description="the customer's sales owner, else the credit_manager group")
    indicators: list[FiredIndicator] = Field(description="the indicators that fired at the last evaluation")
    action: str = Field(examples=list(ACTIONS), description="the strongest action the indicators require")
    severity: str = Field(examples=list(SEVERITIES), description="the highest severity among them")
    rules: str = Field(description="the deployed table that fired them")
    status: Literal["open", "cleared"]
    opened_at: Timestamp
    evaluated_on: Day | None = Field(description="null only for a stored day no one can read (a hand edit)")
    cleared_at: Timestamp | None


class WatchlistPage(Page):
    items: list[WatchlistEntry]


@bp.get("/watchlist")
@api.validate(resp=responses(200, WatchlistPage, 403))
def get_watchlist(query: WatchlistQuery) -> Response:
    """Watchlist entries: open ones first, the strongest action and the newest first. Credit managers,
    analysts, the CFO and auditors read all of them; sales read their own customers' entries."""
    actor = current_actor()
    require_groups(actor, READERS, _("read the watchlist"))
    flt = EntryFilter(
        status=query.status,
        indicator=query.indicator,
        owner=query.owner,
        customer_id=query.customer_id,
        sales_owner=actor.username if sales_only(actor) else None,
    )
    with services().rt.factory() as session:
        rows, total = list_entries(session, flt, page=query.page, per_page=query.per_page)
    return paged(rows, total, query.page, query.per_page)
