"""Nudges from web actions (issue 19): a burst of them shares one round, and such a round leaves the daily
jobs out only while a full round is recent, on the same day and the same side of the daily hour."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from sqlalchemy import Engine

from tests.fixtures.engine.cases import review_runtime
from workflows.batch.jobs import DailyJob
from workflows.batch.scheduler import NUDGE_WINDOW, SKIPPED_RETRY, EmbeddedScheduler
from workflows.clock import utcnow
from workflows.engine.runner import Runtime
from workflows.settings import Settings


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    return review_runtime(settings, db_engine, clock)


def probe_job() -> tuple[dict[str, DailyJob], list[date]]:
    days: list[date] = []

    def probe(rt: Runtime, as_of: date, now: datetime) -> dict[str, Any]:
        days.append(as_of)
        return {}

    return {"test.probe": probe}, days


def test_nudges_within_the_window_share_one_round(rt: Runtime, clock: datetime) -> None:
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})
    scheduler._scheduler.start(paused=True)  # jobs get their run times, none runs
    try:
        _share_one_round(scheduler)
    finally:
        scheduler.shutdown()


def _share_one_round(scheduler: EmbeddedScheduler) -> None:
    scheduler.nudge()  # nothing ran yet: at once
    first = scheduler._scheduler.get_job("wake").next_run_time
    assert first <= utcnow()
    scheduler.nudge()
    scheduler.nudge()
    assert scheduler._scheduler.get_job("wake").next_run_time == first  # the pending round is kept

    scheduler._round_began = utcnow()  # a round just began: the next nudge waits for the window
    scheduler._scheduler.remove_job("wake")  # as APScheduler does with a date job it runs
    scheduler.nudge()
    later = scheduler._scheduler.get_job("wake").next_run_time
    assert later >= scheduler._round_began + NUDGE_WINDOW - timedelta(milliseconds=1)
    assert later <= utcnow() + NUDGE_WINDOW


def test_a_nudged_round_leaves_the_daily_jobs_out_only_while_a_full_round_is_recent(
    rt: Runtime, clock: datetime
) -> None:
    jobs, days = probe_job()
    now = (clock + timedelta(days=1)).replace(hour=rt.settings.scheduler.daily_hour + 1)
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: now, jobs=jobs)
    assert scheduler._full_round_due(now)  # no full round yet
    scheduler.wake_once(now, light=True)
    assert days == []  # a light round runs timers, reminders and mail only

    scheduler.wake_once(now)
    assert days == [now.date()]
    assert not scheduler._full_round_due(now + timedelta(seconds=1))
    cap = timedelta(seconds=rt.settings.scheduler.max_sleep_s)
    assert scheduler._full_round_due(now + cap)  # the jobs still start within max_sleep_s
    assert scheduler._full_round_due(now + timedelta(days=1))  # another day (a simulated clock moved)
    assert scheduler._full_round_due(now - timedelta(seconds=1))  # the clock went back
    before_hour = now.replace(hour=rt.settings.scheduler.daily_hour - 1)
    scheduler._last_full = (utcnow(), before_hour)
    assert scheduler._full_round_due(before_hour.replace(hour=rt.settings.scheduler.daily_hour))


def test_a_round_under_a_stream_of_requests_runs_once_per_window(rt: Runtime, clock: datetime) -> None:
    """Nudges during a round leave only their mark; the round's end schedules the next one within the
    window (not later: the nudging request's rows may be newer than what the round read), and rows due
    at once (an e-mail a request queued meanwhile) wait for the window instead of a round back to back."""
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})
    scheduler._scheduler.start(paused=True)
    try:
        with scheduler._plan:  # as _wake does when a round begins
            scheduler._in_round, scheduler._round_began = True, utcnow()
        scheduler.nudge()
        assert scheduler._scheduler.get_job("wake") is None  # no add_job while the round runs
        scheduler.nudge(clock + timedelta(hours=1))  # the round ends: the next row is an hour away
        nudged = scheduler._scheduler.get_job("wake").next_run_time
        assert nudged <= scheduler._round_began + NUDGE_WINDOW + timedelta(milliseconds=1)
        assert not scheduler._in_round

        with scheduler._plan:
            scheduler._nudged, scheduler._in_round, scheduler._round_began = False, True, utcnow()
        scheduler.nudge(clock)  # a row due now, nobody nudged: still one round per window
        soon = scheduler._scheduler.get_job("wake").next_run_time
        assert soon >= scheduler._round_began + NUDGE_WINDOW - timedelta(milliseconds=1)
        with scheduler._plan:
            scheduler._in_round, scheduler._round_began = True, utcnow()
        scheduler.nudge(clock + timedelta(hours=1))  # nothing due soon, no nudge: the hour holds
        assert scheduler._scheduler.get_job("wake").next_run_time >= utcnow() + timedelta(minutes=59)
    finally:
        scheduler.shutdown()


def test_a_round_that_outlasts_the_window_under_nudges_still_gets_its_next_round(
    rt: Runtime, clock: datetime
) -> None:
    """A round longer than NUDGE_WINDOW with a nudge during it wants the next round at once. A job added for
    "now" while this one still runs was skipped by APScheduler ("maximum number of running instances
    reached", thousands of log lines in the benchmarks) and nothing was pending after it: the e-mails the
    last requests of a burst queued waited for the next web action. The next round must run by itself."""
    rounds: list[bool] = []
    second = threading.Event()
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})

    def slow_round(now: datetime, *, light: bool = False) -> datetime:
        rounds.append(light)
        if len(rounds) == 1:
            scheduler.nudge()  # a web action during the round: leaves its mark only
            time.sleep(NUDGE_WINDOW.total_seconds() * 1.6)  # the round outlasts the window
        else:
            second.set()
        return now + timedelta(hours=1)  # nothing else due

    scheduler.wake_once = slow_round  # type: ignore[method-assign]
    schedule = scheduler._schedule

    def preempted(run_date: datetime) -> None:  # the thread loses the CPU right after add_job, as under load
        schedule(run_date)
        time.sleep(0.05)

    scheduler._schedule = preempted  # type: ignore[method-assign]
    scheduler.start()
    try:
        assert second.wait(5), f"no round after the slow one: {rounds}"
        assert scheduler._scheduler.get_job("wake").next_run_time > utcnow() + timedelta(minutes=59)
    finally:
        scheduler.shutdown()


def test_a_skipped_wake_up_is_tried_again_unless_a_round_runs(rt: Runtime, clock: datetime) -> None:
    """A wake-up added just before the running one returned (or by a web action just before it began) is
    skipped by APScheduler: it is tried again shortly, unless a round runs, which schedules its own next."""
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})
    scheduler._scheduler.start(paused=True)
    try:
        with scheduler._plan:
            scheduler._in_round = True
        scheduler._skipped(JobEvent(EVENT_JOB_MAX_INSTANCES, "wake", None))
        assert scheduler._scheduler.get_job("wake") is None  # the round schedules the next one
        with scheduler._plan:
            scheduler._in_round = False
        scheduler._skipped(JobEvent(EVENT_JOB_MAX_INSTANCES, "other", None))
        assert scheduler._scheduler.get_job("wake") is None  # not ours
        before = utcnow()
        scheduler._skipped(JobEvent(EVENT_JOB_MAX_INSTANCES, "wake", None))
        retry = scheduler._scheduler.get_job("wake").next_run_time
        assert before + SKIPPED_RETRY <= retry <= utcnow() + SKIPPED_RETRY
    finally:
        scheduler.shutdown()


def test_shutdown_waits_a_while_for_the_round_that_runs(rt: Runtime, clock: datetime) -> None:
    """`serve` stops the mail sink after the scheduler: a round cut off mid-send waited for the SMTP
    timeout. Shutdown waits up to its bound for a running round, and not at all when none runs."""
    began, release = threading.Event(), threading.Event()
    scheduler = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})

    def held_round(now: datetime, *, light: bool = False) -> datetime:
        began.set()
        release.wait(5)
        return now + timedelta(hours=1)

    scheduler.wake_once = held_round  # type: ignore[method-assign]
    scheduler.start()
    assert began.wait(5)
    # APScheduler marks itself stopped before it takes its job-store lock: stopped while it still removes
    # the date job it just submitted, its thread raises JobLookupError (its own race, noise at a serve's
    # exit). Shut down once that job is gone.
    deadline = time.monotonic() + 5
    while scheduler._scheduler.get_job("wake") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    scheduler.shutdown(wait_s=0.3)  # the round still runs: waits the bound, then returns
    assert 0.25 <= time.monotonic() - started < 3
    release.set()
    assert scheduler._idle.wait(5)  # the round ends; a stopped scheduler runs no other
    idle = EmbeddedScheduler(rt, None, clock=lambda: clock, jobs={})
    idle._scheduler.start(paused=True)
    started = time.monotonic()
    idle.shutdown(wait_s=5)  # no round runs: no wait
    assert time.monotonic() - started < 1
