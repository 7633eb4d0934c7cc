"""One bad instance never stops the others (issue 13, must-show 2).

An instance whose service task fails on every step meets `tick` and the embedded scheduler: every other
due timer still fires, every due e-mail reaches a real SMTP server, the daily jobs run; the broken
instance is in `error` with ONE incident, retried with backoff until an admin must step in, and an hour
of scheduler rounds logs a few lines, not a traceback storm. A failure that escapes the engine (the
database refuses to save the instance) is handled the same way.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text

from handlers.registry import build_operations
from tests.fixtures.engine.cases import REVIEW_FILES, deploy, open_task, reload_instance, rows, start_review
from tests.smtp import RecordingSink
from workflows.batch.jobs import MAIL_BATCH, DailyJob, tick
from workflows.batch.scheduler import EmbeddedScheduler
from workflows.engine.runner import Runtime, retry_instance, start_instance
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.mail.outbox import queue_email
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, Incident, InstanceStatus, MailStatus, OutboxEmail, Timer
from workflows.users import SYSTEM

TIMER_DUE = timedelta(hours=1)  # `wait_an_hour` in timed_service.bpmn
REVIEW_TIMER_DUE = timedelta(days=2)  # `review_deadline` in review.bpmn


@dataclass(frozen=True)
class TimedRequest:
    case_ref: str


def call_timed_service(ctx: TaskContext, request: TimedRequest) -> dict[str, Any]:
    if request.case_ref.startswith("BROKEN"):
        raise ConnectionError(f"the service refuses case {request.case_ref}\n(a second line of detail)")
    return {"accepted": request.case_ref}


# This module's own operation table: no other test sees `test.timed_service`.
OPERATIONS = {
    **build_operations(),
    "test.timed_service": Operation("test.timed_service", call_timed_service, TimedRequest),
}


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    runtime = Runtime(db_engine, settings, OPERATIONS)
    deploy(runtime.factory, clock, "timed_service.bpmn", operations=OPERATIONS)
    deploy(runtime.factory, clock, *REVIEW_FILES)
    return runtime


def start_timed(rt: Runtime, case_ref: str, now: datetime) -> int:
    return start_instance(rt, "timed_service", {"case_ref": case_ref}, actor=SYSTEM, now=now).id


def probe_jobs() -> tuple[dict[str, DailyJob], list[date]]:
    days: list[date] = []

    def probe(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        days.append(as_of)
        return {}

    return {"test.probe": probe}, days


def queue_notices(rt: Runtime, count: int, now: datetime) -> None:
    with transaction(rt.factory) as session:
        for n in range(count):
            queue_email(
                session,
                to=[f"customer{n}@example.com"],
                template="generic",
                context={"subject": f"Notice {n}", "message": "Please pay."},
                dedupe_key=f"notice:{n}",
                now=now,
            )


class LogMeter(logging.Handler):
    """Everything logged at INFO and above, formatted as a server's log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def log_meter() -> Iterator[LogMeter]:
    meter, root = LogMeter(), logging.getLogger()
    level = root.level
    root.addHandler(meter)
    root.setLevel(logging.INFO)
    yield meter
    root.removeHandler(meter)
    root.setLevel(level)


def test_a_broken_instance_leaves_every_other_timer_email_and_daily_job_to_run(
    rt: Runtime, clock: datetime, smtp_sink: RecordingSink, log_meter: LogMeter
) -> None:
    broken = start_timed(rt, "BROKEN-1", clock)
    healthy = [start_timed(rt, f"CASE-{n}", clock) for n in range(5)]
    reviews = [start_review(rt, clock, business_key=f"REVIEW-{n}").id for n in range(3)]
    notices = MAIL_BATCH + 50  # more than one batch: a tick sends them all, not the first 200
    queue_notices(rt, notices, clock)
    jobs, days = probe_jobs()
    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    now = clock + REVIEW_TIMER_DUE + timedelta(minutes=1)

    result = tick(rt, mailer, now, jobs=jobs)

    assert result.failed == [broken]
    assert result.timers == len(healthy) + len(reviews)
    assert result.errors == []
    for instance_id in healthy:
        assert reload_instance(rt.factory, instance_id).status == InstanceStatus.COMPLETED
    for instance_id in reviews:
        assert open_task(rt.factory, instance_id, "chase_customer").candidate_groups == ["sales"]
    assert days == [now.date()]
    assert result.emails == notices
    assert len(smtp_sink.wait_for(notices)) == notices
    assert rows(rt.factory, select(OutboxEmail.status).where(OutboxEmail.status != MailStatus.SENT)) == []

    (incident,) = rows(rt.factory, select(Incident))
    assert (incident.instance_id, incident.bpmn_id, incident.attempts) == (broken, "call_timed_service", 1)
    assert incident.next_retry_at == now + timedelta(seconds=rt.settings.scheduler.retry_base_s)
    assert reload_instance(rt.factory, broken).status == InstanceStatus.ERROR
    assert rows(rt.factory, select(Timer).where(Timer.instance_id == broken)) == []  # nothing of it stays due


