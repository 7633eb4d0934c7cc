"""Every monkey-patch of SpiffWorkflow 3.2, in one place; each is pinned by tests/engine/test_patches.py.

SpiffWorkflow reads the wall clock inside its timer module and JSON-decodes service results with
floats. Both are module globals we cannot pass in, so they are swapped once, on import of this module
(engine.spiff imports it), for versions that honour the step's injected `now` and hand a service result
over exactly.
"""

from __future__ import annotations

import ast
import json
import logging
import time
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
import SpiffWorkflow.spiff.specs.mixins.service_task as spiff_service_task
import SpiffWorkflow.task as spiff_task
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.model import HitPolicy
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

from workflows.engine.script_clock import scripts_see
from workflows.messages import _

_step_now: ContextVar[datetime | None] = ContextVar("creditflow_step_now", default=None)

# (engine, task, rules that gave the outputs, outputs) of each DMN evaluation, while a step records them.
DecisionRecorder = Callable[[DMNEngine, Any, list[Any], dict[str, Any]], None]
_decision_recorder: ContextVar[DecisionRecorder | None] = ContextVar("creditflow_decisions", default=None)


class _StepClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = _step_now.get() or datetime.now(UTC)
        return current.astimezone(tz) if tz else current.replace(tzinfo=None)


class ServiceResult(str):
    """A handler's result passed through SpiffWorkflow's `json.loads(result)` as the value itself.

    SpiffWorkflow wants a JSON string from `call_service`. A text round trip would turn money into floats, or
    need tags for Decimal and dates that user data echoed by a handler could imitate ({"__decimal__": "x"}
    came back as a Decimal, or failed). So the value rides beside an empty string and is handed over as is.
    """

    value: Any

    def __new__(cls, value: Any) -> ServiceResult:
        result = super().__new__(cls, "")
        result.value = plain_copy(value)
        return result


