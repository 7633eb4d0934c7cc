"""The book as it stood at past period ends, aggregated in SQL for the KPIs (workflows/credit/kpis.py).

An invoice's open amount at the end of a day E is its open amount today plus what payments dated after E,
and credit notes and write-offs posted after E, took off it (cancelled invoices are out). One union of
those rows (the "ledger") is grouped by currency, due date and, for each row, the first period end it is
open at and the first it is gone by (binary-search CASE expressions over the period ends), so any number
of period ends costs one scan and a few thousand groups, never one query per end or per row. Amounts are
summed as integer hundredths (Decimal2's storage), exact on every backend, in each invoice's own currency.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
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

log = logging.getLogger(__name__)

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
    """Rows (customer_id, currency, issue, due, amount, sold, gone_on, gone_at, written_at): `amount` is
    open at the end of a day E when issue <= E, gone_on (a payment's day) is null or after E, and gone_at (a
    credit note's or write-off's posting) is null or after the end of E; `sold` is the invoiced amount, on
    the invoice's own row only; `written_at` is when the invoice was first written off (null: never)."""
    live = Invoice.status != InvoiceStatus.CANCELLED
    no_day, no_time = cast(null(), Date), cast(null(), UTCDateTime())
    written = (
        select(WriteOff.invoice_id.label("invoice_id"), func.min(WriteOff.posted_at).label("at"))
        .group_by(WriteOff.invoice_id)
        .subquery("written")
    )
    keys = (
        Invoice.customer_id.label("customer_id"),
        Invoice.currency.label("currency"),
        Invoice.issue_date.label("issue"),
        Invoice.due_date.label("due"),
    )
    invoices = (
        select(
            *keys,
            _raw(Invoice.open_amount).label("amount"),
            _raw(Invoice.amount).label("sold"),
            no_day.label("gone_on"),
            no_time.label("gone_at"),
            written.c.at.label("written_at"),
        )
        .outerjoin(written, written.c.invoice_id == Invoice.id)
        .where(
            live, Invoice.issue_date <= last, or_(_raw(Invoice.open_amount) > 0, Invoice.issue_date > first)
        )
    )
    paid = (
        select(*keys, _raw(PaymentAllocation.amount), literal(0), Payment.paid_on, no_time, written.c.at)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .outerjoin(written, written.c.invoice_id == Invoice.id)
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
            written.c.at,
        )
        .join(CreditNote, CreditNote.invoice_id == Invoice.id)
        .outerjoin(written, written.c.invoice_id == Invoice.id)
        .where(live, Invoice.issue_date <= last, CreditNote.posted_at > end_of(first))
    )
    written_off = (
        select(*keys, _raw(WriteOff.amount), literal(0), no_day, WriteOff.posted_at, written.c.at)
        .join(WriteOff, WriteOff.invoice_id == Invoice.id)
        .outerjoin(written, written.c.invoice_id == Invoice.id)
        .where(live, Invoice.issue_date <= last, WriteOff.posted_at > end_of(first))
    )
    return invoices.union_all(paid, credited, written_off).subquery("ledger")


def _first_end(
    ends: Sequence[date], value: Any, *, at_time: bool = False, low: int = 0, high: int = -1
) -> Any:
    """CASE: the index of the first of `ends` on or after a day (`at_time`: whose end a time is not after);
    len(ends) when none, or when the value is null. Nested as a binary search, so a row costs about
    log2(len(ends)) comparisons, not one per end."""
    if high < 0:
        high = len(ends)
    if low == high:
        return literal_column(str(low), Integer)  # an index of ours, inlined: no parameter per leaf
    middle = (low + high) // 2
    bound = end_of(ends[middle]) if at_time else ends[middle]
    return case(
        (value <= bound, _first_end(ends, value, at_time=at_time, low=low, high=middle)),
        else_=_first_end(ends, value, at_time=at_time, low=middle + 1, high=high),
    )


@dataclass
class Book:
    """The figures of each currency, and for the provision: balances per (currency, due date) at each end
    of the invoices a provision run would count then (those not written off by then)."""

    currencies: dict[str, CurrencyBook]
    balances: dict[date, dict[tuple[str, date], int]]


