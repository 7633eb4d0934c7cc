"""The monthly provision run: a snapshot of the allowance at a month end, in the base currency, with its
movement against the previous snapshot (`opening + charge - release - used = closing`).

Posted by `creditflow provisions --post --as-of DATE` or by the daily job `provision_run` on a month
end. A snapshot is never changed: one per month end, posted in order. With a currency lacking a rate,
or no deployed matrix, nothing is posted and the refusal names what is missing.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workflows.credit.fx import CENT, MissingRate, rate_on
from workflows.credit.models import Invoice
from workflows.credit.provision_matrix import Matrix, deployed_matrix
from workflows.credit.provision_tables import ProvisionRun, ProvisionRunLine
from workflows.credit.provisions import (
    MATRIX,
    SPECIFIC,
    MissingRates,
    ProvisionReport,
    compute_provisions,
    days_past,
)
from workflows.credit.record_fields import money_text
from workflows.credit.write_offs import WriteOff
from workflows.errors import Conflict, Invalid
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.db import is_postgres
from workflows.store.paging import page_rows
from workflows.users import SYSTEM_ACTOR

ZERO = Decimal("0.00")
SYSTEM = "system"


# pg_advisory_xact_lock key of the provision run ("provruns"): one poster at a time on PostgreSQL.
RUN_LOCK = 0x70726F7672756E73


class AlreadyPosted(Conflict):
    """A snapshot of that month end, or a later one, exists."""


def lock_runs(session: Session) -> None:
    """Serialise posters until the transaction ends. SQLite's BEGIN IMMEDIATE does it already; on
    PostgreSQL two runs of different month ends would otherwise both read the same latest snapshot and
    fork the chain (each with it as previous, the later one's opening missing the other's movement)."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RUN_LOCK})


def is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def next_month_end(day: date) -> date:
    """The last day of the month after `day`'s."""
    following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return following.replace(day=calendar.monthrange(following.year, following.month)[1])


def post_run(session: Session, as_of: date, *, base: str, actor: str, now: datetime) -> ProvisionRun:
    """Compute the allowance at the month end `as_of` and store it with its movement, in the caller's
    transaction, with an audit event naming `actor`.

    Raises:
        Invalid: `as_of` is not a month end, or lies in the future.
        AlreadyPosted: a snapshot of `as_of` or a later month end exists.
        Conflict: (MissingRates, MatrixError, BeyondMoneyBound) nothing
            can be computed).
    """
    if not is_month_end(as_of):
        raise Invalid(
            _("%(as_of)s is not a month end; the provision run is monthly", as_of=as_of.isoformat()),
            details={"fields": {"as_of": _("the last day of a month")}},
        )
    if as_of > now.date():
        raise Invalid(
            _(
                "%(as_of)s has not ended yet (today is %(now)s)",
                as_of=as_of.isoformat(),
                now=now.date().isoformat(),
            ),
            details={"fields": {"as_of": _("a month end on or before today")}},
        )
    lock_runs(session)
    latest = session.scalar(select(ProvisionRun).order_by(ProvisionRun.as_of.desc()).limit(1))
    if latest is not None and latest.as_of >= as_of:
        raise AlreadyPosted(
            _(
                "the provision run of %(as_of)s was posted by %(name)s at %(at)s; snapshots are posted "
                "once per month end, in order",
                as_of=latest.as_of.isoformat(),
                # creditflow itself (the month-end job) is said in the reader's language
                name=_("the system") if latest.posted_by == SYSTEM_ACTOR else latest.posted_by,
                at=latest.posted_at.isoformat(),
            )
        )
    if latest is not None and (following := next_month_end(latest.as_of)) < as_of:
        raise Conflict(
            _(
                "the month end %(following)s has no snapshot yet (the latest is of "
                "%(as_of)s); post it first: snapshots are posted for every month end, in "
                "order",
                following=following.isoformat(),
                as_of=latest.as_of.isoformat(),
            ),
            details={"fields": {"as_of": following.isoformat()}},
        )
    report = compute_provisions(session, as_of, base)
    opening = latest.closing if latest is not None else ZERO
    # The first snapshot opens the allowance: it has no period, so nothing of it was used (a write-off
    # of 2024 is no charge of the first month posted); later ones count the write-offs since the last.
    used = ZERO
    if latest is not None:
        used = _used_between(session, latest.as_of, as_of, base)
        used += _matrix_used(session, latest, as_of, deployed_matrix(session, latest.as_of))
    closing = report.total()
    net = closing - opening + used  # what the period added; closing = opening + charge - release - used
    run = ProvisionRun(
        as_of=as_of,
        base_currency=base,
        matrix=report.matrix[:120],
        previous_id=latest.id if latest else None,
        balance=report.total(column="balance_base"),
        matrix_provision=report.total(MATRIX),
        specific_provision=report.total(SPECIFIC),
        opening=opening,
        charge=max(net, ZERO),
        release=max(-net, ZERO),
        used=used,
        closing=closing,
        posted_by=actor,
        posted_at=now,
    )
    session.add(run)
    session.flush()
    session.add_all(
        ProvisionRunLine(
            run_id=run.id,
            kind=line.kind,
            bucket=line.bucket,
            currency=line.currency,
            customer_id=line.customer_id,
            balance=line.balance,
            fx_rate=line.fx_rate,
            balance_base=line.balance_base,
            rate=line.rate,
            provision=line.provision,
        )
        for line in report.lines
    )
    record_event(
        session,
        actor=actor,
        action="provision_run_posted",
        now=now,
        as_of=as_of.isoformat(),
        matrix=run.matrix,
        base_currency=base,
        before={"allowance": money_text(opening)},
        after={"allowance": money_text(closing)},
        charge=money_text(run.charge),
        release=money_text(run.release),
        used=money_text(used),
    )
    session.flush()
    return run


