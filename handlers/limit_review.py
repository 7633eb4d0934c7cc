"""Service operation `limit.assess_review`: how a re-scored customer's proposed limit is decided."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from workflows.credit.customers import GRADES
from workflows.engine.service_tasks import TaskContext


@dataclass(frozen=True)
class AssessRequest:
    current_limit: Decimal
    proposed_limit: Decimal
    previous_grade: str | None
    grade: str


@dataclass(frozen=True)
class Assessment:
    change: str  # increase | decrease | unchanged
    grade_drop: int  # grades lost since the last scoring (0 when never graded)
    needs_approval: bool


def assess_review(ctx: TaskContext, req: AssessRequest) -> Assessment:
    """Increases, and changes after a fall of two grades or more, need people; the rest applies at once."""
    change = (
        "increase"
        if req.proposed_limit > req.current_limit
        else "decrease"
        if req.proposed_limit < req.current_limit
        else "unchanged"
    )
    drop = 0
    if req.previous_grade in GRADES and req.grade in GRADES:
        drop = max(0, GRADES.index(req.grade) - GRADES.index(req.previous_grade))
    return Assessment(change, drop, change == "increase" or drop >= 2)
