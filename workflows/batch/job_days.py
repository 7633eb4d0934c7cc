"""One claim protocol for a day of a daily job, whoever runs it: `tick`, the embedded scheduler, Prefect.

A day is its `job_runs` row, claimed before any work with INSERT ... ON CONFLICT DO NOTHING (an
expected race, so no exception and no ERROR line in the PostgreSQL log). The run whose insert wins is
the claimant; every other run reads the row and:

- done: has nothing to do;
- running, heartbeat fresh: joins. The day's work is claim-safe per customer (`batch_claims`), so a
  joining run shares the day's remaining chunks rather than waiting, or skipping a day that is only
  running;
- running, heartbeat stale (the runs working on it died: `kill -9`, a lost machine): takes it over;
- failed: runs it again (a retry, counted as a takeover).

Every run working on a day beats its heartbeat from a thread (refreshing the day's counts), and the run
that ends the work records the day done with the day's summary. The summary and counts are the whole
day's, read from the claims, so it does not matter which run finishes or how many took part.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.batch.claims import DayCounts
from workflows.clock import utcnow
from workflows.engine.runtime import Runtime
from workflows.redaction import redacted
from workflows.store.db import is_postgres, transaction
from workflows.store.models import JobRun, JobStatus

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CountDay = Callable[[Session], DayCounts]
"""Reads the day's counts so far (a `DailyStart`'s claims); None for a job without claims."""


class Claim:
    """How a run came to work on a day."""

    CLAIMED = "claimed"  # its insert created the day
    JOINED = "joined"  # the day was running: it shares the work
    TOOK_OVER = "took_over"  # the day's heartbeat was stale: it is the claimant now
    RETRIED = "retried"  # the day had failed: it runs it again


@dataclass(frozen=True)
class DayClaim:
    job_run_id: int
    how: str


def runner_name(kind: str) -> str:
    """Who works on a day, as `job_runs.claimed_by` shows it: kind@host:pid."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"[:200]


def stale_after(rt: Runtime) -> timedelta:
    return timedelta(seconds=rt.settings.scheduler.job_stale_after_s)


def claim_job_day(rt: Runtime, job: str, day: date, *, runner: str, wall: Clock = utcnow) -> DayClaim | None:
    """Claim, join, take over or retry the job's day; None when the day is done."""
    now = wall()
    values: dict[str, Any] = {
        "job_name": job,
        "run_date": day,
        "status": JobStatus.RUNNING,
        "started_at": now,
        "heartbeat_at": now,
        "claimed_by": runner,
        "runs": 1,
        "takeovers": 0,
        "error": "",
        "result": {},
        **DayCounts().columns(),
    }
    with transaction(rt.factory) as session:
        dialect = postgresql if is_postgres(session) else sqlite
        insert = (
            dialect.insert(JobRun)
            .values(values)
            .on_conflict_do_nothing(index_elements=[JobRun.job_name, JobRun.run_date])
            .returning(JobRun.id)
        )
        new_id = session.execute(insert).scalar()
        if new_id is not None:
            return DayClaim(int(new_id), Claim.CLAIMED)
        # The row exists (committed: on PostgreSQL a conflicting insert waits for the other transaction).
        day_id, status = session.execute(
            select(JobRun.id, JobRun.status).where(JobRun.job_name == job, JobRun.run_date == day)
        ).one()
        if status == JobStatus.DONE:
            return None
        this_day = update(JobRun).where(JobRun.id == day_id)
        joined = {"runs": JobRun.runs + 1}
        claimant = {**joined, "claimed_by": runner, "heartbeat_at": now, "takeovers": JobRun.takeovers + 1}
        # Each conditional update takes the day only if it is still as read, so of two runs that found it
        # failed or stale at once, one takes it over and the other joins.
        if status == JobStatus.FAILED:
            retried = this_day.where(JobRun.status == JobStatus.FAILED).values(
                **claimant, status=JobStatus.RUNNING, finished_at=None, error=""
            )
            if _changed(session, retried):
                return DayClaim(day_id, Claim.RETRIED)
        cutoff = now - stale_after(rt)
        not_beaten = (JobRun.heartbeat_at < cutoff) | JobRun.heartbeat_at.is_(None)
        stale = this_day.where(JobRun.status == JobStatus.RUNNING, not_beaten)
        if _changed(session, stale.values(**claimant)):
            return DayClaim(day_id, Claim.TOOK_OVER)
        if _changed(session, this_day.where(JobRun.status == JobStatus.RUNNING).values(**joined)):
            return DayClaim(day_id, Claim.JOINED)
        return None  # finished between the read and the update