def test_an_hour_of_scheduler_rounds_retries_the_broken_instance_with_backoff_and_logs_a_few_lines(
    rt: Runtime, clock: datetime, smtp_sink: RecordingSink, log_meter: LogMeter
) -> None:
    broken = start_timed(rt, "BROKEN-1", clock)
    # Healthy cases whose timers come due during the hour, between the broken one's retries.
    healthy = [start_timed(rt, f"CASE-{n}", clock + timedelta(minutes=10 * n)) for n in range(5)]
    jobs, days = probe_jobs()
    scheduler = EmbeddedScheduler(
        rt, mailer_for(rt.settings.mail, smtp_sink.port), clock=lambda: now, jobs=jobs
    )
    start = now = clock + TIMER_DUE + timedelta(seconds=1)
    rounds, minute_of_log = 0, 0
    while now < start + timedelta(hours=1):
        # The scheduler's own loop with its clock moved to each wake-up: what an hour of it does.
        # A round on a real clock takes time: a wake-up due at once comes a moment later.
        wake = max(scheduler.wake_once(now), now + timedelta(seconds=1))
        rounds += 1
        if wake >= start + timedelta(minutes=1) > now:
            minute_of_log = len(log_meter.stream.getvalue().encode())
        now = wake

    base = timedelta(seconds=rt.settings.scheduler.retry_base_s)
    attempts = rt.settings.scheduler.retry_attempts
    (incident,) = rows(rt.factory, select(Incident))
    assert (incident.attempts, incident.next_retry_at, incident.resolved_at) == (attempts, None, None)
    retried_at = rows(
        rt.factory,
        select(AuditEvent.at).where(
            AuditEvent.instance_id == broken, AuditEvent.action == "instance_retried"
        ),
    )
    # Backoff: 1, 2, 4, 8 minutes after each failure; then only an admin's retry runs it.
    assert retried_at == [start + base * (2**n - 1) for n in range(1, attempts)]
    assert reload_instance(rt.factory, broken).status == InstanceStatus.ERROR
    for instance_id in healthy:
        assert reload_instance(rt.factory, instance_id).status == InstanceStatus.COMPLETED
    assert days == [start.date()]

    assert rounds < 2 * 60 * 60 / rt.settings.scheduler.max_sleep_s  # no spinning
    failure_lines = [line for line in log_meter.lines if f"instance {broken} failed" in line]
    assert len(failure_lines) == attempts  # one line per failure, no traceback
    assert "Traceback" not in log_meter.stream.getvalue()
    assert minute_of_log < 100_000
    assert len(log_meter.stream.getvalue().encode()) < 100_000  # the whole hour, too

    # The admin's retry runs it at once; it fails again, and the new incident waits for the admin.
    later = now + timedelta(minutes=1)
    assert retry_instance(rt, broken, actor=SYSTEM, now=later).status == InstanceStatus.ERROR
    newest = rows(rt.factory, select(Incident).where(Incident.resolved_at.is_(None)))
    assert [(i.attempts, i.next_retry_at) for i in newest] == [(1, None)]


# --- a failure outside the engine: the database refuses to save the instance ----------------------------


REFUSE_SAVE = {
    "sqlite": [
        "CREATE TRIGGER refuse_save BEFORE UPDATE ON process_instances "
        "WHEN NEW.id = {id} AND NEW.status = 'running' "
        "BEGIN SELECT RAISE(ABORT, 'the state of this instance cannot be saved'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_save() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.status = 'running' THEN RAISE EXCEPTION 'the state of instance % cannot be saved', NEW.id; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_save BEFORE UPDATE ON process_instances FOR EACH ROW "
        "WHEN (NEW.id = {id}) EXECUTE FUNCTION refuse_save()",
    ],
}
ALLOW_SAVE = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_save"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_save ON process_instances",
        "DROP FUNCTION IF EXISTS refuse_save()",
    ],
}


