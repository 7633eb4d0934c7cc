"""The one mapping of daily batch jobs (dunning run, limit-review sweep) that tick and the scheduler run."""

from __future__ import annotations

from workflows import dunning
from workflows.jobs import DailyJob

DAILY_JOBS: dict[str, DailyJob] = {
    "dunning_run": dunning.dunning_run,
}
