"""What a replay's differences mean, per kind of policy table (issue 18's what-if summary).

Every table gets the generic count of changed outputs, from → to. The tables the credit policy lives in
add what a process owner asks of them: grades that move, the route an application takes and its hours,
how the dunning ladder's first notice moves, the cap and provision rate by grade or bucket.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.provision_matrix import MATRIX_DECISION, Matrix
from workflows.credit.provisions import compute_provisions
from workflows.definitions.decision_tables import output_values
from workflows.errors import DomainError
from workflows.store.models import InboxItem, ProcessInstance
from workflows.what_if.limits import limit_change_by_grade
from workflows.what_if.replay import Replay

KINDS = {
    "credit_scorecard": "scorecard",
    "scorecard_weights": "scorecard",
    "limit_policy": "limit_policy",
    "dunning_policy": "dunning_ladder",
    "provision_matrix": "provision_matrix",
}


# The ladder's outputs that say when a level's notice goes out: level_1_days, level_2_days, ...
_LEVEL_DAYS = re.compile(r"level_\d+_days")


def kind_of(decision_id: str) -> str:
    if decision_id in KINDS:
        return KINDS[decision_id]
    return "authority" if decision_id.endswith("authority") else "generic"


def summary(
    session: Session, key: str, replay: Replay, start: datetime, end: datetime, base: str | None
) -> dict[str, Any]:
    decision_id = replay.table.decision_id
    kind = kind_of(decision_id)
    result: dict[str, Any] = {
        "decision_id": decision_id,
        "file": replay.table.file,
        "kind": kind,
        "rows": replay.rows,
        "evaluated": replay.evaluations,
        "changed": len(replay.changes),
        "failed": replay.failed,
        "failure": replay.failure,
        "outputs": _transitions(replay),
    }
    if kind == "scorecard":
        grades = result["outputs"].get("grade", {})
        result["grade_changes"] = grades
        result["instances_changing_grade"] = _applications(replay, "grade")
        result["customers_changing_grade"] = _customers(session, replay, "grade")
    elif kind == "authority":
        result.update(_authority(session, key, replay, start, end))
    elif kind == "dunning_ladder":
        result.update(_ladder(replay))
    elif kind in ("limit_policy", "provision_matrix"):
        result["by_input"] = _by_first_input(replay)
    if kind == "limit_policy":
        result["limits"] = limit_change_by_grade(session, key, replay)
    if kind == "provision_matrix" and base is not None:
        result["provision"] = provision_change(
            session, replay.table.text, replay.table.file, end.date(), base
        )
    return result


def _applications(replay: Replay, output: str | None = None) -> int:
    """Instances with a changed decision (of `output`); a row logged outside an instance counts alone."""
    changed = [c for c in replay.changes if output is None or output in _diff(c)]
    return len({c.instance_id if c.instance_id is not None else -c.log_id for c in changed})


def _customers(session: Session, replay: Replay, output: str) -> int:
    """Customers with a changed decision of `output`: the distinct `customer_id`s of the changed instances'
    data (an application and a review of one customer count once); a row of an instance without one, or
    logged outside an instance, counts alone."""
    changed = [c for c in replay.changes if output in _diff(c)]
    instance_ids = sorted({c.instance_id for c in changed if c.instance_id is not None})
    customer = ProcessInstance.data["customer_id"].as_string()
    found: dict[int, str | None] = {}
    for at in range(0, len(instance_ids), 500):  # bounded IN lists on both databases
        chunk = instance_ids[at : at + 500]
        rows = session.execute(select(ProcessInstance.id, customer).where(ProcessInstance.id.in_(chunk)))
        found.update({instance_id: value for instance_id, value in rows})
    keys = {
        f"customer {found[c.instance_id]}"
        if c.instance_id is not None and found.get(c.instance_id)
        else f"row {c.log_id}"
        for c in changed
    }
    return len(keys)


def _diff(change: Any) -> set[str]:
    names = set(change.recorded) | set(change.replayed)
    return {n for n in names if change.recorded.get(n) != change.replayed.get(n)}


def _transitions(replay: Replay) -> dict[str, dict[str, int]]:
    """Output name → {"old → new": count} over the changed decisions."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for change in replay.changes:
        for name in sorted(_diff(change)):
            counts[name][f"{_show(change.recorded.get(name))} → {_show(change.replayed.get(name))}"] += 1
    return {name: dict(counter.most_common()) for name, counter in sorted(counts.items())}


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None and not isinstance(value, bool) else None
    except InvalidOperation:
        return None


