"""Prefect flows that run creditflow's scheduled work on Prefect workers (`creditflow[prefect]`).

The only module that imports Prefect. Every flow wraps the Prefect-free functions that `tick` and the
embedded scheduler call: `fire_due_timers`, `remind_overdue_tasks`, `dispatch_all_due_emails`, and the daily
jobs. A day of a daily job is claimed, joined or taken over through the same protocol as `tick`'s
(`workflows.batch.job_days`). The dunning run and the limit-review sweep are split into chunks of
customers (`workflows.batch.daily_starts`), each chunk a task with retries, so a failed chunk is retried
without redoing the others, and several flow runs (on several machines) can share one day's work:
customers (rows of `batch_claims`), instances and e-mails are all claimed with SELECT ... FOR UPDATE
SKIP LOCKED.

A worker reads its configuration as every creditflow entry point does (`load_settings`: config files and
CREDITFLOW_* variables), so point `CREDITFLOW_DATABASE_URL` at the shared PostgreSQL database and
`CREDITFLOW_SMTP_HOST` at the relay on each worker machine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from typing import Any, cast

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from handlers.registry import build_operations
from workflows.batch import daily_starts as chunks
from workflows.batch import job_days
from workflows.batch.jobs import DAILY_JOBS, dispatch_all_due_emails, remind_overdue_tasks
from workflows.batch.sweeps import fire_due_timers, retry_failed_steps
from workflows.engine.runner import Runtime
from workflows.mail.sink import start_sink
from workflows.mail.smtp import Mailer, mailer_for
from workflows.settings import PROJECT_ROOT, Settings, load_settings
from workflows.store.db import make_engine
from workflows.store.stored_clock import tick_time
from workflows.users import SYSTEM

logger = logging.getLogger(__name__)

CHUNK_RETRIES = 3
CHUNK_RETRY_DELAYS: list[float] = [10, 60, 300]


# --- the worker's runtime ---------------------------------------------------------------------------------


# One engine and Runtime (compiled diagrams cached) per worker process and configuration, reused by every
# task run in the process instead of being rebuilt per chunk.
_RUNTIMES: dict[Settings, Runtime] = {}


def runtime() -> Runtime:
    """The Runtime for this worker's configuration (config files and CREDITFLOW_* variables)."""
    settings = load_settings()
    found = _RUNTIMES.get(settings)
    if found is None:
        found = _RUNTIMES[settings] = Runtime(make_engine(settings.database), settings, build_operations())
    return found


def dispose_runtimes() -> None:
    """Close the pooled connections of every cached Runtime (tests, and before a worker exits)."""
    for rt in _RUNTIMES.values():
        rt.engine.dispose()
    _RUNTIMES.clear()


@contextmanager
def _mailer(rt: Runtime) -> Iterator[Mailer]:
    """The configured relay; without one, a built-in sink for the run (as `creditflow tick` does)."""
    if rt.settings.mail.smtp_host:
        yield mailer_for(rt.settings.mail, None, clock=rt.clock)
        return
    with start_sink(rt.factory) as sink:
        yield mailer_for(rt.settings.mail, sink.port, clock=rt.clock)


def _now(now: datetime | None) -> datetime:
    """As `creditflow tick --now`: a simulated clock moves to `now` first (never back), so every later
    action sees it too; a real one acts as of `now` for this run only. Without `now`: the clock's time."""
    return tick_time(runtime().clock, now, by=SYSTEM.username)


# --- tasks ---------------------------------------------------------------------------------------------


