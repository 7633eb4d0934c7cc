"""The rows of the segregation-of-duties report (workflows/sod_report.py) and the helpers every kind of
money move uses to read its rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from workflows.errors import BadRequest
from workflows.messages import _
from workflows.users import SYSTEM_ACTOR

_Row = TypeVar("_Row")
MAX_ROWS = 10_000  # per kind and period: a period with more is refused (narrow the period)


@dataclass(frozen=True)
class SodRow:
    """One money move as the report lists it."""

    kind: str
    id: int
    at: datetime
    object: str
    instance_id: int | None
    summary: str
    requester: str | None
    approvers: list[str]
    made_by: str
    rule: str
    repeated: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.repeated)


def repeated_people(requester: str | None, approvers: Sequence[str]) -> list[str]:
    """The people who appear more than once among the requester and the approvers (in lower case).

    Names are compared without case or surrounding space: "Manager1" and "manager1", two accounts made
    before such names were refused, are one person to an auditor.
    """
    people = [p.strip().casefold() for p in (requester, *approvers) if p]
    return sorted(name for name, count in Counter(people).items() if count > 1 and name != SYSTEM_ACTOR)


def all_rows(rows: Sequence[_Row], what: str) -> Sequence[_Row]:
    """The rows of one kind, when they are all there (queried with limit MAX_ROWS + 1).

    Raises:
        BadRequest: more than MAX_ROWS: a report cut short would hide the flagged rows after the cut,
            and say that none is flagged.
    """
    if len(rows) > MAX_ROWS:
        raise BadRequest(
            _(
                "more than %(max_rows)s %(what)s in this period: the report would be "
                "incomplete; narrow the period (from/to)",
                max_rows=f"{MAX_ROWS:,}",
                what=what,
            )
        )
    return rows


def period(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    found = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column <= end)
    return found


def names(approvers: Any) -> list[str]:
    """Usernames from an approvers list: names, or {step, user, at} entries."""
    names = []
    for entry in approvers if isinstance(approvers, list) else []:
        name = entry.get("user") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name:
            names.append(name)
    return names
