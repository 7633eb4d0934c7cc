"""The read side of the audit trail: every state change with its actor, time, object and before/after.

Two tables hold the changes: `audit_events` (instances, tasks, definitions, users, customers, limits,
contracts, receivables) and `dunning_events` (what happened to a dunning case, listed with the kind
`dunning_<kind>`). Both are read as one list, newest first, filtered in SQL and paged.

Before/after values: an event that records `before`/`after` in its detail shows them as they are; older
spellings are read into the same shape (`old`/`new` of a limit or a rating; the form data a task was
completed with; a created record's detail as its `after`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from workflows.credit.models import DunningCase, DunningEvent
from workflows.credit.roles import AUDITOR
from workflows.csv_export import to_csv
from workflows.messages import _
from workflows.store.models import AuditEvent
from workflows.store.paging import MAX_PER_PAGE
from workflows.store.shown_json import shown_json

# Who reads the audit trail and the segregation-of-duties report, besides admins (README.md).
AUDIT_READERS = frozenset({AUDITOR})

CASE_PREFIX = "dunning_"  # the kind of a dunning case's event in the list: dunning_level_reached, ...
AUDIT_SOURCE, CASE_SOURCE = "audit", "case"
MAX_EXPORT_ROWS = 50_000  # a CSV export holds at most this many rows: narrow the period for more

# object=KIND:VALUE. Kinds whose value is a record id, and the detail key that names the record.
ID_OBJECTS = {
    "customer": "customer_id",
    "supplier": "supplier_id",
    "contract": "contract_id",
    "change_request": "change_request_id",
    "instance": None,  # the instance_id column
    "task": None,  # the task_id column
    "case": None,  # a dunning case: its events, by case id
    "dispute": "dispute_id",  # a dispute: opened, proposed, credited or closed
}
NAME_OBJECTS = {"definition": "process_key", "user": "username"}
OBJECT_KINDS = (*ID_OBJECTS, *NAME_OBJECTS)

# Events whose `old`/`new` detail is the before/after of one field.
_OLD_NEW_FIELDS = {"credit_limit_changed": "credit_limit", "external_rating_changed": "external_rating"}
# Events that create a record: their detail is the record as created (there is no before).
_CREATIONS = ("_created", "_posted", "payment_received", "_requested", "api_token_issued")
_IDS = frozenset({*(k for k in ID_OBJECTS.values() if k), "instance_id", "task_id"})


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def period_bound(text: str, *, end: bool) -> datetime:
    """A period's end from YYYY-MM-DD (a whole day: its start, or its last instant when `end`) or an
    ISO 8601 time with its offset, in UTC.

    Raises: ValueError: anything else (a time without offset included: which zone it meant is unknown).
    """
    try:
        if _DAY.fullmatch(text):
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        if _TIME.fullmatch(text):
            return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):  # 2026-02-30 has the shape but is no day; year 1 at +01:00
        pass
    raise ValueError(
        _(
            "'%(text)s' is neither a day (YYYY-MM-DD) nor a time with offset (2026-03-02T09:00:00+00:00)",
            text=text[:40],
        )
    )


class ObjectRefError(ValueError):
    """An `object` filter that names no known kind of record."""


@dataclass(frozen=True)
class ObjectRef:
    """The record an event changed: `customer:12`, `instance:7`, `definition:credit_application`."""

    kind: str
    value: str

    @classmethod
    def parse(cls, text: str, max_id: int) -> ObjectRef:
        """Raises: ObjectRefError naming the kinds there are, or the id's range."""
        kind, sep, value = text.partition(":")
        if not sep or kind not in OBJECT_KINDS or not value:
            raise ObjectRefError(
                _("object must be KIND:VALUE with KIND one of %(kinds)s", kinds=", ".join(OBJECT_KINDS))
            )
        if kind in ID_OBJECTS and not (
            value.isascii() and value.isdigit() and 1 <= int(value[:20]) <= max_id
        ):
            raise ObjectRefError(
                _("object %(kind)s:ID needs a record id from 1 to %(max_id)s", kind=kind, max_id=max_id)
            )
        return cls(kind, value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class AuditFilter:
    """Which changes to list: a period (both ends inclusive), an actor, a kind (action), an object."""

    start: datetime | None = None
    end: datetime | None = None
    actor: str | None = None
    kind: str | None = None
    object: ObjectRef | None = None


@dataclass(frozen=True)
class Change:
    """One state change as the audit trail lists it."""

    id: str
    at: datetime
    actor: str
    kind: str
    object: str
    instance_id: int | None
    task_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: dict[str, Any]


def list_changes(
    session: Session, where: AuditFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Change], int]:
    """One page of changes, newest first, and how many match."""
    query = _changes_query(session, where)
    if query is None:
        return [], 0
    rows = query.subquery()
    total = session.scalar(select(func.count()).select_from(rows)) or 0
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page_query = (
        select(rows).order_by(rows.c.at.desc(), rows.c.source, rows.c.id.desc()).limit(per_page)
    ).offset((max(1, page) - 1) * per_page)
    return [_change(row._mapping) for row in session.execute(page_query)], total


