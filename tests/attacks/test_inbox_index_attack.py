"""Attacks on the inbox read from the caller's groups (issue 19, c599d05: one candidate-index read per
caller group, UNIONed, and a count from the index with a `shared` mark).

The rule the inbox had before (c599d05^: one query, an EXISTS probe of the caller's groups OR the caller as
assignee, open tasks only; admins all) is computed in Python over the task rows and compared with every
page, total, sort and filter, for users with no group, one, several, hundreds, group names that differ only
in case or carry LIKE wildcards, quotes, spaces and non-ASCII; tasks offered to one group, to several, to
none (assigned by the process), claimed, completed and cancelled (whose candidate rows the step drops), with
ties on the sort keys. Rows are written exactly as the engine's step writes them (step._create_inbox_item:
candidate rows carry the task's due_sort, created_at and `shared`; a closed task's rows are deleted).
Runs on SQLite and, with `-m db`, PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session, sessionmaker

from workflows import inbox
from workflows.inbox import InboxFilter, list_inbox
from workflows.store.models import (
    NO_DUE_DATE,
    Deployment,
    InboxItem,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    TaskStatus,
)
from workflows.users import ADMIN_GROUP, Actor

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Names a group may carry in a diagram's lane or candidateGroups: case variants, LIKE wildcards, quotes,
# a space, non-ASCII, the longest the column holds.
GROUPS = [
    "credit_analyst",
    "Credit_Analyst",
    "credit_manager",
    "sales",
    "a%b",
    "a_b",
    "axb",
    "o'brien",
    "two words",
    "kredit-prüfung",
    "信用",
    "g" * 80,
]


def _instance(session: Session) -> int:
    deployment = Deployment(content_hash="h", files={}, deployed_by="owner1", deployed_at=NOW)
    session.add(deployment)
    session.flush()
    definition = ProcessDefinition(
        process_key="credit_hold",
        version=1,
        name="",
        deployment_id=deployment.id,
        content_hash="h",
        spec_json="{}",
        start_groups=["sales"],
        bpmn_file="x.bpmn",
        deployed_by="owner1",
        deployed_at=NOW,
        status="active",
    )
    session.add(definition)
    session.flush()
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key="credit_hold",
        version=1,
        status="running",
        state="{}",
        data={},
        waits=[],
        started_by="sales1",
        started_at=NOW,
        updated_at=NOW,
    )
    session.add(instance)
    session.flush()
    return instance.id


def write_task(
    session: Session,
    instance_id: int,
    n: int,
    groups: list[str],
    *,
    assignee: str | None,
    due_at: datetime | None,
    created_at: datetime,
    process_key: str = "credit_hold",
) -> int:
    """A task row and its candidate rows, as step._create_inbox_item writes them."""
    row: dict[str, Any] = dict(
        instance_id=instance_id,
        spiff_task_id=f"task-{n}",
        process_key=process_key,
        bpmn_id="review",
        title=f"Review {n}",
        lane=None,
        candidate_groups=groups,
        subject=f"SO-{n}",
        instructions="",
        form_file=None,
        form_schema={},
        four_eyes=[],
        context={},
        assignee=assignee,
        status=TaskStatus.OPEN,
        due_at=due_at,
        due_sort=due_at or NO_DUE_DATE,
        created_at=created_at,
    )
    task_id = session.connection().scalar(insert(InboxItem).returning(InboxItem.id), row)
    keys = {
        "task_id": task_id,
        "due_sort": row["due_sort"],
        "created_at": created_at,
        "shared": len(groups) > 1,
    }
    if groups:
        session.connection().execute(insert(TaskCandidate), [{"group_name": g, **keys} for g in groups])
    return task_id


def close_task(session: Session, task_id: int, status: str) -> None:
    """What a step does when a task completes or the engine drops it: status, and its candidate rows go."""
    item = session.get(InboxItem, task_id)
    assert item is not None
    item.status = status
    item.completed_at = NOW
    session.flush()
    session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == task_id))


def old_rule(items: list[InboxItem], actor: Actor, flt: InboxFilter, now: datetime) -> list[int]:
    """c599d05^'s inbox, in Python: visible open tasks, filtered, in the page's order."""
    shown = []
    for item in items:
        if item.status != TaskStatus.OPEN:
            continue
        if not (
            actor.is_admin
            or not actor.groups.isdisjoint(item.candidate_groups)
            or item.assignee == actor.username
        ):
            continue
        if flt.process_key and item.process_key != flt.process_key:
            continue
        if flt.group and flt.group not in item.candidate_groups:
            continue
        if flt.overdue and not (item.due_at is not None and item.due_at < now):
            continue
        if flt.mine_only and item.assignee != actor.username:
            continue
        if flt.text:
            like = flt.text.lower()
            if like not in item.title.lower() and like not in item.subject.lower():
                continue
        shown.append(item)
    sort = flt.sort if flt.sort in ("due", "created", "-created") else "due"
    if sort == "due":
        return [i.id for i in sorted(shown, key=lambda i: (i.due_sort, i.id))]
    if sort == "created":
        return [i.id for i in sorted(shown, key=lambda i: (i.created_at, i.id))]
    return [i.id for i in sorted(shown, key=lambda i: (i.created_at, i.id), reverse=True)]


def check(session: Session, actor: Actor, flt: InboxFilter, now: datetime) -> None:
    items = list(session.query(InboxItem).all())
    expected = old_rule(items, actor, flt, now)
    found = list_inbox(session, actor, flt, now)
    start = (max(1, flt.page) - 1) * flt.per_page
    assert [t.id for t in found.items] == expected[start : start + flt.per_page], (actor, flt)
    assert found.total == len(expected), (actor, flt)


def random_book(session: Session, rng: random.Random, tasks: int) -> list[str]:
    """Random tasks; returns the user names that appear as assignees."""
    instance_id = _instance(session)
    users = ["u0", "u1", "u2", "u3"]
    # few distinct times, so the sort keys tie and ties go by id
    times = [NOW - timedelta(hours=h) for h in range(4)]
    dues = [None, NOW - timedelta(hours=1), NOW + timedelta(hours=1), NOW + timedelta(days=2)]
    ids = []
    for n in range(tasks):
        groups = rng.sample(GROUPS, rng.choice([0, 1, 1, 1, 2, 3]))
        assignee = rng.choice([None, None, *users]) if groups else rng.choice(users)
        ids.append(
            write_task(
                session,
                instance_id,
                n,
                groups,
                assignee=assignee,
                due_at=rng.choice(dues),
                created_at=rng.choice(times),
                process_key=rng.choice(["credit_hold", "credit_hold", "dunning"]),
            )
        )
    for task_id in rng.sample(ids, len(ids) // 5):
        close_task(session, task_id, rng.choice([TaskStatus.COMPLETED, TaskStatus.CANCELLED]))
    return users


@pytest.mark.parametrize(
    ("seed", "branches"), [(7, inbox.MAX_GROUP_BRANCHES), (2026, inbox.MAX_GROUP_BRANCHES), (7, 1)]
)
def test_every_user_sees_what_the_rule_before_c599d05_showed(
    session_factory: sessionmaker[Session], seed: int, branches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """branches=1: every caller in two groups or more takes the one-read path of a caller in many groups."""
    monkeypatch.setattr(inbox, "MAX_GROUP_BRANCHES", branches)
    rng = random.Random(seed)
    with session_factory() as session:
        users = random_book(session, rng, 60)
        session.commit()
        actors = [Actor("nobody", frozenset())]  # no group at all: only what is assigned to them
        actors += [Actor(u, frozenset()) for u in users]
        actors += [Actor(u, frozenset(rng.sample(GROUPS, rng.randint(1, 4)))) for u in users]
        actors += [Actor("every", frozenset(GROUPS)), Actor("admin", frozenset({ADMIN_GROUP}))]
        actors += [
            Actor("case", frozenset({"CREDIT_ANALYST", "credit_analyst "})),
            Actor("w", frozenset({"a%b"})),
        ]
        filters = [
            InboxFilter(sort=sort, page=page, per_page=per_page)
            for sort in ("due", "created", "-created", "bogus")
            for per_page in (1, 3, 200)
            for page in (1, 2, 5)
        ]
        filters += [
            InboxFilter(group=g, per_page=200)
            for g in ("credit_analyst", "Credit_Analyst", "a%b", "a_b", "nope")
        ]
        filters += [
            InboxFilter(mine_only=True, sort="-created", per_page=200),
            InboxFilter(overdue=True, per_page=200),
            InboxFilter(text="so-1", per_page=2, page=2),
            InboxFilter(process_key="dunning", sort="created", per_page=200),
            InboxFilter(process_key="dunning", group="sales", mine_only=True, overdue=True, per_page=200),
        ]
        for actor in actors:
            for flt in filters:
                check(session, actor, flt, NOW)


def test_a_user_in_hundreds_of_groups_gets_their_inbox(session_factory: sessionmaker[Session]) -> None:
    """A user synchronised from a directory may be in many groups: one UNION branch per group must not
    exceed a database limit (SQLite refuses a compound SELECT of more than 500 terms)."""
    many = [f"team_{n:04d}" for n in range(700)]
    rng = random.Random(5)
    with session_factory() as session:
        instance_id = _instance(session)
        for n in range(40):  # most offered to two or three of the caller's groups: one row each per group
            groups = rng.sample(many[:30], rng.choice([1, 2, 3])) + rng.sample(["sales", "other"], 1)
            due = rng.choice([None, NOW + timedelta(hours=rng.randint(0, 3))])
            write_task(session, instance_id, n, groups, assignee=None, due_at=due, created_at=NOW)
        write_task(session, instance_id, 99, [], assignee="wide", due_at=None, created_at=NOW)
        write_task(session, instance_id, 98, ["sales"], assignee="wide", due_at=None, created_at=NOW)
        session.commit()
        actor = Actor("wide", frozenset(many))
        filters = [
            InboxFilter(sort=s, per_page=3, page=p)
            for s in ("due", "created", "-created")
            for p in range(1, 16)
        ]
        filters += [InboxFilter(group="team_0005"), InboxFilter(mine_only=True), InboxFilter(overdue=True)]
        for flt in filters:
            check(session, actor, flt, NOW + timedelta(hours=2))
