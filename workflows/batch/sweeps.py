"""Due timers and due retries, drained in batches: each instance runs on its own, whatever another does.

`tick` and the embedded scheduler call these; the Prefect flows too. A sweep keeps going past a broken
instance: its failure becomes ONE incident (`workflows.engine.wakeups`), one log line, and a retry at
the incident's `next_retry_at`, never a traceback per round. Batches walk up the instance ids, so one
call ends even when an instance stays due (locked by another process, or its failure not recordable).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from workflows.engine.runtime import Runtime
from workflows.engine.wakeups import Wakeup, fire_timers, record_failure, retry_step
from workflows.store.models import Incident, Timer

logger = logging.getLogger(__name__)

BATCH = 500  # instance ids read per query; each instance is still its own transaction
MESSAGE_CHARS = 200  # of an error message in a log line; the incident keeps all of it and the traceback


class Progress(Protocol):
    """Told how much of each phase of a tick is done (the CLI draws bars; others pass NO_PROGRESS)."""

    def begin(self, phase: str, total: int | None) -> None: ...

    def advance(self, phase: str, done: int) -> None: ...


class _NoProgress:
    def begin(self, phase: str, total: int | None) -> None:
        pass

    def advance(self, phase: str, done: int) -> None:
        pass


NO_PROGRESS: Progress = _NoProgress()


@dataclass
class Sweep:
    """What one sweep did: instances run (moved), and the ids of those that failed."""

    moved: int = 0
    failed: list[int] = field(default_factory=list)


def count_due_timers(rt: Runtime, now: datetime) -> int:
    """Instances with a timer due by `now` (the length of the timers' progress bar)."""
    with rt.factory() as session:
        due = select(func.count(func.distinct(Timer.instance_id))).where(Timer.due_at < now)
        return int(session.scalar(due) or 0)


def fire_due_timers(
    rt: Runtime, now: datetime, *, batch: int = BATCH, progress: Progress = NO_PROGRESS
) -> Sweep:
    """Advance every instance with a timer due by `now`; one failure becomes an incident, the rest run."""
    progress.begin("timers", count_due_timers(rt, now))
    # Strictly before `now`, as SpiffWorkflow fires a timer only once its time has passed.
    due = select(Timer.instance_id).where(Timer.due_at < now).distinct().order_by(Timer.instance_id)
    return _sweep(rt, now, due, Timer.instance_id, fire_timers, batch, progress, "timers")


def retry_failed_steps(
    rt: Runtime, now: datetime, *, batch: int = BATCH, progress: Progress = NO_PROGRESS
) -> Sweep:
    """Run again the failed step of every instance whose incident's retry is due by `now`."""
    due = (
        select(Incident.instance_id)
        .where(Incident.next_retry_at <= now, Incident.resolved_at.is_(None))
        .distinct()
        .order_by(Incident.instance_id)
    )
    with rt.factory() as session:
        progress.begin("retries", session.scalar(select(func.count()).select_from(due.subquery())) or 0)
    return _sweep(rt, now, due, Incident.instance_id, retry_step, batch, progress, "retries")


def next_retry_due(rt: Runtime) -> datetime | None:
    """When the earliest automatic retry is due (the scheduler wakes then), or None."""
    with rt.factory() as session:
        return session.scalar(select(func.min(Incident.next_retry_at)).where(Incident.resolved_at.is_(None)))


def _sweep(
    rt: Runtime,
    now: datetime,
    due: Select[int],
    id_column: InstrumentedAttribute[int],
    verb: Callable[[Runtime, int, datetime], Wakeup],
    batch: int,
    progress: Progress,
    phase: str,
) -> Sweep:
    sweep, after = Sweep(), 0
    while True:
        with rt.factory() as session:
            query = due.where(id_column > after).limit(batch)
            ids = [int(i) for i in session.scalars(query)]
        for instance_id in ids:
            outcome = _run_one(rt, instance_id, now, verb)
            if outcome.failed:
                sweep.failed.append(instance_id)
            elif outcome.ran:
                sweep.moved += 1
        progress.advance(phase, len(ids))
        if len(ids) < batch:
            return sweep
        after = ids[-1]


def _run_one(
    rt: Runtime, instance_id: int, now: datetime, verb: Callable[[Runtime, int, datetime], Wakeup]
) -> Wakeup:
    try:
        outcome = verb(rt, instance_id, now)
    except Exception as exc:  # a sweep loop: one broken instance must not stop the others
        try:
            outcome = record_failure(rt, instance_id, exc, now)
        except Exception as again:
            # Nothing recorded (the database itself fails?): one line; the item stays due for next round.
            logger.error(
                "instance %s failed at %s and the failure could not be recorded: %s; then %s",
                instance_id,
                now.isoformat(),
                _one_line(exc),
                _one_line(again),
            )
            return Wakeup(ran=False, incident_id=-1)  # failed, though no incident could hold it
    if outcome.failed:
        retry = outcome.next_retry_at.isoformat() if outcome.next_retry_at else "only by an admin (retry ID)"
        # One line per failure: the traceback is kept on the incident, not repeated in the log.
        logger.warning(
            "instance %s failed (attempt %d, incident %s), next retry %s: %s",
            instance_id,
            outcome.attempts,
            outcome.incident_id,
            retry,
            _one_line(outcome.message),
        )
    return outcome


def _one_line(error: object) -> str:
    text = str(error) if not isinstance(error, BaseException) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
