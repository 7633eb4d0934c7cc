"""The tables of open orders and credit checks (kept apart from their rules, so the customer's exposure can
count orders without importing the order module's CSV import and exchange rates)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.store.models import Base, Decimal2


class OrderStatus:
    OPEN = "open"  # confirmed, not yet invoiced: counts in exposure
    HELD = "held"  # over the limit or the customer blocked: waits for a release, counts nothing
    RELEASED = "released"  # a credit manager released it over the limit: counts in exposure
    INVOICED = "invoiced"  # closed by DELETE /api/orders/ID: the invoice counts instead
    CANCELLED = "cancelled"  # closed by DELETE /api/orders/ID?reason=cancelled
    COUNTED = (OPEN, RELEASED)
    CLOSED = (INVOICED, CANCELLED)
    ALL = (OPEN, HELD, RELEASED, INVOICED, CANCELLED)


class Order(Base):
    """One sales order of a customer, by the ERP's order reference (unique per customer)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("customer_id", "order_ref", name="uq_orders_customer_ref"),
        Index("ix_orders_customer_status", "customer_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_ref: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    order_date: Mapped[date]
    # The amount in the customer's (limit) currency at the rate of the day it was recorded; None while no
    # rate exists (such an order is held: it cannot count until a rate is posted).
    limit_amount: Mapped[Decimal | None] = mapped_column(Decimal2)
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.OPEN)
    release_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    decided_by: Mapped[str | None] = mapped_column(String(80))  # the credit manager who released/kept it
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_by: Mapped[str | None] = mapped_column(String(80))
    closed_at: Mapped[datetime | None]


class CheckResult:
    APPROVED = "approved"
    BLOCKED = "blocked"
    OVER_LIMIT = "over_limit"
    ALL = (APPROVED, BLOCKED, OVER_LIMIT)


class CreditCheck(Base):
    """Append-only: one credit check of an order, its answer and why, and who asked."""

    __tablename__ = "credit_checks"
    __table_args__ = (Index("ix_credit_checks_customer", "customer_id", "checked_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_ref: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    limit_amount: Mapped[Decimal | None] = mapped_column(Decimal2)  # in the customer's currency
    exposure: Mapped[Decimal | None] = mapped_column(Decimal2)  # before this order, without it
    credit_limit: Mapped[Decimal] = mapped_column(Decimal2)
    limit_currency: Mapped[str] = mapped_column(String(3))
    result: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    release_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    requested_by: Mapped[str] = mapped_column(String(80))
    checked_at: Mapped[datetime]


def open_orders_of(session: Session, customer_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """{customer id: its open and released orders in its own currency}, in one query (every customer's
    when `customer_ids` is None)."""
    query = select(Order.customer_id, func.sum(Order.limit_amount)).where(
        Order.status.in_(OrderStatus.COUNTED), Order.limit_amount.is_not(None)
    )
    if customer_ids is not None:
        ids = list(customer_ids)
        if not ids:
            return {}
        query = query.where(Order.customer_id.in_(ids))
    rows = session.execute(query.group_by(Order.customer_id))
    return {cid: total for cid, total in rows if total is not None}
