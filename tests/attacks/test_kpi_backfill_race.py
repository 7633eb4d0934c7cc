"""The backfill (`creditflow kpis --backfill`, the daily kpi_snapshot job) reads the book for every missing
period in one scan; on PostgreSQL each statement of a READ COMMITTED transaction would see what committed
before it, so a payment committing between the window's first read and the scan could be in some figures of
a stored period and not in others. The read runs in one snapshot: the stored periods are those of the book
before the payment, to the cent (and the payment is in the live figures afterwards)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.attacks.test_kpi_fast_path_attack import BASE, at, busy_book
from workflows.batch import kpi_month_end
from workflows.credit import kpis
from workflows.credit.kpi_periods import MONTH, previous_end
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.credit.models import Invoice
from workflows.credit.receivables import PaymentInput, post_payment
from workflows.store.db import transaction

pytestmark = pytest.mark.db


def test_a_payment_committing_during_the_backfill_is_in_no_stored_period(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = busy_book(session_factory, 31)
    last = book.today
    earlier = previous_end(last, MONTH)
    with session_factory() as session:
        found = session.scalars(
            select(Invoice)
            .where(Invoice.status == "open", Invoice.open_amount > 1, Invoice.issue_date <= earlier)
            .order_by(Invoice.id)
        ).first()
        assert found is not None
        paid = PaymentInput(found.customer_id, Decimal("1.00"), found.currency, earlier, found.number)
        expected = kpis.period_kpis(session, [earlier, last], MONTH, BASE)
    original = kpi_month_end.period_kpis
    posted: list[bool] = []

    def racing(session: Session, *args: Any) -> Any:
        if not posted:  # after the window's first reads, before the scan: another session commits
            with transaction(session_factory) as writer:
                post_payment(writer, paid, actor="finance1", now=at(last))
            posted.append(True)
        return original(session, *args)

    monkeypatch.setattr(kpi_month_end, "period_kpis", racing)
    now = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    kpi_month_end.backfill_snapshots(session_factory, BASE, last, actor="system", now=now)
    assert posted
    with session_factory() as session:
        stored = dict(
            session.execute(
                select(KpiSnapshot.period_end, KpiSnapshot.kpis).where(
                    KpiSnapshot.period == MONTH, KpiSnapshot.period_end.in_([earlier, last])
                )
            ).all()
        )
        live = kpis.period_kpis(session, [earlier], MONTH, BASE)[earlier]
    for end in (earlier, last):
        assert stored[end]["dso"]["ar"] == expected[end]["dso"]["ar"], end
        assert stored[end]["cei"] == expected[end]["cei"], end
    assert Decimal(live["dso"]["ar"]) < Decimal(expected[earlier]["dso"]["ar"])  # the payment counts now
