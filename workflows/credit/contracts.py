"""Supplier contracts: immutable versions and the change requests that make new ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from workflows.credit.models import Contract, ContractChangeRequest, ContractVersion, Supplier
from workflows.credit.record_fields import FieldSpec, iso_text, money_text, parse_fields
from workflows.errors import Conflict, Invalid, NotFound
from workflows.messages import _
from workflows.store.audit import as_recorded, record_event
from workflows.store.paging import page_rows

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
    "number": FieldSpec("text", required=True, max_length=80),
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
            _("The contract has errors: end_date: %(message)s", message=message),
            details={"fields": {"end_date": message}},
        )
    return fields


# --- contracts ------------------------------------------------------------------------------------------


def create_contract(session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime) -> Contract:
    """Add a contract and its version 1 (in the caller's transaction).

    Raises:
        Invalid: the supplier does not exist.  Conflict: the number is taken.
    """
    if session.get(Supplier, fields["supplier_id"]) is None:
        message = _("Supplier %(id)s does not exist.", id=fields["supplier_id"])
        raise Invalid(
            _("The contract has errors: supplier_id: %(message)s", message=message),
            details={"fields": {"supplier_id": message}},
        )
    if session.scalar(select(Contract.id).where(Contract.number == fields["number"])):
        raise Conflict(_("a contract with number '%(number)s' exists already", number=fields["number"]))
    contract = Contract(
        **{"terms": {}, **fields}, version=1, created_by=actor, created_at=now, updated_at=now
    )
    session.add(contract)
    session.flush()
    add_version(session, contract, created_by=actor, now=now)
    record_event(
        session,
        actor=actor,
        action="contract_created",
        now=now,
        contract_id=contract.id,
        number=contract.number,
        before=None,
        after=as_recorded({"terms": {}, **fields}),
    )
    return contract


def get_contract(session: Session, contract_id: int, *, for_update: bool = False) -> Contract:
    """Raises: NotFound."""
    query = select(Contract).where(Contract.id == contract_id)
    contract = session.scalar(query.with_for_update() if for_update else query)
    if contract is None:
        raise NotFound(_("contract %(contract_id)s does not exist", contract_id=contract_id))
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


def add_version(
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


def current_terms(contract: Contract) -> dict[str, Any]:
    """The contract's current values and terms, JSON-safe, as a change request shows them."""
    return {
        "value": money_text(contract.value),
        "payment_terms_days": contract.payment_terms_days,
        "start_date": contract.start_date.isoformat(),
        "end_date": iso_text(contract.end_date),
        **contract.terms,
    }


def audit_contract(
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