@task(name="fire-due-timers", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def fire_timers_task(now: datetime) -> int:
    """Advance every instance whose timer is due, then retry failed steps whose backoff has run out.

    Instances are locked with SKIP LOCKED, one per step; a failing one gets an incident, the rest run.
    """
    rt = runtime()
    return fire_due_timers(rt, now).moved + retry_failed_steps(rt, now).moved


@task(name="remind-overdue-tasks", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def remind_task(now: datetime) -> int:
    return remind_overdue_tasks(runtime(), now)


@task(name="dispatch-emails", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def dispatch_task(now: datetime) -> dict[str, int]:
    """Send every due outbox row in batches; rows are claimed with SKIP LOCKED, so no row is sent twice."""
    rt = runtime()
    with _mailer(rt) as mailer:
        result = dispatch_all_due_emails(rt, mailer, now)
    return {"sent": result.sent, "retried": result.retried, "failed": result.failed}


@task(name="plan-chunks", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def plan_task(job: str, as_of: date, chunk_size: int) -> list[dict[str, Any]]:
    """The job's customers for the day added to the day's list; the pending ones, as chunks."""
    return [c.as_dict() for c in _chunked(job).planner(runtime(), as_of, chunk_size)]


@task(
    name="start-chunk",
    retries=CHUNK_RETRIES,
    retry_delay_seconds=CHUNK_RETRY_DELAYS,
    cache_policy=NO_CACHE,
    task_run_name="{job}-{first_customer}",
)
def chunk_task(
    job: str, first_customer: int, chunk: dict[str, Any], now: datetime, wait: bool
) -> dict[str, Any]:
    """Start the chunk's customers; a retry (or a rerun) skips those an earlier attempt started."""
    rt = runtime()
    return chunks.run_chunk(rt, chunks.Chunk.from_dict(chunk), now, wait=wait).as_dict()


@task(name="run-daily-job", retries=2, retry_delay_seconds=60, cache_policy=NO_CACHE)
def plain_job_task(job: str, as_of: date, now: datetime) -> dict[str, Any]:
    """A shipped daily job that has no chunked form, run whole."""
    return DAILY_JOBS[job](runtime(), as_of, now)


# --- flows ---------------------------------------------------------------------------------------------


def _chunked(job: str) -> chunks.DailyStart:
    found = DAILY_JOBS[job]
    assert isinstance(found, chunks.DailyStart), f"{job} is not a chunked daily job"
    return found


def run_daily_job(job: str, as_of: date, now: datetime, chunk_size: int) -> dict[str, Any] | None:
    """Work one daily job's day through the claim protocol of `tick` (`job_days.run_job_day`).

    Called inside a flow: the planning and each chunk are tasks. Several runs of the same day (one per
    worker, a scheduler beside them) join it and share its chunks through the customers' claims; each
    returns only when nothing of the day is pending. The summary is the whole day's; None when the day
    was done already.
    """
    log = get_run_logger()
    rt = runtime()
    if job not in DAILY_JOBS:
        raise ValueError(f"no daily job {job!r}; the daily jobs are {', '.join(DAILY_JOBS)}")
    entry = DAILY_JOBS[job]
    runner = job_days.runner_name(f"prefect:{flow_run.get_name() or 'flow'}")
    if isinstance(entry, chunks.DailyStart):

        def plan() -> list[chunks.Chunk]:
            return [chunks.Chunk.from_dict(c) for c in plan_task(job, as_of, chunk_size)]

        def run_one(chunk: chunks.Chunk, wait: bool) -> chunks.ChunkResult:
            first = chunk.customer_ids[0] if chunk.customer_ids else 0
            return chunks.ChunkResult.from_dict(chunk_task(job, first, chunk.as_dict(), now, wait))

        summary = job_days.run_job_day(
            rt,
            job,
            as_of,
            partial(entry, rt, as_of, now, chunk_size, plan=plan, run_one=run_one),
            runner=runner,
            count=partial(entry.day_counts, as_of=as_of),
        )
    else:
        summary = job_days.run_job_day(
            rt, job, as_of, partial(plain_job_task, job, as_of, now), runner=runner
        )
    if summary is None:
        log.info("%s for %s is done already; nothing to do", job, as_of)
        return None
    return {"job": job, "as_of": as_of.isoformat(), **summary}


@flow(name="creditflow-daily-job")
def daily_job_flow(
    job: str,
    as_of: date | None = None,
    now: datetime | None = None,
    chunk_size: int = chunks.DEFAULT_CHUNK_SIZE,
) -> dict[str, Any]:
    """One daily job (dunning_run, limit_review_sweep) for a day, unless that day is done.

    Returns the day's summary with `ran` true, or only `ran` false when the day was done already.
    """
    now = _now(now)
    day = as_of or now.date()
    ran = run_daily_job(job, day, now, chunk_size)
    return {"job": job, "as_of": day.isoformat(), "ran": False} if ran is None else {**ran, "ran": True}


@flow(name="creditflow-timers-and-mail")
def timers_and_mail_flow(now: datetime | None = None) -> dict[str, Any]:
    """The frequent part of the scheduler: due timers, overdue reminders, due e-mails."""
    now = _now(now)
    timers = fire_timers_task(now)
    reminders = remind_task(now)
    mail = dispatch_task(now)
    return {
        "timers": timers,
        "reminders": reminders,
        "emails": mail["sent"],
        "email_failures": mail["failed"],
    }


@flow(name="creditflow-tick")
def tick_flow(
    now: datetime | None = None, chunk_size: int = chunks.DEFAULT_CHUNK_SIZE, send_email: bool = True
) -> dict[str, Any]:
    """Everything `creditflow tick` does, in the same order: timers, reminders, daily jobs, e-mail.

    The daily jobs run for `now`'s day whatever the hour (as `tick` does); the deployment's cron
    schedule decides when that is.
    """
    now = _now(now)
    result: dict[str, Any] = {"timers": fire_timers_task(now), "reminders": remind_task(now), "jobs": []}
    for job in DAILY_JOBS:
        ran = run_daily_job(job, now.date(), now, chunk_size)
        if ran is not None:
            result["jobs"].append(ran)
    if send_email:
        mail = dispatch_task(now)
        result["emails"], result["email_failures"] = mail["sent"], mail["failed"]
    return result


# --- deployments ---------------------------------------------------------------------------------------


def deploy_flows(
    settings: Settings, *, pool: str, copies: int, daily_cron: str | None, frequent_cron: str
) -> list[dict[str, Any]]:
    """Register the deployments in a process work pool (created when missing) and return them.

    - `creditflow-tick/daily[-N]`: everything `tick` does, once a day at `[scheduler] daily_hour`. With
      `copies` > 1 the same day starts that many runs, one per worker, and they share the chunks.
    - `creditflow-timers-and-mail/frequent`: due timers, overdue reminders and e-mail, every minute.

    Workers load the flows from this checkout's path, so install creditflow at the same path on every
    worker machine (or change the source to a git URL).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    daily = daily_cron or f"0 {settings.scheduler.daily_hour} * * *"
    wanted = [("tick_flow", "daily" if n == 1 else f"daily-{n}", daily) for n in range(1, copies + 1)] + [
        ("timers_and_mail_flow", "frequent", frequent_cron)
    ]
    deployed = []
    for function, name, cron in wanted:
        # Called outside an event loop, from_source returns the Flow itself, not a coroutine.
        loaded = cast(
            "Flow[..., Any]",
            flow.from_source(source=str(PROJECT_ROOT), entrypoint=f"workflows/batch/flows.py:{function}"),
        )
        deployment_id = loaded.deploy(
            name=name, work_pool_name=pool, cron=cron, print_next_steps=False, ignore_warnings=True
        )
        deployed.append({"deployment": f"{loaded.name}/{name}", "id": str(deployment_id), "cron": cron})
    return deployed
