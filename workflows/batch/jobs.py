"""Everything the scheduler does, as plain functions: `tick(now)` runs all of it at once.

The embedded scheduler, the CLI `tick` command, the admin endpoint and the Prefect flows call these
same functions, so there is exactly one implementation of each job, and one claim protocol for a day of
a daily job (`workflows.batch.job_days`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from workflows.batch import daily_starts
from workflows.batch.balances_roll import balances_roll
from workflows.batch.daily_starts import DailyStart
from workflows.batch.job_days import Clock, run_job_day, runner_name
from workflows.batch.kpi_month_end import month_end_kpi_snapshot
from workflows.batch.month_end import month_end_provision_run
from workflows.batch.sweeps import MESSAGE_CHARS, NO_PROGRESS, Progress, fire_due_timers, retry_failed_steps
from workflows.batch.watchlist_run import watchlist_run
from workflows.clock import utcnow
from workflows.definitions.display_names import definition_names
from workflows.engine.runtime import Runtime
from workflows.mail.outbox import (
    DispatchResult,
    count_due_emails,
    dispatch_due_emails,
    queue_email_by_language,
)
from workflows.mail.smtp import Mailer
from workflows.redaction import redacted
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.models import InboxItem, ProcessDefinition, ProcessInstance, TaskStatus
from workflows.users import emails_of

logger = logging.getLogger(__name__)

MAIL_BATCH = 200  # outbox rows claimed per batch; `tick` sends batch after batch until none is due
REMINDER_BATCH = 1000  # overdue tasks reminded per transaction; `tick` goes on until none is left

_OVERDUE_WHERE = (
    InboxItem.status == TaskStatus.OPEN,
    InboxItem.due_at < bindparam("now"),
    InboxItem.reminded_at.is_(None),
)
_OVERDUE = (
    select(InboxItem)
    .where(*_OVERDUE_WHERE)
    .order_by(InboxItem.id)
    .limit(REMINDER_BATCH)
    # PostgreSQL: a concurrent sweep skips the rows this one reminds (SQLite serialises writers).
    .with_for_update(skip_locked=True)
)
_OVERDUE_COUNT = select(func.count()).select_from(InboxItem).where(*_OVERDUE_WHERE)

DailyJob = Callable[[Runtime, date, datetime], dict[str, Any]]
"""(runtime, as_of day, now) -> a JSON-able summary of what the job did."""

# The shipped daily jobs, in the order they run: the claim-safe, chunked dunning run and limit-review
# sweep, so two schedulers (or a scheduler and a Prefect flow) racing on PostgreSQL still start each case
# once. The dunning run goes first: a case reaching level 3 today is a review trigger the same day.
# Entry points pass this table down; a test passes a table of its own, so nothing leaks between tests.
DAILY_JOBS: Mapping[str, DailyJob] = MappingProxyType(
    {
        "dunning_run": daily_starts.chunked_dunning_run,
        "limit_review_sweep": daily_starts.chunked_review_sweep,
        # On a month end, the monthly provision snapshot (one per month end: a second run finds it).
        "provision_run": month_end_provision_run,
        # The day after a month end, the month's (and the quarter's) KPIs, read by GET /api/kpis from then on.
        "kpi_snapshot": month_end_kpi_snapshot,
        # The early-warning watchlist after the dunning run (a broken promise judged today counts), and on
        # Mondays its weekly summary to the credit managers.
        "watchlist_run": watchlist_run,
        # The portfolio's maintained balances rolled to the day at its rates (the aging buckets move with it).
        "balances_roll": balances_roll,
    }
)


@dataclass
class TickResult:
    timers: int = 0
    retried: int = 0
    failed: list[int] = field(default_factory=list)  # instances that failed this tick (each has an incident)
    reminders: int = 0
    jobs: list[dict[str, Any]] = field(default_factory=list)
    emails: int = 0
    email_failures: int = 0
    errors: list[str] = field(default_factory=list)  # phases that stopped early; the next phases still ran

    def as_dict(self) -> dict[str, Any]:
        return {
            "timers": self.timers,
            "retried": self.retried,
            "failed": self.failed,
            "reminders": self.reminders,
            "jobs": self.jobs,
            "emails": self.emails,
            "email_failures": self.email_failures,
            "errors": self.errors,
        }


def tick(
    rt: Runtime,
    mailer: Mailer | None,
    now: datetime,
    *,
    jobs: Mapping[str, DailyJob] = DAILY_JOBS,
    daily_jobs_due: bool = True,
    runner: str = "tick",
    progress: Progress = NO_PROGRESS,
) -> TickResult:
    """Do everything the scheduler would have done by `now`: timers, retries, reminders, daily `jobs`, e-mail.

    Everything due is done, in batches, however much it is; one failing instance, reminder, job or
    e-mail is recorded and the rest still run, so this never raises for one broken item.
    `tick` runs the day's jobs whatever the hour; the scheduler passes `daily_jobs_due` from its clock.
    """
    result = TickResult()
    with _phase(result, "timers"):
        timers = fire_due_timers(rt, now, progress=progress)
        result.timers, result.failed = timers.moved, timers.failed
    with _phase(result, "retries"):
        retries = retry_failed_steps(rt, now, progress=progress)
        result.retried = retries.moved
        result.failed += [i for i in retries.failed if i not in result.failed]
    with _phase(result, "reminders"):
        result.reminders = remind_overdue_tasks(rt, now, progress=progress)
    if daily_jobs_due:
        for name, job in jobs.items():
            with _phase(result, f"job {name}") as failure:
                result.jobs += run_daily_jobs(rt, now, {name: job}, runner=runner, progress=progress)
            if failure:
                result.jobs.append({"job": name, "as_of": now.date().isoformat(), "error": failure[0]})
    if mailer is not None:
        with _phase(result, "emails"):
            dispatched = dispatch_all_due_emails(rt, mailer, now, progress=progress)
            result.emails, result.email_failures = dispatched.sent, dispatched.failed
    return result


@contextmanager
def _phase(result: TickResult, name: str) -> Iterator[list[str]]:
    """Run one phase of a tick; if it raises, note it in one log line and go on with the next phase."""
    failure: list[str] = []
    try:
        yield failure
    except Exception as exc:  # a sweep loop: the later phases (e-mail above all) must still run
        failure.append(f"{type(exc).__name__}: {' '.join(redacted(str(exc)).split())[:MESSAGE_CHARS]}")
        result.errors.append(f"{name}: {failure[0]}")
        logger.error("tick phase %s failed: %s", name, failure[0])


def dispatch_all_due_emails(
    rt: Runtime, mailer: Mailer, now: datetime, *, progress: Progress = NO_PROGRESS
) -> DispatchResult:
    """Send every outbox row due by `now`, in batches of MAIL_BATCH; SMTP failures are retried later."""
    with rt.factory() as session:
        due = count_due_emails(session, now)
    progress.begin("emails", due)
    if not due:
        return DispatchResult()  # no claim transaction: nothing it could claim is due
    sent = retried = failed = 0
    while True:
        batch = dispatch_due_emails(rt.factory, mailer, rt.settings.mail, now, limit=MAIL_BATCH)
        sent, retried, failed = sent + batch.sent, retried + batch.retried, failed + batch.failed
        handled = batch.sent + batch.retried + batch.failed
        progress.advance("emails", handled)
        # A short batch means nothing else is due; a row retried with no delay waits for the next tick.
        if handled < MAIL_BATCH:
            return DispatchResult(sent=sent, retried=retried, failed=failed)


def remind_overdue_tasks(rt: Runtime, now: datetime, *, progress: Progress = NO_PROGRESS) -> int:
    """E-mail each overdue open task's groups once, in batches; returns how many tasks were reminded.

    A reminder that cannot be queued (its recipients or its text break the outbox) is marked done with
    an audit event naming the error and one log line, so it is not tried again every round.
    """
    reminded = 0
    with rt.factory() as session:
        overdue_count = session.scalar(_OVERDUE_COUNT, {"now": now}) or 0
    progress.begin("reminders", overdue_count)
    if not overdue_count:
        # Most rounds: no write transaction, which on SQLite would take the write lock from requests.
        return 0
    while True:
        with transaction(rt.factory) as session:
            overdue = session.scalars(_OVERDUE, {"now": now}).all()
            # Overdue tasks share a handful of groups: look each recipient set up once per batch.
            recipients: dict[tuple[str | None, tuple[str, ...]], list[str]] = {}
            for item in overdue:
                key = (item.assignee, tuple(item.candidate_groups))
                if key not in recipients:
                    assignee = [item.assignee] if item.assignee else []
                    recipients[key] = emails_of(session, usernames=assignee, groups=item.candidate_groups)
                _remind_one(session, item, recipients[key], now)
            reminded += len(overdue)
        progress.advance("reminders", len(overdue))
        if len(overdue) < REMINDER_BATCH:
            return reminded


def _remind_one(session: Session, item: InboxItem, to: list[str], now: datetime) -> None:
    try:
        with session.begin_nested():  # a savepoint: a failing reminder leaves the batch's others intact
            _queue_reminder(session, item, to, now)
    except Exception as exc:  # a sweep loop: one task's reminder must not stop the others
        error = f"{type(exc).__name__}: {' '.join(redacted(str(exc)).split())[:MESSAGE_CHARS]}"
        logger.warning(
            "overdue reminder of task %s (instance %s) not sent: %s", item.id, item.instance_id, error
        )
        item.reminded_at = now
        record_event(
            session,
            actor="system",
            action="task_overdue_reminder_failed",
            now=now,
            instance_id=item.instance_id,
            task_id=item.id,
            error=error,
            **_reminded(now),
        )


def _chinese_texts(session: Session, item: InboxItem) -> dict[str, str]:
    """The task's title, subject and process name as a Chinese reader sees them in the inbox (the diagram's
    name_zh, else its English name; the subject_zh written when the task opened), for the zh template."""
    found: dict[str, str] = {}
    subject = ((item.translations or {}).get("zh") or {}).get("subject")
    if subject:
        found["subject_zh"] = str(subject)
    definition = session.scalar(
        select(ProcessDefinition)
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.id == item.instance_id)
    )
    if definition is not None:
        names = definition_names(session, definition)
        found["task_title_zh"] = names.element(item.bpmn_id, "zh", item.title)
        found["process_name_zh"] = names.process_name("zh", item.process_key)
    return found


def _queue_reminder(session: Session, item: InboxItem, to: list[str], now: datetime) -> None:
    item.reminded_at = now
    if to:
        # The candidate groups' members may read different languages: each reads the reminder in theirs.
        queue_email_by_language(
            session,
            to=to,
            template="task_overdue",
            context={
                "task_id": item.id,
                "task_title": item.title,
                "process_key": item.process_key,
                "subject": item.subject,
                "due_at": item.due_at,
                "group": ", ".join(item.candidate_groups),
                "groups": list(item.candidate_groups),  # the zh template names each group
                "base_url": "",
                **_chinese_texts(session, item),
            },
            dedupe_key=f"overdue:{item.id}",
            now=now,
            instance_id=item.instance_id,
        )
    record_event(
        session,
        actor="system",
        action="task_overdue_reminder",
        now=now,
        instance_id=item.instance_id,
        task_id=item.id,
        recipients=to,
        **_reminded(now),
    )


def _reminded(now: datetime) -> dict[str, Any]:
    # A task is reminded once: the audit shows the mark that keeps it from being reminded again.
    return {"before": {"reminded_at": None}, "after": {"reminded_at": now.isoformat()}}


def run_daily_jobs(
    rt: Runtime,
    now: datetime,
    jobs: Mapping[str, DailyJob],
    *,
    runner: str = "tick",
    wall: Clock = utcnow,
    progress: Progress = NO_PROGRESS,
) -> list[dict[str, Any]]:
    """Run each of `jobs` for `now`'s date unless that day is done; the days this call worked on.

    Each day goes through the one claim protocol (`job_days`): claimed before any work, joined while
    another run works on it, taken over when that run died, retried when it failed. A job that fails
    is recorded failed and its error raised; the next call runs it again.
    """
    today = now.date()
    ran = []
    for name, job in jobs.items():
        count = partial(job.day_counts, as_of=today) if isinstance(job, DailyStart) else None
        work = _counted(job, rt, today, now, f"job {name}", progress)
        summary = run_job_day(
            rt,
            name,
            today,
            work,
            runner=runner_name(runner),
            count=count,
            wall=wall,
        )
        if summary is not None:
            ran.append({"job": name, "as_of": today.isoformat(), **summary})
    return ran


def _counted(
    job: DailyJob, rt: Runtime, today: date, now: datetime, phase: str, progress: Progress
) -> Callable[[], dict[str, Any]]:
    """The job's day as one call; a chunked job advances `phase` by each chunk's customers, so a dunning
    day of thousands of cases shows how far it is (a job of another kind shows one step)."""
    if not isinstance(job, DailyStart):

        def whole() -> dict[str, Any]:
            progress.begin(phase, 1)
            done = job(rt, today, now)
            progress.advance(phase, 1)
            return done

        return whole
    begun = False

    def plan() -> list[daily_starts.Chunk]:
        nonlocal begun
        chunks = job.planner(rt, today, daily_starts.DEFAULT_CHUNK_SIZE)
        if not begun:  # the first round names the day's customers; later rounds only what others left
            progress.begin(phase, sum(len(c.customer_ids) for c in chunks))
            begun = True
        return chunks

    def run_one(chunk: daily_starts.Chunk, wait: bool) -> daily_starts.ChunkResult:
        done = daily_starts.run_chunk(rt, chunk, now, wait=wait)
        if not wait:  # a waiting round re-runs customers another run held: counted once already
            progress.advance(phase, len(chunk.customer_ids))
        return done

    return partial(job, rt, today, now, plan=plan, run_one=run_one)
