"""Read side of human work: who may see a task, and the paged, filtered inbox query."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from workflows.errors import Forbidden, NotFound
from workflows.group_names import group_names
from workflows.messages import _
from workflows.readers import reads_everything
from workflows.store.models import InboxItem, TaskCandidate, TaskStatus
from workflows.store.paging import MAX_PER_PAGE, Page
from workflows.store.text_search import ESCAPE, like_pattern
from workflows.task_answers import JSON_COLUMNS, PLAIN_COLUMNS, rows_json
from workflows.task_answers import task_json as task_json  # its importers' name for it (webui, cli)
from workflows.users import Actor


@dataclass(frozen=True)
class InboxFilter:
    process_key: str | None = None
    group: str | None = None
    overdue: bool = False
    text: str | None = None
    mine_only: bool = False
    sort: str = "due"  # due | created | -created
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class _Shape:
    """Which parts an inbox query has; its values are bound at execution, so each shape is built once."""

    admin: bool
    groups: int  # how many candidate groups the query reads (bound as group_0, group_1, ...)
    wide: bool  # more groups than branches: one read of all of them (bound as the list `groups`)
    process_key: bool
    group: bool
    overdue: bool
    mine_only: bool
    text: bool
    sort: str
    # The text has a non-ASCII letter (a Chinese name): the task's translated texts are searched too.
    translated: bool = False


# The sort key of each order: a column of both inbox_items and task_candidates (the candidate rows carry
# their task's keys), and whether it runs backwards. Ties go by task id, the same way.
_SORTS = {"due": ("due_sort", False), "created": ("created_at", False), "-created": ("created_at", True)}
# At most this many groups are read one branch each: SQLite refuses a compound SELECT of more than 500
# terms, so a caller in more groups reads them all in one branch (their rows deduplicated before its limit).
MAX_GROUP_BRANCHES = 64
# The total stops counting past this many tasks (or past the page's end, if that is further): counting every
# visible task cost what the caller sees (47 ms for every group at 100,000 open tasks on SQLite, 44 ms on
# PostgreSQL), while a page costs what it shows. Past it the total is a lower bound and says so
# (Page.total_is_lower_bound: "more than 1,000 open tasks").
COUNT_LIMIT = 1000
_INT4 = 2**31 - 1


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """The filters on the task row ("mine only" decides the branches)."""
    conditions: list[ColumnElement[bool]] = [InboxItem.status == TaskStatus.OPEN]
    if shape.process_key:
        conditions.append(InboxItem.process_key == bindparam("process_key"))
    if shape.group:  # offered to that group; it may be visible through another of the caller's groups
        probe = aliased(TaskCandidate)  # not the candidate row a branch reads
        conditions.append(
            exists().where(probe.task_id == InboxItem.id, probe.group_name == bindparam("group"))
        )
    if shape.overdue:
        conditions.append(InboxItem.due_at < bindparam("now"))
    if shape.text:
        like: BindParameter[str] = bindparam("like")
        matches = [func.lower(InboxItem.title).like(like), func.lower(InboxItem.subject).like(like)]
        if shape.translated:
            # The Chinese task name (name_zh) and subject (subject_zh, which names the customer as the
            # diagram writes it) are kept in `translations`, JSON text with non-ASCII letters escaped
            # (\uXXXX): it is searched for the text spelled that way. Only for a non-ASCII text, so a Latin
            # search cannot match the JSON's keys ("subject", "title").
            translations = func.lower(cast(InboxItem.translations, String))
            matches.append(translations.like(bindparam("translated", type_=String), escape=ESCAPE))
        conditions.append(or_(*matches))
    return conditions


def _branches(shape: _Shape, *, ordered: bool) -> list[Select[Any]]:
    """(id, key) of the visible tasks as a union of small index reads: the open tasks offered to each of the
    caller's groups, read from that group's range of the candidate index, and those assigned to the caller.

    Visibility is the same as an open task offered to one of the caller's groups or assigned to them; but
    reading from the caller's groups costs what the caller sees, not what everyone has open. `ordered`:
    each branch is read in the page's order and stops at `reach` (the page's end), so a page reads at most
    reach rows per branch.
    """
    column, backwards = _SORTS[shape.sort]
    conditions = _conditions(shape)

    def in_order(query: Select[Any], key: Any, task_id: Any) -> Select[Any]:
        if not ordered:
            return query
        keys = (key.desc(), task_id.desc()) if backwards else (key, task_id)
        return query.order_by(*keys).limit(bindparam("reach"))

    branches = []
    if not shape.mine_only:
        key = getattr(TaskCandidate, column)
        reads: list[ColumnElement[bool]] = [
            TaskCandidate.group_name == bindparam(f"group_{n}") for n in range(shape.groups)
        ]
        if shape.wide:
            reads = [TaskCandidate.group_name.in_(bindparam("groups", expanding=True))]
        for read in reads:
            # A task's rows carry the same keys, so DISTINCT keeps a task offered to several of the
            # caller's groups once before the branch's limit (it matters only for the wide read).
            offered = select(TaskCandidate.task_id.label("id"), key.label("k")).where(read)
            if shape.wide:
                offered = offered.distinct()
            # The candidate index holds only open tasks (the step that closes a task drops its rows), so an
            # unfiltered read needs no task row: the page's few rows are checked for status when loaded.
            # (Joining every row made PostgreSQL plan a parallel scan for an estimated 9 % of open rows:
            # 34 ms for the analyst's first page at 100,000 open tasks instead of under 1 ms.)
            if len(conditions) > 1:
                offered = offered.join(InboxItem, InboxItem.id == TaskCandidate.task_id).where(*conditions)
            branches.append(in_order(offered, key, TaskCandidate.task_id))
    key = getattr(InboxItem, column)
    assigned = select(InboxItem.id.label("id"), key.label("k")).where(
        InboxItem.assignee == bindparam("username"), *conditions
    )
    branches.append(in_order(assigned, key, InboxItem.id))
    return branches


def _plain_count() -> Select[Any]:
    """How many open tasks the caller sees, unfiltered, counted up to `cap`, without collecting their ids
    (a UNION of every visible id costs what the caller sees: 100,000 for someone in every group).

    Three disjoint parts, each counted up to `cap` (the last two only while the first is below it): rows
    of a task offered to one group (each is one task), read from the candidate index alone; rows of a task
    offered to several groups (`shared`), which may meet twice among the caller's groups, deduplicated;
    and the tasks assigned to the caller that none of their groups is offered. Their sum is exact below
    `cap` and a lower bound from there on.
    """
    groups: BindParameter[list[str]] = bindparam("groups", expanding=True)
    cap: BindParameter[int] = bindparam("cap")
    mine = TaskCandidate.group_name.in_(groups)
    single = select(TaskCandidate.task_id).where(mine, TaskCandidate.shared.is_(False)).limit(cap)
    shared = select(TaskCandidate.task_id).where(mine, TaskCandidate.shared.is_(True)).distinct().limit(cap)
    other = aliased(TaskCandidate)
    assigned = (
        select(InboxItem.id)
        .where(
            InboxItem.assignee == bindparam("username"),
            InboxItem.status == TaskStatus.OPEN,
            ~exists().where(other.task_id == InboxItem.id, other.group_name.in_(groups)),
        )
        .limit(cap)
    )
    single_n, shared_n, assigned_n = (
        select(func.count()).select_from(part.subquery()).scalar_subquery()
        for part in (single, shared, assigned)
    )
    # The other two only when the first has not reached the cap: PostgreSQL deduplicates the shared rows
    # with a hash of all of them before any limit (17 ms for every group at 100,000 open tasks).
    return select(case((single_n >= cap, single_n), else_=single_n + shared_n + assigned_n))


@functools.cache
def _inbox_statements(shape: _Shape) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """(count, page, page's columns for the API) statements for one shape; building SQLAlchemy statements
    costs more than running them."""
    column, backwards = _SORTS[shape.sort]
    key = getattr(InboxItem, column)
    order = (key.desc(), InboxItem.id.desc()) if backwards else (key, InboxItem.id)
    if shape.admin:
        query = select(InboxItem.id).where(*_conditions(shape))
        if shape.mine_only:
            query = query.where(InboxItem.assignee == bindparam("username"))
        count = select(func.count()).select_from(query.limit(bindparam("cap")).subquery())
        # Sort and page only ids, then load the page's rows: sorting whole rows (JSON forms and context
        # included) of every visible task costs more than the query itself.
        page_ids = (
            query.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset")).correlate(None)
        )
    else:
        # A task offered to two of the caller's groups, or also assigned to them, comes from several
        # branches with the same (id, key): UNION keeps it once.
        visible = union(*(b.subquery().select() for b in _branches(shape, ordered=True))).subquery()
        if shape.process_key or shape.group or shape.overdue or shape.mine_only or shape.text:
            visible_ids = union(*_branches(shape, ordered=False)).limit(bindparam("cap"))
            count = select(func.count()).select_from(visible_ids.subquery())
        else:
            count = _plain_count()
        page_ids = (
            select(visible.c.id)
            .order_by(
                *((visible.c.k.desc(), visible.c.id.desc()) if backwards else (visible.c.k, visible.c.id))
            )
            .limit(bindparam("limit"))
            .offset(bindparam("offset"))
        )
    # The status again: a page read from the candidate index alone never shows a closed task.
    shown = (InboxItem.id.in_(page_ids), InboxItem.status == TaskStatus.OPEN)
    rows = select(InboxItem).where(*shown).order_by(*order)
    # The API's page: the columns task_json reads, JSON columns as their text (decoded by task_answers.loads).
    plain = [InboxItem.__table__.c[name] for name in PLAIN_COLUMNS]
    texts = [cast(InboxItem.__table__.c[name], Text).label(name) for name in JSON_COLUMNS]
    return count, rows, select(*plain, *texts).where(*shown).order_by(*order)


def _query(actor: Actor, flt: InboxFilter) -> tuple[_Shape, dict[str, Any], int]:
    """The shape of the actor's inbox query, its bound values and where its count stops."""
    sort = flt.sort if flt.sort in _SORTS else "due"
    groups = sorted(actor.groups)
    wide = not actor.is_admin and len(groups) > MAX_GROUP_BRANCHES
    shape = _Shape(
        actor.is_admin,
        0 if actor.is_admin or wide else len(groups),
        wide,
        bool(flt.process_key),
        bool(flt.group),
        flt.overdue,
        flt.mine_only,
        bool(flt.text),
        sort,
        bool(flt.text) and not (flt.text or "").isascii(),
    )
    per_page = max(1, min(flt.per_page, MAX_PER_PAGE))
    page = max(1, flt.page)
    params: dict[str, Any] = {
        "username": actor.username,
        "process_key": flt.process_key,
        "group": flt.group,
        "like": f"%{(flt.text or '').lower()}%",
        "translated": like_pattern(json.dumps(flt.text or "")[1:-1]),  # as json.dumps wrote `translations`
        "limit": per_page,
        "offset": min((page - 1) * per_page, _INT4),  # bound as PostgreSQL integers: a page
        "reach": min(page * per_page, _INT4),  # past 2**31 rows is past the end anyway
    }
    # Counting stops one task past the limit: that one tells "more than the limit" from "exactly".
    limit = min(max(COUNT_LIMIT, page * per_page), _INT4 - 1)
    params["cap"] = limit + 1
    params["groups"] = groups
    params.update((f"group_{n}", name) for n, name in enumerate(groups))
    return shape, params, limit


def list_inbox(session: Session, actor: Actor, flt: InboxFilter, now: datetime) -> Page[InboxItem]:
    """One page of the actor's open tasks, filtered and sorted, with the total count: exact up to
    COUNT_LIMIT tasks (or the page's end, if further), past it a lower bound (Page.total_is_lower_bound)."""
    shape, params, limit = _query(actor, flt)
    count, page_query, _columns = _inbox_statements(shape)
    params["now"] = now
    counted = session.scalar(count, params) or 0
    rows = session.scalars(page_query, params).all()
    per_page = params["limit"]
    return Page(
        list(rows), min(counted, limit), max(1, flt.page), per_page, total_is_lower_bound=counted > limit
    )


def list_inbox_json(session: Session, actor: Actor, flt: InboxFilter, now: datetime) -> Page[dict[str, Any]]:
    """list_inbox's page as the REST API shows it (task_json's answer for each task), read as plain rows:
    no ORM objects, JSON columns decoded with orjson, a form's fields worked out once per form. Python per
    row, not SQL, was most of GET /api/tasks at 100,000 open tasks (the SQL of a page is about 1 ms)."""
    shape, params, limit = _query(actor, flt)
    count, _page_query, columns = _inbox_statements(shape)
    params["now"] = now
    counted = session.connection().execute(count, params).scalar() or 0  # Core: cheaper than the ORM's path
    rows = session.connection().execute(columns, params).all()
    items = rows_json(rows, now)
    return Page(
        items, min(counted, limit), max(1, flt.page), params["limit"], total_is_lower_bound=counted > limit
    )


def get_task_for(session: Session, actor: Actor, task_id: int) -> InboxItem:
    """A task the actor may see: a candidate, the assignee or the completer (auditors and admins see all).

    Raises:
        NotFound, Forbidden.
    """
    item = session.get(InboxItem, task_id)
    if item is None:
        raise NotFound(_("task %(task_id)s does not exist", task_id=task_id))
    involved = actor.in_any(item.candidate_groups) or actor.username in (item.assignee, item.completed_by)
    if not involved and not reads_everything(actor):
        raise Forbidden(
            _(
                "task %(task_id)s belongs to %(candidate_groups)s; %(user)s is not a member",
                task_id=task_id,
                candidate_groups=group_names(item.candidate_groups),
                user=actor.username,
            )
        )
    return item
