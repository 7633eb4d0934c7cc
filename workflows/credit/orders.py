"""Open sales orders from the ERP: what a customer has ordered and not yet been invoiced for. Open and
released orders count in the customer's exposure (with its open invoices); a held order waits for a credit
manager's release (the `order_release` process); an invoiced or cancelled order counts no more."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.csv_import import ImportReport, import_customer_rows
from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.models import Customer
from workflows.credit.order_tables import Order, OrderStatus
from workflows.credit.record_fields import money_text, parse_customer_id, raise_field_errors
from workflows.errors import Conflict, Invalid, NotFound, message_of
from workflows.messages import _
from workflows.money import parse_money
from workflows.store.audit import record_event
from workflows.store.paging import page_rows

# --- parsing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderInput:
    customer_id: int
    order_ref: str
    amount: Decimal
    currency: str
    order_date: date


def parse_order(raw: Mapping[str, Any], *, today: date, customer_id: int | None = None) -> OrderInput:
    """An order as the API or a CSV row sends it; `date` defaults to today.

    Raises:
        Invalid: naming each bad field.
    """
    errors: dict[str, str] = {}
    cid = customer_id if customer_id is not None else parse_customer_id(raw.get("customer_id"), errors)
    ref = parse_order_ref(raw.get("order_ref"), errors)
    amount = parse_amount(raw.get("amount"), errors)
    currency = parse_currency(raw.get("currency"), errors)
    day: date | None = today
    text = raw.get("date")
    if text not in (None, ""):
        try:
            day = date.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            day = None
        if day is None:
            errors["date"] = _("'%(text)s' is not an ISO date (YYYY-MM-DD).", text=str(text)[:40])
    raise_field_errors(errors, _("order"))
    assert cid is not None and ref is not None and amount is not None and currency is not None and day
    return OrderInput(cid, ref, amount, currency, day)


def parse_order_ref(value: Any, errors: dict[str, str]) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        errors["order_ref"] = _("The ERP's order reference is required (text of at most 80 characters).")
    elif len(text) > 80 or not text.isprintable():
        errors["order_ref"] = _("At most 80 printable characters (no control characters).")
    else:
        return text
    return None


def parse_amount(value: Any, errors: dict[str, str]) -> Decimal | None:
    """A positive amount as workflows.money reads what clients send (at most MAX_AMOUNT, whole cents)."""
    try:
        amount = parse_money(value)
    except ValueError as exc:
        errors["amount"] = message_of(exc)
        return None
    if amount <= 0:
        errors["amount"] = _("Must be more than zero.")
        return None
    return amount


def parse_currency(value: Any, errors: dict[str, str]) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != 3 or not text.isascii() or not text.isalpha() or not text.isupper():
        errors["currency"] = _("Use a three-letter ISO currency code such as EUR.")
        return None
    return text


# --- conversion and exposure --------------------------------------------------------------------------------


def in_limit_currency(
    session: Session, amount: Decimal, currency: str, customer: Customer, day: date, base: str
) -> Decimal:
    """`amount` in the customer's currency (its limit's), through the base currency at the rates of `day`.

    Raises:
        MissingRate: no rate for one of the two currencies on or before `day`.
    """
    if currency == customer.currency:
        return amount
    cross = rate_on(session, currency, day, base) / rate_on(session, customer.currency, day, base)
    return (amount * cross).quantize(CENT, rounding=ROUND_HALF_UP)


# --- recording and closing ----------------------------------------------------------------------------------


def find_order(session: Session, customer_id: int, order_ref: str, *, lock: bool = False) -> Order | None:
    query = select(Order).where(Order.customer_id == customer_id, Order.order_ref == order_ref)
    return session.scalar(query.with_for_update() if lock else query)


def post_order(
    session: Session,
    data: OrderInput,
    *,
    actor: str,
    now: datetime,
    base: str,
    status: str = OrderStatus.OPEN,
) -> Order:
    """Record an open order confirmed in the ERP; it counts in exposure at once (in the caller's transaction).

    Raises:
        NotFound (customer), Conflict (the customer has an order with this reference),
        Invalid (a foreign currency without an exchange rate: it could not be counted; post a rate first).
    """
    customer = session.scalar(select(Customer).where(Customer.id == data.customer_id).with_for_update())
    if customer is None:
        raise NotFound(_("customer %(customer_id)s does not exist", customer_id=data.customer_id))
    existing = find_order(session, customer.id, data.order_ref)
    if existing is not None:
        raise Conflict(
            _(
                "customer %(customer_id)s has order %(order_ref)s already (order "
                "%(existing_id)s, %(existing_status)s); an order reference is unique per "
                "customer",
                customer_id=customer.id,
                order_ref=data.order_ref,
                existing_id=existing.id,
                existing_status=existing.status,
            )
        )
    try:
        limit_amount = in_limit_currency(session, data.amount, data.currency, customer, data.order_date, base)
    except MissingRate as exc:
        raise Invalid(
            _("order %(order_ref)s: %(problem)s", order_ref=data.order_ref, problem=message_of(exc)),
            details={
                "fields": {
                    "currency": _(
                        "No exchange rate %(currency)s->%(base)s: %(problem)s",
                        currency=data.currency,
                        base=base,
                        problem=message_of(exc),
                    )
                }
            },
        ) from exc
    return new_order(session, customer, data, limit_amount, actor=actor, now=now, status=status)


def new_order(
    session: Session,
    customer: Customer,
    data: OrderInput,
    limit_amount: Decimal | None,
    *,
    actor: str,
    now: datetime,
    status: str,
) -> Order:
    """Add an order row and its audit event (the callers check what must hold first)."""
    order = Order(
        customer_id=customer.id,
        order_ref=data.order_ref,
        amount=data.amount,
        currency=data.currency,
        order_date=data.order_date,
        limit_amount=limit_amount,
        status=status,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="order_recorded",
        now=now,
        customer_id=customer.id,
        order_id=order.id,
        order_ref=order.order_ref,
        amount=str(order.amount),
        currency=order.currency,
        limit_amount=money_text(limit_amount),
        status=status,
    )
    return order


CLOSE_REASONS = {"invoiced": OrderStatus.INVOICED, "cancelled": OrderStatus.CANCELLED}


def close_order(session: Session, order_id: int, reason: str, *, actor: str, now: datetime) -> Order:
    """Close an order that was invoiced (the invoice counts instead) or cancelled; it counts no more.

    Raises:
        NotFound, Invalid (reason other than invoiced or cancelled), Conflict (closed already).
    """
    status = CLOSE_REASONS.get(reason)
    if status is None:
        raise Invalid(
            _("reason must be invoiced or cancelled, not '%(reason)s'", reason=reason[:40]),
            details={"fields": {"reason": _("invoiced (default) or cancelled")}},
        )
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise NotFound(_("order %(order_id)s does not exist", order_id=order_id))
    if order.status in OrderStatus.CLOSED:
        raise Conflict(
            _(
                "order %(order_id)s was %(order_status)s by %(closed_by)s already",
                order_id=order_id,
                order_status=order.status,
                closed_by=order.closed_by,
            )
        )
    before = order.status
    order.status, order.closed_by, order.closed_at, order.updated_at = status, actor, now, now
    record_event(
        session,
        actor=actor,
        action="order_closed",
        now=now,
        customer_id=order.customer_id,
        order_id=order.id,
        order_ref=order.order_ref,
        before={"status": before},
        after={"status": status},
    )
    return order


def get_order(session: Session, order_id: int) -> Order:
    """Raises: NotFound."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(_("order %(order_id)s does not exist", order_id=order_id))
    return order


def list_orders(
    session: Session,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Order], int]:
    """One page of orders, newest first, filtered by customer and status."""
    query = select(Order)
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    if status:
        query = query.where(Order.status == status)
    return page_rows(session, query.order_by(Order.id.desc()), page, per_page)


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "order_ref": order.order_ref,
        "amount": f"{order.amount:.2f}",
        "currency": order.currency,
        "date": order.order_date.isoformat(),
        "limit_amount": money_text(order.limit_amount),
        "status": order.status,
        "release_instance_id": order.release_instance_id,
        "decided_by": order.decided_by,
        "created_by": order.created_by,
        "created_at": order.created_at.isoformat(),
        "closed_by": order.closed_by,
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }


# --- CSV import ---------------------------------------------------------------------------------------------

ORDER_COLUMNS = ("customer_external_id", "order_ref", "amount", "currency", "date")


def import_orders(
    session: Session,
    path: Path,
    *,
    actor: str,
    now: datetime,
    base: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import open orders (customers named by external_id), all or nothing in the caller's transaction.

    Raises:
        ImportRejected: naming every bad line; the caller rolls back.
    """
    return import_customer_rows(
        session,
        path,
        "orders",
        ORDER_COLUMNS,
        lambda row, customer_id: parse_order(row, today=now.date(), customer_id=customer_id),
        partial(post_order, base=base),
        actor=actor,
        now=now,
        progress=progress,
        unique=("order_ref", lambda data: (data.customer_id, data.order_ref)),
    )
