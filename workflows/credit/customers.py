"""The customer credit file: customers, their limits with append-only history, exposure, and CSV import."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer, Invoice, InvoiceStatus, LimitChange
from workflows.credit.record_fields import FieldSpec, money_text, parse_fields
from workflows.errors import Conflict, Invalid, NotFound
from workflows.store.audit import record_event
from workflows.store.models import User
from workflows.store.paging import page_rows

GRADES = ("A", "B", "C", "D", "E")


CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec("text"),
    "name": FieldSpec("text", required=True),
    "email": FieldSpec("email"),
    "industry": FieldSpec("text"),
    "founded_year": FieldSpec("year"),
    "annual_revenue": FieldSpec("money"),
    "currency": FieldSpec("currency", required=True),
    "registration_no": FieldSpec("text"),
    "sales_owner": FieldSpec("text"),
    "language": FieldSpec("text"),
    "current_ratio": FieldSpec("ratio"),
    "debt_ratio": FieldSpec("ratio"),
    "external_rating": FieldSpec("text"),
    "credit_limit": FieldSpec("money"),
    "next_review_date": FieldSpec("date"),
}


def parse_customer(raw: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and convert customer fields (from JSON or a CSV row); empty strings count as absent.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    return parse_fields("customer", CUSTOMER_FIELDS, raw, today)


def create_customer(session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime) -> Customer:
    """Add a customer; a migrated credit limit gets its first history entry.

    Raises:
        Conflict: the external_id is taken.
    """
    owner = fields.get("sales_owner")
    if owner and session.scalar(select(User.id).where(User.username == owner)) is None:
        raise Invalid(
            f"sales_owner {owner!r} is not a user",
            details={"fields": {"sales_owner": "Name an existing user."}},
        )
    external_id = fields.get("external_id")
    if external_id and session.scalar(select(Customer.id).where(Customer.external_id == external_id)):
        raise Conflict(f"a customer with external_id {external_id!r} exists already")
    limit = fields.get("credit_limit") or Decimal("0.00")
    customer = Customer(**{**fields, "credit_limit": Decimal("0.00")}, created_at=now, updated_at=now)
    session.add(customer)
    session.flush()
    record_event(
        session, actor=actor, action="customer_created", now=now, customer_id=customer.id, name=customer.name
    )
    if limit:
        change_limit(session, customer, limit, reason="migrated from ERP", approvers=[], actor=actor, now=now)
    return customer


def change_limit(
    session: Session,
    customer: Customer,
    new_limit: Decimal,
    *,
    reason: str,
    approvers: Iterable[str],
    actor: str,
    now: datetime,
    instance_id: int | None = None,
) -> LimitChange:
    """Set a customer's credit limit and append the change to its history (in the caller's transaction)."""
    change = LimitChange(
        customer_id=customer.id,
        old_limit=customer.credit_limit,
        new_limit=new_limit,
        currency=customer.currency,
        reason=reason,
        approvers=list(approvers),
        instance_id=instance_id,
        changed_by=actor,
        changed_at=now,
    )
    session.add(change)
    customer.credit_limit = new_limit
    customer.updated_at = now
    record_event(
        session,
        actor=actor,
        action="credit_limit_changed",
        now=now,
        instance_id=instance_id,
        customer_id=customer.id,
        old=str(change.old_limit),
        new=str(new_limit),
        reason=reason,
    )
    return change


def get_customer(session: Session, customer_id: int) -> Customer:
    """Raises: NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return customer


def list_customers(
    session: Session,
    *,
    text: str | None = None,
    grade: str | None = None,
    blocked: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Customer], int]:
    """One page of customers by name, filtered by name/external id/registration text, grade, block."""
    query = select(Customer)
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(Customer.name).like(like),
                func.lower(Customer.external_id).like(like),
                func.lower(Customer.registration_no).like(like),
            )
        )
    if grade:
        query = query.where(Customer.grade == grade)
    if blocked is not None:
        query = query.where(Customer.blocked.is_(blocked))
    return page_rows(session, query.order_by(Customer.name, Customer.id), page, per_page)


def exposure_of(session: Session, customer_id: int) -> Decimal:
    """Open receivables of the customer (the open amounts of its open invoices)."""
    total = session.scalar(
        select(func.sum(Invoice.open_amount)).where(
            Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN
        )
    )
    return total if total is not None else Decimal("0.00")


def overdue_of(session: Session, customer_id: int, today: date) -> Decimal:
    """Open receivables whose due date has passed by `today`."""
    total = session.scalar(
        select(func.sum(Invoice.open_amount)).where(
            Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN, Invoice.due_date < today
        )
    )
    return total if total is not None else Decimal("0.00")


def limit_history(session: Session, customer_id: int) -> list[LimitChange]:
    return list(
        session.scalars(
            select(LimitChange).where(LimitChange.customer_id == customer_id).order_by(LimitChange.id)
        )
    )


def customer_json(session: Session, customer: Customer, *, today: date, full: bool = True) -> dict[str, Any]:
    """A customer as the REST API shows it; `full` adds limit history, exposure and overdue."""
    body: dict[str, Any] = {
        "id": customer.id,
        "external_id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "industry": customer.industry,
        "founded_year": customer.founded_year,
        "annual_revenue": money_text(customer.annual_revenue),
        "currency": customer.currency,
        "registration_no": customer.registration_no,
        "sales_owner": customer.sales_owner,
        "language": customer.language,
        "external_rating": customer.external_rating,
        "rating_agency": customer.rating_agency,
        "rating_date": customer.rating_date.isoformat() if customer.rating_date else None,
        "grade": customer.grade,
        "score": customer.score,
        "score_valid_to": customer.score_valid_to.isoformat() if customer.score_valid_to else None,
        "credit_limit": money_text(customer.credit_limit),
        "next_review_date": customer.next_review_date.isoformat() if customer.next_review_date else None,
        "blocked": customer.blocked,
    }
    if full:
        body["exposure"] = money_text(exposure_of(session, customer.id))
        body["overdue"] = money_text(overdue_of(session, customer.id, today))
        body["limit_history"] = [
            {
                "old": money_text(c.old_limit),
                "new": money_text(c.new_limit),
                "currency": c.currency,
                "reason": c.reason,
                "approvers": c.approvers,
                "instance_id": c.instance_id,
                "changed_by": c.changed_by,
                "at": c.changed_at.isoformat(),
            }
            for c in limit_history(session, customer.id)
        ]
    return body