def _ladder(replay: Replay) -> dict[str, Any]:
    """Notices earlier or later: every level whose days after due moved, old against new, per changed row
    (a row moving L1 and L2 counts two notices); the first-notice days change is level 1's alone."""
    earlier = later = 0
    days = Decimal(0)
    for change in replay.changes:
        for name in sorted(_diff(change)):
            if not _LEVEL_DAYS.fullmatch(name):
                continue
            old, new = _number(change.recorded.get(name)), _number(change.replayed.get(name))
            if old is None or new is None:
                continue
            earlier += new < old
            later += new > old
            if name == "level_1_days":
                days += new - old
    return {"notices_earlier": earlier, "notices_later": later, "first_notice_days_change": str(days)}


def _by_first_input(replay: Replay) -> dict[str, dict[str, dict[str, int]]]:
    """The transitions grouped by the table's first input (the grade, the days past due)."""
    grouped: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for change in replay.changes:
        first = _show(next(iter(change.inputs.values()), None)) if change.inputs else "(none)"
        for name in sorted(_diff(change)):
            text = f"{_show(change.recorded.get(name))} → {_show(change.replayed.get(name))}"
            grouped[first][name][text] += 1
    return {k: {n: dict(c) for n, c in v.items()} for k, v in sorted(grouped.items())}


def _authority(session: Session, key: str, replay: Replay, start: datetime, end: datetime) -> dict[str, Any]:
    """Route changes, and their approval hours from the inbox, per application: an application's last row
    of the period (its handler checks the table again when it applies the limit; that row and the business
    rule task's count once), a row logged outside an instance alone.

    A route's hours are the mean, over the period's applications that took it, of the hours their
    approval tasks (user tasks named *_approval) stayed open, created to completed. The change is the sum,
    over the changed applications, of the new route's mean less the old route's.
    """
    output = replay.outputs[0] if replay.outputs else "approval_level"  # the level: the route
    changes = [
        c for c in replay.changes if c.instance_id is None or replay.last.get(c.instance_id) == c.log_id
    ]
    routes = Counter(f"{_show(c.recorded.get(output))} → {_show(c.replayed.get(output))}" for c in changes)
    hours_by_instance: dict[int, Decimal] = defaultdict(Decimal)
    query = select(InboxItem.instance_id, InboxItem.created_at, InboxItem.completed_at).where(
        InboxItem.process_key == key,
        InboxItem.bpmn_id.like("%\\_approval", escape="\\"),
        InboxItem.completed_at.is_not(None),
        InboxItem.created_at >= start,
        InboxItem.created_at <= end,
    )
    for instance_id, created, completed in session.execute(query):
        assert completed is not None  # noqa: S101 - the query asked for completed ones
        seconds = Decimal(str((completed - created).total_seconds()))
        hours_by_instance[instance_id] += seconds / 3600
    per_route: dict[str, list[Decimal]] = defaultdict(list)
    for instance_id, outputs in replay.recorded.items():
        per_route[_show(outputs.get(output))].append(hours_by_instance.get(instance_id, Decimal(0)))
    mean = {route: sum(hours, Decimal(0)) / len(hours) for route, hours in per_route.items() if hours}
    change = Decimal(0)
    known = True
    for c in changes:
        old, new = _show(c.recorded.get(output)), _show(c.replayed.get(output))
        if old in mean and new in mean:
            change += mean[new] - mean[old]
        else:
            known = False
    return {
        "route_changes": dict(routes.most_common()),
        "applications_with_another_approver": _applications(replay),
        "route_hours": {route: str(round(hours, 2)) for route, hours in sorted(mean.items())},
        "approval_hours_change": str(round(change, 2)) if changes else "0",
        "approval_hours_complete": known,
    }


def provision_change(session: Session, text: str, file: str, as_of: date, base: str) -> dict[str, Any]:
    """The allowance at the end of `as_of` (the period's last day) with the deployed matrix and with the
    edited one, through the provision code itself (specific provisions and FX as the month end uses them).
    The matrix is evaluated by the provision code, not in instances: the log rarely holds its rows."""
    buckets = tuple(v.strip().strip('"') for v in output_values(text, MATRIX_DECISION, "bucket") if v.strip())
    try:
        current = compute_provisions(session, as_of, base)
        edited = compute_provisions(session, as_of, base, Matrix(text, f"edited {file}", buckets))
    except DomainError as exc:  # no matrix deployed, a currency without a rate, a bad cell: said, not a 500
        return {"as_of": as_of.isoformat(), "unavailable": exc.message}
    before, after = current.as_dict(), edited.as_dict()
    by_bucket = {
        b: str(
            Decimal(after["by_bucket"].get(b, {}).get("provision", "0"))
            - Decimal(before["by_bucket"].get(b, {}).get("provision", "0"))
        )
        for b in dict.fromkeys([*before["buckets"], *after["buckets"]])
    }
    return {
        "as_of": as_of.isoformat(),
        "base_currency": base,
        "current_total": before["total"],
        "edited_total": after["total"],
        "change": str(Decimal(after["total"]) - Decimal(before["total"])),
        "change_by_bucket": by_bucket,
    }
