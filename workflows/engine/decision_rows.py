"""A DMN evaluation as a decision log row (workflows/store/decision_log_table.py): a business rule task's,
or a handler's `engine.decisions.evaluate_decision` while its service task runs."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from workflows.store.jsonable import to_jsonable


def decision_row(engine: DMNEngine, task: Any, rules: list[Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The decision, element, inputs, outputs and matched rules of a business rule task (no instance
    columns)."""
    spec = task.task_spec
    called = (getattr(spec, "extensions", None) or {}).get("calledDecisionId")
    decision_id = called or engine.decision_table.id
    return evaluation_row(engine, task, rules, outputs, str(decision_id), spec.bpmn_id)


def evaluation_row(
    engine: DMNEngine, task: Any, rules: list[Any], outputs: dict[str, Any], decision_id: str, bpmn_id: str
) -> dict[str, Any]:
    """One evaluation of `decision_id` by element `bpmn_id` (the business rule task, or the service task
    whose handler evaluated the table), in one row shape whoever evaluated it.

    The inputs are the values of the table's input expressions in the data the engine evaluated them on
    (the task's data; for a handler, the inputs it passed), keyed by expression, so the what-if rebuilds
    the data of either kind of row alike (workflows/what_if/replay.py). An expression that cannot be
    evaluated there (no rule of the table reads it for these data) is left out rather than failing the step
    that took the decision.
    """
    script_engine = task.workflow.script_engine
    inputs: dict[str, Any] = {}
    for column in engine.decision_table.inputs:
        expression = column.expression or column.label or column.id
        try:
            inputs[expression] = script_engine.evaluate(task, column.expression)
        except Exception:  # noqa: BLE001,S112 - recorded as absent, never a reason to fail the step
            continue
    return {
        "decision_id": decision_id,
        "bpmn_id": bpmn_id,
        "inputs": to_jsonable(inputs),
        "outputs": to_jsonable(outputs),
        "rules": [{"row": rule.row_number, "id": rule.id} for rule in rules],
    }
