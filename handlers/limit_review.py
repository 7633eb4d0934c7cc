"""Service operation `limit.assess_review`: how a re-scored customer's proposed limit is decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from workflows.credit.customers import GRADES
from workflows.engine.service_tasks import TaskContext
from workflows.messages import _


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
    # `why` is stored in the case data as an English sentence with a msgid (said_stored says it on pages).
    if req.missing_data:
        why = _("missing on the credit file: %(missing)s", missing=", ".join(req.missing_data))
    elif change == "increase":
        why = _("an increase")
    elif drop >= 2:
        why = _("a fall of %(drop)s grades", drop=drop)
    else:
        return Assessment(change, drop, False, _AT_ONCE[change])
    return Assessment(change, drop, True, why)


# An increase always needs people (above), so only these two apply at once.
_AT_ONCE = {"decrease": _("decrease: applies at once"), "unchanged": _("unchanged: applies at once")}
