"""Aging buckets of open receivables and the provisions made on them: the deployed provision matrix over
the balances open on a day, and specific provisions, which replace the matrix for their customer and
follow its recoveries. Amounts stay in their currency per line; totals are in the base currency at the
stored rate of the day, and a currency without one stops the calculation (`MissingRates`)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflows.credit.disputes import CreditNote
from workflows.credit.fx import CENT, MissingRate, check_money_bound, rate_on
from workflows.credit.models import Customer, Invoice, InvoiceStatus, Payment, PaymentAllocation, Provision
from workflows.credit.provision_matrix import MATRIX_DECISION, Matrix, deployed_matrix
from workflows.credit.provision_tables import ProvisionRelease
from workflows.credit.record_fields import iso_text, money_text
from workflows.credit.write_offs import WriteOff, WriteOffProvisionUse
from workflows.definitions.decision_tables import output_values
from workflows.errors import Conflict
from workflows.messages import _
from workflows.store.audit import record_event

log = logging.getLogger(__name__)
# The aging view's buckets (the customer page, GET /api/aging); the provision matrix has its own, from
# bpmn/provision_matrix.dmn (to over 365 days).
BUCKETS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "days_91_120", "over_120")
MATRIX, SPECIFIC = "matrix", "specific"
ZERO = Decimal("0.00")


def days_past(as_of: date, due: date | None) -> int:
    """Days from `due` to `as_of` for the provision matrix; a due day no one can read (None: a hand edit on
    SQLite) as the oldest, as bucket_of puts it: provided for in full view, never a TypeError for the book."""
    return (as_of - (date.min if due is None else due)).days


def bucket_of(due: date | None, as_of: date) -> str:
    """The aging bucket of an amount due on `due`. A due day no one can read (None: a hand edit on SQLite)
    is put in the oldest bucket: its money stays in the totals, where it is most at risk, not hidden."""
    if due is None:
        return "over_120"
    days = (as_of - due).days
    if days <= 0:
        return "not_due"
    for bound, name in ((30, "days_1_30"), (60, "days_31_60"), (90, "days_61_90"), (120, "days_91_120")):
        if days <= bound:
            return name
    return "over_120"


def aging(session: Session, as_of: date, customer_id: int | None = None) -> dict[int, dict[str, Decimal]]:
    """Open balances per customer and bucket at the end of `as_of` (invoices issued by then, with what was
    paid or written off after it added back, as the provision run sees them)."""
    result: dict[int, dict[str, Decimal]] = {}
    for (cid, currency, due), amount in open_balances_on(session, as_of, customer_id).items():
        if due is None:
            log.warning(
                "customer %s: %s %s open with a due day no one can read, aged over 120", cid, amount, currency
            )
        buckets = result.setdefault(cid, dict.fromkeys(BUCKETS, Decimal("0.00")))
        buckets[bucket_of(due, as_of)] += amount
    return result


class MissingRates(Conflict):
    """Receivables or provisions in currencies without a stored rate: the run names them, never guesses."""

    def __init__(self, currencies: list[str], day: date, base: str) -> None:
        super().__init__(
            _(
                "no exchange rate into %(base)s on or before %(day)s for %(currencies)s: post one (POST "
                "/api/fx-rates or `creditflow import fx-rates`), then run the provisions again",
                base=base,
                day=day.isoformat(),
                currencies=", ".join(currencies),
            ),
            details={"missing_rates": currencies},
        )
        self.currencies = currencies


@dataclass(frozen=True)
class ProvisionLine:
    """A matrix line (one bucket, currency and rate) or a customer's specific provision (bucket
    "specific"); `balance` in `currency`, `balance_base` and `provision` in the base currency."""

    kind: str
    bucket: str
    currency: str
    balance: Decimal
    fx_rate: Decimal
    balance_base: Decimal
    rate: Decimal
    provision: Decimal
    customer_id: int | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        line = {
            "kind": self.kind,
            "bucket": self.bucket,
            "currency": self.currency,
            "balance": money_text(self.balance),
            "fx_rate": _plain(self.fx_rate),
            "balance_base": money_text(self.balance_base),
            "rate": _plain(self.rate),
            "provision": money_text(self.provision),
        }
        if self.kind == SPECIFIC:
            return {**line, "customer_id": self.customer_id, "name": self.name}
        return line


@dataclass
class ProvisionReport:
    as_of: date
    base_currency: str
    matrix: str  # which deployed table gave the rates
    buckets: tuple[str, ...]
    rates: dict[str, str]
    lines: list[ProvisionLine] = field(default_factory=list)

    def total(self, kind: str | None = None, column: str = "provision") -> Decimal:
        return sum((getattr(line, column) for line in self.lines if kind is None or line.kind == kind), ZERO)

    def as_dict(self) -> dict[str, Any]:
        by_bucket = {
            b: {
                "balance": money_text(self._bucket_sum(b, "balance_base")),
                "provision": money_text(self._bucket_sum(b, "provision")),
            }
            for b in self.buckets
        }
        return {
            "as_of": self.as_of.isoformat(),
            "base_currency": self.base_currency,
            "matrix": self.matrix,
            "buckets": list(self.buckets),
            "rates": self.rates,
            "by_bucket": by_bucket,
            "lines": [line.as_dict() for line in self.lines],
            "balance": money_text(self.total(column="balance_base")),
            "matrix_total": money_text(self.total(MATRIX)),
            "specific_total": money_text(self.total(SPECIFIC)),
            "total": money_text(self.total()),
        }

    def _bucket_sum(self, bucket: str, column: str) -> Decimal:
        return sum((getattr(line, column) for line in self.lines if line.bucket == bucket), ZERO)


def compute_provisions(
    session: Session, as_of: date, base: str, matrix: Matrix | None = None
) -> ProvisionReport:
    """The allowance at the end of `as_of`: the deployed matrix over the receivables open that day, and the
    specific provisions (which replace the matrix for their customers), in the base currency.

    Balances are as of the day: an invoice paid later counts with what was still open then.

    Raises:
        MatrixError: no usable provision matrix is deployed.
        MissingRates: naming every currency without a rate on or before `as_of`.

    `matrix`: another table than the deployed one (a what-if of an edited provision_matrix.dmn).
    """
    matrix = matrix or deployed_matrix(session, as_of)
    specific = specific_provisions_on(session, as_of)
    balances = open_balances_on(session, as_of)
    currencies = {c for (_, c, _) in balances} | {p.currency for p, _ in specific.values()}
    fx, missing = {}, []
    for currency in sorted(currencies):
        try:
            fx[currency] = rate_on(session, currency, as_of, base)
        except MissingRate:
            missing.append(currency)
    if missing:
        raise MissingRates(missing, as_of, base)
    grouped: dict[tuple[str, str, Decimal], Decimal] = {}
    customer_balance: dict[int, Decimal] = {}
    for (customer_id, currency, due), amount in balances.items():
        customer_balance[customer_id] = customer_balance.get(customer_id, ZERO) + amount
        if customer_id in specific:
            continue  # assessed individually: the specific provision replaces the matrix
        bucket, rate = matrix.rate_for(days_past(as_of, due))
        key = (bucket, currency, rate)
        grouped[key] = grouped.get(key, ZERO) + amount
    report = ProvisionReport(as_of, base, matrix.source, matrix.buckets, matrix_rates(matrix))
    order = {b: i for i, b in enumerate(matrix.buckets)}
    for (bucket, currency, rate), amount in sorted(
        grouped.items(), key=lambda kv: (order[kv[0][0]], kv[0][1:])
    ):
        in_base = _cents(amount * fx[currency])
        report.lines.append(
            ProvisionLine(
                MATRIX, bucket, currency, amount, fx[currency], in_base, rate, _cents(in_base * rate)
            )
        )
    names = dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(specific))).all())
    for customer_id, (provision, remaining) in sorted(specific.items()):
        rate = fx[provision.currency]
        balance = customer_balance.get(customer_id, ZERO)
        report.lines.append(
            ProvisionLine(
                SPECIFIC,
                SPECIFIC,
                provision.currency,
                balance,
                rate,
                _cents(balance * rate),
                provision.rate,
                _cents(remaining * rate),
                customer_id,
                names.get(customer_id),
            )
        )
    per_currency: dict[str, Decimal] = {}
    for line in report.lines:
        part = line.balance_base + line.provision
        per_currency[line.currency] = per_currency.get(line.currency, ZERO) + part
    what = "the receivables and their provisions"
    check_money_bound(what, per_currency, as_of, base, report.total(column="balance_base"), report.total())
    return report


def matrix_rates(matrix: Matrix) -> dict[str, str]:
    """Each bucket's rate as the table's cells write it (for the report; the run evaluates the table)."""
    cells = output_values(matrix.text, MATRIX_DECISION, "rate")
    return {
        bucket: _plain(Decimal(found.group(1)))
        for bucket, cell in zip(matrix.buckets, cells, strict=False)
        if (found := _RATE_CELL.fullmatch(cell.strip()))
    }


_RATE_CELL = re.compile(r'(?:Decimal\(\s*["\']?)?([0-9]+(?:\.[0-9]+)?)(?:["\']?\s*\))?')


def open_balances_on(
    session: Session, as_of: date, customer_id: int | None = None
) -> dict[tuple[int, str, date], Decimal]:
    """{(customer, currency, due date): amount open at the end of `as_of`} of invoices issued by then:
    today's open amount plus what payments dated after `as_of`, and write-offs and credit notes posted
    after it, took off (cancelled invoices are out). A run posted late for a month end (a rate came in
    after it) sees the book as it stood that day, not as it stands when posted."""
    end = _end_of(as_of)
    written_later = select(WriteOff.invoice_id).where(WriteOff.posted_at > end)
    credited_later = select(CreditNote.invoice_id).where(CreditNote.posted_at > end)
    open_then = or_(
        Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PAID)),
        (Invoice.status == InvoiceStatus.WRITTEN_OFF) & Invoice.id.in_(written_later),
        (Invoice.status == InvoiceStatus.CREDITED) & Invoice.id.in_(credited_later),
    )
    key = (Invoice.customer_id, Invoice.currency, Invoice.due_date)
    now_open = (
        select(*key, func.sum(Invoice.open_amount))
        .where(open_then, Invoice.status != InvoiceStatus.PAID, Invoice.issue_date <= as_of)
        .group_by(*key)
    )
    paid_later = (
        select(*key, func.sum(PaymentAllocation.amount))
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.paid_on > as_of, Invoice.issue_date <= as_of, open_then)
        .group_by(*key)
    )
    written_off_later = (
        select(*key, func.sum(WriteOff.amount))
        .join(WriteOff, WriteOff.invoice_id == Invoice.id)
        .where(WriteOff.posted_at > end, Invoice.issue_date <= as_of)
        .group_by(*key)
    )
    # What a credit note took off the invoice: its amount less what went to the customer's balance (summed
    # apart: a difference of two Decimal2 columns would come back as raw hundredths).
    credited = (
        select(*key, func.sum(CreditNote.amount), func.sum(CreditNote.to_balance))
        .join(CreditNote, CreditNote.invoice_id == Invoice.id)
        .where(CreditNote.posted_at > end, Invoice.issue_date <= as_of)
        .group_by(*key)
    )
    result: dict[tuple[int, str, date], Decimal] = {}
    if customer_id is not None:
        credited = credited.where(Invoice.customer_id == customer_id)
    for cid, currency, due, amount, to_balance in session.execute(credited):
        result[(cid, currency, due)] = result.get((cid, currency, due), ZERO) + amount - to_balance
    for query in (now_open, paid_later, written_off_later):
        if customer_id is not None:
            query = query.where(Invoice.customer_id == customer_id)
        for cid, currency, due, amount in session.execute(query):
            found = (cid, currency, due)
            result[found] = result.get(found, ZERO) + (amount or ZERO)
    return {found: amount for found, amount in result.items() if amount > 0}


def specific_provisions_on(session: Session, as_of: date) -> dict[int, tuple[Provision, Decimal]]:
    """{customer: (its specific provision, the amount of it left at the end of `as_of`)}.

    A recovery counts from its payment's date, as the balances do (open_balances_on): a bank line of 27
    February entered on 2 March recovered in February."""
    end = _end_of(as_of)
    recovered_later = (
        select(ProvisionRelease.provision_id)
        .join(Payment, Payment.id == ProvisionRelease.payment_id)
        .where(Payment.paid_on > as_of)
    )
    released = dict(
        session.execute(
            select(ProvisionRelease.provision_id, func.sum(ProvisionRelease.amount))
            .outerjoin(Payment, Payment.id == ProvisionRelease.payment_id)
            .where(
                or_(
                    ProvisionRelease.payment_id.is_(None) & (ProvisionRelease.at <= end),
                    ProvisionRelease.payment_id.is_not(None) & (Payment.paid_on <= as_of),
                )
            )
            .group_by(ProvisionRelease.provision_id)
        ).all()
    )
    for provision_id, amount in _write_off_uses(session, end):
        released[provision_id] = (released.get(provision_id) or ZERO) + amount
    found: dict[int, tuple[Provision, Decimal]] = {}
    for provision in session.scalars(
        select(Provision)
        .where(
            Provision.created_at <= end,
            or_(
                Provision.released_at.is_(None),
                Provision.released_at > end,
                Provision.id.in_(recovered_later),  # released whole by a payment dated after as_of
            ),
        )
        .order_by(Provision.id)
    ):
        left = provision.amount - (released.get(provision.id) or ZERO)
        if left <= 0:
            continue
        if provision.customer_id in found:  # a second case's provision on the same customer adds to it
            first, before = found[provision.customer_id]
            found[provision.customer_id] = (first, before + left)
        else:
            found[provision.customer_id] = (provision, left)
    return found


def _write_off_uses(session: Session, end: datetime) -> list[tuple[int, Decimal]]:
    """(provision, amount) of each use of a specific provision by a write-off posted by `end`."""
    rows = session.execute(
        select(WriteOffProvisionUse.provision_id, WriteOffProvisionUse.amount)
        .join(WriteOff, WriteOff.id == WriteOffProvisionUse.write_off_id)
        .where(WriteOff.posted_at <= end)
    )
    return [(provision_id, amount) for provision_id, amount in rows]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def audit_provision(session: Session, provision: Provision, *, actor: str, instance_id: int | None) -> None:
    """Audit a specific provision as booked (no `released_at` yet: it is new) or released, on its customer.

    Call it after setting `released_at` on a release, and after the flush that gives a new one its id.
    """
    released = provision.released_at is not None
    record_event(
        session,
        actor=actor,
        action="provision_released" if released else "provision_booked",
        now=provision.released_at or provision.created_at,
        instance_id=instance_id,
        customer_id=provision.customer_id,
        case_id=provision.case_id,
        provision_id=provision.id,
        reason=provision.reason,
        before={"released_at": None} if released else None,
        after={"released_at": iso_text(provision.released_at)}
        if released
        else {
            "amount": money_text(provision.amount),
            "currency": provision.currency,
            "rate": str(provision.rate),
        },
    )
