"""REST API for suppliers and their contracts (part of the public contract, DESIGN.md)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from webui import services
from webui.api import _int_arg, _paged, current_actor, json_body, require_groups
from workflows.credit.contract_views import contract_json
from workflows.credit.contracts import create_contract, get_contract, list_contracts, parse_contract
from workflows.credit.suppliers import (
    GRADES,
    SUPPLIER_CREATORS,
    SUPPLIER_READERS,
    create_supplier,
    get_supplier,
    list_suppliers,
    parse_supplier,
    supplier_json,
)
from workflows.errors import BadRequest
from workflows.store.db import transaction

bp = Blueprint("api_suppliers", __name__, url_prefix="/api")


@bp.get("/suppliers")
def get_suppliers() -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read suppliers")
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    grade = request.args.get("grade") or None
    if grade is not None and grade not in GRADES:
        raise BadRequest(f"query parameter grade must be one of {', '.join(GRADES)}, not {grade!r}")
    with services().rt.factory() as session:
        rows, total = list_suppliers(
            session, text=request.args.get("q") or None, grade=grade, page=page, per_page=per_page
        )
        return _paged([supplier_json(session, s, full=False) for s in rows], total, page, per_page)


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


@bp.get("/contracts")
def get_contracts() -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read contracts")
    page, per_page = _int_arg("page", 1), _int_arg("per_page", 50)
    supplier_id = _int_arg("supplier_id", 0) or None
    with services().rt.factory() as session:
        rows, total = list_contracts(
            session,
            supplier_id=supplier_id,
            text=request.args.get("q") or None,
            currency=request.args.get("currency") or None,
            page=page,
            per_page=per_page,
        )
        return _paged([contract_json(session, c, full=False) for c in rows], total, page, per_page)


@bp.post("/contracts")
def post_contract() -> tuple[Response, int]:
    actor = current_actor()
    require_groups(actor, SUPPLIER_CREATORS, "create contracts")
    svc = services()
    now = svc.clock()
    fields = parse_contract(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        contract = create_contract(session, fields, actor=actor.username, now=now)
        return jsonify(contract_json(session, contract)), 201


@bp.get("/contracts/<int:contract_id>")
def get_contract_file(contract_id: int) -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read contracts")
    with services().rt.factory() as session:
        return jsonify(contract_json(session, get_contract(session, contract_id)))
