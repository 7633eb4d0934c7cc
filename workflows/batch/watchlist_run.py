"""The daily job `watchlist_run`: evaluate the early-warning table over the book (credit/watchlist.py), and
on the summary weekday e-mail the credit managers the week's watchlist once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.watchlist import (
    SYSTEM,
    EntryFilter,
    WatchlistEntry,
    counts_by_action,
    evaluate_watchlist,
    list_entries,
)
from workflows.credit.watchlist_rules import RulesError, deployed_rules
from workflows.engine.runtime import Runtime
from workflows.mail.outbox import queue_email_by_language
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.users import emails_of

SUMMARY_WEEKDAY = 0  # Monday
SUMMARY_ROWS = 50  # open entries listed in the e-mail; the rest are on /watchlist


def watchlist_run(rt: Runtime, today: date, now: datetime) -> dict[str, Any]:
    """The daily job: open, update and clear entries for `today` (running it again the same day changes
    nothing), then on a Monday queue the weekly summary (once a week: the outbox keys it by the week). A
    missing or failing table is recorded and reported; the entries stay as they were."""
    base = rt.settings.credit.base_currency
    try:
        with transaction(rt.factory) as session:
            summary = evaluate_watchlist(session, deployed_rules(session), today, now, base=base)
    except RulesError as exc:
        with transaction(rt.factory) as session:
            record_event(
                session,
                actor=SYSTEM,
                action="watchlist_run_refused",
                now=now,
                as_of=today.isoformat(),
                reason=exc.message,
            )
        summary = {"as_of": today.isoformat(), "evaluated": False, "reason": exc.message}
    with transaction(rt.factory) as session:
        queued = queue_weekly_summary(session, today, now)
    # One outbox row per language the credit managers read; summary_email is the first (None: none queued).
    summary["summary_email"] = queued[0] if queued else None
    summary["summary_emails"] = queued
    return summary


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def queue_weekly_summary(session: Session, today: date, now: datetime) -> list[int]:
    """On the summary weekday, queue the week's watchlist e-mail to the credit managers, each in their
    language (the outbox ids: one per language); none on other days, when it was queued this week already
    (in whichever languages), when the watchlist is empty and did not change this week, or when no credit
    manager has an address."""
    if today.weekday() != SUMMARY_WEEKDAY:
        return []
    recipients = emails_of(session, groups=[roles.CREDIT_MANAGER])
    if not recipients:
        return []
    week_start = datetime.combine(today - timedelta(days=7), datetime.min.time(), tzinfo=now.tzinfo)
    opened = session.scalar(
        select(func.count()).select_from(WatchlistEntry).where(WatchlistEntry.opened_at >= week_start)
    )
    cleared = session.scalar(
        select(func.count()).select_from(WatchlistEntry).where(WatchlistEntry.cleared_at >= week_start)
    )
    rows, total = list_entries(session, EntryFilter(status="open"), page=1, per_page=SUMMARY_ROWS)
    if not (total or opened or cleared):
        return []  # nothing on the watchlist and nothing changed this week: no mail to read
    week = week_of(today)
    return queue_email_by_language(
        session,
        to=recipients,
        template="watchlist_summary",
        context={
            "week": week,
            "as_of": today.isoformat(),
            "total": total,
            "by_action": counts_by_action(session),
            "opened": int(opened or 0),
            "cleared": int(cleared or 0),
            "entries": [
                {**row, "indicator_list": ", ".join(i["indicator"] for i in row["indicators"])}
                for row in rows
            ],
            "more": max(0, total - len(rows)),
        },
        dedupe_key=f"watchlist_summary:{week}",
        now=now,
    )
