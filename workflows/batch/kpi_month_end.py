"""The daily job `kpi_snapshot`: the KPIs of every finished period of the trend window (12 months, 12
quarters) that has no snapshot stored in kpi_snapshots, so later corrections of the book do not change a
finished period's figures: on the first day of a month the month that ended the day before (and after a
quarter end, the quarter); on a new installation or after an imported history, every past period back to
the first invoice's, oldest first, each in a transaction of its own (`creditflow kpis --backfill` runs the
same right after an import). It waits for the next day because the daily jobs run early in the day
(`[scheduler] daily_hour`): on the month end itself, that day's postings would still be to come.

Once per period end: a second run, or one racing it on another worker, finds the snapshot there and stores
nothing. A currency without a rate at a period end is recorded (audit event `kpi_snapshot_refused`) and
reported, never guessed; the next run tries again, and until the rate is posted GET /api/kpis computes that
period live and refuses it with 409 naming the rate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflows.credit.kpi_cache import first_issue_date
from workflows.credit.kpi_periods import MONTH, QUARTER, previous_end, trend_ends
from workflows.credit.kpi_rates import KpiRatesMissing
from workflows.credit.kpi_snapshots import KpiSnapshot, snapshots_of
from workflows.credit.kpis import one_snapshot, period_kpis
from workflows.engine.runtime import Runtime
from workflows.store.audit import record_event
from workflows.store.db import is_postgres, transaction
from workflows.users import SYSTEM_ACTOR


def post_kpi_snapshot(
    session: Session, period: str, end: date, *, base: str, actor: str, now: datetime
) -> KpiSnapshot | None:
    """Store the KPIs of the period ending on `end`, in the caller's transaction; None when it has a
    snapshot already (a snapshot is never changed).

    Raises:
        KpiRatesMissing: an amount of the period in a currency without a rate at `end`, or of its opening
            AR without one at the previous period's end (when the previous period has no snapshot).
    """
    exists = select(KpiSnapshot.id).where(
        KpiSnapshot.period == period, KpiSnapshot.period_end == end, KpiSnapshot.base_currency == base
    )
    if session.scalar(exists) is not None:
        return None
    return _store(
        session, period, end, _computed(session, period, end, base), base=base, actor=actor, now=now
    )


def _computed(session: Session, period: str, end: date, base: str) -> dict[str, Any]:
    """The period's KPIs read in a session of its own: the caller's write transaction has begun, so on
    PostgreSQL its statements would each see what committed before them (READ COMMITTED) and a payment
    committing between two reads would be in some stored figures and not in others; a fresh session reads
    one REPEATABLE READ snapshot (tests/attacks/test_kpi_opening_ar_post_attack.py)."""
    with Session(bind=session.get_bind()) as reader:
        one_snapshot(reader)
        return period_kpis(reader, [end], period, base)[end]


def _store(
    session: Session, period: str, end: date, kpis: dict[str, Any], *, base: str, actor: str, now: datetime
) -> KpiSnapshot | None:
    """Store computed KPIs as the period's snapshot; None when it has one already."""
    # Two runners (schedulers, Prefect flows) may store the same period at once: the loser's insert does
    # nothing rather than fail, so PostgreSQL logs no duplicate-key ERROR (CI reads its log).
    dialect = postgresql if is_postgres(session) else sqlite
    new_id = session.execute(
        dialect.insert(KpiSnapshot)
        .values(period=period, period_end=end, base_currency=base, kpis=kpis, posted_by=actor, posted_at=now)
        .on_conflict_do_nothing(
            index_elements=[KpiSnapshot.period, KpiSnapshot.period_end, KpiSnapshot.base_currency]
        )
        .returning(KpiSnapshot.id)
    ).scalar()
    if new_id is None:
        return None
    snapshot = session.get_one(KpiSnapshot, new_id)
    record_event(
        session,
        actor=actor,
        action="kpi_snapshot_posted",
        now=now,
        period=period,
        period_end=end.isoformat(),
        base_currency=base,
        after={name: entry["value"] for name, entry in kpis.items()},
    )
    return snapshot


