"""Everything the scheduler does, as plain functions: `tick(now)` runs all of it at once.

The embedded scheduler, the CLI `tick` command, the admin endpoint and the Prefect flows call these
same functions, so there is exactly one implementation of each job, and one claim protocol for a day of
a daily job (`workflows.batch.job_days`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.batch import daily_starts
from workflows.batch.daily_starts import DailyStart
from workflows.batch.job_days import Clock, run_job_day, runner_name
from workflows.clock import utcnow
from workflows.engine.runner import Runtime, fire_due_timers
from workflows.mail.outbox import dispatch_due_emails, queue_email
from workflows.mail.smtp import Mailer
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.models import InboxItem, TaskStatus
from workflows.users import emails_of

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
    }
)


@dataclass
class TickResult:
    timers: int = 0
    reminders: int = 0
    jobs: list[dict[str, Any]] = field(default_factory=list)
    emails: int = 0
    email_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "timers": self.timers,
            "reminders": self.reminders,
            "jobs": self.jobs,
            "emails": self.emails,
            "email_failures": self.email_failures,
        }


def tick(
    rt: Runtime,
    mailer: Mailer | None,
    now: datetime,
    *,
    jobs: Mapping[str, DailyJob] = DAILY_JOBS,
    daily_jobs_due: bool = True,
    runner: str = "tick",
) -> TickResult:
    """Do everything the scheduler would have done by `now`: timers, reminders, daily `jobs`, e-mail.

    `tick` runs the day's jobs whatever the hour; the scheduler passes `daily_jobs_due` from its clock.
    """
    result = TickResult()
    result.timers = fire_due_timers(rt, now)
    result.reminders = remind_overdue_tasks(rt, now)
    result.jobs = run_daily_jobs(rt, now, jobs, runner=runner) if daily_jobs_due else []
    if mailer is not None:
        dispatched = dispatch_due_emails(rt.factory, mailer, rt.settings.mail, now)
        result.emails, result.email_failures = dispatched.sent, dispatched.failed
    return result


def remind_overdue_tasks(rt: Runtime, now: datetime) -> int:
    """E-mail each overdue open task's groups once; returns how many tasks were reminded."""
    reminded = 0
    with transaction(rt.factory) as session:
        overdue = session.scalars(
            select(InboxItem)
            .where(
                InboxItem.status == TaskStatus.OPEN, InboxItem.due_at < now, InboxItem.reminded_at.is_(None)
            )
            .limit(1000)
            # PostgreSQL: a concurrent sweep skips the rows this one reminds (SQLite serialises writers).
            .with_for_update(skip_locked=True)
        ).all()
        # Overdue tasks share a handful of groups: look each recipient set up once per sweep.
        recipients: dict[tuple[str | None, tuple[str, ...]], list[str]] = {}
        for item in overdue:
            key = (item.assignee, tuple(item.candidate_groups))
            if key not in recipients:
                assignee = [item.assignee] if item.assignee else []
                recipients[key] = emails_of(session, usernames=assignee, groups=item.candidate_groups)
            _queue_reminder(session, item, recipients[key], now)
            reminded += 1
    return reminded


def _queue_reminder(session: Session, item: InboxItem, to: list[str], now: datetime) -> None:
    item.reminded_at = now
    if to:
        queue_email(
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
                "base_url": "",
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
    )


def run_daily_jobs(
    rt: Runtime,
    now: datetime,
    jobs: Mapping[str, DailyJob],
    *,
    runner: str = "tick",
    wall: Clock = utcnow,
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
        summary = run_job_day(
            rt,
            name,
            today,
            partial(job, rt, today, now),
            runner=runner_name(runner),
            count=count,
            wall=wall,
        )
        if summary is not None:
            ran.append({"job": name, "as_of": today.isoformat(), **summary})
    return ran
