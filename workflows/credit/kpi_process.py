"""The process KPIs (workflows/credit/kpis.py): credit application approval cycle time, and the share of
promises to pay kept. Each is one grouped query over all the periods asked for."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.kpi_book import end_of
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.store.models import InboxItem, ProcessInstance, TaskStatus

# The user tasks of credit_application.bpmn that decide it, lowest authority first: the route of an
# application is the highest of them it passed; one decided by none was decided automatically (grade E).
# Routes are named as the levels of approval_authority.dmn (roles.LIMIT_AUTHORITY), and "auto".
DECIDING_TASKS = {"review_application": "analyst", "manager_approval": "manager", "cfo_approval": roles.CFO}
AUTO = "auto"
ROUTES = (AUTO, *DECIDING_TASKS.values())
FINAL = ("approve", "reject")  # a review that asked for information decided nothing yet
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Decided:
    """One credit application's decision: when, by which route, in how many hours, within its SLA."""

    decided_at: datetime
    route: str
    hours: Decimal
    within_sla: bool


def decided_applications(session: Session, first: date, last: date) -> list[Decided]:
    """The credit applications decided after the end of `first` up to the end of `last`.

    Cycle time runs from the instance's start to its decision: the completion of the last deciding task
    with a final decision (approve or reject), or, with no deciding task, the instance's completion. An
    application with a deciding task not completed (open: an analyst's approval escalated to the manager
    or the CFO, who has not decided yet; cancelled: withdrawn) is not decided. It is within the SLA when
    every deciding task was completed by its due time (the diagram's dueIn)."""
    task = InboxItem
    done = task.status == TaskStatus.COMPLETED
    ranks = {bpmn_id: i + 1 for i, bpmn_id in enumerate(DECIDING_TASKS)}
    rank = case(*((and_(done, task.bpmn_id == b), r) for b, r in ranks.items()), else_=0)
    final_at = func.max(case((and_(done, task.decision.in_(FINAL)), task.completed_at)))
    late = func.max(case((and_(done, task.due_at.is_not(None), task.completed_at > task.due_at), 1), else_=0))
    pending = func.sum(case((and_(task.id.is_not(None), ~done), 1), else_=0))
    query = (
        select(
            ProcessInstance.started_at,
            ProcessInstance.completed_at,
            func.coalesce(func.max(rank), 0),
            final_at,
            func.coalesce(late, 0),
            func.coalesce(pending, 0),
        )
        .outerjoin(
            task,
            and_(task.instance_id == ProcessInstance.id, task.bpmn_id.in_(tuple(DECIDING_TASKS))),
        )
        .where(
            ProcessInstance.process_key == roles.CREDIT_APPLICATION,
            ProcessInstance.started_at <= end_of(last),
            or_(ProcessInstance.completed_at.is_(None), ProcessInstance.completed_at > end_of(first)),
        )
        .group_by(ProcessInstance.id, ProcessInstance.started_at, ProcessInstance.completed_at)
    )
    found = []
    names = list(DECIDING_TASKS.values())
    for started, completed, top, final, was_late, waiting in session.execute(query):
        decided_at = completed if top == 0 else final
        if waiting or decided_at is None or not (end_of(first) < decided_at <= end_of(last)):
            continue  # undecided (running, escalated, withdrawn), or decided outside the periods
        hours = Decimal((decided_at - started).total_seconds()) / 3600
        route = AUTO if top == 0 else names[int(top) - 1]
        found.append(Decided(decided_at, route, hours, not was_late))
    return found


def median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[Decimal]) -> Decimal:
    """The nearest-rank 90th percentile: the smallest value at least 90 % of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(Decimal("0.9") * len(ordered)) - 1)]


def hours_text(value: Decimal) -> str:
    return str(value.quantize(TENTH, rounding=ROUND_HALF_UP))


def cycle_summary(decided: Sequence[Decided]) -> dict[str, Any]:
    """Median, p90, count and SLA share (number and percent) of a period's decisions, overall and per
    route."""
    if not decided:
        return {
            "count": 0,
            "median": None,
            "p90": None,
            "within_sla": 0,
            "within_sla_percent": None,
            "per_route": {},
        }
    hours = [d.hours for d in decided]
    within = sum(1 for d in decided if d.within_sla)
    per_route = {}
    for route in ROUTES:
        mine = [d for d in decided if d.route == route]
        if mine:
            hours_of = [d.hours for d in mine]
            on_time = sum(1 for d in mine if d.within_sla)
            per_route[route] = {
                "count": len(mine),
                "median": hours_text(median(hours_of)),
                "p90": hours_text(p90(hours_of)),
                "within_sla": on_time,
                "within_sla_percent": _percent(on_time, len(mine)),
            }
    return {
        "count": len(decided),
        "median": hours_text(median(hours)),
        "p90": hours_text(p90(hours)),
        "within_sla": within,
        "within_sla_percent": _percent(within, len(decided)),
        "per_route": per_route,
    }


def _percent(part: int, whole: int) -> str:
    return str((Decimal(part) * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def promises_judged(session: Session, periods: Sequence[tuple[date, date]]) -> dict[date, tuple[int, int]]:
    """{period end: (promises judged in the period, of them kept in full)}, by judged_at, one query."""
    if not periods:
        return {}
    judged = DunningPromise.status.in_(PromiseStatus.JUDGED)
    columns = []
    for start, end in periods:
        within = and_(
            judged, DunningPromise.judged_at > end_of(start), DunningPromise.judged_at <= end_of(end)
        )
        columns += [
            func.coalesce(func.sum(case((within, 1), else_=0)), 0),
            func.coalesce(
                func.sum(case((and_(within, DunningPromise.status == PromiseStatus.KEPT), 1), else_=0)), 0
            ),
        ]
    first = min(p[0] for p in periods)
    last = max(p[1] for p in periods)
    row = session.execute(
        select(*columns).where(
            DunningPromise.judged_at > end_of(first), DunningPromise.judged_at <= end_of(last)
        )
    ).one()
    return {end: (int(row[2 * i]), int(row[2 * i + 1])) for i, (_, end) in enumerate(periods)}
