"""Replay one edited decision table over the decision log: the same engine, the recorded inputs.

A log row keeps the values of the table's input expressions (`recommendation["limit_in_base"]`: 150000),
not the task data they were read from. The replay rebuilds the smallest data for which each expression
gives its recorded value (`{"recommendation": {"limit_in_base": Decimal("150000")}}`) and lets
SpiffWorkflow's DMNEngine evaluate the edited table on it, as the business rule task would have. Identical
inputs are evaluated once (policy tables see few distinct input tuples; 100,000 rows are a few hundred).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from workflows.engine.decisions import DecisionError, decision_engine, evaluate_decision
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.jsonable import to_jsonable
from workflows.what_if.tables import EditedTable

NUMBER_TYPES = frozenset({"number", "double", "long", "decimal"})
BATCH = 2000


@dataclass(frozen=True)
class Change:
    """A logged decision the edited table would have taken differently."""

    log_id: int
    instance_id: int | None
    decision_id: str
    at: datetime
    inputs: dict[str, Any]
    recorded: dict[str, Any]
    replayed: dict[str, Any]


@dataclass
class Replay:
    table: EditedTable
    outputs: list[str] = field(default_factory=list)  # the table's output names, in column order
    rows: int = 0
    evaluations: int = 0  # distinct input tuples evaluated by the engine
    changes: list[Change] = field(default_factory=list)
    recorded: dict[int, dict[str, Any]] = field(default_factory=dict)  # instance -> outputs, when asked
    failed: int = 0  # rows the edited table fails on (an input it reads was not recorded, a cell raises)
    failure: str | None = None  # the first failure, in the engine's words
    # instance -> its last row of the period (rows come in time order): the evaluation its case acted on
    # last, e.g. the limit policy after a re-score rather than before it
    last: dict[int, int] = field(default_factory=dict)


class NotReplayable(ValueError):
    """An input expression the replay cannot rebuild data for (only names, ["key"] and .get("key"))."""


@dataclass(frozen=True)
class LoggedAs:
    """Which log rows a table replays: its own decision's, or those of another decision a business rule
    task called before an edited diagram points it at this table (`bpmn_id` set)."""

    decision_id: str
    bpmn_id: str | None = None


def count_rows(session: Session, key: str, rows: LoggedAs, start: datetime, end: datetime) -> int:
    query = _rows_query(key, rows, start, end).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def replay_table(
    session: Session,
    key: str,
    table: EditedTable,
    start: datetime,
    end: datetime,
    progress: Callable[[int], None] = lambda n: None,
    keep_recorded: bool = False,
    rows: LoggedAs | None = None,
) -> Replay:
    """Evaluate `table` for every row the log holds for its decision (or `rows`), process `key`, in
    [start, end]."""
    engine, _probe = decision_engine(table.text, table.decision_id)
    result = Replay(table, [str(o.name) for o in engine.decision_table.outputs])
    columns = [
        (c.expression or c.label or c.id, c.expression, (c.typeRef or "").lower())
        for c in engine.decision_table.inputs
    ]
    memo: dict[str, dict[str, Any] | None] = {}  # inputs' text -> the edited table's outputs
    decoded: dict[str, Any] = {}  # a JSON text -> its value
    for batch in _batches(session, key, rows or LoggedAs(table.decision_id), start, end):
        for log_id, instance_id, inputs_text, outputs_text, at in batch:
            result.rows += 1
            if instance_id is not None:
                result.last[instance_id] = log_id
            if inputs_text not in memo:
                memo[inputs_text] = _evaluate(table, columns, _decode(decoded, inputs_text), result)
            replayed = memo[inputs_text]
            if replayed is None:
                result.failed += 1
                continue
            outputs = _decode(decoded, outputs_text)
            if replayed != outputs:
                inputs = _decode(decoded, inputs_text)
                result.changes.append(
                    Change(log_id, instance_id, table.decision_id, at, inputs, outputs, replayed)
                )
            if keep_recorded and instance_id is not None:
                result.recorded[instance_id] = outputs
        progress(len(batch))
    result.evaluations = len(memo)
    return result


def _decode(decoded: dict[str, Any], text: str) -> Any:
    if text not in decoded:
        decoded[text] = json.loads(text)
    return decoded[text]


def _rows_query(key: str, rows: LoggedAs, start: datetime, end: datetime) -> Any:
    # The JSON columns as their text: equal inputs are equal texts (the engine writes them in the table's
    # column order), so only a distinct text is decoded; decoding 100,000 rows was most of a replay's time.
    log = DecisionLogEntry
    inputs, outputs = cast(log.inputs, Text), cast(log.outputs, Text)
    query = select(log.id, log.instance_id, inputs, outputs, log.at).where(
        log.decision_id == rows.decision_id, log.at >= start, log.at <= end, log.process_key == key
    )
    return query if rows.bpmn_id is None else query.where(log.bpmn_id == rows.bpmn_id)


def _batches(
    session: Session, key: str, rows: LoggedAs, start: datetime, end: datetime
) -> Iterator[Sequence[Any]]:
    # One query in the index's order (decision_id, at), read in partitions: a server-side cursor on
    # PostgreSQL, SQLite's own stepping. Keyset pages by id sorted the period's rows again for each page.
    query = _rows_query(key, rows, start, end).order_by(DecisionLogEntry.at, DecisionLogEntry.id)
    result = session.execute(query.execution_options(yield_per=BATCH))
    yield from result.partitions()


def _evaluate(
    table: EditedTable, columns: list[tuple[str, str, str]], inputs: dict[str, Any], result: Replay
) -> dict[str, Any] | None:
    try:
        data = rebuild_data(columns, inputs)
        return dict(to_jsonable(evaluate_decision(table.text, table.decision_id, data)))
    except (NotReplayable, DecisionError) as exc:
        result.failure = result.failure or str(exc)
        return None


def rebuild_data(columns: list[tuple[str, str, str]], inputs: dict[str, Any]) -> dict[str, Any]:
    """Task data in which each input expression gives its recorded value (typed back from JSON)."""
    data: dict[str, Any] = {}
    for key, expression, type_ref in columns:
        if key not in inputs:
            continue  # not evaluable when recorded: a rule reading it fails now as it would have then
        path = _path(expression or key)
        target = data
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise NotReplayable(f"input {expression!r} conflicts with another input")
        target[path[-1]] = _typed(inputs[key], type_ref)
    return data


def _path(expression: str) -> list[str]:
    try:
        node = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError as exc:
        raise NotReplayable(f"input {expression!r} is not an expression") from exc
    path: list[str] = []
    while True:
        if isinstance(node, ast.Name):
            return [node.id, *reversed(path)]
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            path.append(node.slice.value)
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            path.append(node.args[0].value)
            node = node.func.value
        else:
            raise NotReplayable(
                f'input {expression!r} is computed; the replay rebuilds names and ["key"] only'
            )


def _typed(value: Any, type_ref: str) -> Any:
    """A recorded value as the engine saw it: the log keeps Decimal and dates as strings."""
    if not isinstance(value, str):
        return value
    try:
        if type_ref in NUMBER_TYPES:
            return Decimal(value)
        if type_ref == "integer":
            return int(value)
        if type_ref == "date":
            return date.fromisoformat(value)
        if type_ref in ("datetime", "date and time"):
            return datetime.fromisoformat(value)
    except (InvalidOperation, ValueError):
        return value
    return value
