"""/api/contracts: supplier contracts: the list, creating one, and a contract with its versions."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, create_from_body, current_actor, paged, require_groups
from webui.api.openapi import (
    Day,
    Id,
    JsonObject,
    Model,
    Money,
    Page,
    PageQuery,
    Timestamp,
    api,
    fields_body,
    responses,
)
from webui.services import services
from workflows.credit.contract_views import contract_json
from workflows.credit.contracts import (
    CONTRACT_FIELDS,
    create_contract,
    get_contract,
    list_contracts,
    parse_contract,
)
from workflows.credit.roles import SUPPLIER_CREATORS, SUPPLIER_READERS
from workflows.messages import _


class ContractQuery(PageQuery):
    supplier_id: Id | None = None
    q: str | None = Field(None, description="part of the contract number")
    currency: str | None = None


class SupplierRef(Model):
    id: Id
    name: str
    grade: str | None


class ContractSummary(Model):
    id: Id
    number: str
    supplier: SupplierRef
    value: Money
    currency: str
    payment_terms_days: int
    start_date: Day
    end_date: Day | None
    terms: JsonObject
    version: int
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp


class ChangeRequest(Model):
    id: Id
    instance_id: int | None
    change_type: str
    changes: JsonObject
    previous: JsonObject
    value_impact: Money
    reason: str
    status: str
    supplier_grade: str | None
    safeguard: str | None
    safeguard_details: str
    guarantee_amount: Money | None
    approvers: list[object]
    decided_by: str | None
    decision_comment: str
    countersign_by: Day | None
    requested_by: str
    created_at: Timestamp
    closed_at: Timestamp | None


class ContractVersion(Model):
    version: int
    value: Money
    currency: str
    payment_terms_days: int
    start_date: Day
    end_date: Day | None
    terms: JsonObject
    change_request: ChangeRequest | None
    instance_id: int | None
    approvers: list[object]
    countersigned_by: str | None
    countersigned_at: Timestamp | None
    created_by: str
    created_at: Timestamp


class Contract(ContractSummary):
    versions: list[ContractVersion]
    change_requests: list[ChangeRequest]


class ContractPage(Page):
    items: list[ContractSummary]


NewContract = fields_body("NewContract", CONTRACT_FIELDS)


@bp.get("/contracts")
@api.validate(resp=responses(200, ContractPage, 403))
def get_contracts(query: ContractQuery) -> Response:
    """Contracts by number, filtered by supplier, text and currency."""
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, _("read contracts"))
    with services().rt.factory() as session:
        rows, total = list_contracts(
            session,
            supplier_id=query.supplier_id,
            text=query.q,
            currency=query.currency,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([contract_json(session, c, full=False) for c in rows], total, query.page, query.per_page)


@bp.post("/contracts")
@api.validate(json=NewContract, resp=responses(201, Contract, 403, 409, 413, 422))
def post_contract() -> tuple[Response, int]:
    """Create a contract and its version 1."""
    return create_from_body(
        SUPPLIER_CREATORS,
        _("create contracts"),
        parse_contract,
        create_contract,
        lambda session, contract, now: contract_json(session, contract),
    )


@bp.get("/contracts/<int:contract_id>")
@api.validate(resp=responses(200, Contract, 403, 404))
def get_contract_file(contract_id: int) -> Response:
    """A contract with its versions and change requests."""
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, _("read contracts"))
    with services().rt.factory() as session:
        return jsonify(contract_json(session, get_contract(session, contract_id)))
