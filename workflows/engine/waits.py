"""What a stepped instance waits on (people, timers, messages), read from its task tree in one walk."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflows.definitions.compile import split_names
from workflows.engine.failures import EngineError, LoopLimitExceeded
from workflows.engine.script_builtins import ScriptLimitExceeded
from workflows.engine.script_code import analyse
from workflows.engine.script_days import DAY_BY_LANGUAGE
from workflows.engine.script_money import MONEY_BY_LANGUAGE
from workflows.engine.task_texts import render_instructions, renders_in_process
from workflows.errors import message_of
from workflows.languages import LANGUAGES
from workflows.messages import _
from workflows.store.jsonable import to_jsonable

logger = logging.getLogger(__name__)
# The languages a diagram may write a task's texts in besides English (`subject_zh`, `instructions_zh`).
OTHER_LANGUAGES = tuple(code for code in LANGUAGES if code != "en")


@dataclass(frozen=True)
class ReadyTask:
    task_id: str  # the engine's task UUID
    bpmn_id: str
    title: str
    lane: str | None
    candidate_groups: list[str]
    form_file: str | None
    due_in: str | None
    four_eyes: list[str]
    instructions: str
    data: dict[str, Any]
    assignee: str | None  # a user name, or "initiator"
    subject: str | None  # the `subject` property evaluated on the task's data
    # {language: {"subject": ..., "instructions": ...}}: the `subject_zh` and `instructions_zh` properties,
    # evaluated and rendered as the English ones (a text the diagram does not give stays English).
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class WaitingTimer:
    bpmn_id: str
    due_at: datetime


@dataclass(frozen=True)
class WaitingMessage:
    bpmn_id: str
    name: str


@dataclass(frozen=True)
class Snapshot:
    """What a stepped instance waits for: people (ready tasks), timers and messages."""

    ready: list[ReadyTask]
    timers: list[WaitingTimer]
    messages: list[WaitingMessage]


def snapshot(wf: BpmnWorkflow, max_depth: int, *, strict: bool = True) -> Snapshot:
    """Everything the instance waits on, found in one walk over its task tree.

    Each ready human task's subject and instructions are filled from its data here. On the failure path
    (`strict=False`) nothing raises: depth is not checked, and a text that needs the script worker is
    left unrendered, so a text that just failed its budget does not run a second time.

    Raises:
        LoopLimitExceeded: a waiting task sits deeper than `max_depth` (only when `strict`).
        EngineError: a task's subject or instructions ran over the script budget (only when `strict`).
    """
    ready: list[ReadyTask] = []
    timers: list[WaitingTimer] = []
    messages: list[WaitingMessage] = []
    for task in wf.get_tasks(state=TaskState.READY | TaskState.WAITING, max_depth=max_depth + 100):
        if strict:
            check_task_depth(task, max_depth)
        if task.state == TaskState.READY:
            if task.task_spec.manual:
                ready.append(_ready_task(task, strict))
            continue
        timer = _waiting_timer(task)
        if timer is not None:
            timers.append(timer)
        messages.extend(_waiting_messages(task))
    return Snapshot(ready, timers, messages)


def check_task_depth(task: Any, max_depth: int) -> None:
    depth = task.depth
    if depth > max_depth:
        raise LoopLimitExceeded(
            _(
                "the instance's task tree reached depth %(depth)s (limit %(limit)s): a loop ran too many "
                "times; model it as a bounded loop or a new instance per iteration",
                depth=depth,
                limit=max_depth,
            ),
            task.task_spec.bpmn_id or "",
        )


def _ready_task(task: Any, strict: bool) -> ReadyTask:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    props: dict[str, str] = extensions.get("properties", {}) or {}
    groups = split_names(props.get("candidateGroups")) or ([spec.lane] if spec.lane else [])
    return ReadyTask(
        task_id=str(task.id),
        bpmn_id=spec.bpmn_id,
        title=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        candidate_groups=groups,
        form_file=props.get("formJsonSchemaFilename"),
        due_in=props.get("dueIn"),
        four_eyes=split_names(props.get("fourEyes")),
        instructions=_instructions(
            task, extensions.get("instructionsForEndUser") or spec.documentation or "", strict
        ),
        data=dict(task.data),
        assignee=props.get("assignee"),
        subject=_subject(task, props.get("subject"), strict),
        translations=_translations(task, props, strict),
    )


def _translations(task: Any, props: dict[str, str], strict: bool) -> dict[str, dict[str, str]]:
    """The task's subject and instructions in each other language its diagram writes them in."""
    found: dict[str, dict[str, str]] = {}
    for language in OTHER_LANGUAGES:
        texts = {}
        # The task's name in that language (name_zh): kept here so the inbox search finds the task by it.
        title = (props.get(f"name_{language}") or "").strip()[:300]
        if title:
            texts["title"] = title
        subject = _subject(task, props.get(f"subject_{language}"), strict, language)
        if subject:
            texts["subject"] = subject
        template = (props.get(f"instructions_{language}") or "").strip()
        if template:
            texts["instructions"] = _instructions(task, template, strict, language)
        if texts:
            found[language] = texts
    return found


