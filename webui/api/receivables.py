"""/api/invoices, /api/payments, /api/aging: receivables from the ERP and their aging."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify
from pydantic import Field, create_model

from webui.api import bp, current_actor, json_body, paged, require_groups
from webui.api.openapi import Body, Day, Id, Model, Money, MoneyInput, Page, PageQuery, Query, api, responses
from webui.services import services
from workflows.credit.invoice_views import aging_json, list_invoices
from workflows.credit.provisions import BUCKETS
from workflows.credit.receivables import (
    invoice_json,
    parse_invoice,
    parse_payment,
    payment_json,
    post_invoice,
    post_payment,
)
from workflows.credit.roles import CUSTOMER_READERS, RECEIVABLE_WRITERS
from workflows.credit.watchlist import flag_customer
from workflows.engine import runner
from workflows.messages import _
from workflows.store.db import transaction

logger = logging.getLogger(__name__)
BUCKET_NAMES = ", ".join(BUCKETS)


class NewInvoice(Body):
    customer_id: Id = Field(examples=[1])
    number: str = Field(max_length=80, examples=["INV-2026-0001"])
    amount: MoneyInput
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["EUR"])
    issue_date: Day = Field(examples=["2026-03-01"])
    due_date: Day = Field(examples=["2026-03-31"])


class Invoice(Model):
    id: Id
    customer_id: int
    number: str
    amount: Money
    open_amount: Money
    currency: str
    issue_date: Day | None = Field(description="null only for a stored day no one can read (a hand edit)")
    due_date: Day | None = Field(description="null only for a stored day no one can read (a hand edit)")
    days_overdue: int | None = Field(ge=0, description="null when the due day cannot be read")
    status: str = Field(examples=["open", "paid", "written_off"])
    disputed: bool = Field(description="an open dispute holds part of it out of dunning")
    disputed_amount: Money = Field(description="the part open disputes hold out of dunning")


class InvoiceQuery(PageQuery):
    customer_id: Id | None = None
    status: str | None = None
    overdue: bool | None = Field(None, description="only invoices past their due date")


class InvoicePage(Page):
    items: list[Invoice]


class NewPayment(Body):
    customer_id: Id = Field(examples=[1])
    amount: MoneyInput
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["EUR"])
    date: Day = Field(examples=["2026-03-15"])
    invoice_number: str | None = Field(
        None, max_length=80, description="allocate to this invoice first", examples=["INV-2026-0001"]
    )
    reference: str | None = Field(None, max_length=80, examples=["bank statement 4711"])


class Payment(Model):
    id: Id
    customer_id: int
    amount: Money
    currency: str
    date: Day
    reference: str | None
    unallocated: Money
    delivered_to: list[int] = Field(
        description="the dunning instances told of the payment (payment_received)"
    )


class AsOfQuery(Query):
    as_of: Day | None = Field(None, description="the day to report on (default: today)")


class AgingQuery(AsOfQuery):
    customer_id: Id | None = None


# One money field per aging bucket, in the order of workflows/credit/provisions.BUCKETS.
_BUCKET_FIELDS: dict[str, Any] = {b: (Money, ...) for b in BUCKETS}
Buckets: type[Model] = create_model("Buckets", __base__=Model, **_BUCKET_FIELDS)
AgingLine: type[Model] = create_model(
    "AgingLine", __base__=Buckets, customer_id=(int, ...), currency=(str, ...)
)


class Aging(Model):
    as_of: Day
    buckets: list[str] = Field(description=f"the buckets, in order: {BUCKET_NAMES}")
    base_currency: str = Field(examples=["EUR"])
    total: Buckets | None = Field(  # type: ignore[valid-type]
        description="every currency summed in the base currency at the rate stored for as_of; null when a "
        "currency has no rate (see missing_rates)"
    )
    missing_rates: list[str] = Field(description="currencies without a rate on or before as_of")
    fx_rates: dict[str, str] = Field(description="the rate used per currency (base units per unit)")
    by_currency: dict[str, Buckets] = Field(description="the sums per currency, each in its own")  # type: ignore[valid-type]
    customers: list[AgingLine] = Field(description="each customer's line in its own currency")  # type: ignore[valid-type]


@bp.post("/invoices")
@api.validate(json=NewInvoice, resp=responses(201, Invoice, 403, 404, 409, 413, 422))
def post_invoice_view() -> tuple[Response, int]:
    """Record an invoice from the ERP."""
    actor = current_actor()
    require_groups(actor, RECEIVABLE_WRITERS, _("post invoices"))
    svc = services()
    now = svc.clock()
    data = parse_invoice(json_body())
    with transaction(svc.rt.factory) as session:
        invoice = post_invoice(session, data, actor=actor.username, now=now)
        # Utilisation may reach the early-warning threshold: the watchlist hears it now, not tomorrow.
        flag_customer(
            session, data.customer_id, now, base=svc.rt.settings.credit.base_currency, actor=actor.username
        )
        return jsonify(invoice_json(invoice, now.date())), 201


@bp.get("/invoices")
@api.validate(resp=responses(200, InvoicePage, 403))
def get_invoices(query: InvoiceQuery) -> Response:
    """Invoices, filtered by customer, status and whether they are overdue."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read invoices"))
    svc = services()
    today = svc.clock().date()
    with svc.rt.factory() as session:
        rows, total = list_invoices(
            session,
            customer_id=query.customer_id,
            status=query.status,
            overdue_on=today if query.overdue else None,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([invoice_json(i, today) for i in rows], total, query.page, query.per_page)


@bp.post("/payments")
@api.validate(json=NewPayment, resp=responses(201, Payment, 403, 404, 409, 413, 422))
def post_payment_view() -> tuple[Response, int]:
    """Record a payment, then tell the customer's open dunning case (message payment_received)."""
    actor = current_actor()
    require_groups(actor, RECEIVABLE_WRITERS, _("post payments"))
    svc = services()
    now = svc.clock()
    data = parse_payment(json_body())
    with transaction(svc.rt.factory) as session:
        payment = post_payment(session, data, actor=actor.username, now=now)
        # A late payment of a grade A/B customer warns at once; a payment may lower utilisation and clear.
        flag_customer(
            session, data.customer_id, now, base=svc.rt.settings.credit.base_currency, actor=actor.username
        )
        body = payment_json(payment)
    # A separate step: the payment stands even if the case cannot move now; the case re-reads the
    # receivables at its next step in any case.
    try:
        body["delivered_to"] = runner.deliver_message(
            svc.rt,
            "payment_received",
            str(data.customer_id),
            {"payment_id": body["id"], "amount": data.amount, "reference": data.reference},
            actor=actor,
            now=now,
            # The payment itself was checked above (finance, collections); the case hears it from us.
            internal=True,
        )
    except Exception:
        # The payment is booked either way (a retried POST would book it twice); the dunning case
        # re-reads the receivables at its next step, so a failed notification is logged, not returned.
        logger.exception("payment %s: the payment_received message could not be delivered", body["id"])
        body["delivered_to"] = []
    svc.nudge()
    return jsonify(body), 201


@bp.get("/aging")
@api.validate(resp=responses(200, Aging, 403, 409))
def get_aging(query: AgingQuery) -> Response:
    """Open receivables per aging bucket at the end of as_of: per customer in its currency, in total in the
    base currency (409 when a rate makes the total exceed the largest amount, naming the currencies)."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read receivables"))
    svc = services()
    with svc.rt.factory() as session:
        as_of = query.as_of or svc.clock().date()
        return jsonify(aging_json(session, as_of, svc.rt.settings.credit.base_currency, query.customer_id))
