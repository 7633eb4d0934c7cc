"""What the early-warning table reads of every customer, computed for the whole book in a few aggregate
queries (no query per customer: the daily run covers 100,000 customers). bpmn/README.md, "Early warning",
defines each signal; workflows/credit/watchlist_rules.py evaluates them.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Engine, Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from workflows.credit.customers import add_months
from workflows.credit.disputes import DisputeLine
from workflows.credit.fx import MissingRate, rate_on
from workflows.credit.models import Customer, DunningCase, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.store.models import AuditEvent

TENTH, CENT = Decimal("0.1"), Decimal("0.01")
DBT_MONTHS = 4  # three rises need four months
DISPUTE_WINDOW_DAYS = 180  # invoices issued in this window count for the dispute rate
RATING_WINDOW_DAYS = 365  # rating changes older than this are not looked at
# External ratings from best to worst (S&P/Fitch scale, as handlers/scorecard_factors.py scores them).
RATING_SCALE = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


@dataclass
class BookSignals:
    """Per customer id: the table's inputs; and the book-wide figures the run reports."""

    customers: dict[int, dict[str, Any]]
    owners: dict[int, str | None]
    normal_dispute_rate_percent: Decimal
    missing_rates: list[str] = field(default_factory=list)


def book_signals(
    session: Session, as_of: date, base: str, customer_ids: Collection[int] | None = None
) -> BookSignals:
    """The signals of every customer (or of `customer_ids` only: the concentration share and the normal
    dispute rate are still the whole book's). Amounts in a currency without a stored rate on `as_of` are
    left out of utilisation and concentration, and the currency is named in `missing_rates`."""
    chosen = select(
        Customer.id, Customer.grade, Customer.credit_limit, Customer.currency, Customer.sales_owner
    )
    if customer_ids is not None:
        chosen = chosen.where(Customer.id.in_(sorted(customer_ids)))
    rows = session.execute(chosen).all()
    wanted = {cid for cid, *_ in rows}
    rates, missing = _rates(session, as_of, base, None if customer_ids is None else wanted)
    if customer_ids is None:
        owed = _owed(session, rates)
        dispute_rates, normal = _dispute_rates(session, as_of)
        total_base = sum(owed.values(), Decimal(0))
        _remember(session, (as_of, base), (total_base, normal), len(owed))
    else:
        owed = _owed(session, rates, wanted)
        dispute_rates, _ = _dispute_rates(session, as_of, wanted)
        total_base, normal = _book_references(session, as_of, base)
    rising = _dbt_rising(session, as_of, customer_ids)
    first_late = _first_late(session, as_of, customer_ids)
    broken = _broken_promises(session, as_of, customer_ids)
    downgraded = _downgrades(session, as_of, wanted)
    signals: dict[int, dict[str, Any]] = {}
    owners: dict[int, str | None] = {}
    for cid, grade, limit, currency, owner in rows:
        in_base = owed.get(cid, Decimal(0))
        signals[cid] = {
            "utilisation_percent": _utilisation(in_base, limit, rates.get(currency)),
            "dbt_rising_months": rising.get(cid, 0),
            "grade": grade,
            "first_late_days": first_late.get(cid) if grade in ("A", "B") else None,
            "broken_promise_days": broken.get(cid),
            "downgrade_days": downgraded.get(cid),
            "dispute_rate_percent": dispute_rates.get(cid),
            "ar_share_percent": None if total_base <= 0 else _percent(in_base, total_base, CENT),
        }
        owners[cid] = owner
    return BookSignals(signals, owners, normal, missing)


def _percent(part: Decimal, whole: Decimal, places: Decimal) -> Decimal:
    # Rounded down: a share of 89.99 % is not 90 % yet.
    return (part * 100 / whole).quantize(places, rounding=ROUND_DOWN)


def _rates(
    session: Session, as_of: date, base: str, customer_ids: Collection[int] | None = None
) -> tuple[dict[str, Decimal], list[str]]:
    """The rate into `base` of every currency invoices or customers (or `customer_ids`) use; the
    currencies without one."""
    invoiced, owned = select(Invoice.currency).distinct(), select(Customer.currency).distinct()
    if customer_ids is not None:
        invoiced = invoiced.where(Invoice.customer_id.in_(sorted(customer_ids)))
        owned = owned.where(Customer.id.in_(sorted(customer_ids)))
    currencies = set(session.scalars(invoiced)) | set(session.scalars(owned))
    rates: dict[str, Decimal] = {}
    missing = []
    for currency in sorted(currencies):
        try:
            rates[currency] = rate_on(session, currency, as_of, base)
        except MissingRate:
            missing.append(currency)
    return rates, missing


