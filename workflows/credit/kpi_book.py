"""The book as it stood at past period ends, aggregated in SQL for the KPIs (workflows/credit/kpis.py).

An invoice's open amount at the end of a day E is its open amount today plus what payments dated after E,
and credit notes and write-offs posted after E, took off it (cancelled invoices are out). One union of
those rows (the "ledger") is summed with one CASE column per period end and measure, so any number of
period ends costs one scan, never one query per end or per row. Amounts are summed as integer hundredths
(Decimal2's storage), exact on every backend, in each invoice's own currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from workflows.credit.disputes import CreditNote
from workflows.credit.models import Invoice, InvoiceStatus, Payment, PaymentAllocation
from workflows.credit.write_offs import WriteOff
from workflows.store.models import UTCDateTime

OVER_90 = 90  # days past due


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def _raw(column: Any) -> Any:
    """A Decimal2 column as its stored integer of hundredths."""
    return type_coerce(column, BigInteger)


@dataclass
class EndFigures:
    """One currency's receivables at the end of a day, in hundredths of that currency."""

    ar: int = 0
    current: int = 0  # not yet due (due on or after the day)
    over_90: int = 0  # more than 90 days past due


@dataclass
class CurrencyBook:
    """One currency's figures: at each period end, and issued or written off in the period ending there."""

    at_end: dict[date, EndFigures] = field(default_factory=dict)
    sales: dict[date, int] = field(default_factory=dict)
    written_off: dict[date, int] = field(default_factory=dict)


def _ledger(first: date, last: date) -> Any:
    """Rows (customer_id, currency, issue, due, amount, sold, gone_on, gone_at): `amount` is open at the end
    of a day E when issue <= E, gone_on (a payment's day) is null or after E, and gone_at (a credit note's or
    write-off's posting) is null or after the end of E; `sold` is the invoiced amount, on the invoice's own
    row only."""
    live = Invoice.status != InvoiceStatus.CANCELLED
    no_day, no_time = cast(null(), Date), cast(null(), UTCDateTime())
    keys = (
        Invoice.customer_id.label("customer_id"),
        Invoice.currency.label("currency"),
        Invoice.issue_date.label("issue"),
        Invoice.due_date.label("due"),
    )
    invoices = select(
        *keys,
        _raw(Invoice.open_amount).label("amount"),
        _raw(Invoice.amount).label("sold"),
        no_day.label("gone_on"),
        no_time.label("gone_at"),
    ).where(live, Invoice.issue_date <= last, or_(_raw(Invoice.open_amount) > 0, Invoice.issue_date > first))
    paid = (
        select(*keys, _raw(PaymentAllocation.amount), literal(0), Payment.paid_on, no_time)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(live, Invoice.issue_date <= last, Payment.paid_on > first)
    )
    # A credit note took off the invoice its amount less what went to the customer's credit balance.
    credited = (
        select(
            *keys,
            _raw(CreditNote.amount) - _raw(CreditNote.to_balance),
            literal(0),
            no_day,
            CreditNote.posted_at,
        )
        .join(CreditNote, CreditNote.invoice_id == Invoice.id)
        .where(live, Invoice.issue_date <= last, CreditNote.posted_at > end_of(first))
    )
    written = (
        select(*keys, _raw(WriteOff.amount), literal(0), no_day, WriteOff.posted_at)
        .join(WriteOff, WriteOff.invoice_id == Invoice.id)
        .where(live, Invoice.issue_date <= last, WriteOff.posted_at > end_of(first))
    )
    return invoices.union_all(paid, credited, written).subquery("ledger")


def _open_at(ledger: Any, end: date) -> Any:
    return and_(
        ledger.c.issue <= end,
        or_(ledger.c.gone_on.is_(None), ledger.c.gone_on > end),
        or_(ledger.c.gone_at.is_(None), ledger.c.gone_at > end_of(end)),
    )


def _sum_if(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def book_at(
    session: Session, ends: Sequence[date], sales_periods: Sequence[tuple[date, date]]
) -> dict[str, CurrencyBook]:
    """{currency: its receivables at each of `ends`, and its credit sales and write-offs in each of
    `sales_periods` ((previous end, end): issued or posted after the first, up to the end of the second)},
    in two queries (the ledger, and the write-offs)."""
    if not ends and not sales_periods:
        return {}
    days = [*ends, *(d for p in sales_periods for d in p)]
    first, last = min(days), max(days)
    ledger = _ledger(first, last)
    columns: list[Any] = []
    for end in ends:
        open_then = _open_at(ledger, end)
        columns += [
            _sum_if(open_then, ledger.c.amount),
            _sum_if(and_(open_then, ledger.c.due >= end), ledger.c.amount),
            _sum_if(and_(open_then, ledger.c.due < end - timedelta(days=OVER_90)), ledger.c.amount),
        ]
    for start, end in sales_periods:
        columns.append(_sum_if(and_(ledger.c.issue > start, ledger.c.issue <= end), ledger.c.sold))
    books: dict[str, CurrencyBook] = {}
    for row in session.execute(select(ledger.c.currency, *columns).group_by(ledger.c.currency)):
        book = books.setdefault(row[0], CurrencyBook())
        values = [int(v) for v in row[1:]]
        for i, end in enumerate(ends):
            book.at_end[end] = EndFigures(*values[3 * i : 3 * i + 3])
        for i, (_, end) in enumerate(sales_periods):
            book.sales[end] = values[3 * len(ends) + i]
    if sales_periods:
        _add_write_offs(session, books, sales_periods)
    for book in books.values():
        for end in ends:
            book.at_end.setdefault(end, EndFigures())
        for _, end in sales_periods:
            book.sales.setdefault(end, 0)
            book.written_off.setdefault(end, 0)
    return books


def _add_write_offs(
    session: Session, books: dict[str, CurrencyBook], periods: Sequence[tuple[date, date]]
) -> None:
    """Written off in each period (by posted_at), per currency."""
    first = min(p[0] for p in periods)
    last = max(p[1] for p in periods)
    amount = _raw(WriteOff.amount)
    columns = [
        _sum_if(and_(WriteOff.posted_at > end_of(start), WriteOff.posted_at <= end_of(end)), amount)
        for start, end in periods
    ]
    query: Select[Any] = (
        select(WriteOff.currency, *columns)
        .where(WriteOff.posted_at > end_of(first), WriteOff.posted_at <= end_of(last))
        .group_by(WriteOff.currency)
    )
    for row in session.execute(query):
        book = books.setdefault(row[0], CurrencyBook())
        for (_, end), value in zip(periods, row[1:], strict=True):
            book.written_off[end] = int(value)


def ar_by_customer(session: Session, ends: Sequence[date]) -> list[tuple[int, str, list[int]]]:
    """[(customer, currency, [its receivables at each of `ends`, in hundredths])], one grouped query; rows
    with nothing open at any of the ends are left out."""
    if not ends:
        return []
    ledger = _ledger(min(ends), max(ends))
    columns = [_sum_if(_open_at(ledger, end), ledger.c.amount) for end in ends]
    rows = session.execute(
        select(ledger.c.customer_id, ledger.c.currency, *columns).group_by(
            ledger.c.customer_id, ledger.c.currency
        )
    )
    found = []
    for row in rows:
        values = [int(v) for v in row[2:]]
        if any(values):
            found.append((row[0], row[1], values))
    return found
