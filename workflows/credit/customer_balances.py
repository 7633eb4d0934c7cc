"""Maintained per-customer balances for the portfolio (issue 17): one row per customer and invoice currency
with the open amount per aging bucket, and one row per customer with its base-currency sort amounts and
filter columns, both as of one roll date. /portfolio and GET /api/portfolio then read one row per customer
instead of grouping ~366,000 open invoices on every request.

Why this shape:
- `customer_balances` (customer, currency): the bucket sums a page row and the totals need, in the invoice
  currency (Decimal2 hundredths, exact); converted on reading at the day's rates, as the live query did.
- `customer_exposures` (customer): the sort amounts (total, overdue, over 90 days) in the base currency at
  the roll's rates, computed in SQL with the very expression the live query sorts by (so the order is the
  same to the last digit on each engine), the rate_missing flag, and the customer's filter columns copied
  (grade, region, industry, sales owner, currency, key customer), so a filtered page, its count and its
  totals are index range reads, never a scan of the customers table. Indexes serve the default sort, and
  each filter with it.
- `customer_balance_sums`: the unfiltered totals per currency and bucket, moved by each refresh by the
  difference it makes, in a few rows per currency (see BalanceSum), so the default page sums ~50 rows.
- `customer_balance_rolls`: one row (id 1) saying for which day (`rolled_on`), base currency and rates
  (JSON: currency -> rate text) the two tables hold. One row, not a column per balance row: a roll then
  changes its day atomically with the rows, and a posting reads one row to know the day it computes for.

Kept in step in the same transaction by an ORM flush hook (`after_flush`): every flush that adds, deletes
or changes an invoice's customer, currency, status, open amount, issue or due date, or a customer's filter
columns, recomputes those customers' rows from their invoices (a few each). All postings of creditflow
(invoices, imports, payments, credit notes, write-offs, the demo seed) go through the ORM, so one hook
catches every path, including tests that add invoices directly. A bulk ORM statement on invoices or
customers (`session.execute(update(Invoice)...)`) cannot be followed row by row: it marks the tables not
rolled (`rolled_on` NULL), so readers fall back to the live query until the next roll. Core writes that
bypass the ORM (the benchmarks' bulk seeders) must roll afterwards.

Concurrency: a posting reads the roll row FOR SHARE and locks its customers' rows (FOR NO KEY UPDATE) in
id order before replacing their balance rows, so a roll (FOR UPDATE on the roll row) never interleaves with
it and two postings for one customer cannot insert its rows twice (PostgreSQL; SQLite serialises writers).

This module imports nothing of the credit package (workflows/credit/models.py imports it, so the hook is
registered in every process that can write an invoice); it finds the invoices and customers tables on
Base.metadata when it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Numeric,
    Table,
    and_,
    case,
    cast,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from workflows.credit.customer_balance_tables import (
    _BALANCES,
    _EXPOSURES,
    _ROLLS,
    _SUMS,
    BALANCE_FILTERS,
    SHARDS,
    BalanceRoll,
)
from workflows.store.models import Base

# provisions.BUCKETS (not imported: see the module's docstring), the columns of customer_balances.
BUCKETS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "days_91_120", "over_120")
OVERDUE = BUCKETS[1:]
OVER_90 = ("days_91_120", "over_120")
ROLL_ID = 1
CHUNK = 500  # customer ids per statement of a refresh
# What of an invoice moves its customer's balances; what of a customer its exposure row copies.
INVOICE_FIELDS = ("customer_id", "currency", "status", "open_amount", "issue_date", "due_date")
CUSTOMER_FIELDS = ("grade", "region", "industry", "sales_owner", "currency", "key_customer")
OPEN = "open"  # InvoiceStatus.OPEN


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def bucket_conditions(due: Any, as_of: date) -> list[ColumnElement[bool]]:
    """SQL conditions on a due date column for each of BUCKETS, in order (provisions.bucket_of's bounds:
    not due on or after `as_of`, then 1-30, 31-60, 61-90, 91-120 days past it, then over 120)."""
    bounds = [as_of - timedelta(days=d) for d in (0, 30, 60, 90, 120)]
    between = [and_(due < newer, due >= older) for newer, older in zip(bounds, bounds[1:], strict=False)]
    return [due >= as_of, *between, due < bounds[-1]]


def open_invoices(invoices: Any, as_of: date) -> list[ColumnElement[bool]]:
    """The invoices the aging counts on `as_of`: open, with something left, issued by then."""
    return [invoices.status == OPEN, invoices.open_amount > 0, invoices.issue_date <= as_of]


def rate_of(currency: Any, rates: Mapping[str, Decimal | str]) -> Any:
    """The rate of a currency column as SQL (NULL without one): sent as text and cast, an exact NUMERIC on
    PostgreSQL (SQLite orders by it as REAL). Used to order rows only; amounts shown are converted in
    Python to the cent."""
    return case(
        {code: cast(literal(str(value)), Numeric(30, 10)) for code, value in rates.items()},
        value=currency,
        else_=None,
    )


def _cents(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def _balances_select(as_of: date, customer_ids: list[int] | None) -> Any:
    """Per customer and currency, the open invoices' hundredths per bucket as of `as_of`."""
    inv = _table("invoices").c
    sums = [
        func.sum(case((cond, _cents(inv.open_amount)), else_=0)).label(bucket)
        for bucket, cond in zip(BUCKETS, bucket_conditions(inv.due_date, as_of), strict=True)
    ]
    query = select(inv.customer_id, inv.currency, *sums).where(*open_invoices(inv, as_of))
    if customer_ids is not None:
        query = query.where(inv.customer_id.in_(customer_ids))
    return query.group_by(inv.customer_id, inv.currency)


