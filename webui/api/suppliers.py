"""/api/suppliers: the supplier list, creating a supplier, and a supplier's risk file."""

from __future__ import annotations

from typing import Literal

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
from workflows.credit.roles import SUPPLIER_CREATORS, SUPPLIER_READERS
from workflows.credit.suppliers import (
    GRADES,
    SUPPLIER_FIELDS,
    create_supplier,
    get_supplier,
    list_suppliers,
    parse_supplier,
    supplier_json,
)
from workflows.messages import _


class SupplierQuery(PageQuery):
    q: str | None = Field(None, description="part of the name, external id, registration number or contact")
    grade: Literal[GRADES] | None = None  # type: ignore[valid-type]


class SupplierSummary(Model):
    id: Id
    external_id: str | None
    name: str
    email: str
    contact_name: str | None = Field(description="the person the supplier's letters address")
    language: str = Field(description="the language of the supplier's letters: en or zh")
    registration_no: str | None
    founded_year: int | None
    annual_revenue: Money | None
    currency: str
    litigation_count: int | None
    penalties_count: int | None
    delivery_score: int | None
    external_rating: str | None
    score: int | None
    grade: str | None
    grade_valid_to: Day | None


class Evaluation(Model):
    score: int
    grade: str
    factors: JsonObject
    valid_to: Day
    instance_id: int | None
    evaluated_by: str
    at: Timestamp


class ContractRef(Model):
    id: Id
    number: str
    version: int


class Supplier(SupplierSummary):
    evaluations: list[Evaluation]
    contracts: list[ContractRef]


class SupplierPage(Page):
    items: list[SupplierSummary]


NewSupplier = fields_body("NewSupplier", SUPPLIER_FIELDS)


@bp.get("/suppliers")
@api.validate(resp=responses(200, SupplierPage, 403))
def get_suppliers(query: SupplierQuery) -> Response:
    """Suppliers by name, filtered by text and grade."""
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, _("read suppliers"))
    with services().rt.factory() as session:
        rows, total = list_suppliers(
            session, text=query.q, grade=query.grade, page=query.page, per_page=query.per_page
        )
        return paged([supplier_json(session, s, full=False) for s in rows], total, query.page, query.per_page)


@bp.post("/suppliers")
@api.validate(json=NewSupplier, resp=responses(201, Supplier, 403, 409, 413, 422))
def post_supplier() -> tuple[Response, int]:
    """Create a supplier; its risk grade comes from the contract change process's evaluation."""
    return create_from_body(
        SUPPLIER_CREATORS,
        _("create suppliers"),
        parse_supplier,
        create_supplier,
        lambda session, supplier, now: supplier_json(session, supplier),
    )


@bp.get("/suppliers/<int:supplier_id>")
@api.validate(resp=responses(200, Supplier, 403, 404))
def get_supplier_file(supplier_id: int) -> Response:
    """A supplier's risk file: evaluations and contracts."""
    actor = current_actor()
    require_groups(actor, SUPPLIER_READERS, _("read suppliers"))
    with services().rt.factory() as session:
        return jsonify(supplier_json(session, get_supplier(session, supplier_id)))
