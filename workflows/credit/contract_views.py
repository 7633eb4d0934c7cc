"""Contracts as the REST API shows them: terms, versions with their change requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.models import Contract, ContractChangeRequest, ContractVersion, Supplier
from workflows.credit.record_fields import iso_text, money_text


def contract_json(session: Session, contract: Contract, *, full: bool = True) -> dict[str, Any]:
    """A contract as the REST API shows it; `full` adds its versions and change requests."""
    supplier = session.get(Supplier, contract.supplier_id)
    assert supplier is not None
    body: dict[str, Any] = {
        "id": contract.id,
        "number": contract.number,
        "supplier": {"id": supplier.id, "name": supplier.name, "grade": supplier.grade},
        **terms_json(contract),
        "version": contract.version,
        "created_by": contract.created_by,
        "created_at": contract.created_at.isoformat(),
        "updated_at": contract.updated_at.isoformat(),
    }
    if not full:
        return body
    requests = {
        r.id: r
        for r in session.scalars(
            select(ContractChangeRequest)
            .where(ContractChangeRequest.contract_id == contract.id)
            .order_by(ContractChangeRequest.id)
        )
    }
    body["versions"] = [
        {
            "version": v.version,
            **terms_json(v),
            "change_request": change_json(requests[v.change_request_id]) if v.change_request_id else None,
            "instance_id": v.instance_id,
            "approvers": v.approvers,
            "countersigned_by": v.countersigned_by,
            "countersigned_at": iso_text(v.countersigned_at),
            "created_by": v.created_by,
            "created_at": v.created_at.isoformat(),
        }
        for v in session.scalars(
            select(ContractVersion)
            .where(ContractVersion.contract_id == contract.id)
            .order_by(ContractVersion.version)
        )
    ]
    body["change_requests"] = [change_json(r) for r in requests.values()]
    return body


def terms_json(row: Contract | ContractVersion) -> dict[str, Any]:
    return {
        "value": money_text(row.value),
        "currency": row.currency,
        "payment_terms_days": row.payment_terms_days,
        "start_date": row.start_date.isoformat(),
        "end_date": iso_text(row.end_date),
        "terms": row.terms,
    }


def change_json(request: ContractChangeRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "instance_id": request.instance_id,
        "change_type": request.change_type,
        "changes": request.changes,
        "previous": request.previous,
        "value_impact": money_text(request.value_impact),
        "reason": request.reason,
        "status": request.status,
        "supplier_grade": request.supplier_grade,
        "safeguard": request.safeguard,
        "safeguard_details": request.safeguard_details,
        "guarantee_amount": money_text(request.guarantee_amount),
        "approvers": request.approvers,
        "decided_by": request.decided_by,
        "decision_comment": request.decision_comment,
        "countersign_by": iso_text(request.countersign_by),
        "requested_by": request.requested_by,
        "created_at": request.created_at.isoformat(),
        "closed_at": iso_text(request.closed_at),
    }
