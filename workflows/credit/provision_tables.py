"""Tables of the monthly provision run (migration 0012d): one snapshot per month end, its lines, and the
recoveries that released part of a specific provision.

A snapshot (`provision_runs`) holds the allowance at a month end in the base currency, and its movement
against the previous snapshot: `opening + charge - release - used = closing`. `used` is the allowance
consumed by write-offs in the period: the sum of `write_offs.provision_used` posted in it (the write-off
process fills that column when it posts), converted at the month end's rate; the rest of the change is
a `charge` (expense) or a `release` (income).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.credit.fx import Decimal10
from workflows.store.models import Base, Decimal2


class ReleaseKind:
    RECOVERY = "recovery"  # a payment recovered part of the provided receivables


class ProvisionRun(Base):
    """The allowance at a month end, in the base currency, and its movement since the previous run."""

    __tablename__ = "provision_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(unique=True)  # a month end; one run per month end
    base_currency: Mapped[str] = mapped_column(String(3))
    matrix: Mapped[str] = mapped_column(String(120))  # "provision_matrix.dmn of dunning v3"
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("provision_runs.id"))
    balance: Mapped[Decimal] = mapped_column(Decimal2)  # open receivables, base currency
    matrix_provision: Mapped[Decimal] = mapped_column(Decimal2)
    specific_provision: Mapped[Decimal] = mapped_column(Decimal2)
    opening: Mapped[Decimal] = mapped_column(Decimal2)  # the previous run's closing (0 for the first)
    charge: Mapped[Decimal] = mapped_column(Decimal2)  # added to the allowance (expense)
    release: Mapped[Decimal] = mapped_column(Decimal2)  # taken back (income)
    used: Mapped[Decimal] = mapped_column(Decimal2)  # consumed by write-offs in the period
    closing: Mapped[Decimal] = mapped_column(Decimal2)  # matrix + specific
    posted_by: Mapped[str] = mapped_column(String(80))
    posted_at: Mapped[datetime]


class ProvisionRunLine(Base):
    """One line of a snapshot: a bucket and currency of the matrix, or one customer's specific provision."""

    __tablename__ = "provision_run_lines"
    __table_args__ = (Index("ix_provision_run_lines_run", "run_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("provision_runs.id"))
    kind: Mapped[str] = mapped_column(String(10))  # matrix | specific
    bucket: Mapped[str] = mapped_column(String(40))  # the matrix bucket; "specific" for a specific line
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))  # specific lines
    balance: Mapped[Decimal] = mapped_column(Decimal2)  # in `currency`
    fx_rate: Mapped[Decimal] = mapped_column(Decimal10)  # base units per unit of `currency` on as_of
    balance_base: Mapped[Decimal] = mapped_column(Decimal2)
    rate: Mapped[Decimal] = mapped_column(Decimal10)  # provision rate (matrix) or provided share (specific)
    provision: Mapped[Decimal] = mapped_column(Decimal2)  # base currency


class ProvisionRelease(Base):
    """A release of part of a specific provision (in the provision's currency), with who and why."""

    __tablename__ = "provision_releases"
    __table_args__ = (Index("ix_provision_releases_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # ReleaseKind
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    reference: Mapped[str] = mapped_column(String(200), default="")  # what else names the release
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]
