"""The top-N exposures' review frequency as deployed (bpmn/exposure_review_policy.dmn): how many of the
largest exposures are reviewed at least every how many months. Read, as the concentration cap is, from the
newest active credit_limit_review version that carries it; checked when it is deployed (deploy.py). The sweep
that uses it is in workflows/credit/key_customer_reviews.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from workflows.credit.watchlist_rules import RULES_PROCESS, newest_policy_file
from workflows.engine.decisions import DecisionError, evaluate_decision

EXPOSURE_FILE, EXPOSURE_DECISION = "exposure_review_policy.dmn", "exposure_review_policy"
MAX_TOP_N, MAX_REVIEW_MONTHS = 1000, 24


@dataclass(frozen=True)
class ExposurePolicy:
    """How many of the largest exposures are reviewed at least every `review_months` months, and where it was
    read; `top_n` 0 with `reason` when no usable table is deployed (no such reviews start)."""

    top_n: int
    review_months: int
    source: str | None
    reason: str | None = None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def exposure_policy_of(text: str, source: str) -> ExposurePolicy:
    """The policy an exposure_review_policy.dmn text answers, or top_n 0 with the reason it is unusable."""
    try:
        row = evaluate_decision(text, EXPOSURE_DECISION, {})
    except DecisionError as exc:
        return ExposurePolicy(0, 0, source, f"{source}: {exc}")
    top_n, months = row.get("top_n"), row.get("review_months")
    problems = []
    if not _whole(top_n, 0, MAX_TOP_N):
        problems.append(f"top_n must be a whole number from 0 to {MAX_TOP_N}, not {top_n!r}")
    if not _whole(months, 1, MAX_REVIEW_MONTHS):
        problems.append(f"review_months must be a whole number from 1 to {MAX_REVIEW_MONTHS}, not {months!r}")
    if problems:
        return ExposurePolicy(0, 0, source, f"{source}: {'; '.join(problems)}")
    assert isinstance(top_n, int) and isinstance(months, int)
    return ExposurePolicy(top_n, months, source)


def exposure_policy_problems(text: str) -> list[str]:
    """What makes an exposure_review_policy.dmn unusable, checked when it is deployed; empty when sound."""
    policy = exposure_policy_of(text, EXPOSURE_FILE)
    return [] if policy.reason is None else policy.reason.removeprefix(f"{EXPOSURE_FILE}: ").split("; ")


def exposure_policy(session: Session) -> ExposurePolicy:
    """The policy of the newest active credit_limit_review version that carries exposure_review_policy.dmn."""
    found = newest_policy_file(session, EXPOSURE_FILE)
    if found is None:
        return ExposurePolicy(0, 0, None, f"no active {RULES_PROCESS} version carries {EXPOSURE_FILE}")
    return exposure_policy_of(*found)
