"""The simulated clock: one time stored in the database, moved only forward, read by every process.

In `[clock] mode = "simulated"` every entry point (web app, CLI, scheduler, Prefect flows) reads "now"
from one row of `simulated_clock`, so a time set by `creditflow tick --now X` in one process is the
time of the next payment posted to the web app in another. The time stands still between two moves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from workflows.clock import SIMULATED, Clock, parse_start, utcnow
from workflows.errors import Conflict
from workflows.messages import _
from workflows.settings import ClockSettings, SettingsError
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.models import Base

CLOCK_ROW = 1  # the id of the one row: one clock per database

NOT_SIMULATED = _(
    'the clock is real ([clock] mode = "real"): it follows the wall clock and cannot be moved. '
    "`tick --now` or POST /api/admin/tick {now} act as of another time for one tick only; set "
    '[clock] mode = "simulated" (or CREDITFLOW_CLOCK=simulated) in a training or test environment to move '
    "one clock for every action"
)


class StoredClockRow(Base):
    """The simulated time of this database (mode "simulated" only); one row, id CLOCK_ROW."""

    __tablename__ = "simulated_clock"
    id: Mapped[int] = mapped_column(primary_key=True)
    now: Mapped[datetime]
    moved_at: Mapped[datetime]  # the wall-clock time of the last move
    moved_by: Mapped[str] = mapped_column(String(80))


class SimulatedClock:
    """Reads the stored time on every call: one primary-key row, never cached in the process, because
    another process (a CLI tick, another web worker) may have moved it since the last call."""

    mode = SIMULATED

    def __init__(self, factory: sessionmaker[Session], start: datetime | None) -> None:
        self._factory = factory
        self._start = start

    def __call__(self) -> datetime:
        """The stored time; before the first move, [clock] start, or the real time when that is empty."""
        with self._factory() as session:
            stored = session.scalar(select(StoredClockRow.now).where(StoredClockRow.id == CLOCK_ROW))
        if stored is not None:
            return stored
        return self._start or utcnow()

    def move_to(self, when: datetime, *, by: str) -> datetime:
        """Move the clock forward to `when` (the same time is a no-op) and return it.

        Raises:
            Conflict: `when` lies before the clock's current time; it never moves back.
        """
        for _attempt in range(3):
            try:
                with transaction(self._factory) as session:
                    self._move(session, when, by)
                return when
            except IntegrityError:
                continue  # another process stored the first time at the same moment: compare with it
        raise Conflict(_("the simulated clock is being moved by another process right now; try again"))

    def _move(self, session: Session, when: datetime, by: str) -> None:
        # One conditional UPDATE: two processes moving the clock at once can never move it back.
        # The time it replaces is read in the same transaction, for the audit trail's before.
        before = session.scalar(select(StoredClockRow.now).where(StoredClockRow.id == CLOCK_ROW))
        statement = (
            update(StoredClockRow)
            .where(StoredClockRow.id == CLOCK_ROW, StoredClockRow.now <= when)
            .values(now=when, moved_at=utcnow(), moved_by=by)
        )
        if cast("CursorResult[Any]", session.execute(statement)).rowcount:
            _audit_move(session, before, when, by)
            return
        current = session.scalar(select(StoredClockRow.now).where(StoredClockRow.id == CLOCK_ROW))
        if current is None:
            current = self._start or utcnow()
            if when >= current:
                session.add(StoredClockRow(id=CLOCK_ROW, now=when, moved_at=utcnow(), moved_by=by))
                _audit_move(session, current, when, by)
                return
        raise Conflict(
            _(
                "the simulated clock is at %(now)s and moves only forward: "
                "%(when)s would move it back. Give a time at or after %(now)s",
                now=current.isoformat(),
                when=when.isoformat(),
            ),
            details={"mode": SIMULATED, "now": current.isoformat()},
        )


def _audit_move(session: Session, before: datetime | None, when: datetime, by: str) -> None:
    """A move is a state change like any other: every later action happens at the moved time."""
    if before is not None and before == when:
        return  # the same time again: nothing changed
    record_event(
        session,
        actor=by,
        action="clock_moved",
        now=when,
        before={"now": None if before is None else before.isoformat()},
        after={"now": when.isoformat()},
    )


def clock_for(settings: ClockSettings, factory: sessionmaker[Session]) -> Clock:
    """The clock of a process: the wall clock, or the database's simulated clock.

    Raises:
        SettingsError: the clock is real, but the database's simulated clock has been moved: this
            process would act at the wall time, before what every other process on it did.
    """
    if settings.mode == SIMULATED:
        return SimulatedClock(factory, parse_start(settings.start))
    try:
        with factory() as session:
            moved = session.scalar(select(StoredClockRow.now).where(StoredClockRow.id == CLOCK_ROW))
    except SQLAlchemyError:
        moved = None  # no schema yet (before `creditflow init`)
    if moved is not None:
        raise SettingsError(
            f"this database runs a simulated clock (at {moved.isoformat()}), but this process's clock is "
            'real: set CREDITFLOW_CLOCK=simulated (or [clock] mode = "simulated") for every process on it, '
            "or it acts at the wall time, before everything the others did"
        )
    return utcnow


def move_clock(clock: Clock, when: datetime, *, by: str) -> datetime:
    """Move the simulated clock forward to `when` (POST /api/admin/clock, `tick --now`).

    Raises:
        Conflict: the clock is real, or `when` lies before the simulated time.
    """
    if not isinstance(clock, SimulatedClock):
        raise Conflict(NOT_SIMULATED, details={"mode": "real"})
    return clock.move_to(when, by=by)


def tick_time(clock: Clock, requested: datetime | None, *, by: str) -> datetime:
    """The time a tick acts as of: a simulated clock moves to `requested` first (and stays there); a
    real one acts as of `requested` for this tick only, else now.

    Raises:
        Conflict: `requested` lies before the simulated time.
    """
    if isinstance(clock, SimulatedClock):
        return clock() if requested is None else clock.move_to(requested, by=by)
    return requested or utcnow()


def record_tick_as_of(
    factory: sessionmaker[Session], clock: Clock, requested: datetime | None, *, by: str
) -> None:
    """A real clock's tick as of a time someone chose (`tick --now`, POST /api/admin/tick {now}): what the
    tick does is recorded as the system's, so the trail names who chose the time (`tick_as_of`). A
    simulated clock's move is recorded as `clock_moved` instead."""
    if requested is None or isinstance(clock, SimulatedClock):
        return
    with transaction(factory) as session:
        record_event(
            session,
            actor=by,
            action="tick_as_of",
            now=requested,
            # The time the tick would have acted as of (the real time), and the one it was told to.
            before={"as_of": utcnow().isoformat()},
            after={"as_of": requested.isoformat()},
        )
