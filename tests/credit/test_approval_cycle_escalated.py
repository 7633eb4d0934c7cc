"""Approval cycle time (issue 17, docs/kpis.md): an application the analyst approved and escalated to the
manager is not decided until the manager decides. Before, the analyst's approve counted it as decided on the
analyst route, within the SLA, while the manager's task was still open (reviewer R); a month-end snapshot
then froze that early count."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.kpi_process import decided_applications
from workflows.store.db import transaction
from workflows.store.models import InboxItem, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus

pytestmark = pytest.mark.usefixtures("shipped")
STARTED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def application(session: Session, key: str, tasks: list[tuple[str, str, datetime | None, str]]) -> int:
    """A running credit application with deciding tasks (bpmn id, decision, completed at, status)."""
    definition = session.scalar(
        select(ProcessDefinition.id).where(ProcessDefinition.process_key == roles.CREDIT_APPLICATION).limit(1)
    )
    assert definition is not None
    instance = ProcessInstance(
        definition_id=definition,
        process_key=roles.CREDIT_APPLICATION,
        version=1,
        business_key=key,
        status=InstanceStatus.RUNNING,
        state="{}",
        data={},
        started_by="sales1",
        started_at=STARTED,
        updated_at=STARTED,
    )
    session.add(instance)
    session.flush()
    for i, (bpmn_id, decision, done, status) in enumerate(tasks):
        session.add(
            InboxItem(
                instance_id=instance.id,
                spiff_task_id=f"{key}-{i}",
                process_key=roles.CREDIT_APPLICATION,
                bpmn_id=bpmn_id,
                title=bpmn_id,
                candidate_groups=[],
                form_schema={},
                four_eyes=[],
                context={},
                status=status,
                created_at=STARTED,
                completed_by="analyst1" if done else None,
                completed_at=done,
                decision=decision if done else None,
            )
        )
    session.flush()
    return instance.id


def test_an_escalated_application_is_decided_when_the_manager_decides_and_a_withdrawn_one_never(
    app: Flask,
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    analyst_done = datetime(2026, 1, 11, 9, 0, tzinfo=UTC)
    with transaction(factory) as session:
        escalated = application(
            session,
            "escalated",
            [
                ("review_application", "approve", analyst_done, TaskStatus.COMPLETED),
                ("manager_approval", "", None, TaskStatus.OPEN),
            ],
        )
        application(  # withdrawn after the analyst asked for information: the task was cancelled
            session,
            "withdrawn",
            [("review_application", "approve", None, TaskStatus.CANCELLED)],
        )
        application(  # decided by the analyst alone: counted
            session, "analyst", [("review_application", "reject", analyst_done, TaskStatus.COMPLETED)]
        )
    with factory() as session:
        january = decided_applications(session, date(2025, 12, 31), date(2026, 1, 31))
    assert [(d.route, d.hours) for d in january] == [("analyst", Decimal(24))]
    manager_done = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
    with transaction(factory) as session:
        task = session.scalars(
            select(InboxItem).where(
                InboxItem.instance_id == escalated, InboxItem.bpmn_id == "manager_approval"
            )
        ).one()
        task.status, task.completed_at, task.decision = TaskStatus.COMPLETED, manager_done, "approve"
    with factory() as session:
        january = decided_applications(session, date(2025, 12, 31), date(2026, 1, 31))
        february = decided_applications(session, date(2026, 1, 31), date(2026, 2, 28))
    assert [(d.route, d.hours) for d in january] == [("analyst", Decimal(24))]
    assert [(d.route, d.hours) for d in february] == [("manager", Decimal(24 * 24))]
