"""/api/customers: the customer list, creating a customer, a customer's credit file, external ratings."""

from __future__ import annotations

from flask import Response, jsonify, request

from webui.api import bool_arg, bp, current_actor, json_body, paged, paging_args, require_groups
from webui.services import services
from workflows.credit.customers import (
    create_customer,
    customer_json,
    get_customer,
    list_customers,
    parse_customer,
)
from workflows.credit.limit_review import record_rating
from workflows.credit.roles import CUSTOMER_CREATORS, CUSTOMER_READERS, RATING_RECORDERS
from workflows.store.db import transaction


@bp.get("/customers")
def get_customers() -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read customers")
    page, per_page = paging_args()
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_customers(
            session,
            text=request.args.get("q") or None,
            grade=request.args.get("grade") or None,
            blocked=bool_arg("blocked"),
            page=page,
            per_page=per_page,
        )
        today = svc.clock().date()
        return paged(
            [customer_json(session, c, today=today, full=False) for c in rows], total, page, per_page
        )


@bp.post("/customers")
def post_customer() -> tuple[Response, int]:
    actor = current_actor()
    require_groups(actor, CUSTOMER_CREATORS, "create customers")
    svc = services()
    now = svc.clock()
    fields = parse_customer(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        customer = create_customer(session, fields, actor=actor.username, now=now)
        return jsonify(customer_json(session, customer, today=now.date())), 201


@bp.get("/customers/<int:customer_id>")
def get_customer_file(customer_id: int) -> Response:
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, "read customers")
    svc = services()
    with svc.rt.factory() as session:
        return jsonify(customer_json(session, get_customer(session, customer_id), today=svc.clock().date()))


@bp.post("/customers/<int:customer_id>/rating")
def post_rating(customer_id: int) -> Response:
    """Record a new external rating; the next sweep starts a review with reason rating_change."""
    actor = current_actor()
    require_groups(actor, RATING_RECORDERS, "record external ratings")
    svc = services()
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = record_rating(session, customer_id, json_body(), actor=actor.username, now=now)
        return jsonify(customer_json(session, customer, today=now.date()))