def export_changes(
    session: Session, where: AuditFilter, *, limit: int = MAX_EXPORT_ROWS
) -> tuple[list[Change], bool]:
    """Every matching change, newest first, up to `limit` (the CSV export), and whether more match."""
    query = _changes_query(session, where)
    if query is None:
        return [], False
    rows = query.subquery()
    ordered = select(rows).order_by(rows.c.at.desc(), rows.c.source, rows.c.id.desc()).limit(limit + 1)
    found = [_change(row._mapping) for row in session.execute(ordered)]
    return found[:limit], len(found) > limit


def export_csv(session: Session, where: AuditFilter, header: Iterable[str] = ()) -> tuple[str, bool]:
    """The CSV (`header`: CSV_COLUMNS named for its reader, else the ids) and whether it was cut (noted)."""
    changes, cut = export_changes(session, where)
    note = (
        f"truncated: more than {MAX_EXPORT_ROWS:,} changes match; this file holds the newest "
        f"{MAX_EXPORT_ROWS:,}: narrow the period (from/to) for the rest"
    )
    return to_csv(list(header) or CSV_COLUMNS, [*change_rows(changes), *([[note]] if cut else [])]), cut


def _changes_query(session: Session, where: AuditFilter) -> Any:
    dialect = session.get_bind().dialect.name
    branches = [b for b in (_audit_branch(where, dialect), _case_branch(where)) if b is not None]
    if not branches:
        return None
    return branches[0] if len(branches) == 1 else union_all(*branches)


def _period(column: Any, where: AuditFilter) -> list[ColumnElement[bool]]:
    found = []
    if where.start is not None:
        found.append(column >= where.start)
    if where.end is not None:
        found.append(column <= where.end)
    return found


def _audit_branch(where: AuditFilter, dialect: str) -> Select[Any] | None:
    conditions = _period(AuditEvent.at, where)
    if where.actor:
        conditions.append(AuditEvent.actor == where.actor)
    if where.kind:
        conditions.append(AuditEvent.action == where.kind)
    ref = where.object
    if ref is not None:
        if ref.kind == "case":
            return None
        if ref.kind == "instance":
            conditions.append(AuditEvent.instance_id == int(ref.value))
        elif ref.kind == "task":
            conditions.append(AuditEvent.task_id == int(ref.value))
        elif ref.kind in ID_OBJECTS:
            conditions.append(_detail_is(str(ID_OBJECTS[ref.kind]), int(ref.value), dialect))
        else:
            conditions.append(_detail_is(NAME_OBJECTS[ref.kind], ref.value, dialect))
            if ref.kind == "definition":
                conditions.append(AuditEvent.action.like("definition\\_%", escape="\\"))
    return select(
        literal_column(f"'{AUDIT_SOURCE}'", String).label("source"),
        AuditEvent.id.label("id"),
        AuditEvent.at.label("at"),
        AuditEvent.actor.label("actor"),
        AuditEvent.action.label("kind"),
        AuditEvent.instance_id.label("instance_id"),
        AuditEvent.task_id.label("task_id"),
        cast(null(), Integer).label("case_id"),
        cast(null(), Integer).label("level"),
        AuditEvent.detail.label("detail"),
    ).where(and_(True, *conditions))


def _detail_is(key: str, value: int | str, dialect: str) -> ColumnElement[bool]:
    # PostgreSQL: compare the text (a cast would fail on any row whose value is no integer). SQLite's
    # json_extract gives the number itself, and raises on a row it cannot parse (hand edits): valid rows only.
    field = AuditEvent.detail[key]
    if dialect == "postgresql":
        found: ColumnElement[bool] = field.as_string() == str(value)
        return found
    extracted = field.as_integer() if isinstance(value, int) else field.as_string()
    return case((func.json_valid(AuditEvent.detail) == 1, extracted)) == value