def _subject(task: Any, expression: str | None, strict: bool, language: str = "en") -> str | None:
    """The task's one-line subject; it is only shown, so a failing expression must not fail the step,
    unless it runs over the script budget (that would cost the budget again on every step). Its
    `money(amount, currency)` writes amounts and `day(value)` days as `language` does (engine.script_money,
    engine.script_days)."""
    if not expression or not (strict or analyse(expression, "eval").in_process):
        return None
    said = None
    if language != "en":  # an English subject's money() and day() are the builtins (engine.script_builtins)
        said = {"money": MONEY_BY_LANGUAGE[language], "day": DAY_BY_LANGUAGE[language]}
    try:
        return str(task.workflow.script_engine.evaluate(task, expression, said))[:300]
    except Exception as exc:  # noqa: BLE001 - display text only; the failure is logged with the element id
        over = _budget_cause(exc)
        if over is not None:
            raise _text_failure(task, "subject", over) from exc
        logger.warning("subject of %s could not be computed", task.task_spec.bpmn_id, exc_info=True)
        return None


def _instructions(task: Any, template: str, strict: bool, language: str = "en") -> str:
    """The task's instructions template filled from its data (as the inbox shows the data: plain JSON),
    its `money` filter writing amounts as `language` does."""
    if "{" not in template or not (strict or renders_in_process(template)):
        return template
    try:
        return render_instructions(template, to_jsonable(task.data), language=language)
    except ScriptLimitExceeded as exc:
        if not strict:  # the snapshot after a failed step records its incident: the template as written
            return template
        raise _text_failure(task, "instructions", exc) from exc


def _budget_cause(exc: BaseException) -> ScriptLimitExceeded | None:
    """The ScriptLimitExceeded behind the engine's wrapping exceptions, if that is what failed."""
    seen: BaseException | None = exc
    for _depth in range(20):  # a chain is a few links long; never follow a cycle
        if seen is None or isinstance(seen, ScriptLimitExceeded):
            return seen
        seen = seen.__cause__ or getattr(seen, "exception", None) or seen.__context__
    return None


def _text_failure(task: Any, what: str, exc: ScriptLimitExceeded) -> EngineError:
    bpmn_id = task.task_spec.bpmn_id or ""
    said = {"subject": _("subject"), "instructions": _("instructions")}.get(what, what)
    message = _(
        "the %(what)s of task '%(task)s' could not be shown: %(problem)s",
        what=said,
        task=bpmn_id,
        problem=message_of(exc),
    )
    return EngineError(message, bpmn_id)


def _waiting_timer(task: Any) -> WaitingTimer | None:
    if not any(isinstance(d, TimerEventDefinition) for d in _event_definitions(task.task_spec)):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # cycle timers keep {"cycles": n, "next": iso}
        value = value.get("next")
    if not value:
        return None
    due = datetime.fromisoformat(value)
    return WaitingTimer(task.task_spec.bpmn_id, due if due.tzinfo else due.replace(tzinfo=UTC))


def _waiting_messages(task: Any) -> list[WaitingMessage]:
    return [
        WaitingMessage(task.task_spec.bpmn_id, d.name)
        for d in _event_definitions(task.task_spec)
        if isinstance(d, MessageEventDefinition)
    ]


def _event_definitions(spec: Any) -> list[Any]:
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []
