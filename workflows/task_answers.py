"""A task as the REST API shows it: task_json for a loaded InboxItem, rows_json for the inbox page's plain
rows (workflows.inbox.list_inbox_json), the same answer either way.

A JSON column no decoder reads (shown_json.Unreadable: a hand edit) keeps the answer's shape: groups and
four-eyes steps as [], the form without fields, the case data as {}; its stored text is said under
"unreadable" by the answer's name for it. Refusals read the same values (Actor.in_any, task_rights), so no
one but an admin works such a task and no one passes an unreadable four-eyes rule."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import orjson

from workflows.definitions.forms import form_fields
from workflows.store.models import InboxItem, TaskStatus
from workflows.store.shown_json import (
    Unreadable,
    read_json,
    readable_or,
    shown_context,
    shown_from_text,
    unreadable_said,
)

# The inbox_items columns task_json reads, then those stored as JSON: _row_json unpacks them in this order.
PLAIN_COLUMNS = (
    "id", "instance_id", "process_key", "bpmn_id", "title", "subject", "assignee", "status", "created_at",
    "due_at", "completed_by", "completed_at", "instructions",
)  # fmt: skip
JSON_COLUMNS = ("candidate_groups", "form_schema", "four_eyes", "context")
# orjson reads an integer beyond 64 bits as a float; a run of 19 digits may be one, so json reads that text.
_LONG_DIGITS = re.compile(r"\d{19}")


class _UnreadableColumn(Exception):
    """A column of the page no decoder reads: the page is answered again by task_json, row by row."""


def loads(text: str | None) -> Any:
    """A JSON column's value, as the column type's json.loads gives it (orjson: 5-10 times faster).

    Raises:
        _UnreadableColumn: no decoder reads it (only after orjson failed: no cost on the fast path).
    """
    if text is None:
        return None
    if _LONG_DIGITS.search(text) is None:
        try:
            return shown_from_text(text, orjson.loads(text))
        except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps writes and json.loads reads
            pass
    value = read_json(text)
    if isinstance(value, Unreadable):
        raise _UnreadableColumn
    return shown_from_text(text, value)  # lone surrogates and 100+ levels shown repaired


@functools.lru_cache(maxsize=256)
def _form_json(schema_text: str | None) -> dict[str, Any]:
    """A task's "form", by its schema's stored text: tasks of one user task share it. The answer is only
    serialized, never changed, so one dict serves every task (at most 256 forms are kept)."""
    schema = loads(schema_text)
    return {"fields": form_fields(schema), "schema": schema}


def rows_json(rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """task_json of each row of list_inbox_json's columns. A page with a column no decoder reads (a hand
    edit) is answered by task_json from the rows decoded by read_json: the same answer, Unreadable said."""
    try:
        return [_row_json(row, now) for row in rows]
    except _UnreadableColumn:
        return [task_json(_decoded(row), now) for row in rows]


def _decoded(row: Any) -> InboxItem:
    """A row of list_inbox_json's columns as the attributes task_json reads, its JSON columns decoded as the
    ORM decodes them (read_json, which the engines use: workflows.store.db)."""
    plain = dict(zip(PLAIN_COLUMNS, row[: len(PLAIN_COLUMNS)], strict=True))
    texts = row[len(PLAIN_COLUMNS) :]
    stored = {
        name: None if text is None else read_json(text)
        for name, text in zip(JSON_COLUMNS, texts, strict=True)
    }
    return cast(InboxItem, SimpleNamespace(**plain, **stored))


def _row_json(row: Any, now: datetime) -> dict[str, Any]:
    """task_json of a row of list_inbox_json's columns (the same answer). Unpacked by position: a third of
    the cost of reading 17 attributes of a Row by name."""
    (task_id, instance_id, process_key, bpmn_id, title, subject, assignee, status, created_at, due_at,
     completed_by, completed_at, instructions, groups_text, schema_text, eyes, data) = row  # fmt: skip
    groups = loads(groups_text)
    return {
        "id": task_id,
        "instance_id": instance_id,
        "process_key": process_key,
        "name": bpmn_id,
        "title": title,
        "subject": subject,
        "group": groups[0] if groups else None,
        "groups": groups,
        "assignee": assignee,
        "status": status,
        "created_at": created_at.isoformat(),
        "due_at": due_at.isoformat() if due_at else None,
        "overdue": bool(due_at and status == TaskStatus.OPEN and due_at < now),
        "completed_by": completed_by,
        "completed_at": completed_at.isoformat() if completed_at else None,
        "form": _form_json(schema_text),
        "context": {"instructions": instructions, "four_eyes": loads(eyes), "data": loads(data)},
    }


def task_json(item: InboxItem, now: datetime) -> dict[str, Any]:
    """A task as the REST API shows it."""
    stored = {
        "groups": item.candidate_groups,
        "form.schema": item.form_schema,
        "context.four_eyes": item.four_eyes,
        "context.data": item.context,
    }
    groups, schema = readable_or(item.candidate_groups, []), readable_or(item.form_schema, {})
    eyes = item.four_eyes
    answer = {
        "id": item.id,
        "instance_id": item.instance_id,
        "process_key": item.process_key,
        "name": item.bpmn_id,
        "title": item.title,
        "subject": item.subject,
        "group": groups[0] if groups else None,
        "groups": groups,
        "assignee": item.assignee,
        "status": item.status,
        "created_at": item.created_at.isoformat(),
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "overdue": bool(item.due_at and item.status == TaskStatus.OPEN and item.due_at < now),
        "completed_by": item.completed_by,
        "completed_at": item.completed_at.isoformat() if item.completed_at else None,
        "form": {"fields": form_fields(schema), "schema": schema},
        "context": shown_context(item.instructions, readable_or(eyes, []), readable_or(item.context, {})),
    }
    said = unreadable_said(stored)
    if said:
        answer["unreadable"] = said
    return answer