def _balance_rows_select(as_of: date, customer_ids: list[int] | None) -> Any:
    """_balances_select with the customer's filter columns (grouped first, then joined: one customer
    lookup per row, not per invoice)."""
    grouped = _balances_select(as_of, customer_ids).subquery()
    cus = _table("customers").c
    copies = [cus.grade, cus.region, cus.industry, cus.sales_owner, cus.currency, cus.key_customer]
    return select(
        grouped.c.customer_id, grouped.c.currency, *(grouped.c[b] for b in BUCKETS), *copies
    ).join_from(grouped, _table("customers"), cus.id == grouped.c.customer_id)


def _exposures_select(rates: Mapping[str, Decimal | str], customer_ids: list[int] | None) -> Any:
    """Per customer with balance rows: the sort amounts at `rates` and its filter columns."""
    bal = _BALANCES.c
    cus = _table("customers").c
    rate = rate_of(bal.currency, rates)

    def amount(buckets: Iterable[str]) -> Any:
        summed = sum((_cents(bal[b]) for b in buckets[1:]), _cents(bal[buckets[0]]))  # type: ignore[index]
        return func.sum(summed * rate)

    filters = [cus[c] for c in CUSTOMER_FIELDS]
    query = (
        select(
            bal.customer_id,
            func.max(case((rate.is_(None), 1), else_=0)),
            amount(BUCKETS),
            amount(OVERDUE),
            amount(OVER_90),
            *filters,
        )
        .join_from(_BALANCES, _table("customers"), cus.id == bal.customer_id)
        .group_by(bal.customer_id, *filters)
    )
    if customer_ids is not None:
        query = query.where(bal.customer_id.in_(customer_ids))
    return query


_BALANCE_COLUMNS = ["customer_id", "currency", *BUCKETS, *BALANCE_FILTERS]
_EXPOSURE_COLUMNS = [
    "customer_id",
    "rate_missing",
    "total_base",
    "overdue_base",
    "over_90_base",
    *CUSTOMER_FIELDS,
]


