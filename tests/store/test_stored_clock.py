"""The simulated clock: stored in the database, read by every process, moved only forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from workflows.clock import utcnow
from workflows.errors import Conflict
from workflows.settings import ClockSettings
from workflows.store.stored_clock import SimulatedClock, clock_for, move_clock, tick_time

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_time_stands_at_start_until_moved_and_then_where_it_was_moved(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(session_factory, START)
    assert clock() == START
    assert clock.move_to(START + timedelta(days=30), by="admin") == START + timedelta(days=30)
    assert clock() == START + timedelta(days=30)
    # Another process (a CLI tick) has its own clock object on the same database and sees the move.
    assert SimulatedClock(session_factory, START)() == START + timedelta(days=30)


def test_the_clock_never_moves_back(session_factory: sessionmaker[Session]) -> None:
    clock = SimulatedClock(session_factory, START)
    with pytest.raises(Conflict, match=r"moves only forward.*2026-03-01T09:00:00\+00:00 would move it back"):
        clock.move_to(START - timedelta(days=1), by="admin")
    clock.move_to(START + timedelta(days=5), by="admin")
    clock.move_to(START + timedelta(days=5), by="admin")  # the same time again changes nothing
    with pytest.raises(Conflict, match=r"the simulated clock is at 2026-03-07T09:00:00\+00:00"):
        clock.move_to(START + timedelta(days=4), by="admin")
    assert clock() == START + timedelta(days=5)


def test_without_a_start_the_clock_shows_the_real_time_until_first_moved(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(session_factory, None)
    before = utcnow()
    assert before <= clock() <= utcnow()
    with pytest.raises(Conflict):
        clock.move_to(before - timedelta(hours=1), by="admin")
    later = utcnow() + timedelta(days=400)
    clock.move_to(later, by="admin")
    assert clock() == later


def test_a_real_clock_cannot_be_moved_and_a_tick_at_another_time_moves_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    real = clock_for(ClockSettings(mode="real", start=""), session_factory)
    with pytest.raises(Conflict, match=r'the clock is real \(\[clock\] mode = "real"\)'):
        move_clock(real, START, by="admin")
    assert tick_time(real, START, by="admin") == START  # this tick only
    assert abs(real() - utcnow()) < timedelta(seconds=5)


def test_a_tick_on_a_simulated_clock_moves_it(session_factory: sessionmaker[Session]) -> None:
    clock = clock_for(ClockSettings(mode="simulated", start=START.isoformat()), session_factory)
    assert tick_time(clock, None, by="system") == START
    assert tick_time(clock, START + timedelta(days=1), by="system") == START + timedelta(days=1)
    assert clock() == START + timedelta(days=1)
    with pytest.raises(Conflict):
        tick_time(clock, START, by="system")
