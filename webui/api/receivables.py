"""/api/invoices, /api/payments, /api/aging, /api/provisions: receivables from the ERP and their aging."""

from __future__ import annotations

import logging
from datetime import date

from flask import Response, jsonify, request

from webui.api import bp, current_actor, id_arg, json_body, paged, paging_args, require_groups
from webui.services import services
from workflows.credit.invoice_views import aging_json, list_invoices
from workflows.credit.provisions import provisions
from workflows.credit.receivables import (
    invoice_json,
    parse_invoice,
    parse_payment,
    payment_json,
    post_invoice,
    post_payment,
)
from workflows.credit.roles import CUSTOMER_READERS, PROVISION_READERS, RECEIVABLE_WRITERS
from workflows.engine import runner
from workflows.errors import BadRequest
from workflows.store.db import transaction

logger = logging.getLogger(__name__)


def _as_of(default: date) -> date:
    value = request.args.get("as_of", "")
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"as_of must be an ISO date (YYYY-MM-DD), not {value!r}") from exc


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
    page, per_page = paging_args(max_per_page=200)
    with svc.rt.factory() as session:
        rows, total = list_invoices(
            session,
            customer_id=id_arg("customer_id"),
            status=request.args.get("status") or None,
            overdue_on=today if request.args.get("overdue") in ("1", "true") else None,
            page=page,
            per_page=per_page,
        )
        return paged([invoice_json(i, today) for i in rows], total, page, per_page)


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
    customer_id = id_arg("customer_id")
    with svc.rt.factory() as session:
        return jsonify(aging_json(session, as_of, customer_id))


@bp.get("/provisions")
def get_provisions() -> Response:
    actor = current_actor()
    require_groups(actor, PROVISION_READERS, "read provisions")
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(provisions(session, _as_of(svc.clock().date()), svc.rt.settings.provisions))
