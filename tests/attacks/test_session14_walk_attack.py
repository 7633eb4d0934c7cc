"""Attack A27 (session 14) on dea8d1a: SpiffWorkflow's task-tree walks replaced in engine/patches.py.

Differential runs: each diagram (tests/attacks/walk_diagrams.py, and every process of the shared corpus
SpiffWorkflow builds) runs twice from the same start, once with the patches and once with SpiffWorkflow's own
walks, driven by the same deterministic choices (which ready task to complete, which message to send, when
to let the clock pass a timer). Task ids come from a counter, so the two runs must leave the same tree:
every task's id, spec, state, parent, children and data, every subprocess, the workflow data, after every
step. While the patched run goes, every `get_tasks` it makes is also answered by upstream's BpmnTaskIterator
on the same tree and must be equal, and every time update_waiting_tasks skips its walk, upstream's walk
must find nothing. A third run saves the state after each step and restores it with the other walks
(patched -> upstream -> patched ...): a state written by one continues as the other's would.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
import SpiffWorkflow.task as spiff_task
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from tests.attacks import walk_diagrams as d
from workflows.engine import patches
from workflows.engine import spiff as engine

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "bpmn" / "spiffworkflow"
MESSAGES = ("go", "halt", "poke", "stop")  # every message the diagrams catch, tried in turn
CHECKED: dict[str, int] = {"get_tasks": 0, "skips": 0, "walks": 0}


@contextmanager
def walks(upstream: bool) -> Iterator[None]:
    """SpiffWorkflow's own walks (upstream) or the patches, with the patched ones checked as they answer."""
    saved = BpmnBaseWorkflow.get_tasks_iterator, Workflow.update_waiting_tasks, Workflow.get_tasks
    if upstream:
        BpmnBaseWorkflow.get_tasks_iterator = patches._upstream_get_tasks_iterator  # type: ignore[method-assign]
        Workflow.update_waiting_tasks = patches._upstream_update_waiting_tasks  # type: ignore[method-assign]
    else:
        BpmnBaseWorkflow.get_tasks_iterator = patches._get_tasks_iterator  # type: ignore[method-assign]
        Workflow.update_waiting_tasks = _checked_update_waiting_tasks  # type: ignore[method-assign]
        Workflow.get_tasks = _checked_get_tasks  # type: ignore[method-assign]
    try:
        yield
    finally:
        BpmnBaseWorkflow.get_tasks_iterator, Workflow.update_waiting_tasks, Workflow.get_tasks = saved  # type: ignore[method-assign]


_plain_get_tasks = Workflow.get_tasks


def _checked_get_tasks(self: Workflow, first_task: Any = None, **query: Any) -> list[Any]:
    got = _plain_get_tasks(self, first_task, **query)
    if isinstance(self, BpmnBaseWorkflow):
        want = list(patches._upstream_get_tasks_iterator(self, first_task, **query))
        assert [t.id for t in got] == [t.id for t in want], query
        CHECKED["get_tasks"] += 1
    return got


def _checked_update_waiting_tasks(self: Workflow) -> None:
    if not any(task._state == TaskState.WAITING for task in self.tasks.values()):
        assert list(TaskIterator(self.task_tree, state=TaskState.WAITING)) == []
        CHECKED["skips"] += 1
    else:
        CHECKED["walks"] += 1
    patches._update_waiting_tasks(self)


