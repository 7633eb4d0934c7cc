"""Without a deployed early_warning.dmn (a database before `creditflow init`, or only older versions of
credit_limit_review) the daily watchlist run records why and changes nothing, and an event's evaluation is
skipped without refusing the event."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from tests.credit.test_watchlist import NOW, TODAY, Book, runtime
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit.watchlist import WatchlistEntry, flag_customer
from workflows.store.db import transaction
from workflows.store.models import AuditEvent


def test_the_run_without_a_table_is_refused_recorded_and_writes_no_entry(app: Flask) -> None:
    rt = runtime(app)
    with transaction(rt.factory) as session:
        customer = Book(session).customer("alone", limit="100")
        Book(session, n=10).invoice(customer, "500.00")  # 500 % of its limit: it would be flagged
    summary = watchlist_run(rt, TODAY, NOW)
    assert summary["evaluated"] is False
    assert "no active credit_limit_review version carries early_warning.dmn" in summary["reason"]
    with transaction(rt.factory) as session:
        assert flag_customer(session, customer, NOW, base="EUR", actor="analyst1") is None
    with rt.factory() as session:
        assert session.scalar(select(func.count()).select_from(WatchlistEntry)) == 0
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "watchlist_run_refused"))
        assert event.actor == "system" and event.detail["as_of"] == TODAY.isoformat()
        assert event.detail["reason"] == summary["reason"]
