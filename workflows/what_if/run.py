"""Run a what-if: the edited tables of an upload replayed over a period of the decision log.

Reads only. The caller gives a session it rolls back (the API and the CLI do): even a policy cell that
called something would leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from workflows.errors import BadRequest
from workflows.messages import _
from workflows.store.jsonable import to_jsonable
from workflows.what_if.jobs import replay_jobs
from workflows.what_if.replay import Change, count_rows, replay_table
from workflows.what_if.summaries import kind_of, summary

MAX_DAYS = 366


def check_period(start: datetime, end: datetime) -> None:
    """Raises BadRequest: `from` after `to`, or a period over MAX_DAYS days."""
    if start > end:
        raise BadRequest(_("'from' must not be after 'to'"))
    if end - start > timedelta(days=MAX_DAYS):
        raise BadRequest(_("a what-if replays at most %(days)s days; shorten the period", days=MAX_DAYS))


def what_if(
    session: Session,
    key: str,
    files: Mapping[str, bytes],
    start: datetime,
    end: datetime,
    *,
    base: str | None = None,
    page: int = 1,
    per_page: int = 50,
    progress: Callable[[int, int], None] = lambda done, total: None,
    version: int | None = None,
) -> dict[str, Any]:
    """{summary, changes: {items, total, page, per_page}} for the edited tables in `files`.

    `files`: edited .dmn files, and at most one edited .bpmn that changes which decisions its business
    rule tasks call and nothing else that runs (the task's logged rows are replayed with the new table).
    `version`: the version the edited diagram is compared with (the edit page's; default: the newest active).
    `base`: the base currency (settings' credit.base_currency), for the provision matrix's allowance
    (without it the allowance is not computed).

    Raises:
        InvalidBundle: a file is not DMN or BPMN, or fails the deploy's DMN checks.
        Invalid: the edited diagram changes how the process runs, or calls a decision no table defines.
        BadRequest: a bad period, more than one diagram.
        NotFound: `key` has no active version.
    """
    check_period(start, end)
    jobs, repointed = replay_jobs(session, key, files, version)
    totals = [count_rows(session, key, rows, start, end) for _t, rows in jobs]
    done = 0
    progress(0, sum(totals))

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, sum(totals))

    tables_summary = []
    changes: list[Change] = []
    for table, rows in jobs:
        authority = kind_of(table.decision_id) == "authority"
        replay = replay_table(session, key, table, start, end, advance, keep_recorded=authority, rows=rows)
        tables_summary.append({**summary(session, key, replay, start, end, base), "bpmn_id": rows.bpmn_id})
        changes += replay.changes
    rows = sum(t["rows"] for t in tables_summary)
    first = (page - 1) * per_page
    return {
        "summary": {
            "definition_key": key,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "rows": rows,
            "changed": len(changes),
            "note": None
            if rows
            else _(
                "no decision of these files was logged for %(key)s in this period: nothing to replay", key=key
            ),
            "tables": tables_summary,
            "repointed": [
                {"bpmn_id": r.bpmn_id, "from": r.old_decision, "to": r.new_decision} for r in repointed
            ],
        },
        "changes": {
            "items": [change_json(c) for c in changes[first : first + per_page]],
            "total": len(changes),
            "page": page,
            "per_page": per_page,
        },
    }


def change_json(change: Change) -> dict[str, Any]:
    return {
        "log_id": change.log_id,
        "instance_id": change.instance_id,
        "decision_id": change.decision_id,
        "at": change.at.isoformat(),
        "inputs": change.inputs,
        "recorded": change.recorded,
        "replayed": to_jsonable(change.replayed),
    }
