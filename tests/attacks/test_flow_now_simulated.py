"""Attack: run the Prefect flows as of a time (`now`), in a training environment (simulated clock).

`creditflow tick --now X` and POST /api/admin/tick move the one simulated clock to X first, then act;
the Prefect flows given `now` acted as of X and left the clock where it was. The timers fired and the
notices went out at X, while every later payment, message and completion happened at the clock's
earlier time: cases whose history ran backwards. The flows now move the clock like `tick --now`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.smtp import RecordingSink
from workflows.settings import Settings
from workflows.store.db import make_engine, make_session_factory
from workflows.store.stored_clock import SimulatedClock

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install -e '.[prefect]')")
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from workflows.batch import flows  # noqa: E402

pytestmark = pytest.mark.prefect

START = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)
LATER = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulated_worker(
    settings: Settings, smtp_sink: RecordingSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("CREDITFLOW_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("CREDITFLOW_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("CREDITFLOW_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("CREDITFLOW_CLOCK", "simulated")
    with prefect_test_harness(server_startup_timeout=60):
        yield
    flows.dispose_runtimes()


def test_a_flow_run_as_of_a_time_moves_the_simulated_clock_there(
    settings: Settings, simulated_worker: None
) -> None:
    flows.timers_and_mail_flow(now=LATER)

    engine = make_engine(settings.database)
    try:
        assert SimulatedClock(make_session_factory(engine), START)() == LATER
    finally:
        engine.dispose()
