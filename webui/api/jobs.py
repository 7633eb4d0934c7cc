"""GET /api/jobs: the daily job days (dunning run, limit-review sweep) with their whole-day counts."""

from __future__ import annotations

import re
from typing import Annotated, Self

from flask import Response
from pydantic import BeforeValidator, Field, model_validator

from webui.api import bp, current_actor, paged, require_groups
from webui.api.openapi import Day, Id, Model, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.batch.job_days import stale_after
from workflows.batch.job_history import JOB_READERS, JobDayFilter, job_day_json, list_job_days
from workflows.clock import utcnow
from workflows.messages import _

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day_only(value: object) -> object:
    # pydantic also reads "2026-03-02T00:00:00" as a day; a day filter is a day, nothing else.
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError(_("must be a day as YYYY-MM-DD"))
    return value


IsoDay = Annotated[Day, BeforeValidator(_day_only)]


class JobDayQuery(PageQuery):
    job: str | None = Field(
        None, max_length=80, description="one job: dunning_run, limit_review_sweep or provision_run"
    )
    date_from: IsoDay | None = Field(None, alias="from", description="the first day listed, YYYY-MM-DD")
    date_to: IsoDay | None = Field(None, alias="to", description="the last day listed, YYYY-MM-DD")

    @model_validator(mode="after")
    def _from_before_to(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                _(
                    "the from date %(start)s is after the to date %(end)s",
                    start=self.date_from,
                    end=self.date_to,
                )
            )
        return self


class JobDayCounts(Model):
    customers_planned: int = Field(ge=0, description="customers the day's queries named")
    customers_handled: int = Field(ge=0, description="of those, started, handled already, or failed")
    instances_started: int = Field(ge=0, description="cases and reviews the job started that day")
    customers_failed: int = Field(ge=0, description="customers whose start was refused")


class JobDay(Model):
    id: Id
    job: str
    day: Day
    status: str = Field(description="running, done, failed, or stalled (running, heartbeat stale)")
    started_at: Timestamp
    heartbeat_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float = Field(ge=0)
    claimed_by: str = Field(description="the run that claimed (or last took over) the day: kind@host:pid")
    runs: int = Field(ge=0, description="runs that worked on the day: the claimant, joiners, takers")
    takeovers: int = Field(ge=0)
    counts: JobDayCounts
    failed_customers: list[int]
    error: str


class JobDayPage(Page):
    items: list[JobDay]


@bp.get("/jobs")
@api.validate(resp=responses(200, JobDayPage, 403))
def get_jobs(query: JobDayQuery) -> Response:
    """The days of the daily jobs, newest first: status, duration, the day's counts and failures."""
    actor = current_actor()
    require_groups(actor, JOB_READERS, _("read the daily job runs"))
    svc = services()
    where = JobDayFilter(query.job, query.date_from, query.date_to)
    with svc.rt.factory() as session:
        rows, total = list_job_days(session, where, page=query.page, per_page=query.per_page)
        items = [job_day_json(row, utcnow(), stale_after(svc.rt)) for row in rows]
    return paged(items, total, query.page, query.per_page)
