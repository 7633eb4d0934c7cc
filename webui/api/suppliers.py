"""/api/suppliers: the supplier list, creating a supplier, and a supplier's risk file."""

from __future__ import annotations

from flask import Response, jsonify, request

from webui.api import bp, current_actor, json_body, paged, paging_args, require_groups
from webui.services import services
from workflows.credit.roles import SUPPLIER_CREATORS, SUPPLIER_READERS
from workflows.credit.suppliers import (
    GRADES,
    create_supplier,
    get_supplier,
    list_suppliers,
    parse_supplier,
    supplier_json,
)
from workflows.errors import BadRequest
from workflows.store.db import transaction


@bp.get("/suppliers")
def get_suppliers() -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read suppliers")
    page, per_page = paging_args()
    grade = request.args.get("grade") or None
    if grade is not None and grade not in GRADES:
        raise BadRequest(f"query parameter grade must be one of {', '.join(GRADES)}, not {grade!r}")
    with services().rt.factory() as session:
        rows, total = list_suppliers(
            session, text=request.args.get("q") or None, grade=grade, page=page, per_page=per_page
        )
        return paged([supplier_json(session, s, full=False) for s in rows], total, page, per_page)


@bp.post("/suppliers")
def post_supplier() -> tuple[Response, int]:
    actor = current_actor()
    require_groups(actor, SUPPLIER_CREATORS, "create suppliers")
    svc = services()
    now = svc.clock()
    fields = parse_supplier(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        supplier = create_supplier(session, fields, actor=actor.username, now=now)
        return jsonify(supplier_json(session, supplier)), 201


@bp.get("/suppliers/<int:supplier_id>")
def get_supplier_file(supplier_id: int) -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read suppliers")
    with services().rt.factory() as session:
        return jsonify(supplier_json(session, get_supplier(session, supplier_id)))
