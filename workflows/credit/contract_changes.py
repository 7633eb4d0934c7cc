"""Contract change requests: opened by the change process, approved, closed, and applied as a new version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.contracts import (
    CHANGE_TYPES,
    CHANGEABLE_COLUMNS,
    add_version,
    audit_contract,
    current_terms,
    get_contract,
)
from workflows.credit.models import Contract, ContractChangeRequest, ContractChangeStatus, ContractVersion
from workflows.credit.record_fields import convert_field, money_text
from workflows.errors import Conflict, Invalid, NotFound, field_listing, message_of
from workflows.messages import _
from workflows.money import money_words
from workflows.store.audit import as_recorded
from workflows.store.jsonable import to_jsonable


def parse_changes(changes: Any, *, today: date) -> dict[str, Any]:
    """Check requested changes: contract columns get their field rules, other keys are terms.

    Returns the changes as JSON-safe values (decimals and dates as strings).

    Raises:
        Invalid: `details["fields"]` names each bad change.
    """
    if not isinstance(changes, Mapping) or not changes:
        message = _(
            "Name at least one new value, e.g. %(examples)s.",
            examples='{"payment_terms_days": 90} or {"price": "EUR 850 per tonne"}',
        )
        raise _refused("changes", message)
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, value in changes.items():
        name = str(key).strip()
        if not name or len(name) > 60:
            errors[str(key)] = _("A term name of 1 to 60 characters.")
        elif name in CHANGEABLE_COLUMNS:
            try:
                out[name] = to_jsonable(convert_field(CHANGEABLE_COLUMNS[name], value, today))
            except ValueError as exc:
                errors[name] = message_of(exc)  # a Text stays one: said in the reader's language
        elif name in ("currency", "number", "supplier_id", "terms", "version"):
            errors[name] = _("Cannot be changed by a change request.")
        else:
            out[name] = to_jsonable(value)
    if errors:
        # The sentence names a contract column as the contract page labels it; details keep the ids.
        listing = field_listing({COLUMN_LABELS.get(name, name): message for name, message in errors.items()})
        raise Invalid(_("The change has errors: %(listing)s", listing=listing), details={"fields": errors})
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
        message = _("Choose one of: %(options)s.", options=", ".join(CHANGE_TYPES))
        raise _refused("change_type", message)
    parsed = parse_changes(changes, today=now.date())
    merged = _apply(contract, parsed)
    if merged["end_date"] and merged["end_date"] < merged["start_date"]:
        message = _("The contract would end before it starts.")
        raise _refused("end_date", message)
    _check_value_impact(Decimal(value_impact), merged["value"] - contract.value, contract.currency)
    pending = session.scalar(
        select(ContractChangeRequest).where(
            ContractChangeRequest.contract_id == contract.id,
            ContractChangeRequest.status.in_(ContractChangeStatus.OPEN),
        )
    )
    if pending is not None:
        raise Conflict(
            _(
                "contract %(contract_number)s already has change request %(pending_id)s "
                "(%(pending_status)s) in process instance %(instance_id)s; wait for it "
                "to finish",
                contract_number=contract.number,
                pending_id=pending.id,
                pending_status=pending.status,
                instance_id=pending.instance_id,
            )
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
    audit_contract(
        session,
        request,
        "contract_change_requested",
        requested_by,
        now,
        change_type=change_type,
        # What is asked, what it replaces, and the declared impact the approval level is read from.
        changes=as_recorded(parsed),
        previous=as_recorded(request.previous),
        value_impact=money_text(Decimal(value_impact)),
        currency=contract.currency,
        reason=reason,
    )
    return request


def get_change_request(session: Session, request_id: int) -> ContractChangeRequest:
    """Raises: NotFound."""
    request = session.get(ContractChangeRequest, request_id)
    if request is None:
        raise NotFound(_("contract change request %(request_id)s does not exist", request_id=request_id))
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
    before = _safeguard_of(request)
    request.safeguard, request.safeguard_details, request.guarantee_amount = (
        safeguard,
        details,
        guarantee_amount,
    )
    audit_contract(
        session,
        request,
        "contract_change_safeguard_recorded",
        actor,
        now,
        safeguard=safeguard,
        before=before,
        after=_safeguard_of(request),
    )


def _safeguard_of(request: ContractChangeRequest) -> dict[str, Any]:
    amount = str(request.guarantee_amount) if request.guarantee_amount is not None else None
    return {"safeguard": request.safeguard, "details": request.safeguard_details, "guarantee_amount": amount}


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
    before = {"status": request.status}
    request.status = ContractChangeStatus.AWAITING_COUNTERSIGNATURE
    request.approvers = approvers
    request.countersign_by = countersign_by
    request.decided_by = approvers[-1]["user"] if approvers else None
    actor = request.decided_by or "system"
    audit_contract(
        session,
        request,
        "contract_change_approved",
        actor,
        now,
        approvers=[a["user"] for a in approvers],
        before=before,
        after={"status": request.status, "countersign_by": countersign_by.isoformat()},
    )


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
    before = {"status": request.status}
    request.status, request.closed_at = status, now
    request.decision_comment = comment
    if approvers is not None:
        request.approvers = approvers
    if status == ContractChangeStatus.REJECTED:
        request.decided_by = actor
    audit_contract(
        session,
        request,
        f"contract_change_{status}",
        actor,
        now,
        comment=comment,
        before=before,
        after={"status": status},
    )


def apply_change_request(
    session: Session, request: ContractChangeRequest, *, signed_by: str, actor: str, now: datetime
) -> ContractVersion:
    """Apply a countersigned change: the contract's terms change and a new immutable version records it,
    created by `actor` (who reported the countersignature; the approvers are on the request)."""
    _require_status(request, ContractChangeStatus.AWAITING_COUNTERSIGNATURE)
    contract = get_contract(session, request.contract_id, for_update=True)
    before = {"version": contract.version, **current_terms(contract)}
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
    version = add_version(
        session, contract, created_by=actor, now=now, request=request, countersigned_by=signed_by
    )
    session.flush()
    audit_contract(
        session,
        request,
        "contract_version_created",
        actor,
        now,
        version=contract.version,
        countersigned_by=signed_by,
        approvers=[a.get("user") for a in request.approvers if isinstance(a, dict)],
        before=before,
        after={"version": contract.version, **current_terms(contract)},
    )
    return version


def _check_value_impact(declared: Decimal, value_change: Decimal, currency: str) -> None:
    """The authority matrix reads the declared impact: it must hold the change of the contract's value in the
    same direction (a 60 million raise declared as 1.00 went to the procurement manager alone, not the CFO).

    Raises:
        Invalid: the declared impact understates the value change.
    """
    if value_change == 0 or (declared >= value_change if value_change > 0 else declared <= value_change):
        return
    message = _(
        "The contract value changes by %(change)s; the value impact must be at least that change in the "
        "same direction, not %(declared)s.",
        change=money_words(value_change, currency),
        declared=money_words(declared, currency),
    )
    raise _refused("value_impact", message)


# The fields a refusal names, as the start form labels them: the sentence says the label in the reader's
# language, `details["fields"]` keeps the field's id for API clients.
FIELD_LABELS = {
    "changes": _("New values"),
    "change_type": _("What changes"),
    "end_date": _("End date"),
    "value_impact": _("Value impact"),
}


# The contract's own columns a change names, as the contract's page labels them (a term keeps the name the
# buyer typed): "付款期限（天）：最大为 365。", not "payment_terms_days：…".
COLUMN_LABELS = {
    "value": _("Contract value"),
    "currency": _("Currency"),
    "payment_terms_days": _("Payment terms (days)"),
    "start_date": _("Start date"),
    "end_date": _("End date"),
    "number": _("Contract number"),
    "supplier_id": _("Supplier"),
    "terms": _("Terms"),
    "version": _("Version"),
}


def _refused(field: str, message: str) -> Invalid:
    return Invalid(
        _("The change has errors: %(field)s: %(message)s", field=FIELD_LABELS[field], message=message),
        details={"fields": {field: message}},
    )


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


def _require_status(request: ContractChangeRequest, *allowed: str) -> None:
    if request.status not in allowed:
        raise Conflict(
            _(
                "contract change request %(id)s is %(status)s, not %(allowed)s",
                id=request.id,
                status=request.status,
                allowed=" or ".join(allowed),
            )
        )
