"""The receivable figures of a period ending on (or just before) the maintained balances' day, read from
those tables (workflows/credit/customer_balances.py) instead of scanning the book (kpi_book.py), for the
KPIs (workflows/credit/kpis.py): a period ending today, or yesterday before anything was posted today.

Usable for the period ending on E when (each checked, else None and the caller scans, docs/kpis.md "Cost"):
- the balance tables are rolled (`rolled_on` R) at most MAX_GAP days before or after E, at exactly the
  rates the KPIs use at E (the latest stored rate on or before E of every currency: so the exposures' order
  is the KPIs' order). R before E is the month's last day before the daily roll (`[scheduler] daily_hour`):
  the tables hold every posting (they are maintained with it), only their aging buckets are a day old,
  and they count an invoice from its issue day on: an invoice issued after R sends the period to the scan;
- nothing in the book is dated after E: no invoice issued, no payment valued, no credit note or write-off
  posted after the end of E (one indexed lookup each, migration 0014f). Then the book at E is the book now.

Then, per currency (hundredths, exact):
- AR, current and over-90 at E: the sums rows per aging bucket as of R (open invoices), the buckets moved
  from R back to E by the open invoices due between them (an index range of ix_invoices_open_totals), plus
  the open amounts of written-off and credited invoices (few; a settlement's unpaid part is AR);
- credit sales of the period and what of them is open now: one range of ix_invoices_issue_sales;
- AR at the period's start S, only when the previous period does not report it (no snapshot, docs/kpis.md
  "CEI"): AR at E - open now of the invoices issued in the period + what payments valued, and credit notes
  and write-offs posted, after S took off the invoices issued by S (the period's rows only: payments by
  ix_payments_paid_on, credit notes by ix_credit_notes_posted_at; a quarter's ~150,000 allocations joined
  to their invoices cost ~0.6 s at 1,000,000 invoices, which the previous quarter's snapshot saves);
- concentration: the ten largest exposures and every customer within a cent of the tenth
  (customer_exposures, ordered by ix_customer_exposures_total), plus every customer with a written-off
  invoice still owed, summed exactly from their balance rows; the number of customers with AR is a count;
- the provision: the buckets through the matrix (Allowances.on_buckets).
The scan's answer exactly (tests/credit/test_kpi_today.py compares both on random books).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session

from workflows.credit.customer_balance_tables import _BALANCES, _EXPOSURES
from workflows.credit.customer_balances import BUCKETS, book_sums, rolled_for, rolled_on
from workflows.credit.disputes import CreditNote
from workflows.credit.kpi_book import OVER_90, CurrencyBook, EndFigures, _add_write_offs, end_of
from workflows.credit.kpi_periods import previous_end
from workflows.credit.models import Invoice, InvoiceStatus, Payment, PaymentAllocation
from workflows.credit.portfolio import current_rates
from workflows.credit.write_offs import WriteOff

MAX_GAP = 7  # days between the period end and the balances' day that are bridged by index ranges
TOP = 10
CENT_MARGIN = Decimal(1)  # hundredths of the base currency: more than any rounding of the sort amounts
B, X = _BALANCES.c, _EXPOSURES.c
LIVE = Invoice.status != InvoiceStatus.CANCELLED
# Invoices whose open amount is not in the balances (those hold status open only): a written-off
# invoice's unpaid settlement part (AR, not provisioned), and, for exactness, a credited one.
OUTSIDE = (InvoiceStatus.WRITTEN_OFF, InvoiceStatus.CREDITED)


def _raw(column: Any) -> Any:
    return type_coerce(column, BigInteger)


@dataclass
class TodayFigures:
    """What period_kpis needs of the period ending on `end`, read from the maintained balances."""

    end: date
    start: date
    rolled: date  # the balances' day (R)
    books: dict[str, CurrencyBook]
    customers: dict[tuple[int, str], int]  # the top ten's candidates: (customer, currency) -> hundredths
    customer_count: int  # customers with AR at the end
    sums: dict[tuple[str, str], int]  # (currency, bucket as of R) -> hundredths the provision counts
    dues: dict[str, tuple[date, date]]  # currency -> earliest and latest due date of open invoices
    between: Callable[[str, date, date], int]  # open hundredths of a currency due in [first, last]
    exact: Callable[[list[int]], dict[tuple[str, date], int]]  # see Allowances.on_buckets
    per_due: Callable[[], dict[tuple[str, date], int]]


def usable(session: Session, end: date, base: str) -> date | None:
    """The balances' day when the period ending on `end` can be read from them (see the module), else None."""
    rolled = rolled_on(session)
    if rolled is None or abs((rolled - end).days) > MAX_GAP:
        return None
    if not rolled_for(session, rolled, base, current_rates(session, end, base)):
        return None
    after = end_of(end)
    later = (  # the tables count an invoice from its issue day on: one issued in (R, E] is not in them yet
        select(Invoice.id).where(Invoice.issue_date > min(end, rolled)),
        select(Payment.id).where(Payment.paid_on > end),
        select(CreditNote.id).where(CreditNote.posted_at > after),
        select(WriteOff.id).where(WriteOff.posted_at > after),
    )
    if any(session.scalar(query.limit(1)) is not None for query in later):
        return None
    return rolled