def _rebuild(
    conn: Connection, as_of: date, rates: Mapping[str, Decimal | str], ids: list[int] | None
) -> None:
    """Replace the rows of `ids` (None: of everyone) with what their invoices say as of `as_of`, and
    move the sums by the difference (a roll: recounted)."""
    balances, exposures = _BALANCES, _EXPOSURES
    before = {} if ids is None else _shard_sums(conn, ids)
    for table in (exposures, balances):
        gone = delete(table)
        conn.execute(gone if ids is None else gone.where(table.c.customer_id.in_(ids)))
    conn.execute(insert(balances).from_select(_BALANCE_COLUMNS, _balance_rows_select(as_of, ids)))
    conn.execute(insert(exposures).from_select(_EXPOSURE_COLUMNS, _exposures_select(rates, ids)))
    if ids is None:
        conn.execute(delete(_SUMS))
        conn.execute(insert(_SUMS).from_select(["currency", "shard", *BUCKETS], _shard_select(None)))
        return
    after = _shard_sums(conn, ids)
    for key in sorted(before.keys() | after.keys()):  # in key order: two postings lock rows alike
        old, new = before.get(key, (0,) * len(BUCKETS)), after.get(key, (0,) * len(BUCKETS))
        delta = {b: n - o for b, o, n in zip(BUCKETS, old, new, strict=True)}
        if any(delta.values()):
            _add_to_sums(conn, key, delta)


def _shard_select(ids: list[int] | None) -> Any:
    bal = _BALANCES.c
    shard = bal.customer_id % SHARDS
    query = select(bal.currency, shard, *(func.sum(_cents(bal[b])) for b in BUCKETS))
    if ids is not None:
        query = query.where(bal.customer_id.in_(ids))
    return query.group_by(bal.currency, shard)


def _shard_sums(conn: Connection, ids: list[int]) -> dict[tuple[str, int], tuple[int, ...]]:
    found = conn.execute(_shard_select(ids))
    return {(cur, int(shard)): tuple(int(v or 0) for v in sums) for cur, shard, *sums in found}


def _add_to_sums(conn: Connection, key: tuple[str, int], delta: Mapping[str, int]) -> None:
    """Add `delta` (hundredths per bucket) to one sums row, creating it at zero first when new."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    zero = dict.fromkeys(BUCKETS, 0)
    conn.execute(dialect.insert(_SUMS).values(currency=key[0], shard=key[1], **zero).on_conflict_do_nothing())
    cents = {b: _cents(_SUMS.c[b]) + delta[b] for b in BUCKETS}
    where = (_SUMS.c.currency == key[0]) & (_SUMS.c.shard == key[1])
    conn.execute(update(_SUMS).where(where).values(**cents))


def book_sums(conn: Connection) -> list[tuple[Any, ...]]:
    """Per currency, the book's open hundredths per bucket (the unfiltered totals)."""
    query = select(_SUMS.c.currency, *(func.sum(_cents(_SUMS.c[b])) for b in BUCKETS))
    found = conn.execute(query.group_by(_SUMS.c.currency))
    return [tuple(row) for row in found if any(row[1:])]  # a currency paid off leaves rows of zeros


def _roll_row(conn: Connection, *, lock: str | None) -> Any:
    query = select(_ROLLS).where(_ROLLS.c.id == ROLL_ID)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    return conn.execute(query).first()


def refresh_balances(session: Session, customer_ids: Iterable[int]) -> None:
    """Recompute these customers' balance and exposure rows from their invoices, as of the day and at the
    rates the tables are rolled for, in the caller's transaction. Nothing to do before the first roll."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    conn = session.connection()
    if not _has_tables(conn):
        return
    rolled = _roll_row(conn, lock="share")
    if rolled is None:  # before the first roll: the row is made (not rolled), so a roll waits for us
        _insert_roll_row(conn, base="")
        rolled = _roll_row(conn, lock="share")
    if rolled is None or rolled.rolled_on is None:
        return
    customers = _table("customers")
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        locked = select(customers.c.id).where(customers.c.id.in_(chunk)).order_by(customers.c.id)
        conn.execute(locked.with_for_update(key_share=True))
        _rebuild(conn, rolled.rolled_on, rolled.rates, chunk)


def _insert_roll_row(conn: Connection, *, base: str) -> None:
    """The roll row, not rolled, unless there is one. A posting before the first roll makes it too: its
    row lock (PostgreSQL: held by the uncommitted insert) then holds a concurrent first roll back until the
    posting commits, so the roll counts it; without it the roll read the invoices without the posting and
    the posting, finding no row, refreshed nothing (tests/attacks/test_balances_attack.py)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(_ROLLS)
        .values(id=ROLL_ID, rolled_on=None, base_currency=base, rates={})
        .on_conflict_do_nothing()
    )


