"""The collectors' priority score (bpmn/collection_priority.dmn) as deployed with the dunning bundle.

The table is read from the newest active dunning version that carries it, like the provision matrix: a
process owner changes the formula or the grade factors by deploying dunning, not by a code change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import Conflict
from workflows.store.models import DefinitionStatus, Deployment, ProcessDefinition

PRIORITY_FILE, PRIORITY_DECISION = "collection_priority.dmn", "collection_priority"
PRIORITY_PROCESS = roles.DUNNING
# A score is compared, never summed: more than this means a broken table (or a broken rate), not a case.
MAX_SCORE = Decimal("1E+30")


class PriorityError(Conflict):
    """No usable priority table is deployed, or it gives no score for a case."""


@dataclass
class Priority:
    text: str
    source: str  # "collection_priority.dmn of dunning v3"
    _cache: dict[tuple[Any, ...], tuple[Decimal, Decimal]] = field(default_factory=dict, repr=False)

    def score(
        self, amount_overdue: Decimal, days_overdue: int, grade: str, broken_promises: int
    ) -> tuple[Decimal, Decimal]:
        """(score, grade factor) of a case: its undisputed amount overdue in the base currency, the days
        since its oldest overdue invoice fell due, its customer's grade ("" ungraded) and its broken
        promises.

        Raises:
            PriorityError: the table fails, matches no row, or gives a score that is no finite number.
        """
        key = (amount_overdue, days_overdue, grade, broken_promises)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._evaluate(*key)
        return found

    def _evaluate(self, amount: Decimal, days: int, grade: str, broken: int) -> tuple[Decimal, Decimal]:
        score, factor, problem = _table_score(self.text, amount, days, grade, broken)
        if problem or score is None or factor is None:
            raise PriorityError(f"{self.source}{problem}")
        return score, factor


# Scores across requests: a worklist page evaluates every open case of the group (about a millisecond each),
# and the inputs change once a day or on a payment. Keyed by the table's text, so a new table is never
# answered from an old one's scores.
@functools.lru_cache(maxsize=50_000)
def _table_score(
    text: str, amount: Decimal, days: int, grade: str, broken: int
) -> tuple[Decimal | None, Decimal | None, str]:
    """(score, factor, "") or (None, None, what is wrong, to follow the table's name)."""
    inputs = {"amount_overdue": amount, "days_overdue": days, "grade": grade, "broken_promises": broken}
    try:
        result = evaluate_decision(text, PRIORITY_DECISION, inputs)
    except DecisionError as exc:
        return None, None, f": {exc}"
    score, factor = _decimal(result.get("score")), _decimal(result.get("grade_factor"))
    if score is None or factor is None or score < 0 or factor < 0 or score > MAX_SCORE:
        return (
            None,
            None,
            f" gives score {result.get('score')!r} and grade factor {result.get('grade_factor')!r} for "
            f"{inputs}; each row must give an exact, finite number of 0 or more (Decimal, not float): fix "
            "the table and deploy it with dunning",
        )
    return score.quantize(Decimal("0.01")), factor, ""


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return None  # a float is refused: the score multiplies money
    result = Decimal(value)
    return result if result.is_finite() else None


def deployed_priority(session: Session) -> Priority:
    """The priority table of the newest active dunning version that carries collection_priority.dmn.

    Raises:
        PriorityError: no active dunning version carries one.
    """
    rows = session.execute(
        select(ProcessDefinition.version, Deployment.files)
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
        .where(
            ProcessDefinition.process_key == PRIORITY_PROCESS,
            ProcessDefinition.status == DefinitionStatus.ACTIVE,
        )
        .order_by(ProcessDefinition.version.desc())
    ).all()
    for version, files in rows:
        text = (files or {}).get(PRIORITY_FILE)
        if isinstance(text, str):
            return Priority(text, f"{PRIORITY_FILE} of {PRIORITY_PROCESS} v{version}")
    raise PriorityError(
        f"no active {PRIORITY_PROCESS} version carries {PRIORITY_FILE}: deploy it with the dunning diagram "
        "(`creditflow init` does) before the collectors' worklist can rank cases"
    )


# What a case can bring: every grade (and none), the extremes of amount, age and broken promises (a row is one
# expression of them; every shipped `dunning` deploy runs this, so the grid stays small).
_GRADES = ("A", "B", "C", "D", "E", "")
_AMOUNTS = (Decimal("0.00"), Decimal("999999999999999.99"))
_DAYS = (0, 3650)
_BROKEN = (0, 5)


def priority_problems(text: str) -> list[str]:
    """What makes a priority table unusable, checked when it is deployed (the worklist would only find out
    when a collector opened it): every grade, amount, age and count of broken promises must give an exact
    score and grade factor of 0 or more. Empty when the table is sound."""
    priority = Priority(text, PRIORITY_FILE)
    problems: list[str] = []
    for grade in _GRADES:
        for amount in _AMOUNTS:
            for days in _DAYS:
                for broken in _BROKEN:
                    try:
                        priority.score(amount, days, grade, broken)
                    except PriorityError as exc:
                        problems.append(str(exc))
                        if len(problems) >= 3:
                            return problems
    return problems
