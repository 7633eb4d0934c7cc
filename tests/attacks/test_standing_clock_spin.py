"""Attack: make the embedded scheduler spin on a simulated clock that stands still.

A timer fires only once its time has passed (SpiffWorkflow's rule; the sweep uses `due_at < now`). On a
simulated clock moved exactly to a timer's due time (`tick --now` at a whole hour or midnight, as the
README's walk does; a queued definition approval is due at the very time of its deploy; a broken
promise resumes "at once"), the round leaves that timer unfired, `next_wake` answers "now", and the
scheduler woke again at once, on a clock that does not move: a loop at full CPU, one tick after
another, until somebody moves the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from handlers.registry import build_operations
from tests.fixtures.engine.cases import REVIEW_FILES, deploy, start_review
from workflows.batch.scheduler import EmbeddedScheduler
from workflows.engine.runtime import Runtime
from workflows.settings import Settings
from workflows.store.stored_clock import SimulatedClock

REVIEW_TIMER_DUE = timedelta(days=2)  # `review_deadline` in review.bpmn


@pytest.fixture
def simulated_rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    rt = Runtime(
        db_engine, settings.replace("clock", mode="simulated", start=clock.isoformat()), build_operations()
    )
    assert isinstance(rt.clock, SimulatedClock)
    deploy(rt.factory, clock, *REVIEW_FILES)
    return rt


def test_a_timer_due_exactly_at_the_standing_clock_does_not_make_the_scheduler_wake_at_once(
    simulated_rt: Runtime, clock: datetime
) -> None:
    start_review(simulated_rt, clock, business_key="REVIEW-1")
    assert isinstance(simulated_rt.clock, SimulatedClock)
    due = simulated_rt.clock.move_to(clock + REVIEW_TIMER_DUE, by="trainer")  # exactly the timer's time
    scheduler = EmbeddedScheduler(simulated_rt, None, simulated_rt.clock, {})

    wake = scheduler.wake_once(due)

    # The clock stands at `due` until moved: a wake-up at `due` (or a hair after) runs again at once.
    assert wake >= due + timedelta(seconds=1), wake
