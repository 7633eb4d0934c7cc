"""Attack: forget `CREDITFLOW_CLOCK=simulated` in one terminal of a training environment.

The README asks for the variable in every process on the database; a process without it used the wall
clock on a database whose simulated clock had been walked years ahead. `creditflow tick` there ran the
dunning run for the real day, and its cases, notices and audit entries were dated before everything
the other processes had done: time moved back through a route nobody guarded. A process with a real
clock now refuses a database whose simulated clock has been moved, naming the setting.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from handlers.registry import build_operations
from webui import create_app
from workflows.engine.runtime import Runtime
from workflows.settings import Settings, SettingsError
from workflows.store.stored_clock import SimulatedClock

WALKED = datetime(2031, 6, 1, 9, 0, tzinfo=UTC)


def test_a_real_clock_process_refuses_a_database_with_a_moved_simulated_clock(
    settings: Settings, db_engine: Engine
) -> None:
    simulated = Runtime(db_engine, settings.replace("clock", mode="simulated"), build_operations())
    assert isinstance(simulated.clock, SimulatedClock)
    simulated.clock.move_to(WALKED, by="trainer")

    with pytest.raises(SettingsError, match="CREDITFLOW_CLOCK=simulated"):
        Runtime(db_engine, settings, build_operations())
    with pytest.raises(SettingsError, match="simulated clock"):
        create_app(settings)


def test_a_real_clock_process_runs_on_a_database_whose_clock_never_moved(
    settings: Settings, db_engine: Engine
) -> None:
    assert Runtime(db_engine, settings, build_operations()).clock() > WALKED.replace(year=2020)