@contextmanager
def counted_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Task ids 1, 2, 3 ... so two runs that do the same have the same ids."""
    counter = itertools.count(1)
    with monkeypatch.context() as patch:
        patch.setattr(spiff_task, "uuid4", lambda: UUID(int=next(counter)))
        yield


def parse(xml: str | None, process_id: str, files: list[Path] = ()) -> SimpleNamespace:  # type: ignore[assignment]
    parser = SpiffBpmnParser()
    if xml is not None:
        parser.add_bpmn_str(xml.encode(), f"{process_id}.bpmn")
    for path in files:
        (parser.add_dmn_file if path.suffix == ".dmn" else parser.add_bpmn_file)(str(path))
    return SimpleNamespace(
        spec=parser.get_spec(process_id), subprocess_specs=parser.get_subprocess_specs(process_id)
    )


def any_service(task_id: str, bpmn_id: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _said(data: dict[str, Any]) -> str:
    """Data as text; an object without its own repr (a caught BpmnEvent) by its fields, not its address."""

    def value(item: Any) -> Any:
        if isinstance(item, list | tuple):
            return [value(i) for i in item]
        if hasattr(item, "__dict__") and type(item).__repr__ is object.__repr__:
            return (type(item).__name__, value(sorted(vars(item).items(), key=str)))
        return item

    return repr(value(sorted(data.items(), key=str)))


def tree(wf: BpmnWorkflow) -> list[Any]:
    """Everything a walk could change: each tree's tasks (creation order) and the workflow's own state."""
    trees = [wf, *wf.subprocesses.values()]
    return [
        [
            (str(t.id), t.task_spec.name, t._state, str(t._parent), [str(c) for c in t._children])
            + (_said(t.data), _said(t.internal_data))
            for t in w.tasks.values()
        ]
        + [str(w.task_tree.id), w.completed, _said(w.data)]
        for w in trees
    ]


def _step(wf: BpmnWorkflow, now: datetime) -> str | None:
    try:
        engine.run_engine(wf, now)
    except Exception as exc:  # a failure must be the same failure both ways
        return f"{type(exc).__name__}: {exc}"
    return None


def _act(wf: BpmnWorkflow, step_no: int, now: datetime) -> tuple[str, datetime]:
    """The step's choice, from the tree alone: complete a ready task, send a message, or let time pass."""
    ready = sorted(
        (t for t in wf.tasks.values() if t._state == TaskState.READY and t.task_spec.manual),
        key=lambda t: (t.task_spec.name, str(t.id)),
    )
    for sub in wf.subprocesses.values():
        ready += [t for t in sub.tasks.values() if t._state == TaskState.READY and t.task_spec.manual]
    names = sorted(MESSAGES)
    messages = names[step_no % len(names) :] + names[: step_no % len(names)]
    for kind in [(step_no + k) % 4 for k in range(4)]:
        if kind in (0, 1) and ready:
            task = ready[0] if kind == 0 else ready[-1]
            data = {"ok": step_no % 3 != 0, "fail": step_no % 4 == 1, "round": step_no}
            if hasattr(task.task_spec, "add_data_from_form"):
                engine.complete_task(wf, str(task.id), data)
            else:  # a manual task or an untyped one: no form
                task.data.update(data)
                task.run()
            return f"done {task.task_spec.name}", now + timedelta(minutes=10)
        for name in messages if kind == 2 else ():
            try:
                engine.deliver_message(wf, name, {"step": step_no})
            except engine.NotWaiting:
                continue
            return f"sent {name}", now + timedelta(minutes=5)
        if kind == 3 and not wf.completed:
            return "waited", now + timedelta(minutes=45)
    return "idle", now + timedelta(minutes=45)


def run_case(
    loaded: SimpleNamespace, steps: int, walk_of: Callable[[int], bool], save_each_step: bool = False
) -> list[Any]:
    """The trace of `steps` steps; `walk_of(step_no)` says whether that step runs upstream's walks."""
    with walks(walk_of(0)):
        if getattr(loaded, "start_data", None) is not None:  # a repo diagram: our script engine, its services
            wf = engine.new_workflow(loaded, loaded.start_data, any_service)  # type: ignore[arg-type]
        else:
            wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=PythonScriptEngine())
        trace: list[Any] = [_step(wf, START), tree(wf)]
    now = START
    for step_no in range(steps):
        if save_each_step:
            state = engine.dump_state(wf)
        with walks(walk_of(step_no + 1)):
            if save_each_step:
                wf = engine.restore_state(loaded, state, any_service)  # type: ignore[arg-type]
                if getattr(loaded, "start_data", None) is None:
                    wf.script_engine = PythonScriptEngine()
            try:
                with patches.step_clock(now):  # a timer armed by the completion counts from the step's now
                    action, now = _act(wf, step_no, now)
            except Exception as exc:
                action = f"refused: {type(exc).__name__}: {exc}"
                now += timedelta(minutes=45)
            trace += [action, _step(wf, now), tree(wf)]
        if wf.completed:
            break
    return trace


def differential(
    monkeypatch: pytest.MonkeyPatch, load: Callable[[], SimpleNamespace], steps: int
) -> list[Any]:
    """Patched, upstream and alternating-with-save runs; returns the patched trace after comparing.

    Each run parses its own spec: SpiffWorkflow changes a spec while running an event subprocess (the
    corpus's event-subprocess.bpmn starts differently the second time a parsed spec runs)."""
    before = dict(CHECKED)
    with counted_ids(monkeypatch):
        patched = run_case(load(), steps, lambda _n: False)
    with counted_ids(monkeypatch):
        upstream = run_case(load(), steps, lambda _n: True)
    assert patched == upstream
    with counted_ids(monkeypatch):
        crossed = run_case(load(), steps, lambda n: n % 2 == 1, save_each_step=True)
    with counted_ids(monkeypatch):
        saved_upstream = run_case(load(), steps, lambda _n: True, save_each_step=True)
    assert crossed == saved_upstream
    assert CHECKED["get_tasks"] > before["get_tasks"]  # the patched walks did answer
    return patched


DIAGRAMS = {
    "boundary_timers": (d.BOUNDARY_TIMERS, 40),
    "subprocess_events": (d.SUBPROCESS_EVENTS, 60),
    "event_gateway": (d.EVENT_GATEWAY, 40),
    "joins": (d.JOINS, 60),
    "multi_instance": (d.MULTI_INSTANCE, 80),
    "calls_and_errors": (d.CALLS_AND_ERRORS, 60),
    "cancel_terminate": (d.CANCEL_TERMINATE, 50),
    "terminate": (d.TERMINATE, 10),
}