def ledger_book(session: Session, ends: Sequence[date], sales_periods: Sequence[tuple[date, date]]) -> Book:
    """The book at each of `ends` (sorted, each sales period's start and end among them), in two queries:
    the ledger grouped by (currency, due date, the first end each row is open at, the first end it is gone
    by, the first end its invoice is written off by), and the write-offs per period."""
    ends = sorted(set(ends))
    if not ends:
        return Book({}, {})
    ledger = _ledger(ends[0], ends[-1])
    groups = select(
        ledger.c.currency,
        ledger.c.due,
        _first_end(ends, ledger.c.issue).label("a"),
        _first_end(ends, ledger.c.gone_on).label("b"),
        _first_end(ends, ledger.c.gone_at, at_time=True).label("c"),
        _first_end(ends, ledger.c.written_at, at_time=True).label("w"),
        ledger.c.amount,
        ledger.c.sold,
    ).subquery("groups")
    query = select(
        groups.c.currency,
        groups.c.due,
        groups.c.a,
        groups.c.b,
        groups.c.c,
        groups.c.w,
        func.coalesce(func.sum(groups.c.amount), 0),
        func.coalesce(func.sum(groups.c.sold), 0),
    ).group_by(groups.c.currency, groups.c.due, groups.c.a, groups.c.b, groups.c.c, groups.c.w)
    sales_ends = {end for _, end in sales_periods}
    books: dict[str, CurrencyBook] = {}
    balances: dict[date, dict[tuple[str, date], int]] = {end: {} for end in sales_ends}
    n = len(ends)
    over = timedelta(days=OVER_90)
    for currency, due, a, paid, posted, w, amount, sold in session.execute(query):
        book = books.get(currency)
        if book is None:
            book = books[currency] = CurrencyBook(
                {e: EndFigures() for e in ends}, dict.fromkeys(sales_ends, 0), dict.fromkeys(sales_ends, 0)
            )
        a, b, w, amount, sold = int(a), min(int(paid), int(posted)), int(w), int(amount), int(sold)
        if sold and a < n and ends[a] in sales_ends:
            book.sales[ends[a]] += sold
        if not amount:
            continue
        if due is None:  # a due day no one can read (a hand edit on SQLite): aged oldest, as aging does
            log.warning(
                "%s %s due on a day no one can read: aged oldest", Decimal(amount).scaleb(-2), currency
            )
            due = date.min
        for j in range(a, min(b, n)):
            end = ends[j]
            figures = book.at_end[end]
            figures.ar += amount
            if due >= end:
                figures.current += amount
            elif due < end - over:
                figures.over_90 += amount
            if j < w and end in balances:
                key = (currency, due)
                balances[end][key] = balances[end].get(key, 0) + amount
    if sales_periods:
        _add_write_offs(session, books, sales_periods, ends)
    return Book(books, balances)


def _add_write_offs(
    session: Session, books: dict[str, CurrencyBook], periods: Sequence[tuple[date, date]], ends: list[date]
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
    sales_ends = [end for _, end in periods]
    for row in session.execute(query):
        book = books.get(row[0])
        if book is None:
            book = books[row[0]] = CurrencyBook(
                {e: EndFigures() for e in ends}, dict.fromkeys(sales_ends, 0), dict.fromkeys(sales_ends, 0)
            )
        for end, value in zip(sales_ends, row[1:], strict=True):
            book.written_off[end] = int(value)


def _sum_if(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def provision_balances(
    session: Session, end: date, customers: Sequence[int]
) -> dict[int, dict[tuple[str, date], int]]:
    """{customer: {(currency, due date): hundredths}} of `customers` at the end of `end`, as a provision
    run counts them (not what was written off by then), one grouped query."""
    if not customers:
        return {}
    ledger = _ledger(end, end)
    ends = [end]
    sub = (
        select(
            ledger.c.customer_id,
            ledger.c.currency,
            ledger.c.due,
            _first_end(ends, ledger.c.issue).label("a"),
            _first_end(ends, ledger.c.gone_on).label("b"),
            _first_end(ends, ledger.c.gone_at, at_time=True).label("c"),
            _first_end(ends, ledger.c.written_at, at_time=True).label("w"),
            ledger.c.amount,
        )
        .where(ledger.c.customer_id.in_(list(customers)))
        .subquery("groups")
    )
    keys = (sub.c.customer_id, sub.c.currency, sub.c.due)
    query = (
        select(*keys, func.coalesce(func.sum(sub.c.amount), 0))
        .where(sub.c.a == 0, sub.c.b == 1, sub.c.c == 1, sub.c.w == 1)  # issued, not gone or written off
        .group_by(*keys)
    )
    found: dict[int, dict[tuple[str, date], int]] = {}
    for customer_id, currency, due, amount in session.execute(query):
        if int(amount):
            found.setdefault(customer_id, {})[(currency, due)] = int(amount)
    return found


def customer_totals(session: Session, ends: Sequence[date]) -> dict[date, dict[tuple[int, str], int]]:
    """{end: {(customer, currency): open hundredths}} at each of `ends`, one grouped query (no due dates:
    fewer groups)."""
    ends = sorted(set(ends))
    if not ends:
        return {}
    ledger = _ledger(ends[0], ends[-1])
    sub = select(
        ledger.c.customer_id,
        ledger.c.currency,
        _first_end(ends, ledger.c.issue).label("a"),
        _first_end(ends, ledger.c.gone_on).label("b"),
        _first_end(ends, ledger.c.gone_at, at_time=True).label("c"),
        ledger.c.amount,
    ).subquery("groups")
    keys = (sub.c.customer_id, sub.c.currency, sub.c.a, sub.c.b, sub.c.c)
    found: dict[date, dict[tuple[int, str], int]] = {end: {} for end in ends}
    n = len(ends)
    for customer_id, currency, a, paid, posted, amount in session.execute(
        select(*keys, func.coalesce(func.sum(sub.c.amount), 0)).group_by(*keys)
    ):
        amount = int(amount)
        if not amount:
            continue
        key = (customer_id, currency)
        for j in range(int(a), min(int(paid), int(posted), n)):
            at = found[ends[j]]
            at[key] = at.get(key, 0) + amount
    return found
