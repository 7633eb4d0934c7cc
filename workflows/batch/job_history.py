"""The read side of daily job days (`job_runs`): what the API's /api/jobs and the admin jobs panel show.

Each day carries the whole day's counts (from `batch_claims`, refreshed by every heartbeat and at the
end), so listing days is one indexed query on one small table: two rows a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.roles import AUDITOR
from workflows.store.models import JobRun, JobStatus
from workflows.store.paging import page_rows

# Who may read the job days, besides admins: auditors, who read everything and change nothing.
JOB_READERS = frozenset({AUDITOR})

# Shown for a running day whose heartbeat is stale: its runs died, and the next run takes it over.
STALLED = "stalled"


@dataclass(frozen=True)
class JobDayFilter:
    """Which days to list: one job (or all), from and to a day (inclusive)."""

    job: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def list_job_days(
    session: Session, where: JobDayFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[JobRun], int]:
    """One page of job days, newest day first (then by job name), and how many match."""
    query = select(JobRun)
    if where.job:
        query = query.where(JobRun.job_name == where.job)
    if where.date_from:
        query = query.where(JobRun.run_date >= where.date_from)
    if where.date_to:
        query = query.where(JobRun.run_date <= where.date_to)
    return page_rows(session, query.order_by(JobRun.run_date.desc(), JobRun.job_name), page, per_page)


def shown_status(day: JobRun, now: datetime, stale_after: timedelta) -> str:
    """running, done, failed, or stalled (running, but nobody has beaten its heartbeat lately)."""
    if day.status == JobStatus.RUNNING and (day.heartbeat_at is None or day.heartbeat_at < now - stale_after):
        return STALLED
    return day.status


def duration_s(day: JobRun, now: datetime) -> float:
    """Seconds from the first claim to the end (or to `now` while the day is not finished)."""
    end = day.finished_at if day.finished_at is not None and day.status != JobStatus.RUNNING else now
    return round(max((end - day.started_at).total_seconds(), 0.0), 3)


def job_day_json(day: JobRun, now: datetime, stale_after: timedelta) -> dict[str, Any]:
    """A job day as the API lists it: status, times, who ran it, the day's counts and failures."""
    failed = day.result.get("failed_customers") if isinstance(day.result, dict) else None
    return {
        "id": day.id,
        "job": day.job_name,
        "day": day.run_date.isoformat(),
        "status": shown_status(day, now, stale_after),
        "started_at": day.started_at.isoformat(),
        "heartbeat_at": day.heartbeat_at.isoformat() if day.heartbeat_at else None,
        "finished_at": day.finished_at.isoformat() if day.finished_at else None,
        "duration_s": duration_s(day, now),
        "claimed_by": day.claimed_by,
        "runs": day.runs,
        "takeovers": day.takeovers,
        "counts": {
            "customers_planned": day.customers_planned,
            "customers_handled": day.customers_handled,
            "instances_started": day.instances_started,
            "customers_failed": day.customers_failed,
        },
        "failed_customers": failed if isinstance(failed, list) else [],
        "error": day.error,
    }
