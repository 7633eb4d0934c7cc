"""The deploy-time check of dunning_policy.dmn: a ladder a case can climb and promise limits that limit.

A process owner's table with a negative day, levels that fall back, or a promise limit outside its range
would open cases before anything is due, send two levels on one day, or let every promise through; the
daily run and the reviews would only find out on a customer. The deployment is refused instead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeGuard

from workflows.credit.customers import GRADES
from workflows.engine.decisions import DecisionError, evaluate_decision

LADDER_FILE, LADDER_DECISION = "dunning_policy.dmn", "dunning_policy"
LEVELS = ("level_1_days", "level_2_days", "level_3_days", "level_4_days")
PROMISE_DAYS = ("promise_max_days", "promise_max_count", "promise_grace_days")


def ladder_problems(text: str) -> list[str]:
    """What makes the ladder unusable, per grade ("" for ungraded customers). Empty when it is sound."""
    problems: list[str] = []
    for grade in ("", *GRADES):
        shown = repr(grade) if grade else "ungraded"
        try:  # today's table reads standing["grade"], the versions before dunning.current_grade case["grade"]
            row = evaluate_decision(
                text, LADDER_DECISION, {"standing": {"grade": grade}, "case": {"grade": grade}}
            )
        except DecisionError as exc:
            problems.append(f"grade {shown}: {exc}")
            continue
        if not row:
            problems.append(f"grade {shown}: no rule matches; every grade needs a ladder")
            continue
        found = [row.get(name) for name in LEVELS]
        days = [d for d in found if _whole(d)]
        if len(days) != len(LEVELS):
            problems.append(f"grade {shown}: level days must be whole numbers, not {found}")
        elif days[0] < 0 or any(b <= a for a, b in zip(days, days[1:], strict=False)):
            problems.append(
                f"grade {shown}: level days {days} must start at 0 or later and rise from level to level"
            )
        problems.extend(_promise_problems(shown, row))
    return problems


def _promise_problems(shown: str, row: dict[str, Any]) -> list[str]:
    if not any(name in row for name in (*PROMISE_DAYS, "promise_min_pct")):
        return []  # a table without promise limits (the versions before them): nothing to check
    problems = [
        f"grade {shown}: {name} must be a whole number of 0 or more, not {row.get(name)!r}"
        for name in PROMISE_DAYS
        if not (_whole(row.get(name)) and row[name] >= 0)
    ]
    try:
        pct = Decimal(str(row.get("promise_min_pct")))
    except ArithmeticError:
        pct = Decimal("NaN")
    if not (pct.is_finite() and 0 <= pct <= 100):
        problems.append(
            f"grade {shown}: promise_min_pct must be from 0 to 100, not {row.get('promise_min_pct')!r}"
        )
    return problems


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
