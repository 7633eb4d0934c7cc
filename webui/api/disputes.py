"""GET /api/disputes (list, one, reason-code summary) and GET /api/credit-notes.

Disputes are raised by starting `dispute_resolution` (POST /api/process-instances) or by a `dispute` message
to the customer's dunning case; these routes only read.
"""

from __future__ import annotations

from datetime import date

from flask import Response, jsonify
from pydantic import ConfigDict, Field

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Day, Id, Model, Money, Page, PageQuery, Query, Timestamp, api, responses
from webui.services import services
from workflows.credit.dispute_views import (
    credit_note_json,
    disputes_json,
    get_dispute,
    list_credit_notes,
    list_disputes,
    reason_summary,
)
from workflows.credit.roles import DISPUTE_OWNER_GROUPS, DISPUTE_READERS
from workflows.messages import _


class DisputeQuery(PageQuery):
    customer_id: Id | None = None
    status: str | None = Field(None, max_length=20, examples=["open", "proposed", "credited", "rejected"])


class DisputedInvoice(Model):
    number: str
    amount: Money
    reason: str = Field(examples=["price", "quantity", "quality", "delivery", "duplicate", "other"])
    credited: Money


class CreditNote(Model):
    id: Id
    customer_id: int
    invoice_number: str
    amount: Money
    currency: str
    to_balance: Money = Field(
        description="the part the invoice no longer owed, kept as the customer's credit"
    )
    dispute_id: int
    instance_id: int | None
    approved_by: list[str]
    requested_by: str
    posted_at: Timestamp


class Dispute(Model):
    id: Id
    customer_id: int
    customer_name: str | None
    instance_id: int | None
    case_id: int | None = Field(description="the dunning case it was raised in, if any")
    status: str = Field(examples=["open", "proposed", "rejected", "resolved", "credited", "refused"])
    owner_group: str = Field(examples=list(DISPUTE_OWNER_GROUPS))
    description: str
    currency: str
    disputed_amount: Money
    invoices: list[DisputedInvoice]
    proposal: str | None = Field(examples=["accept", "reject"])
    proposed_credit: Money | None
    proposed_by: str | None
    proposed_at: Timestamp | None
    decided_by: str | None
    credited_amount: Money
    credit_notes: list[CreditNote]
    raised_by: str
    opened_at: Timestamp
    closed_at: Timestamp | None


class DisputePage(Page):
    items: list[Dispute]


class CreditNoteQuery(PageQuery):
    customer_id: Id | None = None


class CreditNotePage(Page):
    items: list[CreditNote]


class SummaryQuery(Query):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    date_from: Day | None = Field(None, alias="from", description="first day; default: a year before `to`")
    date_to: Day | None = Field(None, alias="to", description="last day; default: today")


class Unconverted(Model):
    amount: Money
    currency: str


class SummaryRow(Model):
    """One month and reason code: how many disputed invoice lines opened, and their `amount` in the base
    currency."""

    month: str = Field(examples=["2026-03"])
    reason: str = Field(examples=["price"])
    count: int = Field(ge=0, description="disputed invoice lines with this reason opened in the month")
    amount: Money
    without_rate: list[Unconverted] = Field(description="lines not in `amount`: no exchange rate on the day")


class DisputeSummary(Model):
    date_from: Day = Field(alias="from")
    date_to: Day = Field(alias="to")
    currency: str = Field(description="the base currency")
    items: list[SummaryRow]
    total_count: int
    total_amount: Money = Field(description="the converted lines only: see without_rate")
    without_rate: list[Unconverted] = Field(
        description="by currency, the lines counted in total_count but not in total_amount (no exchange rate)"
    )


@bp.get("/disputes")
@api.validate(resp=responses(200, DisputePage, 403, 422))
def get_disputes(query: DisputeQuery) -> Response:
    """Disputes, newest first, filtered by customer and status, each with its invoices and credit notes."""
    actor = current_actor()
    require_groups(actor, DISPUTE_READERS, _("read disputes"))
    with services().rt.factory() as session:
        rows, total = list_disputes(
            session,
            customer_id=query.customer_id,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
        )
        return paged(disputes_json(session, rows), total, query.page, query.per_page)


@bp.get("/disputes/<int:dispute_id>")
@api.validate(resp=responses(200, Dispute, 403, 404))
def get_one_dispute(dispute_id: int) -> Response:
    """One dispute: its invoices, amounts and reasons, the proposal, the approver and the credit notes."""
    actor = current_actor()
    require_groups(actor, DISPUTE_READERS, _("read disputes"))
    with services().rt.factory() as session:
        [body] = disputes_json(session, [get_dispute(session, dispute_id)])
        return jsonify(body)


@bp.get("/disputes/summary")
@api.validate(resp=responses(200, DisputeSummary, 403, 422))
def get_dispute_summary(query: SummaryQuery) -> Response:
    """Reason codes reported: count and disputed amount (base currency) by month and reason."""
    actor = current_actor()
    require_groups(actor, DISPUTE_READERS, _("read disputes"))
    svc = services()
    end = query.date_to or svc.clock().date()
    # A year before `to` (from its month's first day); `to` in year 1 has no year before it (a 500 before).
    start = query.date_from or (date(end.year - 1, end.month, 1) if end.year > 1 else date.min)
    with svc.rt.factory() as session:
        return jsonify(reason_summary(session, start, end, svc.rt.settings.credit.base_currency))


@bp.get("/credit-notes")
@api.validate(resp=responses(200, CreditNotePage, 403))
def get_credit_notes(query: CreditNoteQuery) -> Response:
    """Posted credit notes, newest first: invoice, amount, the dispute they settle and who approved them."""
    actor = current_actor()
    require_groups(actor, DISPUTE_READERS, _("read credit notes"))
    with services().rt.factory() as session:
        rows, total = list_credit_notes(
            session, customer_id=query.customer_id, page=query.page, per_page=query.per_page
        )
        return paged([credit_note_json(n) for n in rows], total, query.page, query.per_page)
