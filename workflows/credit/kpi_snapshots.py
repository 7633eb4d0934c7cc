"""Stored KPIs of finished periods (table kpi_snapshots): written once per period end by the daily job
`kpi_snapshot` (workflows/batch/kpi_month_end.py), so a period's figures do not change when its invoices
are corrected later. GET /api/kpis reads a period from its snapshot when there is one, else live."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.store.models import Base

log = logging.getLogger(__name__)


class KpiSnapshot(Base):
    """The KPIs of one period (month or quarter) as computed at its end: {name: {value, unit, ...}}."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (
        UniqueConstraint("period", "period_end", "base_currency", name="uq_kpi_snapshots_period"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # month | quarter
    period_end: Mapped[date]
    base_currency: Mapped[str] = mapped_column(String(3))
    kpis: Mapped[dict[str, Any]]
    posted_by: Mapped[str] = mapped_column(String(80))
    posted_at: Mapped[datetime]


def snapshots_of(session: Session, period: str, base: str, ends: list[date]) -> dict[date, dict[str, Any]]:
    """{period end: its stored KPIs} of those of `ends` that have a snapshot (one query). A snapshot whose
    KPIs are no object (JSON no decoder reads, shown_json.Unreadable: a hand edit) is left out with a
    warning naming it: that period is computed live, as one without a snapshot is, not failed for all."""
    rows = session.execute(
        select(KpiSnapshot.id, KpiSnapshot.period_end, KpiSnapshot.kpis).where(
            KpiSnapshot.period == period, KpiSnapshot.base_currency == base, KpiSnapshot.period_end.in_(ends)
        )
    )
    found = {}
    for snapshot_id, end, kpis in rows:
        if isinstance(kpis, dict):
            found[end] = kpis
        else:
            log.warning(
                "kpi snapshot %s (%s %s, %s) cannot be read: computed live", snapshot_id, period, end, base
            )
    return found


def reported_ar(session: Session, period: str, base: str, ends: list[date]) -> dict[date, Decimal]:
    """{period end: the AR its snapshot reports} of those of `ends` with a snapshot that has it (one query;
    a snapshot stored before the AR was kept in its DSO details has none: that period end is computed)."""
    found = {}
    for end, kpis in snapshots_of(session, period, base, ends).items():
        dso = kpis.get("dso") if isinstance(kpis, dict) else None
        ar = dso.get("ar") if isinstance(dso, dict) else None
        try:  # a row edited by hand to something not an amount is as good as none: computed instead
            amount = Decimal(ar) if isinstance(ar, str) else None
        except InvalidOperation:
            amount = None
        if amount is not None and amount.is_finite():
            found[end] = amount
    return found
