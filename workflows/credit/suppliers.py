"""Suppliers: credit risk evaluations, lists, CSV import and demo data (contracts: credit.contracts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.credit.contracts import seed_demo_contracts
from workflows.credit.csv_import import MasterData, import_master_data
from workflows.credit.models import Contract, Supplier, SupplierEvaluation
from workflows.credit.record_fields import FieldSpec, iso_text, money_text, parse_fields
from workflows.errors import Conflict, NotFound
from workflows.messages import _
from workflows.store.audit import as_recorded, record_event
from workflows.store.paging import page_rows
from workflows.store.text_search import contains

GRADES = ("A", "B", "C", "D", "E")
SUPPLIER_COLUMNS = (
    "external_id",
    "name",
    "email",
    "registration_no",
    "founded_year",
    "annual_revenue",
    "currency",
)
SUPPLIER_OPTIONAL = (
    "litigation_count",
    "penalties_count",
    "delivery_score",
    "external_rating",
    "contact_name",  # the person letters address
    "language",  # en or zh: the language of its letters (English when absent)
)
SUPPLIER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec("text", max_length=80),
    "name": FieldSpec("text", required=True),
    "email": FieldSpec("email", required=True),
    "contact_name": FieldSpec("text", max_length=120),
    "language": FieldSpec("language"),
    "registration_no": FieldSpec("text", max_length=80),
    "founded_year": FieldSpec("year"),
    "annual_revenue": FieldSpec("money"),
    "currency": FieldSpec("currency", required=True),
    "litigation_count": FieldSpec("count"),
    "penalties_count": FieldSpec("count"),
    "delivery_score": FieldSpec("percent"),
    "external_rating": FieldSpec("rating"),
}


# --- field parsing ------------------------------------------------------------------------------------


def parse_supplier(raw: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and convert supplier fields (from JSON or a CSV row); empty strings count as absent.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    return parse_fields(_("supplier"), SUPPLIER_FIELDS, raw, today)


# --- suppliers ------------------------------------------------------------------------------------------


def create_supplier(
    session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime, source: str | None = None
) -> Supplier:
    """Add a supplier (in the caller's transaction); `source` names the imported file it came from.

    Raises:
        Conflict: the external_id is taken.
    """
    external_id = fields.get("external_id")
    if external_id and session.scalar(select(Supplier.id).where(Supplier.external_id == external_id)):
        raise Conflict(
            _("a supplier with external_id '%(external_id)s' exists already", external_id=external_id)
        )
    supplier = Supplier(**fields, created_at=now, updated_at=now)
    session.add(supplier)
    session.flush()
    detail: dict[str, Any] = {
        "supplier_id": supplier.id,
        "name": supplier.name,
        "before": None,
        "after": as_recorded(fields),
    }
    if source:
        detail["source"] = source
    record_event(session, actor=actor, action="supplier_created", now=now, **detail)
    return supplier


def get_supplier(session: Session, supplier_id: int) -> Supplier:
    """Raises: NotFound."""
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound(_("supplier %(supplier_id)s does not exist", supplier_id=supplier_id))
    return supplier


def list_suppliers(
    session: Session, *, text: str | None = None, grade: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[Supplier], int]:
    """One page of suppliers by name, filtered by name/external id/registration text and grade."""
    query = select(Supplier)
    if text:
        query = query.where(
            or_(
                contains(Supplier.name, text),
                contains(Supplier.external_id, text),
                contains(Supplier.registration_no, text),
                contains(Supplier.contact_name, text),
            )
        )
    if grade:
        query = query.where(Supplier.grade == grade)
    return page_rows(session, query.order_by(Supplier.name, Supplier.id), page, per_page)


def record_evaluation(
    session: Session,
    supplier: Supplier,
    *,
    score: int,
    grade: str,
    factors: Mapping[str, int],
    valid_to: date,
    actor: str,
    now: datetime,
    instance_id: int | None = None,
) -> SupplierEvaluation:
    """Append a risk evaluation and make its score and grade the supplier's current ones."""
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {', '.join(GRADES)}, not {grade!r}")
    evaluation = SupplierEvaluation(
        supplier_id=supplier.id,
        score=score,
        grade=grade,
        factors=dict(factors),
        valid_to=valid_to,
        instance_id=instance_id,
        evaluated_by=actor,
        evaluated_at=now,
    )
    session.add(evaluation)
    before = _grading(supplier)
    supplier.score, supplier.grade, supplier.grade_valid_to = score, grade, valid_to
    supplier.updated_at = now
    session.flush()
    record_event(
        session,
        actor=actor,
        action="supplier_evaluated",
        now=now,
        instance_id=instance_id,
        supplier_id=supplier.id,
        score=score,
        grade=grade,
        before=before,
        after=_grading(supplier),
    )
    return evaluation


def _grading(supplier: Supplier) -> dict[str, Any]:
    valid_to = supplier.grade_valid_to.isoformat() if supplier.grade_valid_to else None
    return {"score": supplier.score, "grade": supplier.grade, "grade_valid_to": valid_to}


def supplier_json(session: Session, supplier: Supplier, *, full: bool = True) -> dict[str, Any]:
    """A supplier as the REST API shows it; `full` adds its evaluations and contracts."""
    body: dict[str, Any] = {
        "id": supplier.id,
        "external_id": supplier.external_id,
        "name": supplier.name,
        "email": supplier.email,
        "contact_name": supplier.contact_name,
        "language": supplier.language,
        "registration_no": supplier.registration_no,
        "founded_year": supplier.founded_year,
        "annual_revenue": money_text(supplier.annual_revenue),
        "currency": supplier.currency,
        "litigation_count": supplier.litigation_count,
        "penalties_count": supplier.penalties_count,
        "delivery_score": supplier.delivery_score,
        "external_rating": supplier.external_rating,
        "score": supplier.score,
        "grade": supplier.grade,
        "grade_valid_to": iso_text(supplier.grade_valid_to),
    }
    if full:
        evaluations = session.scalars(
            select(SupplierEvaluation)
            .where(SupplierEvaluation.supplier_id == supplier.id)
            .order_by(SupplierEvaluation.id)
        )
        body["evaluations"] = [
            {
                "score": e.score,
                "grade": e.grade,
                "factors": e.factors,
                "valid_to": e.valid_to.isoformat(),
                "instance_id": e.instance_id,
                "evaluated_by": e.evaluated_by,
                "at": e.evaluated_at.isoformat(),
            }
            for e in evaluations
        ]
        contracts = session.scalars(
            select(Contract).where(Contract.supplier_id == supplier.id).order_by(Contract.number)
        )
        body["contracts"] = [{"id": c.id, "number": c.number, "version": c.version} for c in contracts]
    return body


# --- CSV import and demo data ------------------------------------------------------------------------------


SUPPLIERS = MasterData(
    "suppliers", (SUPPLIER_COLUMNS, SUPPLIER_OPTIONAL), Supplier, parse_supplier, create_supplier
)
# Imports suppliers in the caller's transaction, all or nothing (ImportRejected names every bad line).
import_suppliers = partial(import_master_data, data=SUPPLIERS)


DEMO_SUPPLIERS: list[dict[str, Any]] = [
    {
        "external_id": "S-2001",
        "name": "Baltic Steel Supply AB",
        "email": "contracts@baltic-steel.example",
        "contact_name": "Erik Lindqvist",
        "registration_no": "SE556677889901",
        "founded_year": 1978,
        "annual_revenue": Decimal("85000000.00"),
        "currency": "EUR",
        "litigation_count": 0,
        "penalties_count": 1,
        "delivery_score": 94,
        "external_rating": "A",
    },
    {
        "external_id": "S-2002",
        "name": "广州包装制品有限公司",  # Guangzhou Packaging Co., Ltd.: a Chinese supplier, in Chinese
        "email": "sales@gz-packaging.example",
        "contact_name": "李晓梅",
        "language": "zh",
        "registration_no": "91440101MA59XX2Y3Z",
        "founded_year": 2009,
        "annual_revenue": Decimal("46000000.00"),
        "currency": "CNY",
        "litigation_count": 1,
        "penalties_count": 2,
        "delivery_score": 81,
        "external_rating": "BBB",
    },
    {
        "external_id": "S-2003",
        "name": "Alpine Logistics AG",
        "email": "vertrag@alpine-logistics.example",
        "contact_name": "Anna Keller",
        "founded_year": 1995,
        "annual_revenue": Decimal("12000000.00"),
        "currency": "CHF",
        "delivery_score": 88,
    },
    {  # the risky one: young, small, in court and often late; changes need a guarantee or justification
        "external_id": "S-2004",
        "name": "FlashParts Trading Ltd",
        "email": "office@flashparts.example",
        "contact_name": "Daniel Price",
        "founded_year": 2024,
        "annual_revenue": Decimal("400000.00"),
        "currency": "GBP",
        "litigation_count": 3,
        "penalties_count": 6,
        "delivery_score": 48,
        "external_rating": "CCC",
    },
]


def seed_demo_suppliers(session: Session, now: datetime) -> list[str]:
    """Create the demo suppliers and contracts that do not exist yet (idempotent); returns new names."""
    known = set(session.scalars(select(Supplier.external_id)))
    created = []
    for fields in DEMO_SUPPLIERS:
        if fields["external_id"] not in known:
            created.append(create_supplier(session, fields, actor="system", now=now).name)
    seed_demo_contracts(session, now)
    return created
