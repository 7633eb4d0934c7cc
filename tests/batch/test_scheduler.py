"""The embedded scheduler: when it wakes, that only one runs per database, and what one round does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from handlers.registry import build_operations
from tests.fixtures.engine.cases import open_task, review_runtime, start_review
from workflows.batch.jobs import DailyJob, remind_overdue_tasks
from workflows.batch.scheduler import ADVISORY_LOCK_KEY, EmbeddedScheduler, SingleSchedulerLock, next_wake
from workflows.engine.runner import Runtime
from workflows.mail.outbox import queue_email
from workflows.settings import Settings
from workflows.store.db import make_engine, transaction

REVIEW_DUE = timedelta(hours=4)  # dueIn of `review_case` in review.bpmn
TIMER_DUE = timedelta(days=2)  # its boundary timer
WEEK_S = 7 * 24 * 3600


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    """The `review` diagram deployed; the scheduler may sleep a week, so the cap never hides a due time."""
    return review_runtime(settings.replace("scheduler", max_sleep_s=WEEK_S), db_engine, clock)


NO_JOBS: dict[str, DailyJob] = {}


def probe_job() -> tuple[dict[str, DailyJob], list[date]]:
    """A table of one daily job, `test.probe`, that records the days it ran for."""
    days: list[date] = []

    def probe(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        days.append(as_of)
        return {}

    return {"test.probe": probe}, days


# --- next_wake -----------------------------------------------------------------------------------------


def test_next_wake_with_nothing_due_is_the_max_sleep_cap(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    assert next_wake(rt, clock, NO_JOBS) == clock + timedelta(seconds=settings.scheduler.max_sleep_s)
    capped = Runtime(db_engine, settings.replace("scheduler", max_sleep_s=60), rt.operations)
    assert next_wake(capped, clock, NO_JOBS) == clock + timedelta(seconds=60)


def test_next_wake_is_the_earliest_task_due_date_timer_or_outbox_retry(rt: Runtime, clock: datetime) -> None:
    start_review(rt, clock)
    assert next_wake(rt, clock, NO_JOBS) == clock + REVIEW_DUE  # the review is due before its timer

    later = clock + timedelta(hours=5)
    # Nobody is in the review's group, so the reminder is recorded without queuing an e-mail.
    assert remind_overdue_tasks(rt, later) == 1
    assert next_wake(rt, later, NO_JOBS) == clock + TIMER_DUE  # a reminded task no longer wakes anyone

    retry_at = clock + timedelta(days=1)
    with transaction(rt.factory) as session:
        queue_email(
            session,
            to=["ops@example.com"],
            template="generic",
            context={"subject": "Retry", "message": "Due tomorrow."},
            dedupe_key="wake-test",
            now=retry_at,
        )
    assert next_wake(rt, later, NO_JOBS) == retry_at

    assert next_wake(rt, clock + timedelta(days=3), NO_JOBS) == clock + timedelta(
        days=3
    )  # overdue: now, never earlier
    short = Runtime(rt.engine, rt.settings.replace("scheduler", max_sleep_s=60), rt.operations)
    assert next_wake(short, later, NO_JOBS) == later + timedelta(seconds=60)


def test_next_wake_includes_the_next_daily_run_when_there_are_daily_jobs(
    rt: Runtime, clock: datetime
) -> None:
    assert next_wake(rt, clock, NO_JOBS) == clock + timedelta(seconds=WEEK_S)
    jobs, _days = probe_job()
    daily_hour = rt.settings.scheduler.daily_hour
    tomorrow = (clock + timedelta(days=1)).replace(hour=daily_hour)
    assert next_wake(rt, clock, jobs) == tomorrow  # 09:00 is past today's run
    before = clock.replace(hour=daily_hour - 1)
    assert next_wake(rt, before, jobs) == clock.replace(hour=daily_hour)


# --- SingleSchedulerLock -----------------------------------------------------------------------------


@pytest.fixture
def separate_runtimes(settings: Settings) -> Iterator[list[Runtime]]:
    """Three runtimes with their own engines on the same database, as three processes would have."""
    engines = [make_engine(settings.database) for _ in range(3)]
    yield [Runtime(e, settings, build_operations()) for e in engines]
    for engine in engines:
        engine.dispose()


def test_single_scheduler_lock_admits_one_holder_until_it_releases(separate_runtimes: list[Runtime]) -> None:
    first, second, third = (SingleSchedulerLock(rt) for rt in separate_runtimes)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        first.release()
        assert third.acquire() is True
        assert second.acquire() is False
    finally:
        for lock in (first, second, third):
            lock.release()


def test_two_scheduler_locks_in_one_process_still_exclude_each_other(rt: Runtime) -> None:
    first, second = SingleSchedulerLock(rt), SingleSchedulerLock(rt)
    try:
        assert (first.acquire(), second.acquire()) == (True, False)
        first.release()
        assert second.acquire() is True
    finally:
        first.release()
        second.release()


def test_postgres_scheduler_lock_is_held_by_an_idle_session_not_an_open_transaction(rt: Runtime) -> None:
    engine = rt.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks exist on PostgreSQL only; SQLite uses the lock file")
    lock = SingleSchedulerLock(rt)
    key = (ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFFFFFF)
    holders = text(
        "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo"
    )
    try:
        assert lock.acquire() is True
        with engine.connect() as conn:
            assert conn.scalars(holders, {"hi": key[0], "lo": key[1]}).all() == ["idle"]
    finally:
        lock.release()
    with engine.connect() as conn:
        assert conn.scalars(holders, {"hi": key[0], "lo": key[1]}).all() == []


# --- EmbeddedScheduler.run_once -------------------------------------------------------------------------


def test_scheduler_round_fires_a_due_timer(rt: Runtime, clock: datetime) -> None:
    instance = start_review(rt, clock)
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs=NO_JOBS)

    assert scheduler.run_once(clock + timedelta(days=1)) == {"timers": 0, "reminders": 1, "jobs": []}
    assert scheduler.run_once(clock + TIMER_DUE + timedelta(minutes=1)) == {
        "timers": 1,
        "reminders": 0,
        "jobs": [],
    }
    assert open_task(rt.factory, instance.id, "chase_customer").candidate_groups == ["sales"]


def test_scheduler_round_runs_daily_jobs_only_from_the_daily_hour(rt: Runtime, clock: datetime) -> None:
    jobs, days = probe_job()
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs=jobs)
    daily_hour = rt.settings.scheduler.daily_hour
    early = (clock + timedelta(days=1)).replace(hour=daily_hour - 1)

    assert scheduler.run_once(early)["jobs"] == []
    assert scheduler.run_once(early.replace(hour=daily_hour))["jobs"] == [
        {"job": "test.probe", "as_of": "2026-03-03"}
    ]
    assert days == [date(2026, 3, 3)]