class Saves:
    """Make the database refuse every save of one instance while it runs, and allow them again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def refuse(self, instance_id: int) -> None:
        self._run(REFUSE_SAVE, instance_id)

    def allow(self) -> None:
        self._run(ALLOW_SAVE, 0)

    def _run(self, statements: dict[str, list[str]], instance_id: int) -> None:
        with self.engine.begin() as conn:
            for statement in statements[self.engine.dialect.name]:
                conn.execute(text(statement.replace("{id}", str(instance_id))))


@pytest.fixture
def saves(db_engine: Engine) -> Iterator[Saves]:
    refusing = Saves(db_engine)
    yield refusing
    refusing.allow()  # the PostgreSQL test database outlives the test


def test_an_instance_the_database_cannot_save_goes_to_error_with_one_incident_and_the_rest_runs(
    rt: Runtime, clock: datetime, saves: Saves, log_meter: LogMeter
) -> None:
    stuck = start_review(rt, clock, business_key="STUCK").id
    others = [start_review(rt, clock, business_key=f"OK-{n}").id for n in range(3)]
    saves.refuse(stuck)
    now = clock + REVIEW_TIMER_DUE + timedelta(minutes=1)

    result = tick(rt, None, now, jobs={})

    assert (result.timers, result.failed, result.errors) == (len(others), [stuck], [])
    for instance_id in others:
        open_task(rt.factory, instance_id, "chase_customer")
    assert reload_instance(rt.factory, stuck).status == InstanceStatus.ERROR
    (incident,) = rows(rt.factory, select(Incident))
    assert "cannot be saved" in incident.message and incident.attempts == 1
    assert rows(rt.factory, select(Timer).where(Timer.instance_id == stuck)) == []

    base = timedelta(seconds=rt.settings.scheduler.retry_base_s)
    assert tick(rt, None, now + base / 2, jobs={}).failed == []  # not yet due: nothing runs
    assert tick(rt, None, now + base, jobs={}).failed == [stuck]  # the retry fails again ...
    (incident,) = rows(rt.factory, select(Incident))
    assert (incident.attempts, incident.next_retry_at) == (
        2,
        now + base + 2 * base,
    )  # ... on the same incident
    assert len([line for line in log_meter.lines if f"instance {stuck} failed" in line]) == 2


def test_admin_tick_answers_200_with_a_broken_instance(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    clock: datetime,
    saves: Saves,
) -> None:
    runtime: Runtime = app.extensions["creditflow"].rt
    deploy(runtime.factory, clock, *REVIEW_FILES)
    stuck = start_review(runtime, clock, business_key="STUCK").id
    other = start_review(runtime, clock, business_key="OK").id
    saves.refuse(stuck)
    now = clock + REVIEW_TIMER_DUE + timedelta(minutes=1)

    response = client.post(
        "/api/admin/tick",
        json={"now": now.isoformat()},
        headers={"Authorization": f"Bearer {demo_tokens['admin']}"},
    )

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["timers"], response.get_json()["failed"]) == (1, [stuck])
    open_task(runtime.factory, other, "chase_customer")


def test_a_retry_after_the_cause_is_gone_moves_the_instance_on_and_resolves_its_incident(
    rt: Runtime, clock: datetime, saves: Saves
) -> None:
    stuck = start_review(rt, clock, business_key="STUCK").id
    saves.refuse(stuck)
    now = clock + REVIEW_TIMER_DUE + timedelta(minutes=1)
    assert tick(rt, None, now, jobs={}).failed == [stuck]
    saves.allow()

    later = now + timedelta(seconds=rt.settings.scheduler.retry_base_s)
    result = tick(rt, None, later, jobs={})

    assert (result.retried, result.failed) == (1, [])
    assert reload_instance(rt.factory, stuck).status == InstanceStatus.RUNNING
    open_task(rt.factory, stuck, "chase_customer")  # the boundary timer fired on the retry
    (incident,) = rows(rt.factory, select(Incident))
    assert (incident.resolved_at, incident.resolved_by, incident.next_retry_at) == (later, "scheduler", None)