def _used_between(session: Session, start: date | None, end: date, base: str) -> Decimal:
    """The provisions write-offs used after the end of `start` up to the end of `end` (the sum of
    `write_offs.provision_used` by `posted_at`), in the base currency at `end`'s rate."""
    query = select(WriteOff.currency, WriteOff.provision_used).where(
        WriteOff.posted_at <= _end_of(end), WriteOff.provision_used > 0
    )
    if start is not None:
        query = query.where(WriteOff.posted_at > _end_of(start))
    per_currency: dict[str, Decimal] = {}
    for currency, amount in session.execute(query):
        per_currency[currency] = per_currency.get(currency, ZERO) + amount
    total, missing = ZERO, []
    for currency, amount in sorted(per_currency.items()):
        try:
            total += (amount * rate_on(session, currency, end, base)).quantize(CENT, rounding=ROUND_HALF_UP)
        except MissingRate:
            missing.append(currency)
    if missing:
        raise MissingRates(missing, end, base)
    return total


def _matrix_used(session: Session, previous: ProvisionRun, end: date, matrix: Matrix) -> Decimal:
    """The matrix allowance that write-offs posted after `previous` up to the end of `end` used: each
    written-off amount at the rate and exchange rate the previous snapshot provided its bucket with.

    Writing off a receivable the matrix provided for consumes that allowance as it consumes a specific
    provision (IFRS 9.5.4.4: the gross amount and its allowance go together); counted as a release instead,
    the snapshot would show income, and the write-off a loss, that never happened. A customer under a
    specific provision then is out (write_offs.provision_used counts that one)."""
    lines = session.scalars(select(ProvisionRunLine).where(ProvisionRunLine.run_id == previous.id)).all()
    specific = {line.customer_id for line in lines if line.kind == SPECIFIC}
    provided: dict[tuple[str, str], tuple[Decimal, Decimal]] = {
        (line.bucket, line.currency): (line.rate, line.fx_rate) for line in lines if line.kind == MATRIX
    }
    rows = session.execute(
        select(WriteOff.customer_id, WriteOff.currency, WriteOff.amount, Invoice.due_date)
        .join(Invoice, Invoice.id == WriteOff.invoice_id)
        .where(
            WriteOff.posted_at > _end_of(previous.as_of),
            WriteOff.posted_at <= _end_of(end),
            Invoice.issue_date <= previous.as_of,
        )
    )
    total = ZERO
    for customer_id, currency, amount, due in rows:
        if customer_id in specific:
            continue
        bucket, _rate = matrix.rate_for(days_past(previous.as_of, due))
        rate, fx = provided.get((bucket, currency), (ZERO, ZERO))
        total += (amount * fx * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(total, previous.closing)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def run_on(session: Session, as_of: date) -> ProvisionRun | None:
    """The snapshot of the latest month end on or before `as_of`, if any."""
    return session.scalar(
        select(ProvisionRun).where(ProvisionRun.as_of <= as_of).order_by(ProvisionRun.as_of.desc()).limit(1)
    )


def list_runs(
    session: Session, *, page: int, per_page: int, start: date | None = None, end: date | None = None
) -> tuple[list[ProvisionRun], int]:
    """One page of the snapshots of month ends from `start` to `end` (each optional, inclusive), the newest
    first, and their number (the /provisions page)."""
    query = _newest_first()
    if start is not None:
        query = query.where(ProvisionRun.as_of >= start)
    if end is not None:
        query = query.where(ProvisionRun.as_of <= end)
    return page_rows(session, query, page, per_page)


def recent_runs(session: Session, months: int) -> list[ProvisionRun]:
    """The snapshots of the last `months` month ends posted, oldest first (the allowance chart)."""
    return list(session.scalars(_newest_first().limit(months)))[::-1]


def run_of(session: Session, as_of: date) -> ProvisionRun | None:
    """The snapshot of exactly the month end `as_of`, if one was posted."""
    return session.scalar(select(ProvisionRun).where(ProvisionRun.as_of == as_of))


def _newest_first() -> Any:
    return select(ProvisionRun).order_by(ProvisionRun.as_of.desc(), ProvisionRun.id.desc())


def run_json(session: Session, run: ProvisionRun) -> dict[str, Any]:
    """A snapshot as the API shows it: totals, movement, and its lines by bucket and currency."""
    lines = session.scalars(
        select(ProvisionRunLine).where(ProvisionRunLine.run_id == run.id).order_by(ProvisionRunLine.id)
    ).all()
    previous = session.get(ProvisionRun, run.previous_id) if run.previous_id else None
    buckets = list(dict.fromkeys(line.bucket for line in lines if line.kind == MATRIX))
    return {
        "as_of": run.as_of.isoformat(),
        "base_currency": run.base_currency,
        "matrix": run.matrix,
        "posted_by": run.posted_by,
        "posted_at": run.posted_at.isoformat(),
        "previous_as_of": previous.as_of.isoformat() if previous else None,
        "balance": money_text(run.balance),
        "matrix_total": money_text(run.matrix_provision),
        "specific_total": money_text(run.specific_provision),
        "total": money_text(run.closing),
        "movement": {
            "opening": money_text(run.opening),
            "charge": money_text(run.charge),
            "release": money_text(run.release),
            "used": money_text(run.used),
            "closing": money_text(run.closing),
        },
        "by_bucket": {
            b: {
                "balance": money_text(sum((x.balance_base for x in lines if x.bucket == b), ZERO)),
                "provision": money_text(sum((x.provision for x in lines if x.bucket == b), ZERO)),
            }
            for b in buckets
        },
        "lines": [_line_json(line) for line in lines],
    }


def _line_json(line: ProvisionRunLine) -> dict[str, Any]:
    found = {
        "kind": line.kind,
        "bucket": line.bucket,
        "currency": line.currency,
        "balance": money_text(line.balance),
        "fx_rate": format(line.fx_rate.normalize(), "f"),
        "balance_base": money_text(line.balance_base),
        "rate": format(line.rate.normalize(), "f"),
        "provision": money_text(line.provision),
    }
    if line.kind == SPECIFIC:
        return {**found, "customer_id": line.customer_id}
    return found


def preview(session: Session, as_of: date, base: str) -> ProvisionReport:
    """What a run as of `as_of` would post (any day; nothing is stored)."""
    return compute_provisions(session, as_of, base)
