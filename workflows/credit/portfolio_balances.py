"""The portfolio read from the maintained balances (workflows/credit/customer_balances.py): one row per
customer instead of the open invoices, when the tables are rolled for the day asked and its rates.

A page is three index reads whatever the book's size: the page's customer ids in the sort's order (LIMIT /
OFFSET over ix_customer_exposures_*), their number (a COUNT over the same index range), and the filter's
totals per currency (a covering index range of the filter's balance rows; no filter: the sums rows);
then the page's rows. The answers are those of the live query in workflows/credit/portfolio.py (the same
order, the same per-bucket conversion to the cent, the same flags for a currency without a rate), which
stays the answer for any other day (a past as_of) and before the first roll.

Rolling on reading: a request for a day the tables are behind (the first request after midnight, before
the daily job `balances_roll`; a new installation; a newly stored rate) rolls them first, in a transaction
of its own, so that day's later requests read the tables. A day before the roll's (a past as_of) is never
rolled back to: it is answered live. A caller already inside a transaction is answered from what is there
(or live), never blocked on a roll.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Engine, func, select, text, type_coerce
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import utcnow
from workflows.credit.customer_balance_tables import _BALANCES, _EXPOSURES
from workflows.credit.customer_balances import (
    BUCKETS,
    book_sums,
    roll_balances,
    rolled_for,
    rolled_on,
)
from workflows.credit.models import Customer
from workflows.credit.portfolio import (
    PortfolioFilter,
    PortfolioRow,
    PortfolioTotals,
    _add,
    _customer_conditions,
    _hundredths,
    current_rates,
    row_heads,
)
from workflows.store.db import transaction

E, B = _EXPOSURES.c, _BALANCES.c
logger = logging.getLogger(__name__)
ROLL_WAIT_MS = 2000  # how long a request's roll waits for PostgreSQL's locks before answering live
SORT_COLUMNS = {"total": E.total_base, "overdue": E.overdue_base, "over_90": E.over_90_base}


def ensure_rolled(session: Session, as_of: date, base: str) -> None:
    """Roll the balances to `as_of` first when they are behind it or hold other rates (see the module's
    docstring); nothing when the caller's session is in a transaction already or `as_of` is past."""
    if session.in_transaction():
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as reader:
        rates = current_rates(reader, as_of, base)
        if rolled_for(reader, as_of, base, rates):
            return
        day = rolled_on(reader)
    if day is not None and day > as_of:
        return
    try:
        with transaction(factory) as writer:  # rates read again under the roll's lock
            if writer.get_bind().dialect.name == "postgresql":  # SQLite: its busy timeout bounds the wait
                writer.execute(text(f"SET LOCAL lock_timeout = '{ROLL_WAIT_MS}ms'"))
            roll_balances(writer, as_of, base, current_rates(writer, as_of, base), now=utcnow())
    except OperationalError:
        # A long writer holds the lock (an import, a job; on PostgreSQL any posting in flight holds the
        # roll row FOR SHARE): a read is never failed nor held up for it. Answered live this time; a later
        # request or the daily job rolls (tests/attacks/test_balances_attack.py).
        logger.warning("portfolio balances not rolled to %s: the write lock is busy; answered live", as_of)


def usable(session: Session, as_of: date, base: str, rates: Mapping[str, Decimal]) -> bool:
    return rolled_for(session, as_of, base, rates)


def _conditions(flt: PortfolioFilter, rows: Any = E) -> list[ColumnElement[bool]]:
    """The filter on the exposure (or balance) rows' copies of the customer's columns."""
    currency = rows.currency if rows is E else rows.customer_currency
    conditions = [
        column == value
        for column, value in (
            (rows.grade, flt.grade),
            (rows.region, flt.region),
            (rows.industry, flt.industry),
            (rows.sales_owner, flt.sales_owner),
            (currency, flt.currency),
        )
        if value is not None
    ]
    if flt.key_customer is not None:
        conditions.append(rows.key_customer.is_(flt.key_customer))
    return conditions


