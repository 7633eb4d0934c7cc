"""GET /api/dunning-cases: dunning cases with their levels, fees and history."""

from __future__ import annotations

from flask import Response

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Day, Id, JsonObject, Model, Money, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit.dunning import cases_json, list_cases
from workflows.credit.roles import CUSTOMER_READERS


class DunningCaseQuery(PageQuery):
    customer_id: Id | None = None
    status: str | None = None


class DunningEvent(Model):
    at: Timestamp
    kind: str
    level: int
    detail: JsonObject
    actor: str


class DunningCase(Model):
    id: Id
    customer_id: int
    customer_name: str | None
    instance_id: int | None
    status: str
    level: int
    fees: Money
    currency: str
    promised_date: Day | None
    promised_amount: Money | None
    opened_at: Timestamp
    closed_at: Timestamp | None
    outcome: str | None
    history: list[DunningEvent]


class DunningCasePage(Page):
    items: list[DunningCase]


@bp.get("/dunning-cases")
@api.validate(resp=responses(200, DunningCasePage, 403))
def get_dunning_cases(query: DunningCaseQuery) -> Response:
    """Dunning cases, filtered by customer and status, each with its history."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read dunning cases")
    with services().rt.factory() as session:
        rows, total = list_cases(
            session,
            customer_id=query.customer_id,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
        )
        return paged(cases_json(session, rows), total, query.page, query.per_page)
