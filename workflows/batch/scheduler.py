"""The embedded scheduler: APScheduler wakes `tick` when the next timer, e-mail or daily run is due.

It never polls instances: the next wake-up comes from indexed columns (timer due times, outbox
retry times, task due dates). A cap (`max_sleep_s`) makes it notice rows written by other processes.
Exactly one scheduler runs per database: a file lock on SQLite, an advisory lock on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, func, select, text

from workflows.batch.jobs import DAILY_JOBS, DailyJob, tick
from workflows.engine.runner import Runtime
from workflows.mail.outbox import next_mail_due
from workflows.mail.smtp import Mailer
from workflows.store.models import InboxItem, TaskStatus, Timer

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6372656469  # "credi": one number shared by every creditflow process


class SingleSchedulerLock:
    """Held for the life of the process by the one scheduler allowed per database."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._file: IO[str] | None = None
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """Try to become the scheduler; False when another process already is."""
        engine = self._rt.engine
        if engine.dialect.name == "postgresql":
            conn = engine.connect()
            got = conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            # The lock belongs to the session, not the transaction: end the transaction so the held
            # connection is not left "idle in transaction" (holding back VACUUM) for the process's life.
            conn.commit()
            if got:
                self._conn = conn  # the lock lives as long as this session
            else:
                conn.close()
            return bool(got)
        path = Path(self._rt.settings.scheduler.lock_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self._file = fh
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                # close() only returns the connection to the pool, whose session would keep the lock.
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def next_wake(rt: Runtime, now: datetime, jobs: Mapping[str, DailyJob]) -> datetime:
    """When something will next be due: a timer, an e-mail retry, an overdue reminder or a daily run."""
    settings = rt.settings.scheduler
    candidates = [now + timedelta(seconds=settings.max_sleep_s)]
    with rt.factory() as session:
        timer = session.scalar(select(func.min(Timer.due_at)))
        mail = next_mail_due(session)
        reminder = session.scalar(
            select(func.min(InboxItem.due_at)).where(
                InboxItem.status == TaskStatus.OPEN, InboxItem.reminded_at.is_(None)
            )
        )
    candidates += [t for t in (timer, mail, reminder) if t is not None]
    if jobs:
        daily = now.replace(hour=settings.daily_hour, minute=0, second=0, microsecond=0)
        candidates.append(daily if daily > now else daily + timedelta(days=1))
    return max(now, min(candidates))


class EmbeddedScheduler:
    """APScheduler with one self-rescheduling job; `nudge()` makes it run soon after a web action."""

    def __init__(
        self,
        rt: Runtime,
        mailer: Mailer | None,
        clock: Callable[[], datetime],
        jobs: Mapping[str, DailyJob] = DAILY_JOBS,
    ) -> None:
        self._rt = rt
        self._mailer = mailer
        self._clock = clock
        self._jobs = jobs
        self._scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )

    def start(self) -> None:
        self._scheduler.start()
        self.nudge()

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=False)

    def nudge(self, when: datetime | None = None) -> None:
        """Run the wake-up job at `when` (default now), replacing the pending one."""
        self._scheduler.add_job(
            self._wake, "date", run_date=when or self._clock(), id="wake", replace_existing=True
        )

    def _wake(self) -> None:
        now = self._clock()
        try:
            did = self.run_once(now)
            if any(did.values()):
                logger.info("scheduler at %s: %s", now.isoformat(), did)
        except Exception:
            # A sweep loop: one failed round is logged and the next round still gets scheduled.
            logger.exception("scheduler round at %s failed", now.isoformat())
        self.nudge(next_wake(self._rt, self._clock(), self._jobs))

    def run_once(self, now: datetime) -> dict[str, Any]:
        """One scheduler round as of `now` (daily jobs only from the configured hour on)."""
        due = now.hour >= self._rt.settings.scheduler.daily_hour
        did = tick(self._rt, self._mailer, now, jobs=self._jobs, daily_jobs_due=due, runner="scheduler")
        result: dict[str, Any] = {"timers": did.timers, "reminders": did.reminders, "jobs": did.jobs}
        if self._mailer is not None:
            result["emails"] = did.emails
        return result
