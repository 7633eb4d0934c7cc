"""Service operation `limit.assess_review`: how a re-scored customer's proposed limit is decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from workflows.credit.customers import GRADES
from workflows.engine.service_tasks import TaskContext


@dataclass(frozen=True)
class AssessRequest:
    current_limit: Decimal
    proposed_limit: Decimal
    previous_grade: str | None
    grade: str
    missing_data: list[str] = field(default_factory=list)  # proposal["missing_data"]


@dataclass(frozen=True)
class Assessment:
    change: str  # increase | decrease | unchanged
    grade_drop: int  # grades lost since the last scoring (0 when never graded)
    needs_approval: bool
    why: str  # why people decide, or why the change applies at once


def assess_review(ctx: TaskContext, req: AssessRequest) -> Assessment:
    """Increases, changes after a fall of two grades or more, and any review of a credit file with revenue
    or financials missing need people; the rest applies at once. Missing data never decides on its own."""
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
    if req.missing_data:
        why = f"missing on the credit file: {', '.join(req.missing_data)}"
    elif change == "increase":
        why = "an increase"
    elif drop >= 2:
        why = f"a fall of {drop} grades"
    else:
        return Assessment(change, drop, False, f"{change}: applies at once")
    return Assessment(change, drop, True, why)