def page_ids(
    session: Session, flt: PortfolioFilter, page: int | None, per_page: int | None
) -> tuple[list[int], int]:
    """The ids of one page in the sort's order (all when `page` is None) and the filter's number of rows:
    the live query's order (portfolio._page_ids), read from the exposure rows. The key customers tab keeps
    key customers without open invoices (an outer join from the customers, as live)."""

    def direction(column: Any) -> Any:
        return column.desc() if flt.descending else column.asc()

    amount = SORT_COLUMNS.get(flt.sort)
    query: Any
    if flt.key_customer:
        query = select(Customer.id).outerjoin(_EXPOSURES, E.customer_id == Customer.id)
        query = query.where(*_customer_conditions(flt))
        counted = select(func.count()).select_from(Customer).where(*_customer_conditions(flt))
        if amount is not None:
            order = [func.coalesce(E.rate_missing, 0).asc(), direction(func.coalesce(amount, 0))]
        else:
            order = _by_customer(flt, direction)
        order.append(Customer.id.asc())
    else:
        counted = select(func.count()).select_from(_EXPOSURES).where(*_conditions(flt))
        if amount is not None:
            query = select(E.customer_id).where(*_conditions(flt))
            order = [E.rate_missing.asc(), direction(amount), E.customer_id.asc()]
        else:
            query = (
                select(Customer.id).join(_EXPOSURES, E.customer_id == Customer.id).where(*_conditions(flt))
            )
            order = [*_by_customer(flt, direction), Customer.id.asc()]
    query = query.order_by(*order)
    if page is not None and per_page is not None:
        query = query.limit(per_page).offset((page - 1) * per_page)
    ids = list(session.scalars(query))
    total = len(ids) if page is None else session.scalar(counted) or 0
    return ids, total


def _by_customer(flt: PortfolioFilter, direction: Any) -> list[Any]:
    if flt.sort == "grade":
        return [Customer.grade.is_(None).asc(), direction(Customer.grade), Customer.name.asc()]
    return [direction(Customer.name)]


def totals(session: Session, flt: PortfolioFilter, rates: Mapping[str, Decimal]) -> PortfolioTotals:
    """The filter's totals: its balance rows (no filter: the book's sums rows) summed per currency and
    bucket in SQL, converted here (per currency and bucket, to the cent, as live)."""
    conditions = _conditions(flt, B)
    summed: Any
    if conditions:  # one range of a covering index ix_customer_balances_* (filter, currency, buckets)
        sums = [func.sum(type_coerce(B[b], BigInteger)) for b in BUCKETS]
        query = select(B.currency, *sums).where(*conditions).group_by(B.currency)
        summed = session.execute(query)
    else:  # the whole book: its sums rows, a few per currency
        summed = book_sums(session.connection())
    found = PortfolioTotals()
    for currency, *amounts in summed:
        in_currency = {b: _hundredths(a) for b, a in zip(BUCKETS, amounts, strict=True)}
        _add(found.buckets, found.unconverted, currency, in_currency, rates)
    return found


def rows(session: Session, ids: list[int], rates: Mapping[str, Decimal]) -> list[PortfolioRow]:
    """The rows of `ids` in that order, their buckets per invoice currency converted exactly."""
    if not ids:
        return []
    found = row_heads(session, ids)
    cents = [type_coerce(B[b], BigInteger) for b in BUCKETS]
    query = select(B.customer_id, B.currency, *cents).where(B.customer_id.in_(ids))
    for cid, currency, *amounts in session.execute(query.order_by(B.customer_id, B.currency)):
        in_currency = {b: _hundredths(a) for b, a in zip(BUCKETS, amounts, strict=True)}
        _add(found[cid].buckets, found[cid].unconverted, currency, in_currency, rates)
    return [found[i] for i in ids]
