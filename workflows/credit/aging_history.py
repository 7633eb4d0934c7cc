"""The dashboard's portfolio views, aggregated in SQL: the aging by bucket at each of the last month ends,
and the largest exposures, in the base currency.

"Open at a day" is the provision run's view (provisions.open_balances_on): invoices issued by the day, with
their open amount today plus what payments dated after the day, and write-offs and credit notes posted
after it, took off. Here the four parts are summed per (day, currency, bucket) or per (customer, currency)
by the database, over all month ends in one statement each, so the work does not grow with the number of
customers in Python. Each currency is converted at its stored rate of the day, per bucket, to the cent (as
GET /api/aging does); a currency without a rate is named and leaves that day's total empty: never a guess.

The dashboard reads a past month end from its provision snapshot when it has one (aging_snapshots.py);
only the others and the day asked for are computed here, from the ledger.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from workflows.credit.customer_balances import rate_of
from workflows.credit.disputes import CreditNote
from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.models import Customer, Invoice, InvoiceStatus, Payment, PaymentAllocation
from workflows.credit.provisions import BUCKETS
from workflows.credit.record_fields import money_text
from workflows.credit.write_offs import WriteOff
from workflows.store.models import UTCDateTime

ZERO = Decimal("0.00")
MONTHS = 12
TOP_N = 10
MARGIN = 10  # customers ranked by the database beyond the top N, ranked exactly among them (top_exposures)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def chart_days(as_of: date, months: int = MONTHS) -> list[date]:
    """The days of a 12-point monthly chart ending on `as_of`: the month ends before it, then `as_of` itself
    (the current month so far; a month end when `as_of` is one), oldest first."""
    days = [as_of]
    current = as_of.replace(day=1) - timedelta(days=1)
    while len(days) < months:
        days.append(current)
        current = current.replace(day=1) - timedelta(days=1)
    return days[::-1]


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def _days_table(days: Sequence[date]) -> CTE:
    """One row per day: its index, the day, its last instant and the bucket bounds (due on or after
    `b0` is not due, on or after `b30` is 1-30 days past due, ...)."""
    rows = [
        select(
            literal(i, Integer).label("idx"),
            literal(day, Date).label("day"),
            literal(_end_of(day), UTCDateTime).label("end_ts"),
            *(literal(day - timedelta(days=n), Date).label(f"b{n}") for n in (0, 30, 60, 90, 120)),
        )
        for i, day in enumerate(days)
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("chart_days")


def _bucket(days: CTE, due: Any = Invoice.due_date) -> ColumnElement[Any]:
    """The aging bucket's index in BUCKETS of a due date at each day (literals, not parameters: the
    expression is grouped by)."""
    bounds = [due >= days.c[f"b{n}"] for n in (0, 30, 60, 90, 120)]
    return case(
        *((bound, literal_column(str(i))) for i, bound in enumerate(bounds)), else_=literal_column("5")
    )


def _open_parts(
    days: CTE, keys: Sequence[ColumnElement[Any]], *, settled_only: bool = False
) -> list[Select[Any]]:
    """The parts of the amount open at each day's end, each as (*keys, amount) rows; their sum per key is
    the open balance (provisions.open_balances_on, for many days at once). `settled_only`: without the
    invoices open or paid today (`_spans` counts those), so only the few written off or credited since."""
    issued = Invoice.issue_date <= days.c.day
    written_later = exists().where(WriteOff.invoice_id == Invoice.id, WriteOff.posted_at > days.c.end_ts)
    credited_later = exists().where(CreditNote.invoice_id == Invoice.id, CreditNote.posted_at > days.c.end_ts)
    settled_later = or_(
        and_(Invoice.status == InvoiceStatus.WRITTEN_OFF, written_later),
        and_(Invoice.status == InvoiceStatus.CREDITED, credited_later),
    )
    # Settled only: the invoices a write-off or credit note ever touched (few), found by their ids rather
    # than by a scan of every invoice for every day.
    touched = Invoice.id.in_(union(select(WriteOff.invoice_id), select(CreditNote.invoice_id)))
    open_then = (
        and_(touched, settled_later)
        if settled_only
        else or_(Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PAID)), settled_later)
    )
    now_open = (
        select(*keys, Invoice.open_amount.label("amount"))
        .select_from(Invoice)
        .join(days, issued)
        .where(open_then, Invoice.status != InvoiceStatus.PAID)
    )
    paid_later = (
        select(*keys, PaymentAllocation.amount.label("amount"))
        .select_from(Invoice)
        .join(days, issued)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.paid_on > days.c.day, open_then)
    )
    written_off_later = (
        select(*keys, WriteOff.amount.label("amount"))
        .select_from(Invoice)
        .join(days, issued)
        .join(WriteOff, WriteOff.invoice_id == Invoice.id)
        .where(WriteOff.posted_at > days.c.end_ts)
    )
    # A credit note took off its amount less what went to the customer's balance (two parts: a difference
    # of two Decimal2 columns would come back as raw hundredths).
    credited = [
        select(*keys, column.label("amount"))
        .select_from(Invoice)
        .join(days, issued)
        .join(CreditNote, CreditNote.invoice_id == Invoice.id)
        .where(CreditNote.posted_at > days.c.end_ts)
        for column in (CreditNote.amount, -CreditNote.to_balance)
    ]
    return [now_open, paid_later, written_off_later, *credited]


def _day_index(column: Any, days: Sequence[date]) -> ColumnElement[Any]:
    """The index of the first of `days` (ascending) on or after the column's date; len(days) after all."""
    return case(*((column <= day, i) for i, day in enumerate(days)), else_=len(days))