def today_figures(
    session: Session, end: date, period: str, base: str, *, start_known: bool = False
) -> TodayFigures | None:
    """The figures of the period ending on `end`, or None when the balances cannot give them exactly;
    without the AR at the period's start when `start_known` (the previous period reports it)."""
    rolled = usable(session, end, base)
    if rolled is None:
        return None
    start = previous_end(end, period)
    books: dict[str, CurrencyBook] = {}

    def book(currency: str) -> CurrencyBook:
        if currency not in books:
            ats = {end: EndFigures()} if start_known else {end: EndFigures(), start: EndFigures()}
            books[currency] = CurrencyBook(ats, {end: 0}, {end: 0})
        return books[currency]

    sums: dict[tuple[str, str], int] = {}
    for currency, *amounts in book_sums(session.connection()):
        at = book(currency).at_end[end]
        for bucket, amount in zip(BUCKETS, amounts, strict=True):
            sums[(currency, bucket)] = int(amount or 0)
        at.ar = sum(int(a or 0) for a in amounts)
        at.current = sums[(currency, "not_due")]
        at.over_90 = sums[(currency, "days_91_120")] + sums[(currency, "over_120")]
        _move_back(session, at, currency, end, rolled)
    outside = _outside(session)
    for _, currency, due, _, amount in outside:
        at = book(currency).at_end[end]
        at.ar += amount
        at.current += amount if due >= end else 0
        at.over_90 += amount if due < end - timedelta(days=OVER_90) else 0
    moved = _period_rows(session, book, start, end, start_known)
    for currency in moved:
        book(currency)
    _add_write_offs(session, books, [(start, end)], [end] if start_known else [start, end])
    if not start_known:
        for currency, figures in books.items():
            figures.at_end[start].ar = figures.at_end[end].ar + moved.get(currency, 0)
    customers, count = _top_candidates(session, outside)
    dues = _due_range(session, [c for c, _ in sums])
    counted = [row for row in outside if row[3]]  # the provision counts them (no write-off line)

    def per_due() -> dict[tuple[str, date], int]:
        return _per_due(session, end, [(cur, due, amount) for _, cur, due, _, amount in counted])

    def between(currency: str, first: date, last: date) -> int:
        return _open_between(session, currency, first, last + timedelta(days=1))

    def exact(specific: list[int]) -> dict[tuple[str, date], int]:
        """The invoices outside the sums the provision counts (added), less the customers with a
        specific provision (their open invoices per due date, and theirs of those outside)."""
        found: dict[tuple[str, date], int] = {}
        out = set(specific)
        for customer_id, currency, due, _, amount in counted:
            if customer_id not in out:  # a specific customer's: added and taken out again
                found[(currency, due)] = found.get((currency, due), 0) + amount
        for (currency, due), amount in _customers_per_due(session, specific).items():
            found[(currency, due)] = found.get((currency, due), 0) - amount
        return found

    return TodayFigures(
        end,
        start,
        rolled,
        books,
        customers,
        count,
        sums,
        dues,
        between,
        exact,
        per_due,
    )


