"""/api/contracts: supplier contracts: the list, creating one, and a contract with its versions."""

from __future__ import annotations

from flask import Response, jsonify, request

from webui.api import bp, current_actor, id_arg, json_body, paged, paging_args, require_groups
from webui.services import services
from workflows.credit.contract_views import contract_json
from workflows.credit.contracts import create_contract, get_contract, list_contracts, parse_contract
from workflows.credit.roles import SUPPLIER_CREATORS, SUPPLIER_READERS
from workflows.store.db import transaction


@bp.get("/contracts")
def get_contracts() -> Response:
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, "read contracts")
    page, per_page = paging_args()
    supplier_id = id_arg("supplier_id")
    with services().rt.factory() as session:
        rows, total = list_contracts(
            session,
            supplier_id=supplier_id,
            text=request.args.get("q") or None,
            currency=request.args.get("currency") or None,
            page=page,
            per_page=per_page,
        )
        return paged([contract_json(session, c, full=False) for c in rows], total, page, per_page)


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
