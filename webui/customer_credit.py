"""The customer page's order panel: the customer's orders (paged; open and released ones count in the
exposure) and its latest credit checks, so a user sees which orders the exposure holds and why each check
answered as it did."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflows.credit.credit_checks import list_checks
from workflows.credit.order_tables import CreditCheck, Order, OrderStatus
from workflows.credit.orders import list_orders
from workflows.store.paging import Page

ORDERS_PER_PAGE = 20
LATEST_CHECKS = 10
ORDER_STATUSES = OrderStatus.ALL


@dataclass(frozen=True)
class OrderPanel:
    orders: Page[Order]
    status: str  # the status filter, "" for all
    checks: list[CreditCheck]
    checks_total: int
    counted: tuple[str, ...] = OrderStatus.COUNTED


def order_panel(session: Session, customer_id: int, *, page: int, status: str) -> OrderPanel:
    """One page of the customer's orders (newest first, optionally of one status) and its latest checks."""
    status = status if status in ORDER_STATUSES else ""
    rows, total = list_orders(
        session, customer_id=customer_id, status=status or None, page=page, per_page=ORDERS_PER_PAGE
    )
    checks, checks_total = list_checks(session, customer_id=customer_id, per_page=LATEST_CHECKS)
    return OrderPanel(Page(rows, total, page, ORDERS_PER_PAGE), status, checks, checks_total)