def plain_copy(value: Any) -> Any:
    """A deep copy made only of JSON types plus Decimal, date and datetime (keys become strings, as in JSON).

    Raises:
        TypeError: the value holds anything else, which could not be saved with the instance.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, also for a StrEnum member
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal | date):  # datetime is a date
        return value
    if isinstance(value, Mapping):
        return {_json_key(key): plain_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(item) for item in value]
    raise TypeError(_("%(type)s is not JSON serializable", type=type(value).__name__))


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # what json.dumps makes of such a key: "null", "true", "1", "1.5"
    raise TypeError(_("keys must be str, int, float, bool or None, not %(type)s", type=type(key).__name__))


def _load_service_result(text: str) -> Any:
    return text.value if isinstance(text, ServiceResult) else json.loads(text, parse_float=Decimal)


@contextmanager
def step_clock(now: datetime) -> Iterator[None]:
    """Make SpiffWorkflow's timers, and scripts' `datetime.now()`/`date.today()`, see `now` for one step."""
    token = _step_now.set(now)
    try:
        with scripts_see(now):
            yield
    finally:
        _step_now.reset(token)


@contextmanager
def recording_decisions(recorder: DecisionRecorder) -> Iterator[None]:
    """Report every DMN evaluation meanwhile to `recorder` (the decision log): the business rule tasks the
    engine runs and the tables handlers evaluate (`engine.decisions.evaluate_decision`)."""
    token = _decision_recorder.set(recorder)
    try:
        yield
    finally:
        _decision_recorder.reset(token)


def _decision_result(self: DMNEngine, task: Any) -> dict[str, Any]:
    """Upstream's `DMNEngine.result`, also naming the rules that gave the result to the step's recorder.

    Reported while a step records: a business rule task's evaluation (a task spec names the element), and
    a handler's `engine.decisions.evaluate_decision` (a stand-in task; the step knows its service task).
    """
    recorder = _decision_recorder.get()
    if recorder is None:
        upstream: dict[str, Any] = _upstream_result(self, task)
        return upstream
    matched = self.decide(task)
    result: dict[str, Any] = {}
    if self.decision_table.hit_policy == HitPolicy.COLLECT.value:
        for rule in matched:
            for key, value in rule.output_as_dict(task).items():
                result.setdefault(key, []).append(value)
        used = matched
    else:
        used = matched[:1]
        result = matched[0].output_as_dict(task) if matched else {}
    recorder(self, task, used, result)
    return result


# A DMN cell's text is checked by parsing it (ast.parse) two or three times per rule and evaluation
# (DMNEngine.evaluate, needs_eq: a cell like '< 30' fails once, then parses as 'v < 30'). The answer
# depends on the text alone, so each distinct text is parsed once per process: 2.5 % of a dunning case
# start (issue 19). Bounded: texts come from deployed diagrams.
_PARSED: dict[str, tuple[Any, ...] | None] = {}
_PARSED_MAX = 10_000


def _validate_once(_engine: PythonScriptEngine, expression: Any) -> None:
    """PythonScriptEngine.validate (ast.parse; SyntaxError if the text does not parse), remembered."""
    if not isinstance(expression, str):
        ast.parse(expression)
        return
    try:
        error = _PARSED[expression]
    except KeyError:
        try:
            ast.parse(expression)
            error = None
        except SyntaxError as exc:
            error = exc.args
        if len(_PARSED) < _PARSED_MAX:
            _PARSED[expression] = error
    if error is not None:
        raise SyntaxError(*error)


_upstream_set_state = spiff_task.Task._set_state


def _set_state(self: spiff_task.Task, value: int) -> None:
    """Task._set_state, without building the log record's extras (a dict naming the workflow, spec,
    parent...) for a state change nobody logs: 2.5 % of a dunning case start (issue 19). With 'spiff.task'
    logging at INFO or below, upstream runs as is."""
    if spiff_task.logger.isEnabledFor(logging.INFO):
        _upstream_set_state(self, value)
    elif value != self._state:
        self.last_state_change = time.time()
        self._state = value


# A dunning case start walks its task tree about 45 times (issue 19): once per completed task for WAITING
# tasks (Workflow.update_waiting_tasks, which finds one in 2 of 21 walks) and once per engine round for READY
# ones (BpmnWorkflow._do_engine_steps), through TaskIterator: 12.6 % of the start's CPU (py-spy, f0515b5),
# 4.9 % with the two patches below; -6 to -8 % CPU per start in all (benchmarks/README.md, S9).
_upstream_update_waiting_tasks = Workflow.update_waiting_tasks
_upstream_get_tasks_iterator = BpmnBaseWorkflow.get_tasks_iterator
_DEFAULT_MAX_DEPTH = 1000  # TaskIterator's


def _update_waiting_tasks(self: Workflow) -> None:
    """Workflow.update_waiting_tasks, which walks the tree only when a task of this workflow is WAITING.

    Every task the walk can reach is in `self.tasks` (a plain TaskIterator does not enter subprocesses),
    and with none WAITING the walk updates nothing: a flat look at the states answers the same, cheaper.
    When one waits, the walk is _walk's without subprocesses: TaskIterator's order, as for the READY walks."""
    if not any(task._state == TaskState.WAITING for task in self.tasks.values()):
        return
    if len(self.tasks) >= _DEFAULT_MAX_DEPTH:  # see _get_tasks_iterator
        _upstream_update_waiting_tasks(self)
        return
    for task in _walk(self.task_tree, TaskState.WAITING, {}):
        task.task_spec._update(task)


def _get_tasks_iterator(self: BpmnBaseWorkflow, first_task: Any = None, **kwargs: Any) -> Iterator[Any]:
    """BpmnBaseWorkflow.get_tasks_iterator, as a generator when the query filters on state alone.

    It yields the tasks BpmnTaskIterator yields, in its order (depth first, a subprocess's tree before the
    task's children, children listed when their parent is reached, so a caller that changes the tree while
    iterating sees what upstream's iterator shows), without its per-task method calls and depth
    bookkeeping. The depth only matters against `max_depth`, which the walk cannot reach when the trees
    hold fewer tasks than that (each step down follows a task not visited before). Any other query, or a
    tree that large, goes to upstream."""
    max_depth = kwargs.pop("max_depth", _DEFAULT_MAX_DEPTH)
    state = kwargs.get("state", TaskState.ANY_MASK)
    if kwargs.keys() - {"state"} or type(state) is not int:
        return _upstream_get_tasks_iterator(self, first_task, max_depth=max_depth, **kwargs)  # type: ignore[no-any-return]
    top = self.top_workflow
    if len(top.tasks) + sum(len(sub.tasks) for sub in top.subprocesses.values()) >= max_depth:
        return _upstream_get_tasks_iterator(self, first_task, max_depth=max_depth, **kwargs)  # type: ignore[no-any-return]
    return _walk(first_task or self.task_tree, state, top.subprocesses)


def _walk(first: Any, state: int, subprocesses: Mapping[Any, Any]) -> Iterator[Any]:
    """BpmnTaskIterator's walk for a filter on `state` alone (see _get_tasks_iterator); with no
    `subprocesses`, TaskIterator's."""
    if state & TaskState.PREDICTED_MASK:
        min_state = TaskState.MAYBE
    elif state & TaskState.DEFINITE_MASK:
        min_state = TaskState.FUTURE
    else:
        min_state = TaskState.COMPLETED
    # Upstream skips a subprocess when `task.state >= FINISHED_MASK and state <= FINISHED_MASK`; no single
    # state is >= FINISHED_MASK, so it always enters one, but the test is kept as upstream writes it.
    enter_finished = not state <= TaskState.FINISHED_MASK
    pending = [first]  # upstream's task_list, reversed: its front is our end
    while pending:
        task = pending.pop()
        subprocess = subprocesses.get(task.id)
        if subprocess is None:
            if task._children and task._state >= min_state:
                known = task.workflow.tasks
                pending.extend([known.get(child) for child in reversed(task._children)])
        else:
            known = task.workflow.tasks
            pending.extend([known.get(child) for child in reversed(task._children)])
            if enter_finished or task._state < TaskState.FINISHED_MASK:
                pending.append(subprocess.task_tree)
        if task._state & state:
            yield task


_upstream_result = DMNEngine.result

# Upstream: SpiffWorkflow.dmn.engine.DMNEngine.result evaluates a business rule task's table; ours does
# the same and reports which rules matched while a step records decisions (workflows/decision_log.py).
DMNEngine.result = _decision_result

# Upstream: SpiffWorkflow.bpmn.specs.event_definitions.timer calls `datetime.now(timezone.utc)` to decide
# whether a timer is due; we make it see the step's clock.
spiff_timer.datetime = _StepClock

# Upstream: SpiffWorkflow.spiff.specs.mixins.service_task calls `json.loads(result)` on a service task's
# result, which turns money into floats; ours hands over the handler's value exactly (see ServiceResult).
spiff_service_task.json = types.SimpleNamespace(loads=_load_service_result)

# Upstream: PythonScriptEngine.validate parses the text on every call; ours remembers the outcome.
PythonScriptEngine.validate = _validate_once

# Upstream: Task._set_state builds a log record's extras on every state change, logged or not.
spiff_task.Task._set_state = _set_state

# Upstream: Workflow.update_waiting_tasks walks the whole task tree after every completed task.
Workflow.update_waiting_tasks = _update_waiting_tasks

# Upstream: BpmnBaseWorkflow.get_tasks_iterator returns a BpmnTaskIterator, costly per task visited.
BpmnBaseWorkflow.get_tasks_iterator = _get_tasks_iterator
