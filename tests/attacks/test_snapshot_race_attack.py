"""Attacker J: the kpi_snapshots ON CONFLICT insert (a8a77b8) and the per-engine, per-day book references
of large-book watchlist events (01dd295)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from workflows.batch import kpi_month_end
from workflows.batch.kpi_month_end import _store, post_kpi_snapshot
from workflows.credit import watchlist_signals
from workflows.credit.kpi_snapshots import KpiSnapshot
from workflows.engine.runtime import Runtime
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

NOW = datetime(2026, 2, 1, 1, 0, tzinfo=UTC)
END = date(2026, 1, 31)


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.factory() as session:
        rows = session.scalar(select(func.count()).select_from(KpiSnapshot))
        posted = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "kpi_snapshot_posted")
        )
    return rows or 0, posted or 0


def test_posting_the_same_period_twice_in_two_sessions_stores_it_once(rt: Runtime) -> None:
    with transaction(rt.factory) as first:
        assert post_kpi_snapshot(first, "month", END, base="EUR", actor="system", now=NOW) is not None
    with transaction(rt.factory) as second:
        assert post_kpi_snapshot(second, "month", END, base="EUR", actor="system", now=NOW) is None
    assert counts(rt) == (1, 1)


def test_the_loser_of_a_race_past_the_existence_check_gets_none_not_an_error(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    kpis: dict[str, Any] = {"dso": {"value": "40.0", "unit": "days"}}
    real = kpi_month_end.is_postgres
    fired: list[bool] = []

    def winner_commits_first(session: Session) -> bool:
        # The loser has checked that no snapshot exists; the winner stores and commits now.
        if not fired:
            fired.append(True)
            with transaction(rt.factory) as winner:
                assert _store(winner, "month", END, kpis, base="EUR", actor="w", now=NOW) is not None
        return real(session)

    monkeypatch.setattr(kpi_month_end, "is_postgres", winner_commits_first)
    # The loser in a plain session: transaction() takes SQLite's write lock at BEGIN IMMEDIATE, which
    # would serialise the two runners before the check.
    with rt.factory() as loser:
        assert _store(loser, "month", END, kpis, base="EUR", actor="l", now=NOW) is None
        loser.commit()
    assert fired
    assert counts(rt) == (1, 1)
    with rt.factory() as session:
        assert session.scalar(select(KpiSnapshot.posted_by)) == "w"


def test_a_huge_odd_kpis_payload_is_stored_and_read_back_whole(rt: Runtime) -> None:
    kpis: dict[str, Any] = {
        f"k{i}\u2603'\";--": {"value": "9" * 200 if i % 2 else None, "unit": "x" * 1000, "nested": [i] * 50}
        for i in range(2000)
    }
    with transaction(rt.factory) as session:
        stored = _store(session, "quarter", END, kpis, base="EUR", actor="system", now=NOW)
        assert stored is not None
    with rt.factory() as session:
        assert session.scalar(select(KpiSnapshot.kpis)) == kpis
    assert counts(rt) == (1, 1)


NAMES: dict[int, str] = {}


def named(name: str) -> Engine:
    engine = create_engine("sqlite://")
    NAMES[id(engine)] = name
    return engine


@pytest.fixture
def fake_book(monkeypatch: pytest.MonkeyPatch) -> dict[str, Decimal]:
    """Whole-book figures per database URL, read through patched readers (no tables needed)."""
    figures = {"a": Decimal("100"), "b": Decimal("200")}

    def owed(session: Session, rates: Any, only: Any = None) -> dict[int, Decimal]:
        return {1: figures[NAMES[id(session.get_bind())]]}

    monkeypatch.setattr(watchlist_signals, "LARGE_BOOK", 1)
    monkeypatch.setattr(watchlist_signals, "_rates", lambda session, as_of, base, only=None: ({}, []))
    monkeypatch.setattr(watchlist_signals, "_owed", owed)
    monkeypatch.setattr(
        watchlist_signals, "_dispute_rates", lambda session, as_of, only=None: ({}, Decimal(1))
    )
    return figures


def test_two_engines_do_not_share_the_day_s_references(fake_book: dict[str, Decimal]) -> None:
    day = date(2026, 3, 2)
    one, two = named("a"), named("b")
    try:
        with Session(one) as a, Session(two) as b:
            assert watchlist_signals._book_references(a, day, "EUR")[0] == Decimal("100")
            assert watchlist_signals._book_references(b, day, "EUR")[0] == Decimal("200")
            assert watchlist_signals._book_references(a, day, "EUR")[0] == Decimal("100")
    finally:
        one.dispose()
        two.dispose()


def test_a_new_day_does_not_reuse_yesterday_s_references(fake_book: dict[str, Decimal]) -> None:
    engine = named("a")
    try:
        with Session(engine) as session:
            assert watchlist_signals._book_references(session, date(2026, 3, 2), "EUR")[0] == Decimal("100")
            fake_book["a"] = Decimal("150")  # the book moved overnight
            assert watchlist_signals._book_references(session, date(2026, 3, 2), "EUR")[0] == Decimal("100")
            assert watchlist_signals._book_references(session, date(2026, 3, 3), "EUR")[0] == Decimal("150")
            assert watchlist_signals._book_references(session, date(2026, 3, 3), "GBP")[0] == Decimal("150")
    finally:
        engine.dispose()
