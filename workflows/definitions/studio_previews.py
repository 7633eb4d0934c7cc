"""What the studio's properties panel previews before a deploy, computed the way the runtime computes it.

- A user task's subject (a Python expression) and instructions (a Jinja template), over one instance's data:
  the same sandbox (engine.sandbox) and the same SandboxedEnvironment with its length cap and script-worker
  budget (engine.task_texts) as a task that opens, so a template that loops or eats memory is stopped here
  as it would be there. Unlike the runtime, which shows a broken text as written, a preview says why.
- A timer's firings for a start date: the expression evaluated in the sandbox, then SpiffWorkflow's own ISO
  8601 arithmetic (calendar months, leap days) that the engine uses when the timer starts waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy.orm import Session

from workflows.definitions.timer_checks import iso_problem
from workflows.engine import spiff as engine
from workflows.engine.runtime import Runtime
from workflows.engine.sandbox import ForbiddenCode, SafeEnvironment
from workflows.engine.script_builtins import ScriptLimitExceeded
from workflows.engine.script_pool import shared_pool
from workflows.engine.task_texts import MAX_INSTRUCTIONS_CHARS, render_capped, renders_in_process
from workflows.messages import Text, _
from workflows.store.models import ProcessInstance

TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")
SUBJECT_CHARS = 300  # as the inbox stores it (engine.waits)
FIRINGS = 3  # a cycle's first firings shown


class PreviewFailed(Exception):
    """The text or timer cannot be previewed; the message says why, in words for the process owner."""


def instance_data(rt: Runtime, session: Session, instance: ProcessInstance) -> dict[str, Any]:
    """The instance's business data with the types a task sees (Decimal amounts, dates), restored from its
    state as a step restores it; instance.data is a JSON copy, where `f"{limit:,.2f}"` would fail on text.
    Nothing runs and nothing is written."""
    if not instance.state:  # queued, not started yet: its start data
        return dict(instance.data or {})
    wf = engine.restore_state(rt.spec_for(session, instance.definition_id), instance.state, _no_service)
    return engine.workflow_data(wf)


def _no_service(*_args: Any) -> dict[str, Any]:
    raise RuntimeError("a preview runs no service task")  # never reached: a preview does not step


def preview_subject(expression: str, data: Mapping[str, Any]) -> str:
    """The subject line the inbox would show for a task with this data.

    Raises:
        PreviewFailed: the expression is refused by the sandbox, fails on this data, or runs over budget.
    """
    try:
        value = SafeEnvironment().evaluate(expression, dict(data))
    except Exception as exc:  # noqa: BLE001 - shown to the owner in place, as the reason
        raise PreviewFailed(_said(exc)) from exc
    return str(value)[:SUBJECT_CHARS]


def preview_instructions(template: str, data: Mapping[str, Any]) -> str:
    """The instructions a task with this data would show (sandboxed Jinja, capped, in the worker when needed).

    Raises:
        PreviewFailed: a broken template, one failing on this data, or one over the time, memory or length
            budget.
    """
    if "{" not in template:
        return template
    try:
        if renders_in_process(template):
            return render_capped(template, dict(data), MAX_INSTRUCTIONS_CHARS)
        outcome = shared_pool().call(("render", template, dict(data), MAX_INSTRUCTIONS_CHARS))
        if outcome.error is not None:
            raise outcome.error
        return str(outcome.value)
    except Exception as exc:  # noqa: BLE001 - shown to the owner in place, as the reason
        raise PreviewFailed(_said(exc)) from exc


def timer_firings(kind: str, expression: str, start: datetime, data: Mapping[str, Any]) -> list[datetime]:
    """When a timer of `kind` fires if it starts waiting at `start` (UTC): one time, or a cycle's first few.

    Raises:
        PreviewFailed: not a timer kind, an expression the sandbox refuses or that fails on this data, or a
            value that is not the ISO 8601 date, duration or cycle the kind needs.
    """
    if kind not in TIMER_KINDS:
        raise PreviewFailed(_("choose the timer's type: a date, a duration or a cycle"))
    try:
        value = SafeEnvironment().evaluate(expression, dict(data))
    except Exception as exc:  # noqa: BLE001 - shown to the owner in place, as the reason
        raise PreviewFailed(_said(exc)) from exc
    problem = iso_problem(kind, value)  # deploy's own check; it also bounds a duration to 100 years
    if problem is not None:
        raise PreviewFailed(problem)
    text = str(value)
    try:
        if kind == "timeDate":
            return [TimerEventDefinition.get_datetime(text).astimezone(UTC)]
        if kind == "timeDuration":
            return [start + _after(text, start)]
        return _cycle(text, start)
    except (ValueError, OverflowError, TypeError) as exc:  # a date past year 9999, and the like
        raise PreviewFailed(
            _("'%(value)s' cannot be placed on the calendar: %(error)s", value=text, error=str(exc))
        ) from exc


def _after(duration: str, start: datetime) -> timedelta:
    delta: timedelta = TimerEventDefinition.get_timedelta_from_start(
        TimerEventDefinition.parse_iso_duration(duration), start
    )
    return delta


def _cycle(text: str, start: datetime) -> list[datetime]:
    """A cycle's first firings. "R3/PT1H" starts counting when the timer starts waiting; a cycle with its own
    start or end date ("R/2027-01-14T09:00Z/P1D") fires by it whatever the start date."""
    parts = text.upper().replace("--", "/").strip("R").split("/")
    cycles = int(parts[0]) if parts[0] else -1
    if len(parts) == 2:
        first, every = start + _after(parts[1], start), _after(parts[1], start)
    else:
        _count, first, every = TimerEventDefinition.parse_iso_recurring_interval(text)
    shown = FIRINGS if cycles < 0 else min(cycles, FIRINGS)
    return [(first + every * n).astimezone(UTC) for n in range(shown)]


def _said(exc: BaseException) -> Text | str:
    """Why a preview failed: the sandbox's and the budget's own sentences, else the exception as raised."""
    if isinstance(exc, (PreviewFailed, ScriptLimitExceeded, ForbiddenCode)):
        return exc.args[0] if exc.args else str(exc)
    return f"{type(exc).__name__}: {exc}"
