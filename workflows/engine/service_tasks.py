"""Service tasks: what a handler knows (TaskContext), an Operation, and building its typed request.

The table of operations is built by handlers/registry.py and handed to the Runtime by each entry point.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from workflows.errors import InputError
from workflows.messages import Text, _
from workflows.money import MAX_AMOUNT
from workflows.settings import Settings


@dataclass(frozen=True)
class Approval:
    """A person's approval of this instance, checked against an authority matrix: the user who completed
    a user task of `group` with decision approve."""

    user: str
    group: str
    bpmn_id: str
    task_id: int
    at: datetime


@dataclass(frozen=True)
class TaskContext:
    """What a handler may know about the step it runs in; `session` is the step's own transaction."""

    session: Session
    now: datetime
    instance_id: int
    process_key: str
    business_key: str | None
    bpmn_id: str
    task_key: str  # stable id of this task execution, for idempotency keys
    started_by: str
    settings: Settings
    actor: str = ""  # whose action runs this step: who completed the task or sent the message, or "system"
    # For an operation that moves money: the approvals its rule found (the people to name in the record).
    approvals: tuple[Approval, ...] = ()
    # Reads a later handler of the same step may reuse (the step's one dict), and this handler's number in
    # the step (1, 2, ...), so a reuse can tell whether another handler ran in between
    # (handlers/dunning_overdue.py: one read of a case's overdue invoices per dunning step, issue 19).
    reads: dict[Any, Any] = field(default_factory=dict)
    call: int = 0


class HandlerInputError(InputError):
    """The diagram passed parameters that do not fit the handler's request type."""


class MissingApprovals(InputError):
    """A money-moving operation lacks the approvals its authority matrix asks for: nothing is written."""


# (context, request) -> the approvals that allow this money move; raises MissingApprovals otherwise.
ApprovalRule = Callable[[TaskContext, Any], Sequence[Approval]]


@dataclass(frozen=True)
class Operation:
    """A service operation as diagrams name it, the handler that runs it, and the handler's request type.

    An operation that moves money (limits, contract versions, write-offs, credits) names the rule that finds
    its approvals; `call` runs the rule before the handler, so no diagram reaches the handler without them,
    and deploying a diagram that calls one waits for a second process owner.
    """

    name: str
    func: Callable[[TaskContext, Any], Any]
    request_type: type
    moves_money: bool = False
    approvals: ApprovalRule | None = None
    # False for a handler that only reads: the step runs it without a savepoint on SQLite, since a failing
    # one leaves nothing to undo (tests/engine/test_read_only_operations.py checks each writes nothing).
    writes: bool = True
    # True for a handler whose one write is its last statement (notify.email: queue_email's INSERT, after
    # every read and render that may fail). On SQLite a failed statement undoes itself, so such a handler
    # has nothing to undo either and runs without a savepoint there (SAVEPOINT, RELEASE and the ORM's
    # nested transaction were ~4 % of the server's CPU in rest.py's approval, profiled). PostgreSQL keeps it.
    writes_once: bool = False

    def __post_init__(self) -> None:
        if self.moves_money and not self.writes:
            raise ValueError(f"operation {self.name}: an operation that moves money writes")
        if self.moves_money != (self.approvals is not None):
            raise ValueError(
                f"operation {self.name}: an operation that moves money needs an approval rule, and only such "
                "an operation has one"
            )

    def call(self, ctx: TaskContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """Convert parameters to the request dataclass, check the approvals of a money move, run the
        handler, return its result as a dict.

        Raises:
            HandlerInputError: bad parameters.  MissingApprovals: a money move without its approvals.
        """
        request = build_request(self.request_type, params, self.name)
        if self.approvals is not None:
            ctx = dataclasses.replace(ctx, approvals=tuple(self.approvals(ctx, request)))
        result = self.func(ctx, request)
        if result is None:
            return {}
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            return dataclasses.asdict(result)
        if isinstance(result, dict):
            return result
        raise TypeError(f"handler {self.name} returned {type(result).__name__}, not a dataclass or dict")


def build_request(request_type: type, params: Mapping[str, Any], operation: str) -> Any:
    """Build a request dataclass from diagram parameters, coercing Decimal/date/int fields.

    Raises:
        HandlerInputError: a required field is missing, unknown, or has the wrong type.
    """
    hints, known = _request_shape(request_type)
    unknown = set(params) - set(known)
    if unknown:
        raise HandlerInputError(
            _(
                "%(operation)s: unknown parameter(s) %(unknown)s; expected %(known)s",
                operation=operation,
                unknown=sorted(unknown),
                known=sorted(known),
            )
        )
    kwargs = {}
    for name, f in known.items():
        if name not in params:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise HandlerInputError(
                    _("%(operation)s: parameter '%(name)s' is required", operation=operation, name=name)
                )
            continue
        kwargs[name] = _coerce(params[name], hints[name], field_words(name))
    return request_type(**kwargs)


def field_words(name: str) -> Text:
    """A request field as a reader names it: its words ("requested_amount" -> "Requested amount"), a msgid
    the catalogue says when it holds one ("Amount" -> 金额), not "<operation>.<field>" (the engine's refusal
    log line names the operation)."""
    return Text(name.replace("_", " ").strip().capitalize())


@functools.cache
def _request_shape(request_type: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    # Resolving type hints costs ~50 µs and runs on every service call; a request type never changes.
    return typing.get_type_hints(request_type), {f.name: f for f in dataclasses.fields(request_type)}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    if value is None:
        return None
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is Decimal:
            return _finite_decimal(value, where)
        if hint is date and isinstance(value, str):
            return date.fromisoformat(value)
        if hint is datetime and isinstance(value, str):
            return datetime.fromisoformat(value)
        if hint is int and isinstance(value, str):
            return int(value)
    except HandlerInputError:
        raise
    except (InvalidOperation, ValueError) as exc:
        raise HandlerInputError(
            _(
                "%(where)s: %(value)r is not a valid %(type)s",
                where=where,
                value=value,
                type=getattr(hint, "__name__", hint),
            )
        ) from exc
    return value


def _finite_decimal(value: Any, where: str) -> Decimal:
    # Decimal('1e400') or NaN (from a message or form) would make the handler's quantize/compare raise.
    if isinstance(value, bool):
        raise HandlerInputError(_("%(where)s: %(value)r is not a number", where=where, value=value))
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise HandlerInputError(_("%(where)s: %(value)r is not a finite number", where=where, value=value))
    if number.copy_abs() > MAX_AMOUNT:
        raise HandlerInputError(
            _(
                "%(where)s: %(value)r is too large; amounts go up to %(limit)s",
                where=where,
                value=value,
                limit=f"{MAX_AMOUNT:,}",
            )
        )
    return number
