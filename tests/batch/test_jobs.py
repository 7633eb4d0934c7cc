"""Scheduled work as plain functions: overdue reminders once per task, daily jobs once per day, `tick`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.fixtures.engine.cases import (
    People,
    add_people,
    open_task,
    review_runtime,
    rows,
    run_at_once,
    start_review,
)
from workflows.batch.jobs import DAILY_JOBS, DailyJob, remind_overdue_tasks, run_daily_jobs, tick
from workflows.engine.runner import Runtime, complete_task
from workflows.settings import Settings
from workflows.store.models import AuditEvent, JobRun, JobStatus, OutboxEmail

REVIEW_DUE = timedelta(hours=4)  # dueIn of `review_case` in review.bpmn
TIMER_DUE = timedelta(days=2)  # its boundary timer


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    return review_runtime(settings, db_engine, clock)


@pytest.fixture
def people(rt: Runtime, clock: datetime) -> People:
    """Ann and Bob are the review's candidate group; they get its reminders, Sam (sales) does not."""
    return add_people(rt.factory, clock)


def outbox(rt: Runtime) -> list[OutboxEmail]:
    return rows(rt.factory, select(OutboxEmail).order_by(OutboxEmail.id))


def recording_job(name: str) -> tuple[dict[str, DailyJob], list[tuple[date, datetime]]]:
    """A table of one daily job, `name`, that records each (as_of, now) it is called with."""
    calls: list[tuple[date, datetime]] = []

    def sweep(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        calls.append((as_of, now))
        return {"swept": len(calls)}

    return {name: sweep}, calls


def test_overdue_task_is_reminded_once_to_its_candidate_group(
    rt: Runtime, people: People, clock: datetime
) -> None:
    first = start_review(rt, clock)
    second = start_review(rt, clock + timedelta(hours=3))
    assert remind_overdue_tasks(rt, clock + REVIEW_DUE) == 0  # due, but not yet overdue

    assert remind_overdue_tasks(rt, clock + timedelta(hours=5)) == 1
    assert remind_overdue_tasks(rt, clock + timedelta(hours=5)) == 0
    assert remind_overdue_tasks(rt, clock + timedelta(hours=6)) == 0
    (email,) = outbox(rt)
    review = open_task(rt.factory, first.id, "review_case")
    assert email.to == "ann@example.com, bob@example.com"  # the analysts; sam (sales) is not a candidate
    assert (email.template, email.instance_id) == ("task_overdue", first.id)
    assert email.dedupe_key == f"overdue:{review.id}"
    assert review.reminded_at == clock + timedelta(hours=5)

    assert remind_overdue_tasks(rt, clock + timedelta(hours=8)) == 1
    assert [e.instance_id for e in outbox(rt)] == [first.id, second.id]
    reminders = select(AuditEvent.instance_id).where(AuditEvent.action == "task_overdue_reminder")
    assert rows(rt.factory, reminders.order_by(AuditEvent.id)) == [first.id, second.id]


def test_tick_fires_timers_first_so_tasks_they_closed_get_no_reminder(
    rt: Runtime, people: People, clock: datetime
) -> None:
    timed_out = start_review(rt, clock)
    completed = start_review(rt, clock)
    complete_task(
        rt,
        open_task(rt.factory, completed.id, "review_case").id,
        {"approved_amount": 900},
        actor=people.ann,
        now=clock,
    )
    overdue = start_review(rt, clock + timedelta(days=1))

    result = tick(rt, None, clock + TIMER_DUE + timedelta(minutes=1), jobs={})

    assert result.as_dict() == {
        "timers": 1,
        "retried": 0,
        "failed": [],
        "reminders": 1,
        "jobs": [],
        "emails": 0,
        "email_failures": 0,
        "errors": [],
    }
    assert open_task(rt.factory, timed_out.id, "chase_customer").candidate_groups == ["sales"]
    assert [e.instance_id for e in outbox(rt)] == [overdue.id]


def test_daily_job_runs_once_per_day_under_tick(rt: Runtime, clock: datetime) -> None:
    jobs, calls = recording_job("test.case_sweep")

    first = tick(rt, None, clock, jobs=jobs)
    assert first.jobs == [{"job": "test.case_sweep", "as_of": "2026-03-02", "swept": 1}]
    assert tick(rt, None, clock + timedelta(hours=10), jobs=jobs).jobs == []
    assert run_daily_jobs(rt, clock + timedelta(hours=14, minutes=59), jobs) == []

    next_day = clock + timedelta(days=1)
    assert tick(rt, None, next_day, jobs=jobs).jobs == [
        {"job": "test.case_sweep", "as_of": "2026-03-03", "swept": 2}
    ]
    assert calls == [(date(2026, 3, 2), clock), (date(2026, 3, 3), next_day)]
    with rt.factory() as session:
        runs = session.execute(select(JobRun.job_name, JobRun.run_date, JobRun.result).order_by(JobRun.id))
        assert [tuple(r) for r in runs] == [
            ("test.case_sweep", date(2026, 3, 2), {"swept": 1}),
            ("test.case_sweep", date(2026, 3, 3), {"swept": 2}),
        ]


def test_daily_job_that_fails_is_recorded_failed_and_runs_again_on_the_next_tick(
    rt: Runtime, clock: datetime
) -> None:
    attempts: list[datetime] = []

    def flaky(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        attempts.append(now)
        if len(attempts) == 1:
            raise ConnectionError("ledger unavailable")
        return {"attempt": len(attempts)}

    jobs = {"test.flaky_sweep": flaky}
    with pytest.raises(ConnectionError):
        run_daily_jobs(rt, clock, jobs)
    [failed] = rows(rt.factory, select(JobRun))
    assert (failed.status, failed.error) == (JobStatus.FAILED, "ConnectionError: ledger unavailable")
    later = clock + timedelta(minutes=5)
    assert run_daily_jobs(rt, later, jobs) == [
        {"job": "test.flaky_sweep", "as_of": "2026-03-02", "attempt": 2}
    ]
    assert run_daily_jobs(rt, later, jobs) == []
    assert attempts == [clock, later]
    [done] = rows(rt.factory, select(JobRun))
    assert (done.status, done.error, done.takeovers, done.result) == (JobStatus.DONE, "", 1, {"attempt": 2})


def test_reminders_swept_from_two_threads_at_once_remind_each_task_once(
    rt: Runtime, people: People, clock: datetime
) -> None:
    instance = start_review(rt, clock)
    late = clock + timedelta(hours=5)

    reminded = run_at_once(partial(remind_overdue_tasks, rt, late), partial(remind_overdue_tasks, rt, late))

    assert sorted(reminded, key=str) == [0, 1]
    assert [e.instance_id for e in outbox(rt)] == [instance.id]
    events = select(AuditEvent.id).where(AuditEvent.action == "task_overdue_reminder")
    assert len(rows(rt.factory, events)) == 1


def test_the_shipped_daily_jobs_are_one_read_only_table_and_a_test_table_leaks_nothing(
    rt: Runtime, clock: datetime
) -> None:
    # The dunning run goes first; the month-end provision run and KPI snapshot after the day's cases.
    assert list(DAILY_JOBS) == [
        "dunning_run",
        "limit_review_sweep",
        "provision_run",
        "kpi_snapshot",
        "watchlist_run",
        "balances_roll",
    ]
    with pytest.raises(TypeError):
        DAILY_JOBS["test.extra"] = DAILY_JOBS["dunning_run"]  # type: ignore[index]
    jobs, calls = recording_job("test.private")
    assert [j["job"] for j in tick(rt, None, clock, jobs=jobs).jobs] == ["test.private"]
    assert "test.private" not in DAILY_JOBS and len(calls) == 1