def roll_balances(
    session: Session, as_of: date, base: str, rates: Mapping[str, Decimal], *, now: datetime
) -> bool:
    """Roll the tables to `as_of` at `rates` in the caller's transaction (every row recomputed from the
    invoices); False when they are rolled for exactly that already (nothing done)."""
    conn = session.connection()
    texts = {code: str(value) for code, value in sorted(rates.items())}
    _insert_roll_row(conn, base=base)
    rolled = _roll_row(conn, lock="update")
    if rolled.rolled_on == as_of and rolled.base_currency == base and rolled.rates == texts:
        return False
    _rebuild(conn, as_of, texts, None)
    conn.execute(
        update(_ROLLS)
        .where(_ROLLS.c.id == ROLL_ID)
        .values(rolled_on=as_of, base_currency=base, rates=texts, rolled_at=now)
    )
    return True


def rolled_for(session: Session, as_of: date, base: str, rates: Mapping[str, Decimal]) -> bool:
    """Whether the tables hold exactly `as_of` at these rates in `base` (else the reader goes live)."""
    conn = session.connection()
    if not _has_tables(conn):
        return False
    rolled = _roll_row(conn, lock=None)
    return (
        rolled is not None
        and rolled.rolled_on == as_of
        and rolled.base_currency == base
        and rolled.rates == {code: str(value) for code, value in sorted(rates.items())}
    )


def rolled_on(session: Session) -> date | None:
    conn = session.connection()
    rolled = _roll_row(conn, lock=None) if _has_tables(conn) else None
    return None if rolled is None else rolled.rolled_on


_TABLES_SEEN: set[int] = set()  # id() of engines whose database has the tables (never forgotten: cheap)


def _has_tables(conn: Connection) -> bool:
    """False on a database migrated only up to before 0014a (migration tests): nothing to keep then."""
    key = id(conn.engine)
    if key in _TABLES_SEEN:
        return True
    if not inspect(conn).has_table(BalanceRoll.__tablename__):
        return False
    _TABLES_SEEN.add(key)
    return True


# --- the hooks ----------------------------------------------------------------------------------------


def _changed(obj: Any, fields: Iterable[str]) -> list[Any]:
    """The values of `fields` before this flush of the ones that changed (an empty list: none changed)."""
    state = inspect(obj)
    before: list[Any] = []
    for name in fields:
        history = state.attrs[name].history
        if history.has_changes():
            before.append(history.deleted[0] if history.deleted else None)
    return before


def _touched(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in (*session.new, *session.deleted):
        if getattr(obj, "__tablename__", None) == "invoices":
            ids.add(obj.customer_id)
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        if table == "invoices":
            before = _changed(obj, INVOICE_FIELDS)
            if before:
                ids.add(obj.customer_id)
                old = inspect(obj).attrs.customer_id.history.deleted
                ids.update(i for i in old if i is not None)
        elif table == "customers" and _changed(obj, CUSTOMER_FIELDS):
            ids.add(obj.id)
    ids.discard(None)
    return ids


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    ids = _touched(session)
    if ids:
        refresh_balances(session, ids)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state: ORMExecuteState) -> None:
    """A bulk UPDATE, DELETE or INSERT of invoices or customers: marked not rolled (readers go live)."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    names = {m.local_table.name for m in state.all_mappers}  # type: ignore[attr-defined]
    if not names & {"invoices", "customers"}:
        return
    conn = state.session.connection()
    if _has_tables(conn):
        table = _ROLLS
        conn.execute(update(table).where(table.c.id == ROLL_ID).values(rolled_on=None))
