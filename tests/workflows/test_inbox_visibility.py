"""Who sees which open task in the inbox, pinned for a mix of users and tasks (issue 19 reads the inbox
from the caller's groups' candidate index instead of walking every open task; the answer must not change).

The rule the inbox always had: an open task is listed to the members of any of its candidate groups and
to its assignee (a claimer, or the person the process assigned it to); admins list every open task.
Four-eyes limits who may complete a task, not who sees it. Every user's pages, totals, sorts and filters
are compared with that rule computed in Python over the task rows, on SQLite and PostgreSQL (`db`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth, credit_hold_files, upload
from tests.webui.test_pages import logged_in
from workflows import inbox
from workflows.engine import runner
from workflows.inbox import InboxFilter, list_inbox
from workflows.store.db import transaction
from workflows.store.models import InboxItem, TaskStatus
from workflows.users import Actor, actor_for, add_user, get_user

DUE = '<spiffworkflow:property name="dueIn" value="P1D" />'
# The review task of credit_hold (credit_analyst lane, four-eyes on the initiator, due in a day), as
# deployed in turn: offered to two groups (due sooner), assigned to manager1 by the process (no due date).
VARIANTS = {
    "plain": {},
    "two_groups": {
        DUE: '<spiffworkflow:property name="dueIn" value="PT5H" />'
        '<spiffworkflow:property name="candidateGroups" value="credit_analyst, credit_manager" />'
    },
    "assigned": {DUE: '<spiffworkflow:property name="assignee" value="manager1" />'},
}
# Users beyond the demo ones: in both reviewing groups; a seller who is also an analyst (four-eyes keeps
# them from completing the holds they start, not from seeing them); one in a group no task is offered to.
EXTRA_USERS = {
    "both1": ["credit_analyst", "credit_manager"],
    "sellanalyst1": ["sales", "credit_analyst"],
    "treasury1": ["treasury"],
}
VIEWERS = [
    "analyst1",
    "manager1",
    "both1",
    "sellanalyst1",
    "sales1",
    "treasury1",
    "auditor1",
    "cfo1",
    "admin",
]


def bundle(tmp_path: Path, name: str, replace: dict[str, str]) -> list[Path]:
    directory = tmp_path / name
    directory.mkdir()
    for path in credit_hold_files():
        content = path.read_text()
        if path.suffix == ".bpmn":
            for old, new in replace.items():
                assert old in content, old
                content = content.replace(old, new)
        (directory / path.name).write_text(content)
    return sorted(directory.iterdir())


def visible(items: list[InboxItem], actor: Actor) -> list[InboxItem]:
    """The inbox's rule, in Python."""
    return [
        item
        for item in items
        if item.status == TaskStatus.OPEN
        and (
            actor.is_admin
            or not actor.groups.isdisjoint(item.candidate_groups)
            or item.assignee == actor.username
        )
    ]


def in_order(items: list[InboxItem], sort: str) -> list[int]:
    if sort == "due":
        return [i.id for i in sorted(items, key=lambda i: (i.due_sort, i.id))]
    if sort == "created":
        return [i.id for i in sorted(items, key=lambda i: (i.created_at, i.id))]
    return [i.id for i in sorted(items, key=lambda i: (i.created_at, i.id), reverse=True)]