def _changed(session: Session, statement: Update) -> bool:
    return bool(cast("CursorResult[Any]", session.execute(statement)).rowcount)


def beat(rt: Runtime, day_id: int, *, wall: Clock = utcnow, count: CountDay | None = None) -> None:
    """Stamp the running day's heartbeat and refresh its counts."""
    with transaction(rt.factory) as session:
        counts = count(session).columns() if count else {}
        session.execute(
            update(JobRun)
            .where(JobRun.id == day_id, JobRun.status == JobStatus.RUNNING)
            .values(heartbeat_at=wall(), **counts)
        )


@contextmanager
def heartbeat(
    rt: Runtime, day_id: int, *, wall: Clock = utcnow, count: CountDay | None = None
) -> Iterator[None]:
    """Beat the day from a thread every quarter of the stale time while the block runs."""
    every = max(stale_after(rt).total_seconds() / 4, 0.05)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                beat(rt, day_id, wall=wall, count=count)
            except Exception:
                # A sweep loop: a missed beat (the database busy or away) is retried on the next one;
                # the work itself reports its own failures.
                logger.exception("heartbeat of job day %s failed", day_id)

    thread = threading.Thread(target=loop, name=f"job-day-{day_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def finish_job_day(
    rt: Runtime, day_id: int, summary: dict[str, Any], *, wall: Clock = utcnow, count: CountDay | None = None
) -> None:
    """Record the day done with its summary and counts (whichever run ends it; later ones write the same)."""
    with transaction(rt.factory) as session:
        counts = count(session).columns() if count else {}
        now = wall()
        session.execute(
            update(JobRun)
            .where(JobRun.id == day_id)
            .values(
                status=JobStatus.DONE, finished_at=now, heartbeat_at=now, result=summary, error="", **counts
            )
        )


def fail_job_day(
    rt: Runtime, day_id: int, error: BaseException, *, wall: Clock = utcnow, count: CountDay | None = None
) -> None:
    """Record the day failed, unless another run finished it meanwhile; the next run retries it."""
    with transaction(rt.factory) as session:
        counts = count(session).columns() if count else {}
        session.execute(
            update(JobRun)
            .where(JobRun.id == day_id, JobRun.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.FAILED,
                finished_at=wall(),
                error=redacted(f"{type(error).__name__}: {error}")[:2000],  # no quoted password stored
                **counts,
            )
        )


def refresh_done_day(
    rt: Runtime, job: str, day: date, summary: dict[str, Any], *, count: CountDay | None = None
) -> bool:
    """Give a done day its summary and counts again after work outside the protocol (the CLI's
    `dunning-run` on a day the scheduler finished), so its record stays the whole day's.

    A running day needs nothing: its heartbeat and its end count the claims. False when no day is done.
    """
    with transaction(rt.factory) as session:
        counts = count(session).columns() if count else {}
        done = (
            update(JobRun)
            .where(JobRun.job_name == job, JobRun.run_date == day, JobRun.status == JobStatus.DONE)
            .values(result=summary, **counts)
        )
        return _changed(session, done)


def run_job_day(
    rt: Runtime,
    job: str,
    day: date,
    work: Callable[[], dict[str, Any]],
    *,
    runner: str,
    count: CountDay | None = None,
    wall: Clock = utcnow,
) -> dict[str, Any] | None:
    """Run `work` for the job's day under the claim protocol; its summary, or None if the day was done.

    Raises:
        whatever `work` raises, after recording the day failed (the next run retries it).
    """
    claim = claim_job_day(rt, job, day, runner=runner, wall=wall)
    if claim is None:
        return None
    if claim.how != Claim.CLAIMED:
        logger.info("%s for %s: %s by %s", job, day, claim.how, runner)
    with heartbeat(rt, claim.job_run_id, wall=wall, count=count):
        try:
            summary = work()
        except Exception as exc:
            try:
                fail_job_day(rt, claim.job_run_id, exc, wall=wall, count=count)
            except Exception:
                # The day stays running; its heartbeat goes stale and the next run takes it over.
                logger.exception("%s for %s: could not record the failure", job, day)
            raise
    finish_job_day(rt, claim.job_run_id, summary, wall=wall, count=count)
    return summary