def _open_between(session: Session, currency: str, low: date, high: date) -> int:
    """Hundredths of the open invoices of `currency` due on or after `low` and before `high`."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(_raw(Invoice.open_amount)), 0)).where(
                Invoice.status == InvoiceStatus.OPEN,
                Invoice.currency == currency,
                Invoice.due_date >= low,
                Invoice.due_date < high,
                _raw(Invoice.open_amount) > 0,
            )
        )
        or 0
    )


def _move_back(session: Session, at: EndFigures, currency: str, end: date, rolled: date) -> None:
    """Buckets as of the balances' day R moved to the period end E. E <= R: not due at E is not due at R
    plus what falls due in [E, R); over 90 days at E is over 90 at R less what is due in [E-90, R-90).
    E > R (not rolled yet today): not due at E is not due at R less what falls due in [R, E); over 90 at E
    is over 90 at R plus what is due in [R-90, E-90)."""
    over = timedelta(days=OVER_90)
    if end < rolled:
        at.current += _open_between(session, currency, end, rolled)
        at.over_90 -= _open_between(session, currency, end - over, rolled - over)
    elif rolled < end:
        at.current -= _open_between(session, currency, rolled, end)
        at.over_90 += _open_between(session, currency, rolled - over, end - over)


def _outside(session: Session) -> list[tuple[int, str, date, bool, int]]:
    """(customer, currency, due date, provisioned, hundredths) of written-off and credited invoices with an
    open amount (a range of ix_invoices_open_totals per status). `provisioned`: the provision counts it, as
    it counts every invoice without a write-off line (a settlement's invoice left no line when nothing of
    it was written off)."""
    written = select(WriteOff.id).where(WriteOff.invoice_id == Invoice.id).exists()
    rows = session.execute(
        select(
            Invoice.customer_id, Invoice.currency, Invoice.due_date, ~written, _raw(Invoice.open_amount)
        ).where(Invoice.status.in_(OUTSIDE), _raw(Invoice.open_amount) != 0)
    )
    return [(c, cur, due, bool(counted), int(amount)) for c, cur, due, counted, amount in rows]


def _period_rows(
    session: Session, book: Callable[[str], CurrencyBook], start: date, end: date, start_known: bool
) -> dict[str, int]:
    """Credit sales of (start, end] (into the books); returns per currency what AR at the end of `start`
    differs from AR at `end` by (see the module), or nothing when `start_known`."""
    at_start: dict[str, int] = {}
    sales = session.execute(
        select(Invoice.currency, func.sum(_raw(Invoice.amount)), func.sum(_raw(Invoice.open_amount)))
        .where(Invoice.issue_date > start, Invoice.issue_date <= end, LIVE)
        .group_by(Invoice.currency)
    )
    for currency, sold, still_open in sales:
        book(currency).sales[end] = int(sold or 0)
        at_start[currency] = at_start.get(currency, 0) - int(still_open or 0)
    if start_known:
        return {}
    issued_by_start = (Invoice.issue_date <= start, LIVE)
    moves = (
        select(Invoice.currency, func.sum(_raw(PaymentAllocation.amount)))
        .select_from(Payment)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(Payment.paid_on > start, *issued_by_start)
        .group_by(Invoice.currency),
        select(Invoice.currency, func.sum(_raw(CreditNote.amount) - _raw(CreditNote.to_balance)))
        .select_from(CreditNote)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(CreditNote.posted_at > end_of(start), *issued_by_start)
        .group_by(Invoice.currency),
        select(Invoice.currency, func.sum(_raw(WriteOff.amount)))
        .select_from(WriteOff)
        .join(Invoice, Invoice.id == WriteOff.invoice_id)
        .where(WriteOff.posted_at > end_of(start), *issued_by_start)
        .group_by(Invoice.currency),
    )
    for query in moves:
        for currency, amount in session.execute(query):
            at_start[currency] = at_start.get(currency, 0) + int(amount or 0)
    return at_start


def _top_candidates(
    session: Session, outside: list[tuple[int, str, date, bool, int]]
) -> tuple[dict[tuple[int, str], int], int]:
    """({(customer, currency): hundredths} of every customer that can be among the ten with most AR, the
    number of customers with AR)."""
    ranked = select(X.customer_id, X.total_base).where(X.rate_missing == 0)
    top = session.execute(
        ranked.order_by(X.rate_missing, X.total_base.desc(), X.customer_id).limit(TOP)
    ).all()
    ids = {customer_id for customer_id, _ in top}
    if len(top) == TOP and top[-1][1] is not None:
        tenth = Decimal(top[-1][1])
        floor = tenth - abs(tenth) * Decimal("1e-9") - CENT_MARGIN
        ids |= set(session.scalars(select(X.customer_id).where(X.rate_missing == 0, X.total_base >= floor)))
    ids |= set(session.scalars(select(X.customer_id).where(X.rate_missing == 1)))  # few: the 409 decides
    owed = {customer_id for customer_id, *_ in outside}
    counted = int(session.scalar(select(func.count()).select_from(_EXPOSURES)) or 0)
    if owed:
        with_rows = set(session.scalars(select(X.customer_id).where(X.customer_id.in_(sorted(owed)))))
        counted += len(owed - with_rows)
    customers: dict[tuple[int, str], int] = {}
    total = sum((_raw(B[b]) for b in BUCKETS[1:]), _raw(B[BUCKETS[0]]))
    candidates = sorted(ids | owed)
    for chunk in range(0, len(candidates), 500):
        rows = session.execute(
            select(B.customer_id, B.currency, total).where(B.customer_id.in_(candidates[chunk : chunk + 500]))
        )
        for customer_id, currency, amount in rows:
            customers[(customer_id, currency)] = customers.get((customer_id, currency), 0) + int(amount)
    for customer_id, currency, _, _, amount in outside:
        customers[(customer_id, currency)] = customers.get((customer_id, currency), 0) + amount
    return customers, counted


def _due_range(session: Session, currencies: list[str]) -> dict[str, tuple[date, date]]:
    """The earliest and latest due date of each currency's open invoices (two index lookups each)."""
    found = {}
    for currency in sorted(set(currencies)):
        where = (Invoice.status == InvoiceStatus.OPEN, Invoice.currency == currency)
        low = session.scalar(select(func.min(Invoice.due_date)).where(*where))
        high = session.scalar(select(func.max(Invoice.due_date)).where(*where))
        if low is not None and high is not None:
            found[currency] = (low, high)
    return found


