"""The dashboard's views of today read from the maintained balances (workflows/credit/customer_balances.py)
instead of the ledger: the aging by bucket on the day asked, and the largest exposures. At 1,000,000
invoices the ledger's aggregation takes seconds; here it is a few index reads: the book's sums rows (a few
per currency), the largest customers in the order of ix_customer_exposures_total, and their balance rows.

The answers are those of aging_history.aging_history and aging_history.top_exposures for that day, which
stay the answer whenever the tables cannot give it (None here):
- the tables are not rolled for exactly that day, base currency and rates (a past as_of, before the first
  roll, a newly stored rate): as the portfolio (portfolio_balances.usable);
- something dated after the day was already posted: a payment with a later value date, a write-off or a
  credit note posted after the day's end (index lookups: ix_payments_paid_on, ix_credit_notes_posted_at).
  The dashboard's "open at the day's end" then counts it as still open while the balances (today's open
  amounts) do not;
- for the exposures only: an open amount in a currency without a rate (the ledger ranks such customers by
  their other currencies; the exposure rows sort them last).

The ranking reads TOP_N + MARGIN customers by their maintained sort amount (at the roll's rates, in SQL),
converts each exactly (per currency, to the cent, in Decimal) and ranks those by the exact amount, so two
customers within a rounding of each other are still ordered by what is shown.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, select, type_coerce
from sqlalchemy.orm import Session

from workflows.credit.aging_history import (
    MARGIN,
    TOP_N,
    ZERO,
    AgingPoint,
    Exposure,
    Exposures,
    _cents,
    _end_of,
)
from workflows.credit.customer_balance_tables import _BALANCES, _EXPOSURES
from workflows.credit.customer_balances import BUCKETS as BALANCE_BUCKETS
from workflows.credit.customer_balances import book_sums, rolled_for
from workflows.credit.disputes import CreditNote
from workflows.credit.models import Customer, Payment
from workflows.credit.portfolio import current_rates
from workflows.credit.provisions import BUCKETS
from workflows.credit.write_offs import WriteOff

E, B = _EXPOSURES.c, _BALANCES.c


def _amount(hundredths: object) -> Decimal:
    """A sum of stored hundredths (an int, a NUMERIC on PostgreSQL) as an amount of two places."""
    return ZERO if hundredths is None else Decimal(int(hundredths)).scaleb(-2)  # type: ignore[call-overload]


def posted_after(session: Session, day: date) -> bool:
    """Whether anything that may change "open at the end of `day`" was posted with a later date: a payment
    with a later value date (allocated or not: the cheap test), a write-off or a credit note posted after
    the day's end."""
    end = _end_of(day)
    later = (  # one index lookup each (ix_payments_paid_on, ix_credit_notes_posted_at; write-offs are few)
        select(Payment.id).where(Payment.paid_on > day),
        select(CreditNote.id).where(CreditNote.posted_at > end),
        select(WriteOff.id).where(WriteOff.posted_at > end),
    )
    return any(session.scalar(query.limit(1)) is not None for query in later)


def balance_views(
    session: Session, as_of: date, base: str, limit: int = TOP_N
) -> tuple[AgingPoint, Exposures | None] | None:
    """The aging at the end of `as_of` and the largest exposures then, from the maintained balances; None
    when the tables cannot give the ledger's answer (see the module's docstring), the exposures None alone
    when a currency with an open amount has no rate."""
    rates = current_rates(session, as_of, base)
    if not rolled_for(session, as_of, base, rates) or posted_after(session, as_of):
        return None
    buckets: dict[str, Decimal] = dict.fromkeys(BUCKETS, ZERO)
    missing: list[str] = []
    total = ZERO
    for currency, *hundredths in sorted(book_sums(session.connection()), key=lambda row: row[0]):
        rate = rates.get(currency)
        if rate is None:
            missing.append(currency)
            continue
        amounts = [_amount(h) for h in hundredths]
        for bucket, amount in zip(BALANCE_BUCKETS, amounts, strict=True):
            buckets[bucket] += _cents(amount * rate)
        total += _cents(sum(amounts, ZERO) * rate)
    point = AgingPoint(as_of, None if missing else buckets, missing)
    if missing:
        return point, None
    return point, Exposures(as_of, total, _largest(session, rates, base, limit), [])


def _largest(session: Session, rates: dict[str, Decimal], base: str, limit: int) -> list[Exposure]:
    ids = list(
        session.scalars(
            select(E.customer_id)
            .where(E.rate_missing == 0)
            .order_by(E.rate_missing, E.total_base.desc(), E.customer_id)
            .limit(limit + MARGIN)
        )
    )
    if not ids:
        return []
    cents = [type_coerce(B[b], BigInteger) for b in BALANCE_BUCKETS]
    owed: dict[int, dict[str, Decimal]] = {}
    for cid, currency, *hundredths in session.execute(
        select(B.customer_id, B.currency, *cents)
        .where(B.customer_id.in_(ids))
        .order_by(B.customer_id, B.currency)
    ):
        amount = sum((_amount(h) for h in hundredths), ZERO)
        if amount:
            owed.setdefault(cid, {})[currency] = amount
    names = dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all())
    found = []
    for cid, per_currency in owed.items():
        in_base = sum((_cents(a * rates[c]) for c, a in per_currency.items()), ZERO)
        if in_base <= 0:
            continue
        currency, amount = next(iter(per_currency.items())) if len(per_currency) == 1 else (base, in_base)
        found.append(Exposure(cid, names.get(cid, f"#{cid}"), currency, amount, in_base))
    found.sort(key=lambda e: (-e.in_base, e.customer_id))
    return found[:limit]
