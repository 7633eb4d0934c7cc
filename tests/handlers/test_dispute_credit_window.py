"""dispute.post_credit counts only approvals given after the credit was proposed, and none by the proposer or
the collector who raised the dispute: a diagram that put an approval task before the proposal (or reused
one) would otherwise let a lead's earlier approval carry a credit proposed later, for any amount."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handlers.disputes import DisputeRequest, credit_approvals
from tests.helpers import running_instance
from workflows.credit.customers import create_customer
from workflows.credit.disputes import Dispute, DisputeStatus
from workflows.engine.service_tasks import MissingApprovals, TaskContext
from workflows.settings import BPMN_DIR, Settings
from workflows.store.db import transaction
from workflows.store.models import (
    InboxItem,
    TaskStatus,
)
from workflows.users import add_user


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with transaction(session_factory) as session:
        yield session


def make_ctx(session: Session, now: datetime, settings: Settings) -> TaskContext:
    """An instance of dispute_resolution deployed with the shipped authority table, started by collector1."""
    table = (BPMN_DIR / "dispute_credit_authority.dmn").read_text(encoding="utf-8")
    instance = running_instance(
        session,
        now,
        process_key="dispute_resolution",
        started_by="collector1",
        start_groups=["collections"],
        files={"dispute_credit_authority.dmn": table},
        deployed_by="system",
    )
    return TaskContext(
        session=session,
        now=now,
        instance_id=instance.id,
        process_key="dispute_resolution",
        business_key=None,
        bpmn_id="post_credit",
        task_key="post-credit",
        started_by="collector1",
        settings=settings,
        actor="lead1",
    )


def approve(ctx: TaskContext, user: str, at: datetime, n: int) -> None:
    ctx.session.add(
        InboxItem(
            instance_id=ctx.instance_id,
            spiff_task_id=f"approval-{n}",
            process_key=ctx.process_key,
            bpmn_id="approve_as_lead",
            title="Approve credit note (collections lead)",
            lane=None,
            candidate_groups=["collections_lead"],
            form_schema={},
            four_eyes=[],
            context={},
            status=TaskStatus.COMPLETED,
            created_at=at,
            completed_by=user,
            completed_at=at,
            decision="approve",
        )
    )
    ctx.session.flush()


def test_only_an_approval_after_the_proposal_by_someone_else_counts(
    session: Session, clock: datetime, settings: Settings
) -> None:
    ctx = make_ctx(session, clock, settings)
    for name, groups in (
        ("collector1", ["collections", "collections_lead"]),
        ("sales1", ["sales", "collections_lead"]),
        ("lead1", ["collections_lead"]),
    ):
        add_user(session, name, groups=groups, now=clock)
    customer = create_customer(session, {"name": "Window Ltd", "currency": "EUR"}, actor="test", now=clock)
    proposed_at = clock - timedelta(hours=1)
    dispute = Dispute(
        customer_id=customer.id,
        instance_id=ctx.instance_id,
        owner_group="sales",
        currency="EUR",
        disputed_amount=Decimal("900.00"),
        status=DisputeStatus.PROPOSED,
        proposal="accept",
        proposed_credit=Decimal("900.00"),
        proposed_credit_base=Decimal("900.00"),
        proposed_by="sales1",
        proposed_at=proposed_at,
        raised_by="collector1",
        opened_at=clock - timedelta(days=1),
    )
    session.add(dispute)
    session.flush()
    request = DisputeRequest(dispute.id)

    approve(ctx, "lead1", proposed_at - timedelta(minutes=1), 1)  # given before the credit was proposed
    approve(ctx, "sales1", clock, 2)  # the proposer
    approve(ctx, "collector1", clock, 3)  # the initiator, who raised the dispute
    with pytest.raises(MissingApprovals, match="collections_lead") as refused:
        credit_approvals(ctx, request)
    assert "proposed by sales1" in str(refused.value)

    approve(ctx, "lead1", clock, 4)
    [approval] = credit_approvals(ctx, request)
    assert (approval.user, approval.group, approval.task_id) == ("lead1", "collections_lead", 4)
