"""Attack: let the database fail for a moment while a simulated-clock scheduler wakes up.

In simulated mode the scheduler reads "now" from the database before each round. That read sat outside
every error handler: one failed read (a PostgreSQL restart, "database is locked", a dropped connection)
raised out of the APScheduler job, whose next wake-up is only scheduled after a round, so the scheduler
never woke again (no timers, e-mail or daily jobs until the server restarted; with `serve --workers`,
requests on other workers do not nudge it).
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from handlers.registry import build_operations
from workflows.batch.scheduler import EmbeddedScheduler
from workflows.engine.runtime import Runtime
from workflows.settings import Settings


def test_a_failed_clock_read_does_not_stop_the_scheduler_for_good(
    settings: Settings, db_engine: Engine
) -> None:
    rt = Runtime(
        db_engine,
        settings.replace("clock", mode="simulated", start="2031-03-02T09:00:00+00:00"),
        build_operations(),
    )
    scheduler = EmbeddedScheduler(rt, None, rt.clock, {})
    with db_engine.begin() as conn:  # the clock's table is unreachable for a moment
        conn.execute(text("ALTER TABLE simulated_clock RENAME TO simulated_clock_away"))
    scheduler.start()  # wakes at once: the clock cannot be read
    try:
        time.sleep(0.5)
        with db_engine.begin() as conn:
            conn.execute(text("ALTER TABLE simulated_clock_away RENAME TO simulated_clock"))
        # A later wake-up is still scheduled (after the backoff), so the scheduler carries on once the
        # database answers again.
        assert scheduler._scheduler.get_job("wake") is not None
    finally:
        scheduler.shutdown()
