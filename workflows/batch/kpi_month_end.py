"""The daily job `kpi_snapshot`: on the first day of a month, the KPIs of the month that ended the day before
(and after a quarter end, of the quarter) stored in kpi_snapshots, so later corrections of the book do not
change a finished period's figures. It waits for the next day because the daily jobs run early in the day
(`[scheduler] daily_hour`): on the month end itself, that day's postings would still be to come.

Once per period end: a second run, or one racing it on another worker, finds the snapshot there and stores
nothing. A currency without a rate at the period end is recorded (audit event `kpi_snapshot_refused`) and
reported, never guessed; until a person posts the rate and the snapshot (`creditflow kpis --post`), GET
/api/kpis computes that period live, and refuses it with 409 naming the rate.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.credit.kpi_periods import MONTH, QUARTER, is_period_end
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.credit.kpis import KpiRatesMissing, period_kpis
from workflows.engine.runtime import Runtime
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.users import SYSTEM_ACTOR


def post_kpi_snapshot(
    session: Session, period: str, end: date, *, base: str, actor: str, now: datetime
) -> KpiSnapshot | None:
    """Store the KPIs of the period ending on `end`, in the caller's transaction; None when it has a
    snapshot already (a snapshot is never changed).

    Raises:
        KpiRatesMissing: an amount of the period in a currency without a rate at `end`.
    """
    exists = select(KpiSnapshot.id).where(
        KpiSnapshot.period == period, KpiSnapshot.period_end == end, KpiSnapshot.base_currency == base
    )
    if session.scalar(exists) is not None:
        return None
    kpis = period_kpis(session, [end], period, base)[end]
    snapshot = KpiSnapshot(
        period=period, period_end=end, base_currency=base, kpis=kpis, posted_by=actor, posted_at=now
    )
    session.add(snapshot)
    session.flush()
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
    """The daily job: the day after a month end, snapshot that month, and after a quarter end the quarter."""
    end = today - timedelta(days=1)
    if not is_period_end(end, MONTH):
        return {"posted": [], "reason": "not the day after a month end"}
    base = rt.settings.credit.base_currency
    periods = [MONTH, QUARTER] if is_period_end(end, QUARTER) else [MONTH]
    posted: list[str] = []
    skipped: list[str] = []
    for period in periods:
        try:
            with transaction(rt.factory) as session:
                found = post_kpi_snapshot(session, period, end, base=base, actor=SYSTEM_ACTOR, now=now)
        except IntegrityError:  # another worker stored it between our check and insert
            found = None
        except KpiRatesMissing as exc:
            with transaction(rt.factory) as session:
                record_event(
                    session,
                    actor=SYSTEM_ACTOR,
                    action="kpi_snapshot_refused",
                    now=now,
                    period=period,
                    period_end=end.isoformat(),
                    reason=exc.message,
                )
            return {"posted": posted, "reason": exc.message, "missing_rates": exc.details["missing_rates"]}
        (posted if found is not None else skipped).append(period)
    summary: dict[str, Any] = {"posted": posted, "period_end": end.isoformat()}
    return {**summary, "posted_already": skipped} if skipped else summary
