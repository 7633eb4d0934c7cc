"""The scheduler's verbs on one instance: fire its due timers, retry its failed step, record a failure.

Each verb is one transaction, like the runner's. A failure inside the engine (a handler raises, a script
breaks its budget) becomes an incident in that transaction (`step.advance`). A failure anywhere else
(saving the state, a constraint at commit) rolls the step back; `record_failure` then puts the instance
in `error` in a transaction of its own. Either way the instance keeps ONE open incident however often it
fails again, and the scheduler runs it again only at the incident's `next_retry_at` (backoff doubling
from [scheduler] retry_base_s), until [scheduler] retry_attempts failures leave it to an admin's retry.
A failed instance has no timer rows, so nothing of it is due in between: it cannot make a sweep spin.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from workflows.engine.runtime import Runtime
from workflows.engine.step import RETRIED, advance, resume, status_change
from workflows.redaction import redacted
from workflows.settings import SchedulerSettings
from workflows.store.audit import record_event
from workflows.store.db import is_postgres, transaction
from workflows.store.models import Incident, InstanceStatus, MessageSubscription, ProcessInstance, Timer

ACTOR = "system"
RESOLVER = "scheduler"  # resolved_by of an incident whose automatic retry succeeded


@dataclass(frozen=True)
class Wakeup:
    """What one verb did: whether the instance ran, and the incident it (still) has if it failed."""

    ran: bool
    incident_id: int | None = None
    attempts: int = 0
    next_retry_at: datetime | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.incident_id is not None


SKIPPED = Wakeup(ran=False)


def retry_delay(settings: SchedulerSettings, attempts: int) -> timedelta | None:
    """How long after its `attempts`-th failure the scheduler runs a step again; None: an admin's turn."""
    if attempts >= settings.retry_attempts:
        return None
    return timedelta(seconds=settings.retry_base_s * 2 ** (attempts - 1))


def fire_timers(rt: Runtime, instance_id: int, now: datetime) -> Wakeup:
    """Run one running instance whose timer is due by `now` (SKIPPED: not due any more, or locked)."""
    with transaction(rt.factory) as session:
        instance = _try_lock(session, instance_id)
        if instance is None or instance.status != InstanceStatus.RUNNING:
            return SKIPPED
        # A concurrent sweep (CLI tick next to the scheduler) may have fired it since we looked.
        if session.scalar(_DUE_TIMER, {"instance_id": instance_id, "now": now}) is None:
            return SKIPPED
        step, wf = resume(rt, session, instance, now, ACTOR)
        step.record("timers_checked")
        advance(step, wf)
        if step.failure is None or step.incident is None:
            return Wakeup(ran=True)
        return _schedule(rt, step.incident, now)


def retry_step(rt: Runtime, instance_id: int, now: datetime) -> Wakeup:
    """Run the failed step of an instance whose incident is due for a retry (SKIPPED: none is)."""
    with transaction(rt.factory) as session:
        instance = _try_lock(session, instance_id)
        if instance is None or instance.status != InstanceStatus.ERROR:
            return SKIPPED
        incident = session.scalar(
            _OPEN_INCIDENT.where(Incident.next_retry_at <= now), {"instance_id": instance_id}
        )
        if incident is None:
            return SKIPPED
        instance.status = InstanceStatus.RUNNING
        step, wf = resume(rt, session, instance, now, ACTOR)
        step.incident = incident  # failing again counts on this incident instead of opening another
        step.record("instance_retried", attempt=incident.attempts + 1, by=RESOLVER, **RETRIED)
        advance(step, wf, retry=True)
        if step.failure is not None:
            return _schedule(rt, incident, now)
        for still_open in session.scalars(_ALL_OPEN_INCIDENTS, {"instance_id": instance_id}):
            still_open.resolved_at, still_open.resolved_by = now, RESOLVER
            still_open.next_retry_at = None
        return Wakeup(ran=True)


def record_failure(rt: Runtime, instance_id: int, exc: BaseException, now: datetime) -> Wakeup:
    """Put an instance whose step raised (and rolled back) in `error`, counting on its open incident.

    Its timer and message rows go, as for a failure inside the engine: the retry's step writes them
    again from the state, which the failed step left as it was.
    """
    with transaction(rt.factory) as session:
        instance = session.scalar(_INSTANCE.with_for_update(), {"instance_id": instance_id})
        if instance is None:
            return SKIPPED
        message = redacted(f"{type(exc).__name__}: {exc}")  # as engine failures: no quoted password stored
        details = {"message": message, "traceback": redacted("".join(traceback.format_exception(exc)))}
        incident = session.scalar(_OPEN_INCIDENT, {"instance_id": instance_id})
        status = instance.status
        if incident is not None and status == InstanceStatus.ERROR:
            incident.attempts += 1
            incident.message, incident.traceback = details["message"], details["traceback"]
        else:
            incident = Incident(instance_id=instance_id, bpmn_id="", created_at=now, attempts=1, **details)
            session.add(incident)
        instance.status = InstanceStatus.ERROR
        instance.waits = []
        instance.updated_at = now
        session.execute(delete(Timer).where(Timer.instance_id == instance_id))
        session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id))
        record_event(
            session,
            actor=ACTOR,
            action="instance_failed",
            now=now,
            instance_id=instance_id,
            message=message,
            # Failing again while in error: the status stays, the incident's attempts count up.
            **(
                status_change(status, instance.status)
                if status != instance.status
                else {"before": {"attempts": incident.attempts - 1}, "after": {"attempts": incident.attempts}}
            ),
        )
        session.flush()
        return _schedule(rt, incident, now)


def _schedule(rt: Runtime, incident: Incident, now: datetime) -> Wakeup:
    delay = retry_delay(rt.settings.scheduler, incident.attempts)
    incident.next_retry_at = None if delay is None else now + delay
    return Wakeup(
        ran=True,
        incident_id=incident.id,
        attempts=incident.attempts,
        next_retry_at=incident.next_retry_at,
        message=incident.message,
    )


# Built once: constructing statements costs more than running them on a hot path.
_INSTANCE = select(ProcessInstance).where(ProcessInstance.id == bindparam("instance_id"))
_DUE_TIMER = (
    select(Timer.id)
    .where(Timer.instance_id == bindparam("instance_id"), Timer.due_at < bindparam("now"))
    .limit(1)
)
_ALL_OPEN_INCIDENTS = select(Incident).where(
    Incident.instance_id == bindparam("instance_id"), Incident.resolved_at.is_(None)
)
_OPEN_INCIDENT = _ALL_OPEN_INCIDENTS.order_by(Incident.id.desc()).limit(1)


def _try_lock(session: Session, instance_id: int) -> ProcessInstance | None:
    """The instance row, locked; None when another step holds it (PostgreSQL SKIP LOCKED)."""
    # SQLite already holds the write lock (BEGIN IMMEDIATE), so waiting is all it can do.
    query = _INSTANCE.with_for_update(skip_locked=is_postgres(session))
    return session.scalar(query, {"instance_id": instance_id})
