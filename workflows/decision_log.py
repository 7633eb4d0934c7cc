"""The decision log: one row per DMN evaluation a process step makes, written in its step's transaction.

A business rule task's evaluation is a row of its element; a policy table a service task's handler evaluates
(`engine.decisions.evaluate_decision`: credit.score's scorecard_weights and collateral_haircut, the authority
and limit-policy checks) is a row of that service task, when the table is one deployed with the instance's
version. Each row keeps what the table was asked and answered: the values of its input expressions, its
outputs (Decimal and dates as strings, as every JSON column of the store), the rules that gave them (row
number and rule id) and the step's UTC time. The engine buffers the rows of a step (`workflows.engine.step`)
and inserts them with the step's audit events. The log is per process instance: an evaluation outside a step
(a page, a batch ranking such as collection priority over thousands of cases, a provision run, a deploy
check, the what-if's replay) is not logged. Read here: paged, optionally for one decision, for whoever may
read the instance.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.instances import get_instance_for
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.paging import Page, page_rows
from workflows.users import Actor


def decisions_of(
    session: Session,
    actor: Actor,
    instance_id: int,
    *,
    decision: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[DecisionLogEntry]:
    """One page of an instance's decisions in the order they were taken, for a reader of the instance.

    Raises:
        NotFound: no such instance.
        Forbidden: the actor may not read it.
    """
    get_instance_for(session, actor, instance_id)
    query = select(DecisionLogEntry).where(DecisionLogEntry.instance_id == instance_id)
    if decision:
        query = query.where(DecisionLogEntry.decision_id == decision)
    rows, total = page_rows(session, query.order_by(DecisionLogEntry.id), page, per_page)
    return Page(rows, total, page, per_page)


def decision_ids_of(session: Session, instance_id: int) -> list[str]:
    """The decisions an instance has taken (for the page's filter)."""
    query = select(DecisionLogEntry.decision_id).where(DecisionLogEntry.instance_id == instance_id)
    return sorted(set(session.scalars(query.distinct())))


def decision_json(entry: DecisionLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "instance_id": entry.instance_id,
        "process_key": entry.process_key,
        "version": entry.version,
        "decision_id": entry.decision_id,
        "bpmn_id": entry.bpmn_id,
        "inputs": entry.inputs,
        "outputs": entry.outputs,
        "rules": entry.rules,
        "at": entry.at.isoformat(),
    }