@pytest.fixture
def book(
    tmp_path: Path, app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> datetime:
    """Holds started under each variant by sales1 and sellanalyst1, some at the same instant (equal due
    and creation times, so ties go by id); one claimed by analyst1, one completed, one claimed by both1.
    Returns the time of the book's last step."""
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        for name, groups in EXTRA_USERS.items():
            add_user(session, name, groups=groups, now=clock)
    now = clock
    started: list[int] = []
    for n, (name, replace) in enumerate(VARIANTS.items()):
        response = upload(client, demo_tokens["owner1"], bundle(tmp_path, name, replace))
        assert response.status_code == 201, response.json
        for k, starter in enumerate(["sales1", "sellanalyst1", "sales1", "sellanalyst1"]):
            now = clock + timedelta(hours=n, minutes=10 * (k // 2))  # pairs start at the same instant
            data = {"order_amount": 120 + k, "available_limit": 100, "order_number": f"SO-{n}{k}"}
            with transaction(rt.factory) as session:
                actor = actor_for(get_user(session, starter))
            instance = runner.start_instance(rt, "credit_hold", data, actor=actor, now=now)
            started.append(instance.id)
    with transaction(rt.factory) as session:
        tasks = session.scalars(select(InboxItem).order_by(InboxItem.id)).all()
        ids = {t.instance_id: t.id for t in tasks}
        actors = {name: actor_for(get_user(session, name)) for name in ("analyst1", "both1")}
    now += timedelta(minutes=5)
    runner.claim_task(rt, ids[started[0]], actor=actors["analyst1"], now=now)
    runner.claim_task(rt, ids[started[5]], actor=actors["both1"], now=now)
    runner.complete_task(rt, ids[started[2]], {"decision": "keep"}, actor=actors["analyst1"], now=now)
    return now


def test_every_user_sees_the_tasks_of_their_groups_and_their_own(app: Flask, book: datetime) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        items = list(session.scalars(select(InboxItem)).all())
        actors = {name: actor_for(get_user(session, name)) for name in VIEWERS}
        later = book + timedelta(hours=20)  # the two-group holds (due in 5 hours) are overdue by then
        for name, actor in actors.items():
            mine = visible(items, actor)
            for sort in ("due", "created", "-created"):
                expected = in_order(mine, sort)
                for per_page in (2, 3, 50):
                    for page in range(1, len(expected) // per_page + 3):
                        flt = InboxFilter(sort=sort, page=page, per_page=per_page)
                        found = list_inbox(session, actor, flt, book)
                        start = (page - 1) * per_page
                        assert [t.id for t in found.items] == expected[start : start + per_page], (name, flt)
                        assert found.total == len(expected), (name, flt)
            filters = {
                InboxFilter(mine_only=True): lambda i, me=name: i.assignee == me,
                InboxFilter(group="credit_manager"): lambda i: "credit_manager" in i.candidate_groups,
                InboxFilter(group="credit_analyst"): lambda i: "credit_analyst" in i.candidate_groups,
                InboxFilter(group="treasury"): lambda i: False,
                InboxFilter(overdue=True): lambda i: i.due_at is not None and i.due_at < later,
                InboxFilter(text="so-1"): lambda i: "so-1" in i.subject.lower() or "so-1" in i.title.lower(),
                InboxFilter(process_key="credit_hold", sort="-created", per_page=3): lambda i: True,
                InboxFilter(process_key="dunning"): lambda i: False,
            }
            for flt, keep in filters.items():
                expected = in_order([i for i in mine if keep(i)], flt.sort)
                found = list_inbox(session, actor, flt, later)
                assert [t.id for t in found.items] == expected[: flt.per_page], (name, flt)
                assert found.total == len(expected), (name, flt)

    # The answer itself, so a wrong rule on both sides cannot pass: 12 holds, one completed.
    by_user = {name: {i.id for i in visible(items, actor)} for name, actor in actors.items()}
    open_items = [i for i in items if i.status == TaskStatus.OPEN]
    groups = {i.id: tuple(i.candidate_groups) for i in open_items}
    assert len(open_items) == 11
    assert by_user["admin"] == set(groups)
    assert by_user["treasury1"] == by_user["sales1"] == by_user["cfo1"] == by_user["auditor1"] == set()
    assigned = {i.id for i in open_items if i.assignee == "manager1"}
    assert len(assigned) == 4 and all(groups[t] == () for t in assigned)
    assert by_user["manager1"] == assigned | {t for t, g in groups.items() if "credit_manager" in g}
    assert by_user["analyst1"] == {t for t, g in groups.items() if "credit_analyst" in g}
    assert by_user["sellanalyst1"] == by_user["analyst1"]  # four-eyes: sees its own holds, cannot decide them
    assert by_user["both1"] == by_user["analyst1"] | {t for t, g in groups.items() if "credit_manager" in g}


def test_the_api_lists_what_the_inbox_query_does(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], book: datetime
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        expected = {}
        for name in ("analyst1", "manager1", "sales1", "admin"):
            actor = actor_for(get_user(session, name))
            expected[name] = [t.id for t in list_inbox(session, actor, InboxFilter(), book).items]
    assert expected["analyst1"] and expected["manager1"] and not expected["sales1"]
    for name, ids in expected.items():
        listed = client.get("/api/tasks?per_page=100", headers=auth(demo_tokens[name])).json
        assert [t["id"] for t in listed["items"]] == ids[:100], name
        assert listed["total"] == len(ids), name


def test_the_total_stops_at_the_count_limit_and_says_so(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    book: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The total counts up to COUNT_LIMIT (or the page's end, if further); past that it is the limit and
    marked a lower bound. The pages themselves do not change (the limit is 2 here, the book 11 tasks)."""
    monkeypatch.setattr(inbox, "COUNT_LIMIT", 2)
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        items = list(session.scalars(select(InboxItem)).all())
        for name in VIEWERS:
            actor = actor_for(get_user(session, name))
            mine = visible(items, actor)
            for flt_args in (
                {},
                {"sort": "-created"},
                {"group": "credit_analyst"},
                {"process_key": "credit_hold"},
            ):
                expected = in_order(
                    [i for i in mine if flt_args.get("group") in (None, *i.candidate_groups)],
                    flt_args.get("sort", "due"),
                )
                for per_page in (1, 2, 3, 50):
                    for page in range(1, len(expected) // per_page + 3):
                        flt = InboxFilter(page=page, per_page=per_page, **flt_args)  # type: ignore[arg-type]
                        found = list_inbox(session, actor, flt, book)
                        start, limit = (page - 1) * per_page, max(2, page * per_page)
                        assert [t.id for t in found.items] == expected[start : start + per_page], (name, flt)
                        assert found.total == min(len(expected), limit), (name, flt)
                        assert found.total_is_lower_bound is (len(expected) > limit), (name, flt)
                        assert found.has_more is (len(expected) > page * per_page), (name, flt)
    # The API says so beside the old fields; the inbox page says "more than".
    many = client.get("/api/tasks?per_page=1", headers=auth(demo_tokens["manager1"])).json
    assert (many["total"], many["total_is_lower_bound"], many["has_more"]) == (2, True, True)
    last = client.get("/api/tasks?per_page=50", headers=auth(demo_tokens["manager1"])).json
    assert (last["total"], last["total_is_lower_bound"], last["has_more"]) == (
        len(last["items"]),
        False,
        False,
    )
    assert last["total"] > 2
    app.extensions["creditflow"].rt.settings = app.extensions["creditflow"].rt.settings.replace(
        "web", page_size=1
    )
    web = logged_in(app, "manager1")
    page = web.get("/inbox").get_data(as_text=True)
    assert "More than 2 open tasks" in page and "Page 1 · more than 2 in all" in page and "page=2" in page