# The book-wide references of an event's evaluation (the book's open receivables in the base currency, for
# the concentration share, and the normal dispute rate), per engine and (day, base currency). Computing them
# reads every invoice (about 3 s at 1,000,000 invoices), too slow for every invoice or payment posted: on a
# book of LARGE_BOOK customers with open receivables or more, an event reads the figures of the day's first
# computation (the daily run's, or the first event's) and its own customer's amounts exactly. Both are
# slow-moving references there (one posting moves them by a hundred-thousandth); the daily run recomputes
# them exactly. A smaller book computes them exactly at every event.
LARGE_BOOK = 5_000
_REFERENCES: weakref.WeakKeyDictionary[Engine, dict[tuple[date, str], tuple[Decimal, Decimal]]] = (
    weakref.WeakKeyDictionary()
)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _remember(
    session: Session, key: tuple[date, str], figures: tuple[Decimal, Decimal], customers: int
) -> None:
    if customers >= LARGE_BOOK:
        _REFERENCES[_engine(session)] = {key: figures}  # only the newest day is kept


def _book_references(session: Session, as_of: date, base: str) -> tuple[Decimal, Decimal]:
    """(the book's open receivables in `base`, the normal dispute rate) of the day: remembered, or
    computed now (the day's first evaluation in this process)."""
    found = _REFERENCES.get(_engine(session), {}).get((as_of, base))
    if found is None:
        owed = _owed(session, _rates(session, as_of, base)[0])
        found = (sum(owed.values(), Decimal(0)), _dispute_rates(session, as_of)[1])
        _remember(session, (as_of, base), found, len(owed))
    return found


def _owed(
    session: Session, rates: dict[str, Decimal], customer_ids: Collection[int] | None = None
) -> dict[int, Decimal]:
    """Each customer's (or `customer_ids`') open receivables (what it still owes: InvoiceStatus.OWED) in
    the base currency."""
    owed: dict[int, Decimal] = defaultdict(Decimal)
    query = (
        select(Invoice.customer_id, Invoice.currency, func.sum(Invoice.open_amount))
        .where(Invoice.status.in_(InvoiceStatus.OWED))
        .group_by(Invoice.customer_id, Invoice.currency)
    )
    if customer_ids is not None:
        query = query.where(Invoice.customer_id.in_(sorted(customer_ids)))
    for cid, currency, amount in session.execute(query):
        if amount and currency in rates:
            owed[cid] += Decimal(amount) * rates[currency]
    return owed


def _utilisation(in_base: Decimal, limit: Decimal | None, rate: Decimal | None) -> Decimal | None:
    """Open receivables in the customer's currency over its limit, in percent; None without a limit (or
    without a rate for its own currency)."""
    if limit is None or limit <= 0 or rate is None or rate <= 0:
        return None
    return _percent(in_base / rate, Decimal(limit), TENTH)


def _days(session: Session, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from `earlier` to `later` (two date columns), in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return later - earlier  # type: ignore[no-any-return]
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _dbt_rising(session: Session, as_of: date, only: Collection[int] | None) -> dict[int, int]:
    """How many of the last complete months in a row each customer's days beyond terms rose (0-3).

    A month's days beyond terms: the amount-weighted days past due of the invoices paid in that month
    (paid on time: 0). A month without a paid invoice breaks the run."""
    days = _days(session, Invoice.paid_date, Invoice.due_date)
    late = case((days > 0, days), else_=0)
    weight = cast(Invoice.amount, BigInteger)  # stored hundredths: the unit cancels out in the ratio
    by_month: list[dict[int, Decimal]] = []
    end = _month_start(as_of)
    for _ in range(DBT_MONTHS):  # newest month first
        start = add_months(end, -1)
        query = (
            select(Invoice.customer_id, func.sum(weight * late), func.sum(weight))
            .where(Invoice.paid_date >= start, Invoice.paid_date < end, Invoice.amount > 0)
            .group_by(Invoice.customer_id)
        )
        if only is not None:
            query = query.where(Invoice.customer_id.in_(sorted(only)))
        by_month.append(
            {cid: Decimal(days) / Decimal(total) for cid, days, total in session.execute(query) if total}
        )
        end = start
    rising: dict[int, int] = {}
    for cid, newest in by_month[0].items():
        count, later = 0, newest
        for month in by_month[1:]:
            earlier = month.get(cid)
            if earlier is None or not later > earlier:
                break
            count, later = count + 1, earlier
        if count:
            rising[cid] = count
    return rising


def _first_late(session: Session, as_of: date, only: Collection[int] | None) -> dict[int, int]:
    """Days since each customer was first late: the earliest due date of an invoice paid after it, or still
    open after it (only grade A and B customers: the table asks about them)."""
    late = or_(
        Invoice.paid_date > Invoice.due_date,
        and_(Invoice.status.in_(InvoiceStatus.OWED), Invoice.due_date < as_of, Invoice.open_amount > 0),
    )
    query = (
        select(Invoice.customer_id, func.min(Invoice.due_date))
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Customer.grade.in_(("A", "B")), Invoice.status != InvoiceStatus.CANCELLED, late)
        .group_by(Invoice.customer_id)
    )
    if only is not None:
        query = query.where(Invoice.customer_id.in_(sorted(only)))
    return {cid: max(0, (as_of - _as_date(first)).days - 1) for cid, first in session.execute(query)}


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _broken_promises(session: Session, as_of: date, only: Collection[int] | None) -> dict[int, int]:
    """Days since a promise of each customer was last judged broken."""
    query = (
        select(DunningCase.customer_id, func.max(DunningPromise.judged_at))
        .join(DunningCase, DunningCase.id == DunningPromise.case_id)
        .where(DunningPromise.status == PromiseStatus.BROKEN, DunningPromise.judged_at.is_not(None))
        .group_by(DunningCase.customer_id)
    )
    if only is not None:
        query = query.where(DunningCase.customer_id.in_(sorted(only)))
    return {cid: max(0, (as_of - _as_date(at)).days) for cid, at in session.execute(query) if at is not None}


