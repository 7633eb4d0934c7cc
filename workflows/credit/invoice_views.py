"""Read side of receivables as lists and pages show them: invoices, exposure per customer, aging."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workflows.credit.models import Invoice, InvoiceStatus
from workflows.credit.order_tables import open_orders_of
from workflows.credit.provisions import BUCKETS, aging, bucket_of
from workflows.store.paging import page_rows

ZERO = Decimal("0.00")


def list_invoices(
    session: Session,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    overdue_on: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Invoice], int]:
    """One page of invoices by due date, and the total; `overdue_on` keeps open ones due before that day."""
    query = select(Invoice)
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if status:
        query = query.where(Invoice.status == status)
    if overdue_on is not None:
        query = query.where(Invoice.due_date < overdue_on, Invoice.status == InvoiceStatus.OPEN)
    return page_rows(session, query.order_by(Invoice.due_date, Invoice.id), page, per_page)


def receivables_of(
    session: Session, customer_ids: Iterable[int], today: date
) -> dict[int, tuple[Decimal, Decimal]]:
    """{customer id: (exposure, overdue)} of a page of customers: open invoices; exposure adds open orders."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            Invoice.customer_id,
            func.sum(Invoice.open_amount),
            func.sum(case((Invoice.due_date < today, Invoice.open_amount), else_=ZERO)),
        )
        .where(Invoice.customer_id.in_(ids), Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.customer_id)
    )
    figures = {cid: (exposure or ZERO, overdue or ZERO) for cid, exposure, overdue in rows}
    # Exposure counts open and released orders too (workflows/credit/orders.py); overdue only invoices.
    for cid, ordered in open_orders_of(session, ids).items():
        exposure, overdue = figures.get(cid, (ZERO, ZERO))
        figures[cid] = (exposure + ordered, overdue)
    return figures


@dataclass(frozen=True)
class OpenInvoice:
    invoice: Invoice
    days_overdue: int
    bucket: str


def open_invoices(session: Session, customer_id: int, today: date) -> list[OpenInvoice]:
    """The customer's open invoices, oldest due date first, with days overdue and aging bucket."""
    rows = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return [OpenInvoice(i, max(0, (today - i.due_date).days), bucket_of(i.due_date, today)) for i in rows]


def aging_json(session: Session, as_of: date, customer_id: int | None = None) -> dict[str, Any]:
    """The aging report as the REST API shows it: totals per bucket, then one line per customer."""
    per_customer = aging(session, as_of, customer_id)
    totals = {b: sum((row[b] for row in per_customer.values()), ZERO) for b in BUCKETS}
    return {
        "as_of": as_of.isoformat(),
        "buckets": list(BUCKETS),
        "total": {b: f"{v:.2f}" for b, v in totals.items()},
        "customers": [
            {"customer_id": cid, **{b: f"{v:.2f}" for b, v in row.items()}}
            for cid, row in sorted(per_customer.items())
        ],
    }
