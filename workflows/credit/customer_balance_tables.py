"""The tables of the portfolio's maintained balances (migration 0014a); why this shape, and how they are
kept, is in workflows/credit/customer_balances.py. Nothing of the credit package is imported here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from workflows.store.models import Base, Decimal2

SORT_AMOUNT = Numeric(38, 10)  # cents x a rate of ten places: exact on PostgreSQL (REAL on SQLite, as live)


class CustomerBalance(Base):
    """A customer's open invoices in one currency, summed per aging bucket as of the roll's day."""

    __tablename__ = "customer_balances"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    not_due: Mapped[Decimal] = mapped_column(Decimal2)
    days_1_30: Mapped[Decimal] = mapped_column(Decimal2)
    days_31_60: Mapped[Decimal] = mapped_column(Decimal2)
    days_61_90: Mapped[Decimal] = mapped_column(Decimal2)
    days_91_120: Mapped[Decimal] = mapped_column(Decimal2)
    over_120: Mapped[Decimal] = mapped_column(Decimal2)
    # The customer's filter columns, copied (as in customer_exposures): a filter's totals are then one
    # range of a covering index below (filter, currency, buckets), no join, no table read.
    grade: Mapped[str | None] = mapped_column(String(1))
    region: Mapped[str | None] = mapped_column(String(80))
    industry: Mapped[str] = mapped_column(String(80))
    sales_owner: Mapped[str | None] = mapped_column(String(80))
    customer_currency: Mapped[str] = mapped_column(String(3))
    key_customer: Mapped[bool] = mapped_column(Boolean)


class CustomerExposure(Base):
    """A customer with open invoices: its sort amounts in the base currency at the roll's rates (None when
    no currency of it has a rate), whether a currency lacks one, and its filter columns (copied)."""

    __tablename__ = "customer_exposures"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    rate_missing: Mapped[int]  # 1 when an invoice currency has no rate: such rows sort last
    total_base: Mapped[Decimal | None] = mapped_column(SORT_AMOUNT)
    overdue_base: Mapped[Decimal | None] = mapped_column(SORT_AMOUNT)
    over_90_base: Mapped[Decimal | None] = mapped_column(SORT_AMOUNT)
    grade: Mapped[str | None] = mapped_column(String(1))
    region: Mapped[str | None] = mapped_column(String(80))
    industry: Mapped[str] = mapped_column(String(80))
    sales_owner: Mapped[str | None] = mapped_column(String(80))
    currency: Mapped[str] = mapped_column(String(3))
    key_customer: Mapped[bool] = mapped_column(Boolean)


# The default sort (total, largest first) with and without each filter; overdue and over 90 days largest
# first. Other orders (ascending, name, grade) sort the filter's rows, a few tens of thousands at most.
_EXPOSURES: Table = CustomerExposure.__table__  # type: ignore[assignment]
for _name, _first in (
    ("total", ()),
    ("grade", ("grade",)),
    ("region", ("region",)),
    ("industry", ("industry",)),
    ("sales_owner", ("sales_owner",)),
    ("currency", ("currency",)),
    ("key", ("key_customer",)),
):
    _key = [_EXPOSURES.c[c] for c in _first]
    Index(
        f"ix_customer_exposures_{_name}",
        *_key,
        _EXPOSURES.c.rate_missing,
        _EXPOSURES.c.total_base.desc(),
        _EXPOSURES.c.customer_id,
    )
for _column in ("overdue_base", "over_90_base"):
    Index(
        f"ix_customer_exposures_{_column.removesuffix('_base')}",
        _EXPOSURES.c.rate_missing,
        _EXPOSURES.c[_column].desc(),
        _EXPOSURES.c.customer_id,
    )


_BALANCES: Table = CustomerBalance.__table__  # type: ignore[assignment]
BALANCE_FILTERS = ("grade", "region", "industry", "sales_owner", "customer_currency", "key_customer")
for _column in BALANCE_FILTERS:
    Index(
        f"ix_customer_balances_{_column}",
        _BALANCES.c[_column],
        _BALANCES.c.currency,
        *(_BALANCES.c[b] for b in ("not_due", "days_1_30", "days_31_60", "days_61_90", "days_91_120")),
        _BALANCES.c.over_120,
    )
SHARDS = 16  # rows per currency in customer_balance_sums


class BalanceSum(Base):
    """The book's open amounts per currency and bucket (the unfiltered portfolio's totals), kept in
    SHARDS rows per currency (customer id modulo SHARDS) so concurrent postings for different customers
    rarely wait on one row; a reader sums a few dozen rows instead of every customer's."""

    __tablename__ = "customer_balance_sums"
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    not_due: Mapped[Decimal] = mapped_column(Decimal2)
    days_1_30: Mapped[Decimal] = mapped_column(Decimal2)
    days_31_60: Mapped[Decimal] = mapped_column(Decimal2)
    days_61_90: Mapped[Decimal] = mapped_column(Decimal2)
    days_91_120: Mapped[Decimal] = mapped_column(Decimal2)
    over_120: Mapped[Decimal] = mapped_column(Decimal2)


_SUMS: Table = BalanceSum.__table__  # type: ignore[assignment]


class BalanceRoll(Base):
    """The one row (id 1) naming the day, base currency and rates the balance tables hold; `rolled_on`
    None: not rolled (a new installation, or after a bulk statement the hook could not follow)."""

    __tablename__ = "customer_balance_rolls"
    id: Mapped[int] = mapped_column(primary_key=True)
    rolled_on: Mapped[date | None]
    base_currency: Mapped[str] = mapped_column(String(3))
    rates: Mapped[dict[str, Any]]  # currency -> the rate's text, units of the base currency per unit
    rolled_at: Mapped[datetime | None]


_ROLLS: Table = BalanceRoll.__table__  # type: ignore[assignment]
