"""A dispute credit counts only approvals given since the dispute it settles opened: a dunning instance can
go through several disputes, and a diagram that skipped the approval task would otherwise reuse the credit
manager's approval of an earlier credit note for the next one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handlers.dunning_promises import ResolveRequest, credit_approvals
from tests.handlers.test_supplier_risk import make_ctx
from workflows.credit.customers import create_customer
from workflows.credit.models import DunningCase, DunningEvent
from workflows.engine.service_tasks import MissingApprovals, TaskContext
from workflows.store.db import transaction
from workflows.store.models import InboxItem, TaskStatus
from workflows.users import add_user


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with transaction(session_factory) as session:
        yield session


def approve_as_manager(ctx: TaskContext, at: datetime, n: int) -> None:
    ctx.session.add(
        InboxItem(
            instance_id=ctx.instance_id,
            spiff_task_id=f"approval-{n}",
            process_key=ctx.process_key,
            bpmn_id="approve_dispute_credit",
            title="Approve the credit note",
            lane=None,
            candidate_groups=["credit_manager"],
            form_schema={},
            four_eyes=[],
            context={},
            status=TaskStatus.COMPLETED,
            created_at=at,
            completed_by="manager1",
            completed_at=at,
            decision="approve",
        )
    )


def dispute(ctx: TaskContext, case: DunningCase, kind: str, at: datetime) -> None:
    ctx.session.add(DunningEvent(case_id=case.id, kind=kind, level=1, detail={}, actor="collector1", at=at))


def test_an_approval_of_an_earlier_credit_note_does_not_count_for_the_next(
    session: Session, clock: datetime
) -> None:
    ctx = make_ctx(session, clock)
    add_user(session, "manager1", groups=["credit_manager"], now=clock)
    customer = create_customer(session, {"name": "Twice Ltd", "currency": "EUR"}, actor="test", now=clock)
    case = DunningCase(customer_id=customer.id, instance_id=ctx.instance_id, currency="EUR", opened_at=clock)
    session.add(case)
    session.flush()
    first = clock - timedelta(days=20)
    dispute(ctx, case, "dispute_opened", first)
    approve_as_manager(ctx, first + timedelta(days=1), 1)
    dispute(ctx, case, "dispute_resolved", first + timedelta(days=1))
    dispute(ctx, case, "dispute_opened", clock - timedelta(days=2))  # the second dispute, not yet approved
    session.flush()
    upheld = ResolveRequest(case_id=case.id, resolution="upheld")

    with pytest.raises(MissingApprovals, match="credit_manager"):
        credit_approvals(ctx, upheld)

    approve_as_manager(ctx, clock - timedelta(days=1), 2)
    session.flush()
    [approval] = credit_approvals(ctx, upheld)
    assert (approval.user, approval.task_id is not None) == ("manager1", True)
