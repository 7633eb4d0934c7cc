"""The task-walk patches of SpiffWorkflow in workflows/engine/patches.py (issue 19) answer as upstream does.

BpmnBaseWorkflow.get_tasks_iterator walks the tree with a generator when a query filters on state alone, and
Workflow.update_waiting_tasks walks only when a task is WAITING. Both are checked against upstream's
BpmnTaskIterator and walk on loop_mix (parallel and inclusive joins, a boundary timer, an embedded
subprocess per round) and loop_in_subprocess, and a whole case run with the patches matches one run without.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from tests.engine.test_history_pruning import START, load, no_services
from workflows.engine import patches
from workflows.engine import spiff as engine

STATES = [
    TaskState.MAYBE,
    TaskState.LIKELY,
    TaskState.FUTURE,
    TaskState.WAITING,
    TaskState.READY,
    TaskState.STARTED,
    TaskState.COMPLETED,
    TaskState.ERROR,
    TaskState.CANCELLED,
    TaskState.READY | TaskState.WAITING,
    TaskState.FINISHED_MASK,
    TaskState.DEFINITE_MASK,
    TaskState.PREDICTED_MASK,
    TaskState.NOT_FINISHED_MASK,
    TaskState.ANY_MASK,
    TaskState.COMPLETED | TaskState.READY,
]


@pytest.fixture
def upstream_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    """SpiffWorkflow's own walks, as before the patches."""
    monkeypatch.setattr(BpmnBaseWorkflow, "get_tasks_iterator", patches._upstream_get_tasks_iterator)
    monkeypatch.setattr(Workflow, "update_waiting_tasks", patches._upstream_update_waiting_tasks)


def states_of_a_looping_case(process_id: str, rounds: int) -> Iterator[Any]:
    """The case's workflow after each step: each round a review answered, every third left to its timer."""
    loaded = load(process_id)
    wf = engine.new_workflow(loaded, {"limit": rounds}, no_services)
    now = START
    engine.run_engine(wf, now, max_depth=900)
    yield wf
    for round_no in range(rounds):
        ready = engine.snapshot(wf, 900).ready
        timers = engine.snapshot(wf, 900).timers
        if timers and round_no % 3 == 2:
            now = timers[0].due_at + timedelta(seconds=1)
        else:
            now += timedelta(hours=1)
            engine.complete_task(wf, ready[0].task_id, {"decision": f"round {round_no}", "note": "x"})
        engine.run_engine(wf, now, max_depth=900)
        yield wf


def upstream_ids(first: Any, **query: Any) -> list[Any]:
    return [task.id for task in BpmnTaskIterator(first, **query)]


# loop_mix's subprocess finishes in the step it starts; loop_in_subprocess's waits for a review in it.
@pytest.mark.parametrize(("process_id", "finished"), [("loop_mix", True), ("loop_in_subprocess", False)])
def test_every_state_query_yields_upstream_s_tasks_in_upstream_s_order(
    process_id: str, finished: bool
) -> None:
    walks, subprocesses = 0, set()
    for wf in states_of_a_looping_case(process_id, rounds=7):
        subprocesses |= {(sub.parent_task_id, sub.completed) for sub in wf.subprocesses.values()}
        for state in STATES:
            assert [task.id for task in wf.get_tasks(state=state)] == upstream_ids(wf.task_tree, state=state)
            assert [task.id for task in wf.get_tasks()] == upstream_ids(wf.task_tree)
            # From an inner task, and from inside a subprocess's own tree.
            for first in list(wf.tasks.values())[::5]:
                assert [t.id for t in wf.get_tasks(first, state=state)] == upstream_ids(first, state=state)
            for sub in wf.subprocesses.values():
                got = [task.id for task in sub.get_tasks(state=state)]
                assert got == upstream_ids(sub.task_tree, state=state)
            walks += 1
    assert walks == 8 * len(STATES)
    assert finished in {done for _task, done in subprocesses}


