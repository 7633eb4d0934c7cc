"""/suppliers and /contracts: searchable lists, a supplier's risk file and a contract's terms and versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webui import page_arg, services
from webui.auth import login_required_view, require_groups
from webui.start import may_start
from workflows.credit.contracts import current_terms, get_contract, list_contracts
from workflows.credit.models import (
    Contract,
    ContractChangeRequest,
    ContractVersion,
    Supplier,
    SupplierEvaluation,
)
from workflows.credit.suppliers import GRADES, SUPPLIER_READERS, get_supplier, list_suppliers
from workflows.definitions.deploy import latest_definition
from workflows.store.paging import Page
from workflows.users import Actor

bp = Blueprint("suppliers_pages", __name__)

# The process a contract page offers to start, with the contract prefilled.
CONTRACT_CHANGE = ("supplier_contract_change", "Contract change request")


@dataclass(frozen=True)
class VersionView:
    """A contract version with the change request that made it (None for version 1)."""

    version: ContractVersion
    change: ContractChangeRequest | None


@dataclass(frozen=True)
class SupplierPanel:
    """What a task page shows about the contract its case is about."""

    contract: Contract
    supplier: Supplier
    terms: dict[str, Any]
    versions: list[ContractVersion]  # newest first


def contract_versions(session: Session, contract_id: int) -> list[VersionView]:
    """Every version of the contract, newest first, each with its change request."""
    requests = {
        r.id: r
        for r in session.scalars(
            select(ContractChangeRequest).where(ContractChangeRequest.contract_id == contract_id)
        )
    }
    versions = session.scalars(
        select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version.desc())
    )
    return [
        VersionView(v, requests.get(v.change_request_id) if v.change_request_id else None) for v in versions
    ]


def change_requests(session: Session, contract_id: int) -> list[ContractChangeRequest]:
    return list(
        session.scalars(
            select(ContractChangeRequest)
            .where(ContractChangeRequest.contract_id == contract_id)
            .order_by(ContractChangeRequest.id.desc())
        )
    )


def supplier_panel(session: Session, contract_id: int) -> SupplierPanel | None:
    """The task page's supplier panel; None when the contract does not exist (any more)."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        return None
    supplier = session.get(Supplier, contract.supplier_id)
    assert supplier is not None  # a foreign key
    return SupplierPanel(
        contract=contract,
        supplier=supplier,
        terms=current_terms(contract),
        versions=[v.version for v in contract_versions(session, contract_id)],
    )


def contract_actions(session: Session, actor: Actor, contract_id: int) -> list[tuple[str, str]]:
    """(label, start URL with the contract prefilled) when the actor may request a contract change."""
    key, label = CONTRACT_CHANGE
    definition = latest_definition(session, key, required=False)
    if definition is None or not may_start(actor, definition):
        return []
    return [(label, url_for("start.start", key=key, contract_id=contract_id))]


@bp.get("/suppliers")
@login_required_view
def suppliers() -> str:
    svc = services()
    require_groups(SUPPLIER_READERS, "read suppliers")
    grade = request.args.get("grade", "")
    flt = {"q": (request.args.get("q") or "").strip(), "grade": grade if grade in GRADES else ""}
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_suppliers(
            session, text=flt["q"] or None, grade=flt["grade"] or None, page=page, per_page=per_page
        )
        counts = dict(
            session.execute(
                select(Contract.supplier_id, func.count())
                .where(Contract.supplier_id.in_([s.id for s in rows]))
                .group_by(Contract.supplier_id)
            ).all()
        )
        return render_template(
            "suppliers/list.html",
            found=Page(rows, total, page, per_page),
            counts=counts,
            flt=flt,
            grades=GRADES,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/suppliers/<int:supplier_id>")
@login_required_view
def supplier(supplier_id: int) -> str:
    require_groups(SUPPLIER_READERS, "read suppliers")
    with services().rt.factory() as session:
        found = get_supplier(session, supplier_id)
        evaluations = session.scalars(
            select(SupplierEvaluation)
            .where(SupplierEvaluation.supplier_id == supplier_id)
            .order_by(SupplierEvaluation.id.desc())
        ).all()
        contracts = session.scalars(
            select(Contract).where(Contract.supplier_id == supplier_id).order_by(Contract.number)
        ).all()
        return render_template("suppliers/show.html", s=found, evaluations=evaluations, contracts=contracts)


@bp.get("/contracts")
@login_required_view
def contracts() -> str:
    svc = services()
    require_groups(SUPPLIER_READERS, "read contracts")
    flt = {"q": (request.args.get("q") or "").strip()}
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_contracts(session, text=flt["q"] or None, page=page, per_page=per_page)
        names = dict(
            session.execute(
                select(Supplier.id, Supplier.name).where(Supplier.id.in_({c.supplier_id for c in rows}))
            ).all()
        )
        return render_template(
            "suppliers/contracts.html",
            found=Page(rows, total, page, per_page),
            names=names,
            flt=flt,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/contracts/<int:contract_id>")
@login_required_view
def contract(contract_id: int) -> str:
    actor = require_groups(SUPPLIER_READERS, "read contracts")
    with services().rt.factory() as session:
        found = get_contract(session, contract_id)
        return render_template(
            "suppliers/contract.html",
            c=found,
            supplier=get_supplier(session, found.supplier_id),
            terms=current_terms(found),
            versions=contract_versions(session, contract_id),
            requests=change_requests(session, contract_id),
            actions=contract_actions(session, actor, contract_id),
        )