def rating_rank(rating: str | None) -> Decimal | None:
    """Where a rating stands on the scale, 0 the best ("BBB+" just above "BBB"); None: not on the scale."""
    if not rating:
        return None
    text = rating.strip().upper()
    notch = Decimal("-0.3") if text.endswith("+") else Decimal("0.3") if text.endswith("-") else Decimal(0)
    text = text.rstrip("+-")
    return Decimal(RATING_SCALE.index(text)) + notch if text in RATING_SCALE else None


def _downgrades(session: Session, as_of: date, wanted: set[int]) -> dict[int, int]:
    """Days since each customer's latest external rating change, when that change lowered the rating
    (the audit trail keeps each change's old and new rating). Only customers whose rating changed within
    RATING_WINDOW_DAYS are looked up."""
    since = datetime.combine(as_of - timedelta(days=RATING_WINDOW_DAYS), time.min, tzinfo=UTC)
    recent = set(
        session.scalars(
            select(Customer.id).where(
                Customer.rating_changed_at.is_not(None), Customer.rating_changed_at >= since
            )
        )
    )
    recent &= wanted
    if not recent:
        return {}
    # Newest first, by id (the primary key): the scan stops once each customer's latest change is found, so
    # an event's evaluation (its rating was recorded a moment ago) reads one row, not the whole trail.
    events = session.execute(
        select(AuditEvent.detail, AuditEvent.at)
        .where(AuditEvent.action == "external_rating_changed")
        .order_by(AuditEvent.id.desc())
        .execution_options(yield_per=500)
    )
    latest: dict[int, tuple[Any, Any, Any]] = {}
    for detail, at in events:
        if _aware(at) < since:
            break
        cid = (detail or {}).get("customer_id")
        if isinstance(cid, int) and cid in recent and cid not in latest:
            latest[cid] = (detail.get("old"), detail.get("new"), at)
            if len(latest) == len(recent):
                break
    events.close()
    found = {}
    for cid, (old, new, at) in latest.items():
        before, after = rating_rank(old), rating_rank(new)
        if before is not None and after is not None and after > before:
            found[cid] = max(0, (as_of - _as_date(at)).days)
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _dispute_rates(
    session: Session, as_of: date, customer_ids: Collection[int] | None = None
) -> tuple[dict[int, Decimal], Decimal]:
    """Per customer (or of `customer_ids` only), the share of its invoices issued in the last
    DISPUTE_WINDOW_DAYS that were disputed (percent); and the same share over those customers (with
    `customer_ids` None: over the whole book, the normal rate)."""
    since = as_of - timedelta(days=DISPUTE_WINDOW_DAYS)
    disputed = select(DisputeLine.invoice_id).distinct().subquery()
    query = (
        select(Invoice.customer_id, func.count(Invoice.id), func.count(disputed.c.invoice_id))
        .outerjoin(disputed, disputed.c.invoice_id == Invoice.id)
        .where(
            Invoice.issue_date >= since,
            Invoice.issue_date <= as_of,
            Invoice.status != InvoiceStatus.CANCELLED,
        )
        .group_by(Invoice.customer_id)
    )
    if customer_ids is not None:
        query = query.where(Invoice.customer_id.in_(sorted(customer_ids)))
    rates: dict[int, Decimal] = {}
    issued = hit = 0
    for cid, count, with_dispute in session.execute(query):
        issued, hit = issued + count, hit + with_dispute
        rates[cid] = _percent(Decimal(with_dispute), Decimal(count), TENTH)
    normal = _percent(Decimal(hit), Decimal(issued), TENTH) if issued else Decimal(0)
    return rates, normal
