"""GET /api/dunning-cases: dunning cases with their levels, fees and history."""

from __future__ import annotations

from flask import Response
from pydantic import Field

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Day, Id, JsonObject, Model, Money, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit.dunning import cases_json, list_cases
from workflows.credit.roles import CUSTOMER_READERS
from workflows.messages import _


class DunningCaseQuery(PageQuery):
    customer_id: Id | None = None
    status: str | None = None


class DunningEvent(Model):
    at: Timestamp
    kind: str
    level: int
    detail: JsonObject
    actor: str


class DunningPromise(Model):
    id: Id
    promised_date: Day | None = Field(description="null only for a stored day no one can read (a hand edit)")
    amount: Money
    overdue: Money = Field(description="the overdue amount when the promise was made")
    status: str = Field(description="pending_approval, open, kept, partly_kept, broken, refused or replaced")
    outside: list[str] = Field(description="the limits of dunning_policy.dmn it broke (empty: within them)")
    recorded_by: str
    recorded_at: Timestamp
    decided_by: str | None = Field(description="the credit manager who approved or refused it")
    received: Money | None = Field(description="paid by the promised date plus grace, once judged")
    judged_at: Timestamp | None


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
    grade: str | None = Field(description='the grade whose ladder the case follows now ("" ungraded)')
    promises: list[DunningPromise]
    promise_kept_rate: str | None = Field(
        description='promises kept in full by their date over promises judged, e.g. "0.50"; null: none judged'
    )
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
    require_groups(actor, CUSTOMER_READERS, _("read dunning cases"))
    with services().rt.factory() as session:
        rows, total = list_cases(
            session,
            customer_id=query.customer_id,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
        )
        return paged(cases_json(session, rows), total, query.page, query.per_page)
