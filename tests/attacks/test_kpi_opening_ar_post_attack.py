"""Attacker H2 against this session's KPI changes (issue 17), continued: posting one period's snapshot by
hand (`creditflow kpis --post`) while the book moves, and the 409 a trend's first opening gives through
the API. See tests/attacks/test_kpi_opening_ar_attack.py for the books."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.attacks.test_kpi_fast_path_attack import busy_book
from tests.attacks.test_kpi_opening_ar_attack import _usd_book
from tests.credit.test_customer_balances import BASE, at
from tests.helpers import auth
from tests.pg_log import postgres_log
from workflows.batch.kpi_month_end import backfill_snapshots, post_kpi_snapshot
from workflows.credit import kpis
from workflows.credit.kpi_book import customer_totals
from workflows.credit.kpi_periods import MONTH, previous_end
from workflows.credit.kpi_snapshots import KpiSnapshot, snapshots_of
from workflows.credit.models import Invoice
from workflows.credit.receivables import PaymentInput, post_payment
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.mark.db
def test_a_payment_committing_during_a_hand_posted_snapshot_is_in_none_of_its_figures(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the racing payment would wait for the snapshot's lock")
    book = busy_book(session_factory, 32)
    end = previous_end(book.today, MONTH)
    with session_factory() as session:
        expected = kpis.period_kpis(session, [end], MONTH, BASE)[end]
        found = session.scalars(  # the largest open invoice, paid in full: a top-ten debtor's total moves
            select(Invoice)
            .where(Invoice.status == "open", Invoice.open_amount > 1, Invoice.issue_date <= end)
            .order_by(Invoice.open_amount.desc(), Invoice.id)
        ).first()
        assert found is not None
    paid = PaymentInput(found.customer_id, found.open_amount, found.currency, end, found.number)
    original = customer_totals
    posted: list[bool] = []

    def racing(session: Session, *args: Any) -> Any:
        if not posted:  # after the ledger scan, before the per-customer query: another session commits
            with transaction(session_factory) as writer:
                post_payment(writer, paid, actor="finance1", now=at(book.today))
            posted.append(True)
        return original(session, *args)

    monkeypatch.setattr(kpis, "customer_totals", racing)
    with transaction(session_factory) as session:  # as `creditflow kpis --post` does
        post_kpi_snapshot(session, MONTH, end, base=BASE, actor="finance1", now=at(book.today))
    assert posted
    with session_factory() as session:
        stored = snapshots_of(session, MONTH, BASE, [end])[end]
    assert stored["dso"] == expected["dso"]
    assert stored["top10_concentration"] == expected["top10_concentration"]


def test_get_api_kpis_names_the_trend_s_first_opening_day_when_it_has_no_rate(
    client: FlaskClient, demo_tokens: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    """A regression of 7667fbe by design: USD AR open before the trend window and USD rates only from the
    day after the first period's start. Before, the opening was converted at the first end's rate (200);
    now it is the AR the period before reports, at its own end's rate, which does not exist: a 409 (not a
    500) whose message and details name that day and currency, so the user knows which rate to post."""
    first_start = date(2025, 2, 28)  # the app's clock is 2026-03-02: the trend of February 2026
    _usd_book(session_factory, first_start + timedelta(days=1), first_start - timedelta(days=5))
    response = client.get("/api/kpis?as_of=2026-02-28", headers=auth(demo_tokens["manager1"]))
    assert response.status_code == 409, response.json
    error = (response.json or {})["error"]
    assert "(28 Feb 2025: USD)" in error["message"], error["message"]
    assert "opening AR (the AR the period before reports)" in error["message"]  # why a day before the window
    assert error["missing_rates"] == {"2025-02-28": ["USD"]}


@pytest.mark.db
def test_two_backfills_at_once_store_each_period_once_and_agree(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    """Two runners (a scheduler and an operator's `creditflow kpis --backfill`) at once: every period is
    stored once, posted once in the audit trail, and each opening AR is the AR the period before stored,
    whichever runner stored which."""
    book = busy_book(session_factory, 33)
    results: list[Any] = []
    pg_log = postgres_log(settings)  # CI's server log (CREDITFLOW_TEST_PG_LOG): the loser logs no ERROR

    def run() -> None:
        try:
            now = at(book.today + timedelta(days=1))
            results.append(backfill_snapshots(session_factory, BASE, book.today, actor="system", now=now))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2 and all(isinstance(r, dict) for r in results), results
    assert results[0]["snapshots"] == results[1]["snapshots"]
    with session_factory() as session:
        rows = session.execute(select(KpiSnapshot.period, KpiSnapshot.period_end)).all()
        posted = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "kpi_snapshot_posted")
        )
        assert len(rows) == len(set(rows)) == posted
        months = sorted(end for period, end in rows if period == MONTH)
        assert len(months) >= 2, months
        stored = snapshots_of(session, MONTH, BASE, months)
    for before, after in zip(months, months[1:], strict=False):
        assert stored[after]["cei"]["ar_start"] == stored[before]["dso"]["ar"], after
    pg_log.assert_no_errors()