def month_end_kpi_snapshot(rt: Runtime, today: date, now: datetime) -> dict[str, Any]:
    """The daily job: the snapshot of every period end in the trend window of yesterday (12 months, 12
    quarters, from the first invoice's period on) that has none, oldest first: the day after a month end
    that month (and the quarter), on a new installation or after an imported history all of its past
    periods. Its summary is the day's state, whichever runner posted what: the window's ends stored and
    those refused for a missing rate."""
    base = rt.settings.credit.base_currency
    return backfill_snapshots(rt.factory, base, today - timedelta(days=1), actor=SYSTEM_ACTOR, now=now)


Report = Callable[[str, date, str], None]


def backfill_snapshots(
    factory: sessionmaker[Session],
    base: str,
    last: date,
    *,
    actor: str,
    now: datetime,
    report: Report = lambda period, end, outcome: None,
) -> dict[str, Any]:
    """Store the snapshot of each period end of the trend window up to `last` without one (see
    month_end_kpi_snapshot): the missing ends of a period computed together (one scan of the book, read
    outside any write transaction), then each stored in a transaction of its own, oldest first, told to
    `report(period, end, "posted"|"posted already"|"refused")`. A currency without a rate at an end refuses
    that end (audit event `kpi_snapshot_refused`, named in the summary), never guessed; the others are
    stored. Returns {"last_day", "snapshots": {period: [ends stored]}, ["missing_rates": {end: [...]}]}."""
    stored: dict[str, list[str]] = {}
    missing_rates: dict[str, list[str]] = {}
    for period in (MONTH, QUARTER):
        with factory() as session:
            one_snapshot(session)  # PostgreSQL: every read of the scan sees the same committed book
            window = window_ends(session, period, last)
            have = snapshots_of(session, period, base, window)
            wanted = [end for end in window if end not in have]
            refused: dict[str, list[str]] = {}
            computed: dict[date, dict[str, Any]] = {}
            if wanted:
                try:
                    computed = period_kpis(session, wanted, period, base)
                except KpiRatesMissing as exc:
                    refused = exc.details["missing_rates"]
                    computable = [end for end in wanted if not _blocked(end, period, refused)]
                    computed = period_kpis(session, computable, period, base) if computable else {}
        for end in wanted:
            if blocked := _blocked(end, period, refused):
                with transaction(factory) as session:
                    reason = KpiRatesMissing(blocked, base).message
                    record_event(
                        session,
                        actor=actor,
                        action="kpi_snapshot_refused",
                        now=now,
                        period=period,
                        period_end=end.isoformat(),
                        reason=reason,
                    )
                missing_rates[end.isoformat()] = sorted({c for found in blocked.values() for c in found})
                report(period, end, "refused")
                continue
            try:
                with transaction(factory) as session:
                    found = _store(session, period, end, computed[end], base=base, actor=actor, now=now)
            except IntegrityError:  # another runner stored it between our check and insert
                found = None
            report(period, end, "posted" if found is not None else "posted already")
        with factory() as session:
            stored[period] = [e.isoformat() for e in sorted(snapshots_of(session, period, base, window))]
    summary: dict[str, Any] = {"last_day": last.isoformat(), "snapshots": stored}
    return {**summary, "missing_rates": missing_rates} if missing_rates else summary


def _blocked(end: date, period: str, refused: dict[str, list[str]]) -> dict[date, list[str]]:
    """{day: currencies} of the rates missing for the period ending on `end`: at its end, or at its start
    (the previous period's end: its AR is this one's opening AR, docs/kpis.md "CEI")."""
    days = (previous_end(end, period), end)
    return {day: refused[day.isoformat()] for day in days if day.isoformat() in refused}


def window_ends(session: Session, period: str, last: date) -> list[date]:
    """The ends of the trend window of the period ending on or before `last`, oldest first, from the first
    invoice's period on (a period ending before it held nothing: never stored)."""
    first = first_issue_date(session)
    if first is None:
        return []
    return [end for end in trend_ends(last, period) if end >= first]
