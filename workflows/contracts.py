"""Supplier contracts: immutable versions and the change requests that make new ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from workflows.audit import record_event
from workflows.errors import Conflict, Invalid, NotFound
from workflows.fields import FieldSpec, convert_field, iso_text, money_text, parse_fields
from workflows.jsonable import to_jsonable
from workflows.listing import page_rows
from workflows.models import (
    Contract,
    ContractChangeRequest,
    ContractChangeStatus,
    ContractVersion,
    Supplier,
)

CHANGE_TYPES = ("price", "payment_terms", "quantity", "delivery_date", "liability", "termination", "clauses")
# Contract columns a change may set; every other key of `changes` is a term (a `null` term is removed).
CHANGEABLE_COLUMNS: dict[str, str] = {
    "value": "money",
    "payment_terms_days": "days",
    "start_date": "date",
    "end_date": "date",
}

CONTRACT_FIELDS: dict[str, FieldSpec] = {
    "supplier_id": FieldSpec("id", required=True),
    "number": FieldSpec("text", required=True),
    "value": FieldSpec("money", required=True),
    "currency": FieldSpec("currency", required=True),
    "payment_terms_days": FieldSpec("days", required=True),
    "start_date": FieldSpec("date", required=True),
    "end_date": FieldSpec("date"),
    "terms": FieldSpec("terms"),
}


@event.listens_for(ContractVersion, "before_update")
def _versions_are_immutable(mapper: Any, connection: Any, version: ContractVersion) -> None:
    raise RuntimeError(
        f"contract version {version.version} of contract {version.contract_id} is immutable; "
        "record a change request instead"
    )


def parse_contract(raw: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and convert contract fields; the end date may not precede the start date.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    fields = parse_fields("contract", CONTRACT_FIELDS, raw, today)
    if fields.get("end_date") and fields["end_date"] < fields["start_date"]:
        message = "The end date may not be before the start date."
        raise Invalid(
            f"The contract has errors: end_date: {message}", details={"fields": {"end_date": message}}
        )
    return fields


# --- contracts ------------------------------------------------------------------------------------------


def create_contract(session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime) -> Contract:
    """Add a contract and its version 1 (in the caller's transaction).

    Raises:
        Invalid: the supplier does not exist.  Conflict: the number is taken.
    """
    if session.get(Supplier, fields["supplier_id"]) is None:
        message = f"Supplier {fields['supplier_id']} does not exist."
        raise Invalid(
            f"The contract has errors: supplier_id: {message}", details={"fields": {"supplier_id": message}}
        )
    if session.scalar(select(Contract.id).where(Contract.number == fields["number"])):
        raise Conflict(f"a contract with number {fields['number']!r} exists already")
    contract = Contract(
        **{"terms": {}, **fields}, version=1, created_by=actor, created_at=now, updated_at=now
    )
    session.add(contract)
    session.flush()
    _add_version(session, contract, created_by=actor, now=now)
    record_event(
        session,
        actor=actor,
        action="contract_created",
        now=now,
        contract_id=contract.id,
        number=contract.number,
    )
    return contract


def get_contract(session: Session, contract_id: int, *, for_update: bool = False) -> Contract:
    """Raises: NotFound."""
    query = select(Contract).where(Contract.id == contract_id)
    contract = session.scalar(query.with_for_update() if for_update else query)
    if contract is None:
        raise NotFound(f"contract {contract_id} does not exist")
    return contract


def list_contracts(
    session: Session,
    *,
    supplier_id: int | None = None,
    text: str | None = None,
    currency: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Contract], int]:
    """One page of contracts by number, filtered by supplier, number/supplier-name text and currency."""
    query = select(Contract)
    if supplier_id is not None:
        query = query.where(Contract.supplier_id == supplier_id)
    if text:
        like = f"%{text.lower()}%"
        names = select(Supplier.id).where(func.lower(Supplier.name).like(like))
        query = query.where(or_(func.lower(Contract.number).like(like), Contract.supplier_id.in_(names)))
    if currency:
        query = query.where(Contract.currency == currency)
    return page_rows(session, query.order_by(Contract.number, Contract.id), page, per_page)


def contract_json(session: Session, contract: Contract, *, full: bool = True) -> dict[str, Any]:
    """A contract as the REST API shows it; `full` adds its versions and change requests."""
    supplier = session.get(Supplier, contract.supplier_id)
    assert supplier is not None
    body: dict[str, Any] = {
        "id": contract.id,
        "number": contract.number,
        "supplier": {"id": supplier.id, "name": supplier.name, "grade": supplier.grade},
        **_terms_json(contract),
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
            **_terms_json(v),
            "change_request": _change_json(requests[v.change_request_id]) if v.change_request_id else None,
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
    body["change_requests"] = [_change_json(r) for r in requests.values()]
    return body


def _terms_json(row: Contract | ContractVersion) -> dict[str, Any]:
    return {
        "value": money_text(row.value),
        "currency": row.currency,
        "payment_terms_days": row.payment_terms_days,
        "start_date": row.start_date.isoformat(),
        "end_date": iso_text(row.end_date),
        "terms": row.terms,
    }


def _change_json(request: ContractChangeRequest) -> dict[str, Any]:
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


def _add_version(
    session: Session,
    contract: Contract,
    *,
    created_by: str,
    now: datetime,
    request: ContractChangeRequest | None = None,
    countersigned_by: str | None = None,
) -> ContractVersion:
    version = ContractVersion(
        contract_id=contract.id,
        version=contract.version,
        value=contract.value,
        currency=contract.currency,
        payment_terms_days=contract.payment_terms_days,
        start_date=contract.start_date,
        end_date=contract.end_date,
        terms=dict(contract.terms),
        change_request_id=request.id if request else None,
        instance_id=request.instance_id if request else None,
        approvers=list(request.approvers) if request else [],
        countersigned_by=countersigned_by,
        countersigned_at=now if countersigned_by else None,
        created_by=created_by,
        created_at=now,
    )
    session.add(version)
    return version


# --- change requests ------------------------------------------------------------------------------------


def parse_changes(changes: Any, *, today: date) -> dict[str, Any]:
    """Check requested changes: contract columns get their field rules, other keys are terms.

    Returns the changes as JSON-safe values (decimals and dates as strings).

    Raises:
        Invalid: `details["fields"]` names each bad change.
    """
    if not isinstance(changes, Mapping) or not changes:
        message = (
            'Name at least one new value, e.g. {"payment_terms_days": 90} or {"price": "EUR 850 per tonne"}.'
        )
        raise Invalid(f"The change has errors: changes: {message}", details={"fields": {"changes": message}})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, value in changes.items():
        name = str(key).strip()
        if not name or len(name) > 60:
            errors[str(key)] = "A term name of 1 to 60 characters."
        elif name in CHANGEABLE_COLUMNS:
            try:
                out[name] = to_jsonable(convert_field(CHANGEABLE_COLUMNS[name], value, today))
            except ValueError as exc:
                errors[name] = str(exc)
        elif name in ("currency", "number", "supplier_id", "terms", "version"):
            errors[name] = "Cannot be changed by a change request."
        else:
            out[name] = to_jsonable(value)
    if errors:
        listing = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise Invalid(f"The change has errors: {listing}", details={"fields": errors})
    return out


def open_change_request(
    session: Session,
    contract: Contract,
    *,
    change_type: str,
    changes: Mapping[str, Any],
    value_impact: Decimal,
    reason: str,
    requested_by: str,
    now: datetime,
    instance_id: int | None = None,
) -> ContractChangeRequest:
    """Record a change request in review; a contract has at most one open request at a time.

    Raises:
        Invalid: an unknown change type or bad changes.  Conflict: another request is still open.
    """
    if change_type not in CHANGE_TYPES:
        message = f"Choose one of: {', '.join(CHANGE_TYPES)}."
        raise Invalid(
            f"The change has errors: change_type: {message}", details={"fields": {"change_type": message}}
        )
    parsed = parse_changes(changes, today=now.date())
    merged = _apply(contract, parsed)
    if merged["end_date"] and merged["end_date"] < merged["start_date"]:
        message = "The contract would end before it starts."
        raise Invalid(
            f"The change has errors: end_date: {message}", details={"fields": {"end_date": message}}
        )
    pending = session.scalar(
        select(ContractChangeRequest).where(
            ContractChangeRequest.contract_id == contract.id,
            ContractChangeRequest.status.in_(ContractChangeStatus.OPEN),
        )
    )
    if pending is not None:
        raise Conflict(
            f"contract {contract.number} already has change request {pending.id} ({pending.status}) "
            f"in process instance {pending.instance_id}; wait for it to finish"
        )
    current = current_terms(contract)
    request = ContractChangeRequest(
        contract_id=contract.id,
        instance_id=instance_id,
        change_type=change_type,
        changes=parsed,
        previous={key: current.get(key) for key in parsed},
        value_impact=value_impact,
        reason=reason,
        status=ContractChangeStatus.IN_REVIEW,
        approvers=[],
        requested_by=requested_by,
        created_at=now,
    )
    session.add(request)
    session.flush()
    _audit(session, request, "contract_change_requested", requested_by, now, change_type=change_type)
    return request


def get_change_request(session: Session, request_id: int) -> ContractChangeRequest:
    """Raises: NotFound."""
    request = session.get(ContractChangeRequest, request_id)
    if request is None:
        raise NotFound(f"contract change request {request_id} does not exist")
    return request


def record_safeguard(
    session: Session,
    request: ContractChangeRequest,
    *,
    safeguard: str,
    details: str,
    guarantee_amount: Decimal | None,
    actor: str,
    now: datetime,
) -> None:
    """Attach the guarantee or justification procurement gave for a risky supplier."""
    _require_status(request, ContractChangeStatus.IN_REVIEW)
    request.safeguard, request.safeguard_details, request.guarantee_amount = (
        safeguard,
        details,
        guarantee_amount,
    )
    _audit(session, request, "contract_change_safeguard_recorded", actor, now, safeguard=safeguard)


def approve_change_request(
    session: Session,
    request: ContractChangeRequest,
    *,
    approvers: list[dict[str, Any]],
    countersign_by: date,
    now: datetime,
) -> None:
    """Mark the request approved, waiting for the supplier's countersignature; the contract is unchanged."""
    _require_status(request, ContractChangeStatus.IN_REVIEW)
    request.status = ContractChangeStatus.AWAITING_COUNTERSIGNATURE
    request.approvers = approvers
    request.countersign_by = countersign_by
    request.decided_by = approvers[-1]["user"] if approvers else None
    actor = request.decided_by or "system"
    _audit(session, request, "contract_change_approved", actor, now, approvers=[a["user"] for a in approvers])


def close_change_request(
    session: Session,
    request: ContractChangeRequest,
    *,
    status: str,
    actor: str,
    now: datetime,
    comment: str = "",
    approvers: list[dict[str, Any]] | None = None,
) -> None:
    """End a request without a new version: rejected (by `actor`) or expired; the contract stays as it is."""
    if status not in (ContractChangeStatus.REJECTED, ContractChangeStatus.EXPIRED):
        raise ValueError(f"a change request closes as rejected or expired, not {status!r}")
    _require_status(request, *ContractChangeStatus.OPEN)
    request.status, request.closed_at = status, now
    request.decision_comment = comment
    if approvers is not None:
        request.approvers = approvers
    if status == ContractChangeStatus.REJECTED:
        request.decided_by = actor
    _audit(session, request, f"contract_change_{status}", actor, now, comment=comment)


def apply_change_request(
    session: Session, request: ContractChangeRequest, *, signed_by: str, now: datetime
) -> ContractVersion:
    """Apply a countersigned change: the contract's terms change and a new immutable version records it."""
    _require_status(request, ContractChangeStatus.AWAITING_COUNTERSIGNATURE)
    contract = get_contract(session, request.contract_id, for_update=True)
    merged = _apply(contract, request.changes)
    contract.value, contract.payment_terms_days = merged["value"], merged["payment_terms_days"]
    contract.start_date, contract.end_date, contract.terms = (
        merged["start_date"],
        merged["end_date"],
        merged["terms"],
    )
    contract.version += 1
    contract.updated_at = now
    request.status, request.closed_at = ContractChangeStatus.COMPLETED, now
    version = _add_version(
        session, contract, created_by="system", now=now, request=request, countersigned_by=signed_by
    )
    session.flush()
    _audit(
        session,
        request,
        "contract_version_created",
        "system",
        now,
        version=contract.version,
        countersigned_by=signed_by,
    )
    return version


def _apply(contract: Contract, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's values with JSON-safe `changes` applied (nothing is written)."""
    terms = dict(contract.terms)
    values: dict[str, Any] = {
        "value": contract.value,
        "payment_terms_days": contract.payment_terms_days,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
    }
    for key, value in changes.items():
        if key in CHANGEABLE_COLUMNS:
            kind = CHANGEABLE_COLUMNS[key]
            values[key] = (
                Decimal(value) if kind == "money" else date.fromisoformat(value) if kind == "date" else value
            )
        elif value is None:
            terms.pop(key, None)
        else:
            terms[key] = value
    return {**values, "terms": terms}


def current_terms(contract: Contract) -> dict[str, Any]:
    """The contract's current values and terms, JSON-safe, as a change request shows them."""
    return {
        "value": money_text(contract.value),
        "payment_terms_days": contract.payment_terms_days,
        "start_date": contract.start_date.isoformat(),
        "end_date": iso_text(contract.end_date),
        **contract.terms,
    }


def _require_status(request: ContractChangeRequest, *allowed: str) -> None:
    if request.status not in allowed:
        raise Conflict(
            f"contract change request {request.id} is {request.status}, not {' or '.join(allowed)}"
        )


def _audit(
    session: Session, request: ContractChangeRequest, action: str, actor: str, now: datetime, **detail: Any
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        now=now,
        instance_id=request.instance_id,
        contract_id=request.contract_id,
        change_request_id=request.id,
        **detail,
    )


# --- demo data ------------------------------------------------------------------------------------------


DEMO_CONTRACTS: list[dict[str, Any]] = [
    {
        "supplier": "S-2001",
        "number": "PC-2026-001",
        "value": Decimal("1200000.00"),
        "currency": "EUR",
        "payment_terms_days": 60,
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 12, 31),
        "terms": {
            "price": "EUR 820 per tonne",
            "quantity": "1,500 t per year",
            "delivery": "FCA Gdansk, monthly call-offs",
            "liability": "capped at the annual contract value",
            "termination": "6 months' notice to the end of a quarter",
        },
    },
    {
        "supplier": "S-2002",
        "number": "PC-2026-002",
        "value": Decimal("3500000.00"),
        "currency": "CNY",
        "payment_terms_days": 45,
        "start_date": date(2026, 2, 1),
        "end_date": date(2027, 1, 31),
        "terms": {
            "price": "CNY 2.35 per carton",
            "quantity": "1.5 million cartons",
            "delivery": "FOB Nansha",
        },
    },
    {
        "supplier": "S-2004",
        "number": "PC-2026-003",
        "value": Decimal("250000.00"),
        "currency": "GBP",
        "payment_terms_days": 30,
        "start_date": date(2026, 3, 1),
        "end_date": None,
        "terms": {"price": "list price less 8 %", "delivery": "DAP Birmingham within 10 days"},
    },
]


def seed_demo_contracts(session: Session, now: datetime) -> None:
    """Create the demo contracts that do not exist yet (their suppliers must exist)."""
    ids = dict(session.execute(select(Supplier.external_id, Supplier.id)).all())
    numbers = set(session.scalars(select(Contract.number)))
    for spec in DEMO_CONTRACTS:
        if spec["number"] not in numbers:
            fields = {k: v for k, v in spec.items() if k != "supplier"}
            create_contract(
                session, {**fields, "supplier_id": ids[spec["supplier"]]}, actor="system", now=now
            )
