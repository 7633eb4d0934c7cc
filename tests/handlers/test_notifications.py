"""notify.email: recipient resolution, idempotent queueing per task execution, clear input errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.notifications import NotifyEmailRequest, NotifyEmailResult, notify_email
from handlers.registry import build_operations
from tests.helpers import running_instance
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.mail.outbox import message_id_for
from workflows.settings import load_settings
from workflows.store.db import transaction
from workflows.store.models import (
    Group,
    OutboxEmail,
    ProcessInstance,
    User,
    UserGroup,
)

pytestmark = pytest.mark.db


def add_user(
    session: Session,
    now: datetime,
    name: str,
    *,
    email: str | None = None,
    groups: tuple[str, ...] = (),
    active: bool = True,
) -> User:
    """A user with the given groups (created when missing); e-mail defaults to NAME@example.com."""
    user = User(
        username=name, email=f"{name}@example.com" if email is None else email, active=active, created_at=now
    )
    for group in groups:
        if session.get(Group, group) is None:
            session.add(Group(name=group))
        user.groups.append(UserGroup(group_name=group))
    session.add(user)
    session.flush()
    return user


def add_instance(session: Session, now: datetime, started_by: str) -> ProcessInstance:
    """A running credit_application instance (outbox rows refer to their instance)."""
    return running_instance(
        session,
        now,
        process_key="credit_application",
        started_by=started_by,
        start_groups=["sales"],
        name="Credit application",
        business_key="CA-2026-0007",
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session], clock: datetime) -> Iterator[Session]:
    """One open transaction with users, groups and an instance started by sales1; committed at the end."""
    with transaction(session_factory) as session:
        add_user(session, clock, "sales1", groups=("sales",))
        add_user(session, clock, "analyst1", groups=("credit_analyst",))
        add_user(session, clock, "analyst2", groups=("credit_analyst", "credit_manager"))
        add_user(session, clock, "analyst3", groups=("credit_analyst",), active=False)
        add_user(session, clock, "analyst4", groups=("credit_analyst",), email="")
        add_user(session, clock, "nomail", email="")
        add_user(session, clock, "manager1", groups=("credit_manager",))
        session.add(Group(name="legal"))
        yield session


def make_ctx(
    session: Session, now: datetime, *, task_key: str = "task-1", started_by: str = "sales1"
) -> TaskContext:
    instance = add_instance(session, now, started_by)
    return TaskContext(
        session=session,
        now=now,
        instance_id=instance.id,
        process_key=instance.process_key,
        business_key=instance.business_key,
        bpmn_id="notify_applicant",
        task_key=task_key,
        started_by=started_by,
        settings=load_settings({}),
    )


DECISION = {"outcome": "approve", "comment": "Welcome aboard."}


def notify(
    ctx: TaskContext, to: str | list[str], template: str = "decision", context: dict[str, Any] | None = None
) -> NotifyEmailResult:
    return notify_email(
        ctx, NotifyEmailRequest(template=template, to=to, context=DECISION if context is None else context)
    )


def queued(session: Session) -> list[OutboxEmail]:
    return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_resolves_users_groups_initiator_and_addresses(session: Session, clock: datetime) -> None:
    ctx = make_ctx(session, clock)
    result = notify(ctx, ["user:manager1", "group:credit_analyst", "initiator", "cfo@acme.example"])

    # Inactive and e-mail-less group members are left out; analyst2 is in two groups but mailed once.
    expected = [
        "manager1@example.com",
        "analyst1@example.com",
        "analyst2@example.com",
        "sales1@example.com",
        "cfo@acme.example",
    ]
    assert result == NotifyEmailResult(queued=1, recipients=expected)
    [row] = queued(session)
    assert row.to == ", ".join(expected)
    assert row.instance_id == ctx.instance_id
    assert row.template == "decision"
    assert row.message_id == message_id_for("notify:task-1")
    # The instance's own facts reach the template.
    assert row.subject == "Your credit application CA-2026-0007 was approved"


def test_comma_separated_string_and_repeats(session: Session, clock: datetime) -> None:
    result = notify(make_ctx(session, clock), "group:credit_manager, user:analyst2")
    assert result.recipients == ["analyst2@example.com", "manager1@example.com"]


def test_retried_step_queues_nothing_twice(session: Session, clock: datetime) -> None:
    ctx = make_ctx(session, clock)
    assert notify(ctx, "initiator").queued == 1
    assert notify(ctx, "initiator").queued == 0
    assert len(queued(session)) == 1


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("sales", r"unknown recipient 'sales' in instance \d+ at notify_applicant; use \"user:NAME\""),
        ("user:ghost", "recipient 'user:ghost': there is no user 'ghost'"),
        ("user:analyst3", "user 'analyst3' is deactivated"),
        ("user:nomail", "user 'nomail' has no e-mail address"),
        ("group:nobody", "there is no group 'nobody'"),
        ("group:legal", "group 'legal' has no active member with an e-mail address"),
        ("", "names no recipient"),
    ],
)
def test_unknown_or_unreachable_recipient_is_rejected(
    session: Session, clock: datetime, to: str, message: str
) -> None:
    with pytest.raises(HandlerInputError, match=message):
        notify(make_ctx(session, clock), ["user:manager1", to] if to else to)
    assert queued(session) == []


def test_initiator_that_is_not_a_user_is_rejected(session: Session, clock: datetime) -> None:
    with pytest.raises(HandlerInputError, match="recipient 'initiator': there is no user 'system'"):
        notify(make_ctx(session, clock, started_by="system"), "initiator")


def test_template_problems_are_input_errors(session: Session, clock: datetime) -> None:
    ctx = make_ctx(session, clock)
    with pytest.raises(HandlerInputError, match="'outcome' is undefined"):
        notify(ctx, "initiator", context={"comment": "no outcome"})
    with pytest.raises(HandlerInputError, match="no e-mail template 'welcome'"):
        notify(ctx, "initiator", template="welcome")
    assert queued(session) == []


def test_registered_operation_converts_parameters_and_result(session: Session, clock: datetime) -> None:
    ctx = make_ctx(session, clock, task_key="task-9")
    result = build_operations()["notify.email"].call(
        ctx, {"template": "generic", "to": "user:analyst1", "context": {"subject": "Hi", "message": "Text"}}
    )
    assert result == {"queued": 1, "recipients": ["analyst1@example.com"]}
    with pytest.raises(HandlerInputError, match="unknown parameter"):
        build_operations()["notify.email"].call(ctx, {"template": "generic", "to": "initiator", "cc": "x"})
