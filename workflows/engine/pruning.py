"""History pruning: drop completed tasks no waiting task descends from (a looping case stays small)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def prune_history(wf: BpmnWorkflow) -> int:
    """Drop completed tasks no waiting task descends from; returns how many were dropped.

    SpiffWorkflow keeps every finished task as an ancestor of the next, so a looping case would
    grow (and slow down) with each round and stall at its iterator depth of 1000. Only the chain
    above the nearest common ancestor of all unfinished tasks and the last task run is cut. That
    ancestor's parent stays, linked to the original root, so joins that inspect a task's parent and
    the start task still find them. Running subprocesses are pruned the same way. Who did what is
    kept in the inbox and audit tables, not here.
    """
    dropped = _prune_tree(wf, wf)
    for subprocess in list(wf.subprocesses.values()):
        if not subprocess.completed and subprocess.parent_task_id in wf.subprocesses:
            dropped += _prune_tree(wf, subprocess)
    return dropped


def _prune_tree(top: BpmnWorkflow, workflow: Any) -> int:
    """Prune one task tree (the top workflow's or a subprocess's); subprocesses of dropped tasks go too."""
    root = workflow.task_tree
    anchors = [t for t in workflow.tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)]
    if workflow.last_task is not None:
        anchors.append(workflow.last_task)
    if not anchors:
        return 0
    keep_from = _common_ancestor(anchors).parent
    if keep_from is None or keep_from is root or keep_from.parent is root:
        return 0
    kept = {root.id, *_subtree_ids(keep_from)}
    dropped = [task_id for task_id in workflow.tasks if task_id not in kept]
    for task_id in dropped:
        if task_id in top.subprocesses:
            top.delete_subprocess(workflow.tasks[task_id])
    for task_id in dropped:
        del workflow.tasks[task_id]
    keep_from._parent = root.id
    root._children = [keep_from.id]
    return len(dropped)


def _common_ancestor(tasks: list[Any]) -> Any:
    path = _ancestry(tasks[0])
    position = {task.id: index for index, task in enumerate(path)}
    deepest = len(path) - 1
    for task in tasks[1:]:
        while task.id not in position:
            task = task.parent
        deepest = min(deepest, position[task.id])
    return path[deepest]


def _ancestry(task: Any) -> list[Any]:
    """`task` and its ancestors, root first."""
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    path.reverse()
    return path


def _subtree_ids(task: Any) -> set[UUID]:
    found, stack = set(), [task]
    while stack:
        current = stack.pop()
        found.add(current.id)
        stack.extend(current.children)
    return found