@pytest.mark.parametrize("process_id", sorted(DIAGRAMS))
def test_a_diagram_runs_the_same_with_and_without_the_walk_patches(
    process_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml, steps = DIAGRAMS[process_id]
    trace = differential(monkeypatch, lambda: parse(xml, process_id), steps)
    actions = trace[2::3]
    # The run went somewhere: people answered, and messages or timers moved it (no stall at the start).
    assert any(a.startswith("done ") for a in actions) or process_id == "event_gateway"
    assert len(actions) > 1 or process_id == "terminate"


@pytest.mark.parametrize(("rounds", "person_from", "steps"), [(400, 400, 3), (300, 125, 80)])
def test_a_loop_whose_tree_grows_past_the_iterator_depth_runs_the_same(
    rounds: int, person_from: int, steps: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past 1,000 tasks the patches hand the walks to upstream, which stops descending at depth 1,000: the
    # engine-only loop stalls there both ways, and the person's loop crosses the line between two steps.
    # SpiffWorkflow's Task.is_descendant_of recurses once per ancestor: room for trees this deep.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(4000)
    try:
        trace = differential(monkeypatch, lambda: parse(d.deep_loop(rounds, person_from), "deep"), steps)
    finally:
        sys.setrecursionlimit(limit)
    sizes = [len(step[0]) for step in trace[1::3]]
    assert max(sizes) > 1000  # past SpiffWorkflow's iterator depth: upstream's walks from then on


def corpus_processes() -> list[tuple[str, str]]:
    """(file, process id) of each corpus process SpiffWorkflow builds, its folder's files beside it."""
    found = []
    for path in sorted((REPO.parent / "shared" / "corpus" / "bpmn").glob("*/*.bpmn")):
        try:
            parser = SpiffBpmnParser()
            parser.add_bpmn_files([str(p) for p in sorted(path.parent.glob("*.bpmn")) if p != path])
        except Exception:
            parser = SpiffBpmnParser()
        try:
            parser.add_bpmn_file(str(path))
            for process_id in parser.get_process_ids():
                parser.get_spec(process_id)
                if process_id in parser.get_subprocess_specs(process_id):
                    continue  # it calls itself: SpiffWorkflow starts subprocesses without end, both ways
                found.append((str(path.relative_to(REPO.parent / "shared")), process_id))
        except Exception:  # one SpiffWorkflow cannot build: not a walk's case
            continue
    return found


CORPUS_PROCESSES = corpus_processes() if (REPO.parent / "shared" / "corpus").is_dir() else []


@pytest.mark.skipif(not CORPUS_PROCESSES, reason="the shared BPMN corpus is not beside the repo")
def test_the_corpus_processes_run_the_same_with_and_without_the_walk_patches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran = []
    for file, process_id in CORPUS_PROCESSES:
        path = REPO.parent / "shared" / file
        companions = [p for p in sorted(path.parent.glob("*.bpmn")) if p != path]
        try:
            parse(None, process_id, [*companions, path])
        except Exception:
            companions = []
        files = [*companions, path]
        trace = differential(monkeypatch, lambda: parse(None, process_id, files), 20)  # noqa: B023 (called here)
        ran.append((file, process_id, len(trace)))
    assert len(ran) >= 20


SINGLE_STATES = [1 << bit for bit in range(9)]  # MAYBE ... CANCELLED
MASKS = [*SINGLE_STATES, 0, TaskState.FINISHED_MASK, TaskState.DEFINITE_MASK, TaskState.PREDICTED_MASK]
MASKS += [TaskState.NOT_FINISHED_MASK, TaskState.ANY_MASK, TaskState.READY | TaskState.WAITING, 448 | 1]


@pytest.mark.parametrize("process_id", ["multi_instance", "calls_and_errors", "subprocess_events", "joins"])
def test_any_mix_of_states_is_walked_as_upstream_walks_it(
    process_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # States no run reaches (a cancelled subprocess task with a live tree, a MAYBE parent of READY tasks):
    # each task of real trees is given a random state, then every mask is walked from several tasks.
    import random

    rng, compared = random.Random(14), 0
    xml, _steps = DIAGRAMS[process_id]
    loaded = parse(xml, process_id)
    with counted_ids(monkeypatch), walks(upstream=False):
        wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=PythonScriptEngine())
        now = START
        for step_no in range(12):
            _step(wf, now)
            with patches.step_clock(now):
                _action, now = _act(wf, step_no, now)
        trees = [wf, *wf.subprocesses.values()]
        every = [t for w in trees for t in w.tasks.values()]
        for _shuffle in range(25):
            for task in every:
                task._state = rng.choice(SINGLE_STATES)
            for mask in MASKS:
                for w in trees:
                    for first in [None, *rng.sample(list(w.tasks.values()), 3)]:
                        got = [t.id for t in w.get_tasks(first, state=mask)]
                        want = [t.id for t in patches._upstream_get_tasks_iterator(w, first, state=mask)]
                        assert got == want
                        compared += 1
            waiting = [t for t in TaskIterator(wf.task_tree, state=TaskState.WAITING)]
            updated: list[Any] = []
            with monkeypatch.context() as patch:
                for task in every:
                    patch.setattr(task.task_spec, "_update", updated.append)
                wf.update_waiting_tasks()
            assert updated == waiting
    assert compared > 1000 and len(every) > 30
