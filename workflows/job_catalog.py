"""The one mapping of daily batch jobs (dunning run, limit-review sweep) that tick and the scheduler run."""

from __future__ import annotations

from workflows import dunning, limit_review
from workflows.jobs import DailyJob

# The dunning run goes first: a case reaching level 3 today is a review trigger the same day.
DAILY_JOBS: dict[str, DailyJob] = {
    "dunning_run": dunning.dunning_run,
    "limit_review_sweep": limit_review.limit_review_sweep,
}
