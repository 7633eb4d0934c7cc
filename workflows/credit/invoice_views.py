"""Read side of receivables as lists and pages show them: invoices, exposure per customer, aging."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from workflows.credit.fx import CENT, MissingRate, check_money_bound, rate_on
from workflows.credit.models import Customer, Invoice, InvoiceStatus
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
            func.sum(
                case(
                    (
                        and_(Invoice.due_date < today, Invoice.status == InvoiceStatus.OPEN),
                        Invoice.open_amount,
                    ),
                    else_=ZERO,
                )
            ),
        )
        # Exposure counts a settlement's unpaid part (as exposure_of does); overdue only what is dunned.
        .where(Invoice.customer_id.in_(ids), Invoice.status.in_(InvoiceStatus.OWED))
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
    days_overdue: int | None  # None: a due day no one can read
    bucket: str


def open_invoices(session: Session, customer_id: int, today: date) -> list[OpenInvoice]:
    """The customer's open invoices, oldest due date first, with days overdue and aging bucket."""
    rows = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    )
    # A due day no one can read (None, a hand edit): no days shown, in the oldest bucket (bucket_of).
    return [
        OpenInvoice(
            i, None if i.due_date is None else max(0, (today - i.due_date).days), bucket_of(i.due_date, today)
        )
        for i in rows
    ]


def aging_json(session: Session, as_of: date, base: str, customer_id: int | None = None) -> dict[str, Any]:
    """The aging report as the REST API shows it: each customer's line in its own currency, the sums per
    currency, and the total in the base currency at the rate stored for `as_of` (per currency and bucket).

    A currency without a rate leaves `total` null and is named in `missing_rates`: never a guess.
    """
    per_customer = aging(session, as_of, customer_id)
    query = select(Customer.id, Customer.currency).where(Customer.id.in_(list(per_customer)))
    currency_of: dict[int, str] = {cid: currency for cid, currency in session.execute(query)}
    by_currency: dict[str, dict[str, Decimal]] = {}
    for cid, row in per_customer.items():
        sums = by_currency.setdefault(currency_of[cid], dict.fromkeys(BUCKETS, ZERO))
        for b in BUCKETS:
            sums[b] += row[b]
    rates, missing = {}, []
    for currency in sorted(by_currency):
        try:
            rates[currency] = rate_on(session, currency, as_of, base)
        except MissingRate:
            missing.append(currency)
    total: dict[str, str] | None = None
    if not missing:
        in_base = {
            c: sum((to_base_at(v, rates[c]) for v in row.values()), ZERO) for c, row in by_currency.items()
        }
        sums = {b: sum((to_base_at(s[b], rates[c]) for c, s in by_currency.items()), ZERO) for b in BUCKETS}
        check_money_bound("the open receivables", in_base, as_of, base, sum(sums.values(), ZERO))
        total = {b: f"{v:.2f}" for b, v in sums.items()}
    return {
        "as_of": as_of.isoformat(),
        "buckets": list(BUCKETS),
        "base_currency": base,
        "total": total,
        "missing_rates": missing,
        "fx_rates": {c: format(r.normalize(), "f") for c, r in rates.items()},
        "by_currency": {c: {b: f"{v:.2f}" for b, v in s.items()} for c, s in sorted(by_currency.items())},
        "customers": [
            {"customer_id": cid, "currency": currency_of[cid], **{b: f"{v:.2f}" for b, v in row.items()}}
            for cid, row in sorted(per_customer.items())
        ],
    }


def to_base_at(amount: Decimal, rate: Decimal) -> Decimal:
    """`amount` times a stored rate, to the cent."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
