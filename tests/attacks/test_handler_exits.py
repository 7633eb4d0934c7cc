"""Attack: a handler that raises what is not an `Exception` (SystemExit from a library calling
`sys.exit()`), at a timer.

The sweeps caught `Exception` only: SystemExit went through the instance's step, the sweep, the tick's
phase and `tick` itself. `creditflow tick` ended silently at that instance (later timers, the daily jobs
and every due e-mail not run), and in the embedded scheduler the APScheduler job died with it, so the
next wake-up was never scheduled: no scheduler until the server restarted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from handlers.registry import build_operations
from tests.fixtures.engine.cases import deploy, reload_instance, rows
from workflows.batch.jobs import tick
from workflows.batch.scheduler import EmbeddedScheduler
from workflows.engine.runner import Runtime, start_instance
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.settings import Settings
from workflows.store.models import Incident, InstanceStatus
from workflows.users import SYSTEM

TIMER_DUE = timedelta(hours=1)  # `wait_an_hour` in timed_service.bpmn


@dataclass(frozen=True)
class TimedRequest:
    case_ref: str


def exiting_service(ctx: TaskContext, request: TimedRequest) -> dict[str, Any]:
    if request.case_ref.startswith("EXIT"):
        raise SystemExit(3)  # what a library's sys.exit() raises
    return {"accepted": request.case_ref}


OPERATIONS = {
    **build_operations(),
    "test.timed_service": Operation("test.timed_service", exiting_service, TimedRequest),
}


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    runtime = Runtime(db_engine, settings, OPERATIONS)
    deploy(runtime.factory, clock, "timed_service.bpmn", operations=OPERATIONS)
    return runtime


def start(rt: Runtime, case_ref: str, now: datetime) -> int:
    return start_instance(rt, "timed_service", {"case_ref": case_ref}, actor=SYSTEM, now=now).id


def test_a_handler_raising_system_exit_fails_its_instance_and_the_tick_goes_on(
    rt: Runtime, clock: datetime
) -> None:
    broken = start(rt, "EXIT-1", clock)
    healthy = [start(rt, f"CASE-{n}", clock) for n in range(3)]

    result = tick(rt, None, clock + TIMER_DUE + timedelta(minutes=1), jobs={})

    assert result.failed == [broken]
    assert result.timers == len(healthy)
    assert reload_instance(rt.factory, broken).status == InstanceStatus.ERROR
    (incident,) = rows(rt.factory, select(Incident))
    assert "SystemExit" in incident.message
    for instance_id in healthy:
        assert reload_instance(rt.factory, instance_id).status == InstanceStatus.COMPLETED


def test_the_scheduler_survives_a_handler_raising_system_exit(rt: Runtime, clock: datetime) -> None:
    start(rt, "EXIT-2", clock)
    now = clock + TIMER_DUE + timedelta(minutes=1)
    scheduler = EmbeddedScheduler(rt, None, lambda: now, {})

    wake = scheduler.wake_once(now)

    assert wake > now
