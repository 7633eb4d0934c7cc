"""The portfolio (/portfolio, GET /api/portfolio): aging per customer in the base currency, filtered, sorted
and paged in SQL.

This is the live query: the answer for a day the maintained balances (customer_balances.py, read by
portfolio_balances.py) are not rolled for, and the reference they are tested against. Three queries
whatever the book's size: the customers in the sort's order with the number of rows (grouped
in SQL over the open invoices), a page's buckets per invoice currency (converted here with Decimal, to the
cent), and the filtered book's totals per currency and due date (portfolio_pages.py keeps the first and the
last per filter until the book changes). Sorting by an amount
uses the same rates inside SQL; the amounts shown are always the exact Decimal conversions. A currency
without a stored rate is never guessed: its rows and totals are flagged and left unconverted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from workflows.credit.customer_balances import bucket_conditions, open_invoices, rate_of
from workflows.credit.fx import FxRate, MissingRate, rate_on
from workflows.credit.models import Customer, Invoice
from workflows.credit.provisions import BUCKETS, bucket_of

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SORTS = ("total", "overdue", "over_90", "name", "grade")
TABS = ("all", "key", "top")
# The buckets past 90 days and the overdue ones (provisions.BUCKETS: not_due, 1-30, ..., over 120).
OVER_90 = ("days_91_120", "over_120")
OVERDUE = tuple(b for b in BUCKETS if b != "not_due")
TOP_DEFAULT, TOP_MAX = 20, 200


@dataclass(frozen=True)
class PortfolioFilter:
    """What the page, the exports and the API filter by; None means any. `key_customer` True is the key
    customers tab; `top` the top-N exposures tab (largest totals in the base currency first)."""

    grade: str | None = None
    region: str | None = None
    industry: str | None = None
    sales_owner: str | None = None
    currency: str | None = None
    key_customer: bool | None = None
    sort: str = "total"
    descending: bool = True
    top: int | None = None


class BucketSums:
    """The sums a row and the totals show, of their `buckets` in the base currency: the converted part
    (all of it unless a rate is missing: then the page flags it)."""

    buckets: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return sum((self.buckets[b] for b in OVERDUE), ZERO)

    @property
    def over_90(self) -> Decimal:
        return sum((self.buckets[b] for b in OVER_90), ZERO)


@dataclass
class PortfolioRow(BucketSums):
    customer_id: int
    external_id: str | None
    name: str
    grade: str | None
    region: str | None
    industry: str
    sales_owner: str | None
    currency: str
    key_customer: bool
    account_owner: str | None
    # Amounts in the base currency per bucket; an invoice currency without a rate is in `unconverted`.
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    unconverted: dict[str, Decimal] = field(default_factory=dict)  # currency -> open amount in it

    @property
    def rate_missing(self) -> bool:
        return bool(self.unconverted)


@dataclass
class PortfolioTotals(BucketSums):
    """The filtered book's totals in the base currency; `unconverted` open amounts per currency without a
    rate (not in the totals: flagged on the page)."""

    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    unconverted: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Portfolio:
    as_of: date
    base: str
    rows: list[PortfolioRow]
    total_rows: int
    page: int
    per_page: int
    totals: PortfolioTotals
    rates: dict[str, Decimal]  # the rates used: units of the base currency per unit

    @property
    def total(self) -> int:  # what the pager (macros/pager.html) calls the number of rows
        return self.total_rows

    @property
    def pages(self) -> int:
        return max(1, -(-self.total_rows // self.per_page))


def current_rates(session: Session, as_of: date, base: str) -> dict[str, Decimal]:
    """The latest stored rate on or before `as_of` of every currency that has one, and 1 for the base
    (one small query per currency of the rate table, never one per customer)."""
    rates = {base: Decimal(1)}
    for currency in session.scalars(select(FxRate.currency).distinct()):
        try:
            rates[currency] = rate_on(session, currency, as_of, base)
        except MissingRate:
            continue  # only later rates: none yet on `as_of`
    return rates


def _bucket_conditions(as_of: date) -> list[ColumnElement[bool]]:
    """SQL conditions on the due date for each of BUCKETS, in order (customer_balances.bucket_conditions,
    the one definition the maintained balances use too)."""
    return bucket_conditions(Invoice.due_date, as_of)


def _open_invoices(as_of: date) -> list[ColumnElement[bool]]:
    """The invoices the aging counts on `as_of`: open, with something left, issued by then (read from the
    covering index ix_invoices_open_aging: status, customer, currency, due date, issue date, amount)."""
    return open_invoices(Invoice, as_of)


def _customer_conditions(flt: PortfolioFilter) -> list[ColumnElement[bool]]:
    conditions = [
        column == value
        for column, value in (
            (Customer.grade, flt.grade),
            (Customer.region, flt.region),
            (Customer.industry, flt.industry),
            (Customer.sales_owner, flt.sales_owner),
            (Customer.currency, flt.currency),
        )
        if value is not None
    ]
    if flt.key_customer is not None:
        conditions.append(Customer.key_customer.is_(flt.key_customer))
    return conditions


def _invoices_of_filter(flt: PortfolioFilter, as_of: date) -> list[ColumnElement[bool]]:
    """Open invoices of the customers the filter keeps (an IN over the customers' conditions, if any)."""
    conditions = _open_invoices(as_of)
    wanted = _customer_conditions(flt)
    if wanted:
        conditions.append(Invoice.customer_id.in_(select(Customer.id).where(*wanted)))
    return conditions


def _rate_of(currency: Any, rates: Mapping[str, Decimal]) -> Any:
    """The rate of a currency column as SQL (customer_balances.rate_of: the maintained sort amounts use the
    very same expression, so both orders agree)."""
    return rate_of(currency, rates)


def _per_customer(flt: PortfolioFilter, as_of: date, rates: Mapping[str, Decimal]) -> Any:
    """Per customer with open invoices: `missing` (1 when an invoice currency has no rate) and `amount`,
    the sort's amount in the base currency. Summed per customer and currency first (in the covering
    index's order), so the rates apply once per group, not once per invoice."""
    cents = type_coerce(Invoice.open_amount, BigInteger)
    summed: Any
    if flt.sort == "overdue":
        summed = case((Invoice.due_date < as_of, cents), else_=0)
    elif flt.sort == "over_90":
        summed = case((Invoice.due_date < as_of - timedelta(days=90), cents), else_=0)
    else:
        summed = cents
    groups = (
        select(
            Invoice.customer_id.label("cid"), Invoice.currency.label("cur"), func.sum(summed).label("cents")
        )
        .where(*_invoices_of_filter(flt, as_of))
        .group_by(Invoice.customer_id, Invoice.currency)
        .subquery()
    )
    rate = _rate_of(groups.c.cur, rates)
    return (
        select(
            groups.c.cid,
            func.max(case((rate.is_(None), 1), else_=0)).label("missing"),
            func.sum(groups.c.cents * rate).label("amount"),
        )
        .group_by(groups.c.cid)
        .subquery()
    )


def _page_ids(
    session: Session,
    flt: PortfolioFilter,
    as_of: date,
    rates: Mapping[str, Decimal],
    page: int | None,
    per_page: int | None,
) -> tuple[list[int], int]:
    """The ids of one page of customers in the sort's order (all of them when `page` is None), and how
    many rows the filtered portfolio has. Key customers show without open invoices too (an outer join)."""
    agg = _per_customer(flt, as_of, rates)

    def direction(column: Any) -> Any:
        return column.desc() if flt.descending else column.asc()

    by_amount = flt.sort in ("total", "overdue", "over_90")
    if by_amount and not flt.key_customer:  # the customers table is not needed: its filters are in agg
        query = select(agg.c.cid.label("id"), func.count().over().label("rows"))
        order = [agg.c.missing.asc(), direction(agg.c.amount), agg.c.cid.asc()]
    else:
        query = select(Customer.id, func.count().over().label("rows"))
        query = query.join(agg, agg.c.cid == Customer.id, isouter=bool(flt.key_customer))
        query = query.where(*_customer_conditions(flt))
        if by_amount:
            order = [func.coalesce(agg.c.missing, 0).asc(), direction(func.coalesce(agg.c.amount, 0))]
        elif flt.sort == "grade":
            order = [Customer.grade.is_(None).asc(), direction(Customer.grade), Customer.name.asc()]
        else:
            order = [direction(Customer.name)]
        order.append(Customer.id.asc())
    query = query.order_by(*order)
    if page is not None and per_page is not None:
        query = query.limit(per_page).offset((page - 1) * per_page)
    found = session.execute(query).all()
    if found:
        return [row.id for row in found], found[0].rows
    if page is not None and page > 1:  # a page beyond the end: count the rows without one
        return [], _count(session, flt, as_of, rates)
    return [], 0


def _count(session: Session, flt: PortfolioFilter, as_of: date, rates: Mapping[str, Decimal]) -> int:
    if flt.key_customer:  # every key customer (with or without open invoices) the filter keeps
        return session.scalar(select(func.count()).where(*_customer_conditions(flt))) or 0
    agg = _per_customer(flt, as_of, rates)
    return session.scalar(select(func.count()).select_from(agg)) or 0


def row_heads(session: Session, ids: list[int]) -> dict[int, PortfolioRow]:
    """The rows of `ids` with their customer columns and no amounts yet."""
    customers = session.execute(
        select(
            Customer.id,
            Customer.external_id,
            Customer.name,
            Customer.grade,
            Customer.region,
            Customer.industry,
            Customer.sales_owner,
            Customer.currency,
            Customer.key_customer,
            Customer.account_owner,
        ).where(Customer.id.in_(ids))
    ).all()
    return {c.id: PortfolioRow(c.id, *tuple(c)[1:]) for c in customers}


def _rows(session: Session, ids: list[int], as_of: date, rates: Mapping[str, Decimal]) -> list[PortfolioRow]:
    """The rows of `ids` in that order, with their buckets per invoice currency converted exactly."""
    if not ids:
        return []
    rows = row_heads(session, ids)
    # Bucketed in SQL here: the largest customers have hundreds of open invoices (one row per due date
    # would cost more in Python than the whole query).
    cents = type_coerce(Invoice.open_amount, BigInteger)
    as_sum = [func.sum(case((condition, cents), else_=0)) for condition in _bucket_conditions(as_of)]
    query = (
        select(Invoice.customer_id, Invoice.currency, *as_sum)
        .where(*_open_invoices(as_of), Invoice.customer_id.in_(ids))
        .group_by(Invoice.customer_id, Invoice.currency)
    )
    for cid, currency, *amounts in session.execute(query):
        sums = {b: _hundredths(a) for b, a in zip(BUCKETS, amounts, strict=True)}
        _add(rows[cid].buckets, rows[cid].unconverted, currency, sums, rates)
    return [rows[i] for i in ids]


def _hundredths(value: Any) -> Decimal:
    """A sum of stored hundredths (an int, or a NUMERIC on PostgreSQL) as an amount."""
    return ZERO if value is None else (Decimal(value) / 100).quantize(CENT)


def _add(
    buckets: dict[str, Decimal],
    unconverted: dict[str, Decimal],
    currency: str,
    amounts: Mapping[str, Decimal],
    rates: Mapping[str, Decimal],
) -> None:
    """Add one currency's bucket sums, converted at its rate (to the cent, per bucket), or as unconverted."""
    rate = rates.get(currency)
    if rate is None:
        unconverted[currency] = unconverted.get(currency, ZERO) + sum(amounts.values(), ZERO)
        return
    for bucket, amount in amounts.items():
        buckets[bucket] += (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def totals_of(rows: list[PortfolioRow]) -> PortfolioTotals:
    """The totals of some rows (the top exposures tab's totals are those of its N rows)."""
    totals = PortfolioTotals()
    for row in rows:
        for bucket, amount in row.buckets.items():
            totals.buckets[bucket] += amount
        for currency, amount in row.unconverted.items():
            totals.unconverted[currency] = totals.unconverted.get(currency, ZERO) + amount
    return totals


def portfolio_totals(
    session: Session, flt: PortfolioFilter, as_of: date, rates: Mapping[str, Decimal]
) -> PortfolioTotals:
    """The filtered portfolio's totals: summed per currency and due date in SQL (a few hundred due dates
    per currency, read from ix_invoices_open_totals), bucketed and converted here."""
    cents = func.sum(type_coerce(Invoice.open_amount, BigInteger))
    keys = (Invoice.currency, Invoice.due_date)
    query = select(*keys, cents).where(*_invoices_of_filter(flt, as_of)).group_by(*keys)
    sums: dict[str, dict[str, Decimal]] = {}
    for currency, due, amount in session.execute(query):
        found = sums.setdefault(currency, dict.fromkeys(BUCKETS, ZERO))
        found[bucket_of(due, as_of)] += _hundredths(amount)
    totals = PortfolioTotals()
    for currency, amounts in sums.items():
        _add(totals.buckets, totals.unconverted, currency, amounts, rates)
    return totals
