"""The embedded scheduler: APScheduler wakes `tick` when the next timer, e-mail or daily run is due.

It never polls instances: the next wake-up comes from indexed columns (timer due times, outbox
retry times, task due dates). A cap (`max_sleep_s`) makes it notice rows written by other processes.
Exactly one scheduler runs per database: an advisory lock on PostgreSQL (advisory locks belong to one
database), and on SQLite a file lock next to the database file. So two servers on two databases both
run their schedulers, and two on one database (whatever their working directories) run one.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, func, select, text

from workflows.batch.jobs import DAILY_JOBS, DailyJob, tick
from workflows.batch.sweeps import next_retry_due
from workflows.clock import utcnow
from workflows.engine.runner import Runtime
from workflows.mail.outbox import next_mail_due
from workflows.mail.smtp import Mailer
from workflows.store.models import InboxItem, TaskStatus, Timer

logger = logging.getLogger(__name__)

# A web action's nudge runs a round at most this soon after the last one began (see EmbeddedScheduler.nudge).
NUDGE_WINDOW = timedelta(milliseconds=250)
SKIPPED_RETRY = timedelta(milliseconds=20)  # a skipped wake-up's retry (EmbeddedScheduler._skipped)
ADVISORY_LOCK_KEY = 0x6372656469  # "credi": one number shared by every creditflow process
LOCK_SUFFIX = ".scheduler-lock"  # var/creditflow.db -> var/creditflow.db.scheduler-lock


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
        path = scheduler_lock_path(self._rt)
        if path is None:
            return True  # an in-memory database lives in this process only: nobody else can share it
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self._file = fh
        return True

    def still_held(self) -> bool:
        """Whether this process still holds the lock, taking it again when it is free.

        A PostgreSQL advisory lock ends with its session: a restart, a failover or a dropped idle
        connection frees it, and a standby server takes it. The scheduler asks before each round.
        """
        if self._conn is None:
            return self._file is not None or self.acquire()
        try:
            held = self._conn.scalar(_HELD, {"k": ADVISORY_LOCK_KEY})
            self._conn.commit()
        except Exception as exc:  # the session is gone: so is the lock
            logger.warning("scheduler lock: its database session ended (%s)", type(exc).__name__)
            held = False
        if held:
            return True
        self.release()
        return self.acquire()

    def release(self) -> None:
        if self._conn is not None:
            try:
                # close() only returns the connection to the pool, whose session would keep the lock.
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                self._conn.commit()
            except Exception:  # noqa: BLE001 - a session that ended holds no lock to release
                self._conn.invalidate()
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


# Held by this session: a bigint key is classid (high 32 bits) and objid (low 32 bits), objsubid 1.
_HELD = text(
    "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :k"
)


def scheduler_lock_path(rt: Runtime) -> Path | None:
    """The SQLite lock file: `[scheduler] lock_file`, or by default the database file's path + LOCK_SUFFIX.

    None for an in-memory database. The default belongs to the database, not the working directory
    (the old default, var/scheduler.lock, let two servers on two databases in one directory exclude
    each other, and two on one database started from different directories both run).
    """
    configured = rt.settings.scheduler.lock_file
    if configured:
        return Path(configured).resolve()
    url = rt.engine.url
    database = url.database
    if database and database.startswith("file:") and str(url.query.get("uri", "")).lower() in ("true", "1"):
        # An SQLite URI filename (`file:/srv/cf.db?mode=ro`): the file is its percent-decoded path.
        if url.query.get("mode") == "memory":
            return None
        database = unquote(urlsplit(database).path)
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    # Resolved as SQLite resolves the file (against the working directory), so every path of one file
    # (relative, absolute, through a symlink) names one lock.
    found = Path(database).resolve()
    return found.with_name(found.name + LOCK_SUFFIX)


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
    candidates += [t for t in (timer, mail, reminder, next_retry_due(rt)) if t is not None]
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
        lock: SingleSchedulerLock | None = None,
    ) -> None:
        self._rt = rt
        self._lock = lock  # checked before each round: a lost lock may now be another server's
        self._mailer = mailer
        self._clock = clock
        self._jobs = jobs
        self._scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )
        self._nudged = False  # a web action asked for a round since the last one began
        self._in_round = False  # a round runs now: it schedules the next one when it ends
        self._plan = threading.Lock()  # _nudged, _in_round and the pending wake-up change together
        self._round_began = datetime.min.replace(tzinfo=UTC)  # wall clock
        self._last_full: tuple[datetime, datetime] | None = None  # (wall, clock) of the last full round
        self._idle = threading.Event()  # set while no round runs (shutdown waits for it)
        self._idle.set()
        self._stopped = False

    def start(self) -> None:
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self._scheduler.start()
        self.nudge()

    def shutdown(self, wait_s: float = 0.0) -> None:
        """Stop scheduling; wait up to `wait_s` for a round that runs now to end (`serve` waits before it
        stops the mail sink: a round cut off mid-send waited for the SMTP timeout, over 30 s)."""
        if not self._stopped:  # a second call is a no-op (APScheduler's raised SchedulerNotRunningError)
            self._stopped = True  # a round due again at once is not run after this one (_wake)
            self._scheduler.shutdown(wait=False)
        self._idle.wait(wait_s)

    def nudge(self, when: datetime | None = None) -> None:
        """Run the wake-up job at `when`, replacing the pending one; without `when` (a web action), soon.

        A web action's round runs at once, or NUDGE_WINDOW after the last round began: the nudges of
        a burst of requests share a round instead of each running one (at 100 requests/s a round each
        cost more CPU than the requests). A pending round due sooner is kept. While a round runs, a
        nudge only leaves its mark: the round, when it ends, schedules the next one within the window
        (an add_job per request woke APScheduler's thread for nothing).
        """
        with self._plan:
            if when is None:
                self._nudged = True
                if self._in_round:
                    return
                run_date = max(utcnow(), self._round_began + NUDGE_WINDOW)
                pending = self._scheduler.get_job("wake")
                due = getattr(pending, "next_run_time", None)  # none before the scheduler starts
                if due is not None and due <= run_date:
                    return  # that round starts after this action's commit and sees what it wrote
                self._schedule(run_date)
                return
            self._schedule(self._next_round(when))

    def _next_round(self, when: datetime) -> datetime:
        """When (wall clock) the round after the one that began at `_round_began` runs, the next row being
        due at `when` (clock time). Called with `_plan` held."""
        # `when` is on the clock's time, APScheduler waits on the wall clock: with a simulated clock
        # (weeks away from the wall clock and standing still) wait the same distance from the wall
        # time. Rows due sooner (the e-mail a request queued during the round) wait for the window
        # like the nudges that wrote them, so a stream of requests is served by a round per window,
        # each sending the window's e-mails over one connection, not by rounds back to back.
        wall = utcnow()
        run_date = max(wall + max(timedelta(0), when - self._clock()), self._round_began + NUDGE_WINDOW)
        if self._nudged:  # a web action during the round: its rows may be newer than what it read
            run_date = min(run_date, max(wall, self._round_began + NUDGE_WINDOW))
        return run_date

    def _schedule(self, run_date: datetime) -> None:
        """The one pending wake-up, at `run_date` (called with `_plan` held)."""
        self._in_round = False
        self._scheduler.add_job(self._wake, "date", run_date=run_date, id="wake", replace_existing=True)

    def _wake(self) -> None:
        # A round due again at once (it outlasted the window while requests nudged) runs here, in this
        # call: a job added for "now" while this one still runs is skipped by APScheduler (max_instances
        # 1), and with nothing else pending the scheduler slept until the next web action.
        self._idle.clear()
        try:
            again = True
            while again and not self._stopped:
                again = self._round()
        finally:
            self._idle.set()

    def _round(self) -> bool:
        """One round; schedules the next one, or answers True when it is due at once."""
        try:
            with self._plan:
                nudged, self._nudged = self._nudged, False
                self._in_round = True
                self._round_began = utcnow()
            now = self._clock()
            wake = self.wake_once(now, light=nudged and not self._full_round_due(now))
            with self._plan:
                run_date = self._next_round(wake)
                if run_date <= utcnow():
                    return True
                self._schedule(run_date)
        except Exception as exc:
            # The next wake-up is scheduled only here: a failure escaping (a simulated clock that could not
            # be read from the database) would end the scheduler for good. Try again after the backoff.
            logger.error("scheduler: the round could not start: %s: %s", type(exc).__name__, exc)
            with self._plan:
                self._schedule(utcnow() + timedelta(seconds=self.backoff_s))
        return False

    def _skipped(self, event: JobEvent) -> None:
        """A wake-up APScheduler skipped because the last one still ran (it was added just before that one
        returned, or by a web action just before it began): try again shortly, unless a round runs now,
        which schedules the next one itself."""
        if event.job_id != "wake":
            return
        with self._plan:
            if not self._in_round:
                self._schedule(utcnow() + SKIPPED_RETRY)

    def _full_round_due(self, now: datetime) -> bool:
        """Whether a round as of `now` (clock) must also run the daily jobs.

        A round a web action asked for may leave them out (they are no web action's doing) while the
        last full round is under `max_sleep_s` old on both clocks, on the same day and the same side
        of the daily hour. So the jobs still start within `max_sleep_s` of being due, also under a
        steady stream of nudges, and at once after the simulated clock moves to another day.
        """
        if self._last_full is None:
            return True
        wall, clock = self._last_full
        cap = timedelta(seconds=self._rt.settings.scheduler.max_sleep_s)
        hour = self._rt.settings.scheduler.daily_hour
        return (
            not utcnow() - wall < cap
            or not clock <= now < clock + cap
            or now.date() != clock.date()
            or (now.hour >= hour) != (clock.hour >= hour)
        )

    def wake_once(self, now: datetime, *, light: bool = False) -> datetime:
        """One round as of `now`, and when the next one is due: never at once after a round that failed.

        A `light` round leaves out the daily jobs (see `_full_round_due`).

        A round that failed, or left something due that it could not run (an instance another process
        holds, a failure that could not be recorded), would otherwise be woken again at once, and again:
        the spin the review saw (100 % CPU, 1.6 MB/s of log). It waits `backoff_s` instead.
        """
        settle = now
        if self._lock is not None and not self._held():
            # Another server runs the scheduler now; stand by and look again after the sleep cap.
            return now + timedelta(seconds=self._rt.settings.scheduler.max_sleep_s)
        try:
            if not light:
                self._last_full = (utcnow(), now)
            did = self.run_once(now, light=light)
            if any(did.values()):
                logger.info("scheduler at %s: %s", now.isoformat(), did)
            if did.get("errors") or did.get("failed"):
                settle = now + timedelta(seconds=self.backoff_s)
        except Exception as exc:
            # A sweep loop: a failed round is one log line (tick records each item's failure itself),
            # and the next round is still scheduled, after the backoff.
            logger.error("scheduler round at %s failed: %s: %s", now.isoformat(), type(exc).__name__, exc)
            settle = now + timedelta(seconds=self.backoff_s)
        backoff = timedelta(seconds=self.backoff_s)
        try:
            later = self._clock()
            wake = next_wake(self._rt, later, self._jobs)
        except Exception as exc:
            logger.error("scheduler: the next wake-up could not be read: %s: %s", type(exc).__name__, exc)
            later, wake = None, now + timedelta(seconds=self._rt.settings.scheduler.max_sleep_s)
        stood = now
        if later is not None and later < now:
            # The clock stepped back during the round (NTP): count from where it stands now, or the wait
            # (`_next_round`: the next round's clock time minus the clock's) ran past max_sleep_s.
            settle, stood = settle - (now - later), later
        if wake <= stood or (later == now and wake < now + backoff):
            # Due by `now` and still not run: a timer due exactly at `now` (it fires only once its time
            # has passed), an instance another process held. On a simulated clock standing at `now`,
            # waking "now" again would loop at full CPU until the clock moves; wait like a failed round.
            # So with a row due a hair after a clock that stood through the round (a real clock always
            # moves): it cannot come due until someone moves the clock, which nudges the scheduler.
            settle = max(settle, stood + backoff)
        return max(wake, settle)

    def _held(self) -> bool:
        assert self._lock is not None
        try:
            return self._lock.still_held()
        except Exception as exc:  # the database is unreachable: no round could run anyway
            logger.error("scheduler: the lock could not be checked: %s: %s", type(exc).__name__, exc)
            return False

    @property
    def backoff_s(self) -> int:
        """Seconds between rounds while rounds fail: the first retry delay, within the sleep cap."""
        settings = self._rt.settings.scheduler
        return max(1, min(settings.retry_base_s, settings.max_sleep_s))

    def run_once(self, now: datetime, *, light: bool = False) -> dict[str, Any]:
        """One scheduler round as of `now` (daily jobs only from the configured hour on, and not `light`)."""
        due = now.hour >= self._rt.settings.scheduler.daily_hour and not light
        did = tick(self._rt, self._mailer, now, jobs=self._jobs, daily_jobs_due=due, runner="scheduler")
        result: dict[str, Any] = {"timers": did.timers, "reminders": did.reminders, "jobs": did.jobs}
        if self._mailer is not None:
            result["emails"] = did.emails
        # Only when something failed, so a quiet round still reads as three zeros.
        for key, value in (("retried", did.retried), ("failed", did.failed), ("errors", did.errors)):
            if value:
                result[key] = value
        return result
