"""The one mapping of daily batch jobs (dunning run, limit-review sweep) that tick and the scheduler run."""

from __future__ import annotations

from workflows.batch import daily_starts as chunks
from workflows.batch.jobs import DailyJob

# The claim-safe, chunked forms of dunning.dunning_run and the limit-review sweep: the same work,
# and two schedulers (or a scheduler and a Prefect flow) racing on PostgreSQL still start each case once.
# The dunning run goes first: a case reaching level 3 today is a review trigger the same day.
DAILY_JOBS: dict[str, DailyJob] = {
    "dunning_run": chunks.chunked_dunning_run,
    "limit_review_sweep": chunks.chunked_review_sweep,
}