def _spans(days: Sequence[date]) -> Any:
    """The invoices open or paid today, summed per (currency, due date, lo, hi): open at the end of the
    days with index lo <= k < hi. Open ones from their issue to today; each payment's allocation from the
    invoice's issue until the payment's date. One pass over the invoices, no row per day: the days are
    crossed only with these sums (the grouping is outside the CASE expressions, which carry parameters)."""
    issued = _day_index(Invoice.issue_date, days)
    open_now = select(
        Invoice.currency.label("currency"),
        Invoice.due_date.label("due"),
        issued.label("lo"),
        literal(len(days), Integer).label("hi"),
        Invoice.open_amount.label("amount"),
    ).where(Invoice.status == InvoiceStatus.OPEN, Invoice.issue_date <= days[-1])
    paid_later = (
        select(
            Invoice.currency,
            Invoice.due_date,
            issued,
            _day_index(Payment.paid_on, days),
            PaymentAllocation.amount,
        )
        .select_from(Invoice)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PAID)),
            Invoice.issue_date <= days[-1],
            Payment.paid_on > days[0],
        )
    )
    rows = union_all(open_now, paid_later).subquery("spans")
    return (
        select(rows.c.currency, rows.c.due, rows.c.lo, rows.c.hi, func.sum(rows.c.amount).label("amount"))
        .where(rows.c.lo < rows.c.hi)
        .group_by(rows.c.currency, rows.c.due, rows.c.lo, rows.c.hi)
        .subquery("spans_grouped")
    )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class AgingPoint:
    """The aging at one day's end: per bucket in the base currency (None when a currency has no rate)."""

    day: date
    buckets: dict[str, Decimal] | None
    missing_rates: list[str] = field(default_factory=list)
    # The provision run this point was read from (its month end's snapshot), None when computed live.
    snapshot: str | None = None

    @property
    def total(self) -> Decimal | None:
        return None if self.buckets is None else sum(self.buckets.values(), ZERO)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "buckets": None if self.buckets is None else {b: money_text(v) for b, v in self.buckets.items()},
            "total": None if self.total is None else money_text(self.total),
            "missing_rates": self.missing_rates,
            "snapshot": self.snapshot,
        }


def aging_history(session: Session, days: Sequence[date], base: str) -> list[AgingPoint]:
    """The aging by bucket at the end of each of `days` (ascending), in `base` at each day's rates."""
    if list(days) != sorted(set(days)):
        raise ValueError("the days of an aging history are distinct and in ascending order")
    table = _days_table(days)
    spans = _spans(days)
    common = (
        select(
            table.c.idx.label("idx"),
            spans.c.currency.label("currency"),
            _bucket(table, spans.c.due).label("bucket"),
            spans.c.amount.label("amount"),
        )
        .select_from(spans)
        .join(table, and_(table.c.idx >= spans.c.lo, table.c.idx < spans.c.hi))
    )
    keys: list[ColumnElement[Any]] = [
        table.c.idx.label("idx"),
        Invoice.currency.label("currency"),
        _bucket(table).label("bucket"),
    ]
    parts = union_all(common, *_open_parts(table, keys, settled_only=True)).subquery("parts")
    rows = session.execute(
        select(parts.c.idx, parts.c.currency, parts.c.bucket, func.sum(parts.c.amount)).group_by(
            parts.c.idx, parts.c.currency, parts.c.bucket
        )
    ).all()
    per_day: dict[int, dict[str, dict[str, Decimal]]] = {}
    for idx, currency, bucket, amount in rows:
        sums = per_day.setdefault(idx, {}).setdefault(currency, dict.fromkeys(BUCKETS, ZERO))
        sums[BUCKETS[int(bucket)]] += amount or ZERO
    points = []
    for idx, day in enumerate(days):
        by_currency = per_day.get(idx, {})
        buckets: dict[str, Decimal] | None = dict.fromkeys(BUCKETS, ZERO)
        missing = []
        for currency, sums in sorted(by_currency.items()):
            if not any(sums.values()):
                continue
            try:
                rate = rate_on(session, currency, day, base)
            except MissingRate:
                missing.append(currency)
                continue
            if buckets is not None:
                for b in BUCKETS:
                    buckets[b] += _cents(sums[b] * rate)
        points.append(AgingPoint(day, None if missing else buckets, missing))
    return points


