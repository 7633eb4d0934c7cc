"""REST API of receivables and collections: invoices, payments, aging, provisions, dunning cases."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from webui import services
from webui.api import _int_arg, _paged, current_actor, json_body, require_groups
from workflows.credit.customers import CUSTOMER_READERS
from workflows.credit.dunning import cases_json, list_cases
from workflows.credit.models import Invoice
from workflows.credit.receivables import (
    BUCKETS,
    RECEIVABLE_WRITERS,
    aging,
    invoice_json,
    parse_invoice,
    parse_payment,
    payment_json,
    post_invoice,
    post_payment,
    provisions,
)
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.store.db import transaction
from workflows.store.paging import page_rows

bp = Blueprint("api_receivables", __name__, url_prefix="/api")
logger = logging.getLogger(__name__)


def _as_of(default: date) -> date:
    value = request.args.get("as_of", "")
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"as_of must be an ISO date (YYYY-MM-DD), not {value!r}") from exc


def _customer_arg() -> int | None:
    value = request.args.get("customer_id", "")
    return _int_arg("customer_id", 0) or None if value else None


@bp.post("/invoices")
def post_invoice_view() -> tuple[Response, int]:
    actor = current_actor()
    require_groups(actor, RECEIVABLE_WRITERS, "post invoices")
    svc = services()
    now = svc.clock()
    data = parse_invoice(json_body())
    with transaction(svc.rt.factory) as session:
        invoice = post_invoice(session, data, actor=actor.username, now=now)
        return jsonify(invoice_json(invoice, now.date())), 201


@bp.get("/invoices")
def get_invoices() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read invoices")
    svc = services()
    today = svc.clock().date()
    page, per_page = _int_arg("page", 1), min(_int_arg("per_page", 50), 200)
    query = select(Invoice)
    if (customer_id := _customer_arg()) is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if request.args.get("status"):
        query = query.where(Invoice.status == request.args["status"])
    if request.args.get("overdue") in ("1", "true"):
        query = query.where(Invoice.due_date < today, Invoice.status == "open")
    with svc.rt.factory() as session:
        rows, total = page_rows(session, query.order_by(Invoice.due_date, Invoice.id), page, per_page)
        return _paged([invoice_json(i, today) for i in rows], total, page, per_page)


@bp.post("/payments")
def post_payment_view() -> tuple[Response, int]:
    """Record a payment, then tell the customer's open dunning case (message payment_received)."""
    actor = current_actor()
    require_groups(actor, RECEIVABLE_WRITERS, "post payments")
    svc = services()
    now = svc.clock()
    data = parse_payment(json_body())
    with transaction(svc.rt.factory) as session:
        payment = post_payment(session, data, actor=actor.username, now=now)
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
        )
    except Exception:
        # The payment is booked either way (a retried POST would book it twice); the dunning case
        # re-reads the receivables at its next step, so a failed notification is logged, not returned.
        logger.exception("payment %s: the payment_received message could not be delivered", body["id"])
        body["delivered_to"] = []
    svc.nudge()
    return jsonify(body), 201


@bp.get("/aging")
def get_aging() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read receivables")
    svc = services()
    as_of = _as_of(svc.clock().date())
    with svc.rt.factory() as session:
        per_customer = aging(session, as_of, _customer_arg())
    totals = {b: sum((row[b] for row in per_customer.values()), Decimal("0.00")) for b in BUCKETS}
    return jsonify(
        {
            "as_of": as_of.isoformat(),
            "buckets": list(BUCKETS),
            "total": {b: f"{v:.2f}" for b, v in totals.items()},
            "customers": [
                {"customer_id": cid, **{b: f"{v:.2f}" for b, v in row.items()}}
                for cid, row in sorted(per_customer.items())
            ],
        }
    )


@bp.get("/provisions")
def get_provisions() -> Response:
    actor = current_actor()
    require_groups(actor, frozenset({"finance", "credit_manager", "cfo", "collections"}), "read provisions")
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(provisions(session, _as_of(svc.clock().date()), svc.rt.settings.provisions))


@bp.get("/dunning-cases")
def get_dunning_cases() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read dunning cases")
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    with services().rt.factory() as session:
        rows, total = list_cases(
            session,
            customer_id=_customer_arg(),
            status=request.args.get("status") or None,
            page=page,
            per_page=per_page,
        )
        return _paged(cases_json(session, rows), total, page, per_page)
