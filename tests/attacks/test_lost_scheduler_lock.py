"""Attack: two servers on one PostgreSQL database, and the scheduler lock's session goes away.

The advisory lock lives as long as the holder's database session. When that session ends under the
holder (a PostgreSQL restart or failover, `idle_session_timeout`, a proxy or firewall dropping an idle
connection, an admin's pg_terminate_backend), the lock is free: the standby server takes it and runs
its scheduler, and the first server, which never looked again, went on running its own. Two
schedulers on one database, the thing the lock exists to prevent. A scheduler now checks before each
round that it still holds the lock, takes it again if it is free, and otherwise stands by.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from handlers.registry import build_operations
from workflows.batch.jobs import DailyJob
from workflows.batch.scheduler import EmbeddedScheduler, SingleSchedulerLock
from workflows.engine.runtime import Runtime
from workflows.settings import Settings
from workflows.store.db import make_engine


@pytest.fixture
def two_servers(settings: Settings) -> Iterator[list[Runtime]]:
    if not settings.database.url.startswith("postgresql"):
        pytest.skip("advisory locks exist on PostgreSQL only (CREDITFLOW_TEST_DATABASE_URL)")
    engines = [make_engine(settings.database) for _ in range(2)]
    yield [Runtime(e, settings, build_operations()) for e in engines]
    for engine in engines:
        engine.dispose()


def probe() -> tuple[dict[str, DailyJob], list[date]]:
    days: list[date] = []

    def job(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        days.append(as_of)
        return {}

    return {"test.probe": job}, days


def end_lock_sessions(rt: Runtime) -> None:
    """What a failover or a dropped idle connection does to the lock holder's session."""
    with rt.engine.connect() as conn:
        # pg_terminate_backend only signals the backend; its timeout argument waits until the
        # session has exited and so its advisory lock is free (without it the standby's try could
        # run before the lock is gone: a flaky CI failure).
        conn.execute(
            text(
                "SELECT pg_terminate_backend(l.pid, 10000) FROM pg_locks l "
                "WHERE l.locktype = 'advisory' AND l.pid <> pg_backend_pid()"
            )
        )
        conn.commit()


def test_a_scheduler_whose_lock_session_ended_stops_when_another_server_took_the_lock(
    two_servers: list[Runtime], clock: datetime
) -> None:
    first_rt, second_rt = two_servers
    first, second = SingleSchedulerLock(first_rt), SingleSchedulerLock(second_rt)
    try:
        assert first.acquire() is True
        jobs, days = probe()
        scheduler = EmbeddedScheduler(first_rt, None, lambda: clock, jobs, lock=first)
        end_lock_sessions(first_rt)
        assert second.acquire() is True  # the standby server now runs the scheduler

        scheduler.wake_once(clock)

        assert days == []  # the first server's scheduler did not run a round beside the second's
        second.release()
        scheduler.wake_once(clock)  # the lock is free again: the first server takes it back and runs
        assert days == [clock.date()]
    finally:
        second.release()
        first.release()


@pytest.fixture
def two_sqlite_servers(settings: Settings) -> Iterator[list[Runtime]]:
    if settings.database.url.startswith("postgresql"):
        pytest.skip("the lock file of SQLite")
    engines = [make_engine(settings.database) for _ in range(2)]
    yield [Runtime(e, settings, build_operations()) for e in engines]
    for engine in engines:
        engine.dispose()


def test_a_standby_server_takes_over_the_scheduler_when_the_holder_dies(
    two_sqlite_servers: list[Runtime], clock: datetime
) -> None:
    """`creditflow serve` on a database another server's scheduler holds used to run none, for good:
    when the holder died (kill -9 frees its lock file) nobody ran timers, e-mail or daily jobs."""
    holder_rt, standby_rt = two_sqlite_servers
    holder, standby = SingleSchedulerLock(holder_rt), SingleSchedulerLock(standby_rt)
    try:
        assert (holder.acquire(), standby.acquire()) == (True, False)
        jobs, days = probe()
        scheduler = EmbeddedScheduler(standby_rt, None, lambda: clock, jobs, lock=standby)

        scheduler.wake_once(clock)
        assert days == []  # the holder runs the rounds
        holder.release()  # the holder's process died: the kernel frees its lock
        scheduler.wake_once(clock)
        assert days == [clock.date()]
    finally:
        holder.release()
        standby.release()