@dataclass(frozen=True)
class Exposure:
    customer_id: int
    name: str
    currency: str
    open_amount: Decimal  # in `currency`: the invoices' one, or the base when they are in several
    in_base: Decimal


@dataclass
class Exposures:
    as_of: date
    total: Decimal | None  # all open receivables in the base currency (None when a rate is missing)
    top: list[Exposure]
    missing_rates: list[str]

    def share(self, exposure: Exposure) -> Decimal | None:
        if not self.total:
            return None
        return (exposure.in_base * 100 / self.total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def top_exposures(session: Session, as_of: date, base: str, limit: int = TOP_N) -> Exposures:
    """The customers owing the most at the end of `as_of` (open receivables in the base currency), ranked by
    the database at the day's rates; customers in a currency without a rate are left out and named."""
    table = _days_table([as_of])
    keys: list[ColumnElement[Any]] = [
        Invoice.customer_id.label("customer_id"),
        Invoice.currency.label("currency"),
    ]
    parts = union_all(*_open_parts(table, keys)).subquery("parts")
    per_currency = dict(
        session.execute(select(parts.c.currency, func.sum(parts.c.amount)).group_by(parts.c.currency)).all()
    )
    rates: dict[str, Decimal] = {}
    missing = []
    for currency, amount in sorted(per_currency.items()):
        if not amount:
            continue
        try:
            rates[currency] = rate_on(session, currency, as_of, base)
        except MissingRate:
            missing.append(currency)
    total = None if missing else sum((_cents(a * rates[c]) for c, a in per_currency.items() if a), ZERO)
    if not rates:
        return Exposures(as_of, total, [], missing)
    # Ranked by the database at the full rates (an exact NUMERIC on PostgreSQL, REAL on SQLite: a rate cut
    # to four places left out a CNY debtor larger than the ten shown), `limit` + MARGIN of them; the exact
    # amounts of those are summed again below in Decimal, ranked by them and cut at `limit`, so customers
    # within a rounding of each other are ordered by what is shown, as the maintained balances' answer
    # (dashboard_balances._largest; tests/attacks/test_kpi_fast_path_attack.py).
    ranked = (
        select(parts.c.customer_id)
        .where(parts.c.currency.in_(list(rates)))
        .group_by(parts.c.customer_id)
        .order_by(func.sum(parts.c.amount * rate_of(parts.c.currency, rates)).desc(), parts.c.customer_id)
        .limit(limit + MARGIN)
    )
    chosen = [cid for (cid,) in session.execute(ranked)]
    exact = session.execute(
        select(parts.c.customer_id, parts.c.currency, func.sum(parts.c.amount))
        .where(parts.c.customer_id.in_(chosen), parts.c.currency.in_(list(rates)))
        .group_by(parts.c.customer_id, parts.c.currency)
    ).all()
    names = dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(chosen))).all())
    amounts: dict[int, dict[str, Decimal]] = {}
    for cid, currency, amount in exact:
        amounts.setdefault(cid, {})[currency] = amount or ZERO
    top = []
    for cid in chosen:
        owed = amounts.get(cid, {})
        in_base = sum((_cents(a * rates[c]) for c, a in owed.items()), ZERO)
        if in_base <= 0:
            continue
        (currency, amount) = next(iter(owed.items())) if len(owed) == 1 else (base, in_base)
        top.append(Exposure(cid, names.get(cid, f"#{cid}"), currency, amount, in_base))
    top.sort(key=lambda e: (-e.in_base, e.customer_id))
    return Exposures(as_of, total, top[:limit], missing)