def _case_branch(where: AuditFilter) -> Select[Any] | None:
    conditions = _period(DunningEvent.at, where)
    if where.actor:
        conditions.append(DunningEvent.actor == where.actor)
    if where.kind:
        if not where.kind.startswith(CASE_PREFIX):
            return None
        conditions.append(DunningEvent.kind == where.kind[len(CASE_PREFIX) :])
    ref = where.object
    if ref is not None:
        column = {"case": DunningEvent.case_id, "instance": DunningCase.instance_id}.get(ref.kind)
        if ref.kind == "customer":
            column = DunningCase.customer_id
        if column is None:
            return None
        conditions.append(column == int(ref.value))
    return (
        select(
            literal_column(f"'{CASE_SOURCE}'", String).label("source"),
            DunningEvent.id.label("id"),
            DunningEvent.at.label("at"),
            DunningEvent.actor.label("actor"),
            (literal_column(f"'{CASE_PREFIX}'", String) + DunningEvent.kind).label("kind"),
            DunningCase.instance_id.label("instance_id"),
            cast(null(), Integer).label("task_id"),
            DunningEvent.case_id.label("case_id"),
            DunningEvent.level.label("level"),
            DunningEvent.detail.label("detail"),
        )
        .join(DunningCase, DunningCase.id == DunningEvent.case_id)
        .where(and_(True, *conditions))
    )


def _change(row: RowMapping) -> Change:
    detail = row["detail"] if isinstance(row["detail"], dict) else {}
    kind = str(row["kind"])
    before, after = before_after(kind, detail, row["actor"], row["level"])
    return Change(
        id=f"{row['source']}:{row['id']}",
        at=row["at"],
        actor=row["actor"],
        kind=kind,
        object=object_of(kind, detail, row["instance_id"], row["task_id"], row["case_id"]),
        instance_id=row["instance_id"],
        task_id=row["task_id"],
        before=before,
        after=after,
        detail=detail,
    )


def object_of(
    kind: str, detail: Mapping[str, Any], instance_id: int | None, task_id: int | None, case_id: int | None
) -> str:
    """The record a change is about, as `KIND:VALUE` (what the `object` filter takes)."""
    if case_id is not None:
        return f"case:{case_id}"
    for name, key in ID_OBJECTS.items():
        if key and detail.get(key) is not None:
            return f"{name}:{detail[key]}"
    if kind.startswith("definition_") and detail.get("process_key"):
        return f"definition:{detail['process_key']}"
    if detail.get("username"):
        return f"user:{detail['username']}"
    if task_id is not None:
        return f"task:{task_id}"
    if instance_id is not None:
        return f"instance:{instance_id}"
    return ""


def before_after(
    kind: str, detail: Mapping[str, Any], actor: str, level: int | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The values a change replaced and the ones it set (None: not recorded, or nothing before).

    `level` is a dunning case's level after its event (dunning_events.level).
    """
    if "before" in detail or "after" in detail:
        return _mapping(detail.get("before")), _mapping(detail.get("after"))
    if kind.startswith(CASE_PREFIX):
        return _case_change(kind[len(CASE_PREFIX) :], detail, level)
    field = _OLD_NEW_FIELDS.get(kind)
    if field is not None:
        return {field: detail.get("old")}, {field: detail.get("new")}
    if kind == "task_completed":
        return {"status": "open"}, {"status": "completed", "data": detail.get("data")}
    if kind == "task_claimed":
        return {"assignee": None}, {"assignee": actor}
    if kind in ("definition_approved", "definition_rejected"):
        return {"status": "pending"}, {"status": "active" if kind == "definition_approved" else "rejected"}
    if kind.endswith(_CREATIONS) or kind == "definition_deployed":
        return None, {k: v for k, v in detail.items() if k not in _IDS}
    # No before/after, as nothing changed: message_unmatched (a message no instance waited for),
    # message_received, timers_checked and service_called (what the step changed has rows of its own).
    return None, None


def _case_change(
    kind: str, detail: Mapping[str, Any], level: int | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    # What a dunning case's event set, from the event's kind and the level it records.
    if kind == "opened":
        return None, {"status": "open", "level": level}
    if kind == "level_reached":
        return None, {"level": level}
    if kind == "customer_blocked":
        return {"blocked": False}, {"blocked": True}
    if kind == "closed":
        return None, {"status": "closed", "outcome": detail.get("outcome")}
    # notice_undeliverable changes nothing (no notice went out); newer events record their before/after.
    return None, None


def _mapping(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None if value is None else {"value": value}


def change_json(change: Change) -> dict[str, Any]:
    """A change as GET /api/audit lists it (JSON shown_json'd: an older row may hold a lone surrogate)."""
    return {
        "id": change.id,
        "at": change.at.isoformat(),
        "actor": change.actor,
        "kind": change.kind,
        "object": shown_json(change.object),  # names a record from the detail: its surrogates too
        "instance_id": change.instance_id,
        "task_id": change.task_id,
        "before": shown_json(change.before),
        "after": shown_json(change.after),
        "detail": shown_json(change.detail),
    }


CSV_COLUMNS = ("id", "at", "actor", "kind", "object", "instance_id", "task_id", "before", "after", "detail")


def change_rows(changes: Iterable[Change]) -> Iterable[list[Any]]:
    """The CSV export's rows (values; workflows/csv_export.py makes them safe cells)."""
    return ([getattr(change, column) for column in CSV_COLUMNS] for change in changes)
