"""Read side of suppliers and contracts as pages show them: contract counts, a supplier's evaluations and
contracts, a contract's versions with the change requests that made them, and the task page's panel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit.contracts import current_terms, get_contract
from workflows.credit.models import (
    Contract,
    ContractChangeRequest,
    ContractVersion,
    Supplier,
    SupplierEvaluation,
)
from workflows.credit.suppliers import get_supplier


def supplier_names(session: Session, supplier_ids: Iterable[int]) -> dict[int, str]:
    """{supplier id: name} of the given suppliers, in one query."""
    ids = set(supplier_ids)
    return {
        sid: name
        for sid, name in session.execute(select(Supplier.id, Supplier.name).where(Supplier.id.in_(ids)))
    }


def contract_counts(session: Session, supplier_ids: Iterable[int]) -> dict[int, int]:
    """{supplier id: number of contracts} for the given suppliers (those without any are absent)."""
    rows = session.execute(
        select(Contract.supplier_id, func.count())
        .where(Contract.supplier_id.in_(list(supplier_ids)))
        .group_by(Contract.supplier_id)
    )
    return {sid: count for sid, count in rows}


@dataclass(frozen=True)
class SupplierFile:
    """What the supplier page shows."""

    supplier: Supplier
    evaluations: list[SupplierEvaluation]  # newest first
    contracts: list[Contract]  # by number


def supplier_file(session: Session, supplier_id: int) -> SupplierFile:
    """Raises: NotFound."""
    supplier = get_supplier(session, supplier_id)
    evaluations = session.scalars(
        select(SupplierEvaluation)
        .where(SupplierEvaluation.supplier_id == supplier_id)
        .order_by(SupplierEvaluation.id.desc())
    )
    contracts = session.scalars(
        select(Contract).where(Contract.supplier_id == supplier_id).order_by(Contract.number)
    )
    return SupplierFile(supplier, list(evaluations), list(contracts))


@dataclass(frozen=True)
class VersionView:
    """A contract version with the change request that made it (None for version 1)."""

    version: ContractVersion
    change: ContractChangeRequest | None


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
    """The contract's change requests, newest first."""
    return list(
        session.scalars(
            select(ContractChangeRequest)
            .where(ContractChangeRequest.contract_id == contract_id)
            .order_by(ContractChangeRequest.id.desc())
        )
    )


@dataclass(frozen=True)
class ContractFile:
    """What the contract page shows."""

    contract: Contract
    supplier: Supplier
    terms: dict[str, Any]  # the current terms
    versions: list[VersionView]  # newest first
    requests: list[ContractChangeRequest]  # newest first


def contract_file(session: Session, contract_id: int) -> ContractFile:
    """Raises: NotFound."""
    contract = get_contract(session, contract_id)
    return ContractFile(
        contract=contract,
        supplier=get_supplier(session, contract.supplier_id),
        terms=current_terms(contract),
        versions=contract_versions(session, contract_id),
        requests=change_requests(session, contract_id),
    )


@dataclass(frozen=True)
class SupplierPanel:
    """What a task page shows about the contract its case is about."""

    contract: Contract
    supplier: Supplier
    terms: dict[str, Any]
    versions: list[ContractVersion]  # newest first


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