def _customers_per_due(session: Session, ids: list[int]) -> dict[tuple[str, date], int]:
    """{(currency, due date): hundredths} of these customers' open invoices (ix_invoices_customer_status)."""
    found: dict[tuple[str, date], int] = {}
    for chunk in range(0, len(ids), 500):
        rows = session.execute(
            select(Invoice.currency, Invoice.due_date, func.sum(_raw(Invoice.open_amount)))
            .where(
                Invoice.customer_id.in_(ids[chunk : chunk + 500]),
                Invoice.status == InvoiceStatus.OPEN,
                _raw(Invoice.open_amount) > 0,
            )
            .group_by(Invoice.currency, Invoice.due_date)
        )
        for currency, due, amount in rows:
            found[(currency, due)] = found.get((currency, due), 0) + int(amount)
    return found


def _per_due(
    session: Session, end: date, credited: list[tuple[str, date, int]]
) -> dict[tuple[str, date], int]:
    """{(currency, due date): hundredths} the provision counts at `end` (open invoices, and a credited one's
    open amount), one grouped range of ix_invoices_open_totals: when the matrix is not uniform per bucket."""
    rows = session.execute(
        select(Invoice.currency, Invoice.due_date, func.sum(_raw(Invoice.open_amount)))
        .where(Invoice.status == InvoiceStatus.OPEN, _raw(Invoice.open_amount) > 0, Invoice.issue_date <= end)
        .group_by(Invoice.currency, Invoice.due_date)
    )
    found = {(currency, due): int(amount) for currency, due, amount in rows}
    for currency, due, amount in credited:
        found[(currency, due)] = found.get((currency, due), 0) + amount
    return found