def test_a_query_beyond_state_or_a_tree_as_deep_as_max_depth_goes_to_upstream() -> None:
    wf = next(iter(states_of_a_looping_case("loop_mix", rounds=1)))
    assert not isinstance(wf.get_tasks_iterator(state=TaskState.READY), BpmnTaskIterator)
    for query in (
        {"spec_name": "review"},
        {"manual": True},
        {"end_at_spec": "review"},
        {"depth_first": False},
    ):
        assert isinstance(wf.get_tasks_iterator(**query), BpmnTaskIterator)
        assert [t.id for t in wf.get_tasks(**query)] == upstream_ids(wf.task_tree, **query)
    size = len(wf.tasks) + sum(len(sub.tasks) for sub in wf.subprocesses.values())
    # max_depth no larger than the trees' size: the walk could reach it, so upstream counts depth.
    for max_depth in (1, 3, size):
        query = {"state": TaskState.ANY_MASK, "max_depth": max_depth}
        assert isinstance(wf.get_tasks_iterator(**query), BpmnTaskIterator)
        assert [t.id for t in wf.get_tasks(**query)] == upstream_ids(wf.task_tree, **query)
    assert len(wf.get_tasks(max_depth=1)) < len(wf.get_tasks())
    assert not isinstance(wf.get_tasks_iterator(max_depth=size + 1), BpmnTaskIterator)


def test_update_waiting_tasks_walks_only_when_a_task_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    wf = next(iter(states_of_a_looping_case("loop_mix", rounds=1)))
    waiting = [task for task in wf.tasks.values() if task.state == TaskState.WAITING]
    assert waiting  # the boundary timer of the review
    walks: list[list[Any]] = []
    updated: list[Any] = []
    real_walk = patches._walk

    def walk(first: Any, state: int, subprocesses: Any) -> Iterator[Any]:
        walks.append(list(real_walk(first, state, subprocesses)))
        return iter(walks[-1])

    monkeypatch.setattr(patches, "_walk", walk)
    for task in waiting:
        monkeypatch.setattr(task.task_spec, "_update", updated.append)
    wf.update_waiting_tasks()
    assert walks == [[task for task in TaskIterator(wf.task_tree, state=TaskState.WAITING)]]
    assert updated == walks[0] and set(updated) == set(waiting)
    for task in waiting:
        task._state = TaskState.FUTURE
    wf.update_waiting_tasks()
    assert len(walks) == 1 and len(updated) == len(waiting)  # nothing waits: no walk


def test_update_waiting_tasks_of_a_tree_as_deep_as_max_depth_is_upstream_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wf = next(iter(states_of_a_looping_case("loop_mix", rounds=1)))
    upstream: list[Any] = []
    monkeypatch.setattr(patches, "_upstream_update_waiting_tasks", upstream.append)
    monkeypatch.setattr(patches, "_DEFAULT_MAX_DEPTH", len(wf.tasks))
    wf.update_waiting_tasks()
    assert upstream == [wf]
    monkeypatch.setattr(patches, "_DEFAULT_MAX_DEPTH", len(wf.tasks) + 1)
    wf.update_waiting_tasks()
    assert upstream == [wf]


def trace_of_a_case(process_id: str) -> list[Any]:
    """What a case did, step by step: each task in tree order with its state and data, and what waits."""
    trace: list[Any] = []
    for wf in states_of_a_looping_case(process_id, rounds=9):
        trees = [wf, *wf.subprocesses.values()]
        trace.append(
            [
                [(t.task_spec.name, t.state, t.data) for t in BpmnTaskIterator(tree.task_tree)]
                for tree in trees
            ]
        )
        waits = engine.snapshot(wf, 900)
        trace.append(([t.bpmn_id for t in waits.ready], [t.due_at for t in waits.timers]))
        trace.append(engine.workflow_data(wf))
    return trace


@pytest.mark.parametrize("process_id", ["loop_mix", "loop_in_subprocess"])
def test_a_case_runs_the_same_with_and_without_the_patches(
    process_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine runs tasks while it walks (do_engine_steps) and updates timers mid-walk: the tree changes
    # under the iterator, so the same trace also shows the walks list children when upstream does.
    patched = trace_of_a_case(process_id)
    monkeypatch.setattr(BpmnBaseWorkflow, "get_tasks_iterator", patches._upstream_get_tasks_iterator)
    monkeypatch.setattr(Workflow, "update_waiting_tasks", patches._upstream_update_waiting_tasks)
    assert trace_of_a_case(process_id) == patched
    assert len(patched) == 3 * 10
